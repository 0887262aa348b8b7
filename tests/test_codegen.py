"""Generated code: policy text stays data. Strings and names that try to break out of the
generated source either reach it only as checked literals and bound values, deciding as data,
or are refused when the policy is checked; the generated source passes its own guard."""

from __future__ import annotations

import ast as pyast
import re
import textwrap
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from evaluator import load_repository
from evaluator.cli import main
from evaluator.compiling.codegen import CodegenError, check_generated
from evaluator.errors import PolicyError

# (a decision carries the contract's six outputs: tests/fixtures/policies/outputs.yaml)
OUTPUTS = (Path(__file__).parent / "fixtures/policies/outputs.yaml").read_text(encoding="utf-8")

HOSTILE_TEXTS = [
    '"); import os; ("',
    "'); __import__('os').system('true'); ('",
    "__import__",
    "\\",
    "\\'",
    '\\"',
    "\\n",
    "{}",
    "{0.__class__}",
    "åäö \u00a0 \U0001f600 \u202e \u200b",
    "#",
    "\"\"\"",
    "a' + get('unit') + 'b",
]


def _policy(when: str, parameters: dict | None = None) -> str:
    params = ""
    if parameters:
        params = "parameters:\n" + "".join(f"  {k}: {orjson.dumps(v).decode()}\n" for k, v in parameters.items())
    return textwrap.dedent("""\
        id: hostile
        version: "1.0"
        title: T
        issuer: T
        region: any
        valid_from: 2020-01-01
        source: {seed: 000_x.txt, title: T}
        applies_when: 'region = "x"'
        """) + params + textwrap.dedent(f"""\
        rules:
          - id: r0
            section: S
            passage: P
            when: {orjson.dumps(when).decode()}
            then: {{reimbursable: false}}
            otherwise: {{reimbursable: true}}
            severity: info
            message: {{sv: m, en: m}}
        """)


def load(tmp_path, when: str, parameters: dict | None = None):
    (tmp_path / "any" / "hostile").mkdir(parents=True, exist_ok=True)
    (tmp_path / "outputs.yaml").write_text(OUTPUTS, encoding="utf-8")
    (tmp_path / "any" / "hostile" / "1.0.yaml").write_text(_policy(when, parameters), encoding="utf-8")
    return load_repository(tmp_path)


def contact(unit: str) -> dict:
    return {"id": "c1", "patient": "p", "unit": unit, "region": "x", "date": "2025-01-01", "channel": "written"}


def source_of(repo) -> str:
    version = next(repo.policy_set.versions())
    return repo.engine.program.of(version).source


def string_constants(source: str) -> list[str]:
    return [n.value for n in pyast.walk(pyast.parse(source)) if isinstance(n, pyast.Constant) and isinstance(n.value, str)]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_a_hostile_string_literal_is_data(tmp_path, text):
    quote = "'" if '"' in text else '"'
    assert quote not in text  # the condition language writes it in the other quotes
    repo = load(tmp_path, f"unit = {quote}{text}{quote}")
    source = source_of(repo)
    value = next(repo.policy_set.versions()).rules[0].when.right.value
    assert value == text
    # the text is in the source only as one whole string constant, and decides as data
    assert value in string_constants(source)
    assert repo.evaluate_one(contact(value))["outputs"]["reimbursable"] is False
    assert repo.evaluate_one(contact(value + "x"))["outputs"]["reimbursable"] is True
    check_generated(source, _bound_names(source))


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_a_hostile_parameter_value_is_bound_not_written(tmp_path, text):
    repo = load(tmp_path, "unit = needle or unit in hay", {"needle": text, "hay": [text, "b"]})
    source = source_of(repo)
    assert text not in string_constants(source)  # parameters are bound arguments
    assert repo.evaluate_one(contact(text))["outputs"]["reimbursable"] is False
    assert repo.evaluate_one(contact("b"))["outputs"]["reimbursable"] is False
    assert repo.evaluate_one(contact("c"))["outputs"]["reimbursable"] is True


@pytest.mark.parametrize("name", ["__import__", "__class__", "__builtins__", "ctx", "acc", "get", "len", "make",
                                  "f_1", "p_1", "k_1", "u", "x", "hits", "ms", "type", "isinstance"])
def test_a_parameter_named_like_python_or_the_generated_code_stays_a_parameter(tmp_path, name):
    repo = load(tmp_path, f'unit = {name}', {name: "u9"})
    source = source_of(repo)
    assert name not in _identifiers(source) or name in ("ctx", "acc", "get", "len", "make", "x", "hits",
                                                         "ms", "type", "isinstance")
    assert repo.evaluate_one(contact("u9"))["outputs"]["reimbursable"] is False
    assert repo.evaluate_one(contact("u1"))["outputs"]["reimbursable"] is True


@pytest.mark.parametrize("when", [
    "__import__('os')",
    "__class__ = 1",
    "unit.__class__ = 1",
    "os = 1",
    "current.__dict__ = 1",
    "eval(unit)",
    "getattr(unit, 'x') = 1",
    "was __class__",
    "count of earlier contacts where (same __class__) >= 1",
    "unit = \"a\"); import os; (\"",
    "ｕnit = \"a\"",
])
def test_a_name_outside_the_checkers_tables_is_refused_at_check_time(tmp_path, when):
    with pytest.raises(PolicyError):
        load(tmp_path, when)


