"""The reference interpreter: a deliberately simple tree walk, to check the generated code against.

It walks checked conditions and whole decisions with no optimisation and no caches.

It reads the contract and the condition language's meaning as directly as it can: every
history count looks at every earlier contact, `and`/`or` evaluate both sides (Kleene logic), a
count over contacts whose match is unknown is a range, and a comparison or list test on a range
holds only when it holds for every count in it. It is slow on purpose; only tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..language import ast
from ..language.dates import shift
from ..language.functions import FUNCTIONS


@dataclass(frozen=True)
class Between:
    """A count known only to lie between lo and hi (earlier contacts with unknown facts)."""

    lo: int
    hi: int


@dataclass
class Earlier:
    """An earlier contact of the patient: its facts and its decided outputs."""

    contact: dict
    outputs: dict
    index: int


def _values(v) -> list:
    return list(range(v.lo, v.hi + 1)) if isinstance(v, Between) else [v]


def _all_agree(results: set):
    return results.pop() if len(results) == 1 else None


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


_COMPARE = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class Interpreter:
    """Evaluates conditions of one version for one contact, given its earlier contacts."""

    def __init__(self, parameters: dict, contact: dict, history: list[Earlier]):
        self.parameters = parameters
        self.contact = contact
        self.history = history
        self.day: date = contact["date"]

    def run(self, node: ast.Node, row: Earlier | None = None):  # noqa: C901 - one case per node kind
        """The value of `node`; `row` is the earlier contact a history filter is looking at."""
        if isinstance(node, ast.Literal):
            return node.value
        if isinstance(node, ast.ListLit):
            return [item.value for item in node.items]
        if isinstance(node, ast.Name):
            if node.name in self.parameters:
                return self.parameters[node.name]
            return (row.contact if row is not None else self.contact).get(node.name)
        if isinstance(node, ast.CurrentField):
            return self.contact.get(node.name)
        if isinstance(node, ast.Call):
            args = [self.run(a, row) for a in node.args]
            return None if any(a is None for a in args) else FUNCTIONS[node.function].implementation(*args)
        if isinstance(node, ast.Not):
            v = self.run(node.operand, row)
            return None if v is None else not v
        if isinstance(node, ast.And):
            return _kleene_and(self.run(node.left, row), self.run(node.right, row))
        if isinstance(node, ast.Or):
            return _kleene_or(self.run(node.left, row), self.run(node.right, row))
        if isinstance(node, ast.Compare):
            a, b = self.run(node.left, row), self.run(node.right, row)
            if a is None or b is None:
                return None
            fn = _COMPARE[node.op]
            return _all_agree({fn(x, y) for x in _values(a) for y in _values(b)})
        if isinstance(node, (ast.Member, ast.Contains)):
            item, coll = self.run(node.item, row), self.run(node.collection, row)
            if item is None or coll is None:
                return None
            negated = getattr(node, "negated", False)
            return _all_agree({(x in coll) != negated for x in _values(item)})
        if isinstance(node, ast.IsEmpty):
            v = self.run(node.operand, row)
            return None if v is None else (len(v) == 0) != node.negated
        if isinstance(node, ast.IsKnown):
            return (self.run(node.operand, row) is None) == node.negated
        if isinstance(node, ast.Arith):
            a, b = self.run(node.left, row), self.run(node.right, row)
            if a is None or b is None:
                return None
            if isinstance(a, date):
                return shift(a, b[0] if node.op == "+" else -b[0], b[1])
            if isinstance(b, date):
                return shift(b, a[0], a[1])
            op = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}[node.op]
            outcomes = {op(x, y) for x in _values(a) for y in _values(b)}
            if isinstance(a, Between) or isinstance(b, Between):
                return Between(min(outcomes), max(outcomes))
            return outcomes.pop()
        if isinstance(node, ast.Neg):
            v = self.run(node.operand, row)
            if isinstance(v, Between):
                return Between(-v.hi, -v.lo)
            return None if v is None else -v
        if isinstance(node, ast.Duration):
            n = self.run(node.amount, row)
            return None if n is None else (n, node.unit)
        if isinstance(node, ast.Aggregate):
            return self.aggregate(node)
        # The rest only make sense inside a history filter, about `row`.
        if isinstance(node, ast.SameField):
            a, b = row.contact.get(node.name), self.contact.get(node.name)
            return None if a is None or b is None else a == b
        if isinstance(node, ast.SameIsoWeek):
            return row.contact["date"].isocalendar()[:2] == self.day.isocalendar()[:2]
        if isinstance(node, ast.SamePeriod):
            d = row.contact["date"]
            return d.year == self.day.year and (node.unit == "year" or d.month == self.day.month)
        if isinstance(node, ast.Within):
            amount, unit = self.run(node.duration)
            return row.contact["date"] > shift(self.day, -amount, unit)
        if isinstance(node, ast.SinceLatest):
            surely, maybe = -1, -1
            for earlier in self.history:
                v = self.run(node.anchor, earlier)
                if v is True:
                    surely, maybe = earlier.index, -1
                elif v is None:
                    maybe = earlier.index
            if row.index <= surely:
                return False
            return None if row.index <= maybe else True
        if isinstance(node, ast.Was):
            return row.outputs.get(node.output) is True
        raise TypeError(f"cannot interpret {type(node).__name__}")

    def aggregate(self, node: ast.Aggregate):
        results = [True if node.filter is None else self.run(node.filter, earlier) for earlier in self.history]
        sure, unknown = results.count(True), results.count(None)
        if node.kind == "count":
            return sure if not unknown else Between(sure, sure + unknown)
        found = True if sure else None if unknown else False
        return found if node.kind == "any" else (None if found is None else not found)


@dataclass
class Outcome:
    """What the reference decides for one contact: comparable with an engine decision."""

    status: str
    policies: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)  # (policy, rule, result)


def combine(outputs_spec: dict, given: dict, undetermined: set) -> tuple[dict, list]:
    """One value per output from what the rules gave it, as outputs.yaml describes."""
    outputs, conflicts = {}, []
    for name, spec in outputs_spec.items():
        values = given.get(name, [])
        if spec.combine == "union":
            outputs[name] = sorted({code for value, _ in values for code in value})
        elif spec.combine == "all":
            plain = [value for value, _ in values]
            if False in plain:
                outputs[name] = False
            elif name in undetermined:
                outputs[name] = None
            else:
                outputs[name] = True if True in plain else None
        else:
            distinct: dict = {}
            for value, who in values:
                distinct.setdefault(value, who)
            if len(distinct) > 1:
                policy, rule = list(distinct.values())[1]
                conflicts.append((policy, rule, "conflict"))
                outputs[name] = None
            else:
                outputs[name] = None if name in undetermined or not distinct else next(iter(distinct))
    return outputs, conflicts


def decide_patient(policy_set, contacts: list[dict]) -> list[Outcome]:
    """Decide one patient's valid, typed contacts, given in the contract's order."""
    history: list[Earlier] = []
    out = []
    for contact in contacts:
        day = contact["date"]
        applied, findings, unsure = [], [], []
        given: dict = {}
        undetermined: set = set()
        for policy_id in sorted(policy_set.policies):
            version = policy_set.policies[policy_id].in_force_on(day)
            if version is None:
                continue
            run = Interpreter(version.parameters, contact, history).run
            applies = run(version.applies_when)
            if applies is None:
                unsure.append((version.id, "applies_when", "not_applied"))
            if applies is not True:
                continue
            applied.append({"id": version.id, "version": version.version})
            for rule in version.rules:
                result = run(rule.when)
                effects = rule.then if result is True else rule.otherwise if result is False else {}
                for name, value in effects.items():
                    given.setdefault(name, []).append((value, (version.id, rule.id)))
                if result is None:
                    undetermined.update(rule.decides)
                if result is not False:
                    findings.append((version.id, rule.id, "fired" if result else "unknown"))
        if applied:
            outputs, conflicts = combine(policy_set.outputs, given, undetermined)
            outcome = Outcome("decided", applied, outputs, findings + conflicts)
        else:
            outputs, _ = combine(policy_set.outputs, {}, set())
            outcome = Outcome("no_policy", [], outputs, unsure)
        out.append(outcome)
        history.append(Earlier(contact, outcome.outputs, len(history)))
    return out


def outcome_of(decision: dict) -> Outcome:
    """An engine decision reduced to what the reference decides."""
    policies = [{"id": p["id"], "version": p["version"]} for p in decision["policies"]]
    return Outcome(decision["status"], policies, decision["outputs"],
                   [(f["policy"], f["rule"], f["result"]) for f in decision["findings"]])
