"""Personal data never leaks (issue 12): a personnummer-like value sent in every field, through
every interface, appears only in a decision's `contact` field, and only as the contact's own id.
A message may not name an identifying field."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

import pytest
from _service import service_in_thread
from click.testing import CliRunner

from evaluator import load_repository
from evaluator.cli import main
from evaluator.loading.privacy import echo, identifying_fields
from evaluator.resources import load_schema

PERSONAL = ["19121212-1212", 191212121212, "191212121212"]
NEEDLE = "121212"  # in every form of the number above
BASE = {"id": "c1", "patient": "p1", "unit": "u1", "region": "testland", "date": "2024-03-04",
        "channel": "written", "dialogue": True, "documented": True}
FIELDS = sorted(load_schema("contact.schema.json")["properties"]) + ["note"]  # + a field no schema names
CASES = [(f, v) for f in FIELDS for v in PERSONAL]


def _contact(field, value):
    return {**BASE, field: value}


def _leaks_in_decision(decision: dict, field: str) -> list[str]:
    """Where the value shows in a decision, other than the contact field holding its own id."""
    rest = dict(decision)
    contact = rest.pop("contact")
    found = [k for k, v in rest.items() if NEEDLE in json.dumps(v, ensure_ascii=False)]
    if contact is not None and NEEDLE in str(contact) and field != "id":
        found.append("contact")
    return found


def _assert_text_clean(text: str, field: str, value) -> None:
    """A text output (explain, a test report, an error): the value may be there only as the
    contact's own id."""
    if field == "id" and isinstance(value, str):
        text = text.replace(value, "")
    assert NEEDLE not in text, text


@pytest.fixture(scope="module")
def server(repo):
    with service_in_thread(repo) as (url, _):
        yield url


def _post(url, body: bytes):
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.read().decode("utf-8")


def test_the_contract_declares_id_and_patient_identifying():
    assert identifying_fields(load_schema("contact.schema.json")) == {"id", "patient"}


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_python_api_and_http(repo, server, field, value):
    contact = _contact(field, value)
    line = json.dumps(contact)
    decisions = (repo.evaluate([contact]) + [repo.evaluate_one(contact, [])] + repo.evaluate_lines([line])
                 + [json.loads(x) for x in repo.evaluate_to_ndjson([line])])
    bodies = [_post(server + "/evaluate", line.encode()), _post(server + "/evaluate-one", json.dumps({"contact": contact}).encode())]
    if field == "id":  # an id used twice: the second use's error names the first by number only
        decisions += repo.evaluate([contact, dict(contact)]) + [repo.evaluate_one(contact, [dict(contact)])]
        bodies += [_post(server + "/evaluate", f"{line}\n{line}".encode()),
                   _post(server + "/evaluate-one", json.dumps({"contact": contact, "history": [contact]}).encode())]
    for body in bodies:
        decisions += [json.loads(x) for x in body.splitlines()]
    for d in decisions:
        assert _leaks_in_decision(d, field) == [], d
    decision, trace, _ = repo.explain([line], contact["id"] if isinstance(contact["id"], str) else "c1")
    if decision is not None:
        assert _leaks_in_decision(decision, field) == []


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_cli_evaluate_explain_and_test_reports(tmp_path, fixture_policies, field, value):
    contact = _contact(field, value)
    path = tmp_path / "in.ndjson"
    path.write_text(json.dumps(contact) + "\n" + (json.dumps(contact) + "\n" if field == "id" else ""))
    runner = CliRunner()
    out = runner.invoke(main, ["evaluate", str(path), "--policies", str(fixture_policies)])
    for line in out.stdout.splitlines():
        assert _leaks_in_decision(json.loads(line), field) == []
    _assert_text_clean(out.stderr, field, value)
    cid = contact["id"] if isinstance(contact["id"], str) else "c1"
    for fmt in ("text", "json"):
        out = runner.invoke(main, ["explain", str(path), "--contact", cid, "--format", fmt, "--policies", str(fixture_policies)])
        if fmt == "json" and out.exit_code == 0:
            assert _leaks_in_decision(json.loads(out.stdout)["decision"], field) == []
        else:
            _assert_text_clean(out.output, field, value)

    # A policy test whose contact carries the value, expected to fail: the report says why.
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    case = {"policy": "testland-chat", "cases": [{"name": "leak?", "contact": {k: v for k, v in contact.items()},
                                                  "expect": {"outputs": {"reimbursable": False}}}]}
    (root / "testland/testland-chat/leak.test.yaml").write_text(json.dumps(case))
    out = runner.invoke(main, ["test", str(root)])
    _assert_text_clean(out.output, field, value)


def test_values_are_echoed_shortened_and_never_when_personal():
    assert echo("x" * 100) == "'" + "x" * 36 + "..."
    assert len(echo("x" * 100)) == 40
    assert echo("video") == "'video'"
    assert "1212" not in echo("19121212-1212") and "1212" not in echo(191212121212)
    assert echo("p1", identifying=True) == "a text"
    assert echo(5, identifying=True) == "a number"


