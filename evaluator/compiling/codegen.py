"""Code generation: Python source from a checked policy version's syntax tree, compiled once.

Like a template engine that compiles templates to Python, this turns each policy version into
the source of a few plain functions, compiles that once with compile() and keeps the functions:

* ``decide(ctx, acc)``: the version's applies_when, then every rule, each rule's effects merged
  into ``acc`` (the contact's output accumulator, one slot per output); returns False when the
  version does not apply, None when that is unknown, else the (rule index, result) of every rule
  that fired (True) or was left undetermined (None), for the findings;
* ``replay(ctx, acc)``: the same for the rules whose outputs history filters read back (`was …`),
  with no findings (a history replayed by evaluate_one); False at once for a version with none;
* ``applies_traced(ctx)`` and ``rule_<k>(ctx)``: the traced variants, which also record in
  ``ctx.trace`` the facts that were missing and the history contacts used, for findings and
  `explain`.

Policy text never becomes code. A name in the source is either generated here (``f_3`` for a
contact field read into a local, ``p_1`` for a parameter, ``g_0`` for a history count, ``fn_2``
for a function, ``k_4`` for any other constant) or one of the fixed names of this module; the
identifiers are looked up in the checker's own tables (the contact fields, the version's
parameters, the functions), so a name the checker did not accept cannot be generated. Constants
are emitted as the ``repr`` of a plain value (None, bool, int, str, checked to read back as the
same value) or passed in as bound arguments. Before compiling, the source is parsed again and
every name, attribute and call in it checked against those lists (`check_generated`).

Counts over history are the closures of closures.py (history buckets, windows, early stops),
passed in as bound arguments, except a count that is a subtraction over one bucket
(closures.Subtraction), which the untraced functions write out as statements: the bucket of
the contact's key, a binary search per window. Its key parts are the checker's fields and
literal constants, like every other name and constant here.
"""

from __future__ import annotations

import builtins
import dis
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ..explaining.messages import conflict_finding
from ..language import ast
from ..language.functions import FUNCTIONS
from ..language.values import CountRange, arith_values, range_compare, range_member
from .closures import Compiler, shifted_ordinal, year_start


class CodegenError(Exception):
    """A condition the generator cannot turn into code (the checker should have refused it)."""




