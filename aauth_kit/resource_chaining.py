"""A resource acting as an agent chains its downstream interaction to its caller (-11
"Interaction Chaining", "Multi-Hop Resource Access").

:meth:`InteractionChaining.run` runs the work that calls downstream (the resource's own
:class:`~aauth_kit.agent.Agent`, told of an interaction through ``on_interaction``).  If the work
finishes first, its response is the answer.  If the downstream PS answers ``202`` with
``requirement=interaction`` first, the resource "MUST return a 202 Accepted response to the
original agent with its own AAuth-Requirement header containing requirement=interaction and its
own interaction code" and "its own Location URL": a row among the resource's held invocations
(:mod:`aauth_kit.resource_held`, the same ``/pending/{id}``, caps and sweep) whose poller is a
:class:`ChainedCall`.  The work goes on in the background, its own agent polling the PS; "when
the user completes interaction and the resource obtains the downstream auth token, the resource
completes the original request and returns the result at its pending URL".

The interaction URL the resource gives is its own page, ``/interaction/downstream?code=…``,
which sends the person on to the downstream interaction, as -11 "Interaction Chaining" (the
appendix) draws it: "R1 redirects to PS".  The code is single-use.  With a ``callback`` (the
original agent's), the PS sends the person back to this resource first ("redirect to R1
callback"), which waits for the work to finish and then sends them on to that callback, with
the PS's ``error`` if there was one ("redirect to agent callback").

Who may poll: the key that made the original request (the held row checks it) presenting a
token of the same ``(iss, sub)``; anyone else gets ``404 not_found``.  A downstream failure is
relayed with its own code (``403 denied``, ``408 expired``, -11 "Polling Error Codes"); a chained
request nobody completes within the held rows' ``ttl`` is ``408 expired``.  At most
:data:`MAX_CHAINED` chained calls run at once, :data:`MAX_CHAINED_PER_ISSUER` for the callers
one issuer vouches for (an Agent Provider or PS, which anyone can run) and, inside that share,
:data:`MAX_CHAINED_PER_AGENT` for one agent with its sub-agents (or one person:
:func:`~aauth_kit.resource_sessions.agent_share`), so that one agent cannot use up its issuer's
share; finished calls count toward none: ``429 rate_limited`` + ``Retry-After``.  The page
takes no session, so wrong codes are throttled per client address (:data:`WRONG_CODES_PER_ADDRESS`,
-11 "Interaction Code Format": rate limited; the sizes follow OWASP ASVS level 2, the draft is
silent on them).  The downstream auth token is the
resource's own, bound to its agent key: nothing of the caller's key travels on.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import headers
from .asgi import problem_response
from .deferred_headers import parse_prefer_wait
from .errors import AAuthError
from .identifiers import check_callback_url
from .interaction import CALLBACK_ERRORS, codes_equal
from .resource_held import MAX_WAIT, PENDING_PATH, Held, HeldInvocations, _copy
from .resource_login import WINDOW
from .resource_sessions import agent_share
from .throttle import Throttle

DOWNSTREAM_PATH = "/interaction/downstream"
RETURN_PATH = f"{DOWNSTREAM_PATH}/return"
#: Chained calls a resource runs at once (each keeps a downstream poll going).
MAX_CHAINED = 100
#: Chained calls running at once for the callers one issuer vouches for.
MAX_CHAINED_PER_ISSUER = MAX_CHAINED // 10
#: Chained calls running at once for one agent and its sub-agents (or one person).
MAX_CHAINED_PER_AGENT = 3
#: Unknown or used codes one client address may present at the page within ``WINDOW`` seconds.
WRONG_CODES_PER_ADDRESS = 20

#: ``work(on_interaction)``: the call downstream, answering the original request.
Work = Callable[[Callable], Awaitable[Response]]


class ChainedCall:
    """The poller of a held row whose answer comes from a downstream call still running."""

    def __init__(self, resource, task: asyncio.Task, downstream, code: str):
        self.resource = resource
        self.task = task
        self.downstream = downstream  # the downstream Interaction (url, code)
        self.code = code  # this resource's own code
        self.arrived = False  # the person opened this resource's page
        self.callback: str | None = None  # the original agent's, while the person is downstream
        self.back = secrets.token_urlsafe(24)  # names this call in the PS's return to this resource
        task.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def __call__(self, held: Held, caller, request: Request) -> Response:
        original = held.caller
        if (caller.token.iss, caller.session_agent) != (original.token.iss, original.session_agent):
            raise AAuthError("not_found", "no such pending request")
        if held.result is None:
            self._finish(held, await self._wait(held, request))
        if held.result is None:
            return self.pending_response(held)
        return _copy(held.result)

    async def _wait(self, held: Held, request: Request) -> bool:
        """Hold the poll up to ``Prefer: wait`` (-11 "Deferred Responses"); True once done."""
        left = held.expires_at - self.resource.clock()
        wait = min(parse_prefer_wait(request.headers.get("prefer")) or 0, MAX_WAIT, max(left, 0))
        if not self.task.done() and wait > 0:
            await asyncio.wait({self.task}, timeout=wait)
        return self.task.done()

    def _finish(self, held: Held, done: bool) -> None:
        """Keep the work's outcome once it is done, or ``expired`` once the row's time is up."""
        if done:
            held.result = _copy(outcome(self.task))
        elif held.expires_at <= self.resource.clock():
            self.task.cancel()
            held.result = problem_response(AAuthError("expired", "the chained interaction timed out"))
        else:
            return
        held.keep_until = held.expires_at

    def pending_response(self, held: Held) -> Response:
        """``202`` + this resource's ``Location``, ``url`` and ``code`` (-11 "Pending Response")."""
        url = f"{self.resource.identifier}{DOWNSTREAM_PATH}"
        return JSONResponse(
            {"status": "interacting" if self.arrived else "pending"},
            status_code=202,
            headers={
                "location": f"{PENDING_PATH}/{held.id}",
                "retry-after": "1",
                "cache-control": "no-store",
                "aauth-requirement": headers.serialize_requirement("interaction", url=url, code=self.code),
            },
        )


