"""The policy set a worker serves, swapped whole on reload: a request keeps the set it began with."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from ..errors import PolicyError
from ..running.api import Repository

log = logging.getLogger("regelverk.service")


@dataclass(frozen=True)
class Served:
    """One loaded policy set and what every answer made with it repeats."""

    repo: Repository
    provenance: dict
    provenance_json: bytes

    @property
    def policy_set_hash(self) -> str:
        return self.provenance["policy_set_hash"]

    @classmethod
    def of(cls, repo: Repository) -> Served:
        provenance = repo.engine.provenance
        return cls(repo, provenance, orjson.dumps(provenance))


class ReloadRefused(Exception):
    """A policy set that does not load: its problems, each rendered as file:line:col."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class PolicyHolder:
    """The set being served. `current` is replaced in one assignment, so a request that read
    it has a whole set, old or new, never a mix."""

    def __init__(self, served: Served, load: Callable[[], Repository]):
        """`load`: loads the policy set afresh (raises PolicyError when it cannot)."""
        self.current = served
        self.load = load
        self._lock = threading.Lock()  # one reload at a time
        # True where the worker froze its long-lived objects (gc.freeze): after a reload the
        # old set is collected (frozen objects in a cycle are never freed) and the new frozen.
        self.freeze = False
        self._retired: list = []  # weak references to the sets replaced while frozen
        self._timer: threading.Timer | None = None
        # SIGHUPs that came while the worker was starting, before it could reload (see
        # server._supervise): the worker reloads once when it can.
        self.early_reloads: list = []

    def reload_now(self) -> Served:
        """Load and check the policy set in full; swap it in if it loads, else raise
        ReloadRefused and keep serving the old one. Blocking: run it off the event loop."""
        with self._lock:
            try:
                repo = self.load()
            except PolicyError as exc:
                problems = [p.render() for p in exc.problems]
                log.error("reload refused: the policy set does not load (%d problem(s)); still serving %s\n%s",
                          len(problems), self.current.policy_set_hash, "\n".join(problems))
                raise ReloadRefused(problems) from None
            except Exception as exc:  # noqa: BLE001 - an unreadable folder, say: keep serving
                log.error("reload refused: %s; still serving %s", exc, self.current.policy_set_hash)
                raise ReloadRefused([str(exc)]) from None
            old, self.current = self.current, Served.of(repo)
            log.info("reloaded: policy set %s replaces %s", self.current.policy_set_hash, old.policy_set_hash)
            served = self.current
            if self.freeze:  # the old set, frozen, would never be freed if it holds a cycle
                gc.unfreeze()
                self._retired.append(weakref.ref(old))
            del old, repo
        if self.freeze:
            self._freeze_when_retired_are_gone(tries=60)
        return served

    def _freeze_when_retired_are_gone(self, tries: int) -> None:
        """Freeze the long-lived objects again once no request holds a replaced set (a
        request keeps the set it began with); look again every 5 s until then."""
        gc.collect()
        with self._lock:
            self._retired = [ref for ref in self._retired if ref() is not None]
            if not self._retired:
                gc.freeze()
                return
        if tries > 0:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(5.0, self._freeze_when_retired_are_gone, (tries - 1,))
            self._timer.daemon = True
            self._timer.start()

    async def reload(self) -> Served:
        return await asyncio.get_running_loop().run_in_executor(None, self.reload_now)