class _Untouched:
    """The value of an output slot no rule has given anything yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNTOUCHED"


UNTOUCHED = _Untouched()



def _neg(v):
    if isinstance(v, CountRange):
        return CountRange(-v.hi, -v.lo)
    return None if v is None else -v


def _in_range(v, values, negated: bool):
    inside = range_member(v, values)
    return None if inside is None else inside != negated


# The fixed names generated code may use besides its generated identifiers, with what they are.
RUNTIME = {
    "U": UNTOUCHED,
    "CR": CountRange,
    "RC": range_compare,
    "RM": range_member,
    "RIN": _in_range,
    "AR": arith_values,
    "NEG": _neg,
    "BL": bisect_left,
    "BR": bisect_right,
    "SH": shifted_ordinal,
    "YS": year_start,
}
_BUILTINS = {"len", "isinstance", "type", "int", "set", "sorted", "None", "True", "False"}
_LOCALS = {"ctx", "acc", "get", "hits", "ms", "x", "make", "findings"}
_ATTRIBUTES = {"contact", "get", "trace", "missing", "append",
               # a count written out (Body._subtraction): the context's buckets, the current date
               "indexes", "index", "ordinals", "indices", "cur", "date", "ordinal", "weekday", "day"}
_GENERATED = re.compile(r"(f|p|g|fn|k|t|o|c|u|m|b|r|rule|applies|decide|replay|finish|single)_\d+|"
                        r"applies_traced|decide|replay|finish|single")

# Nodes whose value, untraced, is a local or a constant: they need no statement.
_PLAIN_NODES = (ast.Literal, ast.ListLit, ast.Name, ast.CurrentField)

_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def literal(value) -> str | None:
    """The Python literal of a plain constant, or None when it must be bound instead."""
    if value is None or type(value) in (bool, int, str):
        return repr(value)  # exact for these types: the guard (check_generated) sees the constant
    return None


class Module:
    """The generated identifiers of one module and the objects bound to them."""

    def __init__(self, fields: dict, parameters: dict):
        self.fields = fields  # the checker's table of contact fields
        self.parameters = parameters  # the version's checked parameters
        self.bound: dict[str, object] = dict(RUNTIME)
        self._field_ids: dict[str, str] = {}
        self._param_ids: dict[str, str] = {}
        self._fn_ids: dict[str, str] = {}
        self._count = 0
        self.known: set[str] = set()  # expressions that are never None (constants)
        # id(condition) -> (closure, traced closure) of closures.py to call instead of
        # generating the condition (see compile_version), or None
        self.opaque: dict | None = None

    def _new(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def bind(self, value, prefix: str = "k") -> str:
        ident = self._new(prefix)
        self.bound[ident] = value
        if value is not None:
            self.known.add(ident)
        return ident

    def const(self, value) -> str:
        text = literal(value)
        if text is None:
            return self.bind(value)
        if value is not None:
            self.known.add(text)
        return text

    def field(self, name: str) -> str:
        if name not in self.fields:
            raise CodegenError(f"'{name}' is not a contact field")
        if name not in self._field_ids:
            self._field_ids[name] = self._new("f")
        return self._field_ids[name]

    def param(self, name: str) -> str:
        if name not in self.parameters:
            raise CodegenError(f"'{name}' is not a parameter")
        if name not in self._param_ids:
            self._param_ids[name] = self.bind(self.parameters[name], "p")
        return self._param_ids[name]

    def function(self, name: str) -> str:
        if name not in FUNCTIONS:
            raise CodegenError(f"'{name}' is not a function")
        if name not in self._fn_ids:
            self._fn_ids[name] = self.bind(FUNCTIONS[name].implementation, "fn")
        return self._fn_ids[name]


class Body:
    """Statements of one generated function: each node's value lands in a local."""

    def __init__(self, module: Module, traced: bool, required: frozenset):
        self.m = module
        self.traced = traced
        self.required = required
        self.lines: list[str] = []
        self.fields: dict[str, str] = {}  # field name -> local, in first-use order

    def emit(self, ind: int, text: str) -> None:
        self.lines.append("    " * ind + text)

    def tmp(self, prefix: str = "t") -> str:
        return self.m._new(prefix)

    def is_param(self, name: str) -> bool:
        return name in self.m.parameters

    def field(self, name: str, ind: int) -> str:
        local = self.m.field(name)
        self.fields.setdefault(name, local)
        if self.traced:
            what = literal(name)
            self.emit(ind, f"if {local} is None and {what} not in ms:")
            self.emit(ind + 1, f"ms.append({what})")
        return local

    def value(self, node: ast.Node, ind: int) -> str:  # noqa: C901 - one case per node kind
        """Emit the statements computing `node` at indentation `ind`; the expression holding it."""
        m = self.m
        if m.opaque is not None and id(node) in m.opaque:
            fast, traced = m.opaque[id(node)]
            g = m.bind(traced if self.traced else fast, "g")
            r = self.tmp()
            self.emit(ind, f"{r} = {g}(ctx)")
            return r
        if isinstance(node, ast.Literal):
            return m.const(node.value)
        if isinstance(node, ast.ListLit):
            return m.bind([item.value for item in node.items])
        if isinstance(node, ast.Name):
            return m.param(node.name) if self.is_param(node.name) else self.field(node.name, ind)
        if isinstance(node, ast.CurrentField):
            return self.field(node.name, ind)
        if isinstance(node, ast.Call):
            fn = m.function(node.function)
            args = [self.value(a, ind) for a in node.args]  # every argument is evaluated
            r = self.tmp()
            unknown = " or ".join(f"{a} is None" for a in args)
            self.emit(ind, f"{r} = None if {unknown} else {fn}({', '.join(args)})")
            return r
        if isinstance(node, ast.Not):
            v = self.value(node.operand, ind)
            r = self.tmp()
            self.emit(ind, f"{r} = None if {v} is None else not {v}")
            return r
        if isinstance(node, (ast.And, ast.Or)):
            return self._chain(node, ind)
        if isinstance(node, ast.Compare):
            return self._compare(node, ind)
        if isinstance(node, ast.Member):
            return self._member(node, ind)
        if isinstance(node, ast.Contains):
            values = self.value(node.collection, ind)
            r = self.tmp()
            count = ast.has_count(node.item)

            def make(values, v):
                test = f"{v} in {values}"
                return f"RM({v}, {values}) if isinstance({v}, CR) else {test}" if count else test
            self._both(values, node.item, ind, r, make)
            return r
        if isinstance(node, ast.IsEmpty):
            v = self.value(node.operand, ind)
            r = self.tmp()
            self.emit(ind, f"{r} = None if {v} is None else len({v}) {'!=' if node.negated else '=='} 0")
            return r
        if isinstance(node, ast.IsKnown):
            # Asking whether a fact is there is never unknown: no missing fact is recorded.
            traced, self.traced = self.traced, False
            try:
                v = self.value(node.operand, ind)
            finally:
                self.traced = traced
            r = self.tmp()
            self.emit(ind, f"{r} = {v} is {'' if node.negated else 'not '}None")
            return r
        if isinstance(node, ast.Arith):
            a = self.value(node.left, ind)
            r = self.tmp()
            self._both(a, node.right, ind, r, lambda a, b: f"AR({literal(node.op)}, {a}, {b})")
            return r
        if isinstance(node, ast.Neg):
            v = self.value(node.operand, ind)
            r = self.tmp()
            self.emit(ind, f"{r} = NEG({v})")
            return r
        if isinstance(node, ast.Duration):
            n = self.value(node.amount, ind)
            r = self.tmp()
            if n in m.known:  # (a constant amount)
                self.emit(ind, f"{r} = ({n}, {literal(node.unit)})")
                m.known.add(r)
            else:
                self.emit(ind, f"{r} = None if {n} is None else ({n}, {literal(node.unit)})")
            return r
        if isinstance(node, ast.Aggregate):
            written = self._subtraction(node, None, ind)
            if written is not None:
                return written
            g = self._aggregate(node, None)
            r = self.tmp()
            self.emit(ind, f"{r} = {g}(ctx)")
            return r
        raise CodegenError(f"{type(node).__name__} outside a history filter")

    def _subtraction(self, node: ast.Aggregate, limit: int | None, ind: int) -> str | None:
        """A count that is a subtraction over one bucket (closures.Subtraction), written out:
        the bucket of the current contact's key, less its contacts before the windows' start
        (binary search). None when the count is not one (it is then called as closures), and
        always in a traced function (whose counts record their evidence)."""
        if self.traced:
            return None
        sub = Compiler(self.m.parameters, False, self.required, set()).subtraction(node, limit)
        if sub is None:
            return None
        m = self.m
        general = m.bind(sub.general, "g")  # (a context without buckets: the reference engine's)
        r, ix, bucket, ords, cur, lo = (self.tmp(), self.tmp("b"), self.tmp("b"), self.tmp("b"), self.tmp("b"),
                                        self.tmp("b"))
        self.emit(ind, f"{ix} = ctx.indexes")
        self.emit(ind, f"if {ix} is None:")
        self.emit(ind + 1, f"{r} = {general}(ctx)")
        self.emit(ind, "else:")
        self._bucket(ix, bucket, sub.fields, sub.key, ind + 1)
        self.emit(ind + 1, f"if {bucket} is None:")
        self.emit(ind + 2, f"{r} = 0")
        self.emit(ind + 1, "else:")
        at = ind + 2
        self.emit(at, f"{ords} = {bucket}.ordinals")
        # the bucket's first contact inside every window and after every anchor: the largest
        # of the positions each gives (none: the whole bucket)
        starts = []
        for fields, key in sub.anchors:  # after the anchor's bucket's latest contact
            latest, after = self.tmp("b"), self.tmp("b")
            self._bucket(ix, latest, fields, key, at)
            self.emit(at, f"{after} = 0 if {latest} is None else BR({bucket}.indices, {latest}.indices[-1])")
            starts.append(after)
        if sub.bounds:
            self.emit(at, f"{cur} = ctx.cur")
        for bound in sub.bounds:
            if bound[0] == "week":
                first = f"{cur}.ordinal - {cur}.date.weekday()"
            elif bound[0] == "month":
                first = f"{cur}.ordinal - {cur}.date.day + 1"
            elif bound[0] == "year":
                first = f"YS({cur}.date)"
            else:  # the day after the current date less the duration (as closures' `within`)
                d = self.value(bound[1].duration, at)
                first = f"SH({cur}.date, -{d}[0], {d}[1]) + 1"
            position = self.tmp("b")
            self.emit(at, f"{position} = BL({ords}, {first})")
            starts.append(position)
        if not starts:
            self.emit(at, f"{r} = len({ords})")
            return r
        self.emit(at, f"{lo} = {starts[0]}")
        for other in starts[1:]:
            self.emit(at, f"if {other} > {lo}:")
            self.emit(at + 1, f"{lo} = {other}")
        self.emit(at, f"{r} = len({ords}) - {lo}")
        return r

    def _bucket(self, ix: str, into: str, fields: tuple, key: tuple, ind: int) -> None:
        """Emit: `into` = the bucket of the current contact's key by `fields` (None: empty);
        `ix` holds the context's indexes."""
        m = self.m
        fields_id = m.bind(fields)
        parts = [self.field(p[1], ind) if p[0] == "field" else m.const(p[1]) if p[0] == "value" else "True"
                 for p in key]
        self.emit(ind, f"{into} = {ix}.get({fields_id})")
        self.emit(ind, f"if {into} is None:")
        self.emit(ind + 1, f"{into} = ctx.index({fields_id})")
        self.emit(ind, f"{into} = {into}.get(({', '.join(parts)},))")

    def _aggregate(self, node: ast.Aggregate, limit: int | None) -> str:
        compiler = Compiler(self.m.parameters, self.traced, self.required, set())
        return self.m.bind(compiler.aggregate(node, limit), "g")

    def _both(self, a: str, node: ast.Node, ind: int, result: str, make) -> None:
        """Emit `result = make(a, b)` with b the value of `node`, evaluated only when a is
        known; result None when a or b is unknown. A constant `a` is known: b is evaluated
        unguarded (Python warns of `5 is not None`)."""
        mark = len(self.lines)
        if a in self.m.known:
            b = self.value(node, ind)
            self.emit(ind, f"{result} = {make(a, b)}" if b in self.m.known
                      else f"{result} = None if {b} is None else {make(a, b)}")
            return
        b = self.value(node, ind + 1)
        unknown = [f"{x} is None" for x in (a, b) if x not in self.m.known]
        if len(self.lines) == mark:  # b needed no statement: one line
            if unknown:
                self.emit(ind, f"{result} = None if {' or '.join(unknown)} else {make(a, b)}")
            else:
                self.emit(ind, f"{result} = {make(a, b)}")
            return
        inner = self.lines[mark:]
        del self.lines[mark:]
        self.emit(ind, f"{result} = None")
        self.emit(ind, f"if {a} is not None:")
        self.lines += inner
        if b in self.m.known:
            self.emit(ind + 1, f"{result} = {make(a, b)}")
        else:
            self.emit(ind + 1, f"if {b} is not None:")
            self.emit(ind + 2, f"{result} = {make(a, b)}")

    def _chain(self, node: ast.Node, ind: int) -> str:
        """a and b and c (or a chain of or) in order, stopping at the first part that decides
        it; unknown if no part decides it and some part is unknown. Traced, the missing facts
        kept are those of the parts that left the chain unknown."""
        kind = type(node)
        stop = "True" if kind is ast.Or else "False"
        other = "False" if stop == "True" else "True"
        parts = ast.chain(node, kind)
        if not self.traced and all(isinstance(p, _PLAIN_NODES) for p in parts):
            # Parts that need no statement (fields read into locals, constants) are tested in
            # one expression: evaluating them all costs nothing and changes nothing.
            values = [self.value(part, ind) for part in parts]
            r = self.tmp()
            maybe = [f"{v} is None" for v in values if v not in self.m.known]
            decided = " or ".join(f"{v} is {stop}" for v in values)
            tail = f"None if {' or '.join(maybe)} else {other}" if maybe else other
            self.emit(ind, f"{r} = {stop} if {decided} else {tail}")
            return r
        going, unknown = self.tmp("c"), self.tmp("u")
        begin = self.tmp("b") if self.traced else None
        self.emit(ind, f"{going} = True")
        self.emit(ind, f"{unknown} = False")
        if self.traced:
            self.emit(ind, f"{begin} = len(ms)")
        for i, part in enumerate(parts):
            at = ind
            if i:
                self.emit(ind, f"if {going}:")
                at = ind + 1
            mark = self.tmp("m") if self.traced else None
            if self.traced:
                self.emit(at, f"{mark} = len(ms)")
            v = self.value(part, at)
            self.emit(at, f"if {v} is {stop}:")
            if self.traced:
                self.emit(at + 1, f"del ms[{begin}:]")
            self.emit(at + 1, f"{going} = False")
            self.emit(at, f"elif {v} is None:")
            self.emit(at + 1, f"{unknown} = True")
            if self.traced:
                self.emit(at, "else:")
                self.emit(at + 1, f"del ms[{mark}:]")
        r = self.tmp()
        self.emit(ind, f"{r} = {stop} if not {going} else None if {unknown} else {other}")
        return r

    def _compare(self, node: ast.Compare, ind: int) -> str:
        limit = Compiler(self.m.parameters, False).count_limit(node)
        r = self.tmp()
        if limit is not None and not self.traced:
            # count … >= K: counting can stop at K matches; unknown rows cannot undo that.
            n = self._subtraction(node.left, limit, ind)
            if n is None:
                g = self._aggregate(node.left, limit)
                n = self.tmp()
                self.emit(ind, f"{n} = {g}(ctx)")
            self.emit(ind, f"{r} = {n} >= {limit} if type({n}) is int else RC('>=', {n}, {limit})")
            return r
        a = self.value(node.left, ind)
        op = _PY_OPS[node.op]
        if ast.has_count(node):
            def make(a, b):
                return (f"RC({literal(node.op)}, {a}, {b}) if isinstance({a}, CR) or isinstance({b}, CR) "
                        f"else {a} {op} {b}")
        else:
            def make(a, b):
                return f"{a} {op} {b}"
        self._both(a, node.right, ind, r, make)
        return r

    def _member(self, node: ast.Member, ind: int) -> str:
        v = self.value(node.item, ind)
        r = self.tmp()
        coll = node.collection
        constant = None
        if isinstance(coll, ast.ListLit):
            constant = [i.value for i in coll.items]
        elif isinstance(coll, ast.Name) and isinstance(self.m.parameters.get(coll.name), list):
            constant = self.m.parameters[coll.name]
        negated = node.negated

        def make(v, values):
            test = f"{v} {'not in' if negated else 'in'} {values}"
            if ast.has_count(node.item):
                test = f"RIN({v}, {values}, {negated!r}) if isinstance({v}, CR) else {test}"
            return test

        if constant is not None:
            try:
                values = self.m.bind(frozenset(constant))
            except TypeError:  # pragma: no cover - the checker allows lists of plain values only
                values = self.m.bind(list(constant))
            if v in self.m.known:
                self.emit(ind, f"{r} = {make(v, values)}")
            else:
                self.emit(ind, f"{r} = None if {v} is None else {make(v, values)}")
            return r
        self._both(v, coll, ind, r, make)
        return r


