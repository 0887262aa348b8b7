"""Start the decision service for a test: in a thread of this process, or as `regelverk serve` in its own."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import uvicorn

from evaluator.running.api import Repository
from evaluator.service.app import create_app
from evaluator.service.server import bind, uvicorn_config
from evaluator.service.settings import ServiceSettings
from evaluator.service.state import PolicyHolder, Served


@contextmanager
def service_in_thread(repo, policies_path=None, **settings):
    """(url, holder) of a service on a free loopback port, running in a thread here."""
    chosen = replace(ServiceSettings(port=0), **settings)
    holder = PolicyHolder(Served.of(repo), lambda: Repository.load(policies_path))
    server = uvicorn.Server(uvicorn_config(create_app(holder, chosen), chosen))
    sock = bind(chosen)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", holder
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextmanager
def service_process(*args, env=None, reading: threading.Event | None = None):
    """(url, process) of `regelverk serve --port 0 ARGS` in a process of its own; stopped
    with SIGTERM at the end. Its standard error is collected in process.stderr_lines; with
    `reading`, only while that event is set once the service is up (a stalled log consumer)."""
    command = [sys.executable, "-m", "evaluator", "serve", "--port", "0", *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **(env or {})})
    process.stderr_lines = []
    ready = threading.Event()
    found = {}

    def pump():
        for line in process.stderr:
            process.stderr_lines.append(line)
            match = re.search(r"serving on (http://\S+) ", line)
            if match and not ready.is_set():
                found["url"] = match.group(1)
                ready.set()
            if reading is not None and ready.is_set():
                reading.wait()
    process.pump = threading.Thread(target=pump, daemon=True)
    process.pump.start()
    try:
        assert ready.wait(60), "".join(process.stderr_lines)
        url = found["url"]
        wait_until_ready(url)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.pump.join(10)  # (all it wrote is in stderr_lines)


def wait_until_ready(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the service did not become ready"
        time.sleep(0.05)


def raw(url: str, request: bytes, close_write: bool = False, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send `request` as it is on a fresh connection; the status, headers (lower-case names)
    and body of the answer (read until the server closes, or after Content-Length bytes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            head, sep, rest = answer.partition(b"\r\n\r\n")
            if sep:
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                if length and len(rest) >= int(length.group(1)):
                    break
                if re.search(rb"(?im)^transfer-encoding: *chunked", head) and rest.endswith(b"0\r\n\r\n"):
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in header_lines if ": " in line)}
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return int(status_line.split()[1]), headers, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, body = out + body[:n], body[n + 2:]
    return out


def workers_of(pid: int) -> set:
    """The pids of a process's children (a supervisor's workers), from /proc."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def replace_a_worker(supervisor: int, seconds: float = 20) -> tuple[int, int]:
    """Kill one of a supervisor's workers (SIGKILL) and wait until another has taken its
    place: (the dead worker's pid, the new one's)."""
    before = workers_of(supervisor)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while victim in (now := workers_of(supervisor)) or len(now) < len(before):
        assert time.monotonic() < deadline, "no worker took the dead one's place"
        time.sleep(0.1)
    (new,) = now - before
    return victim, new


def connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to `port` process `pid` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:  # (closed meanwhile)
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                count += local_port == port and fields[3] == "01" and fields[9] in inodes  # 01: established
    return count
