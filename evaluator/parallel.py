"""Decide patients in forked worker processes: patients share no history, so they split freely.

The parent has already checked and grouped the contacts; each worker inherits them through
fork (nothing is pickled on the way in) and sends back (input index, decision text) pairs.
"""

from __future__ import annotations

import multiprocessing
import threading
from array import array

_STATE: tuple | None = None  # (engine, groups, emit), set in the parent just before forking


def _work(share: list[int]):
    """Decide the patients of one share. The answer travels as an array of input indexes and
    the decisions' NDJSON lines joined by line feeds (a JSON text holds none): far cheaper to
    send between processes than a list of pairs."""
    engine, groups, emit = _STATE
    out: dict = {}
    for g in share:
        engine._decide_patient(groups[g], out, {}, None, None, emit)
    return array("q", out.keys()), "\n".join(out.values())


def _shares(groups: list[list], jobs: int) -> list[list[int]]:
    """Groups dealt out largest first to the least loaded share, for even work."""
    shares: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for g in sorted(range(len(groups)), key=lambda g: -len(groups[g])):
        k = loads.index(min(loads))
        shares[k].append(g)
        loads[k] += len(groups[g])
    return [s for s in shares if s]


def decide_in_processes(engine, groups: list[list], emit, jobs: int) -> list[tuple[int, str]] | None:
    """(input index, decision text) for every contact of `groups`, decided in `jobs` processes;
    None where forking is not possible (no fork on this system) or not safe (other threads are
    running, e.g. in the HTTP server): the caller then decides them itself.
    `emit` must give one-line texts (NDJSON lines)."""
    global _STATE
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return None
    _STATE = (engine, groups, emit)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_work, _shares(groups, jobs), chunksize=1)
    finally:
        _STATE = None
    return [pair for indexes, text in results for pair in zip(indexes, text.split("\n"))]