@dataclass
class OutputSlot:
    """Where an output's contributions gather in a contact's accumulator, and how."""

    index: int
    name: str
    combine: str  # all | union | single


def output_slots(outputs) -> dict[str, OutputSlot]:
    """The accumulator slots of the outputs, in declared order (`outputs`: OutputSpec values)."""
    return {o.name: OutputSlot(i, o.name, o.combine) for i, o in enumerate(outputs)}


@dataclass
class GeneratedVersion:
    """The compiled functions of one policy version, and their source."""

    source: str
    decide: object
    replay: object
    applies_traced: object
    rules_traced: tuple
    # What the source's generated names stand for, for a person reading it (`regelverk
    # compile`): comment lines, never compiled.
    legend: str = ""


def _prefetch(body: Body, names, ind: int, done: set) -> list[str]:
    out = []
    for name in names:
        if name not in done:
            done.add(name)
            out.append("    " * ind + f"{body.fields[name]} = get({literal(name)})")
    return out


def _effects(m: Module, slots: dict, effects: dict, version, rule, ind: int, all_locals: dict) -> list[str]:
    """Statements merging a rule's effects (output -> constant value) into the accumulator."""
    out = []
    pad = "    " * ind
    for name, value in effects.items():
        slot = slots[name]
        if slot.combine == "all":
            o = all_locals.setdefault(name, m._new("o"))
            if value is False:
                out.append(f"{pad}{o} = False")
            else:  # a yes/no output takes only true or false (checked at load)
                out.append(f"{pad}if {o} is U:")
                out.append(f"{pad}    {o} = True")
        elif slot.combine == "union":
            codes = m.bind(tuple(value))
            out.append(f"{pad}x = acc[{slot.index}]")
            out.append(f"{pad}acc[{slot.index}] = {codes} if x is U else x + {codes}")
        else:
            claim = m.bind((value, version, rule))
            out.append(f"{pad}x = acc[{slot.index}]")
            out.append(f"{pad}if x is U:")
            out.append(f"{pad}    acc[{slot.index}] = [{claim}]")
            out.append(f"{pad}else:")
            out.append(f"{pad}    x.append({claim})")
    return out


