"""Hostile and malformed policy, outputs, test and settings files: a problem at file:line:column
in plain words, never a traceback, within the documented limits (issue 12)."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.language.parser import ConditionSyntaxError, parse_condition
from evaluator.limits import DEFAULTS, Limits, using
from evaluator.loading.yamlsource import parse_yaml

CODING = "testland/testland-coding/1.0.yaml"
WHEN = 'when: sob_activity = "administration"'


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def policies_with(tmp_path, fixture_policies, file=CODING, old=None, new=None, text=None):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    target = root / file
    if text is not None:
        target.write_text(text, encoding="utf-8")
    else:
        original = target.read_text(encoding="utf-8")
        assert old in original
        target.write_text(original.replace(old, new, 1), encoding="utf-8")
    return root


def problems_of(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    return result.output


def when(condition: str) -> str:
    return "when: '" + condition.replace("'", "''") + "'"


# Each: (what the condition is, the condition, words the problem must hold).
CONDITIONS = [
    ("a typo Lark's match_examples failed on", 'dialogue and "x" y', "two values follow each other"),
    ("400 levels of not", "not " * 400 + "dialogue", "max_condition_nesting"),
    ("400 levels of unary minus", "-" * 400 + "1 > 0", "max_condition_nesting"),
    ("400 levels of calls", "length(" * 400 + "kva" + ")" * 400 + " > 0", "max_condition_nesting"),
    ("lists nested 491 deep", "kva contains " + "[" * 491 + "]" * 491, "max_condition_nesting"),
    ("brackets inside not, 400 deep", "not (" * 400 + "dialogue" + ")" * 400, "max_condition_nesting"),
    ("a number of 5,000 digits", "contact_type = " + "1" * 5000, "5,000 digits is too long"),
    ("500,000 characters", "dialogue or " * 41_666 + "dialogue", "max_condition_chars"),
]


@pytest.mark.parametrize("what,condition,words", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_a_hostile_condition_is_a_problem_at_its_place(tmp_path, fixture_policies, what, condition, words):
    root = policies_with(tmp_path, fixture_policies, old=WHEN, new=when(condition))
    start = time.perf_counter()
    out = problems_of(run("validate", str(root)))
    assert time.perf_counter() - start < 30  # bounded: the limits stop it early (figures in benchmarks/)
    assert words in out
    assert re.search(r"testland-coding/1\.0\.yaml:17:\d+: error:", out), out


def test_nesting_is_refused_where_it_passes_the_limit():
    limit = DEFAULTS["max_condition_nesting"]
    text = "not " * (limit + 10) + "dialogue"
    with pytest.raises(ConditionSyntaxError) as exc:
        parse_condition(text)
    assert exc.value.offset == 4 * limit  # the first `not` past the limit
    parse_condition("not " * (limit - 1) + "dialogue")  # within it: fine


@pytest.mark.parametrize("word", ["or", "and"])
def test_a_flat_chain_of_any_length_parses_without_recursion(word):
    # The case was 331 `or` terms; 20,000 is far past any recursion limit.
    text = f" {word} ".join(f"a{i} = {i}" for i in range(20_000))
    with using(Limits(max_condition_chars=len(text))):
        node = parse_condition(text)
    from evaluator.language import ast

    kind = ast.Or if word == "or" else ast.And
    parts = ast.chain(node, kind)
    assert [p.right.value for p in parts] == list(range(20_000))  # every operand, in order
    depth, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        depth = max(depth, d)
        stack.extend((c, d + 1) for c in ast.children(n))
    assert depth < 20


def test_a_flat_chain_of_331_or_terms_validates_and_decides(tmp_path, fixture_policies):
    chain = " or ".join(["dialogue"] * 330 + ['sob_activity = "administration"'])
    root = policies_with(tmp_path, fixture_policies, old=WHEN, new=when(chain))
    assert run("validate", str(root)).exit_code == 0


def test_a_long_line_is_shown_around_the_column_not_whole(tmp_path, fixture_policies):
    condition = "dialogue or " * 41_666 + "dialogue"
    root = policies_with(tmp_path, fixture_policies, old=WHEN, new=when(condition))
    out = problems_of(run("validate", str(root)))
    assert len(out) < 1000
    shown, caret = out.splitlines()[1:3]
    assert shown.strip().startswith("…") and shown.endswith("…") and caret.strip() == "^"


# Each: (what, the YAML text put in place of the policy's `id:` line, words).
YAML_VALUES = [
    ("an impossible date as a key", "id: testland-coding\n2027-02-30: x", "2027-02-30 is not a real date"),
    ("!!bool maybe", "id: !!bool maybe", "maybe cannot be read as !!bool"),
    ("!!timestamp x", "id: !!timestamp x", "x is not a real date"),
    ("!!int with no value", "id: !!int", "a value tagged !!int is empty"),
    ("an alias that contains itself", "id: &x [*x]", "inside the value of its own anchor"),
    ("a mapping alias that contains itself", "id: &x {a: *x}", "inside the value of its own anchor"),
    ("YAML nested 600 deep (flow)", "id: " + "[" * 600 + "]" * 600, "max_yaml_nesting"),
    ("YAML nested 999 deep (flow)", "id: " + "[" * 999 + "]" * 999, "max_yaml_nesting"),
    ("YAML nested 2,000 deep (flow)", "id: " + "[" * 2000 + "]" * 2000, "nesting depth"),
    ("YAML nested 500 deep (block)", "id:\n" + "".join("  " * i + "- \n" for i in range(1, 500)) + "  " * 500 + "- x",
     "max_yaml_nesting"),
    ("an integer of 5,000 digits", "id: " + "1" * 5000, "5,000 digits is too long"),
    ("a Python tag", "id: !!python/name:os.system x", "could not determine a constructor"),
]


@pytest.mark.parametrize("what,text,words", YAML_VALUES, ids=[c[0] for c in YAML_VALUES])
def test_hostile_yaml_in_a_policy_file(tmp_path, fixture_policies, what, text, words):
    root = policies_with(tmp_path, fixture_policies, old="id: testland-coding", new=text)
    for command in (("validate", str(root)), ("test", str(root)), ("evaluate", "--policies", str(root))):
        out = problems_of(CliRunner().invoke(main, list(command), input="", catch_exceptions=False))
        assert words in out, (command, out)
        assert re.search(r"testland-coding/1\.0\.yaml:\d+:\d+: error:", out), out


@pytest.mark.parametrize("what,text,words", YAML_VALUES, ids=[c[0] for c in YAML_VALUES])
def test_hostile_yaml_through_the_other_commands(tmp_path, fixture_policies, what, text, words):
    # fmt reads with ruamel, which recursed once per level of YAML 500 deep (found by a sweep of
    # the hostile cases over every command); render, policies and diff load the policies.
    root = policies_with(tmp_path, fixture_policies, old="id: testland-coding", new=text)
    for command in (["fmt", "--check", str(root)], ["fmt", str(root)], ["policies", "--policies", str(root)],
                    ["render", "--policies", str(root), "--out", str(tmp_path / "out")], ["diff", str(root), str(root)]):
        result = CliRunner().invoke(main, command, catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), (command, result.exception)
        assert result.exit_code != 0 and "Traceback" not in result.output, (command, result.output)
    out = run("fmt", "--check", str(root)).output
    assert words in out and re.search(r"1\.0\.yaml:\d+:\d+: error:", out), out


@pytest.mark.parametrize("what,text,words", YAML_VALUES[:6], ids=[c[0] for c in YAML_VALUES[:6]])
def test_hostile_yaml_in_outputs_yaml(tmp_path, fixture_policies, what, text, words):
    root = policies_with(tmp_path, fixture_policies, "outputs.yaml", old="outputs:", new=text.replace("id:", "x:") + "\noutputs:")
    out = problems_of(run("validate", str(root)))
    assert words in out and re.search(r"outputs\.yaml:\d+:\d+: error:", out), out


@pytest.mark.parametrize("what,text,words", YAML_VALUES, ids=[c[0] for c in YAML_VALUES])
def test_hostile_yaml_in_a_test_file(tmp_path, fixture_policies, what, text, words):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    (root / "testland/testland-chat/h.test.yaml").write_text(text.replace("id:", "policy:", 1) + "\ncases: []\n")
    out = problems_of(run("test", str(root)))
    assert words in out and re.search(r"h\.test\.yaml:\d+:\d+: error:", out), out


@pytest.mark.parametrize("what,text,words", YAML_VALUES, ids=[c[0] for c in YAML_VALUES])
def test_hostile_yaml_in_any_file_read_through_the_loader(what, text, words):
    # facts.yaml and regelverk.yaml are read by the same loader as every other file.
    for name in ("facts.yaml", "regelverk.yaml"):
        doc, problems = parse_yaml(text.replace("id:", "facts:", 1) + "\n", name)
        assert any(words in p.message for p in problems), [p.message for p in problems]
        assert all(p.location is not None and p.location.file == name for p in problems)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, fixture_policies):
    big = "id: testland-coding\nx:\n" + "- x\n" * 400_000  # 1.6 MB, over the 1 MB default
    root = policies_with(tmp_path, fixture_policies, old="id: testland-coding", new=big)
    start = time.perf_counter()
    out = problems_of(run("validate", str(root)))
    assert time.perf_counter() - start < 30
    assert "max_file_bytes" in out and "1.0.yaml:1:1" in out


def test_limits_are_settings_of_the_repository(tmp_path, fixture_policies):
    repo = tmp_path / "repo"
    shutil.copytree(fixture_policies, repo / "policies")
    (repo / "regelverk.yaml").write_text("regelverk: 1\nlimits:\n  max_condition_chars: 20\n")
    out = problems_of(run("validate", str(repo / "policies")))
    assert "is over the limit max_condition_chars: 20" in out
    assert "raise it under 'limits:' in regelverk.yaml" in out

    (repo / "regelverk.yaml").write_text("regelverk: 1\nlimits:\n  max_condition_char: 20\n  max_yaml_nesting: -1\n")
    out = problems_of(run("validate", str(repo / "policies")))
    # (settings.schema.json names the limits; limits.section_problems says the same to callers
    # that read a settings document without the schema)
    assert "regelverk.yaml:3:3: error: limits: 'max_condition_char' is not one of its keys (did you mean 'max_condition_chars'?)" in out
    assert "regelverk.yaml:4:21: error: limits, max_yaml_nesting: -1 is less than the minimum of 1" in out

    (repo / "regelverk.yaml").write_text("regelverk: 1\nlimits:\n  max_condition_chars: 100000\n")
    assert run("validate", str(repo / "policies")).exit_code == 0


def test_limits_from_the_environment():
    assert Limits.from_env({"REGELVERK_MAX_FILE_BYTES": "77", "REGELVERK_MAX_YAML_NESTING": "x"}) == Limits(max_file_bytes=77)


@pytest.mark.parametrize("what,text,words", YAML_VALUES, ids=[c[0] for c in YAML_VALUES])
def test_hostile_yaml_in_the_settings_file(tmp_path, fixture_policies, what, text, words):
    repo = tmp_path / "repo"
    shutil.copytree(fixture_policies, repo / "policies")
    (repo / "regelverk.yaml").write_text("regelverk: 1\n" + text.replace("id:", "limits:", 1) + "\n")
    out = problems_of(run("validate", str(repo / "policies")))
    assert words in out and re.search(r"regelverk\.yaml:\d+:\d+: error:", out), out


def test_the_limits_section_is_checked_without_the_schema_too():
    from evaluator.limits import section_problems

    doc, _ = parse_yaml("limits:\n  max_condition_char: 20\n  max_yaml_nesting: -1\n", "regelverk.yaml")
    messages = [p.headline() for p in section_problems(doc)]
    assert messages == [
        "regelverk.yaml:2:3: error: 'max_condition_char' is not a limit (did you mean 'max_condition_chars'?)",
        "regelverk.yaml:3:21: error: limit 'max_yaml_nesting' must be a positive whole number"]
