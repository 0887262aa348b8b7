"""Deciding a batch in forked processes gives exactly the decisions of one process."""

from __future__ import annotations

import json
import os
import random

import pytest
from conftest import chat

from evaluator import parallel
from evaluator.api import ndjson_line, parse_ndjson


def _lines(n: int = 600, seed: int = 5) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        c = chat(f"c{i}", f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", patient=f"p{rnd.randrange(40)}",
                 unit=rnd.choice(["u1", "u2"]), dialogue=rnd.choice([True, True, True, False, None]))
        lines.append(json.dumps(c))
    lines[11] = "not json"
    lines[12] = json.dumps({"id": "bad", "patient": "p1", "date": "2024-02-30"})  # invalid contact
    lines[13] = "[1, 2]"  # JSON, but not an object: no patient to split by
    return lines


@pytest.fixture
def small_batches_split(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_RECORDS", 1)


def _serial(repo, lines):
    return repo.evaluate_to_ndjson(lines, jobs=1)


def test_forked_batch_gives_the_same_lines_in_input_order(repo, small_batches_split):
    lines = _lines()
    records, errors = parse_ndjson(lines)
    forked = parallel.evaluate_in_processes(repo.engine, records, errors, ndjson_line, 3)
    assert forked is not None  # it did split
    assert forked == _serial(repo, lines)
    assert repo.evaluate_to_ndjson(lines, jobs=2) == forked
    statuses = [json.loads(t)["status"] for t in forked]
    assert statuses[11:14] == ["invalid"] * 3 and statuses.count("decided") > 500


def test_a_patient_stays_in_one_share(small_batches_split):
    records, _ = parse_ndjson(_lines())
    shares = parallel.shares_by_patient(records, 3)
    where: dict = {}
    for k, share in enumerate(shares):
        for i in share:
            record = records[i]
            if isinstance(record, dict):
                assert where.setdefault(record["patient"], k) == k
    assert sorted(i for share in shares for i in share) == list(range(len(records)))
    assert 13 in shares[0] and 11 in shares[0]  # not JSON, not an object: the first share


def test_duplicate_ids_keep_the_batch_in_one_process(repo, small_batches_split):
    lines = _lines()
    lines[40] = lines[30]  # the second c30 is a duplicate, whichever patient shares it
    records, errors = parse_ndjson(lines)
    assert parallel.evaluate_in_processes(repo.engine, records, errors, ndjson_line, 2) is None
    decided = repo.evaluate_to_ndjson(lines, jobs=2)
    assert decided == _serial(repo, lines)
    assert "already used by input 31" in decided[40]


def test_small_batches_are_not_split(repo):
    records, errors = parse_ndjson(_lines(50))
    assert parallel.evaluate_in_processes(repo.engine, records, errors, ndjson_line, 2) is None


def test_a_failed_worker_is_made_good_by_the_parent(repo, small_batches_split, monkeypatch):
    parent = os.getpid()
    plain = parallel._decide_share

    def failing_in_workers(*args):
        if os.getpid() != parent:
            raise MemoryError("a worker ran out of memory")
        return plain(*args)

    monkeypatch.setattr(parallel, "_decide_share", failing_in_workers)
    lines = _lines()
    records, errors = parse_ndjson(lines)
    forked = parallel.evaluate_in_processes(repo.engine, records, errors, ndjson_line, 2)
    monkeypatch.setattr(parallel, "_decide_share", plain)
    assert forked == _serial(repo, lines)
