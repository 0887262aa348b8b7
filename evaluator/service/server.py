"""Run the service on uvicorn: one process, or a supervisor and N forked workers sharing one socket.

Signals to the process started (the supervisor where there are workers):
SIGTERM or SIGINT: stop taking connections, let requests in flight finish (at most
graceful_shutdown_seconds), then exit. SIGHUP: every worker loads the policy set again and,
if it loads, serves it; if not, logs its problems and keeps the old one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import time

import uvicorn

from .app import create_app
from .logs import LogWriter, configure_logging
from .protocol import guarded_protocol
from .settings import ServiceSettings
from .state import PolicyHolder, Served

log = logging.getLogger("regelverk.service")


class SharingLoop(asyncio.SelectorEventLoop):
    """The event loop of a worker that shares its listening socket with others: it takes one
    waiting connection each time the socket is ready, not up to the backlog at once.

    Every worker is woken when a connection arrives; asyncio's loop would accept all waiting
    ones in the first worker to wake, so a client opening 64 keep-alive connections at once
    had them all on one worker while the other idled. One at a time, a busy worker (still
    deciding) leaves the next connection to an idle one, and a burst is shared out."""

    def _accept_connection(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *rest):
        return super()._accept_connection(protocol_factory, sock, sslcontext, server, 1, *rest)


def uvicorn_config(app, settings: ServiceSettings) -> uvicorn.Config:
    loop = "evaluator.service.server:SharingLoop" if settings.workers > 1 else "asyncio"
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, loop=loop, lifespan="on",
        http=guarded_protocol(settings.max_header_bytes, settings.header_timeout_seconds),
        access_log=False,  # ours (logs.AccessLog) names the route, never the path and query
        log_config=settings.log_config, server_header=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds, backlog=4096,
        proxy_headers=False)  # (no client address is used or logged: no X-Forwarded-For to read)


def bind(settings: ServiceSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on accepted sockets only when the protocol
    # says TCP. Without it, a keep-alive client waited 40 ms per request (Nagle against
    # delayed ACKs: headers and body are written apart). Set on the listener too.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def serve(served: Served, load, settings: ServiceSettings, announce=None) -> None:
    """Serve until SIGTERM or SIGINT. `served` is loaded already (the supervisor checks the
    set before any worker starts; forked workers share it)."""
    configure_logging(settings)
    # SIGHUPs from here on, before a worker can reload, are noted, not lost (nor, by the
    # default action, the end of the service): a worker that starts after one reloads first.
    hups: list = []
    signal.signal(signal.SIGHUP, lambda signum, frame: hups.append(signum))
    sock = bind(settings)
    if announce is not None:
        announce(sock.getsockname()[1])
    if settings.workers == 1:
        _run_worker(served, load, settings, sock, hups)
        return
    _supervise(served, load, settings, sock, hups)


def _run_worker(served: Served, load, settings: ServiceSettings, sock: socket.socket,
                early_reloads: list | None = None) -> None:
    """`early_reloads`: where SIGHUPs that came before the worker can reload are noted (the
    signal's handler until the worker's own is set): the worker reloads once it can."""
    holder = PolicyHolder(served, load)
    if early_reloads is not None:
        holder.early_reloads = early_reloads
    writer = LogWriter(settings.log_backlog_lines)  # (the service's own lines too, whatever the settings)
    app = create_app(holder, settings, writer)
    server = uvicorn.Server(uvicorn_config(app, settings))  # (applies log_config: the handlers are set now)
    writer.install()
    # The policy set and the libraries are tens of thousands of objects that live as long as
    # the worker: out of the cyclic collector's sight, its full collections (once every few
    # thousand requests) take milliseconds instead of tens of them, a stall every request in
    # flight waited out. A reload collects and freezes again (PolicyHolder.freeze).
    gc.collect()
    gc.freeze()
    holder.freeze = True
    try:
        server.run(sockets=[sock])
    finally:
        # (the app's shutdown has written what waited, for at most graceful_shutdown_seconds)
        if not writer.close(settings.graceful_shutdown_seconds):
            # A consumer that reads nothing holds a log's thread, and with it the handler's
            # lock that the interpreter's exit would wait on for ever.
            os._exit(1)


def _supervise(served: Served, load, settings: ServiceSettings, sock: socket.socket, hups: list) -> None:
    """`hups`: the SIGHUPs so far. `served` is the set loaded before any: a worker started
    after one (at first, or in place of one that died) reloads before it serves."""
    os.environ["REGELVERK_SUPERVISOR_PID"] = str(os.getpid())
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def start(number: int) -> None:
        # SIGHUP is held back from the fork until the worker is on the list the supervisor
        # forwards it to (in the worker, until its noting handler is set): one that came in
        # between would otherwise reach neither.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            pid = os.fork()
            if pid == 0:  # the worker
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                early = [signal.SIGHUP] if hups else []  # the set on disk may not be `served`
                signal.signal(signal.SIGHUP, lambda signum, frame: early.append(signum))
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
                code = 0
                try:
                    _run_worker(served, load, settings, sock, early)
                except BaseException:  # noqa: BLE001 - a worker never returns into the supervisor's code
                    log.exception("worker %d failed", number)
                    code = 1
                finally:
                    os._exit(code)
            children[pid] = number
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def hup(signum, frame):
        hups.append(signum)
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
    for number in range(settings.workers):
        start(number)
    log.info("regelverk: %d workers serving policy set %s", settings.workers, served.policy_set_hash)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        number = children.pop(pid, None)
        if number is not None and not stopping:  # a worker that died: another takes its place
            log.error("worker %d (pid %d) ended (status %d); starting another", number, pid, status)
            time.sleep(0.2)
            start(number)
    sock.close()
    sys.exit(0)
