"""Error codes are one enumeration (evaluator.errors.Code), listed in docs/errors.md, and used
as such: no problem-making call in evaluator/ spells a code as a bare string."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from evaluator.errors import Code, Problem, codes_markdown

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
START = "<!-- generated from evaluator.errors.Code: start -->\n"
END = "<!-- generated from evaluator.errors.Code: end -->\n"


def test_docs_list_every_code_as_the_enumeration_says():
    text = DOC.read_text(encoding="utf-8")
    listed = text[text.index(START) + len(START):text.index(END)]
    assert listed == codes_markdown() + "\n", "docs/errors.md is stale: paste codes_markdown() between the markers"
    for code in Code:
        assert f"| `{code.value}` |" in listed


def test_a_code_is_written_and_compared_as_its_value():
    problem = Problem(Code.DSL_SYNTAX, "x")
    assert problem.code == "dsl_syntax"
    assert json.loads(json.dumps(problem.to_json()))["code"] == "dsl_syntax"
    assert f"{Code.DSL_SYNTAX}" == "dsl_syntax"


def test_codes_are_unique_and_well_formed():
    values = [c.value for c in Code]
    assert len(values) == len(set(values))
    assert all(v.replace("_", "").isalnum() and v.islower() for v in values)


def _functions_taking_a_code() -> dict[str, set[int]]:
    """Functions, methods and classes of evaluator/ with a parameter or field named `code`,
    with its position among the arguments a caller passes."""
    takes: dict[str, set[int]] = {}
    for path in (ROOT / "evaluator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args]
                if "code" in names:
                    first = 1 if names and names[0] in ("self", "cls") else 0
                    takes.setdefault("__init__" if node.name == "__init__" else node.name, set()).add(names.index("code") - first)
            elif isinstance(node, ast.ClassDef):
                fields = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
                inits = [s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"]
                if "code" in fields:
                    takes.setdefault(node.name, set()).add(fields.index("code"))
                for init in inits:
                    names = [a.arg for a in init.args.args][1:]
                    if "code" in names:
                        takes.setdefault(node.name, set()).add(names.index("code"))
    return takes


def test_no_code_is_spelt_as_a_bare_string():
    takes = _functions_taking_a_code()
    assert {"Problem", "problem", "fail"} <= set(takes)
    values = {c.value for c in Code}
    bare = []
    for path in sorted((ROOT / "evaluator").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "evaluator":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            spots = []
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                for i in takes.get(name, ()):
                    if i < len(node.args):
                        spots.append(node.args[i])
                spots += [k.value for k in node.keywords if k.arg == "code"]
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr == "code" for s in sides):
                    for s in sides:
                        spots += [s] if isinstance(s, ast.Constant) else list(getattr(s, "elts", []))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.args]
                spots += [d for a, d in zip(names[len(names) - len(node.args.defaults):], node.args.defaults, strict=True) if a == "code"]
            for spot in spots:
                if isinstance(spot, ast.Constant) and spot.value in values:
                    bare.append(f"{path.relative_to(ROOT)}:{spot.lineno}: '{spot.value}' (use Code.{Code(spot.value).name})")
    assert not bare, "\n".join(bare)
