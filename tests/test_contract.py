"""The contract's own example and promises, on the bundled policies."""

from __future__ import annotations

import hashlib
import json

from jsonschema import Draft202012Validator

from evaluator import load_repository
from evaluator.resources import examples_dir, load_schema, policies_dir

REPO = load_repository()
QUALIFIED = {"dialogue": True, "content_equivalent_to_visit": True, "medical_assessment": True,
             "documented": True, "regular_staff": True}


def written(id, date, **extra):
    return {"id": id, "patient": "p1", "unit": "HSA-1", "region": "vgr", "care_choice": "rehab",
            "date": date, "channel": "written", **QUALIFIED, **extra}


def test_the_contracts_example_decision():
    c6, c7 = written("c6", "2025-03-03"), written("c7", "2025-03-06")
    decision = REPO.evaluate([c6, c7])[1]
    assert decision["contact"] == "c7" and decision["status"] == "decided"
    # contract §7: each applied version carries the hash of its file's content
    (applied,) = decision["policies"]
    text = (policies_dir() / "vgr" / "vgr-rehab-written-contact" / "4.0.yaml").read_bytes()
    assert applied == {"id": "vgr-rehab-written-contact", "version": "4.0",
                       "content_hash": "sha256:" + hashlib.sha256(text.replace(b"\r\n", b"\n")).hexdigest()}
    assert decision["outputs"] == {"reimbursable": False, "distance_contact": None, "patient_fee": None,
                                   "contact_type": None, "care_service": None, "kva": []}
    (finding,) = decision["findings"]
    assert {k: finding[k] for k in ("policy", "version", "rule", "severity", "source", "evidence")} == {
        "policy": "vgr-rehab-written-contact", "version": "4.0", "rule": "one-per-week", "severity": "info",
        "source": "OSN11757-1980785390-27, Avgränsningar", "evidence": ["c6"]}
    assert set(finding["message"]) == {"sv", "en"} and "c6" in finding["message"]["sv"]
    assert decision["errors"] == []


def test_version_4_0_in_force_both_days_included():
    days = {"2025-01-29": "no_policy", "2025-01-30": "decided", "2027-01-30": "decided", "2027-01-31": "no_policy"}
    for day, status in days.items():
        assert REPO.evaluate_one(written("c", day))["status"] == status, day


def test_example_decisions_match_the_decision_schema():
    validator = Draft202012Validator(load_schema("decision.schema.json"))
    lines = (examples_dir() / "contacts.ndjson").read_text(encoding="utf-8").splitlines()
    decisions = REPO.evaluate_lines(lines)
    assert len(decisions) == len(lines)
    for d in decisions:
        errors = [e.message for e in validator.iter_errors(d)]
        assert not errors, (d["contact"], errors)
    assert {d["status"] for d in decisions} == {"decided", "no_policy", "invalid"}
    # the JSON written by the CLI is the same object
    assert json.loads(json.dumps(decisions[0], ensure_ascii=False)) == decisions[0]


def test_outputs_of_a_contact_no_policy_applies_to_and_of_an_invalid_line():
    # Section 3: kva is the union of the codes the applied rules require, a list even when none
    # applied; section 4: an invalid line has every output null.
    nothing = {"reimbursable": None, "distance_contact": None, "patient_fee": None,
               "contact_type": None, "care_service": None}
    outside = {"id": "x", "patient": "p9", "unit": "U", "region": "gotland", "date": "2025-03-03",
               "channel": "video"}
    single = REPO.evaluate_one(outside)
    batch = REPO.evaluate([outside, {"id": "y", "patient": "p9"}])
    for decision in (single, batch[0]):
        assert decision["status"] == "no_policy"
        assert decision["outputs"] == {**nothing, "kva": []}
    assert batch[1]["status"] == "invalid" and batch[1]["outputs"] == {**nothing, "kva": None}
    lines = REPO.evaluate_lines([json.dumps(outside), json.dumps({**outside, "id": "z"})])
    assert [d["outputs"]["kva"] for d in lines] == [[], []]
    assert lines[0]["outputs"]["kva"] is not lines[1]["outputs"]["kva"]


def test_caps_count_per_unit_and_only_reimbursed_contacts():
    contacts = [written("a", "2025-03-03"), written("b", "2025-03-04", unit="HSA-2"),
                written("c", "2025-03-05", dialogue=False), written("d", "2025-03-06")]
    d = {x["contact"]: x["outputs"]["reimbursable"] for x in REPO.evaluate(contacts)}
    assert d == {"a": True, "b": True, "c": False, "d": False}


def test_the_readmes_example_decision_is_what_the_example_gives():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("One full decision line (vgr-2):")[1].split("```json")[1].split("```")[0]
    shown = json.loads(block)
    lines = (examples_dir() / "contacts.ndjson").read_text(encoding="utf-8").splitlines()
    actual = next(d for d in REPO.evaluate_lines(lines) if d["contact"] == "vgr-2")
    # The hashes and the commit are those of the policies as they are now (the commit the
    # checkout's, null for an installed copy): the README shows their form, not their values.
    assert set(shown["provenance"]) == set(actual["provenance"])
    shown["provenance"] = actual["provenance"]
    for entry in shown["policies"]:
        assert entry["content_hash"].startswith("sha256:")
    shown["policies"] = actual["policies"]
    assert actual == shown


def test_findings_cite_the_published_document_and_section():
    """Contract §3: a finding's source is the document id (or the title where there is none) and
    the section, never the file the text came in."""
    lines = (examples_dir() / "contacts.ndjson").read_text(encoding="utf-8").splitlines()
    versions = {(v.id, v.version): v for v in REPO.policy_set.versions()}
    cited = set()
    for decision in REPO.evaluate_lines(lines):
        for finding in decision["findings"]:
            v = versions[(finding["policy"], finding["version"])]
            assert ".txt" not in finding["source"] and v.source.get("seed", "-") not in finding["source"]
            document = v.source.get("document_id") or v.source["title"]
            if finding["result"] == "not_applied":
                assert finding["source"] == document
                continue
            (rule,) = [r for r in v.rules if r.id == finding["rule"]]
            assert finding["source"] == f"{document}, {rule.section}"
            cited.add(finding["policy"])
    assert len(cited) == 5  # every bundled policy was cited at least once
    written = versions[("vgr-rehab-written-contact", "4.0")].source
    assert (written["title"], written["document_id"], written["version"]) == (
        "Tillämpningsanvisning av skriftlig digital distanskontakt inom vårdval rehab", "OSN11757-1980785390-27", "4.0")
