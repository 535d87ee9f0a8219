"""Clean-up of the Person Server's expired rows, so that nothing an agent, a client or a person
leaves behind grows without bound (OWASP ASVS level 2, V11.1.4: -11 is silent on it).

:func:`sweep` runs every :attr:`~.context.Caps.sweep_interval` seconds as a task of the PS
app's lifespan, on the event loop that serves the PS (:func:`lifespan`).  One sweep:

* moves live pending requests whose time ran out to ``expired`` (audited ``pending_expired``,
  as a poll finding them would), so they hold no cap place and no interaction code;
* deletes finished pending requests whose ``expires_at`` lies more than ``retention`` back
  (their pending URL then answers ``404``);
* deletes the records of issued tokens, revocations and noted agent tokens whose ``exp`` lies
  more than ``retention`` back (-11 "Person Token Endpoint": a person token's record outlives
  its ``exp`` by more than any resource token's lifetime; a revocation is moot once the token
  has expired);
* deletes expired login sessions;
* deletes registrations never approved that no live request waits for, once they are older
  than a pending request's lifetime;
* forgets the ``slow_down`` deadlines that have passed.

The audit log is never swept: it is the record of what happened, append-only (-11
"Non-Repudiation and Audit After Key Rotation": durable audit records).  Missions are kept
too: a terminated mission keeps its state and its updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from .context import Context

log = logging.getLogger(__name__)


def sweep(ctx: Context) -> dict[str, int]:
    """One sweep at ``ctx.clock()``; returns how many rows of each kind it ended."""
    now = ctx.clock()
    before = now - ctx.config.caps.retention
    expired = ctx.store.expire_due()
    for pending_id in expired:
        ctx.store.audit(ctx.identifier, "pending_expired", pending_id)
        ctx.waiters.notify(pending_id)
    done = {
        "pending_expired": len(expired),
        "pending": ctx.store.forget_finished(before),
        "tokens": ctx.store.forget_tokens(before),
        "revocations": ctx.store.forget_expired(before),
        "sessions": ctx.store.forget_sessions(),
        "registrations": ctx.store.forget_unapproved(now - ctx.config.pending_ttl),
    }
    for pending_id, not_before in list(ctx.poll_not_before.items()):
        if not_before <= now:
            ctx.poll_not_before.pop(pending_id, None)
    return done


async def _sweeping(ctx: Context) -> None:
    while True:
        await asyncio.sleep(ctx.config.caps.sweep_interval)
        try:
            sweep(ctx)
        except Exception:  # a failed sweep is retried at the next interval; the server goes on
            log.exception("%s: the sweep of expired rows failed", ctx.identifier)


def lifespan(ctx: Context):
    """The PS app's lifespan (Starlette ``lifespan``): sweeps while the app runs."""

    @contextlib.asynccontextmanager
    async def running(app) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeping(ctx))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return running
