"""Lint a loaded policy set: unused parameters, rules no contact can reach, conflicting outputs.

Loading (`repository.load_policy_set`) already rejects what cannot run: schema, syntax, types,
placement, overlapping versions. The lint looks at what runs but is likely wrong. Its reasoning
is a small, sound constraint analysis: a condition is turned into the ways it can be true (or
false), each a conjunction of the values some contact fields must take. Only equality,
`in`/`not in`, `is known`/`is missing` and yes/no facts on the contact's own fields are
understood; everything else (counts, comparisons of numbers and dates, lists) is treated as
"may be true, may be false". So the lint only claims "no contact can …" when that is certain;
it may miss a dead rule, it never invents one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path

from ..errors import Code, Problem, closest
from ..language import ast
from ..language.types import Type
from ..language.values import show
from ..loading.policy import PLACEHOLDER, PolicyVersion, Rule
from ..loading.repository import PolicySet
from ..loading.yamlsource import SourceDoc, load_yaml
from ..resources import load_schema

# How many alternative conjunctions one condition may unfold into before the analysis gives
# up on it (and then claims nothing about it). Policy conditions stay far below this.
MAX_TERMS = 256


class _Missing:
    """The value of a fact the contact does not carry."""

    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


@dataclass(frozen=True)
class Values:
    """A set of values a field may take: `inside` lists them, or (not inside) lists those it may not."""

    inside: bool
    items: frozenset

    @property
    def empty(self) -> bool:
        return self.inside and not self.items

    def meet(self, other: Values) -> Values:
        if self.inside and other.inside:
            return Values(True, self.items & other.items)
        if self.inside:
            return Values(True, self.items - other.items)
        if other.inside:
            return Values(True, other.items - self.items)
        return Values(False, self.items | other.items)

    def join(self, other: Values) -> Values:
        if self.inside and other.inside:
            return Values(True, self.items | other.items)
        if self.inside:
            return Values(False, other.items - self.items)
        if other.inside:
            return Values(False, self.items - other.items)
        return Values(False, self.items & other.items)


def _is(*values) -> Values:
    return Values(True, frozenset(values))


def _not(*values) -> Values:
    return Values(False, frozenset(values))


KNOWN = _not(MISSING)


def _show(value) -> str:
    return "missing" if value is MISSING else show(value)


def _sorted(items) -> list:
    return sorted(items, key=lambda v: (v is MISSING, _show(v)))


def describe(field: str, values: Values) -> str:
    """A field's values in the condition language's words: `channel in ["video", "phone"]`."""
    present = [v for v in _sorted(values.items) if v is not MISSING]
    has_missing = MISSING in values.items
    if values.inside:
        if not present:
            return f"{field} is missing" if has_missing else f"{field} has no possible value"
        if len(present) == 1 and isinstance(present[0], bool):
            text = field if present[0] else f"not {field}"
        elif len(present) == 1:
            text = f"{field} = {_show(present[0])}"
        else:
            text = f"{field} in [{', '.join(_show(v) for v in present)}]"
        return f"{text} (or {field} is missing)" if has_missing else text
    if not present:
        return f"{field} is known" if has_missing else f"{field} is anything"
    text = (f"{field} != {_show(present[0])}" if len(present) == 1
            else f"{field} not in [{', '.join(_show(v) for v in present)}]")
    return text if has_missing else f"{text} (or {field} is missing)"


Conj = dict  # field name -> Values; absent means the field's whole domain


class Space:
    """The values each contact field can take, from the contact schema."""

    def __init__(self, fields: dict[str, Type]):
        schema = load_schema("contact.schema.json")
        props = schema.get("properties", {})
        # Required fields are always there in a valid contact; fields with a default are filled.
        never_missing = set(schema.get("required", [])) | {n for n, s in props.items() if "default" in s}
        self.fields = fields
        self._full: dict[str, Values] = {}
        for name, t in fields.items():
            base = None
            if t.values:
                base = frozenset(t.values)
            elif t.kind == "boolean":
                base = frozenset({True, False})
            maybe_missing = frozenset() if name in never_missing else frozenset({MISSING})
            self._full[name] = Values(True, base | maybe_missing) if base is not None else Values(False, frozenset({MISSING}) - maybe_missing)

    def full(self, name: str) -> Values:
        return self._full[name]

    def meet(self, a: Conj, b: Conj) -> tuple[Conj | None, str | None]:
        """Both conjunctions at once, or None and the field that can then take no value."""
        out = dict(a)
        for name, values in b.items():
            current = out.get(name)
            new = (current or self.full(name)).meet(values)
            if new.empty:
                return None, name
            out[name] = new
        return out, None

    def atom(self, name: str, values: Values) -> list[Conj]:
        met, _ = self.meet({}, {name: values})
        return [met] if met is not None else []

    def both(self, *alternatives: list[Conj]) -> tuple[list[Conj], set[str]]:
        """The ways all the given conditions hold at once, and the fields that ruled ways out."""
        result: list[Conj] = [{}]
        culprits: set[str] = set()
        for alt in alternatives:
            nxt = []
            for a, b in product(result, alt):
                met, field = self.meet(a, b)
                if met is None:
                    culprits.add(field)
                else:
                    nxt.append(met)
            if len(nxt) > MAX_TERMS:
                return [{}], culprits  # too many ways: claim nothing
            result = nxt
            if not result:
                break
        return result, culprits

    def values_of(self, name: str, alternatives: list[Conj]) -> Values | None:
        """The values a field takes over all the ways a condition holds."""
        joined = None
        for conj in alternatives:
            v = conj.get(name) or self.full(name)
            joined = v if joined is None else joined.join(v)
        return joined

    def witness(self, conj: Conj) -> str:
        parts = [describe(n, v) for n, v in sorted(conj.items()) if v != self.full(n)]
        return " and ".join(parts)


class Analysis:
    """The ways a condition of one policy version can be true and can be false."""

    def __init__(self, space: Space, parameters: dict):
        self.space = space
        self.parameters = parameters

    def true(self, node: ast.Node) -> list[Conj]:
        return self._ways(node, True)

    def false(self, node: ast.Node) -> list[Conj]:
        return self._ways(node, False)

    def _ways(self, node: ast.Node, want: bool) -> list[Conj]:
        s = self.space
        if isinstance(node, ast.Not):
            return self._ways(node.operand, not want)
        if isinstance(node, (ast.And, ast.Or)):
            left, right = self._ways(node.left, want), self._ways(node.right, want)
            if isinstance(node, ast.And) == want:  # and-true, or-false: both sides
                return s.both(left, right)[0]
            ways = left + right  # and-false, or-true: either side
            return ways if len(ways) <= MAX_TERMS else [{}]
        constant = self._constant(node)
        if isinstance(constant, bool):
            return [{}] if constant == want else []
        atom = self._atom(node)
        if atom is not None:
            name, if_true, if_false = atom
            return s.atom(name, if_true if want else if_false)
        # Not understood: it may come out either way, but a comparison, `in`, `contains` or
        # `is empty` with a missing operand is unknown, never true or false.
        ways: list[Conj] = [{}]
        for operand in self._direct_operands(node):
            ways = s.both(ways, s.atom(operand, KNOWN))[0]
        return ways

    def _field(self, node) -> str | None:
        if isinstance(node, ast.Name) and node.name in self.space.fields and node.name not in self.parameters:
            return node.name
        return None

    def _constant(self, node):
        if isinstance(node, ast.Literal):
            return node.value
        if isinstance(node, ast.ListLit) and all(isinstance(i, ast.Literal) for i in node.items):
            return [i.value for i in node.items]
        if isinstance(node, ast.Name) and node.name in self.parameters:
            return self.parameters[node.name]
        return None

    def _atom(self, node) -> tuple[str, Values, Values] | None:
        """(field, values that make it true, values that make it false) for a simple test."""
        if self._field(node) and self.space.fields[node.name].kind == "boolean":
            return node.name, _is(True), _is(False)
        if isinstance(node, ast.Compare) and node.op in ("=", "!="):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                name, value = self._field(a), self._constant(b)
                if name and value is not None and not isinstance(value, list):
                    equal, unequal = _is(value), _not(value, MISSING)
                    return (name, equal, unequal) if node.op == "=" else (name, unequal, equal)
            return None
        if isinstance(node, ast.Member):
            name, values = self._field(node.item), self._constant(node.collection)
            if name and isinstance(values, list):
                inside, outside = _is(*values), _not(*values, MISSING)
                return (name, outside, inside) if node.negated else (name, inside, outside)
            return None
        if isinstance(node, ast.IsKnown):
            name = self._field(node.operand)
            if name:
                return (name, _is(MISSING), KNOWN) if node.negated else (name, KNOWN, _is(MISSING))
        return None

    def _direct_operands(self, node) -> list[str]:
        if isinstance(node, ast.Compare):
            candidates = [node.left, node.right]
        elif isinstance(node, ast.Member):
            candidates = [node.item, node.collection]
        elif isinstance(node, ast.Contains):
            candidates = [node.collection, node.item]
        elif isinstance(node, ast.IsEmpty):
            candidates = [node.operand]
        else:
            candidates = []
        return [n for n in (self._field(c) for c in candidates) if n]


# --- the checks ------------------------------------------------------------------------------


@dataclass
class _Version:
    """A checked version with its source (for positions) and its conditions analysed."""

    version: PolicyVersion
    doc: SourceDoc | None
    analysis: Analysis
    applies: list[Conj]
    rule_index: dict[str, int]

    def problem(self, code: str, message: str, path: tuple, *, key: bool = False, severity: str = "warning",
                hint: str | None = None) -> Problem:
        if self.doc is None:
            from ..errors import Location
            return Problem(code, message, Location(self.version.file, 1, 1), None, severity, hint)
        return self.doc.problem(code, message, path, key=key, severity=severity, hint=hint)

    def rule_path(self, rule: Rule) -> tuple:
        return ("rules", self.rule_index.get(rule.id, 0))

    def where(self, rule: Rule) -> str:
        loc = self.doc.location(self.rule_path(rule)) if self.doc else None
        return f"{loc.file}:{loc.line}" if loc else self.version.file


def _source_of(policy_set: PolicySet, v: PolicyVersion) -> SourceDoc | None:
    candidates = [Path(policy_set.root) / v.region / v.id / f"{v.version}.yaml", Path(v.file)]
    for path in candidates:
        if path.is_file():
            doc, _ = load_yaml(path, v.file)
            if doc is not None:
                return doc
    return None


def _prepare(policy_set: PolicySet, space: Space) -> list[_Version]:
    prepared = []
    for v in policy_set.versions():
        doc = _source_of(policy_set, v)
        rules = (v.document.get("rules") or []) if isinstance(v.document, dict) else []
        index = {r.get("id"): i for i, r in enumerate(rules) if isinstance(r, dict)}
        analysis = Analysis(space, v.parameters)
        prepared.append(_Version(v, doc, analysis, analysis.true(v.applies_when), index))
    return prepared


def _unused_parameters(pv: _Version) -> list[Problem]:
    v = pv.version
    used: set[str] = set()
    for node in [v.applies_when] + [r.when for r in v.rules]:
        used.update(n.name for n in ast.walk(node) if isinstance(n, ast.Name))
    for r in v.rules:
        for lang in ("sv", "en"):
            used.update(m.group(1).strip() for m in PLACEHOLDER.finditer(r.message.raw.get(lang, "")))
    return [pv.problem(Code.UNUSED_PARAMETER,
                       f"parameter '{name}' is declared but no condition or message uses it",
                       ("parameters", name), key=True,
                       hint="remove it, or use it where the rule now writes its value")
            for name in v.parameters if name not in used]


def _unreachable(pv: _Version) -> list[Problem]:
    v, a, s = pv.version, pv.analysis, pv.analysis.space
    if not pv.applies:
        culprits = sorted(s.both(*_split_and(a, v.applies_when))[1])
        return [pv.problem(Code.NEVER_APPLIES, "applies_when cannot be true for any contact, so the policy never applies"
                           + (f"; it asks contradictory things of {', '.join(culprits)}" if culprits else ""),
                           ("applies_when",), severity="error")]
    problems = []
    for r in v.rules:
        path = pv.rule_path(r)
        alone = a.true(r.when)
        if not alone:
            culprits = sorted(s.both(*_split_and(a, r.when))[1])
            problems.append(pv.problem(
                Code.UNREACHABLE_RULE,
                f"rule '{r.id}' can never fire: no contact can make its condition true"
                + (f"; it asks contradictory things of {', '.join(culprits)}" if culprits else ""),
                path + ("when",), severity="error"))
            continue
        together, culprits = s.both(pv.applies, alone)
        if not together:
            why = "; ".join(
                f"the policy applies only when {describe(f, s.values_of(f, pv.applies))}, "
                f"and the rule needs {describe(f, s.values_of(f, alone))}"
                for f in sorted(culprits))
            problems.append(pv.problem(
                Code.UNREACHABLE_RULE,
                f"rule '{r.id}' can never fire for a contact the policy applies to: {why}",
                path + ("when",),
                hint="widen applies_when, or remove the rule if the text's case lies outside this policy"))
            continue
        if r.otherwise and not s.both(pv.applies, a.false(r.when))[0]:
            problems.append(pv.problem(
                Code.OTHERWISE_UNREACHABLE,
                f"rule '{r.id}': its condition is never false for a contact the policy applies to, "
                "so 'otherwise' never takes effect",
                path + ("otherwise",), key=True))
    return problems


# The folder a policy that belongs to no single region stands in (docs/policy-format.md).
NO_REGION = "any"


def _regions(policy_set: PolicySet) -> set[str]:
    """The regions the policy folders are for (policies/<region>/), and the repository's own."""
    regions = {v.region for v in policy_set.versions()} | ({policy_set.settings.region} - {None})
    return regions - {NO_REGION}


