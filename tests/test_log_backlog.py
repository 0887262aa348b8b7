"""The logs are written by a thread of their own: a consumer that stops reading holds up that
thread, never the event loop; no decision-log line is dropped, and no decision is made while
the backlog is full."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from _service import connections_held, replace_a_worker, service_process, workers_of
from conftest import chat

from evaluator.service.logs import LogWriter, access_log, decision_log


class Held(logging.Handler):
    """A handler that writes nothing until `go` is set (a consumer that stopped reading)."""

    def __init__(self):
        super().__init__()
        self.go = threading.Event()
        self.seen: list[tuple[str, str]] = []
        self.threads: set[str] = set()

    def emit(self, record):
        self.go.wait(30)
        self.seen.append((record.name, record.getMessage()))
        self.threads.add(threading.current_thread().name)


def record(logger: logging.Logger, message: str) -> None:
    logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, None, None))


@pytest.fixture
def held():
    handler = Held()
    service = Held()
    service.go.set()
    saved = [(lg, lg.handlers[:], lg.propagate, lg.level, lg.disabled) for lg in
             (decision_log, access_log, logging.getLogger("regelverk.service"))]
    for lg in (decision_log, access_log):
        lg.handlers[:] = [handler]
        lg.propagate, lg.disabled = False, False
        lg.setLevel(logging.INFO)
    service_logger = logging.getLogger("regelverk.service")
    service_logger.handlers[:] = [service]
    service_logger.propagate = False
    service_logger.setLevel(logging.INFO)
    try:
        yield handler, service
    finally:
        handler.go.set()
        for lg, handlers, propagate, level, disabled in saved:
            lg.handlers[:] = handlers
            lg.propagate, lg.level, lg.disabled = propagate, level, disabled


def test_a_stalled_consumer_holds_up_the_writer_not_the_caller_and_no_decision_line_is_lost(held):
    handler, service = held
    before = decision_log.handlers[:], access_log.handlers[:]
    writer = LogWriter(backlog=5).install()
    try:
        started = time.perf_counter()
        for k in range(5):  # the first is taken by the decision log's thread (and held there)
            record(decision_log, f"d{k}")
        assert not writer.room()  # five decisions not yet written: no new decision is made
        for k in range(8):  # the access log's thread is held too: its backlog fills, then drops
            record(access_log, f"a{k}")
        record(decision_log, "d5")  # a decision once made is always kept
        assert time.perf_counter() - started < 0.5  # nothing above waited on the consumer
        assert handler.seen == [] and writer.dropped == 3
        handler.go.set()  # the consumer reads again
        deadline = time.monotonic() + 10
        while not writer.room() or len(handler.seen) < 11:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        assert writer.close(10)
    decisions = [m for name, m in handler.seen if name == "regelverk.decisions"]
    access = [m for name, m in handler.seen if name == "regelverk.access"]
    assert decisions == [f"d{k}" for k in range(6)] and access == [f"a{k}" for k in range(5)]
    assert handler.threads == {"regelverk.decisions-writer", "regelverk.access-writer"}
    assert any("3 lines of regelverk.access were dropped" in message for _, message in service.seen)
    # closed: the loggers have their own handlers back, written to as the caller writes
    assert (decision_log.handlers, access_log.handlers) == before
    record(access_log, "after")
    assert handler.seen[-1] == ("regelverk.access", "after") and writer.dropped == 3


def test_a_slow_access_log_holds_up_neither_decisions_nor_their_log(held):
    handler, _ = held
    quick = Held()
    quick.go.set()
    decision_log.handlers[:] = [quick]  # the access log keeps the held handler
    writer = LogWriter(backlog=3).install()
    try:
        for k in range(10):
            record(access_log, f"a{k}")
        for k in range(10):
            record(decision_log, f"d{k}")
        deadline = time.monotonic() + 10
        while len(quick.seen) < 10:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert writer.room() and writer.dropped == 7  # three wait (one being written is one of them)
    finally:
        handler.go.set()
        assert writer.close(10)
    assert [m for _, m in quick.seen] == [f"d{k}" for k in range(10)]


def test_records_reach_the_handlers_of_the_loggers_above_as_they_propagated(held):
    handler, _ = held
    above = Held()
    above.go.set()
    parent = logging.getLogger("regelverk")
    old = parent.handlers[:]
    parent.handlers[:] = [above]
    decision_log.propagate = True
    writer = LogWriter(backlog=100).install()
    try:
        assert decision_log.propagate is False  # (its records go through the writer only)
        handler.go.set()
        record(decision_log, "d")
        record(access_log, "a")  # this one did not propagate: only its own handler
    finally:
        writer.close(10)
        parent.handlers[:] = old
    assert sorted(handler.seen) == [("regelverk.access", "a"), ("regelverk.decisions", "d")]  # (a thread each)
    assert above.seen == [("regelverk.decisions", "d")]
    assert decision_log.propagate is True


def test_a_logger_with_no_handler_still_reaches_the_last_resort_from_its_thread(held, capsys):
    service_log = logging.getLogger("regelverk.service")
    service_log.handlers[:] = []  # as a log_config that gives regelverk.* no handler leaves it
    writer = LogWriter(backlog=10).install()
    try:
        service_log.warning("the reload was refused")
        service_log.info("not shown: the last resort takes warnings and worse")
    finally:
        assert writer.close(10)
    assert capsys.readouterr().err == "the reload was refused\n"


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None):
    started = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    answer = conn.getresponse()
    data = answer.read()
    return answer.status, answer.headers, data, (time.perf_counter() - started) * 1000


def fill(conn, body: bytes, answered: list) -> tuple:
    """Ask for decisions until one is refused (the pipe, 64 KiB, fills, then the backlog): the
    refusal's status, headers and error; the ids of the decisions answered go to `answered`."""
    for _ in range(3000):
        status, headers, data, _ = ask(conn, "POST", "/evaluate-one", body)
        if status != 200:
            return status, headers, json.loads(data)
        answered.append(json.loads(data)["decision_id"])
    raise AssertionError("the backlog never filled")


