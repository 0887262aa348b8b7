"""Decide a batch in forked worker processes: patients share no history, so they split freely.

The parent has read the records; it deals them out by patient into shares, forks one worker per
share but the first, and decides the first share itself meanwhile. A worker inherits the
records through fork (nothing is pickled on the way in), checks and decides its share as a
batch of its own, and sends back the decisions' NDJSON lines joined by line feeds (a JSON text
holds none) in a temporary file, in the order of its share: the parent knows the share, so no indexes travel.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

# Below this many records a batch is decided in one process: forking and gathering cost more
# than they save.
MIN_RECORDS = 20_000


def usable_processors() -> int:
    """How many processors this process may run on (its affinity, where the system tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _fork_is_safe() -> bool:
    # Forking a process that runs other threads (the HTTP server) can copy a lock held by one
    # of them; such a caller decides in one process.
    return hasattr(os, "fork") and threading.active_count() == 1 and sys.platform != "win32"


def shares_by_patient(records: list, jobs: int) -> list[list[int]] | None:
    """Input indexes dealt out by patient into `jobs` shares, or None when the batch must be
    decided as one: when a contact id occurs twice, whether the second is a duplicate depends
    on the whole batch (contract section 4). A record without a readable patient is invalid
    anyway and goes to the first share."""
    ids = [r.get("id") for r in records if type(r) is dict]
    ids = [i for i in ids if type(i) is str]
    if len(set(ids)) != len(ids):
        return None
    patients = [r.get("patient") if type(r) is dict else None for r in records]
    dealt = [hash(p) % jobs if type(p) is str else 0 for p in patients]
    return [[i for i, k in enumerate(dealt) if k == share] for share in range(jobs)]


def _decide_share(engine, records: list, line_errors: dict | None, emit, share: list[int]) -> list:
    subset = [records[i] for i in share]
    errors = None
    if line_errors:
        errors = {k: line_errors[i] for k, i in enumerate(share) if i in line_errors}
    decisions, _ = engine._evaluate_here(subset, errors, None, None, emit)
    return decisions


def evaluate_in_processes(engine, records: list, line_errors: dict | None, emit, jobs: int) -> list | None:
    """Every record's decision as its NDJSON line (`emit` must give one-line texts), in input
    order, decided in up to `jobs` processes; None when the batch is better or only safely
    decided in one (small, duplicate ids, no fork, other threads running)."""
    if jobs < 2 or len(records) < MIN_RECORDS or not _fork_is_safe():
        return None
    shares = shares_by_patient(records, jobs)
    if shares is None:
        return None
    shares = [s for s in shares if s]
    workers = []
    for share in shares[1:]:
        # The answer goes through an unlinked temporary file, not a pipe: a pipe moves a few
        # hundred megabytes 64 KB at a time, with a switch between the processes each time.
        answer = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                texts = _decide_share(engine, records, line_errors, emit, share)
                for start in range(0, len(texts), 10_000):  # a piece at a time: no giant string
                    answer.write(("\n".join(texts[start:start + 10_000]) + "\n").encode("utf-8"))
                answer.flush()
                status = 0
            except BaseException:  # noqa: BLE001 - the parent decides the share again and reports
                pass
            finally:
                os._exit(status)
        workers.append((pid, answer, share))
    decisions: list = [None] * len(records)
    for i, text in zip(shares[0], _decide_share(engine, records, line_errors, emit, shares[0])):
        decisions[i] = text
    for pid, answer, share in workers:
        _, status = os.waitpid(pid, 0)
        with answer:
            answer.seek(0)
            texts = answer.read().decode("utf-8").split("\n")[:-1] if status == 0 else []
        if len(texts) != len(share):
            # The worker failed (killed, out of memory, a bug): decide its share here, where an
            # error is raised and reported as usual.
            texts = _decide_share(engine, records, line_errors, emit, share)
        for i, text in zip(share, texts):
            decisions[i] = text
    return decisions
