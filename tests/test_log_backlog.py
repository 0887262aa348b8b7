"""The logs are written by a thread of their own: a consumer that stops reading holds up that
thread, never the event loop; no decision-log line is dropped, and no decision is made while
the backlog is full."""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time

import pytest
from _service import service_process
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
        for k in range(6):  # the first is taken by the thread (and held); five wait
            record(decision_log, f"d{k}")
        for k in range(3):  # the backlog is full: access lines are dropped, and counted
            record(access_log, f"a{k}")
        record(decision_log, "d6")  # a decision once made is always kept
        assert time.perf_counter() - started < 0.5  # nothing above waited on the consumer
        assert handler.seen == [] and not writer.room() and writer.dropped == 3
        assert writer.wait_for_room(0.2) is False
        waited = threading.Thread(target=lambda: results.append(writer.wait_for_room(10)))
        results: list = []
        waited.start()
        handler.go.set()  # the consumer reads again
        waited.join(10)
        assert results == [True]
    finally:
        writer.close(10)
    assert handler.seen == [("regelverk.decisions", f"d{k}") for k in range(7)]
    assert writer.dropped == 3 and handler.threads == {"regelverk-log-writer"}
    assert any("3 access-log lines were dropped" in message for _, message in service.seen)
    # closed: the loggers have their own handlers back, written to as the caller writes
    assert (decision_log.handlers, access_log.handlers) == before
    record(access_log, "after")
    assert handler.seen[-1] == ("regelverk.access", "after") and writer.dropped == 3


class Noting(logging.StreamHandler):
    """A stream handler that notes which thread wrote each record."""

    def __init__(self, stream):
        super().__init__(stream)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.by: list[str] = []

    def emit(self, record):
        super().emit(record)
        self.by.append(threading.current_thread().name)


def test_records_are_written_at_once_while_the_pipe_has_room_and_by_the_thread_after_it_fills(held):
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    piped = Noting(stream)
    decision_log.handlers[:] = [piped]
    writer = LogWriter(backlog=3).install()
    lines = [f"{k:05d} " + "x" * 994 for k in range(300)]  # 300 kB: several times what a pipe holds
    logged = 0
    try:
        started = time.perf_counter()
        while writer.room():
            record(decision_log, lines[logged])
            logged += 1
        assert time.perf_counter() - started < 2  # no write waited for the reader
        got = b""
        while got.count(b"\n") < logged:  # the reader reads again: the thread writes the rest
            got += os.read(read_end, 65536)
    finally:
        writer.close(10)
        stream.close()
        os.close(read_end)
    assert got.decode().splitlines() == lines[:logged]  # every line, in order, once
    me = threading.current_thread().name
    # written by the caller while the pipe had room; the last ones (3 in the backlog, one that
    # did not fit) by the thread
    first_late = piped.by.index("regelverk-log-writer")
    assert first_late > 10 and set(piped.by[:first_late]) == {me}
    assert set(piped.by[first_late:]) == {"regelverk-log-writer"} and len(piped.by) - first_late <= 4


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
    assert handler.seen == [("regelverk.decisions", "d"), ("regelverk.access", "a")]
    assert above.seen == [("regelverk.decisions", "d")]
    assert decision_log.propagate is True


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None):
    started = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    answer = conn.getresponse()
    data = answer.read()
    return answer.status, answer.headers, data, (time.perf_counter() - started) * 1000


def test_a_service_whose_log_consumer_stops_reading_keeps_answering_and_logs_every_decision_it_made(
        fixture_policies):
    reading = threading.Event()  # cleared: once it is up, nobody reads the service's standard error
    env = {"REGELVERK_LOG_BACKLOG_LINES": "20", "REGELVERK_LOG_WAIT_SECONDS": "0.3"}
    body = json.dumps({"contact": chat("c2", "2025-03-05"), "history": [chat("c1", "2025-03-04")]}).encode()
    answered: list[str] = []  # the decision ids of the decisions answered
    with service_process("--policies", str(fixture_policies), env=env, reading=reading) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        refused = None
        for _ in range(2000):  # the pipe (64 KiB) fills, then the backlog
            status, headers, data, _ = ask(conn, "POST", "/evaluate-one", body)
            if status != 200:
                refused = status, headers, json.loads(data)
                break
            answered.append(json.loads(data)["decision_id"])
        assert refused is not None, "the backlog never filled"
        status, headers, error = refused
        assert (status, error["code"], headers.get("Retry-After")) == (503, "decision_log_backlog", "1")
        assert "log_backlog_lines" in error["error"]
        # the event loop is free: /health answers at once, readiness says why it is not ready
        for _ in range(5):
            status, _, data, ms = ask(conn, "GET", "/health")
            assert status == 200 and ms < 100, ms
        status, _, data, _ = ask(conn, "GET", "/health/ready")
        assert status == 503 and json.loads(data)["code"] == "decision_log_backlog"
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
    logged = [json.loads(line)["decision_id"] for line in process.stderr_lines
              if line.startswith("{") and '"decision_id"' in line and '"input"' in line]
    assert len(answered) > 20 and logged == answered  # each decision answered, logged once, in order
    assert any("access-log lines were dropped" in line for line in process.stderr_lines)
