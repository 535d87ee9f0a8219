"""Revocation at the Access Server (-11 "Token Revocation"; the AS advertises its
``revocation_endpoint`` as -11 "Access Server Metadata" recommends).

``POST /revoke`` ``{"jti", "exp"}`` takes, signed with ``sig=jwks_uri`` (``dwk``
``aauth-person.json``), a trusted Person Server's revocation of a token it issued — the person
token it presented here in a federation (-11 "PS-to-AS Token Request").  Any other signer is
``401 unknown_key`` before anything is fetched, like at the token endpoint.  The AS then:

* refuses ``(PS, jti)`` as a ``presented_token`` from now on (``revoked_presented_token``);
* revokes every live auth token it issued from that presented token — and, in turn, those it
  issued from one of these presented back to it — at the resource each is for: a signed
  ``POST`` to the ``revocation_endpoint`` of its ``aauth-resource.json``, as this AS in its
  own right (``dwk`` ``aauth-access.json``), through the resolver and client it was given
  (behind egress admission);
* answers ``200`` once that cascade is terminal: an empty body, or ``{"downstream":
  [{"recipient", "error"}]}`` naming the resources it could not tell (the report a PS keeps for
  its person) — or, when the cascade takes longer than :data:`ANSWER_WITHIN` seconds, ``202``
  with ``Location`` (``/revoke/pending/{id}``) and ``Retry-After``: the PS polls it with a
  signed ``GET`` until the ``200`` (another signer: ``404 not_found``).

What the AS remembers — which auth tokens it issued from which presented token, and what was
revoked, the cascades still running — is held in memory, as its pending token requests are
(a restart forgets it; the tokens themselves live at most an hour).  All three are capped: a
full store is ``429 rate_limited``.  -11 is silent on how long an uncollected cascade is kept
and on one PS's share; the kit follows OWASP ASVS level 2 (V11.1.4, resource use): a finished
cascade is kept :data:`CASCADE_RETENTION` seconds for its PS to poll (then its URL answers
``404``), and one PS may have :data:`MAX_CASCADES_PER_PS` cascades at once,
:data:`MAX_REVOCATIONS_PER_PS` revocations kept (its own and those its cascades made here) and
:data:`MAX_ISSUED_PER_PS` records of auth tokens issued to it.  Each share is a counter, and
records leave by expiry from a heap: no call scans the whole store.  A revocation also drops
the token requests still waiting here with the revoked token as ``presented_token``.  A resource that
refuses a revocation (``429 rate_limited`` too) or cannot be reached does not stop the
cascade: the rest are still told, and that resource is named in the ``downstream`` report.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aauth_kit import revocation as kit
from aauth_kit.asgi import http_message
from aauth_kit.errors import AAuthError
from aauth_kit.metadata import ACCESS_DWK, PERSON_DWK, RESOURCE_DWK

if TYPE_CHECKING:
    from .access_server import AccessServer

#: Revocations, and records of issued auth tokens, the AS keeps at most.
MAX_REVOCATIONS = 100_000
MAX_ISSUED = 100_000
#: Revocations, and records of auth tokens issued, one PS may have kept here, so that one
#: trusted PS cannot fill the store.
MAX_REVOCATIONS_PER_PS = 20_000
MAX_ISSUED_PER_PS = 20_000
#: Cascades running or waiting for their PS's poll, in all and per PS.
MAX_CASCADES = 100
MAX_CASCADES_PER_PS = 20
#: Seconds a finished cascade waits for its PS's poll before it is dropped.
CASCADE_RETENTION = 300
#: Seconds the AS waits for its cascade before it answers ``202`` (-11 "Token Revocation").
ANSWER_WITHIN = 5
PENDING_PATH = f"{kit.REVOCATION_PATH}/pending"


@dataclass(frozen=True)
class IssuedAuthToken:
    """An auth token this AS issued: its resource (``aud``), ``jti`` and ``exp``, the PS it was
    issued to (whose share it counts toward), the ``(iss, jti)`` of the resource token it
    answers and the token itself (a repeated request gets it again)."""

    aud: str
    jti: str
    exp: int
    ps: str
    request: tuple[str, str]
    token: str = field(repr=False)


@dataclass
class Cascade:
    """A PS's revocation cascading here: the PS, its task and when that finished."""

    ps: str
    task: asyncio.Task
    finished_at: float | None = None


