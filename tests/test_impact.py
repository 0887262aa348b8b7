"""`regelverk impact`: the decisions a change of the policy set flips, real and counterfactual."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from _golden import FIXTURES
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.loading.repository import load_policies
from evaluator.tools.impact import (
    ImpactReport,
    PairEngine,
    Window,
    as_if_in_force,
    compare_batch,
    summarise,
)

HERE = FIXTURES / "impact"
CONTACTS = str(HERE / "contacts.ndjson")
V1 = (HERE / "capland-1.0.yaml").read_text(encoding="utf-8")
PLACE = "capland/capland-written"


OUTPUTS = (FIXTURES.parent.parent / "policies" / "outputs.yaml").read_text(encoding="utf-8")


def _write(root, files: dict):
    """A policy folder (with the bundled outputs.yaml) holding capland-written's `files`."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "outputs.yaml").exists():
        (root / "outputs.yaml").write_text(OUTPUTS, encoding="utf-8")
    for name, text in files.items():
        path = root / PLACE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _next_version(text=V1, *edits):
    """Version 2.0, from 2026-01-01, with `edits` made to 1.0's text."""
    text = text.replace('version: "1.0"', 'version: "2.0"').replace("valid_from: 2025-01-01", "valid_from: 2026-01-01")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _ended(text=V1):
    return text.replace("valid_from: 2025-01-01", "valid_from: 2025-01-01\nvalid_to: 2025-12-31")


@pytest.fixture
def sides(tmp_path):
    """The base (1.0 alone) and a working folder to fill."""
    base = _write(tmp_path / "base", {"1.0.yaml": V1})
    return base, tmp_path / "work"


def impact(*args):
    result = CliRunner().invoke(main, ["impact", *args], catch_exceptions=False)
    return result


