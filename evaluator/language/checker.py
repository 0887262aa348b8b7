"""Type-check a condition against the contact schema and the policy's parameters, before it runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Code, closest
from . import ast
from .functions import FUNCTIONS
from .parser import SWEDISH_WORDS
from .types import BOOLEAN, DATE, DURATION, INTEGER, STRING, Names, Type, compatible, list_of

KEYWORDS = frozenset(
    "and or not in contains is empty known missing true false current was same iso within since "
    "latest count of earlier contacts contact where any no".split()
)


@dataclass(frozen=True)
class TypeProblem:
    offset: int
    code: str
    message: str
    hint: str | None = None


class _Check:
    def __init__(self, names: Names, allow_history: bool):
        self.names = names
        self.allow_history = allow_history
        self.types: dict[int, Type] = {}
        self.problems: list[TypeProblem] = []

    def fail(self, node: ast.Node, message: str, code: str = Code.TYPE_ERROR, hint: str | None = None):
        self.problems.append(TypeProblem(node.offset, code, message, hint))

    def expr(self, node: ast.Node, in_filter: bool, in_anchor: bool = False) -> Type | None:
        t = self._expr(node, in_filter, in_anchor)
        if t is not None:
            self.types[id(node)] = t
        return t

    def _did_you_mean(self, name: str, pool) -> str | None:
        guess = closest(name, pool)
        return f"did you mean '{guess}'?" if guess else None

    def _expr(self, node, in_filter, in_anchor):  # noqa: C901 - one case per node kind
        n = self.names
        e = lambda sub: self.expr(sub, in_filter, in_anchor)  # noqa: E731
        if isinstance(node, ast.Literal):
            v = node.value
            if isinstance(v, bool):
                return BOOLEAN
            if isinstance(v, int):
                return INTEGER
            if isinstance(v, str):
                return STRING
            return DATE
        if isinstance(node, ast.ListLit):
            for item in node.items:
                if not isinstance(item, ast.Literal):
                    self.fail(item, "a list is written out with values only, as in [\"video\", \"phone\"]",
                              hint="for a list kept in a parameter, name the parameter instead of the list")
                    return None
            kinds = [e(item) for item in node.items]
            if any(k is None for k in kinds):
                return None
            if not kinds:
                return list_of("string")
            first = kinds[0]
            for item, k in zip(node.items, kinds, strict=True):
                if k.kind != first.kind or k.kind not in ("string", "integer"):
                    self.fail(item, f"a list holds texts or whole numbers of one kind, not {k}")
                    return None
            return list_of(first.kind)
        if isinstance(node, ast.Name):
            if node.name in n.fields:
                return n.fields[node.name]
            if node.name in n.parameters:
                return n.parameters[node.name]
            if node.name in n.outputs:
                self.fail(node, f"'{node.name}' is an output, not a fact of the contact",
                          Code.UNKNOWN_NAME, f"an earlier contact's output is written 'was {node.name}'")
                return None
            pool = list(n.fields) + list(n.parameters)
            self.fail(node, f"'{node.name}' is neither a field of the contact nor a parameter",
                      Code.UNKNOWN_NAME, self._did_you_mean(node.name, pool)
                      or f'if it is a value, write it in quotes: "{node.name}"')
            return None
        if isinstance(node, ast.CurrentField):
            if node.name in n.fields:
                return n.fields[node.name]
            self.fail(node, f"'current.{node.name}': '{node.name}' is not a field of the contact",
                      Code.UNKNOWN_NAME, self._did_you_mean(node.name, n.fields))
            return None
        if isinstance(node, ast.Call):
            if node.function not in FUNCTIONS:
                english = SWEDISH_WORDS.get(node.function)
                self.fail(node, f"there is no function '{node.function}'", Code.UNKNOWN_NAME,
                          f"write '{english}': conditions use English words" if english
                          else self._did_you_mean(node.function, FUNCTIONS))
                return None
            params, result = FUNCTIONS[node.function].params, FUNCTIONS[node.function].result
            if len(node.args) != len(params):
                self.fail(node, f"{node.function}( ) takes {len(params)} value(s), not {len(node.args)}")
                return None
            for arg, want in zip(node.args, params, strict=True):
                got = e(arg)
                if got is not None and got.kind != want:
                    self.fail(arg, f"{node.function}( ) takes a {want}, not {got}")
            return result
        if isinstance(node, ast.Not):
            self._want_bool(node.operand, in_filter, in_anchor, "'not'")
            return BOOLEAN
        if isinstance(node, (ast.And, ast.Or)):
            word = "'and'" if isinstance(node, ast.And) else "'or'"
            self._want_bool(node.left, in_filter, in_anchor, word)
            self._want_bool(node.right, in_filter, in_anchor, word)
            return BOOLEAN
        if isinstance(node, ast.Compare):
            a, b = e(node.left), e(node.right)
            if a is None or b is None:
                return BOOLEAN
            if not compatible(a, b):
                # Where a side is a parameter, its definition may be the slip: say which.
                params = [f"'{s.name}' is a parameter of type {t}: check its value under parameters"
                          for s, t in ((node.left, a), (node.right, b))
                          if isinstance(s, ast.Name) and s.name in self.names.parameters]
                # 2026-7-1 is read as 2026 minus 7 minus 1: a date with a one-digit month or day
                params += [_date_hint(s) for s in (node.left, node.right) if _date_hint(s)]
                self.fail(node, f"cannot compare {a} with {b}", hint="; ".join(params) or None)
                return BOOLEAN
            if node.op not in ("=", "!=") and a.kind not in ("integer", "date", "time"):
                self.fail(node, f"'{node.op}' compares numbers, dates and times, not {a}")
            self._check_enum(a, node.right)
            self._check_enum(b, node.left)
            return BOOLEAN
        if isinstance(node, ast.Member):
            item, coll = e(node.item), e(node.collection)
            if item is None or coll is None:
                return BOOLEAN
            if coll.kind != "list":
                self.fail(node.collection, f"'in' needs a list after it, not {coll}",
                          hint='write for example: channel in ["video", "phone"]')
            elif coll.element != item.kind:
                self.fail(node, f"a {item} cannot be in a {coll}")
            elif isinstance(node.collection, ast.ListLit):
                for lit in node.collection.items:
                    self._check_enum(item, lit)
            else:
                self._check_enum(item, node.collection)
            return BOOLEAN
        if isinstance(node, ast.Contains):
            coll, item = e(node.collection), e(node.item)
            if coll is None or item is None:
                return BOOLEAN
            if coll.kind != "list":
                self.fail(node.collection, f"'contains' needs a list before it, not {coll}")
            elif coll.element != item.kind:
                self.fail(node.item, f"a {coll} cannot contain a {item}")
            return BOOLEAN
        if isinstance(node, ast.IsEmpty):
            t = e(node.operand)
            if t is not None and t.kind != "list":
                self.fail(node, f"'is empty' is said of a list, not of a {t}")
            return BOOLEAN
        if isinstance(node, ast.IsKnown):
            t = e(node.operand)
            if not isinstance(node.operand, (ast.Name, ast.CurrentField)) or (
                isinstance(node.operand, ast.Name) and node.operand.name in n.parameters
            ):
                self.fail(node, "'is known' and 'is missing' are said of a field of the contact")
            return BOOLEAN
        if isinstance(node, ast.Arith):
            a, b = e(node.left), e(node.right)
            if a is None or b is None:
                return None
            if a.kind == b.kind == "integer":
                return INTEGER
            if node.op in "+-" and a.kind == "date" and b.kind == "duration":
                return DATE
            if node.op == "+" and a.kind == "duration" and b.kind == "date":
                return DATE
            self.fail(node, f"cannot compute {a} {node.op} {b}",
                      hint="dates move by durations, as in: date - 12 months")
            return None
        if isinstance(node, ast.Neg):
            t = e(node.operand)
            if t is not None and t.kind != "integer":
                self.fail(node, f"'-' goes before a whole number, not a {t}")
            return INTEGER
        if isinstance(node, ast.Duration):
            t = e(node.amount)
            if t is not None and t.kind != "integer":
                self.fail(node, f"a duration counts whole {node.unit}s; {t} is not a whole number")
            if not self._fixed(node.amount):
                # (a window whose length a contact gives would have no length where the contact
                # lacks the fact: the engine could neither count nor say what it missed)
                self.fail(node, "a duration's length is a number or a parameter, not a contact field",
                          hint="write a whole number (within 12 months) or a parameter (within max_months "
                               "months); arithmetic on those is fine too")
            return DURATION
        if isinstance(node, ast.Aggregate):
            if not self.allow_history:
                self.fail(node, "the patient's history cannot be used here", Code.HISTORY_NOT_ALLOWED,
                          "history counts belong in a rule's 'when', not in 'applies_when'")
            elif in_filter:
                self.fail(node, "a history count cannot stand inside another one", Code.HISTORY_NESTED)
            elif node.filter is not None:
                self._want_bool(node.filter, True, False, "'where'")
            return INTEGER if node.kind == "count" else BOOLEAN
        if isinstance(node, (ast.SameField, ast.SameIsoWeek, ast.SamePeriod, ast.Within,
                             ast.SinceLatest, ast.Was)):
            if not in_filter:
                words = {ast.SameField: "same …", ast.SameIsoWeek: "same iso week",
                         ast.SamePeriod: "same month/year", ast.Within: "within …",
                         ast.SinceLatest: "since latest ( … )", ast.Was: "was …"}[type(node)]
                self.fail(node, f"'{words}' compares an earlier contact with this one and can "
                          "only stand inside a history count: … where ( … )", Code.WINDOW_OUTSIDE_HISTORY)
                return BOOLEAN
            if isinstance(node, ast.SameField) and node.name not in n.fields:
                self.fail(node, f"'same {node.name}': '{node.name}' is not a field of the contact",
                          Code.UNKNOWN_NAME, self._did_you_mean(node.name, n.fields))
            if isinstance(node, ast.Within):
                t = e(node.duration)
                if t is not None and t.kind != "duration":
                    self.fail(node, "'within' takes a duration, as in: within 12 months")
            if isinstance(node, ast.SinceLatest):
                if in_anchor:
                    self.fail(node, "'since latest' cannot stand inside another 'since latest'")
                else:
                    self._want_bool(node.anchor, True, True, "'since latest'")
            if isinstance(node, ast.Was):
                spec = n.outputs.get(node.output)
                if spec is None:
                    self.fail(node, f"'was {node.output}': there is no output '{node.output}'",
                              Code.UNKNOWN_NAME, self._did_you_mean(node.output, n.outputs))
                elif spec.type.kind != "boolean":
                    self.fail(node, f"'was {node.output}' needs a yes/no output; "
                              f"'{node.output}' is a {spec.type}")
            return BOOLEAN
        raise TypeError(f"unknown node {type(node).__name__}")  # pragma: no cover

    def _fixed(self, node) -> bool:
        """Whether `node` has the same value for every contact: built of literals and the
        version's parameters alone (with arithmetic, '-' and functions over them)."""
        if isinstance(node, ast.Literal):
            return True
        if isinstance(node, ast.Name):
            return node.name in self.names.parameters and node.name not in self.names.fields
        if isinstance(node, ast.Neg):
            return self._fixed(node.operand)
        if isinstance(node, ast.Arith):
            return self._fixed(node.left) and self._fixed(node.right)
        if isinstance(node, ast.Call):
            return all(self._fixed(a) for a in node.args)
        return False

    def _want_bool(self, node, in_filter, in_anchor, where):
        t = self.expr(node, in_filter, in_anchor)
        if t is not None and t.kind != "boolean":
            self.fail(node, f"{where} needs a yes/no condition, not a {t}")

    def _check_enum(self, enum_type: Type, other: ast.Node):
        if enum_type.values and isinstance(other, ast.Name) and other.name in self.names.parameter_values \
                and other.name not in self.names.fields:
            value = self.names.parameter_values[other.name]
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v not in enum_type.values:
                    guess = closest(v, enum_type.values)
                    self.fail(other, f'parameter {other.name} holds "{v}", which is not a possible value; the field '
                              f"is {enum_type}", Code.UNKNOWN_VALUE, f'did you mean "{guess}"?' if guess else None)
            return
        if enum_type.values and isinstance(other, ast.Literal) and isinstance(other.value, str):
            if other.value not in enum_type.values:
                guess = closest(other.value, enum_type.values)
                self.fail(other, f'"{other.value}" is not a possible value; the field is {enum_type}',
                          Code.UNKNOWN_VALUE, f'did you mean "{guess}"?' if guess else None)


