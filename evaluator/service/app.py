"""The routes of the decision service (Starlette): the same decisions as the CLI and Python API.

Every answer that is not a decision is JSON `{"error": "…", "code": "…"}` with the HTTP status
that says why; `code` is stable (docs/service.md lists them), `error` is for a person.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import time
import uuid
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import Code, closest
from ..loading.privacy import echo
from ..running.ndjson import decision_line, read_json
from .logs import AccessLog, LogWriter, access_log, decision_log, log_access, log_decision
from .openapi import DOCS_PAGE, openapi_document
from .readers import READERS, LimitExceeded, Limits, UnreadableBody, reader_for
from .settings import ServiceSettings
from .state import PolicyHolder, ReloadRefused, Served

log = logging.getLogger("regelverk.service")
_ONE_KEYS = ("contact", "history")
_ONE_PATH = "/evaluate-one"
# An /evaluate-one body up to this size is decided on the event loop (a few hundred µs);
# a larger one (a long history) in a thread, so the other connections are not held up.
_INLINE_BYTES = 64 * 1024
_CHUNK_LINES = 2000


def error_body(code: str, message: str, **extra) -> bytes:
    return orjson.dumps({"error": message, "code": code, **extra}) + b"\n"


def error(status: int, code: str, message: str, headers: dict | None = None, **extra) -> Response:
    return Response(error_body(code, message, **extra), status, headers=headers, media_type="application/json")


def _json(value, status: int = 200) -> Response:
    return Response(orjson.dumps(value) + b"\n", status, media_type="application/json")


async def read_body(scope: dict, receive, settings: ServiceSettings) -> bytes:
    """The request's body, whether sent with a Content-Length or chunked, read within the
    limits from the ASGI `receive`; raises LimitExceeded when it goes over one, and
    ClientDisconnect when the client goes away first."""
    coded = [value.decode("latin-1").strip() for name, value in scope["headers"] if name == b"content-encoding"]
    if any(c.lower() not in ("", "identity") for c in coded):
        raise LimitExceeded(415, Code.UNSUPPORTED_MEDIA_TYPE, f"a body sent with Content-Encoding {', '.join(coded)} "
                            "is not read: send it as it is (no compression)")
    given = [value.decode("latin-1") for name, value in scope["headers"] if name == b"content-length"]
    if given:
        if len(set(given)) > 1 or not (text := given[0].strip()).isascii() or not text.isdigit():
            raise LimitExceeded(400, Code.BAD_CONTENT_LENGTH,
                                f"Content-Length must be one whole number of bytes, not {', '.join(given)}")
        if int(text) > settings.max_body_bytes:
            raise LimitExceeded(413, Code.BODY_TOO_LARGE, f"the body is {int(text):,} bytes; at most "
                                f"{settings.max_body_bytes:,} are taken in one request (setting max_body_bytes; "
                                "regelverk evaluate takes any size)")
    parts: list[bytes] = []
    size = 0
    try:
        # One deadline for the whole body (one timer, not a task per chunk as wait_for makes).
        async with asyncio.timeout(settings.body_timeout_seconds):
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "http.request":
                    chunk = message.get("body", b"")
                    if chunk:
                        parts.append(chunk)
                        size += len(chunk)
                        if size > settings.max_body_bytes:
                            raise LimitExceeded(413, Code.BODY_TOO_LARGE, f"the body is over "
                                                f"{settings.max_body_bytes:,} bytes, the most taken in one "
                                                "request (setting max_body_bytes; regelverk evaluate takes any size)")
                    if not message.get("more_body", False):
                        break
                elif kind == "http.disconnect":
                    raise ClientDisconnect()
    except TimeoutError:
        raise LimitExceeded(408, Code.BODY_TIMEOUT, f"the body did not arrive within "
                            f"{settings.body_timeout_seconds:g} s (setting body_timeout_seconds)") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _served_above(request: Request) -> Response:
    raise AssertionError("POST /evaluate-one is answered before the router")  # pragma: no cover


def create_app(holder: PolicyHolder, settings: ServiceSettings, writer: LogWriter | None = None):
    """The ASGI application serving `holder`'s policy set (wrapped in the access log).
    `writer`: the thread writing the logs, whose backlog bounds the decisions made ahead of
    the decision log (see logs.LogWriter); without one they are written as they come."""
    limits = Limits(settings.max_body_bytes, settings.max_line_bytes)
    batches = asyncio.Semaphore(settings.max_concurrent_batches)
    mask = settings.decision_log_mask
    state = {"ready": False}

    def logging_decisions() -> bool:
        return settings.decision_log and decision_log.isEnabledFor(logging.INFO)

    def log_behind() -> bool:
        """Whether the decision log's backlog is full (no decision is made meanwhile)."""
        return writer is not None and logging_decisions() and not writer.room()

    async def room_in_log() -> bool:
        """Wait for room in the decision log's backlog (at most log_wait_seconds, looking every
        10 ms: a full backlog is rare, and this holds no thread); whether there is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.log_wait_seconds
        while log_behind():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def log_backlog_message() -> str:
        return (f"the decision log is {settings.log_backlog_lines:,} lines behind its consumer and did not catch "
                f"up within {settings.log_wait_seconds:g} s, so no decision is made (no decision goes out "
                "without its log line); try again shortly (settings log_backlog_lines, log_wait_seconds)")

    def decide_batch(served: Served, reader, body: bytes) -> list[bytes]:
        """Read and decide a batch (in a thread): its decision lines, each with its id."""
        records, errors = reader(body, limits, served.repo.policy_set.fields)
        del body
        batch = uuid.uuid4().hex
        engine = served.repo.engine
        if logging_decisions():
            given = [dict(r) if isinstance(r, dict) else r for r in records]  # (typed in place below)
            decisions, _ = engine.evaluate(records, line_errors=errors, own=True)
            lines = []
            for i, decision in enumerate(decisions, start=1):
                decision["decision_id"] = f"{batch}-{i}"
                log_decision(decision, given[i - 1], mask)
                lines.append(decision_line(decision))
            return lines
        lines, _ = engine.evaluate(records, line_errors=errors, own=True,
                                   emit=decision_line)
        # Each line ends `}` and a line feed: the id goes in before the brace.
        prefix = b',"decision_id":"' + batch.encode() + b"-"
        return [line[:-2] + prefix + str(i).encode() + b'"}\n' for i, line in enumerate(lines, start=1)]

    async def evaluate(request: Request) -> Response:
        reader = reader_for(request.headers.get("content-type"))
        if reader is None:
            return error(415, Code.UNSUPPORTED_MEDIA_TYPE, f"a batch is sent as one of {', '.join(sorted(READERS))}, "
                         f"not {request.headers.get('content-type')}", {"Connection": "close"})
        if not await room_in_log():  # (before taking a batch slot, which others may want)
            return error(503, Code.DECISION_LOG_BACKLOG, log_backlog_message(),
                         {"Retry-After": "1", "Connection": "close"})  # (its body is not read)
        try:
            await asyncio.wait_for(batches.acquire(), settings.batch_wait_seconds)
        except TimeoutError:
            return error(503, Code.TOO_MANY_BATCHES, f"{settings.max_concurrent_batches} batches are being decided "
                         f"in this worker and none ended within {settings.batch_wait_seconds:g} s; try again "
                         "shortly (settings max_concurrent_batches, batch_wait_seconds)",
                         {"Retry-After": "1", "Connection": "close"})  # (its body is not read)
        try:
            body = await read_body(request.scope, request.receive, settings)
            try:
                lines = await run_in_threadpool(decide_batch, holder.current, reader, body)
            except UnreadableBody as exc:
                return error(400, Code.UNREADABLE_BODY, str(exc))
            del body
        finally:
            batches.release()

        def chunks():
            for start in range(0, len(lines), _CHUNK_LINES):
                yield b"".join(lines[start:start + _CHUNK_LINES])
        return StreamingResponse(chunks(), media_type="application/x-ndjson")

    def decide_one(served: Served, body: bytes) -> tuple[int, bytes]:
        """The status and JSON answer to an /evaluate-one body."""
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as bad:
            return 400, error_body(Code.NOT_UTF8, f"the body is not UTF-8 text (byte {bad.start + 1})")
        try:
            request = read_json(text)  # the same JSON reading as /evaluate
        except (ValueError, RecursionError) as exc:
            return 400, error_body(Code.NOT_JSON, f"the body is not JSON: {exc}")
        if not isinstance(request, dict) or "contact" not in request:
            return 400, error_body(Code.BAD_REQUEST, 'send {"contact": {...}, "history": [...]}')
        unknown = [k for k in request if k not in _ONE_KEYS]
        if unknown:
            near = closest(str(unknown[0]), _ONE_KEYS)
            return 400, error_body(Code.UNKNOWN_KEY, f"unknown key {echo(unknown[0])}"
                                   + (f" (did you mean '{near}'?)" if near else "")
                                   + '; send {"contact": {...}, "history": [...]}')
        history = request.get("history")
        if history is not None and not isinstance(history, list):
            return 400, error_body(Code.BAD_HISTORY, "history must be a list of contacts")
        contact = request["contact"]
        logging_now = logging_decisions()
        given = dict(contact) if logging_now and isinstance(contact, dict) else contact  # (typed in place)
        decision = served.repo.evaluate_one(contact, history, own=True)  # (parsed for this request)
        decision["decision_id"] = uuid.uuid4().hex
        if logging_now:
            log_decision(decision, given, mask)
        return 200, orjson.dumps(decision, option=orjson.OPT_APPEND_NEWLINE)

    async def evaluate_one(scope, receive, send) -> None:
        """POST /evaluate-one as a bare ASGI handler: the route most requests take, so it skips
        the framework's request and response objects and middleware (a third of a request's
        time). Its answers are those the framework's handlers give: the same statuses, codes,
        headers and access-log line."""
        started = time.perf_counter()
        close = crashed = retry = None
        try:
            body = await read_body(scope, receive, settings)
            served = holder.current
            if log_behind() and not await room_in_log():
                status, answer, retry = 503, error_body(Code.DECISION_LOG_BACKLOG, log_backlog_message()), True
            elif len(body) <= _INLINE_BYTES:
                status, answer = decide_one(served, body)
            else:
                status, answer = await run_in_threadpool(decide_one, served, body)
        except LimitExceeded as exc:
            status, answer = exc.status, error_body(exc.code, exc.message)
            close = exc.closes
        except ClientDisconnect:
            status, answer = 400, error_body(Code.CLIENT_DISCONNECTED, "the client went away before its body arrived")
        except Exception as exc:  # as on_crash and the framework's error middleware do
            log.error("internal error on %s %s: %s", "POST", _ONE_PATH, type(exc).__name__)
            status, answer, crashed = 500, error_body(Code.INTERNAL_ERROR, "the service failed on this request; "
                                                      "it is logged"), exc
        headers = [(b"content-length", b"%d" % len(answer)), (b"content-type", b"application/json")]
        if close:
            headers.insert(0, (b"connection", b"close"))
        if retry:
            headers.append((b"retry-after", b"1"))
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
        finally:
            if access_log.isEnabledFor(logging.INFO):
                log_access("POST", _ONE_PATH, status, started, len(answer))
        if crashed is not None:
            raise crashed  # (the server logs it, as it does an error the framework re-raises)

    def policy_list(served: Served) -> list:
        return [{"id": p.id, "versions": [
            {"version": v.version, "valid_from": v.valid_from.isoformat(),
             "valid_to": v.valid_to.isoformat() if v.valid_to else None, "content_hash": v.content_hash}
            for v in p.versions]} for p in served.repo.policy_set.policies.values()]

    async def policies(request: Request) -> Response:
        return _json(policy_list(holder.current))

    async def policy_set(request: Request) -> Response:
        served = holder.current
        return _json({"provenance": served.provenance, "policies": policy_list(served)})

    async def health(request: Request) -> Response:
        return Response(b"ok\n", media_type="text/plain")

    async def live(request: Request) -> Response:
        return _json({"status": "live"})

    async def ready(request: Request) -> Response:
        if not state["ready"]:
            return error(503, Code.NOT_READY, "the service is starting or shutting down")
        if log_behind():
            return error(503, Code.DECISION_LOG_BACKLOG, f"the decision log is {settings.log_backlog_lines:,} "
                         "lines behind its consumer: no decision is made until it catches up")
        return _json({"status": "ready", "policy_set_hash": holder.current.policy_set_hash})

    async def reload(request: Request) -> Response:
        if settings.admin_token is None:
            return error(403, Code.ADMIN_DISABLED, "reload by request is off: set admin_token (or send SIGHUP)")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.admin_token.encode()):
            return error(401, Code.UNAUTHORIZED, "send Authorization: Bearer <admin_token>",
                         {"WWW-Authenticate": 'Bearer realm="regelverk admin"'})
        before = holder.current.policy_set_hash
        try:
            served = await holder.reload()
        except ReloadRefused as refused:
            return error(422, Code.POLICY_SET_INVALID, "the new policy set does not load; the old one is still "
                         "served", problems=refused.problems, policy_set_hash=before)
        supervisor = os.environ.get("REGELVERK_SUPERVISOR_PID")
        if supervisor and supervisor.isdigit():  # the other workers reload too
            os.kill(int(supervisor), signal.SIGHUP)
        return _json({"policy_set_hash": served.policy_set_hash, "previous": before})

    documents: dict = {}  # by policy set: a reload may bring other declared facts

    async def openapi(request: Request) -> Response:
        served = holder.current
        document = documents.get(served.policy_set_hash)
        if document is None:
            documents.clear()
            document = documents[served.policy_set_hash] = orjson.dumps(
                openapi_document(served.repo.policy_set))
        return Response(document, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_PAGE)

    async def on_limit(request: Request, exc: LimitExceeded) -> Response:
        close = {"Connection": "close"} if exc.closes else None
        return error(exc.status, exc.code, exc.message, close)

    async def on_http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            # (the path is not repeated: a client may put anything in it, a personnummer too)
            return error(404, Code.NOT_FOUND, f"no such route; there are {', '.join(r.path for r in routes)}")
        if exc.status_code == 405:
            allow = ", ".join(sorted(m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()))
            return error(405, Code.METHOD_NOT_ALLOWED, f"{request.url.path} takes {allow}, not {request.method}",
                         {"Allow": allow})
        return error(exc.status_code, Code.HTTP_ERROR, str(exc.detail))

    async def on_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        return error(400, Code.CLIENT_DISCONNECTED, "the client went away before its body arrived")

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error(500, Code.INTERNAL_ERROR, "the service failed on this request; it is logged")

    @asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()

        def on_sighup():
            async def again():
                try:
                    await holder.reload()
                except ReloadRefused:
                    pass  # logged; the old set is served
            loop.create_task(again())
        try:
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread (tests)
            pass
        else:
            if holder.early_reloads:  # asked for while this worker was starting: done now
                holder.early_reloads.clear()
                on_sighup()
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            # Here, after the requests in flight are answered: the server re-raises SIGTERM
            # when it returns, which ends a worker before any code after it runs.
            if writer is not None:
                await asyncio.to_thread(writer.close, settings.graceful_shutdown_seconds)

    routes = [
        Route("/evaluate", evaluate, methods=["POST"]),
        Route(_ONE_PATH, _served_above, methods=["POST"]),  # (listed for 404 and 405 answers)
        Route("/policies", policies, methods=["GET"]),
        Route("/policy-set", policy_set, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/admin/reload", reload, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        LimitExceeded: on_limit, HTTPException: on_http, ClientDisconnect: on_disconnect, Exception: on_crash})
    # A path with a slash too many is no route (404), not a redirect to one built from the
    # client's Host header.
    app.router.redirect_slashes = False
    app.state.holder = holder
    app.state.ready = state
    rest = AccessLog(app) if settings.access_log else app

    async def service(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == _ONE_PATH and scope["method"] == "POST":
            await evaluate_one(scope, receive, send)
        else:
            await rest(scope, receive, send)
    return service
