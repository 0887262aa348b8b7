from datetime import date

import pytest

from evaluator.language import ast
from evaluator.language.parser import FRIENDLY_ERRORS, ConditionSyntaxError, parse_condition


def test_precedence_and_shapes():
    node = parse_condition('not a = 1 or b and c')
    assert isinstance(node, ast.Or)
    assert isinstance(node.left, ast.Not) and isinstance(node.left.operand, ast.Compare)
    assert isinstance(node.right, ast.And)


def test_literals_and_positions():
    node = parse_condition('date >= 2025-01-30 and channel in ["video", "phone"]')
    cmp, member = node.left, node.right
    assert cmp.right.value == date(2025, 1, 30)
    assert member.collection.items[1].value == "phone"
    assert member.offset == len('date >= 2025-01-30 and ')
    assert member.collection.items[1].offset == node.right.collection.offset + len('["video", ')


def test_arithmetic_and_durations():
    node = parse_condition("date - 12 months < date + 2 * n days")
    assert isinstance(node.left, ast.Arith) and node.left.op == "-"
    assert node.left.right.unit == "month"
    assert isinstance(node.right.right, ast.Duration) is False  # 2 * (n days)
    assert isinstance(node.right.right, ast.Arith) and node.right.right.op == "*"


def test_history_forms():
    node = parse_condition(
        'count of earlier contacts where (same unit and same iso week and was reimbursable '
        'and within 12 months and since latest (channel = "physical")) >= per_week')
    agg = node.left
    assert isinstance(agg, ast.Aggregate) and agg.kind == "count"
    kinds = {type(n) for n in ast.walk(agg.filter)}
    assert {ast.SameField, ast.SameIsoWeek, ast.Was, ast.Within, ast.SinceLatest} <= kinds
    assert parse_condition("any earlier contact").kind == "any"
    assert parse_condition('no earlier contacts where (channel = "physical")').kind == "none"
    assert isinstance(parse_condition("same month"), ast.SamePeriod)


def test_is_forms():
    assert parse_condition("kva is empty").negated is False
    assert parse_condition("kva is not empty").negated is True
    assert parse_condition("dialogue is known").negated is False
    assert parse_condition("dialogue is missing").negated is True
    assert parse_condition("dialogue is not known").negated is True


@pytest.mark.parametrize("message, example", [(m, e) for m, examples in FRIENDLY_ERRORS.items() for e in examples])
def test_friendly_syntax_errors(message, example):
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(example)
    assert err.value.message == message


@pytest.mark.parametrize("text, message, offset", [
    ("a && b", "write 'and' or 'or', not '&&' or '||'", 2),
    ('channel = "written', "a text is opened with a quote but not closed on the same line", 10),
    ("Channel = 1", "names and words are written in lower case", 0),
    ("date = 2025-02-30", "2025-02-30 is not a real date", 7),
    ("same week", "'same week' is ambiguous; write 'same iso week' (Monday to Sunday)", 0),
    ("", "the condition is empty", 0),
])
def test_lexical_errors(text, message, offset):
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text)
    assert err.value.message == message
    assert err.value.offset == offset


@pytest.mark.parametrize("text, offset", [
    ('profession = "dietist" and (dialogue or', len('profession = "dietist" and ')),
    ("(dialogue and (booked or documented)", 0),
    ('not (channel = "(" and (booked', len('not (channel = "(" and ')),
    ("count of earlier contacts where (same unit", len("count of earlier contacts where ")),
    ('channel in ["video", "phone"', len("channel in ")),
])
def test_an_unclosed_bracket_is_said_where_it_opens(text, offset):
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text)
    assert err.value.message in ("a parenthesis is opened but never closed",
                                 "a list is opened with '[' but never closed with ']'")
    assert err.value.offset == offset


@pytest.mark.parametrize("text, message", [
    ("dialogue och documented", "write 'and', not 'och': conditions use English words"),
    ("dialogue eller documented", "write 'or', not 'eller': conditions use English words"),
    ("inte dialogue", "write 'not', not 'inte': conditions use English words"),
    ("duration_minutes => 5", "write '>=' for 'at least', not '=>'"),
    ("channel <> \"video\"", "write '!=' for 'not equal', not '<>'"),
    ('channel in ("video", "phone")', 'a list is written in square brackets: channel in ["video", "phone"]'),
])
def test_slips_a_policy_author_makes_are_named(text, message):
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text)
    assert err.value.message == message


def test_every_node_knows_where_it_starts_and_ends():
    text = ('count of earlier contacts where (channel = "chat" and same iso week) >= max_per_week\n'
            '  and not (dialogue or current.unit in ["u1", "u2"])')
    tree = parse_condition(text)
    spans = {(type(n).__name__, text[n.offset:n.end]) for n in ast.walk(tree)}
    assert ("Aggregate", 'count of earlier contacts where (channel = "chat" and same iso week)') in spans
    assert ("Compare", 'channel = "chat"') in spans
    assert ("SameIsoWeek", "same iso week") in spans
    assert ("Member", 'current.unit in ["u1", "u2"]') in spans
    assert ("Not", 'not (dialogue or current.unit in ["u1", "u2"])') in spans
    assert ("And", text) in spans
    for node in ast.walk(tree):  # a child lies inside its parent
        assert 0 <= node.offset < node.end <= len(text)
        for child in ast.children(node):
            assert node.offset <= child.offset < child.end <= node.end


@pytest.mark.parametrize("ch, words", [
    ("\u00a0", "a non-breaking space (U+00A0)"),
    ("\u200b", "a zero-width space (U+200B)"),
    ("\ufeff", "an invisible byte order mark (U+FEFF)"),
    ("\u2009", "an invisible character (U+2009, thin space)"),
])
def test_an_invisible_character_is_named_in_words_at_its_place(ch, words):
    # pasted from Word or a PDF: the message used to read "the character ' ' cannot be used here"
    text = f'channel = "video"{ch}and dialogue'
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert caught.value.message == f"{words} cannot be used here"
    assert caught.value.offset == text.index(ch)
    assert "type an ordinary space" in caught.value.hint
