"""Deciding a batch in forked processes gives exactly the decisions of one process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import time

import orjson
import pytest
from conftest import chat

from evaluator.running import parallel
from evaluator.running.ndjson import ndjson_line, parse_ndjson


def _lines(n: int = 600, seed: int = 5) -> list[bytes]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        c = chat(f"c{i}", f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", patient=f"p{rnd.randrange(40)}",
                 unit=rnd.choice(["u1", "u2"]), dialogue=rnd.choice([True, True, True, False, None]))
        lines.append(json.dumps(c).encode())
    lines[11] = b"not json"
    lines[12] = json.dumps({"id": "bad", "patient": "p1", "date": "2024-02-30"}).encode()  # invalid contact
    lines[13] = b"[1, 2]"  # JSON, but not an object: no patient to deal it out by
    lines[14] = b'{"id": "c14", "patient": "p\xff"}'  # not UTF-8
    # The patient written with an escape, or with a second "patient" key inside another field:
    # read from the parsed line, and still dealt out with the patient's other contacts.
    lines[15] = lines[15].replace(b'"patient": "p', b'"patient": "\\u0070')
    lines[16] = lines[16].replace(b'"unit"', b'"note": {"patient": "someone else"}, "unit"')
    # Well-formed JSON that orjson refuses (a number beyond a double), the patient escaped so it
    # is dealt from the parsed line: read again by the standard library, dealt and decided.
    lines[17] = lines[17].replace(b'"patient": "p', b'"size": 1e400, "patient": "\\u0070')
    return lines


@pytest.fixture
def small_batches_split(monkeypatch):
    """Every batch split, into buckets of about 50 lines (several per process)."""
    monkeypatch.setattr(parallel, "MIN_RECORDS", 1)
    monkeypatch.setattr(parallel, "CHUNK", 50)


def _one_process(repo, lines):
    """The whole batch decided in one go: no buckets, no fork."""
    records, errors = parse_ndjson(lines)
    decisions, _ = repo.engine.evaluate(records, line_errors=errors, emit=ndjson_line, own=True)
    return decisions


def test_forked_batch_gives_the_same_lines_in_input_order(repo, small_batches_split):
    lines = _lines()
    forked = parallel.evaluate_lines_in_processes(repo.engine, lines, 3)
    assert forked is not None  # it did split
    assert all(line.endswith(b"}\n") for line in forked)
    forked = [line[:-1].decode("utf-8") for line in forked]
    assert forked == _one_process(repo, lines)
    assert repo.evaluate_to_ndjson(lines, jobs=2) == forked
    assert repo.evaluate_to_ndjson([line.decode("utf-8", "replace") for line in lines], jobs=2) \
        == _one_process(repo, [line.decode("utf-8", "replace") for line in lines])
    decided = [json.loads(t) for t in forked]
    assert [d["status"] for d in decided[11:15]] == ["invalid"] * 4
    assert decided[11]["errors"][0]["message"].startswith("line 12 is not JSON")  # the input's line number
    assert decided[14]["errors"][0]["message"] == "line 15 is not UTF-8 text (byte 28)"
    assert b"1e400" in lines[17] and decided[17]["contact"] == "c17" and decided[17]["status"] == "decided"
    assert sum(d["status"] == "decided" for d in decided) > 550


def _spying_on_buckets(monkeypatch, log):
    """_decide_buckets that notes, in the file `log`, each bucket a process decides."""
    plain = parallel._decide_buckets

    def spying(engine, read, parts, buckets, *rest):
        for b, *found in plain(engine, read, parts, buckets, *rest):
            with open(log, "a") as f:  # a short append is written whole
                f.write(f"{os.getpid()} {b}\n")
            yield (b, *found)

    monkeypatch.setattr(parallel, "_decide_buckets", spying)


def _buckets_decided(log) -> list[tuple[int, int]]:
    with open(log) as f:
        return [tuple(map(int, line.split())) for line in f]


def test_one_job_decides_bucket_by_bucket_what_one_go_decides(repo, small_batches_split, monkeypatch, tmp_path):
    _spying_on_buckets(monkeypatch, tmp_path / "log")
    lines = _lines()
    decided = parallel.evaluate_lines_in_processes(repo.engine, lines, 1)
    # 600 lines in 12 buckets of about 50 (those that some patient landed in), in order, here
    filled = sorted(set(parallel.deal(lines, 12)))
    assert _buckets_decided(tmp_path / "log") == [(os.getpid(), b) for b in filled] and len(filled) > 6
    assert [line[:-1].decode("utf-8") for line in decided] == _one_process(repo, lines)
    assert repo.evaluate_to_ndjson(lines, jobs=1) == _one_process(repo, lines)


def test_every_bucket_is_decided_once_by_whichever_process_takes_it(repo, small_batches_split, monkeypatch,
                                                                   tmp_path):
    _spying_on_buckets(monkeypatch, tmp_path / "log")
    lines = _lines(3000)
    decided = parallel.evaluate_lines_in_processes(repo.engine, lines, 3)
    assert decided is not None
    done = _buckets_decided(tmp_path / "log")
    # 3,000 lines in 3 x 20 buckets of about 50
    assert sorted(b for _, b in done) == sorted(set(parallel.deal(lines, 60)))
    assert [line[:-1].decode("utf-8") for line in decided] == _one_process(repo, lines)


def test_a_worker_that_fails_or_drops_a_bucket_fails_the_attempt(repo, small_batches_split, monkeypatch):
    parent = os.getpid()
    plain = parallel._decide_buckets
    lines = _lines()
    for ending in ("drop", "raise"):
        def first_bucket_only(engine, read, parts, buckets, *rest, ending=ending):
            if os.getpid() == parent:
                yield from ()
                return  # takes no bucket: all are the worker's
            for made in plain(engine, read, parts, buckets, *rest):
                yield made
                if ending == "raise":
                    raise MemoryError("a worker ran out of memory")
                next(parts, None)  # takes a bucket and ends without deciding it
                return

        monkeypatch.setattr(parallel, "_decide_buckets", first_bucket_only)
        assert parallel.evaluate_lines_in_processes(repo.engine, lines, 2) is None, ending
        assert repo.evaluate_to_ndjson(lines, jobs=2) == _one_process(repo, lines)


def test_a_worker_that_ends_early_with_all_it_took_reported_leaves_the_rest_to_others(repo, small_batches_split,
                                                                                     monkeypatch):
    parent = os.getpid()
    plain = parallel._decide_buckets

    def one_bucket_in_workers(engine, read, parts, buckets, *rest):
        for made in plain(engine, read, parts, buckets, *rest):
            yield made
            if os.getpid() != parent:
                return  # the buckets it did not take are still there for the parent

    monkeypatch.setattr(parallel, "_decide_buckets", one_bucket_in_workers)
    lines = _lines()
    decided = parallel.evaluate_lines_in_processes(repo.engine, lines, 3)
    assert [line[:-1].decode("utf-8") for line in decided] == _one_process(repo, lines)


def test_a_patient_lands_in_one_bucket(small_batches_split):
    lines = _lines()
    buckets = parallel.lines_by_bucket(parallel.deal(lines, 3), 3)
    assert sorted(i for bucket in buckets for i in bucket) == list(range(len(lines)))
    where: dict = {}
    for k, bucket in enumerate(buckets):
        for i in bucket:
            try:
                record = json.loads(lines[i])
            except ValueError:
                continue
            if isinstance(record, dict):
                assert where.setdefault(record["patient"], k) == k, i


def test_patient_key_reads_the_text_only_where_it_is_safe():
    assert parallel.patient_key(b'{"id": "a", "patient" : "p1"}') == b"p1"
    assert parallel.patient_key('{"id": "a", "patient":"p\u00e5"}') == "p\u00e5".encode()
    assert parallel.patient_key(b'{"patient": "p\\u00e5"}') == "p\u00e5".encode()  # escaped: parsed
    assert parallel.patient_key(b'{"x": {"patient": "q"}, "patient": "p"}') == b"p"  # twice: parsed
    assert parallel.patient_key(b'{"a\\"patient": "q", "patient": "p"}') == b"p"
    assert parallel.patient_key(b'{"patient": 7}') == b""
    assert parallel.patient_key(b"broken") == b""


def test_a_misdealt_contact_sends_the_batch_to_one_process(repo, small_batches_split):
    # "patient" occurs once as text, but as the key of a nested object; the contact's own
    # patient is written with an escape: the text names the wrong patient.
    lines = _lines()
    decoy = next(f"x{n}" for n in range(100) if hash(f"x{n}".encode()) % 2 != hash(b"p1") % 2)
    lines.append(b'{"id": "s1", "p\\u0061tient": "p1", "meta": {"patient": "%s"}, "unit": "u1", '
                 b'"region": "testland", "date": "2024-06-01", "channel": "written", "dialogue": true, '
                 b'"documented": true}' % decoy.encode())
    assert parallel.patient_key(lines[-1]) == decoy.encode()
    assert parallel.evaluate_lines_in_processes(repo.engine, lines, 2) is None
    assert repo.evaluate_to_ndjson(lines, jobs=2) == _one_process(repo, lines)


def test_duplicate_ids_send_the_batch_to_one_process(repo, small_batches_split):
    for first, second in ((30, 40), (30, 31)):  # in other buckets or maybe the same one
        lines = _lines()
        lines[second] = lines[first]
        assert parallel.evaluate_lines_in_processes(repo.engine, lines, 2) is None
        decided = repo.evaluate_to_ndjson(lines, jobs=2)
        assert decided == _one_process(repo, lines)
        assert f"already used by input {first + 1}" in decided[second]


def test_small_batches_are_not_split(repo):
    assert parallel.evaluate_lines_in_processes(repo.engine, _lines(50), 2) is None


def test_a_failed_worker_sends_the_batch_to_one_process(repo, small_batches_split, monkeypatch):
    parent = os.getpid()
    plain = parallel._decide_buckets

    def failing_in_workers(*args):
        if os.getpid() != parent:
            raise MemoryError("a worker ran out of memory")
        return plain(*args)

    monkeypatch.setattr(parallel, "_decide_buckets", failing_in_workers)
    lines = _lines()
    assert parallel.evaluate_lines_in_processes(repo.engine, lines, 2) is None
    assert repo.evaluate_to_ndjson(lines, jobs=2) == _one_process(repo, lines)


def test_write_ndjson_in_processes_writes_what_one_process_writes(repo, small_batches_split):
    lines = _lines()
    one, two = io.BytesIO(), io.BytesIO()
    assert repo.write_ndjson(lines, one, jobs=1) == repo.write_ndjson(lines, two, jobs=2) == len(lines)
    assert one.getvalue() == two.getvalue() and one.getvalue().count(b"\n") == len(lines)


def test_a_fork_that_fails_leaves_the_batch_to_one_process(repo, small_batches_split, monkeypatch):
    forks = []
    real_fork = os.fork

    def fork_once():
        if forks:
            raise BlockingIOError("no more processes")
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(parallel.os, "fork", fork_once)
    lines = _lines()
    assert parallel.evaluate_lines_in_processes(repo.engine, lines, 3) is None
    assert len(forks) == 1  # the first worker was started, and waited for
    monkeypatch.setattr(parallel.os, "fork", real_fork)
    assert repo.evaluate_to_ndjson(lines, jobs=3) == _one_process(repo, lines)


def test_dealing_from_the_whole_text_matches_dealing_line_by_line(repo, small_batches_split):
    lines = _lines()
    text = b"\n".join(lines) + b"\n"
    # the text route reads one key per match, so lines whose patient it cannot read alone
    # (escaped, nested, not JSON) make the counts differ: it declines, and lines are dealt
    # one by one
    assert parallel.deal_text(lines, 3, text) is None
    plain = [line for i, line in enumerate(lines) if i not in (11, 13, 14, 15, 16, 17)]
    plain_text = b"\n".join(plain) + b"\n"
    assert len(parallel._PATIENT_BYTES.findall(plain_text)) == len(plain)
    assert parallel.deal_text(plain, 3, plain_text) == parallel.deal(plain, 3)


def test_a_text_whose_patients_do_not_line_up_is_still_decided_exactly(repo, small_batches_split):
    # One line names two patients (a nested one first), another none: as many matches as
    # lines, but shifted. Contacts land in the wrong bucket, which the buckets notice.
    lines = [line for i, line in enumerate(_lines()) if i not in (11, 13, 14, 15, 16, 17)]
    # the nested name is read as the next line's patient: one in another bucket
    other = json.loads(lines[14])["patient"].encode()
    decoy = next(f"x{n}" for n in range(100) if hash(f"x{n}".encode()) % 2 != hash(other) % 2)
    lines[13] = lines[13].replace(b'"unit"', b'"note": {"patient": "%s"}, "unit"' % decoy.encode())
    lines[20] = lines[20].replace(b'"patient"', b'"someone"')
    text = b"\n".join(lines) + b"\n"
    assert len(parallel._PATIENT_BYTES.findall(text)) == len(lines)
    assert parallel.deal_text(lines, 2, text) is not None  # as many matches as lines
    # the buckets notice, and the lines are dealt again one by one
    assert parallel.evaluate_lines_in_processes(repo.engine, lines, 2, text) is not None
    one, two = io.BytesIO(), io.BytesIO()
    repo.write_ndjson(lines, one, jobs=1)
    repo.write_ndjson(text, two, jobs=2)
    assert one.getvalue() == two.getvalue()


def test_bytes_like_lines_are_dealt_as_bytes(repo, small_batches_split):
    lines = _lines()
    assert repo.evaluate_to_ndjson([bytearray(line) for line in lines], jobs=2) == _one_process(repo, lines)
    assert parallel.patient_key(memoryview(b'{"patient": "p1"}')) == b"p1"


def test_a_program_that_ignores_sigchld_gets_its_decisions_without_a_fork(repo, small_batches_split, monkeypatch):
    import signal

    lines = _lines()
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the system
    try:
        # their exit status would be lost: the buckets are decided here, one after another
        monkeypatch.setattr(parallel.os, "fork", lambda: pytest.fail("forked"))
        decided = parallel.evaluate_lines_in_processes(repo.engine, lines, 2)
        assert [line[:-1].decode("utf-8") for line in decided] == _one_process(repo, lines)
    finally:
        signal.signal(signal.SIGCHLD, before)


def test_an_interrupted_parent_leaves_no_worker_behind(repo, small_batches_split, monkeypatch):
    plain = parallel._decide_buckets
    parent = os.getpid()

    def interrupted_in_parent(*args):
        if os.getpid() == parent:
            raise KeyboardInterrupt
        time.sleep(60)  # a worker that would go on for a minute
        return plain(*args)

    monkeypatch.setattr(parallel, "_decide_buckets", interrupted_in_parent)
    children = _children()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        parallel.evaluate_lines_in_processes(repo.engine, _lines(), 3)
    assert time.monotonic() - started < 10  # the workers were killed, not waited for
    assert _children() == children  # every worker was reaped


def test_usable_processors_is_at_least_one():
    assert 1 <= parallel.usable_processors() <= (os.cpu_count() or 1)


def test_write_ndjson_takes_the_text_as_bytes_or_string(repo):
    lines = _lines(30)
    del lines[11:17]  # the lines that are not UTF-8 text or not JSON
    text = b"\n".join(lines) + b"\n"
    as_bytes, as_text, as_lines = io.BytesIO(), io.BytesIO(), io.BytesIO()
    repo.write_ndjson(text, as_bytes)
    repo.write_ndjson(text.decode("utf-8"), as_text)
    repo.write_ndjson(lines, as_lines)
    assert as_bytes.getvalue() == as_text.getvalue() == as_lines.getvalue()
    assert as_bytes.getvalue().count(b"\n") == len(lines)


_KILLED_PARENT = r"""
import json, os, sys, time
from evaluator.running import api, parallel

