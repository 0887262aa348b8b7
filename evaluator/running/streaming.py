"""Decide an input of any size in bounded memory, with decisions in input order.

Input grouped by patient is decided straight through; other input is partitioned by patient
into temporary files first.

A patient's decisions depend on that patient's contacts only (contract section 2), so memory
need hold one patient, or one partition of patients, at a time:

* Grouped input (each patient's contacts together, as `ORDER BY patient` leaves them) is read a
  chunk at a time; every patient but the chunk's last is complete and decided, and the last
  waits for the next chunk. Memory: a chunk, and the largest patient.
* Other input is read once and dealt out by patient into P temporary files (P from the input's
  size, so a partition holds about PARTITION contacts; one that grew larger is dealt again into
  smaller ones). Each partition is decided on its own, its decisions written, by input number,
  to a file of its own; a merge of those files by input number writes them out in input order.
  Memory: one partition, and a buffer per file.

Whether an input is grouped is found by a scan of its patient ids first (a Bloom filter of
the patients already closed, a fixed 8 MB; a false alarm only means the partitioned way).
Standard input is copied to a temporary file first, so that it can be read twice.

A contact id used twice (contract section 4: the later use is invalid, naming the input that
used it first) is found across the whole input with an index on disk (sqlite, in the
temporary folder), not a set in memory: 5 million ids as Python strings would be half a
gigabyte. With `jobs` above 1, the parts (partitions, or windows of complete patients) are
decided by forked processes, as parallel.py does for a batch in memory.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle
import shutil
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import parallel
from .engine import cyclic_gc_paused, id_used_before
from .formats import (
    CHUNK,
    Chunk,
    FormatError,
    ndjson_lines,
    open_parquet,
    pyarrow_modules,
    read_chunks,
    standard_input,
)
from .ndjson import decision_line

# Contacts a partition is made to hold; one that holds more than twice this is dealt again.
PARTITION = 20_000
MAX_PARTITIONS = 256
_BLOOM_BITS = 8 * 8 * 1024 * 1024  # 8 MB


@dataclass
class Summary:
    """What a run did: contacts read, decided per status, and the way it went: grouped input
    straight through, other input in `partitions`, or the whole input in memory
    (inmemory.py)."""

    contacts: int = 0
    invalid: int = 0
    grouped: bool = False
    partitions: int = 0
    in_memory: bool = False


class Progress:
    """Told how far a run is; the CLI's progress bar is one. Does nothing by itself."""

    def read(self, count: int) -> None:
        pass

    def decided(self, count: int) -> None:
        pass

    def phase(self, name: str) -> None:
        pass


# -- patient ids of an input, for the scan ----------------------------------------------------

def patient_keys(path: str, fmt: str, name: str | None = None) -> Iterator[bytes]:
    """The patient key (parallel.patient_key: UTF-8 of the id, b"" for none) of every contact
    of a file, in order, read as cheaply as the format allows. `name`: the file in messages
    (default its path)."""
    name = name or path
    if fmt == "ndjson":
        with open(path, "rb") as f:
            for line in ndjson_lines(f):
                yield parallel.patient_key(line)
    elif fmt == "parquet":
        pa, _ = pyarrow_modules()
        parquet = open_parquet(path, name)
        try:
            if "patient" not in parquet.schema_arrow.names:
                for _ in range(parquet.metadata.num_rows):
                    yield b""
                return
            for batch in parquet.iter_batches(batch_size=65_536, columns=["patient"]):
                for value in batch.column(0).to_pylist():
                    yield parallel.deal_key(value)
        except pa.ArrowException as exc:
            raise FormatError(f"{name} cannot be read as Parquet: {exc}") from None
    else:
        for chunk in read_chunks(path, fmt, {}, CHUNK, name):
            for record in chunk.records:
                yield parallel.deal_key(record.get("patient")) if isinstance(record, dict) else b""