def _undetermined(m: Module, slots: dict, decides, ind: int, all_locals: dict) -> list[str]:
    out = []
    pad = "    " * ind
    for name in decides:
        slot = slots[name]
        if slot.combine == "all":
            o = all_locals.setdefault(name, m._new("o"))
            out.append(f"{pad}if {o} is not False:")
            out.append(f"{pad}    {o} = None")
        elif slot.combine == "single":
            marker = m.bind((UNTOUCHED, None, None))
            out.append(f"{pad}x = acc[{slot.index}]")
            out.append(f"{pad}if x is U:")
            out.append(f"{pad}    acc[{slot.index}] = [{marker}]")
            out.append(f"{pad}else:")
            out.append(f"{pad}    x.append({marker})")
        # a union is the union of what was required: an undetermined rule adds nothing
    return out


def _decide_function(m: Module, name: str, version, rule_indexes, slots: dict, required: frozenset,
                     findings: bool) -> list[str]:
    """The source of decide (findings=True) or replay (False) for the given rules."""
    applies = Body(m, False, required)
    a = applies.value(version.applies_when, 1)
    done: set = set()
    out = [f"def {name}(ctx, acc):", "    get = ctx.contact.get"]
    out += _prefetch(applies, applies.fields, 1, done)
    out += applies.lines
    out += [f"    if {a} is not True:", f"        return {a}"]
    out.append("    hits = []" if findings else "    hits = ()")
    all_locals: dict[str, str] = {}
    rules_code: list[str] = []
    for k in rule_indexes:
        rule = version.rules[k]
        body = Body(m, False, required)
        r = body.value(rule.when, 1)
        rules_code += _prefetch(body, body.fields, 1, done)
        rules_code += body.lines
        then = _effects(m, slots, rule.then, version, rule, 2, all_locals)
        otherwise = _effects(m, slots, rule.otherwise, version, rule, 2, all_locals)
        unknown = _undetermined(m, slots, rule.decides, 2, all_locals)
        rules_code.append(f"    if {r} is True:")
        rules_code += then
        if findings:
            rules_code.append(f"        hits.append(({k}, True))")
        elif not then:
            rules_code.append("        pass")
        rules_code.append(f"    elif {r} is None:")
        rules_code += unknown
        if findings:
            rules_code.append(f"        hits.append(({k}, None))")
        elif not unknown:
            rules_code.append("        pass")
        if otherwise:
            rules_code.append("    else:")
            rules_code += otherwise
    out += [f"    {o} = U" for o in all_locals.values()]
    out += rules_code
    for output, o in all_locals.items():
        i = slots[output].index
        out += [f"    if {o} is not U:",
                f"        x = acc[{i}]",
                f"        if x is not False and (x is U or {o} is not True):",
                f"            acc[{i}] = {o}"]
    out.append("    return hits")
    return out


