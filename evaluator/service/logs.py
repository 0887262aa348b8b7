"""The decision log and the access log: JSON lines through the standard logging machinery.

`regelverk.decisions`: one record per decision (decision id, time, provenance, outputs, status,
the input with the fields the `decision_log_mask` setting names masked). `regelverk.access`:
one record per request (method, route, status, latency, size; never a body, never a query
string, never a client's address). Each record's message is its JSON line; operators route
the two loggers where they want with a logging configuration (`log_config`).

In a serving worker the loggers hand their records to a LogWriter, whose threads write them:
the event loop never waits on a log's consumer.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from datetime import UTC, datetime

import orjson

decision_log = logging.getLogger("regelverk.decisions")
access_log = logging.getLogger("regelverk.access")
service_log = logging.getLogger("regelverk.service")
MASK = "***"


# What the decision log shows for an input it cannot write as JSON: a value nested deeper
# than orjson writes (about 250 levels; the reader takes up to 1024). The decision is logged.
UNLOGGABLE = "(not logged: nested too deep to write)"


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
    try:
        line = orjson.dumps(entry, default=str)
    except TypeError:  # (orjson's JSONEncodeError) an input nested deeper than orjson writes
        entry["input"] = UNLOGGABLE
        line = orjson.dumps(entry, default=str)
    _write(decision_log, line.decode(), "log_decision")


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
_TURN = 0.002  # seconds a log's thread lets lines gather between its turns (see _Lane._run)


class LogWriter:
    """Writes the decision, access and service logs (and the server's and asyncio's own lines)
    through the handlers their loggers had, each log in order by a thread of its own, so that a
    consumer that reads slowly or not at all (a full pipe, a stalled collector) holds up that
    thread, never the event loop: every request, /health among them, is still answered.
    (Writing at once where a stream polls writable was tried: a poll cannot promise a write of
    any length will not wait, nor that another process sharing the pipe does not fill it
    first; the threads cost no measurable requests/s.)

    Each log's records wait in a backlog of their own. The decision log's is full at `backlog`
    records: the service then makes no new decision (see room: /evaluate-one and /evaluate
    answer 503 decision_log_backlog, /health/ready too), and a decision once made always has
    its line queued before it is answered, never dropped. An access-log or server record that
    finds its backlog full is dropped (counted, and the count logged once there is room).
    Service lines are few and are never dropped. A slow access log does not hold up decisions
    or their log."""

    def __init__(self, backlog: int):
        self.backlog = backlog
        self._decisions = _Lane(decision_log, limit=None)
        self._access = _Lane(access_log, limit=backlog)
        self._service = _Lane(service_log, limit=None)  # (where the others report their drops)
        self._lanes = [self._decisions, self._access, *[_Lane(logging.getLogger(name), limit=backlog)
                                                        for name in SERVER_LOGGERS], self._service]
        self.stuck = False  # a close left lines unwritten (a thread waits on a consumer for ever)

    @property
    def dropped(self) -> int:
        """Access-log records dropped so far."""
        return self._access.dropped

    def install(self) -> LogWriter:
        """Take over the loggers' handlers (as configured by now) and start the threads."""
        for lane in self._lanes:
            lane.install()
        return self

    def close(self, timeout: float | None = None) -> bool:
        """Write what waits (for at most `timeout` seconds all told), stop the threads and give
        the loggers their handlers back; whether everything was written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        others = self._lanes[:-1]
        for group in (others, [self._service]):  # (the service lane last: the others report to it)
            for lane in group:  # (all told to stop first: they finish side by side)
                lane.stop()
            for lane in group:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not lane.close(left):
                    self.stuck = True
        return not self.stuck

    def room(self) -> bool:
        """Whether the decision log's backlog has room for another decision."""
        return self._decisions.pending < self.backlog


# The server's and the event loop's own loggers: few lines (an upgrade refused, a fault's
# traceback), written by a thread too, so that not even those wait on a stalled consumer.
SERVER_LOGGERS = ("uvicorn.error", "asyncio")


class _Lane:
    """One logger's backlog and the thread that writes it."""

    def __init__(self, logger: logging.Logger, limit: int | None):
        self.logger = logger
        self.limit = limit  # records waiting beyond which a new one is dropped (None: never)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.pending = 0  # records waiting or being written
        self.dropped = 0
        self.saved: tuple[list, bool] | None = None  # the logger's own handlers, propagate
        self.chain: list = []  # every handler its records reached
        self.thread: threading.Thread | None = None

    def install(self) -> None:
        logger = self.logger
        handlers, propagate = list(logger.handlers), logger.propagate
        self.saved = (handlers, propagate)
        self.chain, above = list(handlers), logger.parent if propagate else None
        while above is not None:  # (as Logger.callHandlers walks them)
            self.chain += above.handlers
            above = above.parent if above.propagate else None
        for handler in handlers:
            logger.removeHandler(handler)
        logger.addHandler(_Backlogged(self))
        logger.propagate = False
        self.thread = threading.Thread(target=self._run, name=f"{logger.name}-writer", daemon=True)
        self.thread.start()

    def put(self, record) -> None:
        if self.limit is not None and self.pending >= self.limit:
            self.dropped += 1
            return
        with self.lock:
            self.pending += 1
        self.queue.put(record)

    def stop(self) -> None:
        if self.thread is not None:
            self.queue.put(_STOP)

    def close(self, timeout: float | None) -> bool:
        if self.thread is None:
            return True
        self.thread.join(timeout)
        done = not self.thread.is_alive()
        self.thread = None
        handlers, propagate = self.saved
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
        for handler in handlers:
            self.logger.addHandler(handler)
        self.logger.propagate = propagate
        return done

    def _run(self) -> None:
        told = 0
        get, take = self.queue.get, self.queue.get_nowait
        while True:
            records = [get()]
            try:
                while True:
                    records.append(take())
            except queue.Empty:
                pass
            for record in records:
                if record is _STOP:
                    self._tell_dropped(told)
                    return
                self._write(record)  # (may wait as long as a consumer makes it)
                with self.lock:
                    self.pending -= 1
            if self.dropped != told and not self.pending:
                told = self._tell_dropped(told)
            time.sleep(_TURN)

    def _write(self, record) -> None:
        """As Logger.callHandlers: each handler the record reached, and where it reached none,
        the last resort (standard error, warnings and worse)."""
        if not self.chain:
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                last.handle(record)
            return
        for handler in self.chain:
            if record.levelno >= handler.level:
                handler.handle(record)

    def _tell_dropped(self, told: int) -> int:
        if self.dropped != told:
            service_log.warning("%d lines of %s were dropped: its backlog was full (setting log_backlog_lines); "
                                "no decision-log line is dropped", self.dropped - told, self.logger.name)
        return self.dropped


class _Backlogged(logging.Handler):
    """A logger's one handler while a LogWriter writes for it: into its lane's backlog."""

    def __init__(self, lane: _Lane):
        super().__init__()
        self.lane = lane

    def handle(self, record):  # (no lock, no filters of its own: the writer's handlers have theirs)
        self.lane.put(record)
        return True

    def emit(self, record):  # pragma: no cover - handle does it
        self.lane.put(record)