def scan_grouped(keys: Iterable[bytes]) -> tuple[bool, int]:
    """Whether every patient's contacts come together (contacts of no patient may lie between),
    and how many contacts there are. Sorted keys are grouped for certain; otherwise a patient
    met again is looked up in a Bloom filter of those closed (a false hit says "not grouped",
    which is safe: the input is then partitioned)."""
    bits = bytearray(_BLOOM_BITS // 8)
    size = _BLOOM_BITS
    current = None
    ascending = True
    grouped = True
    count = 0
    for key in keys:
        count += 1
        if not key or key == current or not grouped:
            continue
        if current is not None:
            if ascending and key < current:
                ascending = False
            h = hash(current)
            h1, h2 = h & 0xFFFFFFFF, (h >> 32) | 1
            for i in range(4):
                n = (h1 + i * h2) % size
                bits[n >> 3] |= 1 << (n & 7)
        if not ascending:
            h = hash(key)
            h1, h2 = h & 0xFFFFFFFF, (h >> 32) | 1
            if all(bits[(n := (h1 + i * h2) % size) >> 3] & (1 << (n & 7)) for i in range(4)):
                grouped = False
        current = key
    return grouped, count


# -- contact ids used twice ---------------------------------------------------------------------

class IdIndex:
    """The contact ids met so far and the input number that used each first, on disk."""

    def __init__(self, folder: str):
        self.db = sqlite3.connect(os.path.join(folder, "ids.sqlite"), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")  # 16 MB of pages at most
        self.db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, first INTEGER) WITHOUT ROWID")
        self.db.execute("CREATE TEMP TABLE chunk (id TEXT, number INTEGER)")

    def mark(self, chunk: Chunk) -> dict:
        """For the chunk's contacts whose id an earlier contact used (in this chunk or before),
        position in chunk -> input number of that earlier one. Call for every chunk, in order.
        Any object with a text id takes it, as in Engine.prepare."""
        first: dict = {}
        used: dict = {}
        rows = []
        for k, (record, number) in enumerate(zip(chunk.records, chunk.numbers, strict=True)):
            if isinstance(record, dict) and isinstance(cid := record.get("id"), str):
                if cid in first:
                    used[k] = first[cid]
                else:
                    first[cid] = number
                    rows.append((cid, number))
        if not rows:
            return used
        db = self.db
        db.execute("BEGIN")
        db.execute("DELETE FROM chunk")
        db.executemany("INSERT INTO chunk VALUES (?, ?)", rows)
        earlier = dict(db.execute("SELECT chunk.id, ids.first FROM chunk JOIN ids ON ids.id = chunk.id"))
        db.execute("INSERT OR IGNORE INTO ids SELECT id, number FROM chunk")
        db.execute("COMMIT")
        if earlier:
            for k, record in enumerate(chunk.records):
                if isinstance(record, dict) and isinstance(cid := record.get("id"), str) and cid in earlier:
                    used[k] = earlier[cid]
        return used

    def close(self) -> None:
        self.db.close()


# -- deciding a set of items --------------------------------------------------------------------
# An item: [input number, record or None, errors or None, number of the earlier use of its id]

def _items(chunk: Chunk, used: dict) -> list:
    errors = chunk.errors
    return [[number, record, errors.get(k), used.get(k)]
            for k, (number, record) in enumerate(zip(chunk.numbers, chunk.records, strict=True))]


def decide_items(engine, items: list, jobs: int = 1) -> list[bytes]:
    """The NDJSON decision line (with its line feed) of each item, in the items' order. Items
    hold whole patients, in input order (which breaks ties in a patient's history). A contact
    whose id was used before is invalid, naming that input."""
    records, errors, reused = [], {}, {}
    check = engine.contact_checker.check  # the core fields and the repository's declared facts
    for k, (_, record, problems, first) in enumerate(items):
        if problems is not None:
            errors[k] = problems
            records.append(None)
            continue
        if first is not None and check(record)[0] is not None:
            cid = record["id"]
            reused[k] = engine.invalid(cid, id_used_before(first))
            errors[k] = []
            records.append(None)
            continue
        records.append(record)
    made = None
    if jobs > 1 and len(records) >= parallel.MIN_RECORDS and parallel.fork_is_safe():
        made = _in_processes(engine, records, errors, jobs)
    if made is None:
        made, _ = engine.evaluate(records, line_errors=errors, emit=decision_line, own=True)
    for k, decision in reused.items():
        made[k] = decision_line(decision)
    return made


def _in_processes(engine, records: list, errors: dict, jobs: int) -> list[bytes] | None:
    """parallel.py's buckets of patients over forked workers, for records already read."""
    jobs, buckets = parallel.bucket_plan(len(records), jobs)
    dealt = [hash(parallel.deal_key(r.get("patient")) if isinstance(r, dict) else b"") % buckets for r in records]

    def read(indexes):
        return [records[i] for i in indexes], {n: errors[i] for n, i in enumerate(indexes) if i in errors}

    decided = parallel.split_and_decide(engine, len(records), jobs, buckets, dealt, read, as_lines=True, own=False)
    return None if decided is parallel.MISDEALT else decided


# -- the two ways -------------------------------------------------------------------------------

def decide_stream(engine, chunks: Iterable[Chunk], write: Callable[[list[bytes]], None], *,
                  grouped: bool, size: int | None = None, jobs: int = 1, folder: str | None = None,
                  progress: Progress | None = None) -> Summary:
    """Decide every contact of `chunks` (formats.read_chunks), calling write(lines) with the
    decisions as NDJSON lines, in input order, a part at a time. `grouped`: the input is
    grouped by patient (scan_grouped), so it streams straight through; else it is partitioned.
    `size`: how many contacts there are, if known (sets the number of partitions)."""
    progress = progress or Progress()
    progress.phase("deciding" if grouped else "reading")
    summary = Summary(grouped=grouped)
    own_folder = folder is None
    folder = tempfile.mkdtemp(prefix="regelverk-") if own_folder else folder
    ids = IdIndex(folder)
    try:
        with cyclic_gc_paused():
            if grouped:
                _straight(engine, chunks, write, jobs, ids, progress, summary)
            else:
                _partitioned(engine, chunks, write, size, jobs, ids, folder, progress, summary)
    finally:
        ids.close()
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)
    return summary


