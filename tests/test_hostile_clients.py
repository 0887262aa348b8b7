"""Hostile clients leave /health answering within 100 ms (loopback; the service in a process of its own)."""

from __future__ import annotations

import json
import re
import resource
import socket
import threading
import time

import pytest
from _service import service_process

LIMIT_MS = 100


@pytest.fixture(scope="module")
def service(fixture_policies):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # 10,000 idle connections take a descriptor each, here and in the service (which inherits this)
    want = 25_000
    try:  # root (CI) may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, want)), hard))
    env = {"REGELVERK_HEADER_TIMEOUT_SECONDS": "3", "REGELVERK_BODY_TIMEOUT_SECONDS": "3",
           "REGELVERK_BATCH_WAIT_SECONDS": "1",
           "REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}
    try:
        with service_process("--policies", str(fixture_policies), env=env) as (url, process):
            host, port = url.removeprefix("http://").split(":")
            yield (host, int(port)), process
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def health_ms(address) -> float:
    """Milliseconds for /health on a new connection: connect, ask, read the whole answer."""
    start = time.perf_counter()
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok\n"), answer
    return (time.perf_counter() - start) * 1000


def probe(address) -> float:
    """health_ms, asked again at once when over the limit: on two cores shared with other
    work, this test's own process is sometimes not scheduled for a while. A service that is
    held up fails both."""
    first = health_ms(address)
    return first if first < LIMIT_MS else health_ms(address)


def probe_while(address, seconds: float) -> list[float]:
    """/health asked every 50 ms for `seconds`."""
    timings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        timings.append(probe(address))
        time.sleep(0.05)
    return timings


def assert_fast(timings: list[float]) -> None:
    assert timings and max(timings) < LIMIT_MS, f"slowest /health {max(timings):.1f} ms of {len(timings)}"


def answer_of(s: socket.socket) -> tuple[int, dict]:
    s.settimeout(10)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if length and len(body) >= int(length.group(1)):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_slow_senders(service):
    address, _ = service
    heads, bodies = [], []
    for _ in range(25):  # a head a byte at a time, and a body a byte at a time
        heads.append(socket.create_connection(address, timeout=10))
        s = socket.create_connection(address, timeout=10)
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        bodies.append(s)
    stop = threading.Event()

    def trickle():
        request = b"GET /health HTTP/1.1\r\nHost: x\r\n"
        k = 0
        while not stop.is_set():
            for s in heads:
                try:
                    s.sendall(request[k % len(request):k % len(request) + 1])
                except OSError:
                    pass
            for s in bodies:
                try:
                    s.sendall(b"{")
                except OSError:
                    pass
            k += 1
            stop.wait(1.0)
    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        assert_fast(probe_while(address, 2.5))
    finally:
        stop.set()
        sender.join()
    # each is cut off at its deadline (3 s here), with the status that says why
    assert {answer_of(s)[1]["code"] for s in heads} == {"header_timeout"}
    # (four batches are taken at once; the others were told so after batch_wait_seconds)
    codes = [answer_of(s)[1]["code"] for s in bodies]
    assert set(codes) == {"body_timeout", "too_many_batches"} and codes.count("body_timeout") == 4
    for s in heads + bodies:
        s.close()


def test_declared_1_gb_bodies(service):
    address, _ = service
    clients = []
    for _ in range(50):
        s = socket.create_connection(address, timeout=10)
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * 65536)
        clients.append(s)
    assert_fast(probe_while(address, 1.0))
    for s in clients:
        status, answer = answer_of(s)
        assert status == 413 and answer["code"] == "body_too_large"
        s.close()


def test_malformed_request_lines(service):
    address, _ = service
    garbage = [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"G\xffT /health HTTP/1.1\r\n\r\n",
               b"GET /health HTTP/1.1\r\nHost x\r\n\r\n", b"POST /evaluate HTTP/1.1\r\nContent-Length: -1\r\n\r\n"]
    timings = []
    for k in range(200):
        with socket.create_connection(address, timeout=10) as s:
            s.sendall(garbage[k % len(garbage)])
            status, answer = answer_of(s)
            assert status == 400 and answer["code"] in ("malformed_request", "bad_content_length"), answer
        if k % 20 == 0:
            timings.append(probe(address))
    assert_fast(timings)


def test_header_floods(service):
    address, process = service
    rss_before = _rss_kb(process.pid)
    timings = []
    for _ in range(20):
        with socket.create_connection(address, timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            try:
                for i in range(100_000):  # 10 MB of headers, unless cut off first
                    s.sendall(b"X-Flood-%d: %s\r\n" % (i, b"a" * 90))
            except OSError:
                pass
            status, answer = answer_of(s)
            assert status == 431 and answer["code"] == "header_too_large"
        timings.append(probe(address))
    assert_fast(timings)
    assert _rss_kb(process.pid) < rss_before + 50_000  # the headers were not kept


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))


def _open_fds(pid: int) -> int:
    import os

    return len(os.listdir(f"/proc/{pid}/fd"))


def test_10000_idle_connections(fixture_policies, service):
    # A service of its own, whose connections may idle for a minute before their head is due.
    env = {"REGELVERK_HEADER_TIMEOUT_SECONDS": "60", "REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}
    with service_process("--policies", str(fixture_policies), env=env) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        address = (host, int(port))
        before = _open_fds(process.pid)
        idle = []
        try:
            # In steps of 1,000, each accepted before the next: a burst beyond the listen
            # backlog would test the kernel's SYN retries, not the service.
            deadline = time.monotonic() + 60
            while len(idle) < 10_000:
                idle += [socket.create_connection(address, timeout=10) for _ in range(1000)]
                # (`before` may count a connection of the readiness check, closing since)
                while _open_fds(process.pid) < before + len(idle) - 5:  # accepted, none answered
                    assert time.monotonic() < deadline, (len(idle), _open_fds(process.pid) - before)
                    time.sleep(0.05)
            # Accepting a burst of 10,000 connections keeps the event loop busy for a second or
            # two (each gets its transport and protocol made); the first answer marks its end.
            settle = health_ms(address)
            assert settle < 10_000, settle
            assert_fast(probe_while(address, 2.0))
            assert _open_fds(process.pid) >= before + 10_000 - 5  # still open while /health answered
        finally:
            for s in idle:
                s.close()
