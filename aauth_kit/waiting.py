"""Waiting in a notebook cell for what a flow on the loop thread is doing.

A consent flow runs in the background (in Jupyter a widget click cannot arrive while a cell
runs, so the agent's flow runs on the kit's loop thread).  Before the next cell plays
the person's part, it waits for the agent to reach the point the lesson is about: the
interaction code has been handed over, and the agent's poll of the pending URL is
held at the Person Server under ``Prefer: wait`` (-11 "Deferred Responses").  Waiting
for that point — not for a fixed time — keeps the trace in the same order on every
run.  Every wait is bounded: a flow that never gets there raises, it never hangs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import UsageError

T = TypeVar("T")

#: Seconds a wait may take before it is reported as stuck (a hang guard, not a deadline).
TIMEOUT = 30.0


class StuckError(TimeoutError):
    """The awaited point was not reached within the hang guard."""


def wait_until(
    condition: Callable[[], T], *, timeout: float = TIMEOUT, what: str = "the condition", flow: Any = None
) -> T:
    """Call ``condition()`` until it returns something truthy, and return that.

    ``flow`` (a ``concurrent.futures.Future`` of the background flow): if it ends first,
    its exception is raised (or :class:`StuckError` if it ended fine without reaching
    the point).  :class:`StuckError` after ``timeout`` seconds.
    """
    if timeout <= 0:
        raise UsageError("timeout must be positive")
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if flow is not None and flow.done():
            flow.result()  # raises the flow's own error, which says more than ours
            raise StuckError(f"the flow ended before {what}")
        if time.monotonic() > deadline:
            raise StuckError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.01)


def held_poll(ps, code: str, *, timeout: float = TIMEOUT, flow: Any = None):
    """Wait until the agent's poll for the request with interaction ``code`` is held at
    ``ps`` (or the request has already moved on: decided, expired); return the
    request (``PSStore`` ``Pending``)."""
    pending = wait_until(
        lambda: ps.store.find_by_code(code),
        timeout=timeout,
        flow=flow,
        what=f"a live request with code {code}",
    )

    def held():
        current = ps.store.get_pending(pending.id)
        return (
            current
            if ps.waiters.held(pending.id) or current.status not in ("pending", "interacting")
            else None
        )

    return wait_until(held, timeout=timeout, flow=flow, what=f"a held poll for {pending.id}")


__all__ = ["StuckError", "TIMEOUT", "held_poll", "wait_until"]
