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
    assert report["changed"] is True and report["meaning_changed"] is True
    assert report["parameters"] == [{"what": "min_minutes", "old": 5, "new": 10}]
    assert report["parameter_readers"] == {"min_minutes": ["short-call"]}
    assert report["rules"]["added"] == ["phone-type"]
    changed = {rc["id"]: rc for rc in report["rules"]["changed"]}
    assert changed["fee-informed"]["keys"] == ["then", "severity"]
    assert changed["short-call"]["when"] == [{"kind": "parameter", "old": "5", "new": "10", "parameter": "min_minutes"}]
    impact = report["impact"]
    assert impact["contacts"] == 10  # the line that is not JSON is a contact too (invalid on both sides)
    assert impact["invalid"] == 1
    assert impact["changed"] == 5
    assert impact["counterfactual"] is True
    groups = {(g["output"], g["transition"]): g for g in impact["groups"]}
    assert groups[("contact_type", "null → 24")]["count"] == 4
    assert groups[("reimbursable", "true → false")]["count"] == 1
    k2 = groups[("reimbursable", "true → false")]["examples"][0]
    assert k2["contact"] == "k2"
    assert k2["base"]["outputs"]["reimbursable"] is True and k2["new"]["outputs"]["reimbursable"] is False
    assert [f["rule"] for f in k2["new"]["findings"]] == ["short-call", "phone-type"]
    assert groups[("reimbursable", "true → false")]["findings"] == [
        {"side": "new", "policy": "sorland-video-contact", "version": "2.0", "rule": "short-call", "decisions": 1}]


def test_consecutive_versions_are_compared_on_the_same_dates(here):
    # 1.0 ends when 2.0 starts. Each decided on its own dates, every contact would be no_policy
    # on one side (the old misreport); both are taken as in force on every contact's date.
    result = _diff(V1, V2, "--impact", "contacts.ndjson", "--format", "json", "--examples", "20")
    impact = json.loads(result.output)["impact"]
    assert all(g["output"] != "status" for g in impact["groups"])
    groups = {(g["output"], g["transition"]): g for g in impact["groups"]}
    # 1.0's identity check needs identity_verification, which no contact has: unknown → null
    assert {e["contact"] for e in groups[("reimbursable", "null → true")]["examples"]} == {"k1", "k2", "k3", "k5", "k7"}
    # k4: a 3-minute call, short under 2.0 (5 minutes) but not under 1.0 (3)
    assert [e["contact"] for e in groups[("reimbursable", "null → false")]["examples"]] == ["k4"]
    assert impact["changed"] == 7


def test_same_file_has_no_changes_and_exit_code(here):
    result = _diff(V2, V2, "--impact", "contacts.ndjson")
    assert result.exit_code == 0
    assert "No changes." in result.output
    assert "10 contact(s) decided (9 valid, 1 invalid); 0 decision(s) differ, 0 of them" in result.output
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
    assert result.exit_code == 2 and "git rev-parse" not in result.output and "Traceback" not in result.output
    assert ("git does not know the revision 'nope' (in sorland-video-contact@nope): name a branch, a tag or a "
            "commit, as sorland-video-contact@main or sorland-video-contact@HEAD~1") in " ".join(result.output.split())
    result = _diff("other-policy@HEAD", V2, "--policies", "policies")
    assert result.exit_code == 2 and "there is no policy 'other-policy'" in result.output
    # FILE@REV: that very file as it was, not the policy's latest version then
    v1 = repo / V1
    v1.write_text(v1.read_text(encoding="utf-8").replace("min_minutes: 3", "min_minutes: 4"), encoding="utf-8")
    result = _diff(f"{V1}@HEAD", V1, "--policies", "policies")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == ["sorland-video-contact 1.0 → 1.0", f"  old: HEAD:{V1}", f"  new: {V1}"]
    assert "  min_minutes: 3 → 4" in result.output
    result = _diff("policies/sorland/sorland-video-contact/3.0.yaml@HEAD", V1, "--policies", "policies")
    assert result.exit_code == 2
    assert "there is no file policies/sorland/sorland-video-contact/3.0.yaml at revision HEAD" in result.output
    result = _diff(f"{V1}@nope", V1, "--policies", "policies")
    assert result.exit_code == 2 and f"git does not know the revision 'nope' (in {V1}@nope)" in " ".join(result.output.split())


