"""Compile a checked condition into closures, once per policy version; run them on many contacts.

Values: True/False/None for yes/no (None = unknown), int, str, datetime.date, tuples of
(amount, unit) for durations, lists. A count over history whose filter met unknown facts is a
CountRange(lo, hi). Every closure takes one argument, the Context of the contact being decided.

Each condition is compiled twice: a fast program, and a traced one that also records the
missing facts and the history contacts it used. The traced one runs only when a rule fires or
is left undetermined, to explain it.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date

from ..language import ast
from ..language.dates import shift
from ..language.functions import FUNCTIONS
from ..language.values import CountRange, arith_values, range_compare, range_member

WAS_PREFIX = "was:"  # a bucket key part that is an earlier decision's output, not a field

_ORDER_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ALL_OPS = {"=": operator.eq, "!=": operator.ne, **_ORDER_OPS}


class Compiler:
    """Turns AST nodes into closures. `parameters` are the version's constants."""

    def __init__(self, parameters: dict, traced: bool, required: frozenset = frozenset(),
                 index_keys: set | None = None):
        self.parameters = parameters
        self.traced = traced
        self.required = required  # fields every valid contact has: safe to bucket history by
        self.index_keys = index_keys  # collects the field combinations counts bucket by
        self._slots = 0

    def _slot(self) -> int:
        self._slots += 1
        return self._slots

    def compile(self, node: ast.Node, in_filter: bool = False):
        """The closure of a checked condition or value: one method per kind of node (the table
        below the class), each building its closure from its children's. `in_filter`: the node
        stands in a history filter, where a bare field name is the earlier contact's."""
        try:
            build = _BUILDERS[type(node)]
        except KeyError:  # pragma: no cover - the checker lets no other node through
            raise TypeError(f"cannot compile {type(node).__name__}") from None
        return build(self, node, in_filter)

    def _build_literal(self, node, in_filter: bool):
        value = node.value
        return lambda ctx: value

    def _build_list_lit(self, node, in_filter: bool):
        value = [item.value for item in node.items]  # the checker allows literals only
        return lambda ctx: value

    def _build_name(self, node, in_filter: bool):
        traced = self.traced
        name = node.name
        if name in self.parameters:
            value = self.parameters[name]
            return lambda ctx: value
        if in_filter:
            if traced:
                def earlier_field(ctx):
                    v = ctx.row.contact.get(name)
                    if v is None:
                        ctx.trace.miss(f"{name} (earlier contact {ctx.row.id})")
                    return v
                return earlier_field
            return lambda ctx: ctx.row.contact.get(name)
        return self._current_field(name)

    def _build_current_field(self, node, in_filter: bool):
        return self._current_field(node.name)

    def _build_call(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        return self._call(node, [c(a) for a in node.args])

    def _build_not(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        inner = c(node.operand)

        def not_(ctx):
            v = inner(ctx)
            return None if v is None else not v
        return not_

    def _build_chain(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        traced = self.traced
        # A chain a and b and c runs as one loop: fewer nested calls on the hot path.
        kind = type(node)
        parts = tuple(c(p) for p in ast.chain(node, kind))
        stop = kind is ast.Or  # the value that decides the chain: True for or, False for and

        if traced:
            # Keep only the missing facts that left the chain unknown: a part that came
            # out true or false, or a part that decided the chain, needed none of them.
            def chain_traced(ctx):
                missing = ctx.trace.missing
                begin = len(missing)
                unknown = False
                for part in parts:
                    mark = len(missing)
                    v = part(ctx)
                    if v is stop:
                        del missing[begin:]
                        return stop
                    if v is None:
                        unknown = True
                    else:
                        del missing[mark:]
                return None if unknown else not stop
            return chain_traced

        def chain(ctx):
            unknown = False
            for part in parts:
                v = part(ctx)
                if v is stop:
                    return stop
                if v is None:
                    unknown = True
            return None if unknown else not stop
        return chain

    def _build_compare(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        limit = self.count_limit(node)
        if limit is not None and not self.traced:
            # count … >= K: counting can stop at K matches; unknown rows cannot undo that.
            counted = self.aggregate(node.left, limit)

            def count_reaches(ctx):
                n = counted(ctx)
                return n >= limit if type(n) is int else range_compare(">=", n, limit)
            return count_reaches
        left, right = c(node.left), c(node.right)
        fn = _ALL_OPS[node.op]
        if ast.has_count(node):
            plain_op, op_name = fn, node.op

            def range_aware(a, b):
                if isinstance(a, CountRange) or isinstance(b, CountRange):
                    return range_compare(op_name, a, b)
                return plain_op(a, b)
            fn = range_aware
        fast = self._field_vs_constant(node, in_filter)
        if fast is not None:
            return fast
        return _both_known(left, right, fn)

    def _build_member(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        fast = self._field_in_constant(node, in_filter)
        if fast is not None:
            return fast
        negated = node.negated

        def member(v, values):
            if isinstance(v, CountRange):
                inside = range_member(v, values)
                return None if inside is None else inside != negated
            return (v in values) != negated
        return _both_known(c(node.item), c(node.collection), member)

    def _build_contains(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        def contains(values, v):
            return range_member(v, values) if isinstance(v, CountRange) else v in values
        return _both_known(c(node.collection), c(node.item), contains)

    def _build_is_empty(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        inner = c(node.operand)
        negated = node.negated

        def is_empty(ctx):
            v = inner(ctx)
            return None if v is None else (len(v) == 0) != negated
        return is_empty

    def _build_is_known(self, node, in_filter: bool):
        # Asking whether a fact is there is never unknown, so it is compiled untraced.
        if isinstance(node.operand, (ast.Name, ast.CurrentField)) and node.operand.name not in self.parameters:
            name, negated = node.operand.name, node.negated
            if in_filter and isinstance(node.operand, ast.Name):
                return lambda ctx: (ctx.row.contact.get(name) is None) == negated
            return lambda ctx: (ctx.contact.get(name) is None) == negated
        plain = Compiler(self.parameters, False, self.required).compile(node.operand, in_filter)
        negated = node.negated
        return lambda ctx: (plain(ctx) is None) == negated

    def _build_arith(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        return self._arith(node, c(node.left), c(node.right))

    def _build_neg(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        inner = c(node.operand)

        def neg(ctx):
            v = inner(ctx)
            if isinstance(v, CountRange):
                return CountRange(-v.hi, -v.lo)
            return None if v is None else -v
        return neg

    def _build_duration(self, node, in_filter: bool):
        c = lambda sub: self.compile(sub, in_filter)  # noqa: E731
        amount, unit = c(node.amount), node.unit

        def duration(ctx):
            n = amount(ctx)
            return None if n is None else (n, unit)
        return duration

    def _build_aggregate(self, node, in_filter: bool):
        return self.aggregate(node)

    def _build_same_field(self, node, in_filter: bool):
        traced = self.traced
        name = node.name

        def same_field(ctx):
            a = ctx.row.contact.get(name)
            b = ctx.contact.get(name)
            if a is None or b is None:
                if traced:
                    if a is None:
                        ctx.trace.miss(f"{name} (earlier contact {ctx.row.id})")
                    if b is None:
                        ctx.trace.miss(name)
                return None
            return a == b
        return same_field

    def _build_same_iso_week(self, node, in_filter: bool):
        # (the same ISO week: the same Monday before or on each date)
        return lambda ctx: (ctx.row.ordinal - ctx.row.date.weekday()
                            == ctx.cur.ordinal - ctx.cur.date.weekday())

    def _build_same_period(self, node, in_filter: bool):
        if node.unit == "year":
            return lambda ctx: ctx.row.date.year == ctx.cur.date.year
        return lambda ctx: (ctx.row.date.year == ctx.cur.date.year
                            and ctx.row.date.month == ctx.cur.date.month)

    def _build_within(self, node, in_filter: bool):
        key = id(node)
        # The threshold is computed once per count, by the count's window set-up.
        return lambda ctx: ctx.row.ordinal > ctx.scratch[key]

    def _build_since_latest(self, node, in_filter: bool):
        key = id(node)

        def since_latest(ctx):
            found, maybe = ctx.scratch[key]
            i = ctx.row.index
            if i <= found:
                return False
            return None if i <= maybe else True
        return since_latest

    def _build_was(self, node, in_filter: bool):
        output = node.output
        return lambda ctx: ctx.row.outputs.get(output) is True

    def _field_vs_constant(self, node: ast.Compare, in_filter: bool):
        """`field = "written"` and the like, the commonest test, as one closure (untraced only)."""
        if self.traced or node.op not in ("=", "!="):
            return None
        field_node, const = node.left, node.right
        if not isinstance(const, ast.Literal):
            if isinstance(const, ast.Name) and const.name in self.parameters:
                value = self.parameters[const.name]
            else:
                return None
        else:
            value = const.value
        found = self._plain_field(field_node, in_filter)
        if found is None:
            return None
        name, earlier = found
        if node.op == "=":
            if earlier:
                def eq_earlier(ctx):
                    v = ctx.row.contact.get(name)
                    return None if v is None else v == value
                return eq_earlier

            def eq_current(ctx):
                v = ctx.contact.get(name)
                return None if v is None else v == value
            return eq_current
        if earlier:
            def ne_earlier(ctx):
                v = ctx.row.contact.get(name)
                return None if v is None else v != value
            return ne_earlier

        def ne_current(ctx):
            v = ctx.contact.get(name)
            return None if v is None else v != value
        return ne_current

    def _plain_field(self, node: ast.Node, in_filter: bool) -> tuple[str, bool] | None:
        """(field name, whether it is the earlier contact's) for a bare field reference."""
        if isinstance(node, ast.Name) and node.name not in self.parameters:
            return node.name, in_filter
        if isinstance(node, ast.CurrentField):
            return node.name, False
        return None

    def _field_in_constant(self, node: ast.Member, in_filter: bool):
        """`field in ["a", "b"]` (or in a list parameter) as one closure (untraced only)."""
        if self.traced:
            return None
        item, coll = node.item, node.collection
        if isinstance(coll, ast.ListLit):
            values = frozenset(i.value for i in coll.items)
        elif isinstance(coll, ast.Name) and isinstance(self.parameters.get(coll.name), list):
            values = frozenset(self.parameters[coll.name])
        else:
            return None
        found = self._plain_field(item, in_filter)
        if found is None:
            return None
        name, earlier = found
        negated = node.negated
        if earlier:
            def in_earlier(ctx):
                v = ctx.row.contact.get(name)
                return None if v is None else (v in values) != negated
            return in_earlier

        def in_current(ctx):
            v = ctx.contact.get(name)
            return None if v is None else (v in values) != negated
        return in_current

    def _current_field(self, name: str):
        if self.traced:
            def current_field(ctx):
                v = ctx.contact.get(name)
                if v is None:
                    ctx.trace.miss(name)
                return v
            return current_field
        return lambda ctx: ctx.contact.get(name)

    def _call(self, node: ast.Call, args):
        fn = FUNCTIONS[node.function].implementation
        if len(args) == 1:
            (arg,) = args

            def call(ctx):
                v = arg(ctx)
                return None if v is None else fn(v)
            return call

        def call_many(ctx):
            values = [a(ctx) for a in args]
            return None if any(v is None for v in values) else fn(*values)
        return call_many

    def _arith(self, node: ast.Arith, left, right):
        op = node.op
        return _both_known(left, right, lambda a, b: arith_values(op, a, b))

    def count_limit(self, node: ast.Compare) -> int | None:
        """K when the comparison is `count … >= K` or `count … > K-1` with K a constant."""
        if not (isinstance(node.left, ast.Aggregate) and node.left.kind == "count") or node.op not in (">=", ">"):
            return None
        right = node.right
        if isinstance(right, ast.Literal) and isinstance(right.value, int) and not isinstance(right.value, bool):
            k = right.value
        elif isinstance(right, ast.Name) and isinstance(self.parameters.get(right.name), int):
            k = self.parameters[right.name]
        else:
            return None
        return k if node.op == ">=" else k + 1

    def aggregate(self, node: ast.Aggregate, limit: int | None = None):
        """A count or test over earlier contacts, scanning only what its windows can hold.

        Equality tests on required fields (`channel = "written"`, `same unit`) pick a bucket of
        the patient's history that the engine keeps per field combination, so only contacts
        that can match are looked at; date windows and `since latest` then narrow the bucket by
        binary search. With `limit`, a count stops once it has found that many.
        """
        plan = self._count_plan(node)
        if node.kind == "count":
            return _counter(plan, limit)
        return _tester(plan, node.kind == "any")

    def subtraction(self, node: ast.Aggregate, limit: int | None = None) -> Subtraction | None:
        """The count `node` described for code generation (see Subtraction) where it is a
        subtraction over one bucket: date windows, and `since latest` anchors that are
        conjuncts of the filter with a bucket of their own; else None."""
        if node.kind != "count" or self.traced or self.index_keys is None or node.filter is None:
            return None
        plan = self._count_plan(node)
        # `since latest` only where its anchor is a conjunct of the filter and has a bucket of
        # its own, whose last contact is the anchor (see _anchor_bucket)
        if not (plan.subtract and plan.index_fields) \
                or any(not bounded or bucket_of is None for _, _, bounded, _, bucket_of in plan.anchors):
            return None
        anchors = tuple(self._index_key(ast.conjuncts(w.anchor))[0::3] for w in ast.walk(node.filter)
                        if isinstance(w, ast.SinceLatest))
        if len(anchors) != len(plan.anchors):
            return None
        bounds = _window_bounds(ast.conjuncts(node.filter))
        if sum(1 for b in bounds if b[0] == "within") != len(plan.within_setup):
            return None  # (a `within` that is not a conjunct of its own: not a plain bound)
        return Subtraction(plan.index_fields, plan.key_sources, bounds, anchors, _counter(plan, limit))

    def _count_plan(self, node: ast.Aggregate) -> CountPlan:
        """What a count's filter lets the scan skip, worked out once: see CountPlan."""
        flt = self.compile(node.filter, in_filter=True) if node.filter is not None else (lambda ctx: True)
        conjuncts = ast.conjuncts(node.filter) if node.filter is not None else []
        windows = [w for w in (node.filter and ast.walk(node.filter) or ())
                   if isinstance(w, (ast.Within, ast.SinceLatest))]
        within_setup = []
        anchors = []
        for w in windows:
            if isinstance(w, ast.Within):
                within_setup.append((id(w), self.compile(w.duration)))
            else:
                bounded = any(conj is w for conj in conjuncts)
                memo_fields = _anchor_memo_fields(w.anchor)
                anchors.append((id(w), self.compile(w.anchor, in_filter=True), bounded, memo_fields,
                                self._anchor_bucket(w.anchor, memo_fields)))
        index_fields, key_getters, covered, key_sources = self._index_key(conjuncts)
        if index_fields and self.index_keys is not None:
            self.index_keys.add(index_fields)
        else:
            index_fields = ()
        # When every conjunct of the filter holds for every contact of the bucket from the
        # window's start on (the bucket's own equalities; date windows, whose bounds the binary
        # search applied; `since latest`, apart from contacts whose match with the anchor is
        # unknown), counting is subtraction: no contact needs to be looked at, and a traced run
        # has the contacts from there on as its evidence. (Without buckets, as in the plain
        # reference engine, every contact is looked at.)
        windowed = (ast.SameIsoWeek, ast.SamePeriod, ast.Within, ast.SinceLatest)
        subtract = bool(index_fields) and all(id(conj) in covered or isinstance(conj, windowed) for conj in conjuncts)
        return CountPlan(flt, _lower_bounds(conjuncts), tuple(within_setup), tuple(anchors), index_fields,
                         tuple(key_getters), key_sources, subtract, self.traced)

    def _anchor_bucket(self, anchor: ast.Node, memo_fields) -> tuple | None:
        """(fields, key of ctx) of the bucket that holds exactly the earlier contacts a `since
        latest` anchor matches, where there is one: every conjunct of the anchor is settled by
        the bucket (equalities on required fields, `was`), so none is unknown, and the latest
        match is the bucket's last contact. None otherwise (the anchor is then searched for),
        and always when traced (a traced run searches: the search records what it saw).
        `memo_fields`: _anchor_memo_fields(anchor)."""
        if self.traced or self.index_keys is None or memo_fields is None:
            return None
        parts = ast.conjuncts(anchor)
        fields, getters, covered, _ = self._index_key(parts)
        if not fields or any(id(part) not in covered for part in parts):
            return None
        self.index_keys.add(fields)
        return fields, _tuple_of(tuple(getters))

    def _index_key(self, conjuncts: list[ast.Node]) -> tuple[tuple[str, ...], list, set, tuple]:
        """Fields and value getters for the bucket a filter can use: `field = constant` and
        `same field` conjuncts on fields every valid contact has (so no row is unknown there),
        and `was output` conjuncts (keyed "was:output": whether that output was true). Also
        the ids of the conjuncts that every contact in the bucket satisfies, and where each
        key part comes from, for code generation (see Subtraction.key)."""
        chosen: dict[str, object] = {}
        source: dict[str, tuple] = {}
        why: dict[str, object] = {}  # what set each key part: ("same",) or ("=", value)
        covered: set = set()
        for conj in conjuncts:
            if isinstance(conj, ast.Was):
                # `was reimbursable` is true or false, never unknown: bucket by the output too.
                chosen.setdefault(WAS_PREFIX + conj.output, lambda ctx: True)
                source.setdefault(WAS_PREFIX + conj.output, ("was",))
                covered.add(id(conj))
                continue
            if isinstance(conj, ast.SameField) and conj.name in self.required:
                name, reason, getter = conj.name, ("same",), (lambda ctx, name=conj.name: ctx.contact.get(name))
            elif (isinstance(conj, ast.Compare) and conj.op == "=" and isinstance(conj.left, ast.Name)
                  and conj.left.name in self.required and conj.left.name not in self.parameters):
                const = conj.right
                if isinstance(const, ast.Literal):
                    value = const.value
                elif isinstance(const, ast.Name) and const.name in self.parameters:
                    value = self.parameters[const.name]
                else:
                    continue
                name, reason, getter = conj.left.name, ("=", value), (lambda ctx, value=value: value)
            else:
                continue
            if name not in chosen:
                chosen[name], why[name] = getter, reason
                source[name] = ("field", name) if reason == ("same",) else ("value", reason[1])
            # A conjunct the bucket settles: the one that keyed it, or one that says the same
            # (`unit = "u1" and same unit` keys by "u1": `same unit` is then still to be tested).
            if why[name] == reason:
                covered.add(id(conj))
        fields = tuple(sorted(chosen))
        return fields, [chosen[f] for f in fields], covered, tuple(source[f] for f in fields)


# The method that builds the closure of each kind of node (Compiler.compile).
_BUILDERS = {
    ast.Literal: Compiler._build_literal,
    ast.ListLit: Compiler._build_list_lit,
    ast.Name: Compiler._build_name,
    ast.CurrentField: Compiler._build_current_field,
    ast.Call: Compiler._build_call,
    ast.Not: Compiler._build_not,
    ast.And: Compiler._build_chain,
    ast.Or: Compiler._build_chain,
    ast.Compare: Compiler._build_compare,
    ast.Member: Compiler._build_member,
    ast.Contains: Compiler._build_contains,
    ast.IsEmpty: Compiler._build_is_empty,
    ast.IsKnown: Compiler._build_is_known,
    ast.Arith: Compiler._build_arith,
    ast.Neg: Compiler._build_neg,
    ast.Duration: Compiler._build_duration,
    ast.Aggregate: Compiler._build_aggregate,
    ast.SameField: Compiler._build_same_field,
    ast.SameIsoWeek: Compiler._build_same_iso_week,
    ast.SamePeriod: Compiler._build_same_period,
    ast.Within: Compiler._build_within,
    ast.SinceLatest: Compiler._build_since_latest,
    ast.Was: Compiler._build_was,
}


def _both_known(first, second, combine):
    """The closure of a two-operand node: unknown (None) when either side is, the second side
    not even asked when the first is unknown; else combine(a, b)."""

    def both(ctx):
        a = first(ctx)
        if a is None:
            return None
        b = second(ctx)
        if b is None:
            return None
        return combine(a, b)
    return both


@dataclass(frozen=True)
class CountPlan:
    """A history count's filter, and what it lets a scan skip, worked out when it is compiled.

    `lower_bounds`: functions ctx -> the first ordinal an earlier contact may have (same ISO
    week, same month or year, `within`). `within_setup`: (key, duration) of each `within`, its
    threshold computed once per count. `anchors`: (key, anchor condition, whether it is a
    top-level conjunct, the fields its answer is remembered by, the bucket that holds exactly
    its matches or None) of each `since latest`.
    `index_fields` and `key_getters`: the bucket of the history to look in (none: all of it);
    `key_sources`: where each part of its key comes from (see Subtraction.key).
    `subtract`: every conjunct is settled by the bucket and the windows, so counting is
    subtraction and no contact is looked at.
    """

    filter: object
    lower_bounds: tuple
    within_setup: tuple
    anchors: tuple
    index_fields: tuple
    key_getters: tuple
    key_sources: tuple
    subtract: bool
    traced: bool


@dataclass(frozen=True)
class Subtraction:
    """A count that is a subtraction over one bucket (CountPlan.subtract), described for code
    generation (codegen.py writes it out as plain statements):

    `fields`: the bucket's field combination (Context.index). `key`: where each part of the
    bucket's key comes from, in the order of `fields`: ("field", name) the current contact's
    field, ("value", constant), ("was",) true. `bounds`: the first ordinal a contact of the
    bucket may have, one per date window (_window_bounds): ("week",) the current contact's ISO
    week, ("month",), ("year",), ("within", the `within` node) the day after the current date
    less its duration. `anchors`: (fields, key) of the bucket of each `since latest`, whose last contact
    is the anchor: the count starts after it. `general`: the same count as closures, for a
    context that keeps no buckets.
    """

    fields: tuple
    key: tuple
    bounds: tuple
    anchors: tuple
    general: object


def year_start(day: date) -> int:
    """The ordinal of 1 January of `day`'s year."""
    return date(day.year, 1, 1).toordinal()


def _window_bounds(conjuncts: list) -> tuple:
    """The date windows among a filter's conjuncts, each as the kind of first ordinal it lets
    an earlier contact have: ("week",), ("month",), ("year",) or ("within", the node)."""
    bounds = []
    for conj in conjuncts:
        if isinstance(conj, ast.SameIsoWeek):
            bounds.append(("week",))
        elif isinstance(conj, ast.SamePeriod):
            bounds.append(("month",) if conj.unit == "month" else ("year",))
        elif isinstance(conj, ast.Within):
            bounds.append(("within", conj))
    return tuple(bounds)


def _lower_bounds(conjuncts: list) -> tuple:
    """Functions ctx -> the first ordinal of each date window (_window_bounds); a `within`'s
    threshold is the one window_start leaves in ctx.scratch."""
    bounds = []
    for bound in _window_bounds(conjuncts):
        if bound[0] == "week":
            bounds.append(lambda ctx: ctx.cur.ordinal - ctx.cur.date.weekday())
        elif bound[0] == "month":
            bounds.append(lambda ctx: ctx.cur.ordinal - ctx.cur.date.day + 1)
        elif bound[0] == "year":
            bounds.append(lambda ctx: year_start(ctx.cur.date))
        else:
            key = id(bound[1])
            bounds.append(lambda ctx, key=key: ctx.scratch[key] + 1)
    return tuple(bounds)


def _rows_of(plan: CountPlan):
    """rows_of(ctx): the rows that can match (a bucket of the history, or all of it), with their
    ordinals and their indexes in the whole history (None for the whole history)."""
    index_fields, key_of = plan.index_fields, _tuple_of(plan.key_getters)

    def rows_of(ctx):
        if index_fields and ctx.indexes is not None:
            bucket = ctx.index(index_fields).get(key_of(ctx))
            if bucket is None:
                return None, None, None
            return bucket.entries, bucket.ordinals, bucket.indices
        return ctx.history, ctx.ordinals, None
    return rows_of


def _tuple_of(getters: tuple):
    """A function ctx -> the tuple of the getters' values, without building a list first."""
    if len(getters) == 1:
        (g0,) = getters
        return lambda ctx: (g0(ctx),)
    if len(getters) == 2:
        g0, g1 = getters
        return lambda ctx: (g0(ctx), g1(ctx))
    if len(getters) == 3:
        g0, g1, g2 = getters
        return lambda ctx: (g0(ctx), g1(ctx), g2(ctx))
    return lambda ctx: tuple([g(ctx) for g in getters])


# (date, amount, unit) -> the ordinal of the date moved by that much: a batch has a few hundred
# distinct dates and its windows a few lengths, so each is worked out once (dates.shift).
_shifted: dict = {}


def shifted_ordinal(day: date, amount: int, unit: str) -> int:
    key = (day, amount, unit)
    found = _shifted.get(key)
    if found is None:
        found = shift(day, amount, unit).toordinal()
        if len(_shifted) >= 100_000:
            _shifted.clear()
        _shifted[key] = found
    return found


def _anchor_of(ctx, key, anchor, memo_fields, traced) -> tuple[int, int]:
    """(found, maybe) of a `since latest` anchor for ctx's contact: the latest earlier contact
    that surely matches, and the latest one after it whose match is unknown (contacts between
    the two may or may not come after the anchor). One that depends only on the earlier
    contact and fields of this one is remembered per patient, so each contact scans only the
    history added since the previous one."""
    memo = ctx.memo
    history = ctx.history
    if memo is None or memo_fields is None or traced:
        return _latest_anchor(ctx, anchor, history, 0, ctx.trace)
    mkey = (key, *[_hashable(ctx.contact.get(f)) for f in memo_fields])
    upto, old_found, old_maybe = memo.get(mkey, (0, -1, -1))
    found, maybe = _latest_anchor(ctx, anchor, history, upto, None)
    if found < 0:  # nothing sure among the new rows: the old anchor stands
        found = old_found
        if maybe < 0:
            maybe = old_maybe
    memo[mkey] = (len(history), found, maybe)
    return found, maybe


def _window_start(plan: CountPlan):
    """window_start(ctx, ordinals, indices): the first row of the bucket inside every window,
    with each `within` threshold and `since latest` anchor left in ctx.scratch."""
    within_setup, lower_bounds, anchors, traced = plan.within_setup, plan.lower_bounds, plan.anchors, plan.traced

    def window_start(ctx, ordinals, indices) -> int:
        for key, dur in within_setup:
            d = dur(ctx)
            ctx.scratch[key] = shifted_ordinal(ctx.cur.date, -d[0], d[1])
        start = 0
        for bound in lower_bounds:
            start = max(start, bisect_left(ordinals, bound(ctx)))
        for key, anchor, bounded, memo_fields, bucket_of in anchors:
            if bucket_of is not None and ctx.indexes is not None:
                # the latest match is the last contact of the anchor's bucket; none is unknown
                fields, key_of = bucket_of
                matches = ctx.index(fields).get(key_of(ctx))
                found, maybe = ctx.scratch[key] = (matches.indices[-1] if matches is not None else -1), -1
            else:
                found, maybe = ctx.scratch[key] = _anchor_of(ctx, key, anchor, memo_fields, traced)
            if bounded:
                first_after = bisect_right(indices, found) if indices is not None else found + 1
                start = max(start, first_after)
        return start
    return window_start


def _tally(plan: CountPlan):
    """tally(ctx, rows, start, indices): (contacts that surely match, contacts whose match is
    unknown) of a covered filter: those from the window's start, less the ones between a
    `since latest` anchor and the latest later contact whose match with the anchor is unknown."""
    bounded_anchors = tuple(key for key, _, bounded, _, _ in plan.anchors if bounded)

    def tally(ctx, rows, start, indices) -> tuple[int, int]:
        known_from = start
        for key in bounded_anchors:
            found, maybe = ctx.scratch[key]
            if maybe > found:
                known_from = max(known_from, bisect_right(indices, maybe))
        return len(rows) - known_from, known_from - start
    return tally


def _counter(plan: CountPlan, limit: int | None):
    """count(ctx): how many earlier contacts match (a CountRange where some match is unknown);
    with `limit`, it stops at that many."""
    rows_of, window_start, tally = _rows_of(plan), _window_start(plan), _tally(plan)
    flt, subtract, traced = plan.filter, plan.subtract, plan.traced

    def count(ctx):
        rows, ordinals, indices = rows_of(ctx)
        if not rows:
            return 0
        start = window_start(ctx, ordinals, indices)
        if subtract and indices is not None:
            matched, unknown = tally(ctx, rows, start, indices)
            if traced:
                for row in rows[len(rows) - matched:]:
                    ctx.trace.use(row)
            if not unknown or (limit is not None and matched >= limit):
                return matched
            return CountRange(matched, matched + unknown)
        matched = unknown = 0
        for i in range(start, len(rows)):
            ctx.row = row = rows[i]
            v = flt(ctx)
            if v is True:
                matched += 1
                if traced:
                    ctx.trace.use(row)
                elif matched == limit:
                    ctx.row = None
                    return matched
            elif v is None:
                unknown += 1
        ctx.row = None
        return matched if not unknown else CountRange(matched, matched + unknown)
    if subtract and plan.index_fields and not plan.anchors and not traced:
        return _subtracted(plan, count)
    return count


def _subtracted(plan: CountPlan, general):
    """count(ctx) of a count that is a subtraction (CountPlan.subtract) with no `since latest`:
    the contacts of the bucket from the window's start, worked out in one function, as the
    general count does it (`general`, which also serves a context that keeps no buckets, as
    the reference engine's)."""
    index_fields, key_of = plan.index_fields, _tuple_of(plan.key_getters)
    within_setup, lower_bounds = plan.within_setup, plan.lower_bounds

    def count(ctx):
        if ctx.indexes is None:
            return general(ctx)
        bucket = ctx.index(index_fields).get(key_of(ctx))
        if bucket is None:
            return 0
        ordinals = bucket.ordinals
        if within_setup:
            day = ctx.cur.date
            for key, dur in within_setup:
                d = dur(ctx)
                ctx.scratch[key] = shifted_ordinal(day, -d[0], d[1])
        start = 0
        for bound in lower_bounds:
            first = bisect_left(ordinals, bound(ctx))
            if first > start:
                start = first
        return len(ordinals) - start
    return count


def _tester(plan: CountPlan, want: bool):
    """exists(ctx): for `any` (want True), whether some earlier contact matches; for `no` (want
    False), whether none does; unknown when only contacts of unknown match could decide it."""
    rows_of, window_start, tally = _rows_of(plan), _window_start(plan), _tally(plan)
    flt, subtract, traced = plan.filter, plan.subtract, plan.traced

    def exists(ctx):
        rows, ordinals, indices = rows_of(ctx)
        if not rows:
            return not want
        start = window_start(ctx, ordinals, indices)
        if subtract and indices is not None:
            matched, unknown = tally(ctx, rows, start, indices)
            if traced:  # the latest first, as the scan below finds them
                for row in reversed(rows[len(rows) - matched:]):
                    ctx.trace.use(row)
            if matched:
                return want
            return None if unknown else not want
        unknown = False
        found = False
        for i in range(len(rows) - 1, start - 1, -1):
            ctx.row = row = rows[i]
            v = flt(ctx)
            if v is True:
                found = True
                if not traced:
                    break
                ctx.trace.use(row)
            elif v is None:
                unknown = True
        ctx.row = None
        if found:
            return want
        return None if unknown else not want
    return exists


def bucket_key(entry, fields: tuple[str, ...]) -> tuple:
    """The values of `fields` for a decided contact: its facts, or for "was:output" whether
    that output of its decision was true."""
    return tuple([entry.outputs.get(f[4:]) is True if f.startswith(WAS_PREFIX) else entry.contact[f]
                  for f in fields])


def bucket_key_function(fields: tuple[str, ...]):
    """bucket_key(entry, fields) as a function of the entry, made once per field combination:
    for the common shape (facts first, then at most one "was:output") without a loop."""
    facts = tuple(f for f in fields if not f.startswith(WAS_PREFIX))
    was = tuple(f[len(WAS_PREFIX):] for f in fields if f.startswith(WAS_PREFIX))
    if facts and fields == facts + tuple(WAS_PREFIX + w for w in was) and len(was) <= 1:
        values = operator.itemgetter(*facts) if len(facts) > 1 else (lambda contact, name=facts[0]: (contact[name],))
        if not was:
            return lambda entry: values(entry.contact)
        output = was[0]
        return lambda entry: (*values(entry.contact), entry.outputs.get(output) is True)
    return lambda entry: bucket_key(entry, fields)


def _latest_anchor(ctx, anchor, history, stop: int, trace) -> tuple[int, int]:
    """Scan history[stop:] from the end: (index of the latest row the anchor surely matches,
    or -1; index of the latest row after it where the match is unknown, or -1). A traced scan
    keeps the missing facts of the unknown rows only."""
    maybe = -1
    for i in range(len(history) - 1, stop - 1, -1):
        ctx.row = history[i]
        mark = len(trace.missing) if trace is not None else 0
        v = anchor(ctx)
        if v is True:
            return i, maybe
        if v is None:
            if maybe < 0:
                maybe = i
        elif trace is not None:
            del trace.missing[mark:]
    return -1, maybe


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _anchor_memo_fields(anchor: ast.Node) -> tuple[str, ...] | None:
    """The fields of the current contact a `since latest` anchor reads, when its answer for an
    earlier contact depends on nothing else (no date windows, no nested history); else None."""
    fields = []
    for n in ast.walk(anchor):
        if isinstance(n, (ast.Within, ast.SameIsoWeek, ast.SamePeriod, ast.Aggregate, ast.SinceLatest)):
            return None
        if isinstance(n, (ast.CurrentField, ast.SameField)) and n.name not in fields:
            fields.append(n.name)
    return tuple(fields)


def compile_condition(node: ast.Node, parameters: dict, *, traced: bool = False,
                      required: frozenset = frozenset(), index_keys: set | None = None):
    """Closures for a checked condition. `index_keys` (a set) receives the field combinations
    its history counts want the engine to bucket a patient's history by."""
    return Compiler(parameters, traced, required, index_keys).compile(node)
