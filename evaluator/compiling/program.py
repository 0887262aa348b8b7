"""The compiled program of a policy set: each version's code, and every compile-time fact the engine needs.

The loader (``loading``) gives checked versions and compiles nothing; this is where they
become code, once per set. The engine then only looks things up:

* each version's generated functions (``codegen``) and its conditions as closures
  (``closures``: the traced runs of ``explain`` and the reference engine);
* the field combinations its history counts bucket a patient's history by, and the function
  that keys a decided contact into each bucket;
* the rules a replayed history needs (the ones that set an output some filter reads with `was`);
* whether a version counts earlier contacts at all (if none a contact can fall under does, its
  history cannot change its decision);
* the dispatch table: which versions a contact can fall under, by the values of the fields
  applies_when conditions pin down (required ones, and facts they also say are known);
* per rule, the contact fields its condition reads and the fields its messages name;
* the outputs a decision starts from, and the function that finishes them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from ..explaining.messages import message_names
from ..language import ast
from ..loading.policy import PolicyVersion
from ..resources import load_schema
from .closures import bucket_key_function, compile_condition
from .codegen import UNTOUCHED, GeneratedVersion, compile_finish, compile_version, output_slots


@dataclass(frozen=True)
class VersionClosures:
    """A version's conditions compiled as closures: applies_when, and each rule's `when`, plain
    and traced (recording missing facts and the history contacts used)."""

    applies: object
    applies_traced: object
    rules: tuple
    rules_traced: tuple
    index_keys: frozenset  # field combinations its history counts bucket history by


def version_closures(version: PolicyVersion, required: frozenset) -> VersionClosures:
    params = version.parameters
    keys: set = set()
    rules = tuple(compile_condition(r.when, params, required=required, index_keys=keys) for r in version.rules)
    traced = tuple(compile_condition(r.when, params, traced=True, required=required, index_keys=keys)
                   for r in version.rules)
    return VersionClosures(compile_condition(version.applies_when, params),
                           compile_condition(version.applies_when, params, traced=True),
                           rules, traced, frozenset(keys))


@dataclass(frozen=True)
class VersionProgram:
    """One policy version, compiled: its generated functions, its closures, and what the engine
    asks of it."""

    version: PolicyVersion
    code: GeneratedVersion
    closures: VersionClosures
    replay_rules: tuple[int, ...]  # the rules a replayed history runs (they set outputs read with `was`)
    reads_history: bool  # whether a rule counts earlier contacts

    @property
    def source(self) -> str:
        return self.code.source


def pinned_values(node, parameters: dict, required: frozenset, single: frozenset) -> dict:
    """Fields that a condition's top-level conjuncts pin to constant values: `region = "x"`
    gives {"region": {"x"}}, `channel in ["a", "b"]` gives {"channel": {"a", "b"}}. Only a
    field every checked contact has (a required one), or one of `single` (fields of one
    text, yes/no or whole number) that another top-level conjunct says is known (`platform
    is known and platform = "sob"`): without that, a contact lacking the fact leaves the
    condition unknown rather than false, which the engine reports."""

    def const(n):
        if isinstance(n, ast.Literal):
            return [n.value]
        if isinstance(n, ast.ListLit):
            return [item.value for item in n.items]
        if isinstance(n, ast.Name) and n.name in parameters:
            value = parameters[n.name]
            return list(value) if isinstance(value, list) else [value]
        return None

    conjuncts = list(ast.conjuncts(node))
    known = {c.operand.name for c in conjuncts
             if isinstance(c, ast.IsKnown) and not c.negated and isinstance(c.operand, ast.Name)}
    pinned: dict = {}
    for c in conjuncts:
        if isinstance(c, ast.Compare) and c.op == "=" and isinstance(c.left, ast.Name):
            field, values = c.left.name, const(c.right)
        elif isinstance(c, ast.Member) and not c.negated and isinstance(c.item, ast.Name):
            field, values = c.item.name, const(c.collection)
        else:
            continue
        if values is not None and (field in required or (field in known and field in single)):
            # (parameters never share a field's name)
            pinned[field] = pinned.get(field, set(values)) & set(values)
    return pinned


def fields_read(node: ast.Node) -> tuple[str, ...]:
    """The contact fields a history-free condition reads (parameters share no field's name)."""
    return tuple(dict.fromkeys(n.name for n in ast.walk(node) if isinstance(n, (ast.Name, ast.CurrentField))))


def reads_history(version: PolicyVersion) -> bool:
    """Whether a version's decision can depend on the patient's earlier contacts: one of its
    rules counts them (the loader's Rule.uses_history; applies_when may not count, the
    checker refuses it there)."""
    return any(r.uses_history for r in version.rules)


class Program:
    """Every version of a policy set compiled, with the tables the engine decides by."""

    def __init__(self, policy_set, outputs: list):
        required = frozenset(load_schema("contact.schema.json").get("required", ()))
        self.outputs = outputs
        self.slots = output_slots(outputs)
        self.blank = [UNTOUCHED] * len(self.slots)  # a contact's accumulator before any rule
        self.finish = compile_finish(self.slots)
        # A decided contact's outputs before any rule gives them a value: null, and [] for a
        # union (made anew for each decision from these).
        self.null_outputs = {o.name: None for o in outputs}
        self.unions = tuple(o.name for o in outputs if o.combine == "union")
        self.policies = [policy_set.policies[k] for k in sorted(policy_set.policies)]
        versions = [v for p in self.policies for v in p.versions]
        read_back = {n.output for v in versions for r in v.rules for n in ast.walk(r.when) if isinstance(n, ast.Was)}
        self.versions: dict[int, VersionProgram] = {}
        for v in versions:
            replay = tuple(k for k, r in enumerate(v.rules) if read_back.intersection(r.decides))
            closures = version_closures(v, required)
            code = compile_version(v, policy_set.fields, self.slots, required, replay, closures)
            self.versions[id(v)] = VersionProgram(v, code, closures, replay, reads_history(v))
        self.index_keys = tuple(sorted({k for p in self.versions.values() for k in p.closures.index_keys}))
        # Per field combination, the function that keys a decided contact into its history bucket.
        self.bucket_keys = {fields: bucket_key_function(fields) for fields in self.index_keys}
        rules = [r for v in versions for r in v.rules]
        # Per rule: the contact fields a history-free condition reads (what the facts it lacked
        # depend on), and the fields its messages name with whether they list evidence.
        self.reads = {id(r): fields_read(r.when) for r in rules if not r.uses_history}
        self.message_names = {id(r): message_names(r) for r in rules}
        single = frozenset(name for name, t in policy_set.fields.items() if t.kind in ("string", "boolean", "integer"))
        self.dispatch(versions, required, single)
        self._keep = versions  # the versions and rules whose ids key the tables above stay alive

    def dispatch(self, versions: list, required: frozenset, single: frozenset) -> None:
        """The dispatch table: a contact tries only the versions none of whose pinned conjuncts
        (`field = "x"` or `field in [...]` at the top of applies_when, see pinned_values) is
        false for it, over every field some version pins (the region and the channel, say). A
        false pinned conjunct makes the whole applies_when false, so skipping those versions
        changes no decision. A pinned field that is not required is one applies_when also
        says is known: a contact without it (its value None, which no guard allows) fails that
        conjunct, and so the whole condition, too.

        `pinned_fields` (the required ones first), `guards` ((version, ((field, allowed
        values), …)) in policy order) and `dispatch_key(contact)` (the tuple of the pinned
        fields' values) are what the engine looks up."""
        guards = [pinned_values(v.applies_when, v.parameters, required, single) for v in versions]
        pinned = {f for g in guards for f in g}
        always = tuple(sorted(f for f in pinned if f in required))
        maybe = tuple(sorted(f for f in pinned if f not in required))
        self.pinned_fields = always + maybe
        self.guards = tuple((v, tuple(g.items())) for v, g in zip(versions, guards, strict=True))
        # (itemgetter for the fields every checked contact has; get for the others)
        if len(always) > 1:
            present = operator.itemgetter(*always)  # (a tuple of their values)
        elif always:
            present = lambda contact, field=always[0]: (contact[field],)
        else:
            present = lambda contact: ()
        # An optional fact's value stands in the key as itself where some guard allows it, else
        # as None (which no guard allows): the engine's tables, keyed by these tuples, then hold
        # one entry for all the values no version is about, however many a fact takes.
        named = [{value: value for g in guards for value in g.get(f, ())}.get for f in maybe]
        if not maybe:
            self.dispatch_key = present
        elif len(maybe) == 1:
            field, named_one = maybe[0], named[0]
            self.dispatch_key = lambda contact: (*present(contact), named_one(contact.get(field)))
        else:
            pairs = tuple(zip(maybe, named, strict=True))
            self.dispatch_key = lambda contact: (*present(contact), *(name(contact.get(f)) for f, name in pairs))

    def of(self, version: PolicyVersion) -> VersionProgram:
        return self.versions[id(version)]


def version_source(policy_set, outputs: list, policy_id: str, version: str | None = None) -> str:
    """The generated source of a policy's version (the latest when `version` is None), and
    after it, as comments, what its generated names stand for (codegen.legend)."""
    policy = policy_set.policies[policy_id]
    chosen = [v for v in policy.versions if version is None or v.version == version]
    if not chosen:
        known = ", ".join(v.version for v in policy.versions)
        raise KeyError(f"policy {policy_id} has no version {version} (it has {known})")
    v = max(chosen, key=lambda v: v.key)
    code = Program(policy_set, outputs).of(v).code
    return code.source + "\n" + code.legend
