"""Decide a large NDJSON batch in buckets of patients, over forked worker processes.

Patients share no history, so a batch can be cut by patient. The parent deals the input lines
out into buckets by patient without parsing them (the patient's id is read off the line's text
where that is safe, else the line is parsed), puts the bucket numbers in a pipe, and forks
`jobs` - 1 workers. Every process, the parent too, takes the next bucket from the pipe when it
is ready for one, so the quicker decide more and all end close together. A process parses,
checks and decides a bucket at a time (the lines come through fork; nothing is pickled on the
way in), so its memory is about one bucket's: at a million contacts, faulting in fresh pages
for a whole share was most of a process's time in the kernel. A worker writes each bucket's
decision lines and ids to an unlinked temporary file and reports the bucket through a pipe of
its own; the parent puts the lines in input order between its own buckets. With one job there
is no fork: the parent decides the buckets one after another.

The result is exactly that of the whole batch decided in one go, or the batch is decided again
that way: every process checks that each valid contact it parsed (the contacts that are each
other's history) belongs to its bucket, and the parent checks that every bucket was reported
once and that no contact id is used twice across the batch (whether an id is a duplicate
depends on the whole batch, contract section 4).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import operator
import os
import re
import signal
import struct
import sys
import tempfile
import threading
from array import array
from collections.abc import Sequence

import orjson

from .ndjson import decision_line, forget_traceback, parse_ndjson, read_json

# Below this many lines a batch is decided in one process: forking and gathering cost more
# than they save.
MIN_RECORDS = 20_000

# About how many lines a process decides at a time (see _decide_buckets).
CHUNK = 10_000

# `"patient": "…"` with no escape in the value (so its text is its UTF-8 bytes). On one line,
# patient_key trusts it only where "patient" occurs once and not after a backslash (so the
# quote opens a key); over a whole text, deal_text trusts it when it matches once per line.
# Either way each bucket is checked against the contacts parsed from it (_decide_buckets).
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


def default_jobs() -> int:
    """The processes a batch is split over when the caller leaves it to us: one per usable
    processor, at most 8."""
    return min(8, usable_processors())


def fork_is_safe() -> bool:
    # Forking a process that runs other threads (the HTTP server) can copy a lock held by one
    # of them; such a caller decides in one process. So does one that ignores SIGCHLD: the
    # system reaps its children, and their exit status, which tells whether all went well, is
    # lost.
    return (hasattr(os, "fork") and threading.active_count() == 1 and sys.platform != "win32"
            and signal.getsignal(signal.SIGCHLD) is not signal.SIG_IGN)


def deal_key(patient) -> bytes:
    """What a patient is dealt out by: the UTF-8 of the id (b"" when there is none)."""
    return patient.encode("utf-8", "surrogatepass") if isinstance(patient, str) else b""


def patient_key(line: bytes | str) -> bytes:
    """The patient key of one NDJSON line: read off the text when "patient" occurs once with a
    plain text value, else from the parsed line. Either way the bucket a contact lands in is
    checked again after parsing (see _decide_buckets)."""
    if type(line) is not str and type(line) is not bytes:
        if not isinstance(line, (str, bytes, bytearray, memoryview)):
            return b""  # not text: an invalid line of no patient
        line = bytes(line) if not isinstance(line, str) else str(line)  # a bytearray or memoryview
    text = type(line) is str
    pattern, mark, backslash = (_PATIENT_TEXT, '"patient"', "\\") if text else (_PATIENT_BYTES, b'"patient"', b"\\")
    found = pattern.search(line)
    if found is not None and line.count(mark) == 1 and line[found.start() - 1:found.start()] != backslash:
        return deal_key(found.group(1)) if text else found.group(1)
    try:
        record = read_json(line)
    except ValueError as exc:
        forget_traceback(exc)  # (see there: no cycle left for a paused collector)
        return b""
    return deal_key(record.get("patient")) if type(record) is dict else b""


def deal(lines: list, buckets: int) -> list[int]:
    """The bucket (0 … buckets-1) of each line, all lines of one patient in one bucket, read
    line by line."""
    return [hash(patient_key(line)) % buckets for line in lines]


def deal_text(lines: list, buckets: int, text: bytes) -> list[int] | None:
    """The buckets read off the whole text in one pass, when it finds as many patients as
    there are lines (taken to be one per line: the buckets check it); else None."""
    keys = _PATIENT_BYTES.findall(text)
    return [hash(key) % buckets for key in keys] if len(keys) == len(lines) else None


def _nothing(count: int) -> None:
    """A done(count) that is told and does nothing."""


def lines_by_bucket(dealt: list[int], buckets: int) -> list[array]:
    """The line indexes of each bucket, in input order. An array, not a list of ints: a forked
    worker reading a list would write to every int's reference count, and so copy the pages
    of the parent's ints (about 80 MB less at a million lines over two processes)."""
    found = [array("q") for _ in range(buckets)]
    add = [bucket.append for bucket in found]
    for i, b in enumerate(dealt):
        add[b](i)
    return found


