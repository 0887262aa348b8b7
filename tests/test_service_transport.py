"""The service's connection plumbing: writes gathered into one send, connections shared out among workers."""

from __future__ import annotations

import asyncio
import socket

from evaluator.service.protocol import CoalescingTransport
from evaluator.service.server import SharingLoop


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


def _accepted_after_turns(loop_class, waiting: int, turns: int) -> int:
    """How many of `waiting` connections a server on a `loop_class` loop has taken after
    `turns` turns of its loop."""
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
        count = len(made)
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
