"""What a change to a condition changes in meaning: checked syntax trees compared, not text.

Two conditions mean the same when their syntax trees are equal, positions aside, with each
parameter taken at its value: a change of layout, comments, parentheses that group as before,
or a parameter's name (its value unchanged) changes no meaning. Where they differ, `parts`
names the smallest parts that changed: `>= max_per_week` → `> max_per_week`, a parameter
1 → 2, a conjunct added or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..language import ast

# Binding strength, loosest first, as grammar/conditions.lark nests them.
_OR, _AND, _NOT, _PRED, _SUM, _PRODUCT, _UNARY, _ATOM = range(8)


@dataclass(frozen=True)
class Part:
    """One changed part of a condition: old and new as condition text (None: absent)."""

    kind: str  # "changed", "added", "removed", "added_alternative", "removed_alternative", "parameter"
    old: str | None
    new: str | None
    name: str | None = None  # the parameter's, for kind "parameter"

    def words(self) -> str:
        if self.kind == "added":
            return f"new conjunct: {self.new}"
        if self.kind == "removed":
            return f"conjunct removed: {self.old}"
        if self.kind == "added_alternative":
            return f"new alternative (or): {self.new}"
        if self.kind == "removed_alternative":
            return f"alternative removed (or): {self.old}"
        if self.kind == "parameter":
            return f"parameter {self.name}: {self.old} → {self.new}"
        return f"{self.old} → {self.new}"

    def to_json(self) -> dict:
        out = {"kind": self.kind, "old": self.old, "new": self.new}
        if self.name is not None:
            out["parameter"] = self.name
        return out

    def markdown(self) -> str:
        def code(text):
            return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"

        if self.kind == "parameter":
            return f"parameter {code(self.name)}: {code(self.old)} → {code(self.new)}"
        if self.new is None or self.old is None:
            return self.words().split(": ", 1)[0] + ": " + code(self.new if self.old is None else self.old)
        return f"{code(self.old)} → {code(self.new)}"


# --- equality of meaning -------------------------------------------------------------------


def _scalars(node: ast.Node) -> tuple:
    """A node's own values (operator, name, unit, …), its children aside."""
    out = []
    for name in node.__dataclass_fields__:
        if name in ("offset", "end"):
            continue
        value = getattr(node, name)
        if isinstance(value, ast.Node) or (isinstance(value, tuple) and all(isinstance(v, ast.Node) for v in value)):
            continue
        out.append((name, type(value).__name__, value))
    return tuple(out)


def _is_param(node, params: dict) -> bool:
    return isinstance(node, ast.Name) and node.name in params


def same(a: ast.Node | None, b: ast.Node | None, pa: dict, pb: dict) -> bool:
    """Whether two checked conditions mean the same, parameters taken at their values."""
    if a is None or b is None:
        return a is b
    if _is_param(a, pa) or _is_param(b, pb):
        return (_is_param(a, pa) and _is_param(b, pb) and type(pa[a.name]) is type(pb[b.name])
                and pa[a.name] == pb[b.name])
    if type(a) is not type(b) or _scalars(a) != _scalars(b):
        return False
    if isinstance(a, (ast.And, ast.Or)):
        # A chain means its terms in order, however the parser grouped them (it balances long
        # chains: a and b and c and d is (a and b) and (c and d)).
        ca, cb = ast.chain(a, type(a)), ast.chain(b, type(b))
    else:
        ca, cb = ast.children(a), ast.children(b)
    return len(ca) == len(cb) and all(same(x, y, pa, pb) for x, y in zip(ca, cb, strict=True))


# --- the parts that changed ----------------------------------------------------------------


def parts(a: ast.Node, b: ast.Node, pa: dict, pb: dict) -> list[Part]:
    """The smallest parts in which condition `a` (parameters `pa`) and `b` (`pb`) differ; []
    when they mean the same."""
    if same(a, b, pa, pb):
        return []
    if _is_param(a, pa) and _is_param(b, pb) and a.name == b.name:
        return [Part("parameter", show(pa[a.name]), show(pb[b.name]), a.name)]
    for kind, added, removed in ((ast.And, "added", "removed"), (ast.Or, "added_alternative", "removed_alternative")):
        if isinstance(a, kind) and isinstance(b, kind):
            return _list_parts(ast.chain(a, kind), ast.chain(b, kind), pa, pb, added, removed)
        if isinstance(b, kind) and not isinstance(a, kind):  # one conjunct grew into several
            found = _list_parts([a], ast.chain(b, kind), pa, pb, added, removed)
            if len(found) < len(ast.chain(b, kind)):
                return found
        if isinstance(a, kind) and not isinstance(b, kind):
            found = _list_parts(ast.chain(a, kind), [b], pa, pb, added, removed)
            if len(found) < len(ast.chain(a, kind)):
                return found
    if isinstance(a, ast.Compare) and isinstance(b, ast.Compare):
        if a.op != b.op and same(a.left, b.left, pa, pb):
            return [Part("changed", f"{a.op} {unparse(a.right)}", f"{b.op} {unparse(b.right)}")]
    if type(a) is type(b) and _scalars(a) == _scalars(b):
        ca, cb = ast.children(a), ast.children(b)
        if len(ca) == len(cb):
            out = []
            for x, y in zip(ca, cb, strict=True):
                out += parts(x, y, pa, pb)
            if out:
                return out
    return [Part("changed", unparse(a), unparse(b))]


