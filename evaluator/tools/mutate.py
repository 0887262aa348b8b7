"""Mutation testing of policy tests: change one thing in a loaded policy, rerun the tests.

Each mutant is made from the checked model, never from the files: a syntax tree with one node
changed, a parameter or a `then` value changed, a version's first or last day moved (the
engine built for the mutant compiles it). The policy tests run on each mutant; a mutant that no test case notices
*survives*, and is reported with its file:line:column and the change. The score is the share of
mutants killed. The operators (issue 12):

- a whole-number or date parameter ±1 (a cap, a window's length kept in a parameter);
- a comparison `>=` ↔ `>`, `<` ↔ `<=`;
- one operand of an `and` chain dropped;
- an `and` chain made an `or` chain, and the other way round;
- a `then`/`otherwise` value flipped (yes/no negated, a whole number +1);
- a window's length written in the condition ±1 (`within 7 days`);
- a version's first or last day moved a day earlier or later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from ..errors import Code
from ..language import ast
from ..language.parser import balanced
from ..loading.policy import PolicyVersion, Rule
from ..loading.repository import Policy, PolicySet
from ..loading.yamlsource import SourceDoc, load_yaml
from ..running.engine import Engine
from .meaning import unparse
from .testing import find_test_files, load_cases, run_case

_FLIP_OPS = {">=": ">", ">": ">=", "<": "<=", "<=": "<"}


@dataclass(frozen=True)
class Mutant:
    """One change to one policy version: where it is (a path into the policy document and, for
    a condition, the character it starts at) and what it is, in words."""

    version: PolicyVersion
    path: tuple
    offset: int | None
    change: str
    make: Callable[[], PolicyVersion] = field(repr=False, compare=False)


@dataclass
class MutationRun:
    mutants: list[Mutant]
    survivors: list[Mutant]
    cases: int
    seconds: float
    problems: list = field(default_factory=list)
    baseline_failures: list = field(default_factory=list)
    equivalent: list[Mutant] = field(default_factory=list)  # survivors a test file declares equivalent

    @property
    def killed(self) -> int:
        return len(self.mutants) - len(self.survivors) - len(self.equivalent)

    @property
    def score(self) -> float:
        counted = len(self.mutants) - len(self.equivalent)
        return 100.0 * self.killed / counted if counted else 100.0


# --- changing a syntax tree ------------------------------------------------------------------

def _substitute(root: ast.Node, target: ast.Node, new: ast.Node) -> ast.Node:
    """`root` with the node `target` (by identity) replaced by `new`; the rest shared."""
    if root is target:
        return new
    changes = {}
    for name in root.__dataclass_fields__:
        value = getattr(root, name)
        if isinstance(value, ast.Node):
            if _contains(value, target):
                changes[name] = _substitute(value, target, new)
        elif isinstance(value, tuple) and any(isinstance(v, ast.Node) and _contains(v, target) for v in value):
            changes[name] = tuple(_substitute(v, target, new) if isinstance(v, ast.Node) else v for v in value)
    return replace(root, **changes) if changes else root


def _contains(root: ast.Node, target: ast.Node) -> bool:
    return any(n is target for n in ast.walk(root))


def _chain_roots(root: ast.Node) -> Iterator[tuple[ast.Node, list[ast.Node]]]:
    """Each and/or chain (its top node and its operands in order): a node of the chain's kind
    whose parent is not of that kind."""

    stack: list[tuple[ast.Node, type | None]] = [(root, None)]
    while stack:
        node, parent_kind = stack.pop()
        kind = type(node)
        if kind in (ast.And, ast.Or) and parent_kind is not kind:
            yield node, ast.chain(node, kind)
        stack.extend((child, kind) for child in ast.children(node))


def _quote(node: ast.Node, most: int = 60) -> str:
    text = unparse(node)
    return "'" + (text if len(text) <= most else text[:most - 1] + "…") + "'"


def condition_mutations(root: ast.Node) -> Iterator[tuple[ast.Node, int, str]]:
    """(mutated tree, offset of the change, the change in words) for one condition."""
    for node in ast.walk(root):
        if isinstance(node, ast.Compare) and node.op in _FLIP_OPS:
            to = _FLIP_OPS[node.op]
            new = replace(node, op=to)
            yield _substitute(root, node, new), node.offset, f"{_quote(node)} → {_quote(new)}"
        if isinstance(node, ast.Duration) and isinstance(node.amount, ast.Literal) \
                and isinstance(node.amount.value, int) and not isinstance(node.amount.value, bool):
            n = node.amount.value
            for m in (n - 1, n + 1):
                if m >= 0:
                    new = replace(node, amount=replace(node.amount, value=m))
                    yield _substitute(root, node, new), node.offset, f"window {n} {node.unit}s → {m} {node.unit}s"
    for top, operands in _chain_roots(root):
        word, other, kind = ("and", "or", ast.Or) if isinstance(top, ast.And) else ("or", "and", ast.And)
        yield (_substitute(root, top, balanced(kind, operands)), top.offset,
               f"'{word}' → '{other}' in {_quote(top)}")
        if isinstance(top, ast.And):
            for k, dropped in enumerate(operands):
                rest = operands[:k] + operands[k + 1:]
                yield (_substitute(root, top, balanced(ast.And, rest)), dropped.offset,
                       f"{_quote(dropped)} dropped from an 'and'")


# --- a changed version (the engine built for the mutant compiles it) ------------------------

def _with_when(rule: Rule, when: ast.Node) -> Rule:
    return replace(rule, when=when, uses_history=any(isinstance(n, ast.Aggregate) for n in ast.walk(when)))


def _with_rule(v: PolicyVersion, index: int, rule: Rule) -> PolicyVersion:
    return replace(v, rules=v.rules[:index] + (rule,) + v.rules[index + 1:])


def _rule_index(v: PolicyVersion) -> dict[str, int]:
    """The place of each compiled rule in the document's rules list (for paths)."""
    return {r["id"]: i for i, r in enumerate(v.document.get("rules", [])) if isinstance(r, dict)}


