"""`regelverk test [PATH]`: PATH narrows the cases and the coverage; --format json and junit."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "policies"

PASSING = """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: second in a week
    history: [{id: h1, date: 2024-03-04}]
    contact: {id: c1, date: 2024-03-06}
    expect: {outputs: {reimbursable: false}, fires: [per-week], evidence: {per-week: [h1]}}
"""
FAILING = """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: a first contact
    contact: {id: c1, date: 2024-03-06}
    expect: {outputs: {reimbursable: true}}
  - name: a wrong expectation
    contact: {id: c1, date: 2024-03-06}
    expect: {outputs: {reimbursable: false}, fires: [per-week]}
"""
CODING = """\
policy: testland-coding
defaults: {region: testland, channel: written, patient: p1, unit: u1}
cases:
  - name: coding case
    contact: {id: c1, date: 2024-03-06}
    expect: {status: decided}
"""


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def policies(tmp_path, fixture_policies):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    (root / "testland/testland-chat/a.test.yaml").write_text(PASSING)
    (root / "testland/testland-chat/b.test.yaml").write_text(FAILING)
    (root / "testland/testland-coding/c.test.yaml").write_text(CODING)
    return root


def _coverage_policies(output: str) -> set[str]:
    return {line.split()[1] for line in output.splitlines() if line.startswith(("  ok ", "  -- "))}


def test_a_region_folder_is_measured_alone():
    """The bug of issue 10: every case of Halland passed, but coverage counted every policy."""
    result = run("test", str(BUNDLED / "halland"), "--coverage", "--min-coverage", "100")
    assert result.exit_code == 0, result.output
    assert _coverage_policies(result.output) == {"halland-distance-contact"}
    assert "rule coverage: 100.0%" in result.output


def test_path_narrows_cases_and_coverage(policies):
    whole = run("test", str(policies), "--coverage")
    assert _coverage_policies(whole.output) == {"testland-chat", "testland-coding"}
    assert "3 passed, 1 failed" in whole.output
    policy = run("test", str(policies / "testland/testland-coding"), "--coverage")
    assert policy.exit_code == 0 and "1 passed, 0 failed" in policy.output
    assert _coverage_policies(policy.output) == {"testland-coding"}
    one_file = run("test", str(policies / "testland/testland-chat/a.test.yaml"), "--coverage")
    assert one_file.exit_code == 0 and "1 passed, 0 failed" in one_file.output
    assert _coverage_policies(one_file.output) == {"testland-chat"}
    region = run("test", str(policies / "testland"), "--coverage")
    assert _coverage_policies(region.output) == {"testland-chat", "testland-coding"}


def test_coverage_of_the_path_alone_decides_min_coverage(policies):
    """A policy folder's coverage is its own rules': the other policy's untested rules do not count."""
    coding = json.loads(run("test", str(policies / "testland/testland-coding"), "--format", "json").stdout)
    chat = json.loads(run("test", str(policies / "testland/testland-chat"), "--format", "json").stdout)
    everything = json.loads(run("test", str(policies), "--format", "json").stdout)
    assert {r["policy"] for r in coding["coverage"]["rules"]} == {"testland-coding"}
    assert coding["coverage"]["policies"] == ["testland-coding"]
    assert everything["coverage"]["policies"] is None
    assert len(everything["coverage"]["rules"]) == len(coding["coverage"]["rules"]) + len(chat["coverage"]["rules"])
    assert coding["coverage"]["percent"] != everything["coverage"]["percent"]
    need = coding["coverage"]["percent"]
    assert run("test", str(policies / "testland/testland-coding"), "--min-coverage", str(need)).exit_code == 0
    assert run("test", str(policies / "testland/testland-coding"), "--min-coverage", str(need + 1)).exit_code == 1


