"""The lab's clock: in docs mode every notebook run sees the same "now", so its tokens, pending
requests and outputs are the same each time; in either mode a notebook can move time on to
show expiry."""

from __future__ import annotations

import time

DOCS_EPOCH = 1_790_000_000  # 2026-09-21 14:13:20 UTC, the docs-mode "now"


class LabClock:
    """Seconds since the epoch, frozen (docs mode) or real, and movable either way:
    ``advance(600)`` makes pending requests and tokens ten minutes older."""

    def __init__(self, frozen_at: float | None = None):
        self.frozen_at = frozen_at
        self.offset = 0.0

    def __call__(self) -> float:
        base = self.frozen_at if self.frozen_at is not None else time.time()
        return base + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
