"""The resource role of draft-hardt-oauth-aauth-protocol-11: who called, and what an
agent must bring next.

A :class:`Resource` turns Starlette endpoints into AAuth-protected routes.  Every
signed request runs through :func:`profile.verify_request` (the seven steps of -11
"Verification (Server)", ``jwt`` scheme only) with the resource's key resolver, so
the token in ``Signature-Key`` is verified too.  Then the route's access mode decides:

* ``agent-token`` — -11 "Agent Identity Access": any agent, person or auth token;
* ``person-token`` — -11 "Person Identity Access": a person token (or auth token) whose
  ``aud`` is this resource; an agent token gets ``requirement=person-token``;
* ``auth-token`` — -11 "PS Authorization Access (Three-Party)": an auth token for this
  resource carrying the route's scope (and, on a route that names the account a request acts
  on, that ``account``: -11 "Account Binding"); a person token, or an auth token lacking the
  scope or for another account, gets ``requirement=auth-token`` with a fresh resource token
  (-11 "Resource Token") for the person's PS;
* ``open`` — no AAuth at all.

A request without any signature header gets ``requirement=agent-token``; a bad
signature or token gets ``401`` + ``Signature-Error``; a revoked token (-11 "Token
Revocation") gets ``Signature-Error: error=revoked_jwt``.  The app also serves the
authorization endpoint ``POST /authorize`` (:mod:`aauth_kit.resource_authorization`), the
revocation endpoint ``POST /revoke`` (a Person Server revokes the person and auth tokens
it issued: :mod:`aauth_kit.resource_revocations`), ``/.well-known/aauth-resource.json`` and its JWKS
(:mod:`aauth_kit.resource_endpoints`); requirement responses are
:class:`resource_challenge.Challenge`.  Errors are the kit's :class:`errors.AAuthError` rendered as problem+json (one error
boundary, :mod:`aauth_kit.asgi`), never a 500.
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections.abc import Callable, Collection, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import headers, metadata, tokens
from .asgi import exception_handlers, http_message, middleware
from .claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from .errors import AAuthError, SignatureError, UsageError
from .identifiers import check_server_identifier
from .interaction import new_code
from .jwks import KeyResolver
from .jws import decode_unverified
from .keys import Key
from .message import HttpMessage
from .profile import verify_request
from .resource_caller import Caller
from .resource_challenge import ROUTE_ACCESS, Challenge, challenge_response, scope_tokens
from .resource_endpoints import own_routes
from .resource_held import PENDING_PATH, HeldInvocations
from .resource_login import Person, PersonLogin, SignIn
from .resource_pages import routes as interaction_routes
from .resource_revocations import MAX_REVOCATIONS, RevocationCheck, Revocations
from .resource_sessions import Sessions
from .token_verification import VerifiedToken

#: The tokens an agent may present to a resource in ``Signature-Key``.
PRESENTABLE = (AGENT_TYP, PERSON_TYP, AUTH_TYP)
SIGNATURE_HEADERS = ("signature", "signature-input", "signature-key")
#: ``account(request)``: the account at this resource a request acts on (-11 "Account Binding").
AccountOf = Callable[[Request], "str | None"]


#: The requirements a route may deliver as a held invocation, per ``deliver``.
_HELD = {("auth-token", "202"), ("interaction", "401"), ("interaction", "202")}


class Resource:
    """An AAuth resource: protected routes, resource tokens, metadata (see the module doc)."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver: KeyResolver,
        name: str = "",
        description: str = "",
        scope_descriptions: dict[str, str] | None = None,
        signature_window: int = 60,
        resource_token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        code_factory: Callable[[], str] | None = None,
        dev: bool = False,
        revoked: Collection[tuple[str, str]] | RevocationCheck | None = None,
        access_mode: str | None = None,
        max_revocations: int = MAX_REVOCATIONS,
        access_server: str | None = None,
        accounts: Callable[[tuple[str, str]], Collection[str]] | None = None,
        persons: Mapping[str, tuple[str, Person]] | SignIn | None = None,
    ):
        try:
            self.identifier = check_server_identifier(identifier, dev=dev)
        except AAuthError as exc:
            raise UsageError(f"a resource needs a server identifier: {exc.detail}") from None
        if not key.has_private:
            raise UsageError("a resource signs resource tokens, so its key must be private")
        if access_mode is not None and access_mode not in metadata.ACCESS_MODES:
            raise UsageError(f"access_mode must be one of {', '.join(metadata.ACCESS_MODES)}")
        self.key = key
        self.resolver = resolver
        self.name = name
        self.description = description
        self.scope_descriptions = dict(scope_descriptions or {})
        self.signature_window = signature_window
        self.resource_token_lifetime = resource_token_lifetime
        self.clock = clock
        self.id_factory = id_factory or (lambda: secrets.token_urlsafe(16))
        self.code_factory = code_factory or new_code  # interaction codes (injectable for docs mode)
        self.dev = dev
        self.access_mode = access_mode
        #: ``accounts((iss, sub))``: the accounts a person holds here (-11 "Account Binding"), if known
        self.accounts = accounts
        #: -11 "Federated Authorization Access (Four-Party)": the resource's own AS, the ``aud``
        #: of its resource tokens and the only issuer of the auth tokens it takes.
        self.access_server = access_server and check_server_identifier(access_server, dev=dev)
        #: the tokens it refuses (-11 "Token Revocation", :mod:`aauth_kit.resource_revocations`)
        self.revocations = Revocations(clock, revoked, max_revocations=max_revocations)
        self.protected: list[tuple[str, str, str | None]] = []  # (path, access, scope) per route
        #: AAuth-Access session tokens (-11 "Resource-Managed Access (Two-Party)")
        self.sessions = Sessions(clock)
        #: invocations held behind a 202 (-11 "Deferred Delivery", "Resource-Managed Authorization")
        self.held = HeldInvocations(self)
        #: who may answer at its interaction page (:mod:`aauth_kit.resource_login`; none: nobody)
        self.login = PersonLogin(persons, clock=clock)

    # -- routes --------------------------------------------------------------------------
    def route(
        self,
        path: str,
        endpoint,
        *,
        methods=("GET",),
        access: str = "auth-token",
        scope: str | None = None,
        account: AccountOf | None = None,
        deliver: str = "401",
        interaction: bool = False,
    ) -> Route:
        """A Starlette route running ``endpoint`` only for callers ``access`` admits.

        ``access="auth-token"`` needs ``scope`` (space-separated; the auth token must
        carry all of it); ``account(request)``, when given, names the account the request
        acts on, which the auth token's ``account`` must be.  ``deliver="202"`` holds the
        invocation behind a ``202`` instead of answering ``401 requirement=auth-token`` (-11
        "Deferred Delivery"); ``interaction=True`` puts this resource's own interaction in the
        resource token (-11 "Resource-Initiated Interaction").  ``access="session-token"`` (also with a ``scope``) is
        resource-managed access: the person approves at this resource's own page and the agent
        gets an ``AAuth-Access`` session token (:mod:`aauth_kit.resource_held`).  The endpoint finds the :class:`Caller` in
        ``request.state.caller`` (``None`` on ``open`` routes); an :class:`AAuthError`
        it raises becomes a problem+json response in an app made by :meth:`app`.
        """
        if access not in ROUTE_ACCESS:
            raise UsageError(f"access must be one of {', '.join(ROUTE_ACCESS)}, not {access!r}")
        if access in ("auth-token", "session-token") and not scope_tokens(scope):
            raise UsageError(f"an {access} route needs a scope (space-separated scope tokens)")
        if deliver not in ("401", "202") or (deliver == "202" and access != "auth-token"):
            raise UsageError('deliver="202" is for an auth-token route; deliver is "401" or "202"')
        if (account is not None or interaction) and access != "auth-token":
            raise UsageError("only an auth-token route binds an account or initiates an interaction")
        self.protected.append((path, access, scope))

        async def protected_endpoint(request: Request) -> Response:
            bound = account(request) if account is not None else None
            try:
                caller = (
                    None
                    if access == "open"
                    else await self.authenticate(
                        request, access, scope, account=bound, interaction=interaction
                    )
                )
            except Challenge as challenge:
                if challenge.caller is None or (challenge.requirement, deliver) not in _HELD:
                    raise
                return await self.held.hold(request, endpoint, challenge, scope, bound)
            request.state.caller = caller
            response = endpoint(request)
            response = await response if inspect.isawaitable(response) else response
            rolled = self.sessions.roll(caller.session) if caller is not None and caller.session else None
            if rolled is not None:  # -11 "AAuth-Access Response Header": rolling refresh
                response.headers["aauth-access"] = headers.serialize_aauth_access(rolled.token)
            return response

        protected_endpoint.__name__ = getattr(endpoint, "__name__", "endpoint")
        return Route(path, protected_endpoint, methods=list(methods))

    def app(self, routes: list, **starlette_kwargs) -> Starlette:
        """A Starlette app: ``routes`` plus metadata, JWKS, the authorization and revocation
        endpoints; a :class:`Challenge` or an :class:`AAuthError` raised in any of them
        becomes its response (and ``exception_handlers`` given here are added)."""
        own = [
            *own_routes(self),
            Route(f"{PENDING_PATH}/{{id}}", self.held.poll, methods=["GET"]),
            *interaction_routes(self.held),
        ]
        handlers = exception_handlers(
            {Challenge: challenge_response, **starlette_kwargs.pop("exception_handlers", {})}
        )
        starlette_kwargs["middleware"] = [*middleware(), *starlette_kwargs.get("middleware", [])]
        return Starlette(routes=own + list(routes), exception_handlers=handlers, **starlette_kwargs)

    # -- verification ----------------------------------------------------------------------
    async def http_message(self, request: Request) -> HttpMessage:
        """The request as the signature layer sees it, addressed to this resource."""
        return await http_message(request, self.identifier)

    async def verify(self, request: Request) -> Caller:
        """Steps 1-7 of -11 "Verification (Server)" plus the revocation check.

        No signature header at all → :class:`Challenge` ``agent-token`` (-11 "Agent Token
        Required"); any other failure → :class:`SignatureError` (401), including an auth
        token from an issuer that does not speak for this resource: its own Access Server
        (``dwk`` ``aauth-access.json``) when it has one, else a PS.  A revoked token is
        ``revoked_jwt`` inside a :class:`Challenge`.
        """
        message = await self.http_message(request)
        if not {name.lower() for name, _ in message.headers} & set(SIGNATURE_HEADERS):
            raise Challenge("agent-token", "sign the request with your agent token (Signature-Key: sig=jwt)")
        verified = await verify_request(
            message,
            resolver=self.resolver,
            now=int(self.clock()),
            window=self.signature_window,
            accept_schemes=("jwt",),
            token_types=PRESENTABLE,
            expected_aud=self.identifier,
            dev=self.dev,
        )
        token = verified.token
        own = (
            (metadata.ACCESS_DWK, self.access_server)
            if self.access_server
            else (metadata.PERSON_DWK, token.iss)
        )
        if token.typ == AUTH_TYP and (token.dwk, token.iss) != own:
            # -11 "Auth Token Verification": an auth token comes from the resource's own AS
            # when it has one (``dwk`` aauth-access.json), from a PS asserting identity when not
            raise SignatureError("invalid_jwt", f"{self.identifier} takes no auth token from {token.iss}")
        if await self.revocations.is_revoked(token):
            # say what to fetch again, and never re-challenge with auth-token
            requirement = "agent-token" if token.typ == AGENT_TYP else "person-token"
            error = SignatureError(
                "revoked_jwt", f"the {token.typ} {token.jti!r} from {token.iss} has been revoked"
            )
            raise Challenge(requirement, error.detail, error=error)
        return Caller.of(verified)

    async def authenticate(
        self,
        request: Request,
        access: str,
        scope: str | None = None,
        *,
        account: str | None = None,
        interaction: bool = False,
    ) -> Caller:
        """The challenge ladder: verify, then admit the caller or raise the next
        :class:`Challenge` (agent token → person token → auth token with ``scope``, and with
        ``account`` when the request acts on one: -11 "Account Binding", "an auth token for
        one account grants nothing at another")."""
        caller = await self.verify(request)
        typ = caller.token.typ
        if access == "agent-token":
            return caller
        if access == "session-token":
            return self.session_caller(request, caller, scope)
        if typ == AGENT_TYP:
            raise Challenge(
                "person-token", f"get a person token for {self.identifier} from your Person Server"
            )
        if access == "person-token":
            return caller
        if not self.admits(caller, scope, account):
            # a person token has no scopes; an auth token for another account grants nothing here
            why = "an auth token" if typ == PERSON_TYP else f"an auth token with scope {scope!r}"
            extra = {"interaction": self.held.initiate(caller, scope)} if interaction else None
            resource_token = self.resource_token(
                caller.token, caller.jkt, scope, account=account, extra=extra
            )
            raise Challenge(
                "auth-token",
                f"this needs {why}: take the resource token to your Person Server",
                caller=caller,
                resource_token=resource_token,
            )
        return caller

    @staticmethod
    def admits(caller: Caller, scope: str | None, account: str | None) -> bool:
        """Whether an auth token carries all of ``scope`` and, when one is named, ``account``."""
        return caller.token.typ == AUTH_TYP and (
            set(scope_tokens(scope)) <= caller.scopes and account in (None, caller.account)
        )

    def session_caller(self, request: Request, caller: Caller, scope: str) -> Caller:
        """-11 "AAuth-Access Security": the session an ``Authorization: AAuth`` names counts only
        when the signature covers ``authorization`` and its signer holds it; none → hold the
        request for the person's approval (``202 requirement=interaction``)."""
        covered = any(line.startswith('"authorization":') for line in caller.verified.base.splitlines())
        session = self.sessions.presented(
            request.headers.get("authorization"), covered=covered, agent=caller.session_agent, jkt=caller.jkt
        )
        if session is not None and set(scope_tokens(scope)) <= session.scope:
            return caller.with_session(session)
        raise Challenge("interaction", f"{self.identifier} asks the person first", caller=caller)

    def resource_token_expired(self, token: str | None) -> bool:
        """Whether a resource token this resource minted has expired (or there is none)."""
        if token is None:
            return True
        exp = decode_unverified(token).payload.get("exp")
        return not isinstance(exp, int) or exp <= self.clock()

    def resource_token(
        self,
        presented: VerifiedToken,
        agent_jkt: str,
        scope: str,
        *,
        account: str | None = None,
        extra: dict | None = None,
    ) -> str:
        """An ``aa-resource+jwt`` (-11 "Resource Token Structure") for the PS behind ``presented`` (a person
        or auth token this resource verified): ``ps`` = that PS, ``aud`` = this resource's Access
        Server if it has one (four-party), else that PS; ``sub``, ``mission_s256`` and ``tenant``
        copied, ``presented_jti`` = its ``jti``."""
        ps = presented.iss if presented.typ == PERSON_TYP else presented.ps
        now = int(self.clock())
        return tokens.mint_resource_token(
            self.key,
            iss=self.identifier,
            aud=self.access_server or ps,
            ps=ps,
            sub=presented.sub,
            presented_jti=presented.jti,
            agent_jkt=agent_jkt,
            scope=scope,
            iat=now,
            exp=now + self.resource_token_lifetime,
            jti=self.id_factory(),
            account=account,
            mission_s256=presented.mission_s256,
            tenant=presented.tenant,
            dev=self.dev,
            extra=extra,
        )