def _patient(item) -> str | None:
    record = item[1]
    if isinstance(record, dict):
        patient = record.get("patient")
        return patient if isinstance(patient, str) else None
    return None


def is_invalid_line(line: bytes) -> bool:
    """Whether a decision line says `"status":"invalid"`. Its first `,"status":"` is the
    decision's own status, whatever the contact's id: inside a JSON string every quote is
    escaped, and the status comes right after the contact (an output of that name comes later)."""
    at = line.find(b',"status":"')
    return at >= 0 and line.startswith(b'invalid"', at + 11)


def emit_lines(lines: list[bytes], write, progress: Progress, summary: Summary) -> None:
    """Write decision lines, counting the invalid ones in `summary` and telling `progress`."""
    summary.invalid += sum(map(is_invalid_line, lines))
    write(lines)
    progress.decided(len(lines))


def _straight(engine, chunks, write, jobs, ids: IdIndex, progress, summary) -> None:
    window = max(CHUNK, CHUNK * 2 * jobs) if jobs > 1 else CHUNK
    held: list = []
    for chunk in chunks:
        summary.contacts += len(chunk.records)
        progress.read(len(chunk.records))
        held.extend(_items(chunk, ids.mark(chunk)))
        if len(held) < window:
            continue
        # Everything before the run of the last patient (contacts of no patient among it
        # included) is complete.
        last = next((p for item in reversed(held) if (p := _patient(item)) is not None), None)
        cut = len(held)
        if last is not None:
            for k in range(len(held) - 1, -1, -1):
                p = _patient(held[k])
                if p is not None and p != last:
                    break
                if p == last:
                    cut = k
        ready, held = held[:cut], held[cut:]
        if ready:
            emit_lines(decide_items(engine, ready, jobs), write, progress, summary)
    if held:
        emit_lines(decide_items(engine, held, jobs), write, progress, summary)


def _partition_of(item, count: int, salt: int = 0) -> int:
    patient = _patient(item)
    if patient is None:
        return item[0] % count
    return hash((salt, patient)) % count if salt else hash(patient) % count


def _deal(items_source: Iterable[list], paths: list[str]) -> list[int]:
    """Deal items out into the files at `paths`; how many went into each."""
    count = len(paths)
    files = [open(p, "wb", buffering=1 << 15) for p in paths]  # noqa: SIM115
    counts = [0] * count
    try:
        for items, salt in items_source:
            parts: list[list] = [[] for _ in range(count)]
            for item in items:
                parts[_partition_of(item, count, salt)].append(item)
            for n, part in enumerate(parts):
                if part:
                    pickle.dump(part, files[n], protocol=5)
                    counts[n] += len(part)
    finally:
        for f in files:
            f.close()
    return counts


def _load(path: str) -> list:
    items: list = []
    with open(path, "rb") as f:
        while True:
            try:
                items.extend(pickle.load(f))
            except EOFError:
                return items


def _decide_partition(engine, path: str, out: str, depth: int = 0) -> int:
    """Decide the items of one partition file; write `number<TAB>decision line` to `out`, by
    input number. One much larger than PARTITION is dealt again into 16 by another hash (the
    same patient stays together) and merged; a single patient's contacts are decided whole.
    Returns how many were decided."""
    items = _load(path)
    count = len(items)
    patients = {p for item in items if (p := _patient(item)) is not None}
    if len(items) > 2 * PARTITION and len(patients) > 1 and depth < 4:
        parts = [f"{path}.{n}" for n in range(16)]
        _deal([(items, depth + 1)], parts)
        del items, patients
        outs = [f"{out}.{n}" for n in range(16)]
        for part, part_out in zip(parts, outs, strict=True):
            _decide_partition(engine, part, part_out, depth + 1)
        with open(out, "wb", buffering=1 << 16) as f:
            for number, line in heapq.merge(*map(_decided, outs), key=lambda pair: pair[0]):
                f.write(b"%d\t%s" % (number, line))
        for part_out in outs:
            os.unlink(part_out)
        os.unlink(path)  # last: a partition file still there is a partition not yet decided
        return count
    del patients
    made = decide_items(engine, items, 1)
    numbers = [item[0] for item in items]
    del items
    with open(out, "wb", buffering=1 << 16) as f:
        for number, line in sorted(zip(numbers, made, strict=True), key=lambda pair: pair[0]):
            f.write(b"%d\t%s" % (number, line))
    os.unlink(path)
    return count


