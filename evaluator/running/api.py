"""The Python API: load a repository of policies once, then decide one contact or many."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ..loading.repository import PolicySet, load_policies
from .engine import PROMOTE_MIN_RECORDS, Engine, claimed_id, cyclic_gc_paused
from .ndjson import lines_of, ndjson_line, parse_ndjson
from .parallel import default_jobs, evaluate_lines_in_processes, evaluate_records_in_processes


def _contacts_of(contacts) -> list:
    """The contacts of what evaluate was given, as a list of records; a TypeError that says
    what to pass for anything that is not contacts."""
    from .formats import frame_kind, records_from_frame

    if frame_kind(contacts) is not None:
        return records_from_frame(contacts)
    kind = type(contacts)
    name, module = kind.__name__, kind.__module__.split(".")[0]
    if module == "dask":
        raise TypeError("evaluate takes contacts in memory, not a Dask DataFrame: "
                        "use evaluator.dask.evaluate_dataframe (docs/data.md)")
    if module in ("pandas", "polars", "pyarrow", "numpy") or isinstance(contacts, (dict, str, bytes)) \
            or not hasattr(contacts, "__iter__"):
        what = {"Series": "a Series (one column)", "LazyFrame": "a LazyFrame (collect() it first)"}.get(name, name)
        raise TypeError(f"evaluate takes a list of contacts, not {what}: pass a list of dicts, a pandas "
                        "or polars DataFrame or an Arrow table (one contact: evaluate_one; NDJSON "
                        "text: evaluate_lines)")
    return list(contacts)


class Repository:
    """Policies loaded and compiled once; every method is safe to call again and again."""

    def __init__(self, policy_set: PolicySet):
        self.policy_set = policy_set
        self.engine = Engine(policy_set)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Repository:
        """Load a policy directory (the bundled policies by default). Raises PolicyError
        listing every problem when any policy is invalid."""
        return cls(load_policies(path))

    def evaluate(self, contacts, jobs: int = 1, as_frame: str | None = None, errors: dict | None = None):
        """Decide a batch of contacts; decisions in input order. `contacts`: a list (or any
        iterable) of dicts (contract section 1), or a pandas or polars DataFrame or an Arrow
        table with a column per field (a missing cell, NaN included, is unknown).
        With `jobs` other than 1 (0: one per usable processor, at most 8), a batch of 20,000
        contacts or more is split by patient over that many forked processes when this
        process can safely fork (no other threads running, SIGCHLD not ignored; see
        parallel.py). The decisions are equal to those of one process, and the contacts
        given are left as they were. `as_frame` ("pandas", "polars" or "arrow"): the
        decisions as such a table instead, with the columns of a decision file (docs/data.md);
        decisions_frame turns a list into one. `errors`: what formats.read_contacts gives
        beside the records (why an item could not be read, by its index), for the decisions
        of those items to say so, as `regelverk evaluate` says it."""
        records = _contacts_of(contacts)
        decisions = None
        if errors:  # (in this process: the workers take records only)
            decisions, _ = self.engine.evaluate(records, line_errors=errors)
        elif jobs != 1:
            with cyclic_gc_paused(promote=len(records) >= PROMOTE_MIN_RECORDS):
                decisions = evaluate_records_in_processes(self.engine, records, jobs or default_jobs())
        if decisions is None:
            decisions, _ = self.engine.evaluate(records)
        return decisions if as_frame is None else self.decisions_frame(decisions, as_frame)

    def decisions_frame(self, decisions: list[dict], kind: str = "pandas"):
        """Decisions as a pandas or polars DataFrame or an Arrow table (`kind`), one row each,
        one column per contract field and output (outputs.reimbursable, …); see docs/data.md."""
        from .formats import decisions_frame, output_kinds

        return decisions_frame(decisions, output_kinds(self.policy_set), kind)

    def evaluate_one(self, contact: dict, history: Iterable[dict] = (), *, own: bool = False) -> dict:
        """Decide one contact given the patient's earlier contacts: exactly the decision the
        contact gets as the last line of a batch holding that history. Where some policy
        version the contact can fall under counts earlier contacts, the history's own
        outputs are replayed; where none does, the history is only searched for the
        contact's id. `history` None is no history. `own`: the contact and the history's
        records were parsed for this call and nothing else holds them, so they may be changed
        (typed in place, not copied: a little quicker); by default they are left as given."""
        if isinstance(history, (dict, str, bytes)) or (history is not None and not hasattr(history, "__iter__")):
            raise TypeError(f"history is a list of contacts, not {type(history).__name__}")
        return self.engine.evaluate_one(contact, history or (), own=own)

    def evaluate_lines(self, lines: Iterable[str] | str | bytes) -> list[dict]:
        """Decide NDJSON lines (or the text, split into lines); a line that is not JSON gets an
        invalid decision of its own."""
        lines = lines_of(lines)
        with cyclic_gc_paused():
            records, errors = parse_ndjson(lines)
            decisions, _ = self.engine.evaluate(records, line_errors=errors, own=True)
        return decisions

    def evaluate_to_ndjson(self, lines: Iterable[str | bytes], jobs: int = 1) -> list[str]:
        """Like evaluate_lines, but each decision comes back as its NDJSON line (no line
        feed): for large batches, as it keeps no decision dicts around. A large batch is
        decided in buckets of patients, which keeps memory down, split over `jobs` forked
        processes (see parallel.py); the decisions are the same. `lines` may be the text."""
        lines = lines_of(lines)
        with cyclic_gc_paused():  # parsing allocates as much as deciding (see engine)
            lines, decided = self._in_processes(lines, jobs)
            if decided is not None:
                return [line[:-1].decode("utf-8") for line in decided]
            return self._in_one_go(lines)

    def _in_one_go(self, lines) -> list[str]:
        """The decision lines (no line feed) of the whole batch decided at once, here."""
        records, errors = parse_ndjson(lines)
        decisions, _ = self.engine.evaluate(records, line_errors=errors, emit=ndjson_line, own=True)
        return decisions

    def _in_processes(self, lines, jobs: int, text: bytes | None = None) -> tuple[Iterable, list[bytes] | None]:
        """The lines as a list, and their decision lines decided bucket by bucket in `jobs`
        processes (None where the batch is to be decided here in one go, see parallel.py)."""
        lines = lines if isinstance(lines, list) else list(lines)
        return lines, evaluate_lines_in_processes(self.engine, lines, jobs, text)

    def write_ndjson(self, lines: bytes | Iterable[str | bytes], out: BinaryIO, jobs: int = 1) -> int:
        """Decide NDJSON and write the decisions to `out` as NDJSON (UTF-8), in input order, as
        `regelverk evaluate` does; returns how many. `lines`: the NDJSON text (bytes or str), or
        its lines. `jobs` as in evaluate_to_ndjson."""
        # The text as bytes is kept: the dealer reads the patients off it in one pass.
        text = bytes(lines) if isinstance(lines, (bytes, bytearray, memoryview)) else None
        lines = lines_of(text if text is not None else lines)
        with cyclic_gc_paused():
            lines, decided = self._in_processes(lines, jobs, text)
            if decided is not None:
                del lines, text
                for start in range(0, len(decided), 10_000):
                    out.write(b"".join(decided[start:start + 10_000]))
                return len(decided)
            del text
            # (not evaluate_to_ndjson: that would try the buckets again, which just declined)
            decisions = self._in_one_go(lines)
        del lines
        for start in range(0, len(decisions), 10_000):
            out.write(("\n".join(decisions[start:start + 10_000]) + "\n").encode("utf-8"))
        return len(decisions)

    def explain(self, lines: Iterable[str], contact_id: str):
        """One contact of an NDJSON batch: (decision, trace, typed contact), or Nones when the
        batch has no such contact. The trace lists every policy, whether it applied, and
        each rule's result; it is None for an invalid contact."""
        records, errors = parse_ndjson(lines)
        return self.explain_records(records, errors, contact_id)

    def explain_records(self, records: list, errors: dict, contact_id: str):
        """As explain, for contacts already read (records, and errors by index for those that
        could not be; formats.read_contacts gives both)."""
        decisions, traces = self.engine.evaluate(records, line_errors=errors, explain={contact_id}, own=True)
        return _explained(decisions, traces, contact_id)

    def explain_input(self, read, contact_id: str):
        """As explain, for an input of any size: read() gives its chunks (formats.read_chunks),
        afresh each time it is called; it is read up to three times, the first only as far as
        the contact, the third as far as the patient's last new id. Only what can change the
        contact's decision is decided: the contacts of its patient (the first contact with that
        id is the one explained) and, where one of them reuses an id some other input used
        first, a stand-in for that input, which makes the reuse invalid as it is in the whole
        batch, and so no part of the contact's history.
        (The explained contact is the first use of its id, so no error of its own names
        another input's place.) Held meanwhile: that patient's contacts and their ids, so the
        memory does not grow with the input."""
        target = next((record for _, record in _readable(read()) if claimed_id(record) == contact_id), None)
        if target is None:
            return None, None, None
        patient = target.get("patient")
        if not isinstance(patient, str):  # invalid whatever else the input holds
            decisions, traces = self.engine.evaluate([target], explain={contact_id}, own=True)
            return _explained(decisions, traces, contact_id)
        kept: list = []  # (place in the input, record)
        mine: dict[str, int] = {}  # id -> the number of the patient's first input with it
        for number, record in _readable(read()):
            if isinstance(record, dict) and record.get("patient") == patient:
                kept.append((number, record))
                rid = claimed_id(record)
                if rid is not None and rid not in mine:
                    mine[rid] = number
        # Which of those ids some other input used first: the earliest such input of each.
        others: dict[str, int] = {}
        if mine:
            last = max(mine.values())
            for number, record in _readable(read()):
                if number >= last:  # (no later input can have used one of the ids first)
                    break
                rid = claimed_id(record)
                if rid in mine and number < mine[rid] and rid not in others:
                    others[rid] = number  # (not the patient's: it comes before the patient's first)
        kept += [(number, {"id": rid}) for rid, number in others.items()]  # (invalid: it only claims the id)
        kept.sort(key=lambda item: item[0])
        decisions, traces = self.engine.evaluate([record for _, record in kept], explain={contact_id}, own=True)
        return _explained(decisions, traces, contact_id)


def _readable(chunks):
    """(place in the input from 1, record) of each record of the chunks that could be read (an
    unreadable line claims no id and belongs to no patient)."""
    number = 0
    for chunk in chunks:
        for k, record in enumerate(chunk.records):
            number += 1
            if k not in chunk.errors:
                yield number, record


def _explained(decisions: list, traces: dict, contact_id: str):
    """(decision, trace, typed contact) of the first decision for `contact_id`, or Nones."""
    for decision in decisions:
        if decision["contact"] == contact_id:
            entry, trace = traces.get(contact_id, (None, None))
            return decision, trace, (entry.contact if entry else None)
    return None, None, None


def load_repository(path: str | Path | None = None) -> Repository:
    """Load a policy directory once (default: the policies that ship with regelverk)."""
    return Repository.load(path)