def test_json_report(policies):
    result = run("test", str(policies), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["ok"], report["passed"], report["failed"]) == (False, 3, 1)
    failed = [c for c in report["cases"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["a wrong expectation"]
    assert failed[0]["file"].endswith("testland/testland-chat/b.test.yaml") and failed[0]["line"] == 7
    assert {"what": "outputs.reimbursable", "expected": False, "actual": True} in failed[0]["failures"]


def test_junit_report_is_junit_xml(policies):
    (policies / "testland/testland-chat/broken.test.yaml").write_text("cases:\n  - name: x\n    contact: {id: [\n")
    result = run("test", str(policies), "--format", "junit", "--min-coverage", "100")
    assert result.exit_code == 1
    assert "is below the required 100%" in result.stderr
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    assert root.tag == "testsuites"
    suites = {s.get("name").rsplit("/", 1)[-1]: s for s in root.findall("testsuite")}
    assert set(suites) == {"a.test.yaml", "b.test.yaml", "c.test.yaml", "broken.test.yaml", "rule coverage"}
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(len(c.findall("failure")) for c in cases)
        assert int(suite.get("errors")) == sum(len(c.findall("error")) for c in cases)
        assert all(c.get("name") and c.get("classname") for c in cases)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.findall("testsuite"))
    b = suites["b.test.yaml"]
    assert [c.get("name") for c in b.findall("testcase")] == ["a first contact", "a wrong expectation"]
    assert (b.get("tests"), b.get("failures"), b.get("errors")) == ("2", "1", "0")
    failure = b.find("testcase[@name='a wrong expectation']/failure")
    assert failure.get("message") == "outputs.reimbursable: expected false, got true"
    assert "rule per-week: expected fires, got does not fire" in failure.text
    assert b.find("testcase[@name='a first contact']/failure") is None
    assert b.find("testcase[@name='a first contact']").get("line") == "4"
    error = suites["broken.test.yaml"].find("testcase/error")
    assert error is not None and error.get("type") == "yaml_syntax"
    coverage = suites["rule coverage"].find("testcase/failure")
    assert coverage is not None and "is below the required 100%" in coverage.get("message")
    assert "testland-coding 1.0" in coverage.text


def test_junit_of_a_passing_run():
    result = run("test", str(BUNDLED / "halland"), "--format", "junit", "--min-coverage", "100")
    assert result.exit_code == 0
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    assert root.get("failures") == "0" and root.get("errors") == "0" and int(root.get("tests")) > 10
    assert root.find(".//failure") is None
    assert all("halland" in s.get("name") for s in root.findall("testsuite") if s.get("name") != "rule coverage")


def test_junit_holds_what_xml_cannot(policies):
    """A case name or a value with a control character (YAML allows "\\x07") still gives XML a
    CI can read."""
    (policies / "testland/testland-chat/d.test.yaml").write_text(PASSING.replace(
        "name: second in a week", 'name: "bell\\x07 <&> \\"quoted\\""').replace(
        "outputs: {reimbursable: false}", 'outputs: {reimbursable: false, care_service: "a\\x01b"}'))
    result = run("test", str(policies / "testland/testland-chat/d.test.yaml"), "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    (case,) = root.iter("testcase")
    assert case.get("name") == 'bell\\x07 <&> "quoted"'
    assert case.find("failure").get("message") == 'outputs.care_service: expected a\\x01b, got null'


def test_a_policy_file_is_no_test_file(policies):
    """Naming a policy file (or outputs.yaml) checks it as a policy: `validate` does not read it
    as a test file, and `test` says it is none instead of failing on its missing `cases`."""
    policy_file = policies / "testland/testland-chat/2.0.yaml"
    for named in (policy_file, policies / "outputs.yaml"):
        result = run("validate", str(named))
        assert result.exit_code == 0, result.output
        assert "cases" not in result.output
    result = run("test", str(policy_file))
    assert result.exit_code == 1
    assert "is not a policy test file (a test file's name ends in .test.yaml)" in result.output
    assert "could not be read" not in result.output


def test_values_that_look_alike_are_shown_quoted(policies):
    """An expected text "false" against the yes/no value false: the failure shows which is text."""
    (policies / "testland/testland-chat/d.test.yaml").write_text(
        PASSING.replace("outputs: {reimbursable: false}", 'outputs: {reimbursable: "false"}'))
    result = run("test", str(policies / "testland/testland-chat/d.test.yaml"))
    assert result.exit_code == 1
    (row,) = [line for line in result.output.splitlines() if "outputs.reimbursable" in line]
    assert row.split()[1:] == ['"false"', "false"]


def test_validate_checks_the_names_and_kinds_a_test_expects(policies):
    """validate finds, without running a case, a test naming a policy, rule or output that does
    not exist, or expecting an output of the wrong kind, each at its place with a suggestion."""
    text = PASSING.replace("policy: testland-chat", "policy: testland-chatt")
    (policies / "testland/testland-chat/a.test.yaml").write_text(text)
    (policies / "testland/testland-chat/d.test.yaml").write_text(PASSING.replace(
        "outputs: {reimbursable: false}", 'outputs: {reimbursabel: false, reimbursable: "no", kva: "X1"}').replace(
        "fires: [per-week]", "fires: [per-weak, testland-coding/nothing, nowhere/x]"))
    result = run("validate", str(policies), "--format", "json")
    assert result.exit_code == 1
    found = {(Path(p["file"]).name, p["line"], p["column"], p["message"], p.get("hint"))
             for p in json.loads(result.stdout)["problems"] if p["code"] == "test_name"}
    assert found == {
        ("a.test.yaml", 1, 9, "there is no policy 'testland-chatt'", "did you mean 'testland-chat'?"),
        ("d.test.yaml", 7, 24, "there is no output 'reimbursabel'", "did you mean 'reimbursable'?"),
        ("d.test.yaml", 7, 59, "output 'reimbursable' takes a yes/no (or null), not \"no\"", None),
        ("d.test.yaml", 7, 70, "output 'kva' takes a list of texts (or null), not \"X1\"", None),
        ("d.test.yaml", 7, 85, "there is no rule 'per-weak' in testland-chat", "did you mean 'per-week'?"),
        ("d.test.yaml", 7, 95, "there is no rule 'nothing' in testland-coding", None),
        ("d.test.yaml", 7, 120, "there is no policy 'nowhere'", "policies: testland-chat, testland-coding"),
    }