@dataclass
class AccessRevocations:
    """The AS's memory for revocation, by ``(iss, jti)``: the revocations it received or made
    (kept until ``exp`` + skew) and the auth tokens it issued from each presented token."""

    clock: Callable[[], float]
    max_revocations: int = MAX_REVOCATIONS
    max_revocations_per_ps: int = MAX_REVOCATIONS_PER_PS
    max_issued: int = MAX_ISSUED
    max_issued_per_ps: int = MAX_ISSUED_PER_PS
    revoked: dict[tuple[str, str], float] = field(default_factory=dict)
    issued: dict[tuple[str, str], list[IssuedAuthToken]] = field(default_factory=dict)
    max_cascades: int = MAX_CASCADES
    max_cascades_per_ps: int = MAX_CASCADES_PER_PS
    cascade_retention: float = CASCADE_RETENTION
    #: Pending id → the cascade of a PS's revocation, still running or not yet collected.
    cascades: dict[str, Cascade] = field(default_factory=dict)
    #: PS → revocations kept in its share, and auth tokens recorded as issued to it.
    revoked_by_ps: Counter = field(default_factory=Counter)
    issued_to_ps: Counter = field(default_factory=Counter)
    #: ``(iss, jti)`` of a resource token → the auth token issued for it.
    answers: dict[tuple[str, str], IssuedAuthToken] = field(default_factory=dict)
    _owners: dict[tuple[str, str], str] = field(default_factory=dict)
    _revoked_until: list = field(default_factory=list)  # heap of (until, (iss, jti))
    _issued_until: list = field(default_factory=list)  # heap of (until, n, presented, token)
    _order: itertools.count = field(default_factory=itertools.count)

    def is_revoked(self, iss: str, jti: str) -> bool:
        return (iss, jti) in self.revoked

    def revoke(
        self, iss: str, jti: str, exp: int | None, *, ps: str | None = None, cascade: bool = False
    ) -> None:
        """Refuse ``(iss, jti)`` until :func:`aauth_kit.revocation.keep_until`; ``429
        rate_limited`` when :attr:`max_revocations` entries are held — or, for a revocation
        counted in ``ps``'s share (its own, or one its cascade makes), :attr:`max_revocations_per_ps`
        of ``ps``'s.  A ``cascade``'s revocation of an auth token this AS issued is kept
        whatever the caps, so the AS always refuses the tree itself: those are bounded by the
        records of issued auth tokens (:attr:`max_issued`, :attr:`max_issued_per_ps`), and a
        cascade starts only from a PS's revocation that found room in its share."""
        now = self.clock()
        self._forget_revocations(now)
        key = (iss, jti)
        full = not cascade and (
            len(self.revoked) >= self.max_revocations
            or (ps is not None and self.revoked_by_ps[ps] >= self.max_revocations_per_ps)
        )
        if key not in self.revoked:
            if full:
                raise AAuthError(
                    "rate_limited",
                    f"{len(self.revoked)} revocations held here; try later",
                    retry_after=kit.SKEW,
                )
            if ps is not None:
                self._owners[key] = ps
                self.revoked_by_ps[ps] += 1
        self.revoked[key] = until = kit.keep_until(exp, now)
        heapq.heappush(self._revoked_until, (until, key))

    def _forget_revocations(self, now: float) -> None:
        while self._revoked_until and self._revoked_until[0][0] <= now:
            until, key = heapq.heappop(self._revoked_until)
            if self.revoked.get(key) == until:
                del self.revoked[key]
                if (ps := self._owners.pop(key, None)) is not None:
                    self.revoked_by_ps[ps] -= 1

    def note_issued(self, presented: tuple[str, str], token: IssuedAuthToken) -> None:
        """Remember that ``token`` was issued from the presented token ``(iss, jti)``; ``429
        rate_limited`` when :attr:`max_issued` live records are held, or
        :attr:`max_issued_per_ps` of its PS's."""
        now = self.clock()
        while self._issued_until and self._issued_until[0][0] <= now:
            *_, key, old = heapq.heappop(self._issued_until)
            tokens = self.issued.get(key, [])
            if old in tokens:
                tokens.remove(old)
                if not tokens:
                    del self.issued[key]
                self._forget(old)
        if (
            self.issued_to_ps.total() >= self.max_issued
            or self.issued_to_ps[token.ps] >= self.max_issued_per_ps
        ):
            raise AAuthError("rate_limited", "too many live auth tokens recorded here", retry_after=60)
        self.issued.setdefault(presented, []).append(token)
        self.issued_to_ps[token.ps] += 1
        self.answers[token.request] = token
        heapq.heappush(self._issued_until, (token.exp + kit.SKEW, next(self._order), presented, token))

    def answered(self, request: tuple[str, str]) -> IssuedAuthToken | None:
        """The live auth token issued for the resource token ``request``, if any."""
        token = self.answers.get(request)
        return token if token is not None and token.exp > self.clock() else None

    def _forget(self, token: IssuedAuthToken) -> None:
        self.issued_to_ps[token.ps] -= 1
        if self.answers.get(token.request) is token:
            del self.answers[token.request]

    def start_cascade(self, pending_id: str, ps: str, task: asyncio.Task) -> Cascade:
        """Hold ``task`` (the cascade of ``ps``'s revocation) as ``pending_id``, dropping
        finished cascades past :attr:`cascade_retention`; ``429 rate_limited`` when
        :attr:`max_cascades` are held, or :attr:`max_cascades_per_ps` of ``ps``'s."""
        now = self.clock()
        for key in [k for k, c in self.cascades.items() if self._expired(c, now)]:
            del self.cascades[key]
        mine = [c for c in self.cascades.values() if c.ps == ps]
        if len(self.cascades) >= self.max_cascades or len(mine) >= self.max_cascades_per_ps:
            held = mine if len(mine) >= self.max_cascades_per_ps else self.cascades.values()
            ends = [c.finished_at + self.cascade_retention for c in held if c.finished_at is not None]
            wait = min(ends, default=now + kit.SKEW) - now
            raise AAuthError(
                "rate_limited", "too many revocations cascading here", retry_after=max(1, math.ceil(wait))
            )
        cascade = self.cascades[pending_id] = Cascade(ps, task)
        task.add_done_callback(lambda _: setattr(cascade, "finished_at", self.clock()))
        return cascade

    def collect(self, pending_id: str, ps: str) -> Cascade | None:
        """``ps``'s cascade at ``pending_id`` (``None``: another PS's, unknown, or dropped)."""
        cascade = self.cascades.get(pending_id)
        if cascade is not None and self._expired(cascade, self.clock()):
            del self.cascades[pending_id]
            return None
        return cascade if cascade is not None and cascade.ps == ps else None

    def _expired(self, cascade: Cascade, now: float) -> bool:
        return cascade.finished_at is not None and cascade.finished_at + self.cascade_retention <= now

    def issued_from(self, presented: tuple[str, str]) -> list[IssuedAuthToken]:
        """The auth tokens issued from ``presented``, forgotten here (they are being revoked)."""
        tokens = self.issued.pop(presented, [])
        for token in tokens:
            self._forget(token)
        return tokens