parallel.MIN_RECORDS, parallel.CHUNK = 1, 20
plain, parent = parallel._decide_buckets, os.getpid()

def slow(engine, read, parts, buckets, *rest):
    if os.getpid() == parent:
        time.sleep(120)  # killed meanwhile
    with open(sys.argv[1] + f".{os.getpid()}", "w"):
        pass  # a worker has started
    for made in plain(engine, read, parts, buckets, *rest):
        time.sleep(0.05)
        yield made

parallel._decide_buckets = slow
lines = [json.dumps({"id": f"c{i}", "patient": f"p{i}", "unit": "u", "region": "r",
                     "date": "2025-01-01", "channel": "phone"}).encode() for i in range(4000)]
api.load_repository().evaluate_to_ndjson(lines, jobs=3)
"""


def test_the_workers_of_a_killed_parent_stop(tmp_path):
    import signal
    import subprocess
    import sys

    mark = tmp_path / "worker"
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT, str(mark)])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker.*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.suffix[1:]) for p in tmp_path.glob("worker.*")]
        assert len(workers) == 2
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def running(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 1
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    # 4,000 patients fill all 201 buckets of about 20 lines, 0.05 s apiece: on its own each
    # worker would go on for seconds more; it stops at its next report instead.
    assert not any(map(running, workers))


def _open_fds() -> set:
    """The pipes this process holds open (fd and inode): what the parallel runner makes. Other
    descriptors come and go with whatever else runs in the test process (a closed file an
    earlier test left to the collector, a library's own), and are not this runner's to leak."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                found.add((fd, os.fstat(int(fd)).st_ino))
    return found


def _children() -> set:
    """This process's children as the kernel lists them, exited but unreaped ones too. (Not
    os.waitpid(-1): a child some library of an earlier test started, and that lives on, is not
    this test's worker.)"""
    found = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children", encoding="ascii") as listing:
            found |= {int(pid) for pid in listing.read().split()}
    return found


@contextlib.contextmanager
def _a_thread_python_does_not_see():
    """A thread of the process that threading does not list (as a library's native pool:
    numpy's BLAS, Arrow's), waiting with SIGINT and SIGTERM not blocked: the kernel gives it a
    signal sent to the process that the main thread blocks, and Python then runs the handler in
    the main thread at once."""
    import _thread

    release, ended = _thread.allocate_lock(), _thread.allocate_lock()
    release.acquire()
    ended.acquire()

    def wait():
        release.acquire()
        ended.release()

    _thread.start_new_thread(wait, ())
    try:
        yield
    finally:
        release.release()
        ended.acquire()


@pytest.mark.parametrize("other_thread", [False, True], ids=["one thread", "a thread python does not see"])
def test_an_interrupt_during_a_fork_leaves_no_worker_and_no_pipe_behind(repo, small_batches_split, monkeypatch,
                                                                        other_thread):
    import signal

    real_fork = os.fork
    forks = []

    def fork_then_interrupted():
        pid = real_fork()
        if pid > 0:
            forks.append(pid)
            os.kill(os.getpid(), signal.SIGINT)  # held back until the worker is registered
            time.sleep(0.2)  # time for another thread to take it, if there is one
        return pid

    monkeypatch.setattr(parallel.os, "fork", fork_then_interrupted)
    # Python's own handler, whatever this process was started with (a job started in the
    # background by a shell without job control ignores SIGINT, and the signal would be lost).
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupted_during_a_fork(repo, forks, other_thread)
    finally:
        signal.signal(signal.SIGINT, started_with)


def _interrupted_during_a_fork(repo, forks: list, other_thread: bool) -> None:
    import signal

    with _a_thread_python_does_not_see() if other_thread else contextlib.nullcontext():
        assert parallel.fork_is_safe()
        before, held, children = _open_fds(), signal.pthread_sigmask(signal.SIG_BLOCK, ()), _children()
        handler = signal.getsignal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            parallel.evaluate_lines_in_processes(repo.engine, _lines(), 3)
    assert len(forks) == 1
    assert forks[0] not in children and not set(forks) & _children()  # the worker was killed and reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)
    assert _open_fds() == before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == held  # nothing left held back
    assert signal.getsignal(signal.SIGINT) is handler


_TWO_SIGNALS = r"""
import os, signal, types
from evaluator.running import parallel

# Python's own SIGINT handler, as in a process started in the foreground (one started in the
# background by a shell without job control ignores SIGINT from the start)
signal.signal(signal.SIGINT, signal.default_int_handler)

got = []
term = lambda s, f: got.append("TERM")
signal.signal(signal.SIGTERM, term)
# both arrive inside the block: both handlers run after it, the second too
try:
    with parallel.interrupts_held():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    got.append("INT")
for _ in range(1000):
    pass
print(sorted(got))
# a second interrupt lands just as SIGINT's handler is put back: SIGTERM's goes back all the same
real = signal.signal
def signal_with_a_second_interrupt(signum, handler):
    old = real(signum, handler)
    if signum == signal.SIGINT and handler is signal.default_int_handler:
        os.kill(os.getpid(), signal.SIGINT)
    return old
parallel.signal = types.SimpleNamespace(**{k: getattr(signal, k) for k in dir(signal) if not k.startswith("__")})
parallel.signal.signal = signal_with_a_second_interrupt
try:
    with parallel.interrupts_held():
        pass
except KeyboardInterrupt:
    pass
print(signal.getsignal(signal.SIGTERM) is term, signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


def test_interrupts_held_lose_no_signal_and_leave_no_handler_swapped():
    """Two signals held back both reach their handlers (the first raising does not drop the
    second), and an interrupt that lands while the handlers are put back leaves none of them
    swapped for the noting one."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _TWO_SIGNALS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['INT', 'TERM']", "True True"]


