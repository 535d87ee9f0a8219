"""The Person Server's pending URL (-11 "Deferred Responses"): ``GET``, ``POST`` and
``DELETE`` on ``/pending/{id}`` by the agent that made the request.

Polls are held under ``Prefer: wait`` until the person decides (:mod:`.waiters`), then get the
one final answer: ``200`` with what the approved request asked for, ``403 denied``, ``403
abandoned``, ``403 revoked`` (the agent token was revoked while the request waited), ``408
expired``; afterwards ``410``.  Polling faster than ``Retry-After`` without ``Prefer: wait``
is ``429 slow_down``; ``DELETE`` cancels (-11 "Polling Error Codes").  While the person's
question is open the poll is not held, and ``POST`` takes the agent's answer (-11
"Clarification Chat", :mod:`.clarification`).

An agent may have at most ``held_polls_per_agent`` polls held at once (:class:`~.context.Caps`).
A poll past that is answered at once, as if it had not asked to wait: ``Prefer: wait`` is a
preference the server may decline (RFC 7240 §2), and the ``202``'s ``Retry-After`` is the poll
interval again, so an agent that polls sooner gets the draft's own ``429 slow_down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit.asgi import problem_response
from aauth_kit.errors import AAuthError
from aauth_kit.message import HttpMessage
from aauth_kit.profile import VerifiedRequest

from . import clarification, federation_pending
from .context import Context
from .deferred import pending_response, prefer_wait
from .federation_exchange import AccessServerPending
from .minting import token_response
from .store.pending import AT_ACCESS_SERVER, LIVE, Pending
from .verification import signed_request

_FINAL_ERRORS = {
    "denied": "denied",
    "abandoned": "abandoned",
    "expired": "expired",
    "revoked": "revoked",
    "failed": "server_error",  # -11 "Interaction Callback Errors": the resource's flow failed
}


def _gone() -> AAuthError:
    """After its final answer (or a cancel) the pending URL is gone (-11 "Polling Error Codes")."""
    return AAuthError("invalid_code", "this pending request has already given its answer", status=410)


def _current(ctx: Context, pending_id: str) -> Pending:
    """The request, moved to ``expired`` first if its time ran out."""
    pending = ctx.store.get_pending(pending_id)
    if pending.status in LIVE and pending.expires_at <= ctx.clock():
        for expired in ctx.store.expire_due():
            ctx.store.audit(ctx.identifier, "pending_expired", expired)
        pending = ctx.store.get_pending(pending_id)
    return pending


async def _poll(ctx: Context, message: HttpMessage, pending: Pending) -> Response:
    """-11 "Polling with GET": held under ``Prefer: wait`` until the state changes, if the
    agent has a place for one more held poll (else answered as a poll without it)."""
    if pending.status == AT_ACCESS_SERVER:  # -11 "AS Response": the AS is asked
        return await federation_pending.poll(ctx, message, pending)
    wait, pending_id = prefer_wait(message), pending.id
    ctx.store.record_poll(pending_id)
    limit = ctx.config.caps.held_polls_per_agent if wait else 0
    agent = (pending.agent_iss, pending.agent_id)
    with ctx.waiters.watch(pending_id) as changed, ctx.waiters.hold(agent, limit) as held:
        wait = wait if held else 0
        pending = _current(ctx, pending_id)
        not_before = ctx.poll_not_before.get(pending_id, 0)
        if pending.status in LIVE and not wait and ctx.clock() < not_before:
            retry_after = math.ceil(not_before - ctx.clock())
            return problem_response(
                AAuthError("slow_down", f"poll again in {retry_after} s, or send Prefer: wait"),
                {"Retry-After": str(retry_after)},
            )
        if pending.status in LIVE and wait and clarification.open_question(pending) is None:
            # held until the state changes, the wait ends, or the request expires (an open
            # question goes to the agent at once: it is what the agent must act on)
            timeout = min(wait, pending.expires_at - ctx.clock() + 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), max(timeout, 0))
            pending = _current(ctx, pending_id)
    if pending.status in LIVE:
        return pending_response(ctx, pending, waiting=bool(wait))
    return await _final_answer(ctx, pending, waiting=bool(wait))


async def _final_answer(ctx: Context, pending: Pending, *, waiting: bool = False) -> Response:
    """The one final answer of a decided request; ``410`` after it."""
    if pending.status == "cancelled" or pending.answered_at is not None:
        raise _gone()
    if pending.status == "approved":
        try:
            await _complete(ctx, pending)
        except AccessServerPending:  # the AS asks what goes down to the agent (-11 "AS Response")
            pending = ctx.store.get_pending(pending.id)
            if pending.status == AT_ACCESS_SERVER:
                return federation_pending.pending_response(ctx, pending, waiting=waiting)
    answered = ctx.store.claim_answer(pending.id)
    if answered is None:
        raise _gone()
    ctx.poll_not_before.pop(pending.id, None)
    if answered.status == "completed":
        return token_response(answered.result)
    if answered.status == "denied" and answered.kind in ctx.refusals:
        return token_response(ctx.refusals[answered.kind](ctx, answered))
    raise AAuthError(_FINAL_ERRORS[answered.status], f"the pending request ended: {answered.status}")


async def _complete(ctx: Context, pending: Pending) -> None:
    """Mint (or, four-party, fetch from the AS) what an approved request asked for and store it
    as the poll's result."""
    result = ctx.completions[pending.kind](ctx, pending)
    if inspect.isawaitable(result):
        result = await result
    with contextlib.suppress(AAuthError):  # a concurrent poll completed it first: its result stands
        ctx.store.set_result(pending.id, result)