def _region_values(node: ast.Node, parameters: dict):
    """(the node that holds it, value) for every text a condition compares `region` with:
    `region = "x"`, `region != "x"`, `region in ["x", …]`, or a parameter holding them."""
    def is_region(n) -> bool:
        return ((isinstance(n, ast.Name) and n.name not in parameters) or isinstance(n, ast.CurrentField)) \
            and n.name == "region"

    def texts(n):
        if isinstance(n, ast.Literal) and isinstance(n.value, str):
            yield n, n.value
        elif isinstance(n, ast.ListLit):
            for item in n.items:
                yield from texts(item)
        elif isinstance(n, ast.Name) and n.name in parameters:
            value = parameters[n.name]
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str):
                    yield n, v

    for n in ast.walk(node):
        if isinstance(n, ast.Compare) and n.op in ("=", "!="):
            for a, b in ((n.left, n.right), (n.right, n.left)):
                if is_region(a):
                    yield from texts(b)
        elif isinstance(n, ast.Member) and is_region(n.item):
            yield from texts(n.collection)


def _unknown_regions(pv: _Version, regions: set[str]) -> list[Problem]:
    """A region a condition asks for that no policy folder is for: most likely a misspelling,
    and then the policy (or rule) silently never applies."""
    if not regions:
        return []
    v = pv.version
    conditions = [(("applies_when",), v.applies_when)] + [(pv.rule_path(r) + ("when",), r.when) for r in v.rules]
    problems = []
    for path, node in conditions:
        for holder, value in _region_values(node, v.parameters):
            if value in regions:
                continue
            guess = closest(value, regions)
            hint = (f'did you mean "{guess}"?' if guess
                    else f"the policy folders are for {', '.join(sorted(regions))}")
            message = (f'region "{value}" is not the region of any policy folder (policies/<region>/): '
                       "if it is misspelt, the condition never matches the contacts it is meant for")
            if pv.doc is None:
                problems.append(pv.problem(Code.UNKNOWN_REGION, message, path, hint=hint))
                continue
            loc = pv.doc.offset_location(path, holder.offset)
            problems.append(Problem(Code.UNKNOWN_REGION, message, loc, pv.doc.line_text(loc.line), "warning", hint))
    return problems