def test_a_worker_holds_no_other_workers_report_pipe(repo, small_batches_split, monkeypatch, tmp_path):
    log = tmp_path / "pipes"
    plain = parallel._decide_buckets
    parent = os.getpid()
    reports = []
    plain_worker = parallel._Worker.__init__

    def noting_report_pipes(self, pid, spool, report, *rest):
        reports.append((pid, os.fstat(report).st_ino))
        plain_worker(self, pid, spool, report, *rest)

    def noting_open_pipes(engine, read, parts, buckets, *rest):
        if os.getpid() != parent:
            pipes = set()
            for fd in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                        pipes.add(os.fstat(int(fd)).st_ino)
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {' '.join(map(str, sorted(pipes)))}\n")
        return plain(engine, read, parts, buckets, *rest)

    monkeypatch.setattr(parallel._Worker, "__init__", noting_report_pipes)
    monkeypatch.setattr(parallel, "_decide_buckets", noting_open_pipes)
    assert parallel.evaluate_lines_in_processes(repo.engine, _lines(), 4) is not None
    report_pipe = dict(reports)
    assert len(report_pipe) == 3
    for line in log.read_text().splitlines():
        pid, *pipes = map(int, line.split())
        # its own report pipe (to write to), and none of the others'
        assert set(pipes) & set(report_pipe.values()) == {report_pipe[pid]}