def _traced_function(m: Module, name: str, node: ast.Node, required: frozenset) -> list[str]:
    body = Body(m, True, required)
    r = body.value(node, 1)
    out = [f"def {name}(ctx):", "    get = ctx.contact.get", "    ms = ctx.trace.missing"]
    out += _prefetch(body, body.fields, 1, set())
    out += body.lines
    out.append(f"    return {r}")
    return out


def generate_version(version, fields: dict, slots: dict, required: frozenset, replay_rules,
                     opaque: dict | None = None) -> tuple[str, Module]:
    """The source of a version's module and the objects its identifiers are bound to.
    `replay_rules`: the indexes of the rules a replayed history needs (see program.Program). `opaque`:
    conditions to call as closures instead of generating them (see compile_version)."""
    m = Module(fields, version.parameters)
    m.opaque = opaque
    chunks = [_decide_function(m, "decide", version, range(len(version.rules)), slots, required, True)]
    if replay_rules:
        chunks.append(_decide_function(m, "replay", version, replay_rules, slots, required, False))
    else:  # a replayed history needs nothing of this version: it is skipped as if it did not apply
        chunks.append(["def replay(ctx, acc):", "    return False"])
    chunks.append(_traced_function(m, "applies_traced", version.applies_when, required))
    for k, rule in enumerate(version.rules):
        chunks.append(_traced_function(m, f"rule_{k}", rule.when, required))
    functions = ["decide", "replay", "applies_traced",
                 *(f"rule_{k}" for k in range(len(version.rules)))]
    header = [f"# policy {version.id!r} version {version.version!r}: generated by evaluator.compiling.codegen, do not edit",
              f"def make({', '.join(sorted(m.bound))}):"]
    lines = header + ["    " + line if line else line for chunk in chunks for line in chunk + [""]]
    lines.append(f"    return {', '.join(functions)}")
    return "\n".join(lines) + "\n", m


