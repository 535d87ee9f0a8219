"""Failure throttling: after ``limit`` failures of one key within ``window`` seconds, the key
is locked until the oldest of them leaves the window (``429 rate_limited`` with
``Retry-After``, RFC 6585 §4, RFC 9110 §10.2.3).

-11 asks for it where guessing is possible ("Interaction Code Format": rate limited); for a
password the kit follows OWASP ASVS level 2 (V2.2.1: anti-automation against credential
guessing).  State is in memory: a restart forgets it, which costs an attacker a restart.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from .errors import AAuthError

#: Past this many keys, :meth:`Throttle.fail` sweeps the ones whose failures left the window.
SWEEP_AT = 10_000


class Throttle:
    """Counts failures per key (a username, a client address) in a sliding window; only the
    latest ``limit`` are kept per key."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or ``None`` when it may now."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[-self.limit] + self.window - self.clock()))

    def check(self, *keys: str) -> None:
        """``429 rate_limited`` (``retry_after`` set) if any of ``keys`` is locked."""
        waits = [wait for key in keys if (wait := self.retry_after(key)) is not None]
        if waits:
            raise AAuthError(
                "rate_limited", "too many failed attempts; try again later", retry_after=max(waits)
            )

    def fail(self, *keys: str) -> None:
        if len(self._failures) > SWEEP_AT:
            for known in list(self._failures):
                self._recent(known)
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.limit)).append(self.clock())

    def forget(self, key: str) -> None:
        """A success: ``key``'s failures no longer count."""
        self._failures.pop(key, None)

    def forget_one(self, key: str) -> None:
        """A success for a shared key (a client address): its latest count no longer counts."""
        failures = self._failures.get(key)
        if failures:
            failures.pop()