def test_a_worker_keeps_an_ignored_interrupt_ignored(repo, small_batches_split, monkeypatch, tmp_path):
    import signal

    log = tmp_path / "handlers"
    plain = parallel._decide_buckets
    parent = os.getpid()

    def noting_handlers(engine, read, parts, buckets, *rest):
        if os.getpid() != parent:
            with open(log, "a") as f:
                f.write(f"{signal.getsignal(signal.SIGINT) is signal.SIG_IGN} "
                        f"{signal.getsignal(signal.SIGTERM) is signal.SIG_DFL}\n")
        return plain(engine, read, parts, buckets, *rest)

    monkeypatch.setattr(parallel, "_decide_buckets", noting_handlers)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup
    try:
        assert parallel.evaluate_lines_in_processes(repo.engine, _lines(), 2) is not None
    finally:
        signal.signal(signal.SIGINT, before)
    assert log.read_text() == "True True\n"


def test_no_jobs_counts_as_one(repo, small_batches_split):
    lines = _lines()
    for jobs in (0, -3):
        decided = parallel.evaluate_lines_in_processes(repo.engine, lines, jobs)
        assert [line[:-1].decode("utf-8") for line in decided] == _one_process(repo, lines)


def test_a_worker_that_cannot_be_registered_is_stopped(repo, small_batches_split, monkeypatch):
    def broken(self, *args):
        raise RuntimeError("no worker record")

    monkeypatch.setattr(parallel._Worker, "__init__", broken)
    before, children = _open_fds(), _children()
    with pytest.raises(RuntimeError):
        parallel.evaluate_lines_in_processes(repo.engine, _lines(), 2)
    assert _children() == children  # the forked worker was killed and reaped
    assert _open_fds() == before