def check_generated(source: str, bound, filename: str = "<regelverk>"):
    """Compile generated source and refuse it when its code reads a name or attribute, or
    holds a constant, it was not meant to: the last guard that nothing of a policy's text
    became code (see the module docstring). Returns the code object.

    The compiled code lists every global and attribute name it reads (co_names), every local,
    argument and bound name (co_varnames, co_cellvars, co_freevars) and every constant
    (co_consts, which hold the nested functions' code), so checking those checks it all."""
    code = compile(source, filename, "exec")
    allowed = set(bound) | _LOCALS
    stack = [code]
    while stack:
        c = stack.pop()
        if c is not code and not (_GENERATED.fullmatch(c.co_name) or c.co_name == "make"):
            raise CodegenError(f"generated source defines {c.co_name!r}")
        for name in c.co_names:
            if name not in _BUILTINS and name not in _ATTRIBUTES and name not in ("make",):
                raise CodegenError(f"generated source reads {name!r}")
        # (co_names holds global and attribute names alike: each is checked for what it is)
        for op in dis.get_instructions(c):
            if "IMPORT" in op.opname:
                raise CodegenError("generated source imports")
            if "ATTR" in op.opname or "METHOD" in op.opname:
                if op.argval not in _ATTRIBUTES:
                    raise CodegenError(f"generated source reads the attribute {op.argval!r}")
            elif "GLOBAL" in op.opname or op.opname.endswith("_NAME"):
                if op.argval not in _BUILTINS and op.argval != "make":
                    raise CodegenError(f"generated source reads {op.argval!r}")
        for name in (*c.co_varnames, *c.co_cellvars, *c.co_freevars):
            if name not in allowed and not _GENERATED.fullmatch(name):
                raise CodegenError(f"generated source names {name!r}")
        for const in c.co_consts:
            if type(const) is type(code):
                stack.append(const)
            elif not _plain(const):
                raise CodegenError(f"generated source holds a constant of type {type(const).__name__}")
    return code