def check_condition(node: ast.Node, names: Names, *, allow_history: bool) -> tuple[dict[int, Type], list[TypeProblem]]:
    """Types of every node (by id) and the problems found; the whole must be a yes/no condition."""
    check = _Check(names, allow_history)
    t = check.expr(node, False)
    if t is not None and t.kind != "boolean":
        check.fail(node, f"a condition must be yes/no; this is a {t}")
    return check.types, check.problems


__all__ = ["KEYWORDS", "TypeProblem", "check_condition"]


def _whole(node) -> int | None:
    value = node.value if isinstance(node, ast.Literal) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _date_hint(node) -> str | None:
    """A hint where `node` is a date written with a one-digit month or day (2026-7-1), which
    the language reads as arithmetic, 2026 minus 7 minus 1: the date as it is written."""
    if not (isinstance(node, ast.Arith) and node.op == "-" and isinstance(node.left, ast.Arith)
            and node.left.op == "-"):
        return None
    year, month, day = _whole(node.left.left), _whole(node.left.right), _whole(node.right)
    if year is None or month is None or day is None or not (1000 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return (f"a date is written YYYY-MM-DD, with a two-digit month and day: {year}-{month:02d}-{day:02d}; "
            f"{year}-{month}-{day} is read as arithmetic, {year} minus {month} minus {day}")
