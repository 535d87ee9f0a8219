"""Counting attempts per key in a sliding window: after ``limit`` within ``window`` seconds
the key is refused ``429 rate_limited`` with ``Retry-After`` until the oldest ages out.

The Person Server throttles wrong interaction codes per person (-11 "Interaction Code
Format": the server MUST rate-limit code-validation attempts).  Kept in memory: a restart
forgets the counts, which bounds nothing an attacker could not get by waiting a window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

from aauth_kit.errors import AAuthError


class Throttle:
    """At most ``limit`` counted attempts per key in any ``window`` seconds of ``clock``."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float], *, what: str):
        self.limit, self.window, self.clock, self.what = limit, window, clock, what
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def check(self, key: str) -> None:
        """``429 rate_limited`` (with ``Retry-After``) if ``key`` used up its attempts."""
        now = self.clock()
        with self._lock:
            seen = self._recent(key, now)
            if len(seen) < self.limit:
                if not seen:
                    self._seen.pop(key, None)
                return
            retry_after = max(1, math.ceil(seen[0] + self.window - now))
        raise AAuthError(
            "rate_limited", f"too many {self.what}; try again in {retry_after} s", retry_after=retry_after
        )

    def count(self, key: str) -> None:
        """Count one attempt of ``key``."""
        now = self.clock()
        with self._lock:
            self._recent(key, now).append(now)
