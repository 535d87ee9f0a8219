"""The Access Server (AS) of the parts catalog: -11 "Access Server Federation".

A resource that has its own AS issues resource tokens with ``aud`` = the AS; the agent's
Person Server takes them to the AS's ``auth_token_endpoint`` in a request signed in its own
right (``Signature-Key: sig=jwks_uri``, ``dwk`` ``aauth-person.json``: -11 "PS-to-AS Token
Request") with ``{"resource_token", "agent_token", "presented_token"}`` and, optionally,
``subagent_token`` (the auth token is then bound to the sub-agent: -11 "Parent-Mediated
Authorization") and ``upstream_token`` (-11 "Call Chaining").  The AS answers per -11 "AS
Response":

* ``200 {"auth_token", "expires_in"}`` — an ``aa-auth+jwt`` with ``dwk`` ``aauth-access.json``
  (-11 "Auth Token Structure"), bound to the agent's key (the sub-agent's for a
  ``subagent_token``), never outliving the tokens it was asked with;
* ``402`` with ``Location`` and a ``WWW-Authenticate: Payment`` challenge while the PS has no
  billing relationship here (:meth:`AccessServer.settle` stands for the settlement, which the
  draft leaves to a payment protocol);
* ``202`` + ``AAuth-Requirement: requirement=claims`` and ``required_claims`` (-11 "Claims
  Required") when the scope needs identity claims beyond the resource token's ``sub``; the PS
  POSTs them, signed, to ``Location``;
* ``202`` + ``requirement=interaction`` (the resource owner approves at the AS's page) or
  ``requirement=approval`` (the AS decides without the user's direction) for the scopes of
  :attr:`AccessPolicy.owner_approval` and :attr:`AccessPolicy.approval`
  (:mod:`.access_server_approval`); the PS polls ``Location``;
* ``202`` + ``requirement=clarification`` and the question for the scopes of
  :attr:`AccessPolicy.clarification`; the answer is POSTed to ``Location``
  (:mod:`.access_server_clarification`);
* ``403 denied`` for a scope its policy does not grant, claims that do not satisfy it, or an
  approval refused.

Who may call (-11 "PS-AS Trust Establishment", pre-established): only the Person Servers in
:attr:`AccessPolicy.trusted`; any other signer is ``401 unknown_key`` before anything is
fetched.  The pending URL answers only the PS that created it.  Pending requests are capped,
in all and per PS, so one trusted PS cannot fill them (``429 rate_limited``; -11 is silent,
OWASP ASVS level 2), and expire (``408 expired``).  Bodies are limited by
:mod:`aauth_kit.asgi` like every app of the cast; the AS's own fetches (the resource's, the
agent provider's keys) go through the resolver it is given, behind egress admission.

A trusted PS revokes at ``POST /revoke`` the person token it presented here; the auth tokens
issued from it are revoked at their resource (:mod:`.access_server_revocation`).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import tokens
from aauth_kit.asgi import exception_handlers, http_message, middleware
from aauth_kit.errors import AAuthError
from aauth_kit.headers import serialize_requirement
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.interaction import new_code
from aauth_kit.jwks import KeyResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.metadata import ACCESS_DWK, access_metadata
from aauth_kit.profile import verify_request
from aauth_kit.resource_login import PersonLogin
from aauth_kit.revocation import REVOCATION_PATH

from . import access_server_approval as approval
from . import access_server_clarification as clarification
from . import access_server_issuing as issuing
from . import access_server_revocation as revocation
from .access_server_requests import (
    TrustedPersonServers,
    check_unrevoked,
    earlier_answer,
    verify_token_request,
)

METADATA_PATH = f"/.well-known/{ACCESS_DWK}"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/token"
PENDING_PATH = "/token/pending"
#: Requests waiting for payment or claims at once (in all, and of one PS), and how long each waits.
MAX_PENDING = 1000
MAX_PENDING_PER_PS = 200
PENDING_TTL = 600


@dataclass
class AccessPolicy:
    """What this AS decides (-11 "AS Decision Logic (Non-Normative)", in the kit's order):
    a trusted PS (pre-established), then billing (``402``), then claims (``202``), then the
    scope (``403 denied`` beyond :attr:`grants`)."""

    #: Person Servers this AS takes token requests from.
    trusted: set[str] = field(default_factory=set)
    #: Scopes this AS grants.
    grants: set[str] = field(default_factory=set)
    #: Scope → identity claims the AS needs before granting it, beyond the person's ``sub``,
    #: which the resource token carries (-11 "PS-to-AS Token Request").
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whether a PS needs a billing relationship first; :attr:`billed` are those that have one.
    billing: bool = False
    billed: set[str] = field(default_factory=set)
    #: Scopes the resource owner approves at this AS's interaction page (``requirement=interaction``).
    owner_approval: set[str] = field(default_factory=set)
    #: Scopes this AS approves without the user's direction (``requirement=approval``, :meth:`AccessServer.decide`).
    approval: set[str] = field(default_factory=set)
    #: Scope → the question this AS asks before deciding it (``requirement=clarification``).
    clarification: dict[str, str] = field(default_factory=dict)

    def required_claims(self, scope: str) -> list[str]:
        names = [name for s in scope.split() for name in self.claims.get(s, ()) if name != "sub"]
        return list(dict.fromkeys(names))


@dataclass
class TokenRequest:
    """A verified PS-to-AS token request waiting here (at its pending URL)."""

    id: str
    ps: str
    resource_token: tokens.VerifiedToken
    #: ``(iss, jti)`` of the presented token (a revocation of it reaches what is issued from it).
    presented: tuple[str, str]
    #: The key the auth token binds (the agent's, or the sub-agent's) and the latest ``exp`` it may have.
    cnf_jwk: dict
    not_after: int
    #: ``(iss, jti)`` of the ``upstream_token``, if any (a revocation of it stops the decision).
    upstream: tuple[str, str] | None
    expires_at: float
    claims: dict | None = None
    #: ``interaction`` or ``approval`` while an approval is asked (-11 "AS Response"), its code,
    #: whether the owner opened the page, the decision and who took it.
    requirement: str | None = None
    code: str | None = None
    arrived: bool = False
    approved: bool | None = None
    decided_by: str | None = None
    #: The open question and the answer it got (-11 "Clarification Chat").
    question: str | None = None
    clarification_response: str | None = None
    #: ``(iss, sub)`` of the agent the auth token is for (-11 "Agent Token Structure").
    agent: tuple[str, str] | None = None


class AccessServer:
    """The AS app (:attr:`app`) deciding for ``resources`` by :attr:`policy` (see the module doc)."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver: KeyResolver,
        resources: Collection[str],
        policy: AccessPolicy | None = None,
        name: str = "Access Server",
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        dev: bool = False,
        max_pending: int = MAX_PENDING,
        pending_ttl: float = PENDING_TTL,
        signature_window: int = 60,
        client_factory: Callable[..., Any] | None = None,
        max_revocations: int = revocation.MAX_REVOCATIONS,
        owners: Mapping[str, str] | None = None,
        code_factory: Callable[[], str] | None = None,
        resource_owners: Mapping[str, Collection[str]] | None = None,
    ):
        self.identifier = check_server_identifier(identifier, dev=dev)
        self.key, self.resolver, self.resources = key, resolver, set(resources)
        self.policy = policy or AccessPolicy()
        self.name, self.clock, self.dev = name, clock, dev
        self.id_factory = id_factory or (lambda: secrets.token_urlsafe(16))
        self.max_pending, self.pending_ttl, self.signature_window = max_pending, pending_ttl, signature_window
        self.pending: dict[str, TokenRequest] = {}
        self.max_pending_per_ps = MAX_PENDING_PER_PS
        self.servers = TrustedPersonServers(resolver, lambda: self.policy)
        #: ``client_factory(timeout=…)``: the ``httpx.AsyncClient`` (behind egress admission)
        #: this AS revokes its auth tokens at resources with; without it, no revocation endpoint.
        self.client_factory = client_factory
        self.revocations = revocation.AccessRevocations(clock, max_revocations=max_revocations)
        #: The resource owners who sign in at the interaction page: ``{username: password}``.
        accounts = {name: (password, (self.identifier, name)) for name, password in (owners or {}).items()}
        self.login = PersonLogin(accounts or None, clock=clock)
        #: ``{username: resources}``: the resources each owner approves for (without it, any owner
        #: for every resource of this AS); an owner of another resource is ``403 forbidden``.
        self.resource_owners = (
            {name: frozenset(owned) for name, owned in resource_owners.items()}
            if resource_owners is not None
            else None
        )
        self.code_factory = code_factory or new_code
        self.app = Starlette(
            routes=[
                Route(METADATA_PATH, self._metadata_endpoint, methods=["GET"]),
                Route(JWKS_PATH, self._jwks_endpoint, methods=["GET"]),
                Route(TOKEN_PATH, self._token_endpoint, methods=["POST"]),
                Route(f"{PENDING_PATH}/{{pending_id}}", self._pending_endpoint, methods=["GET", "POST"]),
                *approval.routes(self),
            ]
            + (
                [
                    Route(REVOCATION_PATH, self._revocation_endpoint, methods=["POST"]),
                    Route(
                        f"{revocation.PENDING_PATH}/{{pending_id}}", self._revocation_pending, methods=["GET"]
                    ),
                ]
                if client_factory
                else []
            ),
            exception_handlers=exception_handlers(),
            middleware=middleware(),
        )

    # -- out of band ----------------------------------------------------------------------------
    def settle(self, ps: str) -> None:
        """The PS ``ps`` has paid: a billing relationship from now on (-11 "AS Response": "The PS
        caches the billing relationship per AS"; the payment protocol is out of the draft's scope)."""
        self.policy.billed.add(ps)

    def awaiting_approval(self) -> list[str]:
        """The ids of the token requests waiting for this AS's own approval (``requirement=approval``)."""
        now = self.clock()
        return [p.id for p in self.pending.values() if p.requirement == "approval" and p.expires_at > now]

    def decide(self, pending_id: str, approved: bool, *, by: str = "administrator") -> None:
        """The AS's own review of a ``requirement=approval`` request (-11 "Approval Pending":
        "administrator review"); the PS's next poll gets the auth token or ``403 denied``."""
        pending = self.pending.get(pending_id)
        if pending is None or pending.requirement != "approval" or pending.approved is not None:
            raise AAuthError("not_found", f"no token request {pending_id!r} waits for this AS's approval")
        pending.approved, pending.decided_by = approved, by

    def metadata_document(self) -> dict:
        """``/.well-known/aauth-access.json`` (-11 "Access Server Metadata")."""
        return access_metadata(
            self.identifier,
            f"{self.identifier}{JWKS_PATH}",
            f"{self.identifier}{TOKEN_PATH}",
            revocation_endpoint=f"{self.identifier}{REVOCATION_PATH}" if self.client_factory else None,
            name=self.name,
            dev=self.dev,
        )

    # -- endpoints ------------------------------------------------------------------------------
    async def _metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata_document())

    async def _jwks_endpoint(self, request: Request) -> Response:
        return JSONResponse(jwks([self.key]))

    async def _revocation_endpoint(self, request: Request) -> Response:
        """-11 "Token Revocation": :func:`.access_server_revocation.revocation_endpoint`."""
        return await revocation.revocation_endpoint(self, request)

    async def _revocation_pending(self, request: Request) -> Response:
        """-11 "Token Revocation": :func:`.access_server_revocation.pending_endpoint`."""
        return await revocation.pending_endpoint(self, request)

    async def _signed_by_ps(self, request: Request) -> tuple[str, bytes]:
        """-11 "PS-to-AS Token Request": "The PS authenticates via an HTTP Sig" — ``sig=jwks_uri``
        as a trusted Person Server, body covered; the signer's identifier and the body."""
        message = await http_message(request, self.identifier)
        verified = await verify_request(
            message,
            resolver=self.servers,
            now=int(self.clock()),
            window=self.signature_window,
            accept_schemes=("jwks_uri",),
            body_required=True,
            dev=self.dev,
        )
        return verified.signature_key.params["id"], message.body

    async def _token_endpoint(self, request: Request) -> Response:
        """-11 "AS Token Endpoint": a trusted PS's token request (see the module doc)."""
        ps, body = await self._signed_by_ps(request)
        body = require_json_object(
            body, '{"resource_token": str, "agent_token": str, "presented_token": str, ...}'
        )
        for name in ("resource_token", "agent_token", "presented_token"):
            if not isinstance(body.get(name), str):
                raise AAuthError("invalid_request", f"{name} is required")
        *verified, agent = await verify_token_request(self, body, ps)
        self._drop_expired()
        earlier = earlier_answer(self, verified[0])
        if isinstance(earlier, TokenRequest):
            return self._decide(earlier)
        if earlier is not None:
            return JSONResponse(earlier, headers={"Cache-Control": "no-store"})
        mine = sum(p.ps == ps for p in self.pending.values())
        if len(self.pending) >= self.max_pending or mine >= self.max_pending_per_ps:
            raise AAuthError("rate_limited", "too many token requests waiting here", retry_after=60)
        pending = TokenRequest(self.id_factory(), ps, *verified, self.clock() + self.pending_ttl, agent=agent)
        self.pending[pending.id] = pending
        return self._decide(pending)

    async def _pending_endpoint(self, request: Request) -> Response:
        """``GET`` polls the pending URL; ``POST`` brings the claims asked for (-11 "Claims
        Required": "by POSTing to the Location URL", with an HTTP signature) or the answer to
        the question (:mod:`.access_server_clarification`).  Only the PS that
        asked sees it (anyone else: ``404``)."""
        ps, body = await self._signed_by_ps(request)
        pending = self.pending.get(request.path_params["pending_id"])
        if pending is None or pending.ps != ps:
            raise AAuthError("not_found", "no pending token request at this URL for this Person Server")
        if pending.expires_at <= self.clock():
            del self.pending[pending.id]
            raise AAuthError("expired", "this token request waited too long")
        if request.method == "POST":
            body = require_json_object(body, '{"action": str, ...} or the claims')
            if "action" in body or pending.question is not None:  # -11 "Clarification Response"
                clarification.take_answer(pending, body)
            else:
                pending.claims = self._claims(body, pending)
        return self._decide(pending)

    def _claims(self, body: dict, pending: TokenRequest) -> dict:
        """The claims asked for, as the PS gave them.  Claims not asked for are ignored — a
        ``sub`` among them too: the person's ``sub`` is the resource token's, whatever a PS
        adds here."""
        asked = self.policy.required_claims(pending.resource_token.scope or "")
        return {name: body[name] for name in asked if isinstance(body.get(name), str)}

    # -- the decision -----------------------------------------------------------------------------
    def _decide(self, pending: TokenRequest) -> Response:
        """Payment, then claims, then the scope (-11 "PS-AS Trust Establishment": "the AS may
        first require payment (402), then interaction for user binding (202), then claims") —
        each time the request is decided (polled, claims brought), its presented and upstream
        tokens still unrevoked (:func:`.access_server_requests.check_unrevoked`)."""
        try:
            check_unrevoked(self, pending)
        except AAuthError:
            del self.pending[pending.id]
            raise
        policy, scope = self.policy, pending.resource_token.scope or ""
        location = f"{self.identifier}{PENDING_PATH}/{pending.id}"
        if policy.billing and pending.ps not in policy.billed:
            return _payment_required(location, pending.id)
        asked = policy.required_claims(scope)
        if asked and pending.claims is None:
            headers = {
                "Location": location,
                "Retry-After": "0",
                "Cache-Control": "no-store",
                "AAuth-Requirement": serialize_requirement("claims"),
            }
            return JSONResponse({"status": "pending", "required_claims": asked}, 202, headers)
        refused = [s for s in scope.split() if s not in policy.grants]
        missing = [name for name in asked if name not in (pending.claims or {})]
        question = clarification.question_for(policy, scope) if not (refused or missing) else None
        if question is not None and pending.clarification_response is None:
            pending.question = question
            return clarification.pending_response(question, location)
        pending.question = None
        needed = approval.requirement_for(policy, scope) if not (refused or missing) else None
        if needed is not None and pending.approved is None:
            if pending.requirement is None:
                pending.requirement = needed
                pending.code = self.code_factory() if needed == "interaction" else None
            return approval.pending_response(self, pending, location)
        del self.pending[pending.id]
        if refused or missing:
            why = f"grants no {' '.join(refused)}" if refused else f"needs the claims {', '.join(missing)}"
            raise AAuthError("denied", f"this resource's policy {why}")
        if pending.approved is False:
            raise AAuthError("denied", f"{pending.decided_by or 'the resource owner'} declined the request")
        return JSONResponse(issuing.issue(self, pending), headers={"Cache-Control": "no-store"})

    def _drop_expired(self) -> None:
        now = self.clock()
        for pending_id in [p.id for p in self.pending.values() if p.expires_at <= now]:
            del self.pending[pending_id]


def _payment_required(location: str, payment_id: str) -> Response:
    """-11 "AS Response", *Payment required*: ``402`` with ``Location`` to poll after payment and
    the payment details in ``WWW-Authenticate`` (the kit names no real payment method)."""
    details = json.dumps({"amount": "100", "currency": "EUR", "description": "catalog access"})
    request = base64.urlsafe_b64encode(details.encode()).rstrip(b"=").decode()
    headers = {
        "Location": location,
        "WWW-Authenticate": f'Payment id="{payment_id}", method="invoice", request="{request}"',
        "Cache-Control": "no-store",
    }
    body = {"status": "pending", "detail": "a billing relationship is needed before auth tokens are issued"}
    return JSONResponse(body, 402, headers)
