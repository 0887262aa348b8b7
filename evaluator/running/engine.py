"""Decide contacts: pick the versions in force, run their rules, combine outputs, explain.

Implements contract sections 2 to 4: a patient's contacts are taken in order of date, then
time (none first), then input order; each is decided with the patient's earlier valid contacts
and their decisions as history; every input gets exactly one decision, in input order.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable
from contextlib import contextmanager

import orjson

from ..compiling.program import Program
from ..explaining.messages import list_evidence, not_told_message, render_message, unknown_message
from ..explaining.provenance import provenance_of
from ..explaining.trace import RuleTrace, VersionTrace
from ..loading.citation import document_of
from ..loading.policy import PolicyVersion, Rule
from ..loading.repository import PolicySet
from .combine import combine, no_outputs
from .contacts import ContactChecker, core_checker
from .state import Context, Entry, Trace, file_entry

# The trace of a rule that fired without counting history: nothing missing, no evidence. Only
# read (findings copy its lists), never given to a traced run.
_NOTHING_SEEN = Trace()

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False
_gc_promote = False
# A batch at least this large has its objects moved to the oldest generation when it ends
# (see cyclic_gc_paused); a smaller one leaves them to the collector as usual.
PROMOTE_MIN_RECORDS = 5000

# What Engine._versions_for remembers at most: this many combinations of the pinned fields'
# values, each with this many days (beyond either, it starts again from nothing).
TODO_PINS_MAX = 4096
TODO_DAYS_MAX = 65_536


@contextmanager
def cyclic_gc_paused(promote: bool = False):
    """A batch allocates millions of small objects and frees none of them until it ends: the
    cyclic garbage collector would walk them again and again (about a third of the time) and
    find nothing, as deciding creates no reference cycles; reference counting still frees
    memory. Batches running at once in several threads share one pause: the collector comes
    back when the last of them ends. `promote`: the pause holds a large batch (see below)."""
    global _gc_pauses, _gc_was_enabled, _gc_promote
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            _gc_promote = False
            gc.disable()
        _gc_pauses += 1
        _gc_promote = _gc_promote or promote
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                # The batch's objects are all young: the next young collection would walk
                # every one of them (about a tenth of a batch's time) and free none, as they
                # are the decisions just returned. Freezing and unfreezing moves them to the
                # oldest generation in one step instead; the collector treats them as it
                # treats any long-lived object from then on. (Not when the program keeps
                # objects frozen itself, e.g. before forking: unfreezing would undo that.)
                # Only after a large batch: garbage moved to the oldest generation this way
                # does not count towards its next collection, so a long-running program
                # deciding many small batches (the service) would pile it up.
                if _gc_promote and gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


class Engine:
    """Decides contacts under one loaded PolicySet. Holds no state between calls."""

    def __init__(self, policy_set: PolicySet, *, reference: bool = False):
        """`reference`: decide every contact the slow, plain way (traced closures, every policy
        tried, no history buckets, no remembered anchors, no early stops), to check the
        optimised path against. The decisions must be the same."""
        self.policy_set = policy_set
        self.reference = reference
        # Contacts are checked against the core fields and this repository's declared facts.
        refuse = policy_set.settings.section("privacy").get("refuse_personnummer_patient", True)
        self.contact_checker = (ContactChecker(policy_set.contact_schema, refuse) if policy_set.facts or not refuse
                                else core_checker())
        self.outputs = list(policy_set.outputs.values())
        # Every version compiled (compiling/program.py), with the tables decide looks things up
        # in: worked out once per set, when it is compiled, not here.
        self.program = program = Program(policy_set, self.outputs)
        self.policies = program.policies
        self._programs = program.versions
        self._blank = program.blank
        self._null_outputs = program.null_outputs
        self._unions = program.unions
        self._bucket_keys = program.bucket_keys
        self._reads = program.reads
        self._placeholders = program.message_names
        # What _message and _missing remember (bounded), by rule and the values they depend on.
        self._said: dict = {}
        # Per version: the parts of its entry in a decision's `policies` (id, version, content
        # hash) and that entry's JSON, and per rule (rule, the parts of its finding when it
        # fires, that finding's JSON) where that finding is the same for every contact (a rule
        # that counts no history, whose message names no contact field), else (rule, None,
        # None). Worked out here, once.
        self._fired = {id(v): ((v.id, v.version, v.content_hash),
                               orjson.Fragment(orjson.dumps(self._applied_entry(v))),
                               tuple((r, *self._constant_finding(v, r)) for r in v.rules))
                       for v in policy_set.versions()}
        self._missed: dict = {}
        # _versions_for's answers: pinned values -> the day's ordinal -> versions (two small
        # lookups: one table keyed by both was a third of a million entries' worth of cache
        # misses at a million contacts).
        self._todo: dict = {}
        self._replays: dict = {}
        self._replayed_nothing = self._no_outputs()  # (shared: see _replayed_outputs)
        # Contract §7: the same for every decision of this set, so its JSON is made once and
        # spliced into each NDJSON line as it is (an orjson Fragment) instead of serialised anew.
        self.provenance = provenance_of(policy_set)
        self._provenance_json = orjson.Fragment(orjson.dumps(self.provenance))

    def _provenance_for(self, emit):
        """What a decision's `provenance` holds: the serialised JSON for a decision that is only
        emitted as its line; a copy of its own for a decision returned as a dict."""
        return self._provenance_json if emit is not None else dict(self.provenance)

    def candidates(self, contact: dict, day) -> list:
        """The versions in force on `day` that a checked contact can fall under (the dispatch
        table, Program.dispatch), in policy order."""
        return [entry[0] for entry in self._versions_for(self.program.dispatch_key(contact), day)]

    def _versions_for(self, values: tuple, day) -> tuple:
        """(version, its generated code, …) of the versions a contact with these values of the
        pinned fields (see Program.dispatch) can fall under on this day: as remembered in
        _todo, else worked out and remembered there."""
        ordinal = day.toordinal()
        by_day = self._todo.get(values)
        if by_day is not None:
            todo = by_day.get(ordinal)
            if todo is not None:
                return todo
        value_of = dict(zip(self.program.pinned_fields, values, strict=True))
        candidates = [v for v, guard in self.program.guards if all(value_of[f] in allowed for f, allowed in guard)]
        # (version, its generated code, the entry of a decision's `policies` it makes, that
        # entry's JSON, its rules each with the finding it makes when it fires where that is the
        # same for every contact: see _fired)
        todo = tuple((v, self._programs[id(v)].code, *self._fired[id(v)])
                     for v in candidates if v.in_force_on(day))
        if by_day is None:
            if len(self._todo) >= TODO_PINS_MAX:
                self._todo.clear()
            by_day = self._todo[values] = {}
        elif len(by_day) >= TODO_DAYS_MAX:
            by_day.clear()
        by_day[ordinal] = todo
        return todo

    # -- one contact ---------------------------------------------------------------------
    def decide(self, ctx: Context, explain: list | None = None, outputs_only: bool = False) -> dict:
        """Decide ctx.cur, the patient's next contact. With `outputs_only` (replaying a history
        whose findings nobody reads) only the outputs that history filters read back (`was …`)
        are decided; they are the same as in a full decision."""
        if explain is None:
            decision = self._decide_generated(ctx, outputs_only, None)
            del decision["provenance"]
            return decision
        cur = ctx.cur
        day = cur.date
        applied = []
        findings = []
        unsure = []  # policies whose applies_when was unknown: reported only if none applied
        # explain, and the plain reference engine: every rule run traced.
        contributions: dict[str, list] = {}
        undetermined: set = set()
        todo = []
        for policy in self.policies:
            v = policy.in_force_on(day)
            if v is None:
                explain.append(VersionTrace(policy.id, None, None))
            else:
                todo.append(v)
        for v in todo:
            compiled = self._programs[id(v)]
            if outputs_only and not compiled.replay_rules:
                continue
            applies = compiled.closures.applies(ctx)
            if applies is not True:
                missing = []
                if applies is None:
                    finding = self._unsure(ctx, v, compiled.closures.applies_traced)
                    missing = finding["missing"]
                    unsure.append(finding)
                explain.append(VersionTrace(v.id, v, applies, missing))
                continue
            applied.append(self._applied_entry(v))
            vtrace = VersionTrace(v.id, v, True)
            explain.append(vtrace)
            self._run_explained(ctx, compiled, vtrace, contributions, undetermined, findings, outputs_only)
        if not applied:
            return {"contact": cur.id, "status": "no_policy", "policies": [], "outputs": self._no_outputs(),
                    "findings": unsure, "errors": []}
        outputs = self._combine(contributions, undetermined, findings)
        return {"contact": cur.id, "status": "decided", "policies": applied, "outputs": outputs,
                "findings": findings, "errors": []}

    def _replayed_outputs(self, ctx: Context) -> dict:
        """The outputs of ctx.cur replayed as history (see decide's `outputs_only`): only the
        versions whose rules set outputs that history filters read back run, and only those
        rules. Nobody sees its decision, so none is made; the outputs of a contact no such
        version applies to are one shared dict of nulls, which nothing changes."""
        key = (self.program.dispatch_key(ctx.contact), ctx.cur.date)
        replays = self._replays.get(key)
        if replays is None:
            replays = self._replays_for(key)
        if not replays:
            return self._replayed_nothing
        acc = self._blank[:]
        applied = False
        for replay in replays:
            hits = replay(ctx, acc)
            if hits is not False and hits is not None:
                applied = True
        return self.program.finish(acc, []) if applied else self._replayed_nothing

    def _replays_for(self, key: tuple) -> tuple:
        """The replay functions of the versions _versions_for gives for `key` that have rules a
        replayed history runs (the others are skipped as if they did not apply)."""
        replays = tuple(code.replay for v, code, _, _, _ in self._versions_for(*key)
                        if self._programs[id(v)].replay_rules)
        if len(self._replays) >= 65_536:
            self._replays.clear()
        self._replays[key] = replays
        return replays

    def _decide_generated(self, ctx: Context, outputs_only: bool, provenance, as_line: bool = False) -> dict:
        """decide's common path: ctx.cur decided by the generated code of the versions that can
        apply, as a decision with `provenance` (its last field) already in it. With `as_line`
        (a decision only emitted as its NDJSON line, never read as a dict but for its outputs)
        the parts that are the same for every contact (a `policies` entry, a constant finding)
        are their JSON, made once (orjson Fragments), as `provenance` is then."""
        cur = ctx.cur
        contact = cur.contact
        # Only the versions that can apply (see Program.dispatch), in force on the day, each
        # as generated code (codegen.py), remembered by the pinned fields' values and the day
        # (_versions_for's own lookup, written out here: this runs for every contact).
        pins = self.program.dispatch_key(contact)
        by_day = self._todo.get(pins)
        todo = None if by_day is None else by_day.get(cur.ordinal)
        if todo is None:
            todo = self._versions_for(pins, cur.date)
        # Each version's code decides the contact and gathers its outputs in `acc`; the
        # findings of the rules it reports are made here.
        acc = self._blank[:]
        applied = []
        findings = []
        unsure = None  # policies whose applies_when was unknown: reported only if none applied
        for v, code, (vid, version, content_hash), applied_line, rules in todo:
            hits = (code.replay if outputs_only else code.decide)(ctx, acc)
            if hits is False:
                continue
            if hits is None:
                if unsure is None:
                    unsure = []
                unsure.append(self._unsure(ctx, v, code.applies_traced))
                continue
            # (a new entry for each decision: decisions share no mutable object; a decision
            # emitted as its line shares the entry's JSON, which nobody can change)
            applied.append(applied_line if as_line else {"id": vid, "version": version, "content_hash": content_hash})
            for k, result in hits:
                rule, constant, constant_line = rules[k]
                if result is True and constant is not None:
                    if as_line:
                        findings.append(constant_line)
                        continue
                    # the finding _finding would make, from its parts worked out once
                    rid, severity, source, sv, en = constant
                    findings.append({"policy": vid, "version": version, "rule": rid, "severity": severity,
                                     "message": {"sv": sv, "en": en}, "source": source, "evidence": [],
                                     "result": "fired"})
                    continue
                # A fired rule's finding shows the contacts its counts used; a rule that
                # counts nothing has none, so only an undetermined one is run again, to
                # name what was missing.
                if rule.uses_history:
                    ctx.trace = trace = Trace()
                    code.rules_traced[k](ctx)
                    ctx.trace = None
                elif result is None:
                    trace = Trace(self._missing(rule, ctx, code.rules_traced[k]))
                else:
                    trace = _NOTHING_SEEN
                findings.append(self._finding(v, rule, result, contact, trace))
        if not applied:
            return {"contact": cur.id, "status": "no_policy", "policies": applied, "outputs": self._no_outputs(),
                    "findings": unsure or findings, "errors": [], "provenance": provenance}
        return {"contact": cur.id, "status": "decided", "policies": applied,
                "outputs": self.program.finish(acc, findings), "findings": findings, "errors": [],
                "provenance": provenance}

    @staticmethod
    def _applied_entry(v: PolicyVersion) -> dict:
        """A decision's entry for a policy version that applied (new for each decision): the one
        place both the generated path and the explain path make it."""
        return {"id": v.id, "version": v.version, "content_hash": v.content_hash}

    def _unsure(self, ctx: Context, v: PolicyVersion, applies_traced) -> dict:
        """The warning that whether a version applies cannot be told, naming the missing facts."""
        ctx.trace = Trace()
        applies_traced(ctx)
        missing = ctx.trace.missing
        ctx.trace = None
        return {
            "policy": v.id, "version": v.version, "rule": "applies_when", "severity": "warning",
            "message": not_told_message(v.id, missing),
            "source": document_of(v.source), "evidence": [], "result": "not_applied", "missing": missing,
        }

    def _constant_finding(self, v: PolicyVersion, rule: Rule) -> tuple:
        """((rule id, severity, source, message sv, message en), the finding's JSON) of the
        finding `rule` makes when it fires, where no contact changes it (see _fired); else
        (None, None)."""
        fields, _ = self._placeholders[id(rule)]
        if rule.uses_history or any(name not in v.parameters for name in fields):
            return None, None  # (a message naming only parameters is the same for every contact)
        finding = self._finding(v, rule, True, {}, _NOTHING_SEEN)
        message = finding["message"]
        return ((rule.id, rule.severity, rule.source, message["sv"], message["en"]),
                orjson.Fragment(orjson.dumps(finding)))

    def _finding(self, v: PolicyVersion, rule: Rule, result: bool | None, contact: dict, trace: Trace) -> dict:
        """The finding of a rule that fired (result True) or was left undetermined (None)."""
        fired = result is True
        finding = {"policy": v.id, "version": v.version, "rule": rule.id,
                   "severity": rule.severity if fired else "warning",
                   "message": self._message(v, rule, fired, contact, trace), "source": rule.source,
                   "evidence": [e.id for e in trace.evidence], "result": "fired" if fired else "unknown"}
        if not fired:
            finding["missing"] = list(trace.missing)
        return finding

    def _message(self, v: PolicyVersion, rule: Rule, fired: bool, contact: dict, trace: Trace) -> dict:
        """A finding's message in both languages. Remembered by what it depends on (the rule,
        fired or not, the missing facts, the contact fields it names), unless it lists
        evidence: a batch repeats the same few messages many times over."""
        fields, lists_evidence = self._placeholders[id(rule)]
        key = None
        if not (lists_evidence and trace.evidence):
            try:
                key = (id(rule), fired, *trace.missing, None, *map(contact.get, fields))
                said = self._said.get(key)
            except TypeError:  # a list among the values
                key = said = None
            if said is not None:
                return {"sv": said[0], "en": said[1]}
        if fired:
            params = v.parameters
            evidence = trace.evidence
            listed = list_evidence(evidence) if lists_evidence and evidence else ""
            sv = render_message(rule.message.sv, "sv", params, contact, evidence, trace.missing, listed)
            en = render_message(rule.message.en, "en", params, contact, evidence, trace.missing, listed)
        else:
            unknown = unknown_message(rule, v.parameters, contact, trace.missing)
            sv, en = unknown["sv"], unknown["en"]
        if key is not None:
            if len(self._said) >= 65_536:
                self._said.clear()
            self._said[key] = (sv, en)
        return {"sv": sv, "en": en}

    def _missing(self, rule: Rule, ctx: Context, run_traced) -> list[str]:
        """The facts a rule that counts no history was left undetermined for, from a traced
        run; remembered by the values of the fields its condition reads, on which alone they
        depend."""
        try:
            key = (id(rule), *map(ctx.contact.get, self._reads[id(rule)]))
            found = self._missed.get(key)
        except TypeError:  # a list among the values
            key = found = None
        if found is None:
            ctx.trace = trace = Trace()
            run_traced(ctx)
            ctx.trace = None
            found = tuple(trace.missing)
            if key is not None:
                if len(self._missed) >= 65_536:
                    self._missed.clear()
                self._missed[key] = found
        return list(found)

    def _run_explained(self, ctx: Context, compiled, vtrace: VersionTrace, contributions: dict,
                       undetermined: set, findings: list, outputs_only: bool) -> None:
        """The rules of an applied version (`compiled`, its VersionProgram), each run traced, for
        `explain` (and the plain reference engine): the same outputs and findings as decide's
        own loop, and a RuleTrace of every rule."""
        v = compiled.version
        for k in (compiled.replay_rules if outputs_only else range(len(v.rules))):
            rule = v.rules[k]
            ctx.trace = trace = Trace()
            result = compiled.closures.rules_traced[k](ctx)
            ctx.trace = None
            effects = rule.then if result is True else rule.otherwise if result is False else None
            if effects:
                for name, value in effects.items():
                    contributions.setdefault(name, []).append((value, v, rule))
            elif effects is None:
                undetermined.update(rule.decides)
            vtrace.rules.append(RuleTrace(rule, result, dict(effects or {}), trace.evidence, trace.missing))
            if result is not False and not outputs_only:
                findings.append(self._finding(v, rule, result, ctx.contact, trace))

    def _no_outputs(self) -> dict:
        return no_outputs(self._null_outputs, self._unions)

    def _combine(self, contributions: dict, undetermined: set, findings: list) -> dict:
        return combine(self.outputs, contributions, undetermined, findings, self._no_outputs())

    # -- a contact with its history ----------------------------------------------------------
    def evaluate_one(self, contact, history: Iterable, own: bool = False) -> dict:
        """The decision `contact` gets as the last record of a batch of `history` and it.

        Where none of the versions it can fall under counts earlier contacts, the history
        cannot change it, so it is decided alone: the history is not checked or replayed, only
        searched for the contact's id (a reused id makes the contact invalid). Otherwise, and
        for an invalid contact, the whole batch is decided, the history only as far as its
        outputs read back with `was` (see evaluate's `full`). `own`: the contact and the
        history's records are the engine's to change (parsed for this call, as the service
        does), so they are typed in place instead of copied (see prepare)."""
        history = list(history)  # (read twice below)
        if not self.reference:
            decision = self._decide_alone(contact, history)
            if decision is not None:
                return decision
        records = [*history, contact]
        last = len(records) - 1
        decisions, _ = self.evaluate(records, full={last}, own=own)
        return decisions[last]

    def _decide_alone(self, contact, history: list) -> dict | None:
        """evaluate_one's decision where no history can change it, else None."""
        typed, errors = self.contact_checker.check(contact, copy=True)
        if errors:
            return None
        programs = self._programs
        if any(programs[id(v)].reads_history for v in self.candidates(typed, typed["date"])):
            return None
        cid = typed["id"]
        for record in history:
            if claimed_id(record) == cid:  # (as prepare: valid or not, it takes the id)
                return None
        # (no count runs, so the context needs no history, indexes or memo)
        return self._decide_generated(Context(Entry(typed, 0), [], []), False, dict(self.provenance))

    # -- a batch ---------------------------------------------------------------------------
    def invalid(self, contact_id, errors: list[dict], provenance=None) -> dict:
        return {"contact": contact_id if isinstance(contact_id, str) else None, "status": "invalid",
                "policies": [], "outputs": dict(self._null_outputs), "findings": [], "errors": errors,
                "provenance": provenance if provenance is not None else dict(self.provenance)}

    def evaluate(self, records: list, *, line_errors: dict | None = None,
                 explain: set | None = None, full: set | None = None, emit=None,
                 own: bool = False) -> tuple[list, dict]:
        """Decide every record, in input order. `line_errors` marks records that could not be
        read at all (their index → errors). Returns the decisions and, for contact ids in
        `explain`, the list of VersionTrace of each. With `full` (a set of input indexes), only
        those are decided in full; the others only as far as a later contact's history needs
        (the outputs read back with `was …`): their places hold None, or a decision not to
        be used.
        With `emit`, each decision is kept as emit(decision) (e.g. its JSON line): a batch of
        millions then holds short strings instead of nested dicts. The decision emit is given
        is for serialising with orjson only: its provenance, its `policies` entries and the
        findings that are the same for every contact are orjson Fragments (their JSON, made
        once), not dicts. Records are released as they are read. `own`: the records were
        parsed for this call (see prepare)."""
        with cyclic_gc_paused(promote=len(records) >= PROMOTE_MIN_RECORDS):
            decisions, groups = self.prepare(records, line_errors, emit, own)
            traces: dict = {}
            # Each patient's typed contacts, entries and buckets are let go as soon as it is
            # decided: later patients' decisions reuse their memory instead of fresh pages.
            while groups:
                self.decide_patient(groups.popitem()[1], decisions, traces, explain, full, emit)
            return decisions, traces

    def prepare(self, records: list, line_errors: dict | None, emit, own: bool = False,
                claimed: list | None = None) -> tuple[list, dict]:
        """Check every record: invalid ones get their decision now; the valid ones are grouped
        by patient, each group with its sort key (date, time known, time, input index). `own`:
        the records are the engine's to change (parsed for this batch), so each valid one is
        typed in place instead of copied. `claimed`: a list given to be extended with every id
        the records take (claimed_id), an id used twice as often as it is used."""
        decisions: list = [None] * len(records)
        groups: dict[str, list] = {}
        first_line: dict[str, int] = {}
        check = self.contact_checker.check
        copy = not own
        release = emit is not None  # the typed copy is all that is needed from here on
        group_of = groups.get
        for i, record in enumerate(records):
            if line_errors and i in line_errors:
                decisions[i] = self.invalid(None, line_errors[i], self._provenance_for(emit))
                continue
            if release:
                records[i] = None
            typed, errors = check(record, copy)
            if not errors:
                cid = typed["id"]
                if cid not in first_line:
                    first_line[cid] = i
                    at = typed.get("time")
                    item = (typed["date"].toordinal(), at is not None, at or "", i, typed)
                    group = group_of(typed["patient"])
                    if group is None:
                        groups[typed["patient"]] = [item]
                    else:
                        group.append(item)
                    continue
                errors = id_used_before(first_line[cid] + 1)
            given = claimed_id(record)
            decisions[i] = self.invalid(given, errors, self._provenance_for(emit))
            # An invalid contact's id is taken too: a later contact with it gets a second
            # decision under the same id, which is what the duplicate check prevents.
            if given is not None:
                if given not in first_line:
                    first_line[given] = i
                elif claimed is not None:
                    claimed.append(given)  # (a second use: the caller sees the id twice)
        if emit is not None:
            decisions = [d if type(d) is not dict else emit(d) for d in decisions]
        if claimed is not None:
            claimed.extend(first_line)
        return decisions, groups

    def decide_patient(self, items: list, decisions: list, traces: dict, explain, full, emit) -> None:
        """Decide one patient's contacts in order, each with the ones before it as history."""
        # (ordinal, has a time, time, input index, contact): the index is unique, so sorting the
        # tuples never gets as far as comparing two contacts.
        items.sort()
        if not (self.reference or explain):
            self._decide_generated_patient(items, decisions, full, emit)
            return
        history: list[Entry] = []
        ordinals: list[int] = []
        ctx = Context(None, history, ordinals, memo=None if self.reference else {},
                      key_functions=None if self.reference else self._bucket_keys)
        keyed = ctx.keyed
        provenance = self._provenance_json if emit is not None else self.provenance
        for ordinal, _, _, i, typed in items:
            entry = Entry(typed, len(history), ordinal)
            trace = [] if self.reference or (explain and entry.id in explain) else None
            decision = self.decide(ctx.at(entry), trace, full is not None and i not in full)
            decision["provenance"] = provenance if emit is not None else dict(provenance)
            if trace is not None and explain and entry.id in explain:
                traces[entry.id] = (entry, trace)
            decisions[i] = decision if emit is None else emit(decision)
            entry.outputs = decision["outputs"]
            _remember(entry, ordinal, history, ordinals, keyed)

    def _decide_generated_patient(self, items: list, decisions: list, full, emit) -> None:
        """decide_patient's common path (no contact explained, not the reference engine): each
        contact decided by _decide_generated, the same decisions as its general loop (apart
        from the contacts `full` leaves out, which get only their outputs here)."""
        history: list[Entry] = []
        ordinals: list[int] = []
        ctx = Context(None, history, ordinals, memo={}, key_functions=self._bucket_keys)
        keyed = ctx.keyed  # (empty until a count asks for an index: see Context.index)
        decide = self._decide_generated
        if emit is None:
            provenance = self.provenance
            for ordinal, _, _, i, typed in items:
                ctx.cur = entry = Entry(typed, len(history), ordinal)
                ctx.contact = typed
                if full is not None and i not in full:
                    entry.outputs = self._replayed_outputs(ctx)  # (and no decision)
                else:
                    # (a copy of the provenance for each decision: decisions share no mutable object)
                    decisions[i] = decision = decide(ctx, False, dict(provenance))
                    entry.outputs = decision["outputs"]
                _remember(entry, ordinal, history, ordinals, keyed)
            return
        provenance = self._provenance_json
        for ordinal, _, _, i, typed in items:
            ctx.cur = entry = Entry(typed, len(history), ordinal)
            ctx.contact = typed
            decision = decide(ctx, full is not None and i not in full, provenance, True)
            decisions[i] = emit(decision)
            entry.outputs = decision["outputs"]
            _remember(entry, ordinal, history, ordinals, keyed)


def id_used_before(first: int) -> list[dict]:
    """The errors of a contact whose id input `first` (counted from 1) used before it; the id
    itself is not repeated (it may identify a person: the decision names it as its contact)."""
    return [{"field": "id", "message": f"this id is already used by input {first}"}]


def claimed_id(record) -> str | None:
    """The id a record takes in a batch, valid or not: its `id` where that is text (a later
    contact with the same id is invalid); None for anything else."""
    if isinstance(record, dict):
        given = record.get("id")
        if isinstance(given, str):
            return given
    return None


def _remember(entry: Entry, ordinal: int, history: list, ordinals: list, keyed: list) -> None:
    """A decided contact joins its patient's history: the list, its date's ordinal, and the
    bucket of every field combination the history counts look in (keyed: (buckets, key of))."""
    history.append(entry)
    ordinals.append(ordinal)
    for buckets, key_of in keyed:
        file_entry(buckets, key_of, entry)
