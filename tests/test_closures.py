"""Compiled conditions on one contact: three-valued logic, missing facts, count ranges."""

from __future__ import annotations

from datetime import date

import pytest

from evaluator.compiling.closures import compile_condition
from evaluator.language.checker import check_condition
from evaluator.language.parser import parse_condition
from evaluator.language.types import INTEGER, Names, field_types_from_schema
from evaluator.language.values import CountRange, range_compare
from evaluator.resources import load_schema
from evaluator.running.state import Context, Entry, Trace

NAMES = Names(fields=field_types_from_schema(load_schema("contact.schema.json")), parameters={"cap": INTEGER})


def run(text, traced=False, **facts):
    node = parse_condition(text)
    _, problems = check_condition(node, NAMES, allow_history=True)
    assert not problems, problems
    fn = compile_condition(node, {"cap": 2}, traced=traced)
    contact = {"id": "c", "date": date(2025, 3, 5), "unit": "u1", **facts}
    ctx = Context(Entry(contact, 0), [], [], Trace() if traced else None)
    return fn(ctx), (ctx.trace.missing if traced else None)


T, F, U = True, False, None


@pytest.mark.parametrize("a, b, and_, or_", [
    (T, T, T, T), (T, F, F, T), (T, U, U, T),
    (F, T, F, T), (F, F, F, F), (F, U, F, U),
    (U, T, U, T), (U, F, F, U), (U, U, U, U),
])
def test_kleene_truth_tables(a, b, and_, or_):
    facts = {k: v for k, v in (("dialogue", a), ("documented", b)) if v is not None}
    assert run("dialogue and documented", **facts)[0] is and_
    assert run("dialogue or documented", **facts)[0] is or_
    assert run("not dialogue", **facts)[0] is (None if a is None else not a)
    # the traced program gives the same answers
    assert run("dialogue and documented", traced=True, **facts)[0] is and_


def test_is_known_and_missing_are_never_unknown():
    assert run("dialogue is known")[0] is False
    assert run("dialogue is missing")[0] is True
    assert run("dialogue is known", dialogue=False)[0] is True


def test_comparisons_and_membership_with_unknowns():
    assert run('channel = "video"')[0] is None
    assert run('channel in ["video", "phone"]', channel="phone")[0] is True
    assert run('channel not in ["video", "phone"]', channel="phone")[0] is False
    assert run('kva contains "ZV051"')[0] is None
    assert run('kva contains "ZV051"', kva=["ZV051"])[0] is True
    assert run("diagnoses is empty", diagnoses=[])[0] is True
    assert run("duration_minutes * 2 + 1 > 10", duration_minutes=5)[0] is True


def test_dates_in_conditions():
    assert run("date - 12 months = 2024-03-05")[0] is True
    assert run("iso_week(date) = 10 and weekday(date) = 3 and month_of(date) = 3")[0] is True
    assert run("date + 2 weeks > 2025-03-18")[0] is True


def test_missing_names_only_what_left_the_result_unknown():
    # documented is false, so 'dialogue' (missing) cannot matter to the and: result false, no missing
    result, missing = run("dialogue and documented", traced=True, documented=False)
    assert result is False and missing == []
    # (booked or dialogue) and documented: booked true decides the or; documented missing
    result, missing = run("(booked or dialogue) and documented", traced=True, booked=True)
    assert result is None and missing == ["documented"]
    result, missing = run("(booked or dialogue) and documented", traced=True)
    assert result is None and missing == ["booked", "dialogue", "documented"]


@pytest.mark.parametrize("op, a, b, expected", [
    (">=", CountRange(2, 4), 2, True), (">=", CountRange(1, 4), 2, None), (">=", CountRange(0, 1), 2, False),
    ("<", CountRange(0, 1), 2, True), ("=", CountRange(1, 3), 5, False), ("=", CountRange(1, 3), 2, None),
    ("!=", CountRange(1, 3), 5, True), (">", 3, CountRange(1, 2), True),
])
def test_count_ranges_compare_only_when_every_possibility_agrees(op, a, b, expected):
    assert range_compare(op, a, b) is expected


def test_arithmetic_on_uncertain_counts_keeps_the_range():
    from evaluator.language.values import range_arith

    r = range_arith("*", CountRange(1, 3), 2)
    assert (r.lo, r.hi) == (2, 6)
    r = range_arith("-", 10, CountRange(1, 3))
    assert (r.lo, r.hi) == (7, 9)
    r = range_arith("+", CountRange(0, 2), CountRange(1, 1))
    assert (r.lo, r.hi) == (1, 3)
    r = range_arith("*", CountRange(-1, 2), CountRange(-3, 1))
    assert (r.lo, r.hi) == (-6, 3)
    # decided when every possibility agrees, as documented
    assert range_compare(">=", range_arith("*", CountRange(2, 5), 2), 3) is True
    assert range_compare(">=", range_arith("*", CountRange(1, 5), 2), 3) is None


def test_a_trace_lists_each_history_contact_once_whatever_it_started_with():
    a, b = object(), object()  # (entries compare by identity)
    trace = Trace(evidence=[a])
    for entry in (a, b, a, b):
        trace.use(entry)
    assert trace.evidence == [a, b]


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("earlier, same", [
    (date(2024, 12, 30), True),   # Monday of ISO week 2025-W01
    (date(2024, 12, 29), False),  # the Sunday before: 2024-W52
    (date(2025, 1, 4), True),     # Saturday, the same week
    (date(2025, 12, 29), False),  # a Monday a year on: 2026-W01
    (date(2020, 12, 31), False),  # 2020-W53, a week of another year
])
def test_same_iso_week_is_monday_to_sunday_across_a_new_year(earlier, same, traced):
    node = parse_condition("count of earlier contacts where (same iso week) >= 1")
    _, problems = check_condition(node, NAMES, allow_history=True)
    assert not problems, problems
    fn = compile_condition(node, {}, traced=traced)
    before = Entry({"id": "e", "date": earlier, "unit": "u1"}, 0)
    cur = Entry({"id": "c", "date": date(2025, 1, 5), "unit": "u1"}, 1)  # Sunday of 2025-W01
    ctx = Context(cur, [before], [before.ordinal], Trace() if traced else None)
    assert fn(ctx) is same
    assert (earlier.isocalendar()[:2] == (2025, 1)) is same  # (what the reference compares)


@pytest.mark.parametrize("earlier, cur, same", [
    (date(2025, 1, 5), date(2025, 1, 6), False),    # Sunday, then the Monday after: two weeks
    (date(2024, 12, 30), date(2025, 1, 5), True),   # Monday to Sunday of 2025-W01
    (date(2020, 12, 31), date(2021, 1, 3), True),   # 2020-W53 runs into January
    (date(2021, 1, 3), date(2021, 1, 4), False),
])
def test_same_iso_week_decided_by_the_condition_itself(earlier, cur, same):
    """Under `or` the count cannot skip to the week's Monday first: the condition alone says
    whether two contacts share a week."""
    node = parse_condition('count of earlier contacts where (same iso week or unit = "zz") >= 1')
    _, problems = check_condition(node, NAMES, allow_history=True)
    assert not problems, problems
    for traced in (False, True):
        fn = compile_condition(node, {}, traced=traced)
        before = Entry({"id": "e", "date": earlier, "unit": "u1"}, 0)
        now = Entry({"id": "c", "date": cur, "unit": "u1"}, 1)
        ctx = Context(now, [before], [before.ordinal], Trace() if traced else None)
        assert fn(ctx) is same
        assert (earlier.isocalendar()[:2] == cur.isocalendar()[:2]) is same
