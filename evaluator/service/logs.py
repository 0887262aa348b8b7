"""The decision log and the access log: JSON lines through the standard logging machinery.

`regelverk.decisions`: one record per decision (decision id, time, provenance, outputs, status,
the input with the fields the `decision_log_mask` setting names masked). `regelverk.access`:
one record per request (method, route, status, latency, size; never a body, never a query
string, never a client's address). Each record's message is its JSON line; operators route
the two loggers where they want with a logging configuration (`log_config`).
"""

from __future__ import annotations

import logging
import sys
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
