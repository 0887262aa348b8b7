"""The examples in docs/policy-format.md work as they are written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from evaluator.repository import load_policy_set
from evaluator.resources import policies_dir
from evaluator.testing import run_tests

DOC = Path(__file__).parent.parent / "docs" / "policy-format.md"


def _examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_policy_example_loads_without_a_problem(tmp_path):
    policy, _ = _examples()
    shutil.copy(policies_dir() / "outputs.yaml", tmp_path / "outputs.yaml")
    place = tmp_path / "vgr" / "vgr-rehab-written-contact" / "4.0.yaml"
    place.parent.mkdir(parents=True)
    place.write_text(policy, encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is not None and problems == [], [p.render() for p in problems]
    (rule,) = policy_set.policies["vgr-rehab-written-contact"].versions[0].rules
    assert "redan ersatt: " in "".join(p if isinstance(p, str) else "{}" for p in rule.message.sv)


def test_the_test_example_passes_against_the_bundled_policies(tmp_path):
    _, cases = _examples()
    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    path = folder / "vgr" / "vgr-rehab-written-contact" / "example.test.yaml"
    path.write_text(cases, encoding="utf-8")
    policy_set, problems = load_policy_set(folder)
    assert policy_set is not None, problems
    run = run_tests(policy_set, path)
    assert run.ok and run.passed == 1, run
