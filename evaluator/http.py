"""The HTTP API, on the standard library's server: the same decisions as the CLI and Python API.

Every answer that is not a decision is JSON, `{"error": "…"}`, with the status that says why:
404 no such resource, 405 a method the resource does not take (with `Allow`), 411 no
Content-Length (a chunked body is not read), 400 a malformed request or a body shorter than its
Content-Length, 408 a client that stops sending, 413 a body over the limit.
"""

from __future__ import annotations

import json
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import orjson

from .api import Repository
from .contacts import read_json
from .errors import closest
from .privacy import echo

# A batch is decided in memory: its decisions take about ten times the bytes of its contacts.
# Larger batches go to `regelverk evaluate`, or over several requests (a patient's contacts in
# one request, as history is per batch).
MAX_BODY = 64 * 1024 * 1024
# Seconds a client may take between two reads of its request before it gets 408.
TIMEOUT = 60
ROUTES = {"/evaluate": "POST", "/evaluate-one": "POST", "/policies": "GET", "/health": "GET"}
_ONE_KEYS = ("contact", "history")


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: clients arriving together beyond that
    # had their connections reset.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that went away or stopped sending is its own business: no traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(repo: Repository, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    class Handler(BaseHTTPRequestHandler):
        server_version = "regelverk"
        timeout = TIMEOUT

        def log_message(self, *args):  # keep patient data out of server logs
            pass

        def _send(self, status: int, body: str | bytes, ctype: str = "application/json",
                  headers: dict | None = None) -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict | None = None) -> None:
            self._send(status, dumps({"error": message}) + "\n", headers=headers)

        def send_error(self, code, message=None, explain=None):
            """The standard library's own errors (a malformed request line, headers too long):
            JSON like every other error, not an HTML page."""
            self.close_connection = True
            try:
                self._error(code, message or HTTPStatus(code).phrase)
            except OSError:
                pass

        def _route(self) -> str | None:
            """The resource asked for, when this method may be used on it; else the error
            has been answered and None is returned."""
            path = urlsplit(self.path).path
            method = ROUTES.get(path)
            if method is None:
                self._error(404, f"no such resource: {path} (there are {', '.join(ROUTES)})")
                return None
            if self.command != method and not (self.command == "HEAD" and method == "GET"):
                allow = "GET, HEAD" if method == "GET" else method
                self._error(405, f"{path} takes {method}, not {self.command}", {"Allow": allow})
                return None
            return path

        def _body(self) -> bytes | None:
            """The request's body, read in full; None when it cannot be (answered already)."""
            if self.headers.get("Transfer-Encoding"):
                self._error(411, "a chunked body is not read: send the body with a Content-Length")
                return None
            given = self.headers.get_all("Content-Length") or []
            if not given:
                self._error(411, "send the body with a Content-Length")
                return None
            if len(set(given)) > 1 or not (text := given[0].strip()).isascii() or not text.isdigit():
                self._error(400, f"Content-Length must be one whole number of bytes, not {', '.join(given)}")
                return None
            length = int(text)
            if length > MAX_BODY:
                self._error(413, f"the body is {length:,} bytes; at most {MAX_BODY:,} are taken in one "
                                 "request (regelverk evaluate takes any size)")
                return None
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                self._error(408, f"the body did not arrive within {TIMEOUT} s")
                self.close_connection = True
                return None
            if len(body) < length:
                self._error(400, f"the body ended after {len(body):,} of its {length:,} bytes")
                self.close_connection = True
                return None
            return body

        def do_GET(self):  # noqa: N802 - the server's naming
            path = self._route()
            if path == "/health":
                self._send(200, "ok\n", "text/plain")
            elif path == "/policies":
                ps = repo.policy_set
                self._send(200, dumps([{"id": p.id, "versions": [
                    {"version": v.version, "valid_from": v.valid_from.isoformat(),
                     "valid_to": v.valid_to.isoformat() if v.valid_to else None} for v in p.versions]}
                    for p in ps.policies.values()]) + "\n")

        do_HEAD = do_GET  # noqa: N815

        def do_POST(self):  # noqa: N802
            path = self._route()
            if path is None:
                return
            body = self._body()
            if body is None:
                return
            if path == "/evaluate":
                # Streamed as they are written: no Content-Length, the connection closes at
                # the end (HTTP/1.0), and the decisions are held once, not three times.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
                self.end_headers()
                self.close_connection = True
                repo.write_ndjson(body, self.wfile)
            else:
                self._evaluate_one(body)

        def _evaluate_one(self, body: bytes) -> None:
            if body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as bad:
                self._error(400, f"the body is not UTF-8 text (byte {bad.start + 1})")
                return
            try:
                request = read_json(text)  # the same JSON reading as /evaluate
            except (ValueError, RecursionError) as exc:
                self._error(400, f"the body is not JSON: {exc}")
                return
            if not isinstance(request, dict) or "contact" not in request:
                self._error(400, 'send {"contact": {...}, "history": [...]}')
                return
            unknown = [k for k in request if k not in _ONE_KEYS]
            if unknown:
                near = closest(str(unknown[0]), _ONE_KEYS)
                self._error(400, f"unknown key {echo(str(unknown[0]))}" + (f" (did you mean '{near}'?)" if near else "")
                            + '; send {"contact": {...}, "history": [...]}')
                return
            history = request.get("history")
            if history is not None and not isinstance(history, list):
                self._error(400, "history must be a list of contacts")
                return
            self._send(200, orjson.dumps(repo.evaluate_one(request["contact"], history)) + b"\n")

        def _unsupported(self):
            if self._route() is not None:  # pragma: no cover - every route takes GET or POST
                self._error(405, f"{self.command} is not taken")

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _unsupported  # noqa: N815

    return _Server((host, port), Handler)