class _Misdealt(Exception):
    """A contact in a bucket its patient does not belong to."""


def _decide_buckets(engine, read, parts, buckets: int, as_lines: bool = True, own: bool = True):
    """Check and decide buckets one at a time: `parts` gives each bucket's number and line
    indexes (lazily: a bucket is claimed only when this process is ready for it), read(indexes)
    its records and the errors of those that could not be read. Yields, per bucket, its
    number, its indexes, its decisions in input order (as NDJSON lines with `as_lines`, else
    as dicts) and the ids its contacts take (as often as each is used, valid or not). `own`:
    the records are this process's to change. A bucket's memory is free for the next one
    once its decisions are made, so a process touches little more memory than one bucket
    needs."""
    emit = decision_line if as_lines else None
    for b, indexes in parts:
        records, errors = read(indexes)
        ids: list = []
        made, groups = engine.prepare(records, errors, emit, own=own, claimed=ids)
        del records
        # Every valid contact's patient must be one of this bucket's: the only contacts whose
        # bucket matters, as they are each other's history (an invalid one is decided alone).
        for patient in groups:
            if hash(deal_key(patient)) % buckets != b:
                raise _Misdealt
        for items in groups.values():
            engine.decide_patient(items, made, {}, None, None, emit)
        del groups
        yield b, indexes, made, ids


def _line_reader(lines: Sequence):
    """read(indexes) for NDJSON lines: each parsed on its own, errors numbered as in the input.
    A sequence with a `pick(indexes)` (inmemory.FileLines) cuts a bucket's lines out itself."""
    pick = getattr(lines, "pick", None) or (lambda indexes: [lines[i] for i in indexes])
    one_on = functools.partial(operator.add, 1)  # an input index's line number
    return lambda indexes: parse_ndjson(pick(indexes), numbers=map(one_on, indexes))


def _record_reader(records: list):
    """read(indexes) for records already parsed (dicts, or anything a contact must not be)."""
    return lambda indexes: ([records[i] for i in indexes], None)


MISDEALT = "misdealt"  # a bucket held a contact of another bucket's patient
_WORKER_MISDEALT = 3  # a worker's exit status for that

# The buckets wait in a pipe, each as its number, and a process takes the next one when it is
# ready for it: who is quicker decides more, and all end within about one bucket of each other.
# At most _MAX_BUCKETS of them, so that they fit in a pipe however small the system makes it
# (one page; a read of one claim is then whole).
CLAIM = struct.Struct("<I")
_MAX_BUCKETS = 1024

# A worker's report of one bucket done, through a pipe of its own: which bucket, how many
# lines, how many bytes of lines and then of ids it wrote to its spool file.
_DONE = struct.Struct("<IQQQ")

HELD = (signal.SIGINT, signal.SIGTERM)


def _note(noted: list):
    """A Python signal handler that notes the signal and does nothing else."""
    return lambda signum, frame: noted.append(signum)


