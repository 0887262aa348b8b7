"""Conditions compared as syntax trees: what changed in meaning, and back to text."""

from __future__ import annotations

import pytest

from evaluator.language.parser import parse_condition
from evaluator.loading.repository import load_policies
from evaluator.tools.meaning import Part, parts, same, unparse

CAP = 'count of earlier contacts where (channel = "written" and same unit and same iso week) >= max_per_week'


def _parts(old, new, pa=None, pb=None):
    return parts(parse_condition(old), parse_condition(new), pa or {}, pb or {})


def test_a_changed_operator_is_named_with_what_it_compares_to():
    assert _parts(CAP, CAP.replace(">=", ">"), {"max_per_week": 1}, {"max_per_week": 1}) == [
        Part("changed", ">= max_per_week", "> max_per_week")]


def test_a_changed_parameter_value_is_a_change_of_meaning():
    assert _parts(CAP, CAP, {"max_per_week": 1}, {"max_per_week": 2}) == [Part("parameter", "1", "2", "max_per_week")]


def test_a_renamed_parameter_of_the_same_value_means_the_same():
    assert _parts(CAP, CAP.replace("max_per_week", "cap"), {"max_per_week": 1}, {"cap": 1}) == []


def test_layout_and_redundant_parentheses_mean_the_same():
    assert _parts('channel = "video" and dialogue', '(channel = "video")\n   and (dialogue)') == []


def test_conjuncts_match_in_any_order_and_new_ones_are_named():
    assert _parts("dialogue and documented", "documented and dialogue") == []
    assert _parts("dialogue and documented", "dialogue and documented and fee_informed") == [
        Part("added", None, "fee_informed")]
    assert _parts("dialogue and documented", "documented") == [Part("removed", "dialogue", None)]
    assert _parts("dialogue", "dialogue and documented") == [Part("added", None, "documented")]


def test_a_change_inside_a_count_filter_is_found_there():
    new = CAP.replace("same unit", "same patient")
    assert _parts(CAP, new, {"max_per_week": 1}, {"max_per_week": 1}) == [Part("changed", "same unit", "same patient")]


def test_literals_of_different_types_differ():
    assert not same(parse_condition("x = 1"), parse_condition("x = true"), {}, {})
    assert _parts('channel in ["video", "phone"]', 'channel in ["video"]') == [
        Part("changed", '["video", "phone"]', '["video"]')]


@pytest.mark.parametrize("text", [
    "not (a and b) or c",
    "a and (b or c)",
    "(a + b) * 2 > 3 - -x",
    "date - 12 months >= 2024-01-01 and a is not empty and b is missing",
    "any earlier contacts where (within 1 week and was reimbursable) or no earlier contacts",
    "count of earlier contacts where (since latest (channel = \"physical\")) > 10",
    'not x in [1, 2] and y not in [3] and z contains "A" and f(current.date, 2) = 3',
])
def test_unparse_reads_back_as_the_same_tree(text):
    tree = parse_condition(text)
    assert same(parse_condition(unparse(tree)), tree, {}, {})


def test_unparse_round_trips_every_bundled_condition():
    for version in load_policies().versions():
        for node in [version.applies_when, *(r.when for r in version.rules)]:
            assert same(parse_condition(unparse(node)), node, {}, {}), unparse(node)
