"""The layout of `evaluator/` shows the pipeline, and keeps to it (docs/engine.md, "Where things are").

Read from the source with `ast`: every module opens with a one-line role; stage packages import
only from the stages before them; no module imports itself back through others; no module uses
another module's private names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "evaluator"

# What each stage may import from, beside itself and the shared modules at the top
# (errors, resources, limits). A stage never reaches forward. Explaining is the story's last
# step but sits below compiling and running in imports: the generated code and the engine
# write its trace records and its sentences, and it reads nothing of theirs.
MAY_IMPORT = {
    "language": set(),
    "loading": {"language"},
    "explaining": {"language", "loading"},
    "compiling": {"language", "loading", "explaining"},
    "running": {"language", "loading", "compiling", "explaining"},
    "tools": {"language", "loading", "compiling", "explaining", "running"},
    "service": {"language", "loading", "compiling", "explaining", "running", "tools"},
    "cli": {"language", "loading", "compiling", "explaining", "running", "tools", "service"},
}
SHARED = {"errors", "resources", "limits"}
STAGES = set(MAY_IMPORT)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "templates" in path.relative_to(PACKAGE).parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def _package(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _in_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import a module makes, at the top
    or inside a function; imports only for type checkers are left out."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = _package(name, path)
    found = []
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("evaluator"):
                continue
            names = [a.name for a in node.names]
            # `from . import ast` takes a module, not a name
            for n in list(names):
                if f"{target}.{n}" in MODULES:
                    found.append((f"{target}.{n}", [], node.lineno))
                    names.remove(n)
            if names:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("evaluator")]
    return found


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_opens_with_a_one_line_role(name):
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    assert doc, f"{name} has no docstring"
    first = doc.splitlines()[0]
    assert first.strip() and first.endswith("."), f"{name}: the first line of its docstring is its role, a sentence"


def test_the_top_of_the_package_holds_only_stages_and_shared_modules():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    # formats and dask are the documented public import paths of the data API (docs/data.md).
    assert top <= SHARED | {"formats", "dask"}, f"flat modules at the top: {sorted(top - SHARED)}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == STAGES


def test_stages_import_only_from_the_stages_before_them():
    wrong = []
    for name in MODULES:
        stage = stage_of(name)
        if stage not in STAGES:
            continue
        for target, _names, line in imports_of(name):
            other = stage_of(target)
            if other is None or other in SHARED or other == stage:
                continue
            if other not in MAY_IMPORT[stage]:
                wrong.append(f"{name}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_shared_modules_import_no_stage():
    for name in ("evaluator.errors", "evaluator.resources", "evaluator.limits"):
        assert not [t for t, _n, _l in imports_of(name) if stage_of(t) in STAGES], name


def _target_module(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_no_import_cycle():
    graph = {}
    for name in MODULES:
        if name == "evaluator":  # the package's front door re-exports the API; it is not a stage
            continue
        edges = set()
        for target, _names, _line in imports_of(name):
            module = _target_module(target)
            if module and module != "evaluator" and module != name:
                edges.add(module)
        graph[name] = edges
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_module_takes_another_modules_private_names():
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for target, names, line in imports_of(name):
            module = _target_module(target)
            if module == name:
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    wrong.append(f"{name}:{line} imports {n} from {target}")
            if not names and module:
                aliases[target.rsplit(".", 1)[-1]] = target
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_forward_import(tmp_path, monkeypatch):
    """The stage rule is not vacuous: a language module importing the engine is caught."""
    fake = tmp_path / "evaluator" / "language"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""x."""\n')
    (fake / "bad.py").write_text('"""x."""\nfrom ..running.engine import Engine\n')
    monkeypatch.setitem(MODULES, "evaluator.language.bad", fake / "bad.py")
    targets = [t for t, _n, _l in imports_of("evaluator.language.bad")]
    assert targets == ["evaluator.running.engine"]
    with pytest.raises(AssertionError, match="evaluator.language.bad:2 imports evaluator.running.engine"):
        test_stages_import_only_from_the_stages_before_them()


# Private names of the standard library's own documented API (os._exit; namedtuple's methods).
# Dask's DataFrame._meta (the empty frame that describes its columns).
LIBRARY_PRIVATE = {"_exit", "_asdict", "_replace", "_fields", "_make", "_getframe", "_meta"}


def test_no_module_calls_private_attributes_it_does_not_define():
    """`engine._prepare(...)` from another module is a private name reached into: a module uses
    only the underscored attributes of classes and objects it defines itself (and its own
    object's, `self._…`, which a subclass of a server's protocol inherits)."""
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                own.update(part.strip() for part in node.value.split(","))  # __slots__ = ("_x", …)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                    and node.attr not in own and node.attr not in LIBRARY_PRIVATE):
                wrong.append(f"{name}:{node.lineno} uses .{node.attr} of {ast.unparse(node.value)}")
    assert not wrong, "\n".join(wrong)
