"""The HTTP API, on the standard library's server: the same decisions as the CLI and Python API."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from .api import Repository, split_ndjson
from .contacts import read_json

MAX_BODY = 512 * 1024 * 1024


def make_server(repo: Repository, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    class Handler(BaseHTTPRequestHandler):
        server_version = "regelverk"

        def log_message(self, *args):  # keep patient data out of server logs
            pass

        def _send(self, status: int, body: str | bytes, ctype: str = "application/json") -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, dumps({"error": message}) + "\n")

        def _body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._error(413 if length > MAX_BODY else 400, "a body with a valid Content-Length is needed")
                return None
            return self.rfile.read(length)

        def do_GET(self):  # noqa: N802 - the server's naming
            if self.path == "/health":
                self._send(200, "ok\n", "text/plain")
            elif self.path == "/policies":
                ps = repo.policy_set
                self._send(200, dumps([{"id": p.id, "versions": [
                    {"version": v.version, "valid_from": v.valid_from.isoformat(),
                     "valid_to": v.valid_to.isoformat() if v.valid_to else None} for v in p.versions]}
                    for p in ps.policies.values()]) + "\n")
            else:
                self._error(404, f"no such resource: {self.path}")

        def do_POST(self):  # noqa: N802
            body = self._body()
            if body is None:
                return
            if self.path == "/evaluate":
                lines = repo.evaluate_to_ndjson(split_ndjson(body))
                self._send(200, "".join(line + "\n" for line in lines), "application/x-ndjson")
            elif self.path == "/evaluate-one":
                if body.startswith(b"\xef\xbb\xbf"):
                    body = body[3:]
                try:
                    request = read_json(body)  # the same JSON reading as /evaluate
                except (ValueError, RecursionError) as exc:
                    self._error(400, f"the body is not JSON: {exc}")
                    return
                if not isinstance(request, dict) or "contact" not in request:
                    self._error(400, 'send {"contact": {...}, "history": [...]}')
                    return
                history = request.get("history") or []
                if not isinstance(history, list):
                    self._error(400, "history must be a list of contacts")
                    return
                self._send(200, orjson.dumps(repo.evaluate_one(request["contact"], history)) + b"\n")
            else:
                self._error(404, f"no such resource: {self.path}")

    return ThreadingHTTPServer((host, port), Handler)