def report(*args):
    result = impact(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _flips(rep) -> dict:
    return {(g["output"], g["transition"]): g for g in rep["groups"]}


def test_a_new_version_decides_nothing_before_it_starts(sides):
    base, work = sides
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": _next_version(V1, ("max_per_week: 1", "max_per_week: 2"))})
    rep = report(CONTACTS, "--base", str(base), "--policies", str(work))
    assert rep["contacts"] == 16 and rep["invalid"] == 1
    assert rep["changed"] == 0 and rep["counterfactual"] is False and rep["groups"] == []
    assert rep["versions"] == {"added": [["capland-written", "2.0"]], "changed": [["capland-written", "1.0"]],
                               "removed": []}


def test_a_cap_raised_from_1_to_2_flips_exactly_the_hand_counted_contacts(sides):
    base, work = sides
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": _next_version(V1, ("max_per_week: 1", "max_per_week: 2"))})
    rep = report(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force", "--examples", "10")
    # The default window: the three months up to d2 (2025-12-21), the last contact 1.0 applied to
    # (d3 is a phone call, e1 in another region).
    assert rep["windows"] == [{"policy": "capland-written", "new": "2.0", "old": "1.0",
                               "from": "2025-09-22", "to": "2025-12-21", "contacts": 11}]
    # By hand, the second reimbursed contact of a patient's week at a unit: a2 (a1 the first, a3
    # the third), b5 (b3 was not a dialogue, so b4 was the first), d2 (Saturday and Sunday of one
    # ISO week). c2 is one too, but in June: outside the window.
    assert rep["flipped"] == 3
    # a3 stays unreimbursed, but its finding now names two contacts reimbursed that week
    assert rep["changed"] == 4
    group, evidence = rep["groups"]
    assert (evidence["output"], evidence["transition"], evidence["count"]) == (
        "findings", "~capland-written/per-week (evidence)", 1)
    assert evidence["examples"][0]["new"]["findings"][0]["evidence"] == ["a1", "a2"]
    assert (group["output"], group["transition"], group["count"]) == ("reimbursable", "false → true", 3)
    assert [e["contact"] for e in group["examples"]] == ["a2", "b5", "d2"]
    assert group["findings"] == [{"side": "base", "policy": "capland-written", "version": "1.0", "rule": "per-week",
                                  "decisions": 3}]
    b5 = group["examples"][1]
    assert b5["base"]["findings"][0]["message"]["en"] == "At most 1 a week is reimbursed; already reimbursed: b4 (2025-12-02)."
    assert b5["new"]["findings"] == []
    # the window given: only c2 flips
    rep = report(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force",
                 "--from", "2025-06-01", "--to", "2025-06-30")
    assert rep["changed"] == rep["flipped"] == 1 and rep["groups"][0]["examples"][0]["contact"] == "c2"
    assert rep["windows"][0]["from"] == "2025-06-01" and rep["in_window"] == 2
    # a window given has its count of contacts the old version applied to, as a default one has
    assert rep["windows"][0]["contacts"] == 2
    text = impact(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force",
                  "--from", "2025-06-01", "--to", "2025-06-30").output
    assert "2025-06-01 – 2025-06-30 (2 contact(s) the old version applied to)" in text


def test_a_change_of_wording_flips_none(sides):
    base, work = sides
    reworded = _next_version(V1, ("At most {max_per_week} a week is reimbursed", "No more than {max_per_week} a week is paid"),
                             ("Enheten får ersättning för en", "Enheten ersätts för en"),
                             ("max_per_week: 1", "max_per_week: 1  # as before"))
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": reworded})
    rep = report(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force")
    assert rep["changed"] == 0 and rep["groups"] == []
    assert rep["reworded"] == 4  # a2, a3, b5 and d2: their per-week findings in the window, in other words


def test_a_new_version_with_the_same_rules_flips_none(sides):
    base, work = sides
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": _next_version()})
    rep = report(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force", "--from", "2025-01-01",
                 "--to", "2025-12-31")
    assert rep["changed"] == 0 and rep["reworded"] == 0 and rep["in_window"] == 15
    assert rep["windows"][0]["contacts"] == 13  # of the 15 dated in it: not d3 (phone) nor e1 (another region)


def test_a_policy_that_stops_applying_is_decided_to_no_policy(sides):
    base, work = sides
    _write(work, {"1.0.yaml": V1.replace('channel = "written"', 'channel = "written" and unit != "u2"')})
    result = impact(CONTACTS, "--base", str(base), "--policies", str(work))
    assert result.exit_code == 0
    assert "status decided → no_policy: 1 decision(s)" in result.output
    assert "    a4\n      base: decided — (no finding)\n      new:  no_policy — (no finding)" in result.output
    assert impact(CONTACTS, "--base", str(base), "--policies", str(work), "--fail-on-change").exit_code == 1
    assert impact(CONTACTS, "--base", str(base), "--policies", str(base), "--fail-on-change").exit_code == 0


def test_every_format_says_counterfactual(sides):
    base, work = sides
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": _next_version(V1, ("max_per_week: 1", "max_per_week: 2"))})
    args = [CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force"]
    text = impact(*args).output
    assert "COUNTERFACTUAL" in text and "capland-written 2.0 in place of 1.0, 2025-09-22 – 2025-12-21" in text
    md = impact(*args, "--format", "markdown").output
    assert "> **COUNTERFACTUAL" in md and "| `reimbursable` | `false → true` | 3 |" in md
    assert "<details>" not in md  # three examples are not folded
    md = impact(*args, "--format", "md", "--examples", "5", "--from", "2025-01-01", "--to", "2025-12-31").output
    assert "<details><summary>`reimbursable` `false → true`: 4 of 4 example(s)</summary>" in md
    assert report(*args)["counterfactual"] is True
    assert "COUNTERFACTUAL" not in impact(*args[:4]).output


def test_bad_calls(sides, tmp_path):
    base, work = sides
    _write(work, {"1.0.yaml": V1})
    result = impact(CONTACTS, "--base", str(tmp_path / "nowhere"), "--policies", str(work))
    assert result.exit_code == 2 and "neither a folder nor a git revision" in result.output or "not in a git repository" in result.output
    result = impact(CONTACTS, "--base", str(base), "--policies", str(work), "--as-if-in-force", "--from", "2025-01-01")
    assert result.exit_code == 2 and "both --from and --to" in result.output
    result = impact(CONTACTS, "--base", str(base), "--policies", str(work), "--from", "2025-01-01", "--to", "2025-02-01")
    assert result.exit_code == 2 and "--as-if-in-force" in result.output
    result = impact(str(tmp_path / "none.ndjson"), "--base", str(base), "--policies", str(work))
    assert result.exit_code == 4 and "Traceback" not in result.output
    assert (f"regelverk: cannot read {tmp_path / 'none.ndjson'}: there is no such file; check its name, "
            "and give its folder too when it lies elsewhere") in result.output
    result = impact("none.csv", "--base", str(base), "--policies", str(work))
    assert result.exit_code == 4
    assert f"cannot read none.csv: there is no such file (looked for in {Path.cwd()}); check its name" in result.output
    broken = _write(tmp_path / "broken", {"1.0.yaml": V1.replace("max_per_week\n", "max_per_wek\n")})
    result = impact(CONTACTS, "--base", str(broken), "--policies", str(work))
    assert result.exit_code == 3 and "the base" in result.output and "max_per_wek" in result.output


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false",
                    *args], cwd=repo, check=True, capture_output=True)


def test_a_git_revision_as_base(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    _write(repo / "policies", {"1.0.yaml": V1})
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    _write(repo / "policies", {"1.0.yaml": _ended(), "2.0.yaml": _next_version(V1, ("max_per_week: 1", "max_per_week: 2"))})
    monkeypatch.chdir(repo)
    rep = report(CONTACTS, "--base", "HEAD", "--policies", "policies", "--as-if-in-force")
    assert rep["base"] == "HEAD" and rep["flipped"] == 3
    result = impact(CONTACTS, "--base", "nope", "--policies", "policies")
    assert result.exit_code == 2 and "neither a folder nor a git revision" in result.output
    # a revision where the policy folder did not exist yet
    (repo / "other").mkdir()
    shutil.copytree(repo / "policies", repo / "other" / "policies")
    result = impact(CONTACTS, "--base", "HEAD", "--policies", "other/policies")
    assert result.exit_code == 2 and "there is no folder other/policies/ at that revision" in result.output
    # the base's problems are placed at REV:path
    (repo / "policies" / PLACE / "1.0.yaml").write_text(V1.replace("max_per_week\n", "max_per_wek\n"), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "broken")
    _write(repo / "policies", {"1.0.yaml": _ended()})
    result = impact(CONTACTS, "--base", "HEAD", "--policies", "policies")
    assert result.exit_code == 3 and f"HEAD:policies/{PLACE}/1.0.yaml:" in result.output


def test_in_processes_the_same_as_in_one(tmp_path):
    """A batch large enough to be dealt out to worker processes compares the same."""
    rng = random.Random(15)
    lines = []
    for i in range(21_000):
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines.append(json.dumps({"id": f"x{i}", "patient": f"p{rng.randint(1, 3000)}", "unit": f"u{rng.randint(1, 3)}",
                                 "region": "capland", "date": day, "channel": rng.choice(["written", "phone"]),
                                 "dialogue": rng.random() < 0.9, "documented": True}).encode())
    lines[17] = b"not json"
    base = load_policies(_write(tmp_path / "base", {"1.0.yaml": V1}))
    work = load_policies(_write(tmp_path / "work", {"1.0.yaml": V1.replace("max_per_week: 1", "max_per_week: 2")}))
    one = compare_batch(base, work, lines, jobs=1)
    two = compare_batch(base, work, lines, jobs=2, text=b"\n".join(lines) + b"\n")
    assert one == two
    rep = summarise(two, ImpactReport("b", "w", "s"))
    assert rep.contacts == 21_000 and rep.invalid == 1 and rep.changed > 50
    assert rep.groups[0].output == "reimbursable" and rep.groups[0].transition == "false → true"
    assert rep.flipped == rep.groups[0].count


def test_patients_that_meet_the_same_versions_are_not_decided_twice(tmp_path, monkeypatch):
    """The shortcut (a patient whose contacts meet versions of the same content on both sides
    is taken to be decided alike) gives what deciding both sides gives, on generated contacts
    for every bundled policy, with a new version put in force and a parameter changed."""
    root = FIXTURES.parent.parent
    data = tmp_path / "contacts.ndjson"
    subprocess.run([sys.executable, str(root / "benchmarks" / "generate.py"), "--contacts", "4000", "--patients", "400",
                    "--units", "20", "--seed", "3", "--out", str(data)], check=True, capture_output=True)
    lines = data.read_bytes().splitlines()
    base = tmp_path / "base"
    shutil.copytree(root / "policies", base, ignore=shutil.ignore_patterns("*.test.yaml"))
    work = tmp_path / "work"
    shutil.copytree(base, work)
    vgr = work / "vgr" / "vgr-rehab-written-contact"
    four = (vgr / "4.0.yaml").read_text(encoding="utf-8")
    (vgr / "5.0.yaml").write_text(four.replace('version: "4.0"', 'version: "5.0"')
                                  .replace("valid_from: 2025-01-30\nvalid_to: 2027-01-30", "valid_from: 2027-01-31")
                                  .replace("max_per_week: 1", "max_per_week: 2"), encoding="utf-8")
    halland = work / "halland" / "halland-distance-contact" / "1.0.yaml"
    halland.write_text(halland.read_text(encoding="utf-8").replace("    value: 5\n", "    value: 2\n", 1), encoding="utf-8")
    base_set, work_set = load_policies(base), load_policies(work)
    windows = [Window("vgr-rehab-written-contact", "5.0", "4.0", date(2026, 6, 1), date(2026, 12, 31))]
    counterfactual = as_if_in_force(work_set, windows)
    quick = compare_batch(base_set, counterfactual, lines, windows)
    monkeypatch.setattr(PairEngine, "_alike", lambda self, items: False)
    both = compare_batch(base_set, counterfactual, lines, windows)
    assert quick == both
    assert sum(1 for m in both if type(m) is not int) >= 10  # the change flips some


def test_a_new_version_whose_old_one_decides_no_contact_gets_no_window(sides, tmp_path):
    base, work = sides
    _write(work, {"1.0.yaml": _ended(), "2.0.yaml": _next_version(V1, ("max_per_week: 1", "max_per_week: 2"))})
    elsewhere = tmp_path / "elsewhere.ndjson"
    elsewhere.write_text("".join(line + "\n" for line in (HERE / "contacts.ndjson").read_text(encoding="utf-8").splitlines()
                                 if '"elsewhere"' in line), encoding="utf-8")
    rep = report(str(elsewhere), "--base", str(base), "--policies", str(work), "--as-if-in-force")
    assert rep["windows"] == [] and rep["not_in_force"] == [{"policy": "capland-written", "new": "2.0", "old": "1.0"}]
    text = impact(str(elsewhere), "--base", str(base), "--policies", str(work), "--as-if-in-force").output
    assert "capland-written 2.0: not put in force anywhere (no contact in the file that 1.0 applies to)" in text


def test_contacts_without_permission_to_read_them_are_exit_4_naming_them(tmp_path):
    """impact's CONTACTS and diff --impact were checked by click, a usage error (exit 2); an
    input file that cannot be read is exit 4 (docs/toolchain.md), in words."""
    import os
    import shutil
    import subprocess
    import sys

    lead = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    assert all(lead), "running as root, the test needs setpriv (util-linux) to give up the power to read any file"
    locked = tmp_path / "contacts.ndjson"
    shutil.copy(CONTACTS, locked)
    locked.chmod(0)
    root = FIXTURES.parent.parent
    for args in (["impact", str(locked), "--base", str(root / "policies"), "--policies", str(root / "policies")],
                 ["diff", "vgr-rehab-written-contact", "vgr-rehab-written-contact", "--impact", str(locked),
                  "--policies", str(root / "policies")]):
        done = subprocess.run([*lead, sys.executable, "-m", "evaluator", *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 4, (args[0], done.stderr)
        assert f"cannot read {locked}: you are not allowed to read it" in done.stderr and "Traceback" not in done.stderr