def decision_ids_logged(process) -> list[str]:
    return [json.loads(line)["decision_id"] for line in process.stderr_lines
            if line.startswith("{") and '"decision_id"' in line and '"input"' in line]


def test_a_service_whose_log_consumer_stops_reading_keeps_answering_and_logs_every_decision_it_made(
        fixture_policies):
    reading = threading.Event()  # cleared: once it is up, nobody reads the service's standard error
    env = {"REGELVERK_LOG_BACKLOG_LINES": "20", "REGELVERK_LOG_WAIT_SECONDS": "0.3"}
    body = json.dumps({"contact": chat("c2", "2025-03-05"), "history": [chat("c1", "2025-03-04")]}).encode()
    answered: list[str] = []  # the decision ids of the decisions answered
    with service_process("--policies", str(fixture_policies), env=env, reading=reading) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        status, headers, error = fill(conn, body, answered)
        assert (status, error["code"], headers.get("Retry-After")) == (503, "decision_log_backlog", "1")
        assert "log_backlog_lines" in error["error"]
        # the event loop is free: /health answers at once (and its access lines, more than
        # the access log's backlog holds, are dropped), readiness says why it is not ready
        for _ in range(30):
            status, _, data, ms = ask(conn, "GET", "/health")
            assert status == 200 and ms < 100, ms
        status, _, data, _ = ask(conn, "GET", "/health/ready")
        assert status == 503 and json.loads(data)["code"] == "decision_log_backlog"
        # a request the server itself logs a warning about (an upgrade it does not speak)
        upgrade = http.client.HTTPConnection(host, int(port), timeout=30)
        upgrade.request("GET", "/health", headers={"Connection": "Upgrade", "Upgrade": "h2c"})
        assert upgrade.getresponse().status == 200
        upgrade.close()
        for _ in range(3):
            status, _, data, ms = ask(conn, "GET", "/health")
            assert status == 200 and ms < 100, ms
        batch = "\n".join(json.dumps(chat(f"b{k}", "2025-03-06", patient="p9")) for k in range(3)).encode()
        conn.request("POST", "/evaluate", body=batch, headers={"Content-Type": "application/x-ndjson"})
        answer = conn.getresponse()
        assert answer.status == 503 and json.loads(answer.read())["code"] == "decision_log_backlog"
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=30)  # (that answer closed the connection)
        reading.set()  # the consumer reads again: the service decides again
        deadline = time.monotonic() + 30
        while ask(conn, "GET", "/health/ready")[0] != 200:
            assert time.monotonic() < deadline, "the backlog did not drain"
            time.sleep(0.05)
        status, _, data, _ = ask(conn, "POST", "/evaluate-one", body)
        assert status == 200
        answered.append(json.loads(data)["decision_id"])
        conn.close()
    # each decision answered, logged once, in order
    assert len(answered) > 20 and decision_ids_logged(process) == answered
    assert any("lines of regelverk.access were dropped" in line for line in process.stderr_lines)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_lines_still_waiting_at_sigterm_are_written_before_the_service_ends(fixture_policies, workers):
    reading = threading.Event()
    env = {"REGELVERK_LOG_BACKLOG_LINES": "50", "REGELVERK_LOG_WAIT_SECONDS": "0.2"}
    body = json.dumps({"contact": chat("c2", "2025-03-05"), "history": [chat("c1", "2025-03-04")]}).encode()
    answered: list[str] = []
    with service_process("--policies", str(fixture_policies), "--workers", workers, env=env,
                         reading=reading) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        assert fill(conn, body, answered)[0] == 503
        conn.close()
        process.send_signal(signal.SIGTERM)  # while 50 decisions' lines wait, and a pipe's worth
        time.sleep(0.5)
        reading.set()
        process.wait(60)
        process.pump.join(10)
    assert len(answered) > 50 and decision_ids_logged(process) == answered