def _cancel(ctx: Context, pending_id: str) -> Response:
    """``DELETE``: the agent withdraws a live request (later requests: ``410``)."""
    try:
        pending = ctx.store.cancel(pending_id)
    except AAuthError as error:
        raise _gone() if error.code in ("conflict", "expired") else error from None
    ctx.store.audit(
        pending.agent_id,
        "pending_cancelled",
        pending.resource or pending.agent_id,
        {"pending_id": pending_id},
    )
    ctx.waiters.notify(pending_id)
    return Response(status_code=204)


async def _clarification_response(ctx: Context, message: HttpMessage, pending_id: str) -> Response:
    """``POST``: the agent answers the person's question or updates its request
    (:func:`.clarification.respond`) and resumes polling: the answer is the poll's ``202``.
    A request that has ended meanwhile answers as its poll would (its final answer, or ``410``)."""
    pending = _current(ctx, pending_id)
    if pending.status == AT_ACCESS_SERVER:  # the AS asked (-11 "AS Response")
        return await federation_pending.relay_answer(ctx, message, pending)
    if pending.status in LIVE:
        try:
            pending = await clarification.respond(ctx, message, pending)
        except AAuthError as error:
            if error.code not in ("conflict", "expired"):  # decided or expired meanwhile: answer below
                raise
            pending = _current(ctx, pending_id)
    if pending.status in LIVE:
        return pending_response(ctx, pending, waiting=bool(prefer_wait(message)))
    return await _final_answer(ctx, pending)


def _same_agent(pending: Pending, verified: VerifiedRequest) -> bool:
    """-11 "Pending URL Security": the agent's identity is verified on every poll.  A
    registration (``agent_approval``, asked with a bare key) is polled with that key; any other
    request only with an agent token of the same agent, ``(iss, sub)``, binding the key that
    asked — so after ``POST /agent/rotate`` the old key (its agent token revoked) collects
    nothing, signing with ``hwk`` included."""
    if pending.kind == "agent_approval":
        return True
    token = verified.token
    return token is not None and (token.iss, token.sub) == (pending.agent_iss, pending.agent_id)


def routes(ctx: Context) -> list[Route]:
    async def pending_endpoint(request: Request) -> Response:
        """``GET``/``POST``/``DELETE`` the pending URL, signed by the agent that created it
        (anyone else: ``404``, the URL is not theirs to see)."""
        message, verified = await signed_request(ctx, request, schemes=("jwt", "hwk"))
        pending_id = request.path_params["pending_id"]
        pending = ctx.store.get_pending(pending_id, agent_jkt=verified.key.thumbprint())
        if pending is None or not _same_agent(pending, verified):
            raise AAuthError("not_found", "no pending request at this URL for this agent key")
        if request.method == "DELETE":
            return _cancel(ctx, pending_id)
        if request.method == "POST":
            return await _clarification_response(ctx, message, pending_id)
        return await _poll(ctx, message, pending)

    return [Route("/pending/{pending_id}", pending_endpoint, methods=["GET", "POST", "DELETE"])]
