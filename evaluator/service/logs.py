"""The decision log and the access log: JSON lines through the standard logging machinery.

`regelverk.decisions`: one record per decision (decision id, time, provenance, outputs, status,
the input with the fields the `decision_log_mask` setting names masked). `regelverk.access`:
one record per request (method, route, status, latency, size; never a body, never a query
string, never a client's address). Each record's message is its JSON line; operators route
the two loggers where they want with a logging configuration (`log_config`).

In a serving worker both loggers hand their records to a LogWriter, which writes them at once
where that cannot wait and otherwise through a thread of its own: the event loop never waits
on a log's consumer.
"""

from __future__ import annotations

import logging
import queue
import select
import sys
import threading
import time
from datetime import UTC, datetime

import orjson

decision_log = logging.getLogger("regelverk.decisions")
access_log = logging.getLogger("regelverk.access")
MASK = "***"


def masked(record, fields: tuple[str, ...], decision: dict):
    """The input as the decision log shows it: masked fields replaced by ***, and a patient
    field the check refused (a personnummer, contract §1) masked whatever the setting."""
    if not isinstance(record, dict):
        return None  # a line that was no JSON object: its text is not logged
    hide = set(fields)
    if any(e.get("field") == "patient" for e in decision.get("errors") or ()):
        hide.add("patient")
    return {k: (MASK if k in hide and v is not None else v) for k, v in record.items()}


def _write(logger: logging.Logger, line: str, function: str) -> None:
    """Hand one INFO record holding `line` to `logger`'s handlers. Built here rather than by
    logger.info, which looks for its caller by walking the stack (a tenth of a decision's
    time): the record names this module and the function that wrote it instead."""
    logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, line, None, None, function))


def log_decision(decision: dict, record, mask: tuple[str, ...]) -> None:
    """Write one decision's log line (only when the decisions logger is on for INFO)."""
    entry = {"decision_id": decision.get("decision_id"),
             "time": datetime.now(UTC).isoformat(timespec="microseconds"),
             "contact": decision.get("contact"), "status": decision.get("status"),
             "provenance": decision.get("provenance"), "policies": decision.get("policies"),
             "outputs": decision.get("outputs"), "input": masked(record, mask, decision)}
    _write(decision_log, orjson.dumps(entry, default=str).decode(), "log_decision")


def log_access(method: str | None, route: str, status: int, started: float, size: int) -> None:
    """Write one request's access-log line; `started` is its time.perf_counter() at arrival."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "method": method,
             "route": route, "status": status,
             "latency_ms": round((time.perf_counter() - started) * 1000, 3), "bytes": size}
    _write(access_log, orjson.dumps(entry).decode(), "log_access")


class AccessLog:
    """ASGI middleware: one access-log line per HTTP request, written when its answer ends."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        seen = {"status": None, "bytes": 0}

        async def sending(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            # the route's template, never the raw path (which a client may fill with anything)
            log_access(scope.get("method"), getattr(route, "path", None) or "(no route)",
                       seen["status"] or 500, start, seen["bytes"])


def configure_logging(settings) -> None:
    """Both logs to standard error as bare JSON lines, unless a logging configuration file is
    given (then it decides); a log switched off by its setting is silenced."""
    if settings.log_config is None:
        for logger in (decision_log, access_log, logging.getLogger("regelverk.service")):
            if not logger.handlers:
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("%(message)s"))
                logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
    decision_log.disabled = not settings.decision_log
    access_log.disabled = not settings.access_log


_STOP = object()
# A line this long or shorter is written at once where every handler's stream has room: a pipe
# with room takes a write of up to PIPE_BUF (4096) bytes whole (the margin is the format's).
_DIRECT_MAX = 3584