def _plain(const) -> bool:
    """None, a yes/no, a whole number, a text, or a tuple of them (a dict literal's keys)."""
    if type(const) is tuple:
        return all(_plain(c) for c in const)
    return const is None or type(const) in (bool, int, str)


def compile_version(version, fields: dict, slots: dict, required: frozenset, replay_rules,
                    closures) -> GeneratedVersion:
    """Generate, check and compile a version's functions once. `closures`: the version's
    conditions compiled as closures (program.VersionClosures), which the generated code calls
    where a condition nests deeper than Python's own parser takes."""
    name = f"<regelverk {version.id} {version.version}>"
    try:
        source, m = generate_version(version, fields, slots, required, replay_rules)
        code = check_generated(source, m.bound, name)
    except (SyntaxError, RecursionError, MemoryError):
        # A condition nested deeper than Python's parser takes (a repository may raise
        # max_condition_nesting): the conditions run as closures.py's closures, called from
        # generated code that is otherwise the same.
        opaque = {id(version.applies_when): (closures.applies, closures.applies_traced)}
        opaque.update({id(r.when): (closures.rules[k], closures.rules_traced[k]) for k, r in enumerate(version.rules)})
        source, m = generate_version(version, fields, slots, required, replay_rules, opaque)
        code = check_generated(source, m.bound, name)
    namespace: dict = {"__builtins__": {n: getattr(builtins, n) for n in ("len", "isinstance", "type", "int", "set", "sorted")}}
    exec(code, namespace)  # noqa: S102 - our generated, checked source; never policy text
    made = namespace["make"](**{k: m.bound[k] for k in sorted(m.bound)})
    made = list(made)
    decide = made.pop(0)
    replay = made.pop(0)
    applies_traced = made.pop(0)
    return GeneratedVersion(source, decide, replay, applies_traced, tuple(made), legend(version, m))