async def revocation_endpoint(server: AccessServer, request: Request) -> Response:
    """``POST /revoke``: a trusted PS's revocation (see the module doc)."""
    revoked = await kit.verify_revocation(
        await http_message(request, server.identifier),
        resolver=server.servers,
        accept=(PERSON_DWK,),
        now=int(server.clock()),
        window=server.signature_window,
        dev=server.dev,
    )
    revocations = server.revocations
    slot = secrets.token_urlsafe(16)  # held from the start: running cascades count too
    task = asyncio.ensure_future(cascade(server, (revoked.signer, revoked.jti)))
    try:
        revocations.start_cascade(slot, revoked.signer, task)
        revocations.revoke(revoked.signer, revoked.jti, revoked.exp, ps=revoked.signer)
    except AAuthError:
        task.cancel()
        revocations.cascades.pop(slot, None)
        raise
    drop_waiting(server, (revoked.signer, revoked.jti))
    try:
        downstream = await asyncio.wait_for(asyncio.shield(task), ANSWER_WITHIN)
    except TimeoutError:
        pending_id = server.id_factory()
        revocations.cascades[pending_id] = revocations.cascades.pop(slot)
        headers = {"Location": f"{server.identifier}{PENDING_PATH}/{pending_id}", "Retry-After": "1"}
        return JSONResponse({"status": "pending"}, 202, headers)
    revocations.cascades.pop(slot, None)
    return _terminal(downstream)