def outcome(task: asyncio.Task) -> Response:
    """The finished work's response, or its failure as the draft's error."""
    if task.cancelled():
        return problem_response(AAuthError("expired", "the chained request was given up"))
    error = task.exception()
    if error is None:
        return task.result()
    if isinstance(error, TimeoutError):
        return problem_response(AAuthError("expired", "the downstream interaction timed out"))
    if isinstance(error, AAuthError):
        return problem_response(error)
    return problem_response(AAuthError("server_error", "the downstream call failed", status=502))


class InteractionChaining:
    """Chains downstream interactions through ``held`` (a resource's :class:`HeldInvocations`)."""

    def __init__(
        self,
        held: HeldInvocations,
        *,
        max_chained: int = MAX_CHAINED,
        max_per_issuer: int = MAX_CHAINED_PER_ISSUER,
        max_per_agent: int = MAX_CHAINED_PER_AGENT,
    ):
        self.held = held
        self.max_chained = max_chained
        self.max_per_issuer = max_per_issuer
        self.max_per_agent = max_per_agent
        self.wrong_codes = Throttle(WRONG_CODES_PER_ADDRESS, WINDOW, clock=held.resource.clock)

    def chained(self) -> list[ChainedCall]:
        return [h.poller for h in self.held.rows.values() if isinstance(h.poller, ChainedCall)]

    def _admit(self, caller) -> None:
        """The caps on running calls: :attr:`max_per_agent` for ``caller`` with its sub-agents,
        :attr:`max_per_issuer` for its issuer, :attr:`max_chained` in all."""
        running = [
            h
            for h in self.held.rows.values()
            if isinstance(h.poller, ChainedCall) and not h.poller.task.done()
        ]
        theirs = [h for h in running if h.caller.token.iss == caller.token.iss]
        share = agent_share(caller.session_agent)
        ours = [h for h in theirs if agent_share(h.caller.session_agent) == share]
        for rows, cap in (
            (ours, self.max_per_agent),
            (theirs, self.max_per_issuer),
            (running, self.max_chained),
        ):
            if len(rows) >= cap:  # Retry-After: when the first of them times out
                now = self.held.resource.clock()
                wait = min((h.expires_at for h in rows), default=now) - now
                raise AAuthError(
                    "rate_limited",
                    "too many chained requests; try later",
                    retry_after=max(1, math.ceil(wait)),
                )

    async def run(self, caller, work: Work) -> Response:
        """The original request's answer: the work's, or a ``202`` chaining its interaction."""
        told: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_interaction(interaction) -> None:
            if not told.done():
                told.set_result(interaction)

        task = asyncio.ensure_future(asyncio.wait_for(work(on_interaction), self.held.ttl))
        try:
            await asyncio.wait({task, told}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the caller went away before either
            task.cancel()
            raise
        if task.done():
            told.cancel()
            return task.result()
        resource = self.held.resource
        try:
            self._admit(caller)
            call = ChainedCall(resource, task, told.result(), resource.code_factory())
            held = self.held.keep(caller, "interaction", poller=call)
        except AAuthError:
            task.cancel()
            raise
        return call.pending_response(held)

    def by_code(self, code: str) -> ChainedCall | None:
        for call in self.chained():
            if codes_equal(call.code, code):
                return call
        return None

    def routes(self) -> list[Route]:
        """``GET /interaction/downstream?code=…[&callback=…]``, this resource's page for a chained
        interaction, and ``GET /interaction/downstream/return?state=…``, where the PS sends the
        person back when there is a callback to go on to."""
        identifier = self.held.resource.identifier

        async def downstream(request: Request) -> Response:
            callback = request.query_params.get("callback")
            if callback is not None:
                try:
                    check_callback_url(callback)
                except AAuthError as error:
                    raise AAuthError("invalid_request", error.detail) from None
            address = f"address:{request.client.host if request.client else 'unknown'}"
            self.wrong_codes.check(address)
            call = self.by_code(request.query_params.get("code", ""))
            if call is None or call.arrived or call.task.done():
                self.wrong_codes.fail(address)
                raise AAuthError("invalid_code", "this code is unknown or was used already")
            call.arrived = True  # -11 "User Interaction": "The code parameter is single-use"
            call.callback = callback
            back = f"{identifier}{RETURN_PATH}?state={call.back}" if callback is not None else None
            return _redirect(call.downstream.link(back))

        async def returned(request: Request) -> Response:
            state = request.query_params.get("state", "")
            found = [c for c in self.chained() if c.callback and secrets.compare_digest(c.back, state)]
            if not found:
                raise AAuthError("invalid_request", "no chained interaction waits for this return")
            call, error = found[0], request.query_params.get("error")
            callback, call.callback = call.callback, None  # once
            if error is None:  # "R1 polls PS, gets auth_token", calls downstream: then back to the agent
                await asyncio.wait({call.task}, timeout=MAX_WAIT)
            else:  # -11 "Interaction Callback Errors", passed on
                error = error if error in CALLBACK_ERRORS else "server_error"
                callback = f"{callback}{'&' if '?' in callback else '?'}error={error}"
            return _redirect(callback)

        return [
            Route(DOWNSTREAM_PATH, downstream, methods=["GET"]),
            Route(RETURN_PATH, returned, methods=["GET"]),
        ]


def _redirect(url: str) -> Response:
    """A ``303`` that is never cached and leaks no code in a ``Referer``."""
    return RedirectResponse(
        url, status_code=303, headers={"cache-control": "no-store", "referrer-policy": "no-referrer"}
    )


__all__ = [
    "DOWNSTREAM_PATH",
    "MAX_CHAINED",
    "MAX_CHAINED_PER_AGENT",
    "MAX_CHAINED_PER_ISSUER",
    "ChainedCall",
    "InteractionChaining",
]