def legend(version, m: Module) -> str:
    """Comment lines saying what a version's generated names stand for: the rule of each index
    in `hits` and `rule_<k>`, the contact field of each `f_…`, the parameter of each `p_…`."""
    def one_line(text: str) -> str:
        return " ".join(str(text).split())
    lines = ["# ---- what the names above stand for (not part of the compiled source) ----"]
    for k, rule in enumerate(version.rules):
        lines.append(f"# rule {k} (hits ({k}, …), rule_{k}): {one_line(rule.id)}: {one_line(rule.when_text)}")
    for name, ident in m._field_ids.items():  # (in the order the names were made)
        lines.append(f"# {ident}: the contact's field {one_line(name)}")
    for name, ident in m._param_ids.items():
        lines.append(f"# {ident}: the parameter {one_line(name)} = {one_line(repr(m.bound[ident]))}")
    lines.append("# g_…: a history count or condition run as closures (evaluator/compiling/closures.py); "
                 "k_…: other constants")
    lines.append("# fixed names (evaluator/compiling/codegen.py, RUNTIME): U an output no rule has set yet; "
                 "CR a count range; RC, RM, RIN comparison, membership and 'in' with count ranges; "
                 "AR arithmetic; NEG negation; BL, BR bisect_left, bisect_right; SH a date's ordinal "
                 "moved by a duration; YS the ordinal of 1 January of a date's year")
    return "\n".join(lines) + "\n"


def _single(name: str, claims: list, findings: list):
    """One value of a `single` output from its claims [(value, version, rule)] in order; two
    different values are a conflict: an error finding, and null."""
    distinct: dict = {}
    unknown = False
    for value, v, rule in claims:
        if value is UNTOUCHED:
            unknown = True
        else:
            distinct.setdefault(value, (v, rule))
    if len(distinct) > 1:
        findings.append(conflict_finding(name, distinct))
        return None
    if unknown or not distinct:
        return None
    return next(iter(distinct))


def generate_finish(slots: dict) -> str:
    """The source of finish(acc, findings): the outputs of a decision from its accumulator."""
    out = ["def make(U, single):", "    def finish(acc, findings):"]
    names = []
    for slot in slots.values():
        o = f"o_{slot.index}"
        names.append(f"{literal(slot.name)}: {o}")
        out.append(f"        x = acc[{slot.index}]")
        if slot.combine == "all":
            out.append(f"        {o} = None if x is U else x")
        elif slot.combine == "union":
            out.append(f"        {o} = [] if x is U else sorted(set(x))")
        else:
            out.append(f"        {o} = None if x is U else single({literal(slot.name)}, x, findings)")
    out.append(f"        return {{{', '.join(names)}}}")
    out.append("    return finish")
    return "\n".join(out) + "\n"


def compile_finish(slots: dict):
    source = generate_finish(slots)
    code = check_generated(source, {"U": UNTOUCHED, "single": _single}, "<regelverk outputs>")
    namespace: dict = {"__builtins__": {"set": set, "sorted": sorted}}
    exec(code, namespace)  # noqa: S102 - generated, checked
    return namespace["make"](UNTOUCHED, _single)