async def pending_endpoint(server: AccessServer, request: Request) -> Response:
    """``GET /revoke/pending/{id}``, signed by the PS that revoked: ``202`` while the cascade
    runs, then its ``200`` (once: the entry is forgotten)."""
    ps, _ = await server._signed_by_ps(request)
    pending_id = request.path_params["pending_id"]
    found = server.revocations.collect(pending_id, ps)
    if found is None:
        raise AAuthError("not_found", "no revocation cascading at this URL for this Person Server")
    if not found.task.done():
        return JSONResponse({"status": "pending"}, 202, {"Retry-After": "1"})
    del server.revocations.cascades[pending_id]
    return _terminal(found.task.result())


def _terminal(downstream: list[dict]) -> Response:
    """The ``200``: empty, or the ``downstream`` report."""
    return JSONResponse({"downstream": downstream}) if downstream else Response(status_code=200)


def drop_waiting(server: AccessServer, presented: tuple[str, str]) -> None:
    """Forget the token requests waiting here (payment, claims) with ``presented`` as their
    ``presented_token``: none of them is decided any more."""
    for pending in [p for p in server.pending.values() if p.presented == presented]:
        del server.pending[pending.id]


async def cascade(server: AccessServer, presented: tuple[str, str]) -> list[dict]:
    """Revoke the live auth tokens issued from ``presented`` (and from those, in turn) here
    and at their resource, each counted in the share of the PS that revoked ``presented``;
    ``[{"recipient", "error"}]`` for the resources not told.  Every token of the tree is refused
    here first; then the resources are told concurrently (:func:`aauth_kit.revocation.revoke_each`),
    so a resource that stalls leaves no token usable and holds up no other resource."""
    ps = presented[0]
    revoker = kit.Revoker(server.identifier, ACCESS_DWK, server.key, server.clock)
    todo, live = server.revocations.issued_from(presented), []
    while todo:
        token = todo.pop(0)
        if token.exp + kit.SKEW <= server.clock():
            continue  # expired: nothing left to refuse
        server.revocations.revoke(server.identifier, token.jti, token.exp, ps=ps, cascade=True)
        drop_waiting(server, (server.identifier, token.jti))
        todo += server.revocations.issued_from((server.identifier, token.jti))
        live.append(token)
    jobs = [(token.aud, RESOURCE_DWK, token.jti, token.exp) for token in live]
    async with server.client_factory(timeout=kit.SEND_TIMEOUT) as client:
        outcomes = await kit.revoke_each(revoker, client, server.resolver, jobs, dev=server.dev)
    failed: dict[str, str] = {}
    for token, (error, _) in zip(live, outcomes, strict=True):
        if error is not None:
            failed.setdefault(token.aud, error)
    return [{"recipient": recipient, "error": error} for recipient, error in failed.items()]
