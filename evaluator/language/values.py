"""Values of the condition language at run time: unknown as None, and counts known only as a range.

A count over earlier contacts whose filter met unknown facts is a ``CountRange(lo, hi)``:
comparing, testing membership of, and computing with such a count gives an answer only when
every count in the range agrees (else None, unknown). The compiled closures, the generated code
and the reference interpreter all use these.
"""

from __future__ import annotations

import json
import operator
from datetime import date

from .dates import shift

_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


class CountRange:
    """A count that is known to lie between lo and hi (earlier contacts with unknown facts)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def __repr__(self) -> str:
        return f"{self.lo}..{self.hi}"


def range_compare(op: str, a, b):
    """Compare where either side may be a CountRange: decided only if every possibility agrees."""
    a_lo, a_hi = (a.lo, a.hi) if isinstance(a, CountRange) else (a, a)
    b_lo, b_hi = (b.lo, b.hi) if isinstance(b, CountRange) else (b, b)
    fn = _OPS[op]
    if op in ("=", "!="):
        if a_lo == a_hi == b_lo == b_hi:
            return fn(a_lo, b_lo)
        if a_hi < b_lo or b_hi < a_lo:
            return op == "!="
        return None
    results = {fn(x, y) for x in (a_lo, a_hi) for y in (b_lo, b_hi)}
    return results.pop() if len(results) == 1 else None


def range_member(v: CountRange, values) -> bool | None:
    """Whether an uncertain count is in a list: decided only if every possible count agrees.
    Counts the listed values inside lo..hi, so a wide range costs nothing extra."""
    inside = {x for x in values if isinstance(x, int) and not isinstance(x, bool) and v.lo <= x <= v.hi}
    if not inside:
        return False
    return True if len(inside) == v.hi - v.lo + 1 else None


def range_arith(op: str, a, b) -> CountRange:
    """Whole-number arithmetic where a side is a CountRange: the range of every outcome."""
    a_lo, a_hi = (a.lo, a.hi) if isinstance(a, CountRange) else (a, a)
    b_lo, b_hi = (b.lo, b.hi) if isinstance(b, CountRange) else (b, b)
    if op == "+":
        return CountRange(a_lo + b_lo, a_hi + b_hi)
    if op == "-":
        return CountRange(a_lo - b_hi, a_hi - b_lo)
    products = [x * y for x in (a_lo, a_hi) for y in (b_lo, b_hi)]
    return CountRange(min(products), max(products))


def arith_values(op: str, a, b):
    """a op b for whole numbers, counts (ranges), and dates moved by durations (amount, unit)."""
    if isinstance(a, CountRange) or isinstance(b, CountRange):
        return range_arith(op, a, b)
    if isinstance(a, date):
        return shift(a, b[0] if op == "+" else -b[0], b[1])
    if isinstance(b, date):
        return shift(b, a[0], a[1])
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


def show(value, quote_text: bool = True) -> str:
    """The one printer of a value for a person: null, true, false, 23, 2025-01-31, "text"
    (quoted as in JSON; bare with `quote_text=False`, at every depth), [a, b], {"key": value},
    and a count range as lo..hi."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if quote_text else value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v, quote_text) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(str(k), quote_text)}: {show(v, quote_text)}" for k, v in value.items()) + "}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def show_in_sentence(value) -> str:
    """A value inside a sentence of a message: text bare, and a list as its items joined by
    commas (a, b)."""
    if isinstance(value, list):
        return ", ".join(show_in_sentence(v) for v in value)
    return show(value, quote_text=False)


def show_bare(value) -> str:
    """`show`, with a text that is the whole value shown bare (an expected or actual output);
    text inside a list or mapping stays quoted."""
    return value if isinstance(value, str) else show(value)
