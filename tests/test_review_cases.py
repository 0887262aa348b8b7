"""Cases found in review: unknown since-latest anchors, list-valued anchor fields, counts in
lists, lists holding names. Each on a small policy of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

from evaluator import load_repository
from evaluator.loading.repository import load_policy_set

OUTPUTS = Path(__file__).parent / "fixtures/policies/outputs.yaml"
HEAD = """\
id: r-policy
version: "1.0"
title: R
issuer: R
region: r
valid_from: 2025-01-01
source: {title: R, seed: r.txt}
applies_when: region = "r"
rules:
"""


def repo_with(tmp_path, *rules: str):
    shutil.copy(OUTPUTS, tmp_path / "outputs.yaml")
    path = tmp_path / "r/r-policy/1.0.yaml"
    path.parent.mkdir(parents=True)
    body = "".join(
        f"  - id: rule-{i}\n    section: S\n    passage: P\n    {rule}\n    severity: info\n"
        f"    message: {{sv: s, en: e}}\n" for i, rule in enumerate(rules))
    path.write_text(HEAD + body)
    return tmp_path


def contact(id, date, channel="written", **facts):
    return {"id": id, "patient": "p", "unit": "u", "region": "r", "date": date, "channel": channel, **facts}


def test_an_unknown_anchor_leaves_since_latest_unknown(tmp_path):
    repo = load_repository(repo_with(tmp_path,
        'when: no earlier contact where (channel = "written" and not since latest (channel = "physical" and dialogue))\n'
        '    then: {reimbursable: true}'))
    history = [contact("w1", "2025-03-03"), contact("p", "2025-03-05", "physical")]
    d = repo.evaluate_one(contact("c", "2025-03-06"), history)
    assert d["outputs"]["reimbursable"] is None
    finding = d["findings"][0]
    assert finding["result"] == "unknown" and "dialogue (earlier contact p)" in finding["missing"]
    # known either way, the answer is decided
    assert repo.evaluate_one(contact("c", "2025-03-06"), [history[0], {**history[1], "dialogue": False}])["outputs"]["reimbursable"] is True
    assert repo.evaluate_one(contact("c", "2025-03-06"), [history[0], {**history[1], "dialogue": True}])["outputs"]["reimbursable"] is None
    # the batch (memoised anchors) agrees with the single-contact call
    assert repo.evaluate(history + [contact("c", "2025-03-06")])[-1] == d


def test_an_anchor_may_compare_list_fields(tmp_path):
    repo = load_repository(repo_with(tmp_path,
        'when: count of earlier contacts where (since latest (channel = "physical" and same diagnoses)) >= 1\n'
        '    then: {reimbursable: false}'))
    contacts = [contact("v", "2025-03-03", "physical", diagnoses=["M54"]), contact("c", "2025-03-10", diagnoses=["M54"]),
                contact("d", "2025-03-11", diagnoses=["M54"])]
    assert [x["outputs"]["reimbursable"] for x in repo.evaluate(contacts)] == [None, None, False]


def test_a_count_in_a_list_is_decided_only_when_every_possible_count_agrees(tmp_path):
    repo = load_repository(repo_with(tmp_path,
        "when: count of earlier contacts where (dialogue) not in [0]\n    then: {reimbursable: true}",
        "when: count of earlier contacts where (dialogue) in [0, 1]\n    then: {distance_contact: true}"))
    d = repo.evaluate_one(contact("c", "2025-03-06"), [contact("h", "2025-03-01")])
    assert d["outputs"]["reimbursable"] is None
    assert d["outputs"]["distance_contact"] is True


def test_a_list_must_hold_values_not_names(tmp_path):
    repo_with(tmp_path, 'when: channel in ["video", care_choice]\n    then: {reimbursable: true}')
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is None
    assert any("a list is written out with values only" in p.message for p in problems)


def test_contains_and_in_on_an_uncertain_count(tmp_path):
    repo = load_repository(repo_with(tmp_path,
        "when: '[1, 2] contains count of earlier contacts where (documented)'\n"
        "    then: {reimbursable: true}\n    otherwise: {reimbursable: false}",
        "when: count of earlier contacts where (documented) * 1000000 in [5]\n    then: {distance_contact: true}"))
    history = [contact("a", "2025-03-01", documented=True), contact("b", "2025-03-02")]
    d = repo.evaluate_one(contact("c", "2025-03-03"), history)
    assert d["outputs"]["reimbursable"] is True   # the count is 1 or 2: both listed
    # count * 1000000 lies in 1,000,000..2,000,000, which does not hold 5: the rule surely does
    # not fire, found without trying a million values
    assert d["outputs"]["distance_contact"] is None
    assert not any(f["rule"] == "rule-1" for f in d["findings"])
    many = [contact(f"h{i}", "2025-03-01") for i in range(60)]
    assert repo.evaluate_one(contact("c", "2025-03-03"), many)["status"] == "decided"  # and fast


def test_gc_pause_is_shared_by_threads():
    import gc
    import threading

    from evaluator.running.engine import cyclic_gc_paused

    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def batch():
        with cyclic_gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=batch)
    t.start()
    inside.wait(5)
    with cyclic_gc_paused():
        pass
    assert not gc.isenabled()  # the other batch is still running
    release.set()
    t.join(5)
    assert gc.isenabled()
