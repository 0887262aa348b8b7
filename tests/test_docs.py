"""The examples in docs/policy-format.md work as they are written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from evaluator.loading.repository import load_policy_set
from evaluator.resources import policies_dir
from evaluator.tools.testing import run_tests

DOC = Path(__file__).parent.parent / "docs" / "policy-format.md"


def _examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _example(first_key: str) -> str:
    """The doc's one YAML example whose top-level keys include `first_key`."""
    (found,) = [e for e in _examples() if re.search(rf"^{first_key}:", e, re.M)]
    return found


def test_the_policy_example_loads_without_a_problem(tmp_path):
    policy = _example("rules")
    shutil.copy(policies_dir() / "outputs.yaml", tmp_path / "outputs.yaml")
    place = tmp_path / "vgr" / "vgr-rehab-written-contact" / "4.0.yaml"
    place.parent.mkdir(parents=True)
    place.write_text(policy, encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is not None and problems == [], [p.render() for p in problems]
    (rule,) = policy_set.policies["vgr-rehab-written-contact"].versions[0].rules
    assert "redan ersatt: " in "".join(p if isinstance(p, str) else "{}" for p in rule.message.sv)


def test_the_test_example_passes_against_the_bundled_policies(tmp_path):
    cases = _example("cases")
    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    path = folder / "vgr" / "vgr-rehab-written-contact" / "example.test.yaml"
    path.write_text(cases, encoding="utf-8")
    policy_set, problems = load_policy_set(folder)
    assert policy_set is not None, problems
    run = run_tests(policy_set, path)
    assert run.ok and run.passed == 1, run


def test_the_facts_example_declares_facts_a_policy_can_read(tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    (tmp_path / "regelverk.yaml").write_text("policies: policies\n", encoding="utf-8")
    (tmp_path / "facts.yaml").write_text(_example("facts"), encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is not None, [p.render() for p in problems]
    assert policy_set.facts["profession"].values == ("fysioterapeut", "arbetsterapeut", "dietist")
    assert policy_set.facts["birth_date"].type.kind == "date"
