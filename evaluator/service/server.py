"""Run the service on uvicorn: one process, or a supervisor and N forked workers sharing one socket.

Signals to the process started (the supervisor where there are workers):
SIGTERM or SIGINT: stop taking connections, let requests in flight finish (at most
graceful_shutdown_seconds), then exit. SIGHUP: every worker loads the policy set again and,
if it loads, serves it; if not, logs its problems and keeps the old one.
"""

from __future__ import annotations

import asyncio
import configparser
import gc
import json
import logging
import mmap
import os
import signal
import socket
import sys
import time

import uvicorn
import yaml

from .app import create_app
from .logs import LogWriter, configure_logging
from .protocol import guarded_protocol
from .settings import ServiceSettings, SettingsError
from .state import PolicyHolder, Served

log = logging.getLogger("regelverk.service")


class ConnectionShares:
    """How many connections each worker holds, in memory the workers share (made by the
    supervisor before it forks them; each worker writes its own count only). A worker takes
    a waiting connection while it holds no more than every other (SharingLoop): keep-alive
    connections opened at once are spread evenly, not left to which worker woke first."""

    # The count of a worker that does not serve (not yet, or no more: dead, its replacement
    # starting). Larger than any real count, so never the least: no worker waits for it.
    NOT_SERVING = 1 << 62

    def __init__(self, workers: int):
        self._memory = mmap.mmap(-1, 8 * workers)  # (anonymous and shared: forked workers see it)
        self.counts = memoryview(self._memory).cast("q")
        for number in range(workers):
            self.counts[number] = self.NOT_SERVING
        self.me = 0

    def become(self, number: int) -> None:
        """This process is worker `number`, not serving yet (see serving)."""
        self.me = number
        self.counts[number] = self.NOT_SERVING

    def serving(self) -> None:
        """This worker listens now (SharingLoop._start_serving): it holds no connection yet."""
        if self.counts[self.me] == self.NOT_SERVING:
            self.counts[self.me] = 0

    def gone(self, number: int) -> None:
        """Worker `number` no longer serves: it has ended (the supervisor, before it starts
        another in its place), or it has stopped listening and finishes the requests in flight
        (the worker itself, SharingLoop._stop_serving; its connections closing from there on
        count down from NOT_SERVING, still far above any real count)."""
        self.counts[number] = self.NOT_SERVING

    def opened(self) -> None:
        self.counts[self.me] += 1

    def closed(self) -> None:
        self.counts[self.me] -= 1

    def my_turn(self) -> bool:
        return self.counts[self.me] <= min(self.counts)


# The worker's share (set in a worker of several; None in a single process).
shares: ConnectionShares | None = None

# A worker holding more connections than another stops listening this long at a time, at most
# this many times in a row; then it takes the next connection whatever the counts, so a busy or
# stalled worker that holds fewer keeps no client waiting long. (The times are counted as the
# socket wakes the worker, whichever worker then takes the connection.)
DECLINE_SECONDS = 0.001
MAX_DECLINES = 3


class SharingLoop(asyncio.SelectorEventLoop):
    """The event loop of a worker that shares its listening socket with others: it takes one
    waiting connection each time the socket is ready, not up to the backlog at once, and
    none while it holds more connections than another worker (ConnectionShares).

    Every worker is woken when a connection arrives; asyncio's loop would accept all waiting
    ones in the first worker to wake, so a client opening 64 keep-alive connections at once
    had them all on one worker while the other idled. One at a time, the split still followed
    which worker happened to be idle as the burst came (47 and 17 seen): the worker with
    more then answered more slowly, for as long as the connections stayed open. A worker
    that holds more stops listening for a millisecond, and the other takes the connection.
    Only workers that serve count: one starting, shutting down, or dead and not yet replaced,
    is not waited for (ConnectionShares.NOT_SERVING)."""

    _declined = 0

    def _start_serving(self, *args, **kwargs):
        super()._start_serving(*args, **kwargs)
        if shares is not None:
            shares.serving()

    def _stop_serving(self, sock):
        if shares is not None:
            shares.gone(shares.me)
        super()._stop_serving(sock)

    def _accept_connection(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *rest):
        if shares is not None and self._declined < MAX_DECLINES and not shares.my_turn():
            self._declined += 1
            self._remove_reader(sock.fileno())
            self.call_later(DECLINE_SECONDS, self._listen_again, protocol_factory, sock, sslcontext, server,
                            backlog, *rest)
            return None
        self._declined = 0
        return super()._accept_connection(protocol_factory, sock, sslcontext, server, 1, *rest)

    def _listen_again(self, protocol_factory, sock, sslcontext, server, backlog, *rest) -> None:
        if sock.fileno() < 0 or (server is not None and not server.is_serving()):
            return  # (closed meanwhile: shutting down)
        self._add_reader(sock.fileno(), self._accept_connection, protocol_factory, sock, sslcontext, server,
                         backlog, *rest)