class LogWriter:
    """Writes the decision and access logs' records through the handlers their loggers had, so
    that a consumer that reads slowly or not at all (a full pipe, a stalled collector) never
    holds up the event loop: every request, /health among them, is still answered.

    A record is written at once, by the caller, when nothing waits before it, it is short, and
    every handler it goes to writes to a stream (standard error, a file) that has room now
    (a poll that does not wait). Otherwise it joins a backlog that a thread of its own writes,
    in order, waiting as long as a consumer makes it. So the thread costs nothing while the
    consumers keep up; a handler that is no such stream (a socket or syslog handler, a
    collector's own) always goes through the thread.

    While the backlog holds `backlog` records or more it is full: an access-log record is then
    dropped (counted, and the count logged on regelverk.service once there is room), and the
    service makes no new decision (see room and wait_for_room: /evaluate-one and /evaluate
    answer 503 decision_log_backlog, /health/ready too). A decision once made always has its
    line written: a decision-log record is never dropped."""

    def __init__(self, backlog: int, loggers=(decision_log, access_log)):
        self.backlog = backlog
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders writing at once against the backlog
        self._pending = 0  # records in the backlog or being written by the thread
        self._room = threading.Condition()
        self._waiting = 0
        self.dropped = 0
        self._loggers = loggers
        self._saved: dict[str, tuple[list, bool]] = {}  # logger name -> (its handlers, propagate)
        self._chains: dict[str, list] = {}  # logger name -> every handler its records reach
        self._pollers: dict = {}  # logger name -> a poll of its handlers' streams, or None
        self._thread: threading.Thread | None = None

    def install(self) -> LogWriter:
        """Take over the loggers' handlers (as configured by now) and start the thread."""
        for logger in self._loggers:
            handlers, propagate = list(logger.handlers), logger.propagate
            self._saved[logger.name] = (handlers, propagate)
            chain, above = list(handlers), logger.parent if propagate else None
            while above is not None:
                chain += above.handlers
                above = above.parent if above.propagate else None
            self._chains[logger.name] = chain
            self._pollers[logger.name] = _poller_of(chain)
            for handler in handlers:
                logger.removeHandler(handler)
            logger.addHandler(_Backlogged(self))
            logger.propagate = False
        self._thread = threading.Thread(target=self._run, name="regelverk-log-writer", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Write what waits (for at most `timeout` seconds), stop the thread and give the
        loggers their handlers back."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        for logger in self._loggers:
            handlers, propagate = self._saved.pop(logger.name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate

    def room(self) -> bool:
        """Whether the backlog has room for another decision."""
        return self._pending < self.backlog

    def wait_for_room(self, timeout: float) -> bool:
        """Wait (in a thread, never on the event loop) until the backlog has room, for at most
        `timeout` seconds; whether it has."""
        deadline = time.monotonic() + timeout
        with self._room:
            self._waiting += 1
            try:
                while not self.room():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._room.wait(min(left, 0.1))
            finally:
                self._waiting -= 1
        return True

    def put(self, record: logging.LogRecord) -> None:
        with self._lock:
            if not self._pending and self._ready(record):
                self._emit(record)  # (each stream has room: no write waits)
                return
            if record.name == access_log.name and self._pending >= self.backlog:
                self.dropped += 1
                return
            self._pending += 1
            self._queue.put(record)

    def _ready(self, record: logging.LogRecord) -> bool:
        """Whether every stream the record goes to has room for it now."""
        poller = self._pollers[record.name]
        if poller is None or not isinstance(record.msg, str) or len(record.msg) > _DIRECT_MAX:
            return False
        poll, count = poller
        ready = poll.poll(0)
        return len(ready) == count and all(events & select.POLLOUT for _, events in ready)

    def _run(self) -> None:
        told = 0
        while True:
            record = self._queue.get()
            if record is _STOP:
                return
            self._emit(record)  # (may wait as long as a consumer makes it)
            with self._lock:
                self._pending -= 1
            if self._waiting:
                with self._room:
                    self._room.notify_all()
            if self.dropped != told and self.room():
                count, told = self.dropped - told, self.dropped
                logging.getLogger("regelverk.service").warning(
                    "%d access-log lines were dropped: the log backlog was full (setting log_backlog_lines); "
                    "no decision-log line is dropped", count)

    def _emit(self, record: logging.LogRecord) -> None:
        """Hand the record to the handlers its logger had, and on up as it propagated (as
        Logger.callHandlers does)."""
        for handler in self._chains[record.name]:
            if record.levelno >= handler.level:
                handler.handle(record)


def _poller_of(handlers: list):
    """(a poll of the handlers' streams for room to write, how many), or None where some
    handler is not a stream with a file descriptor (it is then always written by the thread)."""
    fds = set()
    for handler in handlers:
        stream = getattr(handler, "stream", None) if isinstance(handler, logging.StreamHandler) else None
        try:
            fds.add(stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None
    if not fds:
        return None
    poll = select.poll()
    for fd in fds:
        poll.register(fd, select.POLLOUT)
    return poll, len(fds)


class _Backlogged(logging.Handler):
    """The loggers' one handler while a LogWriter writes for them."""

    def __init__(self, writer: LogWriter):
        super().__init__()
        self.writer = writer

    def handle(self, record):  # (no lock, no filters of its own: the writer's handlers have theirs)
        self.writer.put(record)
        return True

    def emit(self, record):  # pragma: no cover - handle does it
        self.writer.put(record)