def test_the_batch_api_in_processes_gives_equal_decisions_and_leaves_the_contacts_alone(repo, small_batches_split):
    import copy

    contacts = []
    for line in _lines(3000):
        try:
            contacts.append(json.loads(line))
        except ValueError:
            contacts.append(line.decode("utf-8", "replace"))  # not a contact at all
    contacts[20] = [1, 2]
    given = copy.deepcopy(contacts)
    one = repo.evaluate(contacts)
    forked = parallel.evaluate_records_in_processes(repo.engine, contacts, 3)
    assert forked is not None  # it did split
    assert forked == one
    assert [orjson.dumps(d) for d in forked] == [orjson.dumps(d) for d in one]  # true stays true, not 1
    assert repo.evaluate(contacts, jobs=2) == one
    assert contacts == given
    assert sum(d["status"] == "invalid" for d in forked) >= 5


def test_the_batch_api_decides_in_one_process_where_it_should(repo, small_batches_split):
    contacts = [json.loads(line) for i, line in enumerate(_lines(200)) if i not in range(11, 17)]
    assert parallel.evaluate_records_in_processes(repo.engine, contacts, 1) is None
    assert repo.evaluate(contacts, jobs=0) == repo.evaluate(contacts)  # 0: the usable processors
    twice = list(contacts)
    twice[5] = dict(twice[9])  # an id used twice: decided in one go
    assert parallel.evaluate_records_in_processes(repo.engine, twice, 2) is None
    assert repo.evaluate(twice, jobs=2) == repo.evaluate(twice)