def _decided(path: str) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb", buffering=1 << 16) as f:
        for row in f:
            tab = row.index(b"\t")
            yield int(row[:tab]), row[tab + 1:]


def _partitioned(engine, chunks, write, size, jobs, ids: IdIndex, folder, progress, summary) -> None:
    count = max(1, min(MAX_PARTITIONS, -(-(size or PARTITION) // PARTITION)))
    summary.partitions = count
    paths = [os.path.join(folder, f"part-{n}") for n in range(count)]
    outs = [os.path.join(folder, f"decided-{n}") for n in range(count)]

    def dealt():
        for chunk in chunks:
            summary.contacts += len(chunk.records)
            progress.read(len(chunk.records))
            yield _items(chunk, ids.mark(chunk)), 0

    counts = _deal(dealt(), paths)
    _release_arrow_memory()  # before the workers fork: they would start with the parent's pages
    progress.phase("deciding")
    _decide_partitions(engine, paths, outs, jobs, progress.decided, counts)
    progress.phase("writing")
    block: list[bytes] = []
    for _, line in heapq.merge(*map(_decided, outs), key=lambda pair: pair[0]):
        block.append(line)
        if len(block) >= CHUNK:
            emit_lines(block, write, progress, summary)
            block = []
    if block:
        emit_lines(block, write, progress, summary)
    for out in outs:
        os.unlink(out)


def _release_arrow_memory() -> None:
    """Give back the memory pyarrow's allocator keeps for reuse, if pyarrow was used."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()


def _decide_partitions(engine, paths: list[str], outs: list[str], jobs: int, decided,
                       counts: list[int] | None = None) -> None:
    """Each partition decided, by this process and up to jobs - 1 forked workers that take
    partitions from a pipe as they are ready (parallel.py's claims). A partition a worker did
    not finish is decided here. decided(n) is told of each partition done (`counts`: how many
    contacts each holds, for the workers' partitions)."""
    jobs = min(jobs, len(paths))
    done = bytearray(len(paths))
    if jobs <= 1 or not parallel.fork_is_safe():
        for n in range(len(paths)):
            decided(_decide_partition(engine, paths[n], outs[n]))
            done[n] = 1
        return
    claims_in, claims_out = os.pipe()
    os.write(claims_out, b"".join(parallel.CLAIM.pack(n) for n in range(len(paths))))
    os.close(claims_out)
    reports_in, reports_out = os.pipe()
    pids = []

    def take_reports(wait: bool) -> None:
        os.set_blocking(reports_in, wait)
        while True:
            try:
                got = os.read(reports_in, 4096)
            except BlockingIOError:
                return
            if not got:
                return
            for (n,) in parallel.CLAIM.iter_unpack(got):  # 4-byte writes are never torn
                done[n] = 1
                decided(counts[n] if counts else 0)

    try:
        for _ in range(1, jobs):
            with parallel.interrupts_held() as mask:
                pid = os.fork()
                if pid == 0:
                    status = 1
                    try:
                        os.close(reports_in)
                        for held in parallel.HELD:  # as parallel._work: interrupted, it just ends
                            if signal.getsignal(held) is not signal.SIG_IGN:
                                signal.signal(held, signal.SIG_DFL)
                        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                        for n, _ in parallel.claims(claims_in, paths):
                            _decide_partition(engine, paths[n], outs[n])
                            os.write(reports_out, parallel.CLAIM.pack(n))
                        status = 0
                    except BaseException:  # noqa: BLE001 - the parent decides what is left
                        pass
                    finally:
                        os._exit(status)
                pids.append(pid)
        os.close(reports_out)
        reports_out = -1
        for n, _ in parallel.claims(claims_in, paths):
            decided(_decide_partition(engine, paths[n], outs[n]))
            done[n] = 1
            take_reports(wait=False)
        take_reports(wait=True)  # until every worker has closed its end: all have ended
        for pid in pids:
            os.waitpid(pid, 0)
        pids = []
    finally:
        with parallel.interrupts_held():
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.waitpid(pid, 0)
        for fd in (claims_in, reports_in, reports_out):
            if fd >= 0:
                os.close(fd)
    for n in range(len(paths)):
        # A partition file is removed once its decisions are written whole: one still there
        # was not finished by the worker that took it.
        if not done[n] and os.path.exists(paths[n]):
            decided(_decide_partition(engine, paths[n], outs[n]))


def spool_stdin(folder: str, stream=None) -> str:
    """Standard input copied to a file in `folder` (to be read twice: scan, then decide)."""
    path = os.path.join(folder, "input")
    with open(path, "wb") as f:
        shutil.copyfileobj(stream or standard_input(), f, 1 << 20)
    return path
