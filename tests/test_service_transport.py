"""The service's connection plumbing: writes gathered into one send, connections shared out among workers."""

from __future__ import annotations

import asyncio
import socket
import time

from _service import connections_held, service_process, workers_of

from evaluator.service import server
from evaluator.service.protocol import CoalescingTransport
from evaluator.service.server import ConnectionShares, SharingLoop


class Recording:
    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data):
        assert not self.closed
        self.writes.append(bytes(data))

    def close(self):
        self.closed = True

    def get_extra_info(self, name, default=None):
        return "info:" + name


def test_small_writes_in_one_turn_go_out_as_one_in_order():
    loop = asyncio.new_event_loop()
    try:
        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"{}\n")
        assert real.writes == []  # (not yet: at the end of this turn of the loop)
        loop.run_until_complete(asyncio.sleep(0))
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}\n"]
        # a large write goes out at once, after what waits before it
        transport.write(b"head")
        big = b"x" * (CoalescingTransport.small + 1)
        transport.write(big)
        assert real.writes[1:] == [b"head", big]
        # closing sends what waits first; other attributes are the transport's
        transport.write(b"last")
        transport.close()
        assert real.writes[-1] == b"last" and real.closed
        assert transport.get_extra_info("peername") == "info:peername"
        loop.run_until_complete(asyncio.sleep(0))
        assert len(real.writes) == 4  # (nothing written twice, nothing after close)
    finally:
        loop.close()