def test_help_shows_an_example():
    result = CliRunner().invoke(diff, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--impact contacts.ndjson" in result.output


def _variant(tmp_path, name, *edits):
    text = (TOOLCHAIN / V2).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_markdown_shows_a_new_rules_section_and_condition_as_text(here, tmp_path):
    added = _variant(
        tmp_path, "added.yaml",
        ("  - id: video-type\n", "  - id: odd-unit\n    section: \"<img src=x onerror=alert(1)> & co\"\n"
         "    passage: P\n    when: unit = \"<script>\"\n    severity: info\n"
         "    message: {sv: x, en: y}\n\n  - id: video-type\n"))
    result = _diff(V2, added, "--format", "md")
    assert result.exit_code == 0, result.output
    assert "<img" not in result.output and "<script" not in result.output
    assert ('- **added** `odd-unit` (&lt;img src=x onerror=alert(1)&gt; &amp; co): '
            'when unit = "&lt;script&gt;"; severity info') in result.output


def test_words_comments_and_layout_change_no_meaning(here, tmp_path):
    reworded = _variant(
        tmp_path, "reworded.yaml",
        ("when: channel = \"phone\" and duration_minutes < min_minutes",
         "when: >-  # short calls\n      (channel = \"phone\")   and\n      duration_minutes < min_minutes"),
        ("Calls shorter than {min_minutes} minutes are not reimbursed.",
         "A call under {min_minutes} minutes is not reimbursed."),
        ("min_minutes: 5  # \"ett par minuter\" read as five", "min_minutes: 5"))
    result = _diff(V2, reworded, "--impact", "contacts.ndjson", "--format", "json")
    report = json.loads(result.output)
    assert report["changed"] is True and report["meaning_changed"] is False
    (rc,) = report["rules"]["changed"]
    assert rc["id"] == "short-call" and rc["meaning_changed"] is False and rc["when"] == []
    assert rc["wording"] == ["message", "when (layout)"]
    assert report["impact"]["changed"] == 0
    assert report["impact"]["reworded"] == 1  # k4's finding says the same in other words
    text = _diff(V2, reworded).output
    assert "No change in meaning: words, comments or layout only" in text
    assert "~ short-call (words only, same meaning: message, when (layout))" in text


def test_a_changed_comparison_is_named_as_the_part_that_changed(here, tmp_path):
    stricter = _variant(tmp_path, "stricter.yaml", ("duration_minutes < min_minutes", "duration_minutes <= min_minutes"))
    out = _diff(V2, stricter).output
    assert "~ short-call (meaning changed: when)" in out
    assert "      when: < min_minutes → <= min_minutes" in out


def test_a_new_conjunct_is_named(here, tmp_path):
    narrower = _variant(tmp_path, "narrower.yaml", ("when: not (dialogue and documented)",
                                                     "when: not (dialogue and documented and fee_informed)"))
    out = _diff(V2, narrower).output
    assert "      when: new conjunct: fee_informed" in out


def test_a_renamed_rule_is_matched_by_its_meaning(here, tmp_path):
    renamed = _variant(tmp_path, "renamed.yaml", ("- id: short-call", "- id: brief-call"))
    report = json.loads(_diff(V2, renamed, "--format", "json").output)
    assert report["rules"]["added"] == [] and report["rules"]["removed"] == []
    (rc,) = report["rules"]["changed"]
    assert rc["id"] == "brief-call" and rc["renamed_from"] == "short-call" and rc["meaning_changed"] is False


def test_moved_rules_are_matched_by_id(here, tmp_path):
    text = (TOOLCHAIN / V2).read_text(encoding="utf-8")
    head, rules = text.split("rules:\n", 1)
    blocks = ["  - id:" + b for b in rules.split("  - id:")[1:]]
    moved = tmp_path / "moved.yaml"
    moved.write_text(head + "rules:\n" + "".join(reversed([b if b.endswith("\n\n") else b + "\n" for b in blocks])),
                     encoding="utf-8")
    report = json.loads(_diff(V2, str(moved), "--format", "json").output)
    assert report["rules"]["changed"] == [] and report["rules"]["added"] == []
    assert report["rules"]["order_changed"] is True and report["meaning_changed"] is False
