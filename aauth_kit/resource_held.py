"""Invocations a resource holds behind a ``202`` (-11 "Deferred Delivery", "Resource-Managed
Authorization", "Deferred Responses").

Two requirements are delivered this way, from a route that asks for it:

* ``requirement=auth-token`` (-11 "Deferred Delivery"): "The resource executes the held
  invocation on the first poll that presents a valid auth token, and answers with the
  invocation's response."  The result is kept until the auth token's ``exp`` and a repeated
  presentation of the same auth token (its ``jti``) gets it again without a second execution;
  a poll after the resource token expired gets a fresh one in its ``AAuth-Requirement``.
* ``requirement=interaction`` (-11 "Resource-Managed Authorization"): the person, signed in
  at the resource (:mod:`aauth_kit.resource_login`), approves at its own page
  (:mod:`aauth_kit.resource_pages`); the next poll executes the
  invocation and answers with its response plus an ``AAuth-Access`` session token
  (:mod:`aauth_kit.resource_sessions`); the result is replayed to the same signer until the
  record expires.

Only the key that made the held request may poll it (any other gets ``404 not_found``, as an
unknown id does); polls of one row that arrive together run its invocation once (the others
answer with its result).  Polling errors are -11 "Polling Error Codes": ``403 denied``, ``403
abandoned`` (the person opened the page but never answered), ``408 expired`` (nobody answered
in time, or the answer came after the request expired: it decides nothing).  A stranger
cannot pile up rows: open rows (still waiting for an auth token, the person, or the poll that
runs an approved one) are capped at :data:`MAX_HELD_PER_KEY` per signing key,
:data:`MAX_HELD_PER_AGENT` per agent with its sub-agents (or per person, for a person or auth
token: :func:`~aauth_kit.resource_sessions.agent_share`), so that one agent cannot use up its
issuer's share, and :data:`MAX_HELD_PER_ISSUER` per issuer of the caller's token (an Agent
Provider or a Person Server: anyone can run one, and mint tokens for as many keys as it likes);
finished rows (kept results, denials, expired requests) count toward none of these.  At
:data:`MAX_HELD` rows in all a finished row makes room (the one the sweep would drop first);
with none, ``429 rate_limited``.  Every refusal carries ``Retry-After``: when the first of
those open rows expires.  Rows are swept once they expire.  A resource-initiated interaction
asked again for the same scope before the person opened its page reuses its row (and code).
-11 is silent on the sizes; they follow OWASP ASVS level 2 (V11.1.4, anti-automation).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import headers
from .asgi import problem_response
from .claims import AUTH_TYP
from .deferred_headers import parse_prefer_wait
from .errors import AAuthError
from .interaction import codes_equal
from .resource_challenge import Challenge
from .resource_sessions import agent_share

PENDING_PATH = "/pending"
INTERACTION_PATH = "/interaction"
#: Seconds a held invocation waits for its auth token or its person.
HELD_TTL = 600
#: Open rows one signing key may have at one resource.
MAX_HELD_PER_KEY = 5
#: Open rows one agent and its sub-agents (or one person) may have at one resource.
MAX_HELD_PER_AGENT = 10
#: Rows a resource holds at most.
MAX_HELD = 1000
#: Open rows the callers vouched for by one issuer (one Agent Provider, one PS) may have at one resource.
MAX_HELD_PER_ISSUER = MAX_HELD // 10
#: The longest a poll is held open under ``Prefer: wait`` (-11 "Deferred Responses").
MAX_WAIT = 30


@dataclass
class Held:
    """One held invocation and what it waits for."""

    id: str
    requirement: str  # "auth-token", "interaction" or "resource-interaction"
    caller: object  # the resource.Caller that made the request
    run: Callable | None  # run(caller) -> the invocation's Response (None: nothing is held)
    scope: str
    account: str | None
    expires_at: float
    resource_token: str | None = None
    code: str | None = None  # interaction only
    arrived: bool = False  # a signed-in person opened the interaction page (the code is consumed)
    late: bool = False  # the person answered after it expired: its poll says expired, not abandoned
    callback: str | None = None  # where the person's browser goes after deciding
    approved: bool | None = None
    result: Response | None = None
    completed_by: str | None = None  # the auth token jti (auth-token) that ran it
    keep_until: float = 0.0
    decided: asyncio.Event = field(default_factory=asyncio.Event)
    running: asyncio.Lock = field(default_factory=asyncio.Lock)  # one poll runs it at a time
    poller: Callable | None = None  # poller(held, caller, request): a row that answers its own polls


def _copy(response: Response) -> Response:
    """A replayable copy of a finished response (same status, headers and body)."""
    copy = Response(response.body, status_code=response.status_code)
    copy.raw_headers = list(response.raw_headers)
    return copy


def _refused(why: str, wait: float) -> AAuthError:
    """``429 rate_limited`` with ``Retry-After``: ``wait`` seconds (one at least)."""
    return AAuthError("rate_limited", f"{why}; try later", retry_after=max(1, math.ceil(wait)))


class HeldInvocations:
    """The held invocations of one resource (``resource`` is its :class:`resource.Resource`)."""

    def __init__(
        self,
        resource,
        *,
        ttl: int = HELD_TTL,
        max_per_key=MAX_HELD_PER_KEY,
        max_per_agent=MAX_HELD_PER_AGENT,
        max_per_issuer=MAX_HELD_PER_ISSUER,
        max_held=MAX_HELD,
    ):
        self.resource = resource
        self.ttl = ttl
        self.max_per_key = max_per_key
        self.max_per_agent = max_per_agent
        self.max_per_issuer = max_per_issuer
        self.max_held = max_held
        self.rows: dict[str, Held] = {}

    # -- holding ---------------------------------------------------------------------------
    def _gone_at(self, held: Held) -> float:
        """When :meth:`sweep` drops ``held``."""
        return max(held.expires_at, held.keep_until) + self.ttl

    def sweep(self) -> None:
        now = self.resource.clock()
        for key in [k for k, h in self.rows.items() if self._gone_at(h) <= now]:
            del self.rows[key]

    def _open(self) -> list[Held]:
        """Rows still waiting: for an auth token, for the person, or (approved) for the poll that
        runs it.  A decided resource-initiated row waits for nobody: the PS had the callback."""
        now = self.resource.clock()
        return [
            h
            for h in self.rows.values()
            if h.result is None
            and h.expires_at > now
            and (h.approved is None or (h.approved and h.run is not None))
        ]

    def _admit(self, caller) -> None:
        """The caps on open rows: :attr:`max_per_key` per signing key, :attr:`max_per_agent` per
        agent with its sub-agents, :attr:`max_per_issuer` per issuer of the caller's token; and
        :attr:`max_held` rows in all, a finished one making room.  Past one, ``429``."""
        now, open_rows = self.resource.clock(), self._open()
        share, issuer = agent_share(caller.session_agent), caller.token.iss
        for rows, cap, why in (
            (
                [h for h in open_rows if h.caller.jkt == caller.jkt],
                self.max_per_key,
                "this key has too many pending requests here",
            ),
            (
                [h for h in open_rows if agent_share(h.caller.session_agent) == share],
                self.max_per_agent,
                f"{share[1]} (with its sub-agents) has too many pending requests here",
            ),
            (
                [h for h in open_rows if h.caller.token.iss == issuer],
                self.max_per_issuer,
                f"the callers {issuer} vouches for have too many pending requests here",
            ),
        ):
            if len(rows) >= cap:
                raise _refused(why, min((h.expires_at for h in rows), default=now) - now)
        open_ids = {h.id for h in open_rows}
        finished = [h for h in self.rows.values() if h.id not in open_ids]
        if len(self.rows) >= self.max_held and finished:
            del self.rows[min(finished, key=self._gone_at).id]
        if len(self.rows) >= self.max_held:
            raise _refused(
                "too many held invocations", min((h.expires_at for h in open_rows), default=now) - now
            )

    async def hold(self, request: Request, endpoint, challenge: Challenge, scope: str, account) -> Response:
        """Keep the request (method, path, query, body) for later and answer ``202``."""
        self.sweep()
        caller = challenge.caller
        self._admit(caller)
        body = await request.body()
        saved = {k: v for k, v in request.scope.items() if k != "state"}

        async def run(later_caller) -> Response:
            async def receive():
                return {"type": "http.request", "body": body, "more_body": False}

            replay = Request({**saved, "state": {}}, receive)
            replay.state.caller = later_caller
            try:
                response = endpoint(replay)
                response = await response if inspect.isawaitable(response) else response
            except AAuthError as error:
                response = problem_response(error)
            return response

        now = self.resource.clock()
        held = Held(
            id=self.resource.id_factory(),
            requirement=challenge.requirement,
            caller=caller,
            run=run,
            scope=scope,
            account=account,
            expires_at=now + self.ttl,
            resource_token=challenge.params.get("resource_token"),
        )
        if held.requirement == "interaction":
            held.code = self.resource.code_factory()
        self.rows[held.id] = held
        return self._pending_response(held)

    def _pending_response(self, held: Held) -> Response:
        """``202`` + ``Location`` + the requirement (-11 "Pending Response")."""
        if held.requirement == "interaction":
            url = f"{self.resource.identifier}{INTERACTION_PATH}"
            value = headers.serialize_requirement(
                "interaction", url=url, code=held.code, dev=self.resource.dev
            )
            retry = "1"
        else:
            value = headers.serialize_requirement("auth-token", resource_token=held.resource_token)
            retry = "5"
        return JSONResponse(
            {"status": "pending"},
            status_code=202,
            headers={
                "location": f"{PENDING_PATH}/{held.id}",
                "retry-after": retry,
                "cache-control": "no-store",
                "aauth-requirement": value,
            },
        )

    def initiate(self, caller, scope: str) -> dict:
        """-11 "Resource-Initiated Interaction": a row the person answers at this resource's page
        (sent there by their PS, with the PS's callback); the resource token carries its ``url``
        and ``code``.  Nobody polls it: the PS learns the outcome from the callback.  Asked again
        for the same scope before the person opened the page, the caller's open row (and its code)
        is reused: an agent challenged again and again leaves one row, not one per challenge."""
        now = self.resource.clock()
        mine = (caller.jkt, caller.session_agent, scope)
        held = next(
            (
                h
                for h in self.rows.values()
                if h.requirement == "resource-interaction"
                and (h.caller.jkt, h.caller.session_agent, h.scope) == mine
                and not h.arrived
                and h.approved is None
                and h.expires_at > now
            ),
            None,
        ) or self.keep(caller, "resource-interaction", scope=scope, code=self.resource.code_factory())
        return {"url": f"{self.resource.identifier}{INTERACTION_PATH}", "code": held.code}

    def keep(self, caller, requirement: str, *, scope: str = "", **fields) -> Held:
        """A new row for ``caller`` within the caps (``fields`` as :class:`Held` names them)."""
        self.sweep()
        self._admit(caller)
        held = Held(
            id=self.resource.id_factory(),
            requirement=requirement,
            caller=caller,
            run=fields.pop("run", None),
            scope=scope,
            account=fields.pop("account", None),
            expires_at=self.resource.clock() + self.ttl,
            **fields,
        )
        self.rows[held.id] = held
        return held

    # -- polling ---------------------------------------------------------------------------
    async def poll(self, request: Request) -> Response:
        """``GET /pending/{id}``, signed by the key that made the held request."""
        caller = await self.resource.verify(request)
        held = self.rows.get(request.path_params["id"])
        if (
            held is None
            or (held.run is None and held.poller is None)  # resource-initiated: answered by callback
            or not secrets.compare_digest(held.caller.jkt, caller.jkt)
        ):
            raise AAuthError("not_found", "no such pending request")
        if held.poller is not None:
            return await held.poller(held, caller, request)
        if held.requirement == "auth-token":
            return await self._poll_auth_token(held, caller)
        return await self._poll_interaction(held, caller, request)

    async def _poll_auth_token(self, held: Held, caller) -> Response:
        async with held.running:  # a poll that came with another waits for its result
            return await self._deliver(held, caller)

    async def _deliver(self, held: Held, caller) -> Response:
        token, now = caller.token, self.resource.clock()
        if held.result is not None:  # -11 "Deferred Delivery": replay by the auth token's jti
            if token.typ == AUTH_TYP and token.jti == held.completed_by:
                return _copy(held.result)
            raise AAuthError("not_found", "this pending request was completed")
        if held.expires_at <= now:
            self.rows.pop(held.id, None)
            raise AAuthError("expired", "the held invocation timed out")
        if token.typ == AUTH_TYP and self.resource.admits(caller, held.scope, held.account):
            response = await held.run(caller)
            held.result, held.completed_by = _copy(response), token.jti
            held.keep_until = float(token.exp)
            return response
        if self.resource.resource_token_expired(held.resource_token):  # a fresh one, nothing re-sent
            held.resource_token = self.resource.resource_token(
                held.caller.token, held.caller.jkt, held.scope, account=held.account
            )
        return self._pending_response(held)

    async def _poll_interaction(self, held: Held, caller, request: Request) -> Response:
        if held.result is None and held.approved is None:
            wait = min(parse_prefer_wait(request.headers.get("prefer")) or 0, MAX_WAIT)
            left = held.expires_at - self.resource.clock()
            if wait > 0 and left > 0:
                try:
                    await asyncio.wait_for(held.decided.wait(), timeout=min(wait, left))
                except TimeoutError:
                    pass
        async with held.running:  # polls woken together: the first runs it, the others replay
            return await self._approved(held, caller)

    async def _approved(self, held: Held, caller) -> Response:
        if held.result is not None:
            return _copy(held.result)
        if held.approved is False:
            self.rows.pop(held.id, None)
            raise AAuthError("denied", "the person declined the request")
        if held.approved is None:
            if held.expires_at > self.resource.clock():
                return self._pending_response(held)
            self.rows.pop(held.id, None)
            if held.arrived and not held.late:
                raise AAuthError("abandoned", "the person opened the page but did not answer")
            raise AAuthError("expired", "the person did not answer in time")
        session = self.resource.sessions.issue(
            held.caller.session_agent, held.caller.jkt, held.scope.split(" ")
        )
        response = await held.run(caller.with_session(session))
        response.headers["aauth-access"] = headers.serialize_aauth_access(session.token)
        held.result, held.keep_until = _copy(response), held.expires_at
        return response

    # -- the person's decision (from the resource's interaction page) -----------------------
    def by_code(self, code: str) -> Held | None:
        for held in self.rows.values():
            if held.code is not None and held.result is None and codes_equal(held.code, code):
                return held
        return None

    def deciding(self, held_id: str) -> Held | None:
        """The row ``held_id`` if a person opened its page and has not answered (it may have
        expired since: :meth:`decide` checks)."""
        held = self.rows.get(held_id)
        if held is None or held.code is None or not held.arrived or held.approved is not None:
            return None
        return held if held.result is None and not held.late else None

    def decide(self, held: Held, approve: bool) -> None:
        """The person's answer, taken only while the request lives (-11 "Interaction Code Format":
        the code expires with the pending request).  Later it is ``408 expired``, decides nothing,
        and the agent's poll says ``expired``."""
        if held.expires_at <= self.resource.clock():
            held.late = True
            raise AAuthError("expired", "the request expired before the answer came")
        held.approved = approve
        held.decided.set()
