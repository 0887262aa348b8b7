"""Decide a large NDJSON batch in forked worker processes: patients share no history.

The parent deals the input lines out by patient into shares without parsing them (the
patient's id is read off the line's text where that is safe, else the line is parsed), forks
one worker per share but the first and decides the first share itself meanwhile. Each process
parses, checks and decides its share as a batch of its own (the lines come through fork;
nothing is pickled on the way in), keeping each decision's NDJSON line as it is made; a
worker writes its lines to an unlinked temporary file and sends back, in a second one, where
each decision of its share is in the first, and the ids its contacts give. The parent puts
the lines in input order.

The result is exactly that of one process, or the batch is decided again in one process:
every process checks that each contact it parsed belongs to its share, and the parent checks
that no contact id is used twice across the batch (whether an id is a duplicate depends on the
whole batch, contract section 4).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import tempfile
import threading

import orjson

# Below this many lines a batch is decided in one process: forking and gathering cost more
# than they save.
MIN_RECORDS = 20_000

# `"patient": "…"` with no escape in the value (so its text is its UTF-8 bytes). On one line,
# patient_key trusts it only where "patient" occurs once and not after a backslash (so the
# quote opens a key); over a whole text, deal_text trusts it when it matches once per line.
# Either way each share checks the contacts it parsed (_decide_share).
_PATIENT_BYTES = re.compile(rb'"patient"[ \t\r]*:[ \t\r]*"([^"\\\n]*)"')
_PATIENT_TEXT = re.compile(r'"patient"[ \t\r]*:[ \t\r]*"([^"\\\n]*)"')


def usable_processors() -> int:
    """How many processors this process may run on: its affinity where the system tells,
    and no more than a cgroup's CPU quota allows (containers, CI runners)."""
    try:
        count = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    for quota_file, period_file in (("/sys/fs/cgroup/cpu.max", None),
                                    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):
        try:
            with open(quota_file, encoding="ascii") as f:
                fields = f.read().split()
            if period_file is not None:
                with open(period_file, encoding="ascii") as f:
                    fields = [fields[0], f.read().strip()]
            if fields[0] not in ("max", "-1"):
                count = min(count, max(1, -(-int(fields[0]) // int(fields[1]))))
            break
        except (OSError, ValueError, IndexError):
            continue
    return count


def _fork_is_safe() -> bool:
    # Forking a process that runs other threads (the HTTP server) can copy a lock held by one
    # of them; such a caller decides in one process.
    return hasattr(os, "fork") and threading.active_count() == 1 and sys.platform != "win32"


def _key(patient) -> bytes:
    """What a patient is dealt out by: the UTF-8 of the id (b"" when there is none)."""
    return patient.encode("utf-8", "surrogatepass") if type(patient) is str else b""


def patient_key(line: bytes | str) -> bytes:
    """The patient key of one NDJSON line: read off the text when "patient" occurs once with a
    plain text value, else from the parsed line. Either way the share a contact lands in is
    checked again after parsing (see _decide_share)."""
    if type(line) is not str and type(line) is not bytes:
        line = bytes(line)  # a bytearray or memoryview
    text = type(line) is str
    pattern, mark, backslash = (_PATIENT_TEXT, '"patient"', "\\") if text else (_PATIENT_BYTES, b'"patient"', b"\\")
    found = pattern.search(line)
    if found is not None and line.count(mark) == 1 and line[found.start() - 1:found.start()] != backslash:
        return _key(found.group(1)) if text else found.group(1)
    try:
        record = orjson.loads(line)
    except ValueError:
        return b""
    return _key(record.get("patient")) if type(record) is dict else b""


def deal(lines: list, jobs: int) -> list[int]:
    """The share (0 … jobs-1) of each line, all lines of one patient in one share, read line
    by line."""
    return [hash(patient_key(line)) % jobs for line in lines]


def deal_text(lines: list, jobs: int, text: bytes) -> list[int] | None:
    """The shares read off the whole text in one pass, when it finds as many patients as
    there are lines (taken to be one per line: the shares check it); else None."""
    keys = _PATIENT_BYTES.findall(text)
    return [hash(key) % jobs for key in keys] if len(keys) == len(lines) else None


def shares_by_patient(dealt: list[int], jobs: int) -> list[list[int]]:
    """The line indexes of each share, in input order."""
    return [[i for i, k in enumerate(dealt) if k == share] for share in range(jobs)]


class _Misdealt(Exception):
    """A contact in a share its patient does not belong to."""


class _Spool:
    """An emit function that writes each decision's NDJSON line (with its line feed) to a file
    as it is made and returns its number there: a worker's batch then holds small numbers
    instead of a million texts, and no text is encoded twice."""

    def __init__(self, file):
        self._file = file
        self.count = 0

    def __call__(self, decision: dict) -> int:
        self._file.write(orjson.dumps(decision, option=orjson.OPT_APPEND_NEWLINE))
        n = self.count
        self.count = n + 1
        return n

    def lines(self) -> list[bytes]:
        """The lines written, in the order they were made."""
        self._file.flush()
        self._file.seek(0)
        return self._file.read().splitlines(keepends=True)  # a JSON text holds no line break


class _Keep:
    """An emit function like _Spool that keeps the lines in memory (the parent's own share).
    Each line is copied out of the buffer orjson returns, which is a few kilobytes however
    short the text: a few hundred thousand of those cost more than the copy."""

    def __init__(self):
        self._made: list[bytes] = []

    def __call__(self, decision: dict) -> int:
        self._made.append(memoryview(orjson.dumps(decision, option=orjson.OPT_APPEND_NEWLINE)).tobytes())
        return len(self._made) - 1

    def lines(self) -> list[bytes]:
        return self._made


def _decide_share(engine, lines: list, share: list[int], k: int, jobs: int, emit) -> tuple[list, list]:
    """Parse, check and decide share number `k`, each decision given to `emit` (a _Spool or
    _Keep) as it is made. Returns, in share order, each decision's number there, and the
    ids the share's contacts give (all of them, valid or not)."""
    from .api import parse_ndjson

    records, errors = parse_ndjson([lines[i] for i in share], numbers=[i + 1 for i in share])
    objects = [r for r in records if type(r) is dict]
    patients = [r.get("patient") for r in objects]
    if {hash(p.encode("utf-8", "surrogatepass")) % jobs for p in patients if type(p) is str} - {k}:
        raise _Misdealt  # (the same key as _key gives)
    ids = [r.get("id") for r in objects]
    order, groups = engine._prepare(records, errors, emit, own=True)
    for items in groups.values():
        engine._decide_patient(items, order, {}, None, None, emit)
    return order, [i for i in ids if type(i) is str]


_MISDEALT = "misdealt"  # a share held a contact of another share's patient
_WORKER_MISDEALT = 3  # a worker's exit status for that


def _gather(pid: int, spool_file, meta_file, share: list[int]):
    """A worker's decision lines (in the order made), their numbers in share order, and the
    ids, once it has ended; _MISDEALT, or None if it failed."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # the program reaps its children itself (SIGCHLD ignored)
        status = -1
    with spool_file, meta_file:
        if status != 0:
            exited = status > 0 and os.WIFEXITED(status)
            return _MISDEALT if exited and os.WEXITSTATUS(status) == _WORKER_MISDEALT else None
        try:
            meta_file.seek(0)
            meta = orjson.loads(meta_file.read())
            made = _Spool(spool_file).lines()
        except (OSError, ValueError):
            return None
        if len(meta["order"]) != len(share) or len(made) != meta["made"]:
            return None
        return made, meta["order"], meta["ids"]


_HELD = (signal.SIGINT, signal.SIGTERM)


def _work(engine, lines: list, share: list[int], k: int, jobs: int, spool_file, meta_file, mask):
    """The worker's whole life: decide share `k`, write the answer, and end the process
    (never return into the caller's code). Interrupted, it dies at once: SIGINT and SIGTERM
    have their default action here, not Python's handler, so no exception can escape."""
    status = 1
    try:
        for held in _HELD:
            signal.signal(held, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        spool = _Spool(spool_file)
        order, ids = _decide_share(engine, lines, share, k, jobs, spool)
        spool_file.flush()
        meta_file.write(orjson.dumps({"order": order, "ids": ids, "made": spool.count}))
        meta_file.flush()
        status = 0
    except _Misdealt:
        status = _WORKER_MISDEALT
    except BaseException:  # noqa: BLE001 - the batch is decided again in one process
        pass
    finally:
        os._exit(status)


def evaluate_lines_in_processes(engine, lines: list, jobs: int, text: bytes | None = None) -> list[bytes] | None:
    """Every line's decision as its NDJSON line (bytes, with the line feed), in input order,
    decided in up to `jobs` processes; None when the batch is better or only safely decided
    in one: small, no fork, other threads running, a contact id used twice, a worker that
    failed. `text`: the NDJSON text the lines were split from, if the caller has it (one pass
    over it finds the patients; if that misreads a line, the lines are dealt again one by
    one)."""
    if jobs < 2 or len(lines) < MIN_RECORDS or not _fork_is_safe():
        return None
    dealt = deal_text(lines, jobs, text) if text is not None else None
    if dealt is not None:
        decided = _split_and_decide(engine, lines, jobs, dealt)
        if decided is not _MISDEALT:
            return decided
    decided = _split_and_decide(engine, lines, jobs, deal(lines, jobs))
    return None if decided is _MISDEALT else decided


def _split_and_decide(engine, lines: list, jobs: int, dealt: list[int]):
    """One attempt: the decision lines in input order, None, or _MISDEALT."""
    shares = shares_by_patient(dealt, jobs)
    workers: list = []
    mine = None
    done = False
    try:
        for k, share in enumerate(shares[1:], start=1):
            if not share:
                continue
            files: list = []
            pid = -1
            # SIGINT and SIGTERM are held back across the fork, so a worker cannot be
            # interrupted before _work has set it up.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
            try:
                # Answers go through unlinked temporary files, not pipes: a pipe moves a few
                # hundred megabytes 64 KB at a time, with a switch between the processes.
                files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
                pid = os.fork()
            except OSError:  # no room for a file, or no process to be had: one process it is
                for f in files:
                    f.close()
                return None
            finally:
                if pid != 0:  # the worker sets its own up in _work
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if pid == 0:
                _work(engine, lines, share, k, jobs, *files, mask)
            workers.append((k, pid, *files, share))
        keep = _Keep()
        try:
            order, ids = _decide_share(engine, lines, shares[0], 0, jobs, keep)
            mine = keep.lines(), order, ids
        except _Misdealt:
            mine = _MISDEALT
        done = mine is not _MISDEALT
    finally:
        if not done:  # interrupted, failed or misdealt here: the workers' answers are not wanted
            for _, pid, *_ in workers:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        gathered = [(k, _gather(pid, spool_file, meta_file, share))
                    for k, pid, spool_file, meta_file, share in workers]
    answers = [(0, mine), *gathered]
    if any(found is _MISDEALT for _, found in answers):
        return _MISDEALT
    if any(found is None for _, found in answers):
        # A worker failed (killed, out of memory, a bug): the caller decides the batch in
        # one process, where an error is raised and reported as usual.
        return None
    # Each share's lines in share order, then the shares interleaved as the lines were dealt.
    in_order: list = [iter(()).__next__] * jobs
    all_ids: list = []
    for k, (made, order, ids) in answers:
        in_order[k] = iter([made[n] for n in order]).__next__
        all_ids += ids
    if len(set(all_ids)) != len(all_ids):
        return None  # an id used twice: which use is the duplicate depends on the whole batch
    return [in_order[k]() for k in dealt]
