"""`regelverk diff`: the changes a reviewer reads, and the decisions they change."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from _golden import FIXTURES, check_golden
from click.testing import CliRunner

from evaluator.cli.diff import diff

TOOLCHAIN = FIXTURES / "toolchain"
V1 = "policies/sorland/sorland-video-contact/1.0.yaml"
V2 = "policies/sorland/sorland-video-contact/2.0.yaml"
PROPOSED = "proposed/2.0.yaml"


@pytest.fixture
def here(monkeypatch):
    monkeypatch.chdir(TOOLCHAIN)


def _diff(*args):
    return CliRunner().invoke(diff, list(args))


def test_two_files_text(here):
    result = _diff(V1, V2)
    assert result.exit_code == 0, result.output
    check_golden("diff-files.txt", result.output)


def test_impact_text(here):
    result = _diff(V2, PROPOSED, "--impact", "contacts.ndjson", "--examples", "3")
    assert result.exit_code == 0, result.output
    check_golden("diff-impact.txt", result.output)


def test_impact_markdown(here):
    result = _diff(V2, PROPOSED, "--impact", "contacts.ndjson", "--format", "md")
    assert result.exit_code == 0, result.output
    check_golden("diff-impact.md", result.output)


def test_impact_json(here):
    result = _diff(V2, PROPOSED, "--impact", "contacts.ndjson", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["changed"] is True
    assert report["parameters"] == [{"what": "min_minutes", "old": 5, "new": 10}]
    assert report["rules"]["added"] == ["phone-type"]
    assert report["rules"]["changed"][0]["id"] == "fee-informed"
    assert report["rules"]["changed"][0]["keys"] == ["then", "severity"]
    impact = report["impact"]
    assert impact["contacts"] == 10  # the line that is not JSON is a contact too (invalid on both sides)
    assert impact["decisions_changed"] == 5
    assert impact["outputs"]["contact_type"] == [{"old": None, "new": 24, "contacts": 4}]
    assert impact["outputs"]["reimbursable"] == [{"old": True, "new": False, "contacts": 1}]
    k2 = next(e for e in impact["examples"] if e["contact"] == "k2")
    assert {"what": "reimbursable", "old": True, "new": False} in k2["changes"]


def test_versions_out_of_their_dates_decide_nothing(here):
    # k7 is dated 2024: version 1.0 decides it, 2.0 (from 2025) does not apply to it.
    result = _diff(V1, V2, "--impact", "contacts.ndjson", "--format", "json", "--examples", "20")
    impact = json.loads(result.output)["impact"]
    k7 = next(e for e in impact["examples"] if e["contact"] == "k7")
    assert {"what": "status", "old": "decided", "new": "no_policy"} in k7["changes"]
    assert impact["applies"] == {"old": 1, "new": 6}


def test_same_file_has_no_changes_and_exit_code(here):
    result = _diff(V2, V2)
    assert result.exit_code == 0
    assert "No changes." in result.output
    assert _diff(V2, V2, "--exit-code").exit_code == 0
    assert _diff(V1, V2, "--exit-code").exit_code == 1


def test_bare_policy_id_is_its_latest_version_on_disk(here):
    result = _diff(V1, "sorland-video-contact", "--policies", "policies", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new"] == {"file": V2, "version": "2.0"}


def test_bad_sides_are_usage_errors(here):
    result = _diff("no/such/file.yaml", V2)
    assert result.exit_code == 2
    assert "there is no file no/such/file.yaml" in result.output
    result = _diff("no-such-policy", V2, "--policies", "policies")
    assert result.exit_code == 2
    assert "'no-such-policy' is neither a file nor a policy" in result.output


def test_a_side_that_does_not_load_exits_3(here, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text((TOOLCHAIN / V2).read_text(encoding="utf-8").replace(
        "duration_minutes < min_minutes", "duration_minutes < min_minuts"), encoding="utf-8")
    result = _diff(V2, str(broken))
    assert result.exit_code == 3
    assert "NEW cannot be loaded" in result.output
    assert f"{broken}:" in result.output and "did you mean 'min_minutes'?" in result.output


def test_unreadable_contacts_exit_4(here):
    result = _diff(V1, V2, "--impact", "no-such-contacts.ndjson")
    assert result.exit_code == 4
    assert "cannot read no-such-contacts.ndjson" in result.output


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True)


def test_git_revisions(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(TOOLCHAIN / "policies", repo / "policies")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    v2 = repo / V2
    v2.write_text(v2.read_text(encoding="utf-8").replace("min_minutes: 5", "min_minutes: 6"), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "six minutes")
    monkeypatch.chdir(repo)
    result = _diff("sorland-video-contact@HEAD~1", "sorland-video-contact@HEAD", "--policies", "policies")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "sorland-video-contact 2.0 → 2.0",
        f"  old: HEAD~1:{V2}",
        f"  new: HEAD:{V2}",
    ]
    assert "  min_minutes: 5 → 6" in result.output
    # the working tree against a revision
    v2.write_text(v2.read_text(encoding="utf-8").replace("min_minutes: 6", "min_minutes: 7"), encoding="utf-8")
    result = _diff("sorland-video-contact@HEAD", V2, "--policies", "policies")
    assert "  min_minutes: 6 → 7" in result.output
    # a revision that does not exist, a policy that did not exist then
    result = _diff("sorland-video-contact@nope", V2, "--policies", "policies")
    assert result.exit_code == 2 and "git rev-parse" in result.output
    result = _diff("other-policy@HEAD", V2, "--policies", "policies")
    assert result.exit_code == 2 and "there is no policy 'other-policy'" in result.output


def test_help_shows_an_example():
    result = CliRunner().invoke(diff, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--impact contacts.ndjson" in result.output