def version_mutants(v: PolicyVersion) -> Iterator[Mutant]:
    """Every mutant of one policy version."""
    places = _rule_index(v)
    params = v.parameters

    # conditions: applies_when and each rule's when
    for tree, offset, change in condition_mutations(v.applies_when):
        def make(tree=tree):
            return replace(v, applies_when=tree)
        yield Mutant(v, ("applies_when",), offset, f"applies_when: {change}", make)
    for i, rule in enumerate(v.rules):
        for tree, offset, change in condition_mutations(rule.when):
            def make(i=i, rule=rule, tree=tree):
                return _with_rule(v, i, _with_when(rule, tree))
            yield Mutant(v, ("rules", places.get(rule.id, i), "when"), offset, f"rule {rule.id}: {change}", make)

    # parameters ±1 (whole numbers), ±1 day (dates)
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, date)):
            continue
        step = timedelta(days=1) if isinstance(value, date) else 1
        for new in (value - step, value + step):
            def make(name=name, new=new):
                changed = {**params, name: new}
                rules = []
                for rule in v.rules:
                    r = rule
                    raw = v.document["rules"][places[rule.id]] if rule.id in places else {}
                    for which in ("then", "otherwise"):
                        given = raw.get(which) or {}
                        outs = {o: (new if isinstance(given.get(o), dict) and given[o].get("parameter") == name else val)
                                for o, val in getattr(r, which).items()}
                        r = replace(r, **{which: outs})
                    rules.append(r)
                return replace(v, parameters=changed, rules=tuple(rules))
            yield Mutant(v, ("parameters", name), None, f"parameter {name}: {value} → {new}", make)

    # then/otherwise values written in the rule (a parameter's value is the parameter's mutant)
    for i, rule in enumerate(v.rules):
        raw = v.document["rules"][places[rule.id]] if rule.id in places else {}
        for which in ("then", "otherwise"):
            for out, value in getattr(rule, which).items():
                if isinstance((raw.get(which) or {}).get(out), dict):
                    continue
                if isinstance(value, bool):
                    new = not value
                elif isinstance(value, int):
                    new = value + 1
                else:
                    continue
                def make(i=i, rule=rule, which=which, out=out, new=new):
                    return _with_rule(v, i, replace(rule, **{which: {**getattr(rule, which), out: new}}))
                yield Mutant(v, ("rules", places.get(rule.id, i), which, out), None,
                             f"rule {rule.id}: {which} {out}: {_words(value)} → {_words(new)}", make)

    # the version's first and last day
    for key in ("valid_from", "valid_to"):
        day = getattr(v, key)
        if day is None:
            continue
        for new in (day - timedelta(days=1), day + timedelta(days=1)):
            def make(key=key, new=new):
                return replace(v, **{key: new})
            yield Mutant(v, (key,), None, f"{key}: {day} → {new}", make)


