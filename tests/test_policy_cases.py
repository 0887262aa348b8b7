"""The bundled policies' YAML tests, each case a pytest test: CI and authors run the same cases."""

from __future__ import annotations

import pytest

from evaluator import load_repository
from evaluator.resources import policies_dir
from evaluator.tools.testing import Coverage, find_test_files, load_cases, run_case

REPO = load_repository()
FILES = find_test_files(policies_dir())


def _cases():
    for path in FILES:
        doc, problems = load_cases(path)
        if doc is None:
            yield pytest.param(path, None, problems, id=path.name)
            continue
        for i, case in enumerate(doc.value["cases"]):
            yield pytest.param(doc, i, None, id=f"{path.parent.name}:{case['name']}")


@pytest.mark.parametrize("doc, index, problems", list(_cases()))
def test_policy_case(doc, index, problems):
    assert problems is None, "\n".join(p.render() for p in problems)
    result = run_case(REPO.engine, doc, index, Coverage())
    assert result.ok, "\n".join(f"{result.location} {what}: expected {exp!r}, got {act!r}"
                                for what, exp, act in result.failures)


def test_every_bundled_policy_has_tests():
    tested = {p.parent.name for p in FILES}
    assert set(REPO.policy_set.policies) <= tested