def _split_and(a: Analysis, node: ast.Node) -> list[list[Conj]]:
    """The ways each top-level conjunct can be true, so that `both` names the clashing fields."""
    if isinstance(node, ast.And):
        return _split_and(a, node.left) + _split_and(a, node.right)
    return [a.true(node)]


def _effects(pv: _Version, single: set[str]):
    """(rule, 'then'|'otherwise', output, value, ways the branch is taken) for single outputs."""
    a = pv.analysis
    for r in pv.version.rules:
        for branch, effects in (("then", r.then), ("otherwise", r.otherwise)):
            chosen = {o: val for o, val in effects.items() if o in single}
            if not chosen:
                continue
            ways = a.true(r.when) if branch == "then" else a.false(r.when)
            for output, value in chosen.items():
                yield r, branch, output, value, ways


def _branch_words(rule: Rule, branch: str) -> str:
    return f"rule '{rule.id}'" + (" (otherwise)" if branch == "otherwise" else "")


def _conflicts(pvs: list[_Version], single: set[str]) -> list[Problem]:
    problems = []
    s = pvs[0].analysis.space if pvs else None
    effects = {id(pv): list(_effects(pv, single)) for pv in pvs}
    for pv in pvs:
        found = effects[id(pv)]
        for i, (r1, b1, o1, val1, w1) in enumerate(found):
            for r2, b2, o2, val2, w2 in found[i + 1:]:
                if o1 != o2 or val1 == val2 or r1.id == r2.id:
                    continue
                ways, _ = s.both(pv.applies, w1, w2)
                if ways:
                    problems.append(pv.problem(
                        Code.OUTPUT_CONFLICT,
                        f"{_branch_words(r2, b2)} sets {o2} to {_show(val2)} and {_branch_words(r1, b1)} "
                        f"({pv.where(r1)}) sets it to {_show(val1)}; a contact can meet both"
                        + _example(s, ways[0]),
                        pv.rule_path(r2) + (b2, o2), key=True,
                        hint=f"{o2} is a single value: two different values are a conflict and the output becomes null"))
    for i, p1 in enumerate(pvs):
        for p2 in pvs[i + 1:]:
            v1, v2 = p1.version, p2.version
            if v1.id == v2.id or not _periods_meet(v1, v2):
                continue
            if not s.both(p1.applies, p2.applies)[0]:
                continue
            for r1, b1, o1, val1, w1 in effects[id(p1)]:
                for r2, b2, o2, val2, w2 in effects[id(p2)]:
                    if o1 != o2 or val1 == val2:
                        continue
                    ways, _ = s.both(p1.applies, p2.applies, w1, w2)
                    if ways:
                        problems.append(p2.problem(
                            Code.OUTPUT_CONFLICT,
                            f"{_branch_words(r2, b2)} sets {o2} to {_show(val2)} and {_branch_words(r1, b1)} of "
                            f"{v1.id} {v1.version} ({p1.where(r1)}) sets it to {_show(val1)}; a contact both "
                            "policies apply to can meet both" + _example(s, ways[0]),
                            p2.rule_path(r2) + (b2, o2), key=True,
                            hint=f"{o2} is a single value: narrow one policy's applies_when or one rule's condition"))
    return problems


def _example(space: Space, conj: Conj) -> str:
    text = space.witness(conj)
    return f", for example when {text}" if text else ""


def _periods_meet(a: PolicyVersion, b: PolicyVersion) -> bool:
    a_end = a.valid_to or b.valid_from.max
    b_end = b.valid_to or a.valid_from.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def lint_policy_set(policy_set: PolicySet) -> list[Problem]:
    """Every lint finding for a loaded policy set, sorted by place."""
    space = Space(policy_set.fields)
    pvs = _prepare(policy_set, space)
    problems: list[Problem] = []
    regions = _regions(policy_set)
    for pv in pvs:
        problems += _unused_parameters(pv)
        problems += _unknown_regions(pv, regions)
        problems += _unreachable(pv)
    single = {name for name, spec in policy_set.outputs.items() if spec.combine == "single"}
    problems += _conflicts([pv for pv in pvs if pv.applies], single)
    return sorted(problems, key=Problem.sort_key)