def _words(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _with_version(policy_set: PolicySet, old: PolicyVersion, new: PolicyVersion) -> PolicySet:
    policy = policy_set.policies[old.id]
    versions = tuple(sorted((new if x is old else x for x in policy.versions), key=lambda x: (x.valid_from, x.key)))
    return replace(policy_set, policies={**policy_set.policies, old.id: Policy(old.id, versions)})


# --- running -------------------------------------------------------------------------------

def _under(file: str, root: Path) -> bool:
    try:
        Path(file).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def mutants_of(policy_set: PolicySet, path: Path) -> list[Mutant]:
    """The mutants of the policy versions whose files are under `path` (a folder or a file)."""
    return [m for v in policy_set.versions() if _under(v.file, path) for m in version_mutants(v)]


def _cases(path: Path, problems: list, declared: dict) -> list[tuple[SourceDoc, int, str | None]]:
    """The test cases under `path`; `declared` receives the equivalent mutants the files name,
    (policy, change) -> (file, index), for the places of stale declarations."""
    cases = []
    for file in find_test_files(path):
        doc, found = load_cases(file)
        problems.extend(found)
        if doc is not None:
            policy = doc.value.get("policy")
            cases.extend((doc, i, policy) for i in range(len(doc.value["cases"])))
            for i, item in enumerate(doc.value.get("equivalent_mutants") or []):
                declared[(policy, " ".join(item["change"].split()))] = (doc, i)
    return cases


def run_mutation(policy_set: PolicySet, path: Path, tests: Path | None = None) -> MutationRun:
    """Mutate every policy version under `path` and run the tests under `tests` (default: the
    policy folder's) on each mutant; a mutant is killed by the first case that fails on it."""
    start = time.perf_counter()
    problems: list = []
    declared: dict = {}
    cases = _cases(tests or policy_set.root, problems, declared)
    baseline = Engine(policy_set)
    failing = [r for doc, i, _ in cases if not (r := run_case(baseline, doc, i, None)).ok]
    if failing or any(p.severity == "error" for p in problems):
        return MutationRun([], [], len(cases), time.perf_counter() - start, problems, failing)
    mutants = mutants_of(policy_set, path)
    survivors, equivalent, seen = [], [], set()
    for m in mutants:
        engine = Engine(_with_version(policy_set, m.version, m.make()))
        # The cases of the mutated policy first: they are the likeliest to notice.
        ordered = sorted(cases, key=lambda c: c[2] != m.version.id)
        key = (m.version.id, m.change)
        survived = all(run_case(engine, doc, i, None).ok for doc, i, _ in ordered)
        if key in declared:
            seen.add(key)
            if survived:
                equivalent.append(m)
                continue
            doc, i = declared[key]
            problems.append(doc.problem(Code.MUTANT_KILLED, f"'{m.change}' is declared equivalent, but a case notices it",
                                        ("equivalent_mutants", i), hint="remove the declaration", severity="warning"))
        if survived:
            survivors.append(m)
    for key, (doc, i) in declared.items():
        if key not in seen and any(_under(v.file, path) for v in policy_set.versions() if v.id == key[0]):
            problems.append(doc.problem(Code.MUTANT_UNKNOWN, f"no mutant of {key[0]} is '{key[1]}'",
                                        ("equivalent_mutants", i, "change"), severity="warning",
                                        hint="write the change as the report words it (regelverk test --mutate -v)"))
    return MutationRun(mutants, survivors, len(cases), time.perf_counter() - start, problems, equivalent=equivalent)


def where(m: Mutant) -> str:
    """file:line:column of a mutant's change, read from the policy file for the report only."""
    doc, _ = load_yaml(m.version.file, m.version.file)
    if doc is None:
        return f"{m.version.file}:1:1"
    loc = doc.offset_location(m.path, m.offset) if m.offset is not None else doc.location(m.path)
    return str(loc)