def uvicorn_config(app, settings: ServiceSettings) -> uvicorn.Config:
    loop = "evaluator.service.server:SharingLoop" if settings.workers > 1 else "asyncio"
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, loop=loop, lifespan="on",
        http=guarded_protocol(settings.max_header_bytes, settings.header_timeout_seconds, shares),
        ws="none",  # (no WebSocket route; an upgraded connection would also never be counted closed)
        access_log=False,  # ours (logs.AccessLog) names the route, never the path and query
        log_config=settings.log_config, server_header=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds, backlog=4096,
        proxy_headers=False)  # (no client address is used or logged: no X-Forwarded-For to read)


def check_log_config(path: str | None) -> None:
    """Raise SettingsError where uvicorn could not read `log_config` (a JSON or YAML file of a
    logging dictConfig, or an ini file of fileConfig): before the service says it is serving,
    not as a traceback in its first worker."""
    if path is None:
        return
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".json"):
            config = json.loads(text)
        elif path.endswith((".yaml", ".yml")):
            config = yaml.safe_load(text)
        else:
            parser = configparser.ConfigParser()
            parser.read_string(text, path)
            config = {"version": 1} if parser.has_section("loggers") else None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"log_config: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, yaml.YAMLError, configparser.Error) as exc:
        raise SettingsError(f"log_config: {path} is not a logging configuration uvicorn can read: "
                            f"{str(exc).splitlines()[0]}") from None
    if not isinstance(config, dict) or "version" not in config:
        raise SettingsError(f"log_config: {path} is not a logging configuration: a JSON or YAML mapping with "
                            "'version: 1' (Python's logging.config.dictConfig), or an ini file with [loggers]")


def bind(settings: ServiceSettings) -> socket.socket:
    """The listening socket; SettingsError, naming host and port, where it cannot be had."""
    try:
        return _bind(settings)
    except (OSError, OverflowError) as exc:  # (socket.gaierror is an OSError)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"cannot listen on {settings.host} port {settings.port}: {why}") from None


def _bind(settings: ServiceSettings) -> socket.socket:
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
    check_log_config(settings.log_config)
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
                early_reloads: list | None = None, share: tuple | None = None) -> None:
    """`early_reloads`: where SIGHUPs that came before the worker can reload are noted (the
    signal's handler until the worker's own is set): the worker reloads once it can.
    `share`: (ConnectionShares, this worker's number) in a worker of several."""
    global shares
    if share is not None:
        shares, number = share
        shares.become(number)
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
    connections = ConnectionShares(settings.workers)
    stopping = False
    writing = abandoned = False

    def say(level: int, message: str, *args) -> None:
        # The supervisor writes its few lines itself (a thread of its own would be forked
        # with every worker). A consumer that stops reading holds it up here; a stop given
        # meanwhile gives the line up (see stop), and the supervisor ends without it.
        nonlocal writing, abandoned
        try:
            writing = True
            if stopping:
                return  # (a stop came first: the line is not written, as if given up)
            log.log(level, message, *args)
        except _LineGivenUp:
            abandoned = True
        finally:
            writing = False

    def start(number: int) -> None:
        # SIGHUP, SIGTERM and SIGINT are held back from the fork until the worker is on the
        # list the supervisor forwards them to (in the worker, until its own handlers are
        # set): one that came in between would otherwise reach only one of the two, and a
        # stop would leave a worker serving. A stop that came first starts no worker.
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            if stopping:
                return
            pid = os.fork()
            if pid == 0:  # the worker
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                early = [signal.SIGHUP] if hups else []  # the set on disk may not be `served`
                signal.signal(signal.SIGHUP, lambda signum, frame: early.append(signum))
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
                code = 0
                try:
                    _run_worker(served, load, settings, sock, early, (connections, number))
                except BaseException:  # noqa: BLE001 - a worker never returns into the supervisor's code
                    log.exception("worker %d failed", number)
                    code = 1
                finally:
                    os._exit(code)
            children[pid] = number
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if writing:
            raise _LineGivenUp  # (out of the write the signal interrupted: see say)

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
    say(logging.INFO, "regelverk: %d workers serving policy set %s", settings.workers, served.policy_set_hash)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        number = children.pop(pid, None)
        if number is None:
            continue
        connections.gone(number)  # (the others do not leave connections to it meanwhile)
        if not stopping:  # a worker that died: another takes its place
            time.sleep(0.2)
            # Started before the line is written: the supervisor writes its few lines itself,
            # and a log consumer that stopped reading holds it up there (the workers' lines
            # go through their own threads).
            start(number)
            say(logging.ERROR, "worker %d (pid %d) ended (status %d); another started", number, pid, status)
    sock.close()
    if abandoned:
        os._exit(0)  # (not through the interpreter's exit, which would write the line given up)
    sys.exit(0)


_HELD = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT}  # (while the supervisor forks a worker)


class _LineGivenUp(BaseException):
    """A supervisor's log line given up for a stop (a BaseException: a handler's emit catches
    Exception and would report it through the same stalled stream)."""
