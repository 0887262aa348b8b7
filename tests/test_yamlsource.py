"""YAML is composed with libyaml where PyYAML has it: the same nodes and positions as PyYAML's
own parser, which the error messages' file:line:col rest on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from evaluator.loading import yamlsource

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for folder in ("policies", "tests/fixtures") for p in (ROOT / folder).rglob("*.yaml"))


def _shape(node) -> tuple:
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return node.tag, marks, node.value, node.style or None  # libyaml says "" for plain
    if isinstance(node, yaml.SequenceNode):
        return node.tag, marks, [_shape(n) for n in node.value]
    return node.tag, marks, [(_shape(k), _shape(v)) for k, v in node.value]


def _compose(loader, text: str):
    composer = loader(text)
    try:
        return composer.get_single_node()
    finally:
        composer.dispose()


def test_libyaml_is_used_where_pyyaml_has_it():
    assert yamlsource._Composer is (yaml.CSafeLoader if yaml.__with_libyaml__ else yamlsource._Loader)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml: one parser only")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_both_parsers_give_the_same_nodes_and_positions(path):
    text = path.read_text(encoding="utf-8")
    expected = _compose(yamlsource._Loader, text)
    found = _compose(yaml.CSafeLoader, text)
    assert (expected is None) == (found is None)
    if expected is not None:
        assert _shape(found) == _shape(expected)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml: one parser only")
@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2\nc: 3\n",
    "id: x\n  bad: indentation\n",
    "rules:\n  - id: r1\n    when: >\n      region = \"v\u00e5rd\"\n  - id: r2\n   when: x\n",
    "key: \"unterminated\n",
])
def test_both_parsers_place_a_syntax_error_alike(text):
    marks = []
    for loader in (yamlsource._Loader, yaml.CSafeLoader):
        with pytest.raises(yaml.MarkedYAMLError) as caught:
            _compose(loader, text)
        mark = caught.value.problem_mark or caught.value.context_mark
        marks.append((mark.line, mark.column))
    assert marks[0] == marks[1]


def test_aliases_repeat_their_anchors_value_but_cannot_multiply_without_bound():
    doc, problems = yamlsource.parse_yaml("base: &b {channel: written, dialogue: true}\nother: *b\n", "t.yaml")
    assert problems == [] and doc.value["other"] == doc.value["base"] == {"channel": "written", "dialogue": True}
    # ten lines that would stand for 10^9 values: refused at once, with the place
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)] + ["rules: *a8"]
    doc, problems = yamlsource.parse_yaml("\n".join(bomb) + "\n", "bomb.yaml")
    assert doc is None and [p.code for p in problems] == ["yaml_size"]
    assert problems[0].location.file == "bomb.yaml" and problems[0].location.line == 1
    assert "expand to more than" in problems[0].message


def test_a_history_shared_by_many_test_cases_is_plain_anchor_use():
    # 60 contacts written once, then given to 200 cases: expands to far more values than the
    # file has characters, and is what anchors are for.
    history = "\n".join(f"      - {{id: h{i}, date: 2025-01-{i % 28 + 1:02d}, channel: written, dialogue: true}}"
                        for i in range(60))
    cases = [f"  - name: case 0\n    history: &h\n{history}\n    contact: {{id: c0}}"]
    cases += [f"  - name: case {n}\n    history: *h\n    contact: {{id: c{n}}}" for n in range(1, 200)]
    text = "cases:\n" + "\n".join(cases) + "\n"
    doc, problems = yamlsource.parse_yaml(text, "shared.test.yaml")
    assert problems == [] and len(doc.value["cases"]) == 200
    assert all(len(case["history"]) == 60 for case in doc.value["cases"])
    assert sum(len(case["history"]) * 5 for case in doc.value["cases"]) > len(text)


def test_a_key_must_be_a_plain_value():
    doc, problems = yamlsource.parse_yaml("? [a, b]\n: 1\nok: 2\n", "k.yaml")
    assert doc.value == {"ok": 2}
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", 1, 3)]


def test_a_date_the_calendar_does_not_have_is_a_problem_with_its_place_not_a_crash():
    doc, problems = yamlsource.parse_yaml("id: x\nvalid_to: 2027-02-30\n", "d.yaml")
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", 2, 11)]
    assert problems[0].message.startswith("2027-02-30 is not a real date")
    assert doc.value["valid_to"] == "2027-02-30"  # kept as text, so the rest is still checked


@pytest.mark.parametrize("text, words", [
    ("message:\n  sv: redan ersatt: {evidence}\n", "must be in quotes or written on the next lines after >-"),
    ("message:\n  sv: {max} kontakter\n", "indented differently from the keys around it"),
    ("rules:\n  - id: x\n   when: y\n", "indented differently from the list items around it"),
    ("a:\n\tb: 1\n", "indent with spaces, not tabs"),
])
def test_a_yaml_syntax_error_says_what_it_usually_means_in_a_policy(text, words):
    _, problems = yamlsource.parse_yaml(text, "h.yaml")
    (problem,) = problems
    assert problem.code == "yaml_syntax" and words in problem.hint


@pytest.mark.parametrize("text, line, column, words", [
    # a quote left open swallows the line break; the parser stumbles on the next line
    ('rules:\n  - id: r1\n    when: "profession = \\"dietist\\"\n    then: {kva: ["DV001"]}\n', 3, 11,
     "the quote opened here is not closed on its line, so the text runs on to line 4"),
    # a quote left open to the end of the file
    ("id: x\ntitle: 'Vårdval\nregion: vgr\n", 2, 8, "the quote opened here is never closed"),
    # a bracket left open: said at the bracket, not at the next key
    ("rules:\n  - id: r1\n    then: {kva: [\"DV001\"]\n    severity: info\n", 3, 11,
     "the '{' opened here is not closed: a '}' is missing"),
    ("a: 1\nb: [1, 2\nc: 3\n", 2, 4, "the '[' opened here is not closed: a ']' is missing"),
])
def test_an_unclosed_quote_or_bracket_is_said_where_it_opens(text, line, column, words):
    _, problems = yamlsource.parse_yaml(text, "q.yaml")
    (problem,) = problems
    assert problem.code == "yaml_syntax"
    assert (problem.location.line, problem.location.column) == (line, column)
    assert words in problem.message
    assert problem.source_line == text.splitlines()[line - 1]


def test_a_key_without_its_colon_is_said_on_its_own_line():
    text = "rules:\n  - id: r1\n    reading ISO week.\n    when: >-\n      dialogue\n"
    _, problems = yamlsource.parse_yaml(text, "c.yaml")
    (problem,) = problems
    assert (problem.code, problem.location.line, problem.location.column) == ("yaml_syntax", 3, 5)
    assert problem.message == "YAML syntax: this line has no ':' after its key"
    assert problem.source_line == "    reading ISO week."


def test_a_second_document_in_a_file_is_said_in_words():
    _, problems = yamlsource.parse_yaml("id: x\nversion: \"1.0\"\n---\nid: other\n", "m.yaml")
    (problem,) = problems
    assert (problem.code, problem.location.line, problem.location.column) == ("yaml_syntax", 3, 1)
    assert problem.message == ("YAML syntax: a second document starts here (a line '---' after the first): "
                               "a file holds one document")
    assert problem.hint == "remove the '---' line, or move what follows it to a file of its own"


@pytest.mark.parametrize("written, message, hint", [
    ("012", "012 is read as the number 10: a whole number with a 0 in front is read in base 8",
     'write 12 for the number, or in quotes for the text: "012"'),
    ("08", "08 is read as text, but as the number 8 by the editors and tools that follow YAML 1.2",
     'write 8 for the number, or in quotes for the text: "08"'),
    ("17:30", "17:30 is read as the number 1050: YAML counts the parts between the colons in sixties",
     'write it in quotes: "17:30"'),
    ("1:20:30", "1:20:30 is read as the number 4830", 'write it in quotes: "1:20:30"'),
    ("1:30.5", "1:30.5 is read as the number 90.5", 'write it in quotes: "1:30.5"'),
    ("0x1A", "0x1A is read as the number 26, written in base 16", 'write 26 for the number, or in quotes for the text: "0x1A"'),
    ("0o17", "0o17 is read as text, but as the number 15", 'write 15 for the number, or in quotes for the text: "0o17"'),
    ("0b101", "0b101 is read as the number 5, written in base 2", 'write 5 for the number'),
    ("1_000", "1_000 is read as the number 1000: YAML leaves out the _", 'write 1000 for the number'),
    ("1e3", "1e3 is read as text, but as the number 1000", 'write 1000 for the number, or in quotes for the text: "1e3"'),
    ("1.0e+3", "1.0e+3 is read as the number 1000, written with an exponent", "write 1000 for the number"),
])
def test_a_number_in_a_form_other_than_plain_digits_is_refused_at_its_place(written, message, hint):
    # YAML 1.1 would read 012 as 10 and 17:30 as 1050, and YAML 1.2 (editors) reads them
    # otherwise: never taken silently, always said at the value with how to write it
    text = f"id: x\nparameters:\n  closing: {written}\n"
    doc, problems = yamlsource.parse_yaml(text, "n.yaml")
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", 3, 12)]
    assert problems[0].message.startswith(message) and hint in problems[0].hint
    assert doc.value["parameters"]["closing"] == written  # kept as written: the schema says no more
    assert ("parameters", "closing") in doc.unreadable


@pytest.mark.parametrize("written, value", [
    ("12", 12), ("+12", 12), ("-3", -3), ("0", 0), ("2.5", 2.5), (".5", 0.5), ("012.5", 12.5),
    ('"012"', "012"), ('"17:30"', "17:30"), ("'0x1A'", "0x1A"), ("!!str 012", "012"),
    ("08:15", "08:15"), ("2026-07-01", date(2026, 7, 1)), ("ZV051", "ZV051"), ("1" * 30, int("1" * 30)),
])
def test_plain_numbers_and_quoted_text_read_as_written(written, value):
    doc, problems = yamlsource.parse_yaml(f"v: {written}\n", "n.yaml")
    assert problems == [] and doc.value["v"] == value


def test_a_time_in_a_test_contact_unquoted_is_an_error_at_its_place_not_a_number():
    text = "cases:\n  - name: x\n    contact: {id: c1, date: 2026-03-02, time: 10:30}\n"
    _, problems = yamlsource.parse_yaml(text, "t.test.yaml")
    assert [(p.location.line, p.location.column) for p in problems] == [(3, 47)]
    assert problems[0].hint == 'write it in quotes: "10:30"'


@pytest.mark.parametrize("text, line, column, words", [
    ("rules:\n  - id: r1\n\u00a0   severity: info\n    message: x\n", 3, 1, "a non-breaking space (U+00A0)"),
    ("channel: video\u00a0\n", 1, 15, "a non-breaking space (U+00A0)"),
    ("id: x\nb: \u200bfoo\n", 2, 4, "a zero-width space (U+200B)"),
    ("id: x\n\ufeffb: 1\n", 2, 1, "an invisible byte order mark (U+FEFF)"),
    ("a: [x,\u00a0y]\n", 1, 7, "a non-breaking space (U+00A0)"),
    ("max:\u00a03\n", 1, 5, "a non-breaking space (U+00A0)"),
    ("ma\u200bx: 3\n", 1, 3, "a zero-width space (U+200B)"),
    ("a: one\n  \u00a0two\n", 2, 3, "a non-breaking space (U+00A0)"),
])
def test_an_invisible_character_outside_quotes_is_named_at_its_own_place(text, line, column, words):
    _, problems = yamlsource.parse_yaml(text, "i.yaml")
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", line, column)]
    assert problems[0].message.startswith(f"{words} stands here, where it cannot be seen")
    assert "type an ordinary space" in problems[0].hint


@pytest.mark.parametrize("text", [
    'sv: "3\u00a0kontakter"\n', "sv: >-\n  3\u00a0kontakter\n", "a: 1  # a\u00a0comment\n", "\ufeffid: x\n",
    "sv: 3\u00a0kontakter\n", "sv: En video\u00adkontakt\n",  # between the words of unquoted text: meant
])
def test_an_invisible_character_in_quotes_block_text_or_a_comment_is_kept(text):
    doc, problems = yamlsource.parse_yaml(text, "i.yaml")
    assert problems == [] and doc is not None


def test_texts_are_read_in_nfc_while_the_hash_is_of_the_file_as_written():
    import unicodedata

    from evaluator.loading.yamlsource import parse_yaml, text_hash

    text = unicodedata.normalize("NFD", "sjuksk\u00f6terska: [l\u00e4kare, 'v\u00e5rd']\n"
                                 "when: yrke = \"sjuksk\u00f6terska\" or yrke = \"l\u00e4kare\" or v\u00e5rd and x\n")
    doc, problems = parse_yaml(text, "f.yaml")
    assert problems == []
    assert doc.value == {"sjuksk\u00f6terska": ["l\u00e4kare", "v\u00e5rd"],
                         "when": 'yrke = "sjuksk\u00f6terska" or yrke = "l\u00e4kare" or v\u00e5rd and x'}
    assert doc.text == text and text_hash(doc.text) != text_hash(unicodedata.normalize("NFC", text))
    # a place in the condition, counted in the text as read (NFC), is found in the file as written
    offset = doc.value["when"].index(" x") + 1
    location = doc.offset_location(("when",), offset)
    assert doc.line_text(location.line)[location.column - 1:] == "x"