def _fill_to_the_last_byte(pid: int) -> None:
    """Fill the pipe that is process `pid`'s standard error (nobody reads it meanwhile)."""
    pipe = os.open(f"/proc/{pid}/fd/2", os.O_WRONLY | os.O_NONBLOCK)
    try:
        for line in (b"-" * 4095 + b"\n", b"\n"):
            while True:
                try:
                    os.write(pipe, line)
                except BlockingIOError:
                    break
    finally:
        os.close(pipe)


def test_a_worker_that_dies_while_nobody_reads_the_logs_is_still_replaced(fixture_policies):
    """The supervisor starts a worker in place of a dead one before it writes that it did: the
    line waits on a full pipe, the new worker does not."""
    reading = threading.Event()
    with service_process("--policies", str(fixture_policies), "--workers", "2", reading=reading) as (url, process):
        _fill_to_the_last_byte(process.pid)
        victim, new = replace_a_worker(process.pid)
        # the new worker serves (it writes its own lines by a thread: they wait, it does not):
        # of the connections kept open, it comes to hold some. Which worker accepts one is the
        # kernel's choice (on a loaded machine one may take eight in a row): connections are
        # opened until the new worker holds one, up to 64.
        host, port = url.removeprefix("http://").split(":")
        conns = []
        while len(conns) < 64 and not (len(conns) >= 8 and connections_held(new, int(port)) > 0):
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conns.append(conn)
            status, _, _, ms = ask(conn, "GET", "/health")
            assert status == 200 and ms < 1000, ms
        assert connections_held(new, int(port)) > 0
        for conn in conns:
            conn.close()
        reading.set()  # read again: the supervisor's line comes (before the stop, which would give it up)
        deadline = time.monotonic() + 20
        while not any(f"(pid {victim}) ended" in line and "another started" in line for line in process.stderr_lines):
            assert time.monotonic() < deadline, "the supervisor's line never came"
            time.sleep(0.05)


def test_a_supervisor_held_up_by_its_log_line_still_stops(fixture_policies):
    # A worker died while nobody read: the supervisor waits on its line about it. SIGTERM:
    # the workers stop (giving up their lines after graceful_shutdown_seconds), and so does
    # the supervisor, the line given up, while the pipe is still full.
    reading = threading.Event()
    env = {"REGELVERK_GRACEFUL_SHUTDOWN_SECONDS": "1"}
    with service_process("--policies", str(fixture_policies), "--workers", "2", env=env,
                         reading=reading) as (url, process):
        _fill_to_the_last_byte(process.pid)
        replace_a_worker(process.pid)
        # its line waits on the pipe (the kernel's wait channel says so: pipe_write, or
        # pipe_wait on older kernels; where it says nothing, five seconds are given)
        until = time.monotonic() + 5
        while "pipe" not in Path(f"/proc/{process.pid}/wchan").read_text() and time.monotonic() < until:
            time.sleep(0.05)
        workers = workers_of(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(15) == 0
        finally:
            reading.set()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
