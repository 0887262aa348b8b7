"""The condition language's syntax tree: frozen nodes that carry where they came from.

`offset` is the character index of the node's first token in the condition text, `end` the
index just after its last (-1 for a node made by a tool rather than parsed from text); the
loader turns an offset into a file, line and column. Nodes compare by identity, so the checker
can key its findings by node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, eq=False)
class Node:
    offset: int
    # keyword-only, so it follows each kind's own fields: Compare(offset, op, left, right, end=…)
    end: int = field(default=-1, kw_only=True)


@dataclass(frozen=True, eq=False)
class Literal(Node):
    value: int | str | bool | date


@dataclass(frozen=True, eq=False)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Name(Node):
    """A bare name: a contact field or a parameter (in a history filter, the earlier contact's field)."""

    name: str


@dataclass(frozen=True, eq=False)
class CurrentField(Node):
    """`current.name`: the field of the contact being decided, also inside a history filter."""

    name: str


@dataclass(frozen=True, eq=False)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Not(Node):
    operand: Node


@dataclass(frozen=True, eq=False)
class And(Node):
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Or(Node):
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Compare(Node):
    op: str  # = != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Member(Node):
    item: Node
    collection: Node
    negated: bool


@dataclass(frozen=True, eq=False)
class Contains(Node):
    collection: Node
    item: Node


@dataclass(frozen=True, eq=False)
class IsEmpty(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True, eq=False)
class IsKnown(Node):
    operand: Node
    negated: bool  # True: `is missing`


@dataclass(frozen=True, eq=False)
class Arith(Node):
    op: str  # + - *
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, eq=False)
class Duration(Node):
    amount: Node
    unit: str  # day | week | month | year


@dataclass(frozen=True, eq=False)
class Aggregate(Node):
    kind: str  # count | any | none
    filter: Node | None


@dataclass(frozen=True, eq=False)
class SameField(Node):
    name: str


@dataclass(frozen=True, eq=False)
class SameIsoWeek(Node):
    pass


@dataclass(frozen=True, eq=False)
class SamePeriod(Node):
    unit: str  # month | year


@dataclass(frozen=True, eq=False)
class Within(Node):
    duration: Node


@dataclass(frozen=True, eq=False)
class SinceLatest(Node):
    anchor: Node


@dataclass(frozen=True, eq=False)
class Was(Node):
    output: str


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of a node, for walks that do not care about the kind."""
    out = []
    for name in node.__dataclass_fields__:
        value = getattr(node, name)
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, tuple):
            out.extend(v for v in value if isinstance(v, Node))
    return tuple(out)


def walk(node: Node):
    yield node
    for child in children(node):
        yield from walk(child)


def chain(node: Node, kind: type) -> list[Node]:
    """The operands of a chain of one operator, in order: a and (b and c) → [a, b, c]."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            stack.extend((n.right, n.left))
        else:
            out.append(n)
    return out


def conjuncts(node: Node | None) -> list[Node]:
    """The parts of a condition joined by `and` (none for no condition)."""
    return [] if node is None else chain(node, And)


def has_count(node: Node) -> bool:
    """Whether a condition counts earlier contacts anywhere inside it."""
    return any(isinstance(n, Aggregate) and n.kind == "count" for n in walk(node))