def test_values_of_no_json_kind_are_echoed_as_a_person_writes_them_not_as_python_reprs():
    """A Parquet decimal, duration or binary cell was echoed as Python's repr
    (`Decimal('5.0')`, `datetime.timedelta(seconds=5)`, `b'c1'`)."""
    from datetime import date, timedelta
    from decimal import Decimal

    assert echo(Decimal("5.0")) == "the decimal number 5.0" and echo(Decimal("1E+3")) == "the decimal number 1000"
    assert echo(timedelta(seconds=5)) == "a duration of 5 seconds"
    assert echo(timedelta(hours=1, minutes=30)) == "a duration of 1 hour 30 minutes"
    assert echo(timedelta(days=2, microseconds=500_000)) == "a duration of 2 days 0.5 seconds"
    assert echo(timedelta(seconds=-60)) == "a duration of minus 1 minute" and echo(timedelta(0)) == "a duration of 0 seconds"
    assert echo(b"c1") == "binary data (2 bytes)" and echo(date(2025, 3, 4)) == "2025-03-04"
    # never a personnummer, nor an identifying field's value, whatever its kind
    assert echo(Decimal("191212121212")) == "a number that looks like a personal identity number"
    assert echo(Decimal("5.0"), identifying=True) == "a number"
    assert echo(b"19121212-1212", identifying=True) == "binary data" and "1212" not in echo(b"19121212-1212")
    assert echo(timedelta(seconds=5), identifying=True) == "a duration"


def test_a_message_may_not_name_an_identifying_field(tmp_path, fixture_policies):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    policy = root / "testland/testland-coding/1.0.yaml"
    policy.write_text(policy.read_text().replace('en: "Contact type {admin_type}."', 'en: "Contact type {admin_type} for {patient}."'))
    out = CliRunner().invoke(main, ["validate", str(root)])
    assert out.exit_code == 1
    assert "the message names {patient}, which identifies a person" in out.output
    assert "1.0.yaml:20:" in out.output


def test_a_declared_fact_marked_identifying(tmp_path, fixture_policies):
    repo = tmp_path / "repo"
    shutil.copytree(fixture_policies, repo / "policies")
    (repo / "regelverk.yaml").write_text("regelverk: 1\n")
    (repo / "facts.yaml").write_text(
        "facts:\n  booked_by:\n    type: whole number\n    identifying: true\n"
        "    description: {sv: Vem bokade, en: Who booked}\n")
    policy = repo / "policies/testland/testland-coding/1.0.yaml"
    original = policy.read_text()
    policy.write_text(original.replace('en: "Contact type {admin_type}."', 'en: "Booked by {booked_by}."'))
    out = CliRunner().invoke(main, ["validate", str(repo / "policies")])
    assert out.exit_code == 1 and "the message names {booked_by}, which identifies a person" in out.output

    policy.write_text(original)
    decision = load_repository(repo / "policies").evaluate([{**BASE, "booked_by": "Anna Andersson"}])[0]
    assert decision["status"] == "invalid"
    assert decision["errors"] == [{"field": "booked_by", "message": "must be a whole number, not a text"}]


def test_a_repository_can_let_patient_ids_that_look_like_personnummer_through(tmp_path, fixture_policies):
    """By default a personnummer-like `patient` is refused (contract §1); a repository whose own
    pseudonyms can look like one turns the refusal off in regelverk.yaml, and its contacts are
    decided, by the API and the CLI alike, with the value still kept out of every message."""
    repo = tmp_path / "repo"
    shutil.copytree(fixture_policies, repo / "policies")
    contact = {**BASE, "patient": "19121212-1212"}
    (repo / "regelverk.yaml").write_text("regelverk: 1\n")
    refused = load_repository(repo / "policies").evaluate([contact])[0]
    assert refused["status"] == "invalid" and refused["errors"][0]["field"] == "patient"

    (repo / "regelverk.yaml").write_text("regelverk: 1\nprivacy:\n  refuse_personnummer_patient: false\n")
    allowing = load_repository(repo / "policies")
    decided = allowing.evaluate([contact])[0]
    assert decided["status"] == "decided"
    # past the repeats after which a layout of fields gets its generated quick check, too
    many = allowing.evaluate([{**contact, "id": f"c{i}", "date": f"2024-03-{1 + i % 28:02d}"} for i in range(200)])
    assert {d["status"] for d in many} == {"decided"}
    assert _leaks_in_decision(decided, "patient") == []
    source = tmp_path / "c.ndjson"
    source.write_text(json.dumps(contact) + "\n")
    out = CliRunner().invoke(main, ["evaluate", str(source), "--policies", str(repo / "policies")])
    assert out.exit_code == 0 and json.loads(out.output.splitlines()[0])["status"] == "decided"

    (repo / "regelverk.yaml").write_text("regelverk: 1\nprivacy:\n  refuse_personnummer_patients: false\n")
    out = CliRunner().invoke(main, ["validate", str(repo / "policies")])
    assert out.exit_code != 0 and "refuse_personnummer_patients" in out.output


def test_a_404_does_not_repeat_the_path(server):
    """A path a client filled with a personnummer is not repeated in the 404's message."""
    for path in ("/patients/19121212-1212/decisions", "/evaluate/191212121212"):
        try:
            urllib.request.urlopen(server + path, timeout=10)
        except urllib.error.HTTPError as err:
            body = json.loads(err.read())
            assert err.code == 404 and body["code"] == "not_found", body
            assert NEEDLE not in json.dumps(body) and body["error"].startswith("no such route; there are /evaluate")
        else:
            raise AssertionError(path)