def _identifiers(source: str) -> set[str]:
    return {n.id for n in pyast.walk(pyast.parse(source)) if isinstance(n, pyast.Name)} | {
        a.arg for n in pyast.walk(pyast.parse(source)) if isinstance(n, pyast.FunctionDef) for a in n.args.args}


def _bound_names(source: str) -> set[str]:
    make = next(n for n in pyast.walk(pyast.parse(source)) if isinstance(n, pyast.FunctionDef) and n.name == "make")
    return {a.arg for a in make.args.args}


def test_every_name_in_the_bundled_policies_generated_source_is_generated_or_fixed():
    repo = load_repository()
    for version in repo.policy_set.versions():
        source = repo.engine.program.of(version).source
        check_generated(source, _bound_names(source))
        # no field or parameter name of the policy is an identifier of the source
        names = set(version.parameters) | set(repo.policy_set.fields)
        assert not names & _identifiers(source)


@pytest.mark.parametrize("bad", [
    "def make():\n    import os\n",
    "def make():\n    return __import__('os')\n",
    "def make(k_1):\n    return k_1.__class__\n",
    "def make():\n    return open('x')\n",
    "def make():\n    return 1.5\n",
    "def evil():\n    return 1\n",
    # an allowed attribute name read as a global, and a global name read as an attribute
    "def make():\n    return index(cur)\n",
    "def make(k_1):\n    return k_1.len\n",
    "def make():\n    from os import path\n",
])
def test_the_guard_refuses_source_that_reaches_beyond_its_names(bad):
    with pytest.raises(CodegenError):
        check_generated(bad, {"k_1": 1})


def test_compile_command_prints_a_versions_generated_source():
    result = CliRunner().invoke(main, ["compile", "vgr-rehab-written-contact"])
    assert result.exit_code == 0, result.output
    assert "def decide(ctx, acc):" in result.output
    pyast.parse(result.output)  # it is the Python that runs
    # and after it, as comments, what its generated names stand for
    legend = result.output.split("# ---- what the names above stand for")[1]
    assert "# rule 3 (hits (3, …), rule_3): one-per-week: count of earlier contacts where" in legend
    field = re.search(r"# (f_\d+): the contact's field unit\n", legend).group(1)
    assert f"{field} = get('unit')" in result.output
    from evaluator.compiling.codegen import RUNTIME
    fixed = legend.split("# fixed names")[1]
    assert all(re.search(rf"\b{name}\b", fixed) for name in RUNTIME)  # (each fixed name explained)
    unknown = CliRunner().invoke(main, ["compile", "no-such-policy"])
    assert unknown.exit_code != 0 and "no-such-policy" in unknown.output
    missing = CliRunner().invoke(main, ["compile", "vgr-rehab-written-contact", "--version", "9.9"])
    assert missing.exit_code != 0 and "9.9" in missing.output


def _nested(depth: int) -> str:
    cond = 'unit = "u0"'
    for i in range(depth):
        cond = f'(unit = "u{i + 1}" {"and" if i % 2 else "or"} ({cond}))'
    return cond


@pytest.mark.parametrize("depth", [45, 150])
def test_a_deeply_nested_condition_is_generated_in_linear_work_and_decides_as_the_closures(tmp_path, monkeypatch,
                                                                                           depth):
    # 150 levels is deeper than Python's parser takes: those conditions run as closures called
    # from the generated code. Either way each node is generated a bounded number of times.
    from evaluator.compiling import codegen
    from evaluator.running.engine import Engine

    monkeypatch.setenv("REGELVERK_MAX_CONDITION_NESTING", "1000")
    monkeypatch.setenv("REGELVERK_MAX_CONDITION_CHARS", "1000000")
    calls = []
    value = codegen.Body.value
    monkeypatch.setattr(codegen.Body, "value", lambda self, node, ind: calls.append(1) or value(self, node, ind))
    repo = load(tmp_path, _nested(depth))
    nodes = sum(1 for _ in __import__("evaluator.language.ast", fromlist=["walk"]).walk(next(repo.policy_set.versions()).rules[0].when))
    assert len(calls) <= 8 * (nodes + 10)
    reference = Engine(repo.policy_set, reference=True)
    for unit in ("u0", "u1", f"u{depth}", "u9999"):
        records = [contact(unit)]
        assert repo.evaluate(records) == reference.evaluate([dict(r) for r in records])[0]


@pytest.mark.parametrize("when", [
    '5 <= duration_minutes',
    'channel = "video" and not dialogue and 5 <= duration_minutes',
    '5 <= duration_minutes + 1',
    '"video" = channel',
    '1 + 2 <= duration_minutes',
])
def test_a_constant_on_the_left_makes_no_python_warning(tmp_path, when):
    """A constant is never unknown, so the generated code does not ask `5 is not None`, which
    Python warns of (SyntaxWarning: "is not" with a literal) on every command's standard error."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repo = load(tmp_path, when)
    assert [str(w.message) for w in caught] == []
    source = source_of(repo)
    assert not re.search(r"\b\d+ is (not )?None|'[^']*' is (not )?None", source), source
    for minutes in (3, 5, 9, None):
        c = dict(contact("u"), channel="video", dialogue=False)
        if minutes is not None:
            c["duration_minutes"] = minutes
        repo.evaluate_one(c)