@contextlib.contextmanager
def interrupts_held():
    """SIGINT and SIGTERM held back inside the block; yields the mask from before. The mask is
    read first and changed inside the try: an interrupt that lands as it changes then finds
    the mask restored.

    The mask holds a signal back from this thread only. A thread that threading does not list
    (a library's native pool: numpy's BLAS, Arrow's) takes a signal sent to the process that
    this thread blocks, and Python then runs its handler here at once: KeyboardInterrupt
    between a fork and the worker's registration, a worker left running. So in the main thread
    the Python handlers are swapped too, for one that notes the signal; a signal noted is
    sent again, to the handler from before, as the block is left."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    noted: list = []
    swapped: dict = {}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        if threading.current_thread() is threading.main_thread():
            for held in HELD:
                handler = signal.getsignal(held)
                if callable(handler):  # (SIG_DFL, SIG_IGN: no Python code runs for them)
                    swapped[held] = handler
                    signal.signal(held, _note(noted))
        yield mask
    finally:
        # The handlers go back while the signals are still held here, so none can be left
        # swapped: one that runs as another is put back (taken by such a thread) raises at
        # the put-back, which is done again and its exception kept for the end. Each noted
        # signal is then sent to this thread, where it waits for the mask to be lifted, last:
        # every one of them reaches its handler, in turn, even when the first one raises.
        raised = None
        for held, handler in swapped.items():
            while True:
                try:
                    signal.signal(held, handler)
                    break
                except BaseException as exc:  # (kept, and raised at the end)
                    raised = raised or exc
        me = threading.get_ident()
        for signum in dict.fromkeys(noted):
            signal.pthread_kill(me, signum)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        finally:
            if raised is not None:
                raise raised  # (a handler's exception, as the block would have had it)


def claims(fd: int, by_bucket: list):
    """The buckets this process takes from the claims pipe, with their line indexes, until
    none is left."""
    while claim := os.read(fd, CLAIM.size):
        if len(claim) != CLAIM.size:
            raise OSError("a torn bucket claim")
        (b,) = CLAIM.unpack(claim)
        yield b, by_bucket[b]


def _work(engine, read, parts, buckets: int, spool_file, report: int, mask,
          unused: tuple = (), unused_files: list = ()):
    """The worker's whole life: decide buckets one at a time as it takes them, writing each
    bucket's lines and ids to the spool file and reporting it done, and end the process (never
    return into the caller's code). Interrupted, it dies at once: SIGINT and SIGTERM have their
    default action here (unless the caller ignores them), not Python's handler, so no
    exception can escape. `unused`, `unused_files`: what the worker got from the parent but must
    not hold (file descriptors, files), closed first."""
    status = 1
    try:
        for fd in unused:
            os.close(fd)
        for file in unused_files:
            file.close()
        for held in HELD:
            if signal.getsignal(held) is not signal.SIG_IGN:  # (nohup, a background job)
                signal.signal(held, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for b, _, made, ids in _decide_buckets(engine, read, parts, buckets):
            block, listed = b"".join(made), orjson.dumps(ids)
            spool_file.write(block)
            spool_file.write(listed)
            spool_file.flush()
            os.write(report, _DONE.pack(b, len(made), len(block), len(listed)))
        status = 0
    except _Misdealt:
        status = _WORKER_MISDEALT
    except BaseException:  # noqa: BLE001 - the batch is decided again in one process
        pass
    finally:
        os._exit(status)


class _Ids:
    """The contact ids of a batch, taken in bucket by bucket: whether one is used twice."""

    def __init__(self):
        self._seen: set = set()
        self._count = 0

    def add(self, ids: list) -> None:
        self._seen.update(ids)
        self._count += len(ids)

    def any_twice(self) -> bool:
        return len(self._seen) != self._count


class _Worker:
    """A forked worker as the parent sees it: its pipe of reports, its spool file, and how far
    the parent has taken in what it reported."""

    def __init__(self, pid: int, spool, report: int, convert=None):
        self.pid, self.spool, self.report = pid, spool, report
        self._convert = convert  # what each decision line is turned into, if not kept as it is
        self.status: int | None = None  # once reaped
        self.ended = False  # its pipe is at its end
        self._pending = bytearray()  # the start of a report not read whole yet
        self._offset = 0  # where its next bucket starts in the spool file

    def take(self, by_bucket: list, taken: bytearray, put, ids: _Ids, wait: bool, done=_nothing) -> bool:
        """Take in the buckets the worker has reported, each line put in its place with `put`
        and done(lines) told of each bucket: those reported so far, or with `wait` all until
        it ends. False if a report does not add up (a bucket unknown or taken twice, lines
        missing)."""
        os.set_blocking(self.report, wait)
        while not self.ended:
            try:
                got = os.read(self.report, 1 << 16)
            except BlockingIOError:
                return True
            if not got:
                self.ended = True
                return not self._pending  # a torn report: the worker died writing it
            self._pending += got
            while len(self._pending) >= _DONE.size:
                b, count, size, listed = _DONE.unpack_from(self._pending)
                del self._pending[:_DONE.size]
                if b >= len(by_bucket) or taken[b]:
                    return False
                indexes = by_bucket[b]
                # (two reads, not one cut in two: a slice of the lines' block would copy it)
                block = os.pread(self.spool.fileno(), size, self._offset)
                given = os.pread(self.spool.fileno(), listed, self._offset + size)
                made = block.splitlines(keepends=True)  # a JSON text holds no line break
                if (len(block) != size or len(given) != listed or len(made) != count
                        or count != len(indexes)):
                    return False
                del block
                if self._convert is not None:
                    made = list(map(self._convert, made))
                collections.deque(map(put, indexes, made), maxlen=0)
                ids.add(orjson.loads(given))
                self._offset += size + listed
                taken[b] = 1
                done(count)
        return True

    def reap(self) -> int:
        """Wait for the worker to end (once) and close its files; its exit status, -1 if
        unknown."""
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # the program reaps its children itself
                self.status = -1
            try:
                self.spool.close()
            finally:
                os.close(self.report)
        return self.status


def evaluate_lines_in_processes(engine, lines: Sequence, jobs: int, text: bytes | None = None,
                                done=_nothing, precheck=None) -> list[bytes] | None:
    """Every line's decision as its NDJSON line (bytes, with the line feed), in input order,
    decided in up to `jobs` processes (with 1, or where forking is not safe, in this one),
    patients dealt into buckets of about CHUNK lines that a process decides one at a time;
    None when the batch is better or only safely decided in one go: small, a contact id
    used twice, a worker that failed. `text`: the NDJSON text the lines were split from, if the
    caller has it (one pass over it finds the patients; if that misreads a line, the lines
    are dealt again one by one). `lines`: a list, or any sequence of them; done(n) is told of
    each bucket of n lines decided. `precheck()`: False when the batch is better decided
    another way (None is returned); run once the workers are deciding, so that it costs no
    time of theirs."""
    if len(lines) < MIN_RECORDS:
        return None
    jobs = max(1, jobs)
    if jobs > 1 and not fork_is_safe():
        jobs = 1
    jobs, buckets = bucket_plan(len(lines), jobs)
    read = _line_reader(lines)
    dealt = deal_text(lines, buckets, text) if text is not None else None
    decided = MISDEALT
    if dealt is not None:
        decided = split_and_decide(engine, len(lines), jobs, buckets, dealt, read, done=done, precheck=precheck)
        precheck = None  # (it passed: a misdealt batch is dealt again, not checked again)
    if decided is MISDEALT:
        decided = split_and_decide(engine, len(lines), jobs, buckets, deal(lines, buckets), read, done=done,
                                   precheck=precheck)
    return None if decided is MISDEALT else decided


def evaluate_records_in_processes(engine, records: list, jobs: int) -> list[dict] | None:
    """Every record's decision as a dict, in input order, decided in `jobs` forked processes:
    the records are dealt into buckets by patient; the workers send their decisions back as
    NDJSON lines (a decision holds JSON values only), which come back equal. None where the
    batch is to be decided here in one go: small, one job, forking not safe, a contact id used
    twice, a worker that failed."""
    if len(records) < MIN_RECORDS or jobs <= 1 or not fork_is_safe():
        return None
    jobs, buckets = bucket_plan(len(records), jobs)
    dealt = [hash(deal_key(r.get("patient")) if isinstance(r, dict) else b"") % buckets for r in records]
    decided = split_and_decide(engine, len(records), jobs, buckets, dealt, _record_reader(records),
                                as_lines=False, own=False, convert=orjson.loads)
    return None if decided is MISDEALT else decided


def bucket_plan(size: int, jobs: int) -> tuple[int, int]:
    """The jobs and the number of buckets for a batch of `size`."""
    jobs = min(jobs, _MAX_BUCKETS)
    return jobs, jobs * max(1, min(round(size / (jobs * CHUNK)), _MAX_BUCKETS // jobs))


def split_and_decide(engine, size: int, jobs: int, buckets: int, dealt: list[int], read,
                      as_lines: bool = True, own: bool = True, convert=None, done=_nothing, precheck=None):
    """One attempt: the decisions in input order, None, or MISDEALT. `dealt`: each record's
    bucket; read(indexes): a bucket's records and errors. This process's decisions come as NDJSON
    lines with `as_lines`, else as dicts; `own`: the records are its to change. A worker always
    types its records in place (they are its copy) and writes lines; `convert` turns each into
    what this process gives back. done(n) is told of each bucket of n records decided.
    precheck(): see evaluate_lines_in_processes (None: nothing to check)."""
    by_bucket = lines_by_bucket(dealt, buckets)
    filled = [b for b, indexes in enumerate(by_bucket) if indexes]
    if jobs == 1:
        if precheck is not None and not precheck():
            return None
        return _gather_all(engine, size, read, ((b, by_bucket[b]) for b in filled), buckets, by_bucket, [],
                           as_lines, own, done)
    workers: list[_Worker] = []
    claims_in = claims_out = -1
    try:
        claims_in, claims_out = os.pipe()
        os.write(claims_out, b"".join(CLAIM.pack(b) for b in filled))  # fits: see _MAX_BUCKETS
        os.close(claims_out)
        claims_out = -1
        for _ in range(1, jobs):
            spool, report, pid, registered = None, None, -1, False
            # SIGINT and SIGTERM are held back from before the fork until the worker is on the
            # list of those to kill and reap (and, in the worker, until _work has set it up).
            with interrupts_held() as mask:
                try:
                    # Lines go through an unlinked temporary file, not a pipe: a pipe moves a
                    # few hundred megabytes 64 KB at a time, with a switch between the
                    # processes; the pipe only carries the short reports.
                    spool = tempfile.TemporaryFile()
                    report = os.pipe()
                    pid = os.fork()
                    if pid == 0:
                        try:
                            # Only the parent reads a worker's reports: once it is gone
                            # (killed, say), the worker's next report fails and the worker ends.
                            _work(engine, read, claims(claims_in, by_bucket), buckets, spool, report[1], mask,
                                  unused=(report[0], *(earlier.report for earlier in workers)),
                                  unused_files=[earlier.spool for earlier in workers])
                        finally:
                            os._exit(1)  # (_work never returns; this is for its arguments failing)
                    workers.append(_Worker(pid, spool, report[0], convert))
                    registered = True
                    os.close(report[1])
                except BaseException as failed:  # no room for a file, no process to be had, ...
                    if not registered:
                        if pid > 0:  # forked, but not on the list of workers to stop
                            with contextlib.suppress(OSError):
                                os.kill(pid, signal.SIGKILL)
                                os.waitpid(pid, 0)
                        if spool is not None:
                            spool.close()
                        for fd in report or ():
                            os.close(fd)
                    if isinstance(failed, OSError):
                        return None  # one process it is
                    raise
        # The workers are deciding: the precheck takes this process's time only (the workers
        # take more of the buckets meanwhile); a batch it refuses is stopped here.
        if precheck is not None and not precheck():
            return None
        return _gather_all(engine, size, read, claims(claims_in, by_bucket), buckets, by_bucket, workers,
                           as_lines, own, done)
    except OSError:  # no pipe to be had
        return None
    finally:
        try:
            try:
                _stop(workers)
            except BaseException:  # interrupted before it could hold interrupts back: again
                _stop(workers)
                raise
        finally:
            for fd in (claims_in, claims_out):
                if fd >= 0:
                    os.close(fd)


def _gather_all(engine, size: int, read, mine, buckets: int, by_bucket: list, workers: list,
                as_lines: bool, own: bool, done=_nothing):
    """Decide the buckets this process takes (`mine`), taking in between whatever the workers
    have reported, then the rest as they report it: the decisions in input order, None or
    MISDEALT. The workers are reaped (and killed first, unless all went well) on the way out."""
    decided: list = [None] * size
    put = decided.__setitem__
    ids = _Ids()
    taken = bytearray(buckets)
    try:
        for b, indexes, made, listed in _decide_buckets(engine, read, mine, buckets, as_lines, own):
            collections.deque(map(put, indexes, made), maxlen=0)
            ids.add(listed)
            taken[b] = 1
            done(len(indexes))
            if not all(worker.take(by_bucket, taken, put, ids, wait=False, done=done) for worker in workers):
                return None
    except _Misdealt:
        return MISDEALT
    for worker in workers:
        if not worker.take(by_bucket, taken, put, ids, wait=True, done=done):
            return None
        status = worker.reap()
        if status != 0:
            exited = status > 0 and os.WIFEXITED(status)
            return MISDEALT if exited and os.WEXITSTATUS(status) == _WORKER_MISDEALT else None
    if sum(taken) != sum(1 for indexes in by_bucket if indexes):
        return None  # a bucket taken by a worker that never reported it
    if ids.any_twice():
        return None  # an id used twice: which use is the duplicate depends on the whole batch
    return decided


def _stop(workers: list) -> None:
    """Kill the workers not reaped yet (their answers are not wanted) and reap them all, with
    SIGINT and SIGTERM held back meanwhile, so that a second interrupt leaves none behind."""
    with interrupts_held():
        for worker in workers:
            if worker.status is None:
                with contextlib.suppress(OSError):
                    os.kill(worker.pid, signal.SIGKILL)
        for worker in workers:
            worker.reap()
