"""The fuzzing harness itself (tests/fuzz): each target runs, and a crash is reported, not hidden."""

from __future__ import annotations

import pytest
from fuzz import targets
from fuzz.__main__ import _load_targets, _test_for, run_hypothesis
from hypothesis import Phase, given, settings

_load_targets()

# The strategies hold long hostile fragments (5,000 digits, 2,000 brackets): hypothesis warns
# that printing a failing example's strategy is large, which is what a planted crash does here.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_each_target_runs_clean_on_a_few_inputs(name):
    examples, findings = run_hypothesis(name, seconds=0.01, batch=5)
    assert examples >= 5 and findings == []


def test_a_crash_in_the_code_under_test_is_a_finding(monkeypatch):
    def crashing(text, limits=None):
        raise RecursionError("planted")

    monkeypatch.setattr(targets, "parse_condition", crashing)
    with pytest.raises(RecursionError):
        _test_for(targets.TARGETS["condition"], 5)()


def test_a_lost_decision_is_a_finding(monkeypatch):
    real = targets.Repository.evaluate_lines
    monkeypatch.setattr(targets.Repository, "evaluate_lines", lambda self, lines: real(self, lines)[:-1])
    with pytest.raises(AssertionError):
        settings(max_examples=10, database=None, deadline=None, phases=[Phase.generate])(given(targets.CONTACTS.filter(bool))(
            targets.check_contacts))()