def _accepted_after_turns(loop_class, waiting: int, turns: int, seconds: float = 0, listening=None) -> int:
    """How many of `waiting` connections a server on a `loop_class` loop has taken after
    `turns` turns of its loop, `seconds` apart. `listening()` is called after the turns, before
    the server stops listening (a SharingLoop's worker then no longer counts as serving)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(waiting)]
    loop = loop_class()
    made = []

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport):
            made.append(transport)
    try:
        server = loop.run_until_complete(loop.create_server(Protocol, sock=listener))
        for _ in range(turns):
            loop.call_soon(loop.stop)
            loop.run_forever()  # one turn: poll once, run what is ready
            if seconds:
                time.sleep(seconds)
        count = len(made)
        if listening is not None:
            listening()
        server.close()
        for transport in made:
            transport.close()
        loop.run_until_complete(server.wait_closed())
        return count
    finally:
        loop.close()
        for c in clients:
            c.close()


def test_a_worker_sharing_its_socket_takes_one_waiting_connection_per_turn():
    # asyncio's own loop takes every waiting connection in one go (so the first worker to
    # wake took a whole burst); a SharingLoop one per turn, leaving the rest to the others
    assert _accepted_after_turns(asyncio.SelectorEventLoop, 8, 3) == 8
    assert _accepted_after_turns(SharingLoop, 8, 3) <= 3
    assert _accepted_after_turns(SharingLoop, 8, 12) == 8  # (none is lost)


def test_a_reload_in_a_frozen_worker_frees_the_old_set_and_freezes_again(repo, fixture_policies):
    import gc
    import weakref

    from evaluator.running.api import Repository
    from evaluator.service.state import PolicyHolder, Served

    holder = PolicyHolder(Served.of(repo), lambda: Repository.load(fixture_policies))
    gc.collect()
    gc.freeze()  # as a worker does (server._run_worker)
    holder.freeze = True
    try:
        first = weakref.ref(holder.current)
        holder.reload_now()
        assert first() is None and gc.get_freeze_count() > 0  # freed, and frozen again
        kept = holder.current  # a request still deciding with the set it began with
        second = weakref.ref(kept)
        holder.reload_now()
        assert second() is not None and gc.get_freeze_count() == 0  # not frozen while it is held
        del kept
        holder._freeze_when_retired_are_gone(tries=0)  # (the timer's next look)
        assert second() is None and gc.get_freeze_count() > 0
    finally:
        if holder._timer is not None:
            holder._timer.cancel()
        gc.unfreeze()


def test_a_worker_holding_more_connections_than_another_leaves_waiting_ones_to_it(monkeypatch):
    # worker 0 of two holds one connection, worker 1 none: worker 0 takes no waiting connection
    # (it declines as often as it is let); once worker 1 holds more, it takes them all
    shares = ConnectionShares(2)
    shares.become(0)
    shares.serving()
    shares.opened()
    shares.counts[1] = 0  # (worker 1 serves, and holds none)
    monkeypatch.setattr(server, "shares", shares)
    monkeypatch.setattr(server, "MAX_DECLINES", 10**9)
    assert not shares.my_turn()
    assert _accepted_after_turns(SharingLoop, 4, 30, seconds=0.002) == 0
    shares.counts[0] = 1  # (serving again: the helper's server stopped listening at its end)
    shares.counts[1] = 5
    assert shares.my_turn()
    assert _accepted_after_turns(SharingLoop, 4, 30, seconds=0.002) == 4


def test_a_worker_that_declined_enough_times_takes_the_connection_all_the_same(monkeypatch):
    # (another worker that holds fewer but is stalled does not keep a client waiting long)
    shares = ConnectionShares(2)
    shares.become(0)
    shares.serving()
    shares.opened()
    shares.counts[1] = 0
    monkeypatch.setattr(server, "shares", shares)
    assert _accepted_after_turns(SharingLoop, 1, 40, seconds=0.002) == 1


def test_a_worker_that_does_not_serve_is_not_left_connections(monkeypatch):
    # Worker 1 has not started serving (or has died and its replacement not yet): worker 0,
    # holding three, does not decline for it. Nor once the supervisor has seen worker 1 end.
    shares = ConnectionShares(2)
    assert list(shares.counts) == [ConnectionShares.NOT_SERVING] * 2
    shares.become(0)
    monkeypatch.setattr(server, "shares", shares)
    monkeypatch.setattr(server, "MAX_DECLINES", 10**9)
    seen = []
    assert _accepted_after_turns(SharingLoop, 3, 8, listening=lambda: seen.append(shares.counts[0])) == 3
    assert seen == [0]  # listening made worker 0 a serving one (the helper's protocol counts nothing)
    assert shares.counts[0] == ConnectionShares.NOT_SERVING  # (and it stopped listening at the end)
    shares.counts[0] = 3
    assert shares.my_turn()
    shares.counts[1] = 0  # worker 1 serves
    assert not shares.my_turn()
    shares.gone(1)  # ... and dies
    assert shares.my_turn()
    assert _accepted_after_turns(SharingLoop, 2, 6) == 2


def test_a_worker_that_stops_listening_is_not_left_connections(monkeypatch):
    # Worker 1, shutting down, has stopped listening but still holds (and finishes) its two
    # connections: worker 0, holding three, no longer waits for it.
    shares = ConnectionShares(2)
    shares.become(1)
    monkeypatch.setattr(server, "shares", shares)
    assert _accepted_after_turns(SharingLoop, 2, 6) == 2  # (listens, takes two, stops listening)
    assert shares.counts[1] == ConnectionShares.NOT_SERVING
    shares.closed()  # (one of its connections ends while it drains)
    shares.become(0)  # (now seen from worker 0)
    shares.counts[0] = 3
    assert shares.my_turn()


def test_workers_never_upgrade_to_websockets(repo):
    # (no route speaks it; and an upgraded connection leaves the protocol that counts it)
    from evaluator.service.app import create_app
    from evaluator.service.settings import service_settings
    from evaluator.service.state import PolicyHolder, Served

    settings = service_settings({}, environ={}, workers=2)
    config = server.uvicorn_config(create_app(PolicyHolder(Served.of(repo), None), settings), settings)
    assert config.ws == "none"


def test_keep_alive_connections_opened_at_once_are_spread_evenly_over_the_workers():
    # As a load generator does: 64 connections opened one after another, each sending a
    # request as soon as it is open, each kept open. Without the shares the split followed
    # which worker was idle as each came (47 and 17 seen); with them neither holds more than
    # a few more than the other.
    import json

    from conftest import chat

    history = [chat(f"h{k}", f"2025-{2 + k // 3:02d}-{1 + (k % 3) * 9:02d}") for k in range(20)]
    body = json.dumps({"contact": chat("c", "2025-11-20"), "history": history}).encode()
    request = (b"POST /evaluate-one HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    with service_process("--workers", "2", env={"REGELVERK_DECISION_LOG": "off",
                                                 "REGELVERK_ACCESS_LOG": "off"}) as (url, process):
        workers = sorted(workers_of(process.pid))
        assert len(workers) == 2
        host, port = url.removeprefix("http://").rsplit(":", 1)

        def open_and_ask(count: int) -> list:
            clients = []
            try:
                for _ in range(count):
                    client = socket.create_connection((host, int(port)), timeout=30)
                    client.sendall(request)
                    clients.append(client)
                for client in clients:  # every one answered: accepted, and still open
                    answer = b""
                    while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
                        chunk = client.recv(65536)
                        assert chunk, answer
                        answer += chunk
                    assert answer.startswith(b"HTTP/1.1 200")
                return [connections_held(pid, int(port)) for pid in workers]
            finally:
                for client in clients:
                    client.close()
        # Both workers serve first (one still starting is not waited for: it would get none).
        deadline = time.monotonic() + 30
        while 0 in open_and_ask(8):
            assert time.monotonic() < deadline, "a worker never took a connection"
        held = open_and_ask(64)
    assert sum(held) == 64, held
    assert max(held) - min(held) <= 8, held


def _length(answer: bytes) -> int:
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    return int(head.split("content-length:")[1].split("\r\n")[0])
