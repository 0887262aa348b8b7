"""`regelverk new-version`: the next version file, dated, the previous one ended, comments kept."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from _golden import FIXTURES, check_golden
from click.testing import CliRunner

from evaluator.cli.new_version import new_version
from evaluator.errors import Location, Problem
from evaluator.loading.repository import load_policy_set
from evaluator.tools.new_version import next_version

TOOLCHAIN = FIXTURES / "toolchain"
VIDEO = Path("policies/sorland/sorland-video-contact")
WRITTEN = Path("policies/sorland/sorland-written-contact")


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    shutil.copytree(TOOLCHAIN / "policies", tmp_path / "policies")
    (tmp_path / "regelverk.yaml").write_text("policies: policies\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args):
    return CliRunner().invoke(new_version, list(args))


def test_next_version_number():
    assert next_version("4.0") == "5.0"
    assert next_version("1") == "2"
    assert next_version("2.1.3") == "3.0.0"
    assert next_version("9.9") == "10.0"


def test_new_version_from_a_date(work):
    before = (work / VIDEO / "2.0.yaml").read_text(encoding="utf-8")
    result = _run("sorland-video-contact", "--from", "2026-03-01")
    assert result.exit_code == 0, result.output
    check_golden("new-version.txt", result.output)
    created = (work / VIDEO / "3.0.yaml").read_text(encoding="utf-8")
    check_golden("new-version-3.0.yaml", created)
    # the copy is the previous file with three lines changed; its comments are there
    assert created == (before.replace('version: "2.0"', 'version: "3.0"')
                       .replace("valid_from: 2025-01-01", "valid_from: 2026-03-01"))
    assert '# "ett par minuter" read as five' in created
    # the previous version now ends the day before; nothing else in it changed
    ended = (work / VIDEO / "2.0.yaml").read_text(encoding="utf-8")
    assert ended == before.replace("valid_from: 2025-01-01\n", "valid_from: 2025-01-01\nvalid_to: 2026-02-28\n")
    policy_set, problems = load_policy_set(work / "policies")
    assert policy_set is not None and not problems, problems
    versions = policy_set.policies["sorland-video-contact"].versions
    assert [(v.version, v.valid_from, v.valid_to) for v in versions] == [
        ("1.0", date(2024, 1, 1), date(2024, 12, 31)),
        ("2.0", date(2025, 1, 1), date(2026, 2, 28)),
        ("3.0", date(2026, 3, 1), None),
    ]


def test_a_later_end_is_shortened(work):
    path = work / WRITTEN / "1.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "valid_from: 2025-01-01\n", "valid_from: 2025-01-01\nvalid_to: 2027-12-31  # as the text says\n"),
        encoding="utf-8")
    result = _run("sorland-written-contact", "--from", "2026-07-01", "--version", "1.1")
    assert result.exit_code == 0, result.output
    assert "version 1.0 now ends 2026-06-30 (was 2027-12-31)" in result.output
    assert "valid_to: 2026-06-30  # as the text says\n" in path.read_text(encoding="utf-8")
    assert "valid_to" not in (work / WRITTEN / "1.1.yaml").read_text(encoding="utf-8")


def test_an_earlier_end_is_kept_and_the_gap_reported(work):
    path = work / WRITTEN / "1.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "valid_from: 2025-01-01\n", "valid_from: 2025-01-01\nvalid_to: 2025-06-30\n"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    result = _run("sorland-written-contact", "--from", "2025-09-01")
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == before
    assert "kept policies/sorland/sorland-written-contact/1.0.yaml: version 1.0 already ends 2025-06-30" in result.output
    assert ("policies/sorland/sorland-written-contact/2.0.yaml:7:1: warning: sorland-written-contact: "
            "no version is in force from 2025-07-01 to 2025-08-31 (between 1.0 and 2.0)") in result.output


@pytest.mark.parametrize("args, message", [
    (["sorland-written", "--from", "2026-01-01"], "there is no policy 'sorland-written'; did you mean 'sorland-written-contact'?"),
    (["sorland-written-contact", "--from", "2025-01-01"], "must start after version 1.0 does (2025-01-01); 2025-01-01 is not after it"),
    (["sorland-written-contact", "--from", "2026-01-01", "--version", "1.0"], "version 1.0 is not after the latest version 1.0"),
    (["sorland-written-contact", "--from", "2026-01-01", "--version", "v2"], "'v2' is not a version number"),
    (["sorland-video-contact", "--from", "2026-01-01", "--version", "1.5"], "version 1.5 is not after the latest version 2.0"),
    (["sorland-written-contact", "--from", "1 March"], "'1 March' does not match the format '%Y-%m-%d'"),
    (["sorland-written-contact"], "Missing option '--from'"),
])
def test_wrong_requests_are_usage_errors(work, args, message):
    result = _run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert sorted(p.name for p in (work / WRITTEN).iterdir()) == ["1.0.yaml"]


def test_an_existing_file_is_not_overwritten(work):
    (work / WRITTEN / "2.0.yaml").write_text("# someone's draft\n", encoding="utf-8")
    # the draft does not load, so the policies cannot be loaded at all
    assert _run("sorland-written-contact", "--from", "2026-01-01").exit_code == 3
    assert (work / WRITTEN / "2.0.yaml").read_text(encoding="utf-8") == "# someone's draft\n"


def test_nothing_is_written_when_the_result_does_not_validate(work, monkeypatch):
    def failing_lint(policy_set):
        return [Problem("test", "an error the lint found", Location("x.yaml", 1, 1))]

    monkeypatch.setattr("evaluator.tools.new_version.lint_policy_set", failing_lint)
    before = (work / VIDEO / "2.0.yaml").read_text(encoding="utf-8")
    result = _run("sorland-video-contact", "--from", "2026-03-01")
    assert result.exit_code == 1
    assert "x.yaml:1:1: error: an error the lint found" in result.output
    assert "would not validate; nothing was written" in result.output
    assert not (work / VIDEO / "3.0.yaml").exists()
    assert (work / VIDEO / "2.0.yaml").read_text(encoding="utf-8") == before


def test_policies_folder_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Outside a policy repository new-version never writes into the bundled policies.
    result = _run("x", "--from", "2026-01-01")
    assert result.exit_code == 2 and "there is no policy repository here" in result.output
    assert _run("x", "--from", "2026-01-01", "--policies", "nowhere").exit_code == 2
    # A repository whose settings name a folder that is not there.
    (tmp_path / "regelverk.yaml").write_text("policies: policies\n", encoding="utf-8")
    result = _run("x", "--from", "2026-01-01")
    assert result.exit_code == 3 and "regelverk.yaml:1:11: error: the policy folder 'policies' does not exist" in result.output


def test_help_shows_an_example():
    result = CliRunner().invoke(new_version, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_the_cases_dated_in_the_new_period_are_listed(work):
    (work / VIDEO / "video.test.yaml").write_text("""\
