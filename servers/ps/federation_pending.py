"""A four-party request waiting for what its Access Server asked (-11 "AS Response"):
``requirement=interaction`` — "The PS directs the user to the AS's interaction URL, or passes
the interaction requirement back to the agent" — or ``requirement=approval`` (the AS obtains
approval without the user's direction).  This PS passes both back, and a
``requirement=clarification`` to an agent that declared it can answer: the agent's
``clarification_response`` POSTed to the pending URL goes on to the AS (:func:`relay_answer`).

The agent gets this PS's own ``202`` (-11 "Pending Response"): ``Location`` its pending URL
here, ``Retry-After``, ``Cache-Control: no-store`` and ``AAuth-Requirement`` shaped as the
PS's own — for an interaction the AS's ``url`` and ``code``, which the agent shows the person
(-11 "Interaction Required").  The request is kept in the PS's store (status
``at_access_server``, the AS's ``Location`` in the request), so it outlives a restart.

Each poll of the pending URL (by the agent that made the request, like every poll) asks the
AS's ``Location``, signed as this PS, for at most :data:`~.federation_exchange.FEDERATION_TIMEOUT`
seconds — longer under ``Prefer: wait``, polling the AS at its ``Retry-After`` while it is
pending, up to :data:`HOLD` seconds: ``202`` while the AS waits, ``200`` with the auth token
once the AS grants it and it verifies (-11 "Auth Token Delivery"), the AS's refusal relayed
with its code and status (``403 denied``, ``408 expired``, …); then ``410``.  One poll at a
time asks the AS; a poll faster than ``Retry-After`` without ``Prefer: wait`` is ``429
slow_down``; ``DELETE`` cancels; a request whose mission ended meanwhile gets ``403
mission_terminated`` and no token.  Such requests count towards the agent's
``pending_per_agent`` cap (:class:`~.context.Caps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from starlette.responses import Response

from aauth_kit.asgi import problem_response
from aauth_kit.errors import AAuthError
from aauth_kit.headers import serialize_requirement
from aauth_kit.message import HttpMessage, require_json_object
from aauth_kit.profile import VerifiedRequest

from . import clarification
from .context import Context, over_cap
from .deferred import accepted, prefer_wait
from .federation_exchange import FEDERATION_TIMEOUT, AccessServerPending, answer, exchange, passed_down, send
from .minting import token_response
from .missions import still_active
from .store.pending import AT_ACCESS_SERVER, Pending

#: The longest a poll waits for the AS under ``Prefer: wait`` (seconds).
HOLD = 10
#: The shortest pause between two polls of the AS within one held poll (seconds).
MIN_PAUSE = 0.5
#: ``Retry-After`` of an answer refused while the agent's held polls are all taken (seconds).
MIN_RETRY = 1
KIND = clarification.FEDERATED
#: The request's status after the AS's refusal (bookkeeping: the refusal is what the agent gets).
_ENDED = {"denied": "denied", "abandoned": "abandoned", "expired": "expired", "revoked": "revoked"}


async def create(
    ctx: Context,
    message: HttpMessage,
    agent: tuple[str, str],
    verified: VerifiedRequest,
    data: dict,
    state: dict,
) -> Response:
    """Keep a request the AS answered with ``state`` (no consent asked here) and answer ``202``."""
    waiting = [*ctx.store.live_pending(agent=agent), *ctx.store.at_access_server(agent)]
    if len(waiting) >= ctx.config.caps.pending_per_agent:
        raise over_cap("pending requests of this agent", (p.expires_at for p in waiting), ctx.clock())
    federation = data["federation"]
    request = {**data, "consented": False, "access_server_pending": state}
    for _ in range(100):  # injected ids may repeat after a restart: take the next
        try:
            pending = ctx.store.create_pending(
                KIND,
                agent_id=agent[1],
                agent_iss=agent[0],
                agent_jkt=verified.key.thumbprint(),
                request=request,
                expires_in=ctx.config.pending_ttl,
                resource=federation["resource"],
                scope=federation["scope"],
                pending_id=ctx.config.id_factory(),
                status=AT_ACCESS_SERVER,
            )
            break
        except AAuthError as error:
            if error.code != "conflict":
                raise
    else:
        raise AAuthError("server_error", "could not allocate a pending request id")
    _audit(ctx, pending, state)
    return pending_response(ctx, pending, waiting=bool(prefer_wait(message)))


def wait(ctx: Context, pending: Pending, state: dict) -> Pending:
    """The person approved, and the AS asks ``state``: the request waits at the AS now."""
    request = {**pending.request, "consented": True, "access_server_pending": state}
    waiting = ctx.store.wait_at_access_server(pending.id, request, ctx.clock() + ctx.config.pending_ttl)
    _audit(ctx, waiting, state)
    return waiting


def _audit(ctx: Context, pending: Pending, state: dict) -> None:
    details = {"pending_id": pending.id, "requirement": state["requirement"], "scope": pending.scope}
    ctx.store.audit(
        pending.agent_id,
        "access_server_requirement",
        pending.resource or pending.agent_id,
        details,
        person=pending.request.get("person"),
    )


def pending_response(ctx: Context, pending: Pending, *, waiting: bool) -> Response:
    """This PS's ``202`` carrying the AS's requirement (see the module doc)."""
    state = pending.request["access_server_pending"]
    retry_after = 0 if waiting else ctx.config.poll_interval
    ctx.poll_not_before[pending.id] = ctx.clock() + retry_after
    body = {"status": state["status"]}
    if state["requirement"] == "interaction":
        requirement = serialize_requirement("interaction", url=state["url"], code=state["code"], dev=ctx.dev)
    else:
        requirement = serialize_requirement(state["requirement"])
        body.update(state.get("clarification") or {})  # -11 "Clarification Required"
    return accepted(ctx, pending, retry_after, requirement, body)


async def poll(ctx: Context, message: HttpMessage, pending: Pending) -> Response:
    """A poll of the pending URL of a request waiting at its AS (see the module doc)."""
    wait_for = prefer_wait(message)
    ctx.store.record_poll(pending.id)
    if pending.expires_at <= ctx.clock():
        ctx.store.settle_at_access_server(pending.id, "expired", {"error": "expired"})
        raise AAuthError("expired", "the Access Server did not answer in time")
    not_before = ctx.poll_not_before.get(pending.id, 0)
    if not wait_for and ctx.clock() < not_before:
        retry_after = math.ceil(not_before - ctx.clock())
        return problem_response(
            AAuthError("slow_down", f"poll again in {retry_after} s, or send Prefer: wait"),
            {"Retry-After": str(retry_after)},
        )
    if pending.id in ctx.asking_access_server:  # another poll is asking the AS now
        return pending_response(ctx, pending, waiting=bool(wait_for))
    limit = ctx.config.caps.held_polls_per_agent if wait_for else 0
    ctx.asking_access_server.add(pending.id)
    try:
        with ctx.waiters.hold((pending.agent_iss, pending.agent_id), limit) as held:
            return await _ask(ctx, pending, min(wait_for, HOLD) if held else 0, waiting=bool(wait_for))
    finally:
        _asked(ctx, pending.id)


async def relay_answer(ctx: Context, message: HttpMessage, pending: Pending) -> Response:
    """``POST`` at the pending URL while the AS's question is open: the agent's
    ``clarification_response`` goes on to the AS's ``Location`` (-11 "Clarification Response"),
    and its answer is the reply.  A missing or unknown ``action`` is ``400 invalid_request``
    (MUST), as is an answer when no question is open."""
    body = require_json_object(message.body, '{"action": "clarification_response", ...}')
    if body.get("action") not in clarification.ACTIONS:
        raise AAuthError(
            "invalid_request", 'action must be "clarification_response" or "updated_request" (DELETE cancels)'
        )
    if body["action"] != "clarification_response":
        raise AAuthError("invalid_request", "this PS passes only clarification_response to an Access Server")
    text = body.get("clarification_response")
    if not (isinstance(text, str) and text.strip() and len(text) <= clarification.MAX_TEXT):
        raise AAuthError(
            "invalid_request",
            f"clarification_response must be non-empty Markdown of at most {clarification.MAX_TEXT} characters",
        )
    await _after_the_poll_asking(ctx, pending)
    pending_id, pending = pending.id, ctx.store.get_pending(pending.id)
    if pending is None or pending.status != AT_ACCESS_SERVER:  # answered, cancelled or revoked meanwhile
        _moved_on(ctx, pending_id)
    if pending.request["access_server_pending"]["requirement"] != "clarification":
        raise AAuthError("invalid_request", "no question is open for this request")
    answer_body = {"action": "clarification_response", "clarification_response": text}
    ctx.asking_access_server.add(pending.id)
    try:
        return await _ask(ctx, pending, 0, waiting=bool(prefer_wait(message)), answer_body=answer_body)
    finally:
        _asked(ctx, pending.id)


async def _after_the_poll_asking(ctx: Context, pending: Pending) -> None:
    """Wait while a poll asks the AS (one at a time asks it), woken when it is done, for at
    most :data:`HOLD` + ``FEDERATION_TIMEOUT`` seconds.  Such a wait is a held poll of the
    agent: past its ``held_polls_per_agent`` it is ``429 rate_limited`` (-11 is silent; OWASP
    ASVS level 2 V11.1.4, anti-automation)."""
    if pending.id not in ctx.asking_access_server:
        return
    agent, limit = (pending.agent_iss, pending.agent_id), ctx.config.caps.held_polls_per_agent
    with ctx.waiters.watch(pending.id) as done, ctx.waiters.hold(agent, limit) as held:
        if not held:
            raise AAuthError(
                "rate_limited", "too many held polls of this agent; try again later", retry_after=MIN_RETRY
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD + FEDERATION_TIMEOUT):
                while pending.id in ctx.asking_access_server:
                    await done.wait()
                    done.clear()


def _asked(ctx: Context, pending_id: str) -> None:
    """The poll asking the AS for ``pending_id`` is done: wake an answer waiting for it."""
    ctx.asking_access_server.discard(pending_id)
    ctx.waiters.notify(pending_id)


async def _ask(
    ctx: Context, pending: Pending, hold: float, *, waiting: bool, answer_body: dict | None = None
) -> Response:
    """Ask the AS (again every ``Retry-After`` for ``hold`` seconds while it is pending);
    ``answer_body`` is POSTed first, the agent's answer to the AS's question."""
    data = pending.request
    federation, person = data["federation"], data["person"]
    agent = (pending.agent_iss, pending.agent_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold
    state, result = data["access_server_pending"], None
    try:
        while result is None:

            async def first(client, location=state["location"], sent=answer_body):
                return await send(ctx, client, "POST" if sent else "GET", location, sent)

            answer_body = None
            response = await exchange(
                ctx,
                federation["access_server"],
                first,
                person,
                consented=data["consented"],
                passes_down=passed_down(data.get("capabilities")),
            )
            try:
                result = await answer(ctx, response, federation, person, agent)
            except AccessServerPending as asked:
                state = asked.state
                pause = max(state["retry_after"], MIN_PAUSE)
                if state["requirement"] == "clarification" or loop.time() + pause >= deadline:
                    break  # a question goes to the agent at once: it is what the agent must act on
                await asyncio.sleep(pause)
        if result is not None:
            still_active(ctx, data.get("mission_s256"))  # -11 "Mission Status Errors"
    except AAuthError as error:
        ctx.store.settle_at_access_server(pending.id, _ENDED.get(error.code, "failed"), {"error": error.code})
        ctx.poll_not_before.pop(pending.id, None)
        raise
    if result is None:  # still pending at the AS
        try:
            kept = ctx.store.wait_at_access_server(
                pending.id, {**data, "access_server_pending": state}, pending.expires_at
            )
        except AAuthError:
            _moved_on(ctx, pending.id)
        return pending_response(ctx, kept, waiting=waiting)
    ctx.poll_not_before.pop(pending.id, None)
    if ctx.store.settle_at_access_server(pending.id, "completed", result) is None:
        _moved_on(ctx, pending.id)
    return token_response(result)


def _moved_on(ctx: Context, pending_id: str) -> None:
    """The request stopped waiting at the AS while this poll asked: revoked (``403 revoked``,
    once) or cancelled or answered (``410``)."""
    now = ctx.store.get_pending(pending_id)
    if now is not None and now.status == "revoked" and ctx.store.claim_answer(pending_id) is not None:
        raise AAuthError("revoked", "the agent token was revoked while the request waited")
    raise AAuthError("invalid_code", "this pending request has already given its answer", status=410)
