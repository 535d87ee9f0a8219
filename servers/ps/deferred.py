"""Deferred responses at the Person Server (-11 "Deferred Responses"): a request that waits
for the person is answered ``202`` with its pending URL; polls of that URL are held under
``Prefer: wait`` until the person decides, then get the one final answer.

``202`` carries ``Location`` (the pending URL, bound to the thumbprint of the agent key that
asked), ``Retry-After``, ``Cache-Control: no-store`` and ``AAuth-Requirement:
requirement=interaction; url; code`` (-11 "Interaction Required").  Final answers: ``200``
with what the approved request asked for, ``403 denied``, ``403 abandoned``, ``403 revoked``
(the agent token was revoked while the request waited), ``408 expired``; afterwards ``410``.
Polling faster than ``Retry-After`` without ``Prefer: wait`` is ``429 slow_down``;
``DELETE`` cancels (-11 "Polling Error Codes").  While the person's question is open the
``202`` carries ``requirement=clarification`` and the question, the poll is not held, and
``POST`` takes the agent's answer (-11 "Clarification Chat", :mod:`.clarification`).

Caps (:class:`~.context.Caps`): an agent may leave at most ``pending_per_agent`` requests
waiting (one more is ``429 rate_limited`` with ``Retry-After``), and have at most
``held_polls_per_agent`` polls held at once.  A poll past that is answered at once, as if it
had not asked to wait: ``Prefer: wait`` is a preference the server may decline (RFC 7240 §2;
-11 "Polling with GET": the agent "MAY" send it), and the ``202``'s ``Retry-After`` is the poll
interval again, so an agent that polls sooner gets the draft's own ``429 slow_down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import threading
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.asgi import problem_response
from aauth_kit.consent_policy import strings
from aauth_kit.deferred_headers import parse_prefer_wait
from aauth_kit.errors import AAuthError
from aauth_kit.headers import HeaderError, serialize_requirement
from aauth_kit.interaction import format_code
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.profile import VerifiedRequest

from . import clarification
from .context import Context, over_cap
from .minting import token_response
from .store.missions import Mission
from .store.pending import LIVE, Pending
from .verification import signed_request

#: Seconds a non-waiting poller must leave between polls (its ``Retry-After``).
POLL_INTERVAL = 5
#: The longest a poll is held, whatever ``Prefer: wait`` asks (RFC 7240 lets a server honour less).
MAX_WAIT = 300
_FINAL_ERRORS = {
    "denied": "denied",
    "abandoned": "abandoned",
    "expired": "expired",
    "revoked": "revoked",
    "failed": "server_error",  # -11 "Interaction Callback Errors": the resource's flow failed
}


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


# -- a request that needs the person ----------------------------------------------------------
def can_interact(body: dict, *, undeclared: bool = False, mission: Mission | None = None) -> bool:
    """-11 "Agent Token Request" ``capabilities`` (strings): may the agent send its person to an
    interaction page?  Declared, they hold for this request; undeclared, within a ``mission`` the
    ones captured at its approval, else none (-11 "AAuth-Capabilities Request Header") —
    ``undeclared`` answers then (the AP's registration keeps asking the person)."""
    capabilities = body.get("capabilities")
    if capabilities is None:
        return "interaction" in (mission.capabilities or ()) if mission is not None else undeclared
    if not strings(capabilities):
        raise AAuthError("invalid_request", "capabilities must be an array of strings")
    return "interaction" in capabilities


def reachable(can_interact: bool) -> None:
    """The answer needs the person: an agent that cannot show an interaction gets the
    terminal ``403 user_unreachable``."""
    if not can_interact:
        raise AAuthError(
            "user_unreachable", "the person's consent is needed and the agent cannot show an interaction"
        )


async def who_asks(ctx: Context, agent_iss: str, agent_id: str) -> dict:
    """What the consent page shows of the agent ``(agent_iss, agent_id)`` (-11 "Agent-Person
    Binding": the agent provider's name beside the agent's): ``agent_name`` as registered
    here for that very pair, else its provider's ``name``; ``agent_provider_name`` from the
    provider's metadata (``None`` if unreachable)."""
    agent = ctx.store.get_agent(agent_id, ap_issuer=agent_iss)
    provider = None
    with contextlib.suppress(AAuthError):
        name = (await ctx.resolver.metadata(agent_iss, AGENT_DWK)).get("name")
        provider = name if isinstance(name, str) else None
    own = agent.name if agent is not None else None
    return {
        "agent_name": own or (provider if agent_iss != ctx.identifier else None),
        "agent_provider_name": provider,
    }


async def defer(
    ctx: Context,
    message: HttpMessage,
    kind: str,
    agent: tuple[str, str],
    verified: VerifiedRequest,
    request_data: dict,
    *,
    resource: str | None = None,
    scope: str | None = None,
    justification: str | None = None,
    admit: Callable[[], None] | None = None,
    expires_in: float | None = None,
) -> Response:
    """Store the request of ``agent`` (its ``(iss, sub)``) as pending (-11 "Pending Response")
    and answer ``202``.  The caps are checked just before the request is stored, with no
    ``await`` between, so requests sent together meet them too: the agent's live requests
    (``429 rate_limited``), then ``admit()`` (the caller's own cap, raising).  ``expires_in``
    shortens the wait for the person below the PS's ``pending_ttl``."""
    agent_iss, agent_id = agent
    request_data = {
        **request_data,
        **await who_asks(ctx, agent_iss, agent_id),
        "agent_jkt": verified.key.thumbprint(),
        "capabilities": clarification.declared_capabilities(message),
    }
    waiting = ctx.store.live_pending(agent=agent)
    if len(waiting) >= ctx.config.caps.pending_per_agent:
        raise over_cap("pending requests of this agent", (p.expires_at for p in waiting), ctx.clock())
    if admit is not None:
        admit()
    for _ in range(100):  # injected ids and codes may repeat after a restart: take the next
        try:
            pending = ctx.store.create_pending(
                kind,
                agent_id=agent_id,
                agent_iss=agent_iss,
                agent_jkt=verified.key.thumbprint(),
                request=request_data,
                expires_in=min(expires_in or ctx.config.pending_ttl, ctx.config.pending_ttl),
                resource=resource,
                scope=scope,
                justification=justification,
                code=ctx.config.code_factory(),
                pending_id=ctx.config.id_factory(),
            )
            break
        except AAuthError as error:
            if error.code != "conflict":
                raise
    else:
        raise AAuthError("server_error", "could not allocate a pending request id and code")
    ctx.store.audit(
        agent_id,
        f"{kind}_requested",
        resource or agent_id,
        {"pending_id": pending.id, "scope": scope, "justification": justification},
        person=request_data.get("person"),
    )
    return _pending_response(ctx, pending, waiting=bool(_prefer_wait(message)))


def _pending_response(ctx: Context, pending: Pending, *, waiting: bool) -> Response:
    """``202``: come back to ``Location`` — at once when the poll will be held
    (``Prefer: wait``), else after the poll interval."""
    retry_after = 0 if waiting else ctx.config.poll_interval
    ctx.poll_not_before[pending.id] = ctx.clock() + retry_after
    body = {"status": pending.status}
    question = clarification.requirement(ctx, pending)  # -11 "Clarification Required"
    if question is not None:
        requirement, members = question
        body.update(members)
    elif pending.request.get("reached"):  # the PS reaches the person itself (-11 "Approval Pending")
        requirement = serialize_requirement("approval")
    else:
        requirement = serialize_requirement(
            "interaction", url=f"{ctx.identifier}/interaction", code=format_code(pending.code), dev=ctx.dev
        )
    headers = {
        "Location": f"{ctx.identifier}/pending/{pending.id}",
        "Retry-After": str(retry_after),
        "Cache-Control": "no-store",
        "AAuth-Requirement": requirement,
    }
    return JSONResponse(body, status_code=202, headers=headers)


def _prefer_wait(message: HttpMessage) -> int:
    """``Prefer: wait`` in seconds (0 when absent; a malformed preference is ignored, RFC 7240 §2)."""
    try:
        return min(parse_prefer_wait(message.header("prefer")) or 0, MAX_WAIT)
    except HeaderError:
        return 0


# -- the pending URL ----------------------------------------------------------------------------
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
    wait, pending_id = _prefer_wait(message), pending.id
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
        return _pending_response(ctx, pending, waiting=bool(wait))
    return await _final_answer(ctx, pending)


async def _final_answer(ctx: Context, pending: Pending) -> Response:
    """The one final answer of a decided request; ``410`` after it."""
    if pending.status == "cancelled" or pending.answered_at is not None:
        raise _gone()
    if pending.status == "approved":
        await _complete(ctx, pending)
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
    if pending.status in LIVE:
        try:
            pending = await clarification.respond(ctx, message, pending)
        except AAuthError as error:
            if error.code not in ("conflict", "expired"):  # decided or expired meanwhile: answer below
                raise
            pending = _current(ctx, pending_id)
    if pending.status in LIVE:
        return _pending_response(ctx, pending, waiting=bool(_prefer_wait(message)))
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
