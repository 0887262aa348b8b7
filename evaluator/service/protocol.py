"""uvicorn's httptools protocol with guards a hostile client needs: a bounded request head, a deadline for it, JSON errors.

httptools keeps every header line it is sent, and uvicorn starts no timer on a connection until
its first answer: a client could send headers for ever, or a byte of them every few seconds.
Here a request's head (request line and headers) must stay within max_header_bytes (else 431)
and arrive within header_timeout_seconds of its first byte or of the connection's start (else
408); a request line or header httptools cannot parse gets 400. Each answer is JSON with a
stable code, and the connection is closed after it.
"""

from __future__ import annotations

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import Code

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadTooLarge(Exception):
    pass


class CoalescingTransport:
    """A connection's transport whose small writes in one turn of the event loop go out in
    one send at the end of it. uvicorn writes an answer's head and its body apart, and each
    write is a system call at once (TCP_NODELAY is on); on loopback the receiving side's work
    is done in the sender's call, so that second call cost more than a tenth of a small
    request's time. A write over `small` bytes goes out at once, after what is waiting."""

    small = 64 * 1024

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._pending: list | None = None
        self._size = 0

    def write(self, data) -> None:
        pending = self._pending
        if pending is None:
            if len(data) > self.small:
                self._transport.write(data)
                return
            self._pending = [data]
            self._size = len(data)
            self._loop.call_soon(self._flush)
        elif self._size + len(data) > self.small:
            self._flush()
            self._transport.write(data)
        else:
            pending.append(data)
            self._size += len(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + (self._size if self._pending else 0)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name):  # everything else is the transport's own
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 64 * 1024
    header_timeout_seconds = 10.0
    shares = None  # a worker's server.ConnectionShares, told of each connection (None: one process)

    def connection_made(self, transport) -> None:
        if self.shares is not None:
            self.shares.opened()
        super().connection_made(CoalescingTransport(transport, self.loop))
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer = self.loop.call_later(self.header_timeout_seconds, self._head_timed_out)

    def connection_lost(self, exc) -> None:
        if self.shares is not None:
            self.shares.closed()
        self._stop_head_timer()
        super().connection_lost(exc)

    def _stop_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refuse(408, Code.HEADER_TIMEOUT, f"the request's head did not arrive within "
                         f"{self.header_timeout_seconds:g} s (setting header_timeout_seconds)")

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_seconds, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():  # (no WebSocket route: uvicorn answers it)
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._head_too_large:
                self._refuse(431, Code.HEADER_TOO_LARGE, f"the request's line and headers are over "
                             f"{self.max_header_bytes:,} bytes (setting max_header_bytes)")
            else:
                self._refuse(400, Code.MALFORMED_REQUEST, "the request is not HTTP/1.1 this server can read")

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._stop_head_timer()
        body = orjson.dumps({"error": message, "code": code}) + b"\n"
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
                             b"content-length: %d\r\n\r\n%s" % (status, _REASONS[status], len(body), body))
        self.transport.close()


def guarded_protocol(max_header_bytes: int, header_timeout_seconds: float, shares=None) -> type:
    return type("RegelverkHttpProtocol", (GuardedHttpToolsProtocol,),
                {"max_header_bytes": max_header_bytes, "header_timeout_seconds": header_timeout_seconds,
                 "shares": shares})