def test_dict_and_str_subclasses_are_dealt_as_the_contact_check_reads_them(repo, small_batches_split):
    from collections import OrderedDict

    class Text(str):
        pass

    contacts = [json.loads(line) for i, line in enumerate(_lines(400)) if i not in range(11, 17)]
    contacts[250]["id"] = contacts[7]["id"] = "dup"  # an id used twice, in other buckets maybe
    contacts[250]["patient"], contacts[7]["patient"] = "p1", "p2"
    contacts[7] = OrderedDict(contacts[7])
    for i in range(0, len(contacts), 2):  # every other record a subclass, patients too
        contacts[i] = OrderedDict(contacts[i])
        contacts[i]["patient"] = Text(contacts[i]["patient"])
    one = repo.evaluate(contacts)
    assert "already used" in str(one[250]["errors"])
    assert repo.evaluate(contacts, jobs=2) == one
    del contacts[250]  # no id used twice: decided in processes, with each patient's whole history
    assert parallel.evaluate_records_in_processes(repo.engine, contacts, 2) == repo.evaluate(contacts)


def test_decisions_share_no_mutable_object(repo):
    contacts = [json.loads(line) for i, line in enumerate(_lines(200)) if i not in range(11, 17)]
    decisions = repo.evaluate(contacts)
    seen: dict = {}

    def walk(value, owner):
        if isinstance(value, (dict, list)):
            assert seen.setdefault(id(value), owner) == owner, "shared between two decisions"
            for item in (value.values() if isinstance(value, dict) else value):
                walk(item, owner)

    for n, decision in enumerate(decisions):
        walk(decision, n)
    empty = next(d for d in decisions if d["outputs"].get("kva") == [])
    empty["outputs"]["kva"].append("changed by the caller")
    assert all("changed by the caller" not in (d["outputs"].get("kva") or []) for d in repo.evaluate(contacts))


