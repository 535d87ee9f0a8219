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
authorization endpoint ``POST /authorize`` (-11 "Authorization Endpoint Request"), the
revocation endpoint ``POST /revoke`` (a Person Server revokes the person and auth tokens
it issued), ``/.well-known/aauth-resource.json`` and its JWKS.
Errors are the kit's :class:`errors.AAuthError` rendered as problem+json (one error
boundary, :mod:`aauth_kit.asgi`), never a 500.
"""

from __future__ import annotations

import inspect
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import headers, metadata, revocation, tokens
from .asgi import exception_handlers, http_message, middleware, problem_response
from .claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from .errors import AAuthError, SignatureError, UsageError
from .identifiers import check_server_identifier
from .jwks import KeyResolver, jwks
from .keys import Key
from .message import HttpMessage, require_json_object
from .profile import VerifiedRequest, verify_request
from .token_verification import VerifiedToken

#: Route access modes, weakest first (``open`` is no AAuth at all).
ROUTE_ACCESS = ("open", "agent-token", "person-token", "auth-token")
#: The tokens an agent may present to a resource in ``Signature-Key``.
PRESENTABLE = (AGENT_TYP, PERSON_TYP, AUTH_TYP)
SIGNATURE_HEADERS = ("signature", "signature-input", "signature-key")
METADATA_PATH = f"/.well-known/{metadata.RESOURCE_DWK}"
JWKS_PATH = "/.well-known/jwks.json"
AUTHORIZATION_PATH = "/authorize"
REVOCATION_PATH = revocation.REVOCATION_PATH
#: Revocations a resource keeps at most (each is dropped after the token's ``exp``).
MAX_REVOCATIONS = 100_000

_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
#: ``revoked`` may be a set of ``(iss, jti)`` or ``check(iss, jti) -> bool`` (sync or async).
RevocationCheck = Callable[[str, str], "bool | Awaitable[bool]"]
#: ``account(request)``: the account at this resource a request acts on (-11 "Account Binding").
AccountOf = Callable[[Request], "str | None"]


@dataclass(frozen=True)
class Caller:
    """Who called, after -11 verification: ``request.state.caller`` in a protected endpoint."""

    verified: VerifiedRequest
    token: VerifiedToken  # the token in Signature-Key
    agent: str | None  # agent identifier (agent token ``sub``) when an agent token was presented
    person: tuple[str, str] | None  # ``(iss, sub)`` of a person or auth token
    scopes: frozenset[str]  # the auth token's ``scope``
    jkt: str  # RFC 7638 thumbprint of the key that signed the request
    account: str | None = None  # the auth token's ``account`` (-11 "Account Binding")

    @classmethod
    def of(cls, verified: VerifiedRequest) -> Caller:
        token = verified.token
        return cls(
            verified=verified,
            token=token,
            agent=token.sub if token.typ == AGENT_TYP else None,
            person=(token.iss, token.sub) if token.typ in (PERSON_TYP, AUTH_TYP) else None,
            scopes=frozenset((token.scope or "").split()) if token.typ == AUTH_TYP else frozenset(),
            jkt=verified.key.thumbprint(),
            account=token.account if token.typ == AUTH_TYP else None,
        )


class Challenge(Exception):
    """A requirement response (-11 "Requirement Responses"): ``401`` +
    ``AAuth-Requirement: requirement=<requirement>`` with its parameters."""

    def __init__(self, requirement: str, detail: str, *, error: SignatureError | None = None, **params: str):
        super().__init__(detail)
        self.requirement = requirement
        self.detail = detail
        self.error = error  # a Signature-Error that rides along (a revoked token)
        self.params = params

    def response(self) -> Response:
        value = headers.serialize_requirement(self.requirement, **self.params)
        if self.error is not None:
            return problem_response(self.error, {"aauth-requirement": value})
        body = {"requirement": self.requirement, "detail": self.detail}
        return JSONResponse(
            body, status_code=401, headers={"aauth-requirement": value, "cache-control": "no-store"}
        )


async def _challenge_response(request: Request, challenge: Challenge) -> Response:
    return challenge.response()


def _scope_tokens(scope) -> list[str]:
    """The scope tokens of an RFC 6749 §3.3 ``scope`` (single spaces between), or ``[]`` if malformed."""
    return scope.split(" ") if isinstance(scope, str) and _SCOPE.fullmatch(scope) else []


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
        dev: bool = False,
        revoked: Collection[tuple[str, str]] | RevocationCheck | None = None,
        access_mode: str | None = None,
        max_revocations: int = MAX_REVOCATIONS,
        access_server: str | None = None,
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
        self.dev = dev
        self.access_mode = access_mode
        #: -11 "Federated Authorization Access (Four-Party)": the resource's own AS, the ``aud``
        #: of its resource tokens and the only issuer of the auth tokens it takes.
        self.access_server = access_server and check_server_identifier(access_server, dev=dev)
        #: ``(iss, jti)`` of revoked tokens (-11 "Token Revocation"); :meth:`revoke` adds to it.
        self.revoked: set[tuple[str, str]] = set()
        #: When a revocation with a known ``exp`` may be forgotten (``exp`` + skew).
        self.forget_at: dict[tuple[str, str], float] = {}
        self.max_revocations = max_revocations
        self.revocation_check: RevocationCheck | None = None
        if callable(revoked):
            self.revocation_check = revoked
        elif revoked is not None:
            self.revoked.update(revoked)
        self.protected: list[tuple[str, str, str | None]] = []  # (path, access, scope) per route

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
    ) -> Route:
        """A Starlette route running ``endpoint`` only for callers ``access`` admits.

        ``access="auth-token"`` needs ``scope`` (space-separated; the auth token must
        carry all of it); ``account(request)``, when given, names the account the request
        acts on, which the auth token's ``account`` must be.  The endpoint finds the :class:`Caller` in
        ``request.state.caller`` (``None`` on ``open`` routes); an :class:`AAuthError`
        it raises becomes a problem+json response in an app made by :meth:`app`.
        """
        if access not in ROUTE_ACCESS:
            raise UsageError(f"access must be one of {', '.join(ROUTE_ACCESS)}, not {access!r}")
        if access == "auth-token" and not _scope_tokens(scope):
            raise UsageError("an auth-token route needs a scope (space-separated scope tokens)")
        if account is not None and access != "auth-token":
            raise UsageError("only an auth-token route binds an account")
        self.protected.append((path, access, scope))

        async def protected_endpoint(request: Request) -> Response:
            bound = account(request) if account is not None else None
            request.state.caller = (
                None if access == "open" else await self.authenticate(request, access, scope, account=bound)
            )
            response = endpoint(request)
            return await response if inspect.isawaitable(response) else response

        protected_endpoint.__name__ = getattr(endpoint, "__name__", "endpoint")
        return Route(path, protected_endpoint, methods=list(methods))

    def app(self, routes: list, **starlette_kwargs) -> Starlette:
        """A Starlette app: ``routes`` plus metadata, JWKS, the authorization and revocation
        endpoints; a :class:`Challenge` or an :class:`AAuthError` raised in any of them
        becomes its response (and ``exception_handlers`` given here are added)."""
        own = [
            Route(METADATA_PATH, self._metadata_endpoint, methods=["GET"]),
            Route(JWKS_PATH, self._jwks_endpoint, methods=["GET"]),
            Route(AUTHORIZATION_PATH, self._authorization_endpoint, methods=["POST"]),
            Route(REVOCATION_PATH, self._revocation_endpoint, methods=["POST"]),
        ]
        handlers = exception_handlers(
            {Challenge: _challenge_response, **starlette_kwargs.pop("exception_handlers", {})}
        )
        starlette_kwargs["middleware"] = [*middleware(), *starlette_kwargs.get("middleware", [])]
        return Starlette(routes=own + list(routes), exception_handlers=handlers, **starlette_kwargs)

    # -- verification ----------------------------------------------------------------------
    async def http_message(self, request: Request) -> HttpMessage:
        """The request as the signature layer sees it, addressed to this resource."""
        return await http_message(request, self.identifier)

    async def is_revoked(self, token: VerifiedToken) -> bool:
        """Whether ``(iss, jti)`` was revoked (-11 "Token Revocation": keyed by issuer and ``jti``)."""
        if (token.iss, token.jti) in self.revoked:
            return True
        if self.revocation_check is None:
            return False
        answer = self.revocation_check(token.iss, token.jti)
        return bool(await answer if inspect.isawaitable(answer) else answer)

    def revoke(self, iss: str, jti: str, exp: int | None = None, *, forget: bool = False) -> None:
        """Refuse the token ``(iss, jti)`` from now on.  With ``forget`` (a revocation that
        came over the wire) the entry is dropped once the token has expired (a revocation
        matters until ``exp`` + skew; :func:`revocation.keep_until`); else it stays.

        Raises ``429 rate_limited`` when :attr:`max_revocations` entries are held.
        """
        now = self.clock()
        for key in [key for key, at in self.forget_at.items() if at <= now]:
            del self.forget_at[key]
            self.revoked.discard(key)
        if not forget:
            self.revoked.add((iss, jti))
            return
        until = revocation.keep_until(exp, now)
        if until <= now:
            return  # the token has expired already: nothing to remember
        if (iss, jti) not in self.revoked and len(self.revoked) >= self.max_revocations:
            raise AAuthError(
                "rate_limited",
                f"{self.identifier} holds {len(self.revoked)} revocations; try later",
                retry_after=revocation.SKEW,
            )
        self.revoked.add((iss, jti))
        self.forget_at[(iss, jti)] = max(until, self.forget_at.get((iss, jti), until))

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
        if await self.is_revoked(token):
            # say what to fetch again, and never re-challenge with auth-token
            requirement = "agent-token" if token.typ == AGENT_TYP else "person-token"
            error = SignatureError(
                "revoked_jwt", f"the {token.typ} {token.jti!r} from {token.iss} has been revoked"
            )
            raise Challenge(requirement, error.detail, error=error)
        return Caller.of(verified)

    async def authenticate(
        self, request: Request, access: str, scope: str | None = None, *, account: str | None = None
    ) -> Caller:
        """The challenge ladder: verify, then admit the caller or raise the next
        :class:`Challenge` (agent token → person token → auth token with ``scope``, and with
        ``account`` when the request acts on one: -11 "Account Binding", "an auth token for
        one account grants nothing at another")."""
        caller = await self.verify(request)
        typ = caller.token.typ
        if access == "agent-token":
            return caller
        if typ == AGENT_TYP:
            raise Challenge(
                "person-token", f"get a person token for {self.identifier} from your Person Server"
            )
        if access == "person-token":
            return caller
        if not set(_scope_tokens(scope)) <= caller.scopes or account not in (None, caller.account):
            # a person token has no scopes; an auth token for another account grants nothing here
            why = "an auth token" if typ == PERSON_TYP else f"an auth token with scope {scope!r}"
            resource_token = self.resource_token(caller.token, caller.jkt, scope, account=account)
            raise Challenge(
                "auth-token",
                f"this needs {why}: take the resource token to your Person Server",
                resource_token=resource_token,
            )
        return caller

    def resource_token(
        self, presented: VerifiedToken, agent_jkt: str, scope: str, *, account: str | None = None
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
        )

    # -- the resource's own endpoints ---------------------------------------------------------
    def known_scopes(self) -> set[str]:
        """Scopes this resource grants: described ones and those its routes require."""
        routes = {s for _, access, scope in self.protected if scope for s in _scope_tokens(scope)}
        return set(self.scope_descriptions) | routes

    def metadata_document(self) -> dict:
        """``/.well-known/aauth-resource.json`` (-11 "Metadata Documents")."""
        modes = [access for _, access, _ in self.protected if access != "open"]
        access_mode = self.access_mode or max(modes or ["agent-token"], key=ROUTE_ACCESS.index)
        return metadata.resource_metadata(
            self.identifier,
            f"{self.identifier}{JWKS_PATH}",
            access_mode=access_mode,
            authorization_endpoint=f"{self.identifier}{AUTHORIZATION_PATH}",
            revocation_endpoint=f"{self.identifier}{REVOCATION_PATH}",
            scope_descriptions=self.scope_descriptions or None,
            signature_window=self.signature_window,
            name=self.name or None,
            description=self.description or None,
            dev=self.dev,
        )

    async def _metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata_document())

    async def _jwks_endpoint(self, request: Request) -> Response:
        return JSONResponse(jwks([self.key]))

    async def _authorization_endpoint(self, request: Request) -> Response:
        """-11 "Authorization Endpoint Request": ``POST {"scope", "account"?}`` signed with a person token (or an auth
        token) → ``200 {"resource_token"}``; an agent token → ``requirement=person-token``."""
        caller = await self.authenticate(request, "person-token")
        body = require_json_object(await request.body())
        scope = body.get("scope")
        if not _scope_tokens(scope):
            raise AAuthError("invalid_request", "scope is required: scope tokens separated by single spaces")
        unknown = [s for s in _scope_tokens(scope) if s not in self.known_scopes()]
        if unknown:
            raise AAuthError("invalid_scope", f"{self.identifier} grants no scope {', '.join(unknown)}")
        account = body.get("account")
        if account is not None and not (isinstance(account, str) and account):
            raise AAuthError("invalid_account", "account must be a non-empty string")
        token = self.resource_token(caller.token, caller.jkt, scope, account=account)
        return JSONResponse({"resource_token": token}, headers={"cache-control": "no-store"})

    async def _revocation_endpoint(self, request: Request) -> Response:
        """-11 "Token Revocation": ``POST {"jti", "exp"}`` signed by a Person Server in its own right
        (``sig=jwks_uri``, ``dwk`` ``aauth-person.json``; anyone else: ``403
        unsupported_iss``).  The token ``(signer, jti)`` is refused from now on; the answer
        is ``200`` with an empty body at once (a resource has no cascade, so never ``202``),
        for a ``jti`` it never saw too; a full store is ``429 rate_limited`` with ``Retry-After``."""
        revoked = await revocation.verify_revocation(
            await self.http_message(request),
            resolver=self.resolver,
            accept=(metadata.PERSON_DWK,),
            now=int(self.clock()),
            window=self.signature_window,
            dev=self.dev,
        )
        self.revoke(revoked.signer, revoked.jti, revoked.exp, forget=True)
        return Response(status_code=200)
