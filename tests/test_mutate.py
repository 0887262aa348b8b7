"""Mutation testing of policy tests (`regelverk test --mutate`, evaluator/tools/mutate.py)."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from evaluator.cli import main
from evaluator.language.parser import parse_condition
from evaluator.loading.repository import load_policy_set
from evaluator.tools.mutate import condition_mutations, run_mutation

CODING_TESTS = """\
policy: testland-coding
defaults: {region: testland, channel: video, patient: p1, unit: u1, platform: sob}
cases:
  - name: administration gets type 12 and AA001
    contact: {id: c1, date: 2024-03-04, sob_activity: administration}
    expect:
      outputs: {contact_type: 12, kva: [AA001]}
      fires: [admin]
  - name: care gets type 23
    contact: {id: c1, date: 2024-03-04, sob_activity: care}
    expect:
      outputs: {contact_type: 23}
"""


def _repo(tmp_path, fixture_policies, tests=CODING_TESTS):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    (root / "testland/testland-coding/coding.test.yaml").write_text(tests)
    return root


def test_the_operators_on_a_condition():
    changes = [c for _, _, c in condition_mutations(parse_condition(
        "a >= 1 and (b < 2 or c) and count of earlier contacts where (within 7 days) > 0"))]
    assert "'a >= 1' → 'a > 1'" in changes and "'b < 2' → 'b <= 2'" in changes
    assert "'count of earlier contacts where (within 7 days) > 0' → 'count of earlier contacts where (within 7 days) >= 0'" in changes
    assert "'or' → 'and' in 'b < 2 or c'" in changes
    assert "'and' → 'or' in 'a >= 1 and (b < 2 or c) and count of earlier contacts where…'" in changes
    assert [c for c in changes if "dropped" in c] == [
        "'a >= 1' dropped from an 'and'", "'b < 2 or c' dropped from an 'and'",
        "'count of earlier contacts where (within 7 days) > 0' dropped from an 'and'"]
    assert "window 7 days → 6 days" in changes and "window 7 days → 8 days" in changes


def test_survivors_are_reported_at_their_place_and_compiled_without_reading_the_policies(tmp_path, fixture_policies):
    root = _repo(tmp_path, fixture_policies)
    policy_set, problems = load_policy_set(root)
    assert policy_set is not None, problems
    for f in root.rglob("[0-9]*.yaml"):  # the policy files: gone, the mutants need only the model
        f.rename(f.with_suffix(".gone"))
    run = run_mutation(policy_set, root / "testland/testland-coding")
    for f in root.rglob("*.gone"):
        f.rename(f.with_suffix(".yaml"))
    changes = {m.change for m in run.mutants}
    assert "applies_when: 'platform = \"sob\"' dropped from an 'and'" in changes
    assert "parameter admin_type: 12 → 13" in changes
    assert "rule care: then contact_type: 23 → 24" in changes
    survived = {m.change for m in run.survivors}
    # The tests check admin's outputs and care's type: changing them is noticed ...
    assert "parameter admin_type: 12 → 13" not in survived
    assert "rule care: then contact_type: 23 → 24" not in survived
    # ... but no case has a contact outside the platform or a day before valid_from.
    assert "applies_when: 'platform = \"sob\"' dropped from an 'and'" in survived
    assert "valid_from: 2024-01-01 → 2023-12-31" in survived
    assert 0 < run.score < 100 and run.killed + len(run.survivors) == len(run.mutants)
    assert all(m.version.id == "testland-coding" for m in run.mutants)


def test_the_command_reports_and_gates(tmp_path, fixture_policies):
    root = _repo(tmp_path, fixture_policies)
    result = CliRunner().invoke(main, ["test", "--mutate", str(root / "testland/testland-coding"), "--min-score", "100"])
    assert result.exit_code == 1, result.output
    assert "testland-coding/1.0.yaml:9:39: survived: applies_when: 'platform = \"sob\"' dropped from an 'and'" in result.output
    assert "testland-coding/1.0.yaml:6:13: survived: valid_from: 2024-01-01 → 2023-12-31" in result.output
    assert "mutation score:" in result.output and "below the required 100%" in result.output

    # Cases that notice the last survivors: a contact off the platform, a day before valid_from.
    more = CODING_TESTS + """\
  - name: off the platform
    contact: {id: c1, date: 2024-03-04, sob_activity: care, platform: other}
    expect: {status: no_policy}
  - name: the day before
    contact: {id: c1, date: 2023-12-31, sob_activity: care}
    expect: {status: no_policy}
  - name: the first day
    contact: {id: c1, date: 2024-01-01, sob_activity: care}
    expect: {status: decided}
  - name: outside testland
    contact: {id: c1, date: 2024-03-04, sob_activity: care, region: other}
    expect: {status: no_policy}
"""
    root2 = _repo(tmp_path / "2", fixture_policies, more)
    result = CliRunner().invoke(main, ["test", "--mutate", str(root2 / "testland/testland-coding"), "-v"])
    assert "survived: applies_when" not in result.output and "survived: valid_from" not in result.output
    assert "killed   testland-coding 1.0: valid_from: 2024-01-01 → 2023-12-31" in result.output


def test_failing_tests_stop_a_mutation_run(tmp_path, fixture_policies):
    root = _repo(tmp_path, fixture_policies, CODING_TESTS.replace("contact_type: 23}", "contact_type: 99}"))
    result = CliRunner().invoke(main, ["test", "--mutate", str(root)])
    assert result.exit_code == 1
    assert "FAIL " in result.output and "must pass on the policies as they are" in result.output


def test_min_score_needs_mutate(fixture_policies):
    result = CliRunner().invoke(main, ["test", str(fixture_policies), "--min-score", "50"])
    assert result.exit_code == 2 and "--min-score goes with --mutate" in result.output


def test_equivalent_mutants_are_declared_with_why_and_stale_declarations_are_said(tmp_path, fixture_policies):
    tests = CODING_TESTS.replace("cases:\n", """equivalent_mutants:
  - change: "valid_from: 2024-01-01 → 2023-12-31"
    why: (for this test) no case before 2024
  - change: "rule care: then contact_type: 23 → 24"
    why: (for this test) a declaration a case contradicts
  - change: "rule nothing: no such change"
    why: (for this test) a declaration of no mutant
cases:\n""", 1)
    root = _repo(tmp_path, fixture_policies, tests)
    result = CliRunner().invoke(main, ["test", "--mutate", str(root / "testland/testland-coding")])
    out = result.output
    assert "survived: valid_from: 2024-01-01 → 2023-12-31" not in out
    assert "1 declared equivalent" in out
    assert "coding.test.yaml:6:5: warning: 'rule care: then contact_type: 23 → 24' is declared equivalent, but a case notices it" in out
    assert "coding.test.yaml:8:13: warning: no mutant of testland-coding is 'rule nothing: no such change'" in out