def test_a_batch_the_buckets_decline_is_decided_once_more_not_twice(repo, small_batches_split, monkeypatch):
    lines = _lines()
    lines[40] = lines[30]  # an id used twice: the bucket attempt declines
    attempts = []
    plain = parallel.split_and_decide

    def counting(*args, **kwargs):
        attempts.append(args[2])  # the jobs of the attempt
        return plain(*args, **kwargs)

    monkeypatch.setattr(parallel, "split_and_decide", counting)
    out = io.BytesIO()
    repo.write_ndjson(lines, out, jobs=2)
    assert attempts == [2]  # then decided in one go, without a second, one-process bucket attempt
    assert out.getvalue().decode("utf-8").splitlines() == _one_process(repo, lines)


def test_an_id_first_used_by_an_invalid_contact_is_taken_in_processes_too(repo, small_batches_split):
    lines = _lines()
    taken = json.loads(lines[12])["id"]  # line 13: an invalid contact
    lines[500] = json.dumps(chat(taken, "2024-05-06", patient="p7")).encode()
    forked = repo.evaluate_to_ndjson(lines, jobs=2)
    assert forked == _one_process(repo, lines)
    assert json.loads(forked[500])["errors"] == [{"field": "id", "message": "this id is already used by input 13"}]


def test_lines_that_are_not_text_are_invalid_lines_in_processes_too(repo, small_batches_split):
    lines = _lines()
    lines[20], lines[21] = None, 10**12  # (bytes(10**12) would be a terabyte of zeros)
    forked = repo.evaluate_to_ndjson(lines, jobs=2)
    assert forked == _one_process(repo, lines)
    assert json.loads(forked[21])["errors"][0]["message"] == "line 22 is not text but int"