policy: sorland-video-contact
defaults: {region: sorland, channel: video, patient: p1, unit: u1, date: 2026-03-02}
cases:
  - name: before the new version
    contact: {id: c1, date: 2026-02-28}
    expect: {status: decided}
  - name: on its first day
    contact: {id: c2, date: 2026-03-01}
    expect: {status: decided}
  - name: dated by the defaults
    contact: {id: c3}
    expect: {status: decided}
""", encoding="utf-8")
    (work / "policies/sorland/elsewhere.test.yaml").write_text("""\
policy: sorland-video-contact
cases:
  - name: in another folder, naming the policy
    contact: {id: c4, region: sorland, channel: phone, patient: p1, unit: u1, date: 2027-01-05}
    expect: {status: decided}
""", encoding="utf-8")
    (work / WRITTEN / "written.test.yaml").write_text("""\
policy: sorland-written-contact
cases:
  - name: another policy's case
    contact: {id: c5, region: sorland, channel: written, patient: p1, unit: u1, date: 2026-05-01}
    expect: {status: decided}
""", encoding="utf-8")
    result = _run("sorland-video-contact", "--from", "2026-03-01")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("3 test case(s) are dated from 2026-03-01: they now test version 3.0:")
    assert lines[start + 1:start + 5] == [
        "  policies/sorland/elsewhere.test.yaml:3  in another folder, naming the policy  (2027-01-05; tested version 2.0 until now)",
        "  policies/sorland/sorland-video-contact/video.test.yaml:7  on its first day  (2026-03-01; tested version 2.0 until now)",
        "  policies/sorland/sorland-video-contact/video.test.yaml:10  dated by the defaults  (2026-03-02; tested version 2.0 until now)",
        "  for each, decide: to keep it testing version 2.0, date it (and its history) before 2026-03-01; "
        "or keep it, with version 3.0's expectations",
    ]
    assert "before the new version" not in result.output and "another policy's case" not in result.output


def test_a_case_after_the_old_end_tested_no_version(work):
    path = work / WRITTEN / "1.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "valid_from: 2025-01-01\n", "valid_from: 2025-01-01\nvalid_to: 2025-06-30\n"), encoding="utf-8")
    (work / WRITTEN / "w.test.yaml").write_text("""\
policy: sorland-written-contact
defaults: {region: sorland, channel: written, patient: p1, unit: u1}
cases:
  - name: after the end
    contact: {id: c1, date: 2025-07-01}
    expect: {status: no_policy}
  - name: in the new period
    contact: {id: c2, date: 2025-09-02}
    expect: {status: no_policy}
""", encoding="utf-8")
    result = _run("sorland-written-contact", "--from", "2025-09-01")
    assert result.exit_code == 0, result.output
    assert "1 test case(s) are dated from 2025-09-01: they now test version 2.0:" in result.output
    assert ("  policies/sorland/sorland-written-contact/w.test.yaml:7  in the new period  "
            "(2025-09-02; tested no version in force until now)") in result.output
    assert "after the end" not in result.output


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_both_files_keep_the_line_ends_of_the_old_one(work, newline):
    # a file saved with CRLF (an editor on Windows) was written back with LF, both files
    old = work / VIDEO / "2.0.yaml"
    text = old.read_text(encoding="utf-8").replace("\n", newline)
    old.write_bytes(text.encode("utf-8"))
    result = _run("sorland-video-contact", "--from", "2026-03-01")
    assert result.exit_code == 0, result.output
    for path in (old, work / VIDEO / "3.0.yaml"):
        data = path.read_bytes().decode("utf-8")
        assert data.count(newline) == data.count("\n") > 20, path.name
        if newline == "\n":
            assert "\r" not in data
    assert old.read_bytes().decode("utf-8") == text.replace(
        "valid_from: 2025-01-01" + newline, "valid_from: 2025-01-01" + newline + "valid_to: 2026-02-28" + newline)
