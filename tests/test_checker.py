"""Type checking and load errors: what is wrong, where in the file, and what was meant."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from evaluator.loading.repository import load_policy_set

POLICY = """\
id: t-policy
version: "1.0"
title: T
issuer: T
region: t
valid_from: 2025-01-01
source:
  title: T
applies_when: channel = "written"
parameters:
  cap: 2
  codes: ["A1", "B2"]
rules:
  - id: r1
    section: S
    passage: P
    when: {when}
    then: {{reimbursable: false}}
    severity: info
    message: {{sv: "x", en: "y"}}
"""


def write_policy(root: Path, text: str, place="t/t-policy/1.0.yaml") -> Path:
    shutil.copy(Path(__file__).parent / "fixtures/policies/outputs.yaml", root / "outputs.yaml")
    path = root / place
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_for(tmp_path, when: str):
    write_policy(tmp_path, POLICY.format(when=when))
    policy_set, problems = load_policy_set(tmp_path)
    return policy_set, problems


@pytest.mark.parametrize("when, message, hint, column", [
    ('chanel = "written"', "'chanel' is neither a field of the contact nor a parameter", "did you mean 'channel'?", 11),
    ('channel = "writen"', '"writen" is not a possible value', 'did you mean "written"?', 21),
    ("count of earlier contacts where (same unit) >= capp", "'capp' is neither", "did you mean 'cap'?", 58),
    ("dialogue = 3", "cannot compare yes/no with whole number", None, 11),
    ('date > "2025-01-01"', "cannot compare date with text", None, 11),
    ("duration_minutes + dialogue > 1", "cannot compute whole number + yes/no", None, 11),
    ("same unit", "can only stand inside a history count", None, 11),
    ("was reimbursable", "can only stand inside a history count", None, 11),
    ("count of earlier contacts where (was reimbursible) > 1", "there is no output 'reimbursible'", "did you mean 'reimbursable'?", 44),
    ("count of earlier contacts", "a condition must be yes/no", None, 11),
    ("kva contains 3", "a list of texts cannot contain a whole number", None, 24),
    ('channel in "video"', "'in' needs a list after it", None, 22),
    ("reimbursable", "is an output, not a fact", "an earlier contact's output is written 'was reimbursable'", 11),
    ("isoweek(date) = 1", "there is no function 'isoweek'", "did you mean 'iso_week'?", 11),
    ("within 3 days", "can only stand inside a history count", None, 11),
    ("count of earlier contacts where (count of earlier contacts > 1) > 1", "cannot stand inside another one", None, 44),
    ("dialogue < true", "'<' compares numbers, dates and times", None, 11),
    ("codes contains 1", "a list of texts cannot contain a whole number", None, 26),
    ("duration_minutes > codes", "cannot compare whole number with list of texts",
     "'codes' is a parameter of type list of texts: check its value under parameters", 11),
    ('region = vgr', "'vgr' is neither a field", 'if it is a value, write it in quotes: "vgr"', 20),
    ("inte (dialogue)", "there is no function 'inte'", "write 'not': conditions use English words", 11),
])
def test_type_errors_name_place_and_suggestion(tmp_path, when, message, hint, column):
    policy_set, problems = problems_for(tmp_path, when)
    assert policy_set is None
    matching = [p for p in problems if message in p.message]
    assert matching, [p.render() for p in problems]
    p = matching[0]
    assert p.location.file.endswith("t/t-policy/1.0.yaml")
    assert p.location.line == 17
    assert p.location.column == column
    if hint:
        assert p.hint == hint
    assert "^" in p.render() and p.source_line.startswith("    when:")


@pytest.mark.parametrize("window", ["current.duration_minutes days", "(duration_minutes + 0) days",
                                    "-current.duration_minutes weeks"])
def test_a_windows_length_cannot_come_from_a_contact(tmp_path, window):
    # (where the contact lacked the fact, the window would have no length: nothing to count)
    policy_set, problems = problems_for(tmp_path, f"count of earlier contacts where (within {window}) >= 1")
    assert policy_set is None
    assert any("a duration's length is a number or a parameter, not a contact field" in p.message
               for p in problems), [p.render() for p in problems]


@pytest.mark.parametrize("window", ["3 days", "cap months", "(cap + 1) weeks", "(cap - 1) days"])
def test_a_windows_length_may_be_a_number_a_parameter_or_arithmetic_on_them(tmp_path, window):
    policy_set, problems = problems_for(tmp_path, f"count of earlier contacts where (within {window}) >= 1")
    assert not problems, [p.render() for p in problems]


def test_position_inside_folded_block(tmp_path):
    text = POLICY.format(when=">-\n      dialogue and documented\n        and chanel = \"x\"")
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    p = next(p for p in problems if "'chanel'" in p.message)
    assert (p.location.line, p.location.column) == (19, 13)
    assert p.source_line.strip() == 'and chanel = "x"'


def test_syntax_error_located_in_file(tmp_path):
    _, problems = problems_for(tmp_path, '"dialogue and (documented"')
    p = next(p for p in problems if p.code == "dsl_syntax")
    assert p.message == "a parenthesis is opened but never closed"
    assert p.location.line == 17


def test_every_invalid_document_is_reported(tmp_path):
    write_policy(tmp_path, POLICY.format(when="chanel = 1"))
    bad2 = POLICY.format(when="dialogue").replace("t-policy", "u-policy").replace('  title: T\n', '  title: T\n  colour: red\n')
    write_policy(tmp_path, bad2, "t/u-policy/1.0.yaml")
    write_policy(tmp_path, "id: [unclosed\n", "t/v-policy/1.0.yaml")
    _, problems = load_policy_set(tmp_path)
    files = {p.location.file.split("/")[-2] for p in problems}
    assert files >= {"t-policy", "u-policy", "v-policy"}
    colour = next(p for p in problems if "colour" in p.message)
    assert colour.location.line == 9 and colour.code == "schema"


def test_duplicate_yaml_keys_are_errors(tmp_path):
    text = POLICY.format(when="dialogue").replace("parameters:\n  cap: 2", "parameters:\n  cap: 2\n  cap: 3")
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    dup = [p for p in problems if p.code == "duplicate_key"]
    assert dup and "'cap' appears twice" in dup[0].message and dup[0].location.line == 12


def test_file_place_must_match_id_and_version(tmp_path):
    write_policy(tmp_path, POLICY.format(when="dialogue"), "t/other-name/2.0.yaml")
    _, problems = load_policy_set(tmp_path)
    msgs = [p.message for p in problems if p.code == "place"]
    assert "the file's id is 't-policy' but its place says 'other-name'" in msgs
    assert "the file's version is '1.0' but its place says '2.0'" in msgs


def test_overlapping_versions_rejected_and_gaps_reported(tmp_path):
    v1 = POLICY.format(when="dialogue").replace("valid_from: 2025-01-01", "valid_from: 2025-01-01\nvalid_to: 2025-06-30")
    v2 = v1.replace('version: "1.0"', 'version: "2.0"').replace("valid_from: 2025-01-01\nvalid_to: 2025-06-30", "valid_from: 2025-06-30")
    write_policy(tmp_path, v1)
    write_policy(tmp_path, v2, "t/t-policy/2.0.yaml")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is None
    assert any(p.code == "overlap" and "both in force on 2025-06-30" in p.message for p in problems)
    (tmp_path / "t/t-policy/2.0.yaml").write_text(v2.replace("valid_from: 2025-06-30", "valid_from: 2025-08-01"))
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is not None
    gap = [p for p in problems if p.code == "gap"]
    assert gap and gap[0].severity == "warning" and "2025-07-01 to 2025-07-31" in gap[0].message


def test_overlap_gap_and_order_are_said_at_the_key_of_the_later_version(tmp_path):
    v1 = POLICY.format(when="dialogue").replace("valid_from: 2025-01-01", "valid_from: 2025-01-01\nvalid_to: 2025-06-30")
    v2 = v1.replace('version: "1.0"', 'version: "2.0"').replace("valid_from: 2025-01-01\nvalid_to: 2025-06-30",
                                                              "valid_from: 2025-06-30")
    write_policy(tmp_path, v1)
    later = write_policy(tmp_path, v2, "t/t-policy/2.0.yaml")
    _, problems = load_policy_set(tmp_path)
    (overlap,) = [p for p in problems if p.code == "overlap"]
    assert (overlap.location.file.endswith("t/t-policy/2.0.yaml"), overlap.location.line, overlap.location.column) == (True, 6, 1)
    assert overlap.source_line == "valid_from: 2025-06-30"
    assert overlap.hint.startswith("end version 1.0 on 2025-06-29: its valid_to is at ")
    assert overlap.hint.endswith("t/t-policy/1.0.yaml:7:1")

    later.write_text(v2.replace("valid_from: 2025-06-30", "valid_from: 2025-08-01"))
    _, problems = load_policy_set(tmp_path)
    (gap,) = [p for p in problems if p.code == "gap"]
    assert (gap.location.line, gap.location.column, gap.source_line) == (6, 1, "valid_from: 2025-08-01")
    assert gap.hint.startswith("if version 2.0 should follow on, start it on 2025-07-01, or end version 1.0 on "
                               "2025-07-31: its valid_to is at ")
    assert gap.hint.endswith("t/t-policy/1.0.yaml:7:1")

    later.unlink()
    write_policy(tmp_path, v2.replace('version: "2.0"', 'version: "0.5"').replace("valid_from: 2025-06-30", "valid_from: 2025-08-01"),
                 "t/t-policy/0.5.yaml")
    _, problems = load_policy_set(tmp_path)
    (order,) = [p for p in problems if p.code == "version_order"]
    assert order.location.file.endswith("t/t-policy/0.5.yaml")
    assert (order.location.line, order.location.column, order.source_line) == (2, 1, 'version: "0.5"')


def test_the_same_version_number_written_twice_is_one_duplicate(tmp_path):
    v1 = POLICY.format(when="dialogue")
    write_policy(tmp_path, v1)
    write_policy(tmp_path, v1.replace('version: "1.0"', 'version: "1.00"'), "t/t-policy/1.00.yaml")
    _, problems = load_policy_set(tmp_path)
    assert [p.code for p in problems] == ["duplicate_version"]
    (dup,) = problems
    assert dup.location.file.endswith("t/t-policy/1.00.yaml")
    assert (dup.location.line, dup.location.column) == (2, 1)
    assert dup.message.startswith("t-policy version 1.00 is the same version as 1.0 (in ")


def test_unknown_keys_and_outputs_and_placeholders(tmp_path):
    text = POLICY.format(when="dialogue").replace("then: {reimbursable: false}", "then: {reimbursible: false}")
    text = text.replace('message: {sv: "x", en: "y"}', 'message: {sv: "{cpa}", en: "y"}\n    sevrity: info')
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    by_code = {p.code: p for p in problems}
    assert by_code["schema"].hint == "did you mean 'severity'?"


def test_bad_output_and_placeholder(tmp_path):
    text = POLICY.format(when="dialogue").replace("then: {reimbursable: false}", "then: {reimbursible: false, contact_type: \"x\"}")
    text = text.replace('message: {sv: "x", en: "y"}', 'message: {sv: "{cpa}", en: "y"}')
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    by_code = {p.code: p for p in problems}
    assert by_code["unknown_output"].hint == "did you mean 'reimbursable'?"
    assert "takes a whole number" in by_code["output_type"].message
    assert by_code["message_placeholder"].hint == "did you mean {cap}?"


def test_a_wrong_placeholder_is_said_at_its_brace_not_at_the_message(tmp_path):
    text = POLICY.format(when="dialogue").replace(
        'message: {sv: "x", en: "y"}',
        'message:\n      sv: "Högst {cap} per {patient}."\n      en: >-\n        At most {cap}\n        per week; see {evidnce}.')
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    found = sorted((p.location.line, p.location.column, p.source_line.strip(), p.hint)
                   for p in problems if p.code == "message_placeholder")
    assert found == [(21, 28, 'sv: "Högst {cap} per {patient}."', "leave it out; the decision names its contact by id"),
                     (24, 23, "per week; see {evidnce}.", "did you mean {evidence}?")]


@pytest.mark.parametrize("written, why", [
    ("valid_from: 2025-02-30", "February 2025 has 28 days"),
    ("valid_from: 2025-13-01", "there is no month 13"),
])
def test_a_date_the_calendar_lacks_is_one_error_at_the_date(tmp_path, written, why):
    write_policy(tmp_path, POLICY.format(when="dialogue").replace("valid_from: 2025-01-01", written))
    _, problems = load_policy_set(tmp_path)
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", 6, 13)]
    assert problems[0].message == f"{written.split()[1]} is not a real date: {why}"


@pytest.mark.parametrize("rule_id, message", [
    ('""', "rule 1, id is empty"),
    ("One_per_week", "rule 1 (One_per_week), id: 'One_per_week' is not in the expected form"),
])
def test_a_rule_id_in_the_wrong_form_says_the_form_in_words(tmp_path, rule_id, message):
    write_policy(tmp_path, POLICY.format(when="dialogue").replace("  - id: r1", f"  - id: {rule_id}"))
    _, problems = load_policy_set(tmp_path)
    (problem,) = problems
    assert (problem.code, problem.message, problem.location.line) == ("schema", message, 14)
    assert problem.hint == ("an id is written in lower-case letters a-z, digits and -, "
                            "starting with a letter or a digit, as one-per-week")


def test_history_not_allowed_in_applies_when(tmp_path):
    text = POLICY.format(when="dialogue").replace('applies_when: channel = "written"', "applies_when: any earlier contact")
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    assert any(p.code == "history_not_allowed" and p.location.line == 9 for p in problems)


def test_parameter_may_not_shadow_a_field(tmp_path):
    text = POLICY.format(when="dialogue").replace("  cap: 2", "  channel: 2")
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    assert any("has the name of a contact field" in p.message for p in problems)


def test_yaml_syntax_error_has_position(tmp_path):
    write_policy(tmp_path, textwrap.dedent("""\
        id: t-policy
        rules: [
          a: b
        """))
    _, problems = load_policy_set(tmp_path)
    assert problems[0].code == "yaml_syntax" and problems[0].location.line >= 2


def test_effect_may_take_a_parameter_and_names_a_missing_one(tmp_path):
    text = POLICY.format(when="dialogue").replace("then: {reimbursable: false}", "then: {kva: {parameter: codez}}")
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    p = next(p for p in problems if "no parameter 'codez'" in p.message)
    assert p.hint == "did you mean 'codes'?" and p.location.line == 18
    (tmp_path / "t/t-policy/1.0.yaml").write_text(text.replace("codez", "codes"))
    policy_set, problems = load_policy_set(tmp_path)
    rule = policy_set.policies["t-policy"].latest.rules[0]
    assert rule.then == {"kva": ["A1", "B2"]}


def test_a_broken_outputs_file_is_reported_alone_not_buried(tmp_path):
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    (tmp_path / "outputs.yaml").write_text("outputs: [\n", encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is None
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.code, p.location.file.split("/")[-1]) for p in errors] == [("yaml_syntax", "outputs.yaml")]
    assert [p.message for p in problems if p.severity == "warning"] == [
        "the policy files are checked once outputs.yaml and the facts load"]


def test_a_file_that_is_not_utf8_is_placed_at_its_bad_byte(tmp_path):
    path = write_policy(tmp_path, POLICY.format(when="dialogue"))
    path.write_bytes(path.read_bytes().replace(b"section: S", b"section: S\xe4"))
    _, problems = load_policy_set(tmp_path)
    (problem,) = problems
    assert problem.message == "the file is not UTF-8 text: byte 0xe4 cannot be read"
    assert (problem.location.line, problem.location.column) == (15, 15)
    assert problem.source_line == "    section: S\ufffd"


def test_yml_files_are_not_read_silently(tmp_path):
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    write_policy(tmp_path, POLICY.format(when="dialogue").replace('"1.0"', '"2.0"'), "t/t-policy/2.0.yml")
    _, problems = load_policy_set(tmp_path)
    (problem,) = problems
    assert problem.location.file.endswith("2.0.yml") and "end in .yaml" in problem.message
    assert problem.hint == "rename it to 2.0.yaml"


TEST_CASES = "policy: t-policy\ncases:\n  - name: x\n    contact: {id: c1}\n    expect: {status: decided}\n"


@pytest.mark.parametrize("name, renamed", [
    ("v2_test.yaml", "v2.test.yaml"), ("v2-test.yaml", "v2.test.yaml"), ("test_v2.yaml", "v2.test.yaml"),
    ("Test-v2.yaml", "v2.test.yaml"), ("cases.yaml", "cases.test.yaml"), ("v2_test.yml", "v2.test.yaml"),
])
def test_a_test_file_named_as_other_tools_name_theirs_gets_one_plain_error(tmp_path, name, renamed):
    # v2_test.yaml was read as a policy: ten errors of keys it lacks, none saying what is wrong.
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    (tmp_path / "t/t-policy" / name).write_text(TEST_CASES, encoding="utf-8")
    _, problems = load_policy_set(tmp_path)
    assert [(p.code, p.location.file.split("/")[-1], p.location.line, p.hint) for p in problems] == [
        ("place", name, 1, f"rename it to {renamed}")]
    if not name.endswith(".yml"):
        assert problems[0].message == "this file is not read: test files are named NAME.test.yaml"


@pytest.mark.parametrize("text, kind", [("- a\n", "a list"), ("just words\n", "a text"), ("3\n", "a single value")])
def test_a_file_that_is_not_a_mapping_says_what_it_holds(tmp_path, text, kind):
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    assert [p.message for p in problems] == [
        f"the file must hold a mapping of keys (for a policy: id, version, rules …), not {kind}"]


def test_schema_problems_name_the_place_as_a_person_counts_and_the_kind_in_words(tmp_path):
    text = POLICY.format(when="dialogue").replace('version: "1.0"', "version: 1.0").replace(
        'message: {{sv: "x", en: "y"}}'.replace("{{", "{").replace("}}", "}"), 'message: {sv: "x", english: "y"}')
    write_policy(tmp_path, text)
    _, problems = load_policy_set(tmp_path)
    messages = {p.message: p.hint for p in problems}
    assert messages["version must be text, not the number 1.0"] == 'write it in quotes: "1.0"'
    assert "rule 1 (r1), message lacks the key 'en'" in messages
    assert "rule 1 (r1), message: 'english' is not one of its keys" in messages
    # the hint quotes the value as written, not as YAML read it (2.00, not 2.0)
    write_policy(tmp_path, POLICY.format(when="dialogue").replace('version: "1.0"', "version: 1.00"))
    _, problems = load_policy_set(tmp_path)
    assert {p.message: p.hint for p in problems}["version must be text, not the number 1.0"] == \
        'write it in quotes: "1.00"'


def test_a_copied_version_file_gets_one_error_not_its_follow_ons(tmp_path):
    first = write_policy(tmp_path, POLICY.format(when="dialogue"))
    shutil.copy(first, first.with_name("2.0.yaml"))  # copied, version and dates not yet changed
    _, problems = load_policy_set(tmp_path)
    assert [p.message for p in problems] == ["the file's version is '1.0' but its place says '2.0'"]


@pytest.mark.parametrize("when, line, column", [
    ('"channel = \\"written\\"\u00a0and dialogue"', 17, 33),         # in quotes: the condition says it
    ('>-\n      channel = "written"\n        and\u00a0dialogue', 19, 12),  # in block text, on its own line
])
def test_a_non_breaking_space_in_a_condition_is_named_at_its_own_place(tmp_path, when, line, column):
    write_policy(tmp_path, POLICY.format(when=when))
    _, problems = load_policy_set(tmp_path)
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("dsl_syntax", line, column)]
    assert problems[0].message == "a non-breaking space (U+00A0) cannot be used here"
    assert problems[0].source_line[column - 1] == "\u00a0"


def test_a_non_breaking_space_outside_quotes_is_said_at_its_own_line_not_the_next():
    # as indentation it made the line a key of its own, and YAML complained on the line after
    text = POLICY.format(when="dialogue").replace("    severity: info", "\u00a0   severity: info")
    from evaluator.loading.yamlsource import parse_yaml

    _, problems = parse_yaml(text, "p.yaml")
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("yaml_value", 19, 1)]
    assert problems[0].message.startswith("a non-breaking space (U+00A0) stands here")
    assert "type an ordinary space" in problems[0].hint


def test_a_date_with_a_one_digit_month_says_how_a_date_is_written(tmp_path):
    # 2026-7-1 is 2026 minus 7 minus 1: "cannot compare date with whole number" alone puzzled
    write_policy(tmp_path, POLICY.format(when="date >= 2026-7-1"))
    _, problems = load_policy_set(tmp_path)
    (problem,) = problems
    assert (problem.code, problem.message) == ("type_error", "cannot compare date with whole number")
    assert problem.hint.startswith("a date is written YYYY-MM-DD, with a two-digit month and day: 2026-07-01")
    write_policy(tmp_path, POLICY.format(when="date >= 2026 - 7"))
    _, problems = load_policy_set(tmp_path)
    assert problems[0].hint is None  # (no date there to guess)


@pytest.mark.parametrize("value, message, hint", [
    ("3.5", "parameters, cap must be a whole number, not the number 3.5",
     "the conditions count in whole numbers: write one, as 3 or 4"),
    ("[1, 2.5]", "parameters, cap: a list parameter holds texts or whole numbers, not the number 2.5", None),
    ("", "parameters, cap: a parameter is a whole number, text, yes/no (true or false), a date, a list of texts "
         "or of whole numbers, or written in full as {type, value, description}; not nothing", None),
])
def test_a_parameter_of_no_kind_is_told_what_it_is_and_what_is_accepted(tmp_path, value, message, hint):
    # 3.5 used to be told "a parameter is a value (a number, …)", though 3.5 is a number
    write_policy(tmp_path, POLICY.format(when="dialogue").replace("cap: 2", f"cap: {value}"))
    _, problems = load_policy_set(tmp_path)
    (problem,) = [p for p in problems if p.code == "schema"]
    assert (problem.message, problem.hint, problem.location.line) == (message, hint, 11)


def test_outputs_yaml_may_not_drop_an_output_of_the_contract(tmp_path):
    # contract §3: a decision's outputs always carry all six keys; a region's outputs.yaml that
    # leaves one out would give decisions that break its own decision schema.
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    path = tmp_path / "outputs.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  care_service:")
    end = text.index("  kva:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is None
    (problem,) = [p for p in problems if p.severity == "error"]
    line = text[:text.index("outputs:\n")].count("\n") + 1
    assert (problem.code, problem.location.line, problem.location.column) == ("outputs", line, 1)
    assert problem.message.startswith("outputs.yaml lacks the contract's output care_service:")


def test_outputs_yaml_may_not_change_the_kind_of_an_output_of_the_contract(tmp_path):
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    path = tmp_path / "outputs.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("type: whole number", "type: text"), encoding="utf-8")
    policy_set, problems = load_policy_set(tmp_path)
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.code == "outputs" and problem.source_line.strip() == "type: text"
    assert problem.message == "output 'contact_type' is a whole number in every decision (the contract), not a text"


def test_outputs_yaml_may_add_an_output_to_those_of_the_contract(tmp_path):
    write_policy(tmp_path, POLICY.format(when="dialogue"))
    with open(tmp_path / "outputs.yaml", "a", encoding="utf-8") as handle:
        handle.write("  interpreter_fee:\n    type: yes/no\n    combine: all\n")
    policy_set, problems = load_policy_set(tmp_path)
    assert policy_set is not None and "interpreter_fee" in policy_set.outputs


def test_the_contract_outputs_are_the_six_of_the_contract():
    from evaluator.loading.repository import contract_outputs

    assert contract_outputs() == {"reimbursable": "yes/no", "distance_contact": "yes/no", "patient_fee": "yes/no",
                                  "contact_type": "whole number", "care_service": "text", "kva": "list of texts"}
