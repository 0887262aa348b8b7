"""Deciding in bounded memory: grouped input straight through, other input partitioned; the
same decisions as the whole batch decided at once, in input order."""

from __future__ import annotations

import random

import orjson
import pytest
from click.testing import CliRunner

from evaluator import load_repository
from evaluator.cli import main
from evaluator.running import streaming
from evaluator.running.formats import Chunk, read_chunks
from evaluator.running.streaming import decide_stream, scan_grouped


@pytest.fixture(scope="module")
def repo():
    return load_repository()


def _contacts(n_patients: int, per: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    contacts = []
    for p in range(n_patients):
        for k in range(per):
            contacts.append({"id": f"c{p}-{k}", "patient": f"p{p}", "unit": f"u{p % 3}", "region": "vgr",
                             "care_choice": "rehab", "channel": rng.choice(["written", "physical"]),
                             "date": f"2025-{rng.randint(2, 12):02d}-{rng.randint(1, 28):02d}",
                             "dialogue": True, "content_equivalent_to_visit": True, "medical_assessment": True,
                             "documented": rng.random() > 0.1, "regular_staff": True})
    return contacts


def _lines(contacts) -> list[bytes]:
    return [orjson.dumps(c) for c in contacts]


def _streamed(repo, lines, grouped, jobs=1, chunk=50, partition=None, monkeypatch=None):
    import io

    if partition and monkeypatch:
        monkeypatch.setattr(streaming, "PARTITION", partition)
    got: list[bytes] = []
    chunks = read_chunks(io.BytesIO(b"\n".join(lines) + b"\n"), "ndjson", size=chunk)
    decide_stream(repo.engine, chunks, got.extend, grouped=grouped, size=len(lines), jobs=jobs)
    return [orjson.loads(line) for line in got]


def test_scan_tells_grouped_input():
    assert scan_grouped([b"a", b"a", b"", b"b", b"b"]) == (True, 5)
    assert scan_grouped([b"b", b"b", b"a", b"c"]) == (True, 4)  # grouped, not sorted
    assert scan_grouped([b"a", b"b", b"a"])[0] is False


def test_grouped_and_partitioned_give_the_batch_decisions_in_input_order(repo, monkeypatch):
    contacts = _contacts(30, 12)
    grouped_lines = _lines(contacts)
    shuffled = list(contacts)
    random.Random(2).shuffle(shuffled)
    lines = _lines(shuffled)
    lines.insert(7, b"{not json")
    lines.insert(100, orjson.dumps(dict(shuffled[3])))  # an id used twice
    lines.insert(150, orjson.dumps({**shuffled[10], "id": "x", "date": "2025-02-30"}))
    want = repo.evaluate_lines(lines)
    assert any("already used by input" in e["message"] for d in want for e in d["errors"])
    assert _streamed(repo, lines, grouped=False, partition=40, monkeypatch=monkeypatch) == want
    assert scan_grouped(c["patient"].encode() for c in contacts)[0]
    assert _streamed(repo, grouped_lines, grouped=True) == repo.evaluate_lines(grouped_lines)


def test_partitions_that_grow_too_large_are_dealt_again(repo, monkeypatch, tmp_path):
    contacts = _contacts(40, 10)
    random.Random(3).shuffle(contacts)
    lines = _lines(contacts)
    monkeypatch.setattr(streaming, "PARTITION", 10)
    got: list[bytes] = []
    import io

    chunks = read_chunks(io.BytesIO(b"\n".join(lines)), "ndjson", size=64)
    # size hint 1: one partition of 400, dealt again (by another hash) into smaller ones
    summary = decide_stream(repo.engine, chunks, got.extend, grouped=False, size=1, folder=str(tmp_path))
    assert summary.partitions == 1
    assert [orjson.loads(x) for x in got] == repo.evaluate_lines(lines)
    assert [p.name for p in tmp_path.iterdir()] == ["ids.sqlite"]  # every part file removed


def test_forked_workers_decide_partitions_and_windows(repo, monkeypatch):
    contacts = _contacts(60, 10)
    random.Random(4).shuffle(contacts)
    lines = _lines(contacts)
    want = repo.evaluate_lines(lines)
    assert _streamed(repo, lines, grouped=False, jobs=2, partition=50, monkeypatch=monkeypatch) == want
    monkeypatch.setattr(streaming.parallel, "MIN_RECORDS", 10)
    grouped = _lines(_contacts(60, 10, seed=5))
    assert _streamed(repo, grouped, grouped=True, jobs=2, chunk=100) == repo.evaluate_lines(grouped)


def test_id_index_finds_ids_used_before(tmp_path):
    index = streaming.IdIndex(str(tmp_path))
    first = index.mark(Chunk([{"id": "a"}, {"id": "b"}, None, {"id": "a"}], {}, [1, 2, 3, 4]))
    assert first == {3: 1}
    assert index.mark(Chunk([{"id": "b"}, {"id": 5}, {"id": "c"}], {}, [5, 6, 7])) == {0: 2}
    index.close()


def test_cli_reads_standard_input_and_unsorted_files_alike(tmp_path):
    contacts = _contacts(20, 5)
    random.Random(5).shuffle(contacts)
    text = b"\n".join(_lines(contacts)) + b"\n"
    runner = CliRunner()
    # (--memory-budget 0: in bounded memory, as an input too large for the budget is decided)
    from_stdin = runner.invoke(main, ["evaluate", "--quiet", "--memory-budget", "0"], input=text)
    path = tmp_path / "c.ndjson"
    path.write_bytes(text)
    from_file = runner.invoke(main, ["evaluate", str(path), "--jobs", "2", "--memory-budget", "0"])
    assert from_stdin.exit_code == from_file.exit_code == 0
    assert from_stdin.stdout_bytes == from_file.stdout_bytes
    assert len(from_file.stdout_bytes.splitlines()) == len(contacts)
    assert from_stdin.stderr == ""  # no progress bar off a terminal


def test_fail_on_invalid_exits_1_after_writing_everything(tmp_path):
    path = tmp_path / "c.ndjson"
    path.write_bytes(orjson.dumps(_contacts(1, 2)[0]) + b"\nnot json\n")
    result = CliRunner().invoke(main, ["evaluate", str(path), "--fail-on-invalid", "--memory-budget", "0"])
    assert result.exit_code == 1 and len(result.stdout_bytes.splitlines()) == 2
    assert "1 of 2 contacts are invalid" in result.stderr


def test_an_invalid_contact_with_a_long_id_counts_as_invalid(tmp_path):
    """The invalid count reads each line's own status, however long the contact's id (one of
    400 characters put the status past where an earlier count looked), and not an output or a
    text that says `"status":"invalid"`."""
    valid = _contacts(1, 1)[0]
    tricky = {**valid, "id": 'x","status":"invalid' + "y" * 400, "unit": ',"status":"invalid"'}
    broken = {**valid, "id": "z" * 400, "date": "31 February"}
    path = tmp_path / "c.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(c) for c in (tricky, broken)) + b"\n")
    for budget in ("0", "4000"):
        result = CliRunner().invoke(main, ["evaluate", str(path), "--fail-on-invalid", "--memory-budget", budget])
        statuses = [orjson.loads(line)["status"] for line in result.stdout_bytes.splitlines()]
        assert statuses[1] == "invalid" and statuses[0] != "invalid"
        assert result.exit_code == 1 and "1 of 2 contacts are invalid" in result.stderr
    assert streaming.is_invalid_line(b'{"contact":null,"status":"invalid","policies":[]}\n')
    assert not streaming.is_invalid_line(b'{"contact":"a","status":"decided","outputs":{"status":"invalid"}}\n')


def test_progress_bar_counts_contacts(repo):
    seen = []

    class Recorder(streaming.Progress):
        def read(self, count):
            seen.append(("read", count))

        def decided(self, count):
            seen.append(("decided", count))

    import io

    lines = _lines(_contacts(5, 4))
    chunks = read_chunks(io.BytesIO(b"\n".join(lines)), "ndjson", size=7)
    decide_stream(repo.engine, chunks, lambda lines: None, grouped=False, size=20, progress=Recorder())
    assert sum(n for what, n in seen if what == "read") == 20
    assert sum(n for what, n in seen if what == "decided") >= 20


def test_unreadable_lines_leave_no_reference_cycles_behind():
    # A batch pauses the cyclic collector: a cycle per unreadable line (exception, traceback,
    # frame) was kept until the batch ended, about 9 KB a line.
    import gc

    from evaluator.running.ndjson import parse_ndjson

    lines = [b'{"a": 1e400', b"{bad", b"NaN", b'{"id": "x"'] * 250
    gc.collect()
    gc.disable()
    try:
        records, errors = parse_ndjson(lines)
        for line in lines:
            streaming.parallel.patient_key(line)
        found = gc.collect()
    finally:
        gc.enable()
    assert len(errors) == 1000 and found < 100


def test_a_worker_that_dies_leaves_its_partitions_to_this_process(repo, monkeypatch):
    import os

    contacts = _contacts(40, 10, seed=8)
    random.Random(9).shuffle(contacts)
    lines = _lines(contacts)
    parent, real = os.getpid(), streaming._decide_partition

    def dying(engine, path, out, depth=0):
        if os.getpid() != parent:
            os._exit(1)  # a worker killed as it starts its first partition
        return real(engine, path, out, depth)

    monkeypatch.setattr(streaming, "_decide_partition", dying)
    assert _streamed(repo, lines, grouped=False, jobs=2, partition=30, monkeypatch=monkeypatch) == \
        repo.evaluate_lines(lines)


def test_a_named_pipe_is_read_once_and_decided_whole(tmp_path):
    # The scan for grouped input reads a file before it is decided; a pipe read by the scan
    # left the deciding nothing (no decisions, exit 0). It is copied first, as standard input.
    import os
    import threading

    contacts = _contacts(6, 3)
    text = b"\n".join(_lines(contacts)) + b"\n"
    pipe = tmp_path / "contacts.ndjson"
    os.mkfifo(pipe)

    def feed():
        with open(pipe, "wb") as f:
            f.write(text)

    def unblock():
        # Were the pipe opened a second time, that open would wait for a writer for ever: once
        # the feed is written, this ends such a wait with an empty read, and the test fails.
        writer.join()
        while not done.wait(0.05):
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader: not opened again (yet)
                pass

    done = threading.Event()
    writer = threading.Thread(target=feed)
    writer.start()
    watchdog = threading.Thread(target=unblock)
    watchdog.start()
    try:
        result = CliRunner().invoke(main, ["evaluate", str(pipe), "--jobs", "1"])
    finally:
        done.set()
        writer.join()
        watchdog.join()
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == CliRunner().invoke(main, ["evaluate", "--jobs", "1"], input=text).stdout_bytes
    assert len(result.stdout_bytes.splitlines()) == len(contacts)