def _list_parts(xs: list, ys: list, pa: dict, pb: dict, added: str, removed: str) -> list[Part]:
    """Conjuncts (or alternatives) matched by meaning, in any order; those left over paired in
    order where both sides have some, the rest added or removed."""
    left = list(range(len(ys)))
    unmatched_x = []
    for x in xs:
        hit = next((j for j in left if same(x, ys[j], pa, pb)), None)
        if hit is None:
            unmatched_x.append(x)
        else:
            left.remove(hit)
    unmatched_y = [ys[j] for j in left]
    out = []
    for x, y in zip(unmatched_x, unmatched_y, strict=False):
        out += parts(x, y, pa, pb)
    out += [Part(removed, unparse(x), None) for x in unmatched_x[len(unmatched_y):]]
    out += [Part(added, None, unparse(y)) for y in unmatched_y[len(unmatched_x):]]
    return out


def parameters_read(node: ast.Node, params: dict) -> set[str]:
    """The parameters a condition reads."""
    return {n.name for n in ast.walk(node) if isinstance(n, ast.Name) and n.name in params}


# --- back to text --------------------------------------------------------------------------


def show(value) -> str:
    """A literal as the condition language writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"' if '"' not in value else "'" + value + "'"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(show, value)) + "]"
    return str(value)


def unparse(node: ast.Node) -> str:
    """A condition (or part of one) as text, in one line, with the parentheses it needs."""
    return _Unparser().text(node)[0]


class _Unparser:
    """One method per node kind (as Jinja's NodeVisitor dispatches): (text, binding strength)."""

    def text(self, node: ast.Node) -> tuple[str, int]:
        return getattr(self, f"visit_{type(node).__name__}")(node)

    def _at(self, node: ast.Node, level: int) -> str:
        text, strength = self.text(node)
        return text if strength >= level else f"({text})"

    def visit_Literal(self, n):
        return show(n.value), _ATOM

    def visit_ListLit(self, n):
        return "[" + ", ".join(self.text(i)[0] for i in n.items) + "]", _ATOM

    def visit_Name(self, n):
        return n.name, _ATOM

    def visit_CurrentField(self, n):
        return f"current.{n.name}", _ATOM

    def visit_Call(self, n):
        return f"{n.function}(" + ", ".join(self.text(a)[0] for a in n.args) + ")", _ATOM

    def visit_Not(self, n):
        return f"not {self._at(n.operand, _NOT)}", _NOT

    def visit_And(self, n):
        # `and` and `or` are associative: a chain is written without brackets, however grouped.
        return f"{self._at(n.left, _AND)} and {self._at(n.right, _AND)}", _AND

    def visit_Or(self, n):
        return f"{self._at(n.left, _OR)} or {self._at(n.right, _OR)}", _OR

    def visit_Compare(self, n):
        return f"{self._at(n.left, _SUM)} {n.op} {self._at(n.right, _SUM)}", _PRED

    def visit_Member(self, n):
        word = "not in" if n.negated else "in"
        return f"{self._at(n.item, _SUM)} {word} {self._at(n.collection, _SUM)}", _PRED

    def visit_Contains(self, n):
        return f"{self._at(n.collection, _SUM)} contains {self._at(n.item, _SUM)}", _PRED

    def visit_IsEmpty(self, n):
        return f"{self._at(n.operand, _SUM)} is {'not ' if n.negated else ''}empty", _PRED

    def visit_IsKnown(self, n):
        return f"{self._at(n.operand, _SUM)} is {'missing' if n.negated else 'known'}", _PRED

    def visit_Arith(self, n):
        if n.op == "*":
            return f"{self._at(n.left, _PRODUCT)} * {self._at(n.right, _UNARY)}", _PRODUCT
        return f"{self._at(n.left, _SUM)} {n.op} {self._at(n.right, _PRODUCT)}", _SUM

    def visit_Neg(self, n):
        return f"-{self._at(n.operand, _UNARY)}", _UNARY

    def visit_Duration(self, n):
        amount = self._at(n.amount, _ATOM)
        return f"{amount} {n.unit}{'' if amount == '1' else 's'}", _UNARY

    def visit_Aggregate(self, n):
        head = {"count": "count of earlier contacts", "any": "any earlier contacts",
                "none": "no earlier contacts"}.get(n.kind, f"{n.kind} earlier contacts")
        if n.filter is None:
            return head, _ATOM
        return f"{head} where ({self.text(n.filter)[0]})", _ATOM

    def visit_SameField(self, n):
        return f"same {n.name}", _ATOM

    def visit_SameIsoWeek(self, n):
        return "same iso week", _ATOM

    def visit_SamePeriod(self, n):
        return f"same {n.unit}", _ATOM

    def visit_Within(self, n):
        return f"within {self._at(n.duration, _UNARY)}", _ATOM

    def visit_SinceLatest(self, n):
        return f"since latest ({self.text(n.anchor)[0]})", _ATOM

    def visit_Was(self, n):
        return f"was {n.output}", _ATOM
