"""Polls held under ``Prefer: wait`` at the Person Server (-11 "Polling with GET": the agent
"MAY" send ``Prefer: wait``; RFC 7240 lets the server honour less): who waits on which pending
request, woken when its state changes, and how many polls each agent has held at once."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Waiters:
    """Polls held under ``Prefer: wait``: one :class:`asyncio.Event` per held poll, keyed by
    pending id.  :meth:`notify` may be called from any thread; each event is set on the
    loop its poll runs on."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[str, set] = {}
        self._holding: dict[tuple[str, str], int] = {}

    @contextlib.contextmanager
    def watch(self, pending_id: str):
        """Register before reading the state, so a change between the read and the wait
        still wakes the poll."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(pending_id, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                entries = self._waiting.get(pending_id, set())
                entries.discard(entry)
                if not entries:
                    self._waiting.pop(pending_id, None)

    def notify(self, pending_id: str) -> None:
        with self._lock:
            entries = list(self._waiting.get(pending_id, ()))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, event in entries:
            if loop is running:
                event.set()
            else:
                with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                    loop.call_soon_threadsafe(event.set)

    def held(self, pending_id: str) -> int:
        """How many polls wait on ``pending_id`` now."""
        with self._lock:
            return len(self._waiting.get(pending_id, ()))

    @contextlib.contextmanager
    def hold(self, agent: tuple[str, str], limit: int):
        """A place for one held poll of ``agent`` (its ``(iss, sub)``): yields ``True`` with
        the place taken, ``False`` when ``limit`` polls of the agent are held already."""
        with self._lock:
            granted = self._holding.get(agent, 0) < limit
            if granted:
                self._holding[agent] = self._holding.get(agent, 0) + 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._holding[agent] -= 1
                    if not self._holding[agent]:
                        del self._holding[agent]

    def holding(self, agent: tuple[str, str]) -> int:
        """How many polls of ``agent`` are held now."""
        with self._lock:
            return self._holding.get(agent, 0)
