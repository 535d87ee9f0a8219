"""The Person Server (PS) and its Agent Provider (AP), one server as in the seed
(draft -11 "Person Server", "Agent Provider", "Person Tokens", "Auth Tokens",
"Deferred Responses", "User Interaction"; aauth-wire.md §5.4-5.6, §5.10, §6, §7.6).

As **Agent Provider** it issues ``aa-agent+jwt`` to agents bound to persons: in
process (:meth:`PersonServer.issue_agent_token`, the lab's bootstrap) or through
``POST /agent/register`` signed with a bare key (``hwk``), which a person approves
unless ``auto_approve_agents`` is on.  An agent changes its key with ``POST
/agent/rotate`` (the kit's choice; -11 only says an agent identifier is stable across key
rotation): signed twice, by the current key with its agent token and by the new key
(``hwk``), it gets an agent token with the same ``sub`` binding the new key, and the old
token is revoked here.

As **Person Server** it answers two signed token endpoints (``Signature-Key: sig=jwt``
with an agent token; body covered by ``content-type`` and ``content-digest``):

* ``POST /person-token`` ``{"resource", "upstream_token"?}`` → a person token for the
  person the agent is bound to, or — in a call chain (§5.10) — for the person behind
  the upstream token; an agent bound to nobody waits for a person to claim it.
* ``POST /auth-token`` ``{"resource_token", "presented_token", "upstream_token"?,
  "justification"?}`` → the §7.6 checks, then the :class:`ConsentPolicy`: a scope
  that needs nobody's consent is granted at once, any other waits for the person.

Waiting is a -11 deferred response: ``202`` with ``Location`` (the pending URL, bound
to the thumbprint of the agent key that asked), ``Retry-After``, ``Cache-Control:
no-store`` and ``AAuth-Requirement: requirement=interaction; url; code``.  A poll with
``Prefer: wait=N`` is held on an :class:`asyncio.Event` and answers the moment the
person decides — through the consent page, the REST consent API or
:meth:`PersonServer.decide`, from any thread.  Final answers: ``200`` token, ``403
denied``, ``403 abandoned``, ``408 expired``; afterwards ``410``.  Polling faster than
``Retry-After`` without ``Prefer: wait`` is ``429 slow_down``; ``DELETE`` cancels.

Revocation (-11 §11.12, wire §5.15): ``POST /revoke`` takes, signed with ``sig=jwks_uri``,
an Agent Provider's revocation of an agent token it issued, or a resource's of a resource
token it issued, keyed by (signer, ``jti``) in SQLite.  An agent token's revocation
cascades to its agent (found by the token's ``jti``: the PS notes every agent token it
acts on): its unanswered pending requests end with polling ``403 revoked``, and each
live person and auth token the PS issued to it is revoked here and at the resource it
was issued for (``revocation_endpoint`` of its metadata, signed by the PS in its own
right).  The answer is ``200`` once every resource has answered or failed, those that
failed listed in ``downstream``.  A person revokes one of their tokens with ``POST
/tokens/{jti}/revoke`` (the same cascade); ``GET /tokens`` lists them.

Missions (-11 §8, wire §4.5, §5.12): ``POST /mission`` ``{"description", "tools"?,
"resources"?}``, signed with the agent token, always waits for the person (``202`` and the
consent page, like a consent request; the scope-based :class:`ConsentPolicy` has nothing to
say about a mission); once approved, the poll answers ``200 {"s256", "mission"}`` — the
blob ``{agent, approved_at, description, expires_at?, approved_tools?, approved_resources?}``
base64url-encoded, its exact bytes stored in SQLite under their SHA-256.  ``POST
/mission/{mission_s256}`` ``{"action": "update", "description"}`` stores the update's exact
bytes (the request body) and answers ``200 {"s256"}``, their SHA-256, the blob and
``mission_s256`` unchanged; ``{"action": "completion", "summary"}`` ends the mission at once
(reason ``completed``).  The person lists their missions with ``GET /missions`` and ends one
with ``POST /missions/{mission_s256}/revoke`` (reason ``revoked``).  A person or auth token
request naming a mission (``mission_s256`` in the body, or in the presented or upstream
token) needs it active — else ``404 mission_not_found`` / ``403 mission_terminated`` — and
the tokens carry the claim, their ``exp`` capped at the mission's ``expires_at`` (set when
``mission_lifetime`` is).

Persons sign in with ``POST /login`` (a session cookie, or the returned token as
``Authorization: Bearer``); the consent page (``/interaction``), the consent REST API
(``/consent``), the token and mission lists, the consent-policy admin endpoint and the audit log need a session.
Everything durable lives in SQLite (:mod:`ps_store`) in ``data_dir``: a new
``PersonServer`` on the same directory carries on where the old one stopped.

Choices where -11 leaves room: a person's ``sub`` is pairwise — an HMAC, keyed from
the PS key, of the person and the resource — so resources cannot correlate persons;
consent is asked every time (no remembered grants), so each story replays the same
way; a request that needs the person is answered ``202`` at once even under
``Prefer: wait`` (the agent must show the code before anybody can decide), and only
polls are held; an agent that sends ``capabilities`` without ``interaction`` gets
``403 user_unreachable`` when the person would be needed, one that sends none is
assumed able to show a code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from aauth_kit import revocation, tokens
from aauth_kit.claims import check_presented_token
from aauth_kit.errors import AAuthError, SignatureError, TokenError, UsageError
from aauth_kit.headers import HeaderError, parse_prefer_wait, serialize_requirement
from aauth_kit.http_client import httpx
from aauth_kit.identifiers import check_agent_identifier, check_endpoint_url, check_server_identifier
from aauth_kit.interaction import callback_error_for, format_code, new_code
from aauth_kit.keys import Key, b64url
from aauth_kit.message import HttpMessage, require_json_object
from aauth_kit.metadata import (
    AGENT_DWK,
    PERSON_DWK,
    RESOURCE_DWK,
    KeyResolver,
    agent_metadata,
    jwks,
    person_metadata,
    select_key,
)
from aauth_kit.profile import VerifiedRequest, covered_components, sign_request, verify_request
from aauth_kit.signature_key import hwk_key, jwt_key

from . import ps_pages as pages
from .ps_store import LIVE, Mission, Pending, PSStore
from .ps_store import mission_s256 as blob_s256

DEFAULT_CONSENT_SCOPES = ("supply-chain:optimize",)
DEFAULT_CONSENT_PREFIXES = ("user.", "profile.", "email.")
SESSION_COOKIE = "aauth_session"
DB_FILE = "ps.sqlite3"
#: Seconds a non-waiting poller must leave between polls (its ``Retry-After``).
POLL_INTERVAL = 5
#: The longest a poll is held, whatever ``Prefer: wait`` asks (RFC 7240 lets a server honour less).
MAX_WAIT = 300
#: -11: person and auth tokens live at most an hour; agent tokens SHOULD stay under a day.
TOKEN_LIFETIME = 3600
AGENT_TOKEN_LIFETIME = 3600
MAX_JUSTIFICATION = 4000
#: The longest mission description or completion summary (Markdown) the PS takes.
MAX_MISSION_TEXT = 20_000
#: A ``mission_s256``: base64url, no padding, of a SHA-256 (43 characters).
MISSION_S256 = re.compile(r"[A-Za-z0-9_-]{43}")
_FINAL_ERRORS = {"denied": "denied", "abandoned": "abandoned", "expired": "expired", "revoked": "revoked"}
#: A revocation without ``exp`` is kept this long: -11 agent tokens SHOULD live under a day.
REVOCATION_RETENTION = 24 * 3600
#: Seconds the PS gives a resource to answer a revocation (then: ``revocation_unavailable``).
REVOCATION_TIMEOUT = 10
#: The signature label under which a rotating agent's new key signs ``POST /agent/rotate``.
NEW_KEY_LABEL = "new"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


# -- consent policy -----------------------------------------------------------------------
@dataclass
class ConsentPolicy:
    """Which scopes need the person's consent: those listed in ``scopes`` and those starting
    with one of ``prefixes`` (the seed's Keycloak attributes ``aauth.consent.required.scopes``
    and ``…scope.prefixes``).  Mutable: a running PS reads it at every request."""

    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_CONSENT_SCOPES))
    prefixes: list[str] = field(default_factory=lambda: list(DEFAULT_CONSENT_PREFIXES))

    def needs_consent(self, scope: str | None) -> bool:
        """True when any space-separated scope is listed or carries a listed prefix."""
        return any(s in self.scopes or s.startswith(tuple(self.prefixes)) for s in (scope or "").split())

    @classmethod
    def from_env(cls, environ=os.environ) -> ConsentPolicy:
        """``AAUTH_CONSENT_SCOPES`` / ``AAUTH_CONSENT_PREFIXES``, JSON arrays of strings as in
        the seed; an unset variable keeps the default."""
        policy = cls()
        for name, attribute in (("AAUTH_CONSENT_SCOPES", "scopes"), ("AAUTH_CONSENT_PREFIXES", "prefixes")):
            if environ.get(name) is None:
                continue
            try:
                value = json.loads(environ[name])
            except ValueError:
                value = None
            if not _strings(value):
                raise UsageError(
                    f"{name} must be a JSON array of strings, e.g. '[\"supply-chain:optimize\"]'"
                )
            setattr(policy, attribute, value)
        return policy

    def update(self, document) -> None:
        """Apply ``{"scopes"?: [...], "prefixes"?: [...]}`` in place (``invalid_request`` if malformed)."""
        if not isinstance(document, dict) or not set(document) <= {"scopes", "prefixes"}:
            raise AAuthError("invalid_request", 'send {"scopes": [...], "prefixes": [...]}')
        for name, value in document.items():
            if not _strings(value) or any(not s or any(c.isspace() for c in s) for s in value):
                raise AAuthError(
                    "invalid_request", f"{name} must be an array of non-empty strings without spaces"
                )
        for name, value in document.items():
            setattr(self, name, list(value))


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) for s in value)


# -- key resolution with the PS's own keys --------------------------------------------------
class OwnKeys(KeyResolver):
    """The PS's resolver: its own documents and key answered in process, every other
    issuer (other Agent Providers, resources) through ``resolver``."""

    def __init__(self, ps: PersonServer, resolver: KeyResolver):
        self.ps = ps
        self.resolver = resolver

    def _own(self, issuer: str, dwk: str) -> bool:
        return issuer == self.ps.identifier and dwk in (AGENT_DWK, PERSON_DWK)

    async def metadata(self, issuer: str, dwk: str) -> dict:
        if self._own(issuer, dwk):
            return self.ps.metadata_document(dwk)
        return await self.resolver.metadata(issuer, dwk)

    async def key(self, issuer: str, dwk: str, kid: str):
        if self._own(issuer, dwk):
            return select_key(self.ps.jwks_document(), kid, where=f"the JWKS of {issuer}")
        return await self.resolver.key(issuer, dwk, kid)


# -- held polls --------------------------------------------------------------------------------
class Waiters:
    """Polls held under ``Prefer: wait``: one :class:`asyncio.Event` per held poll, keyed by
    pending id.  :meth:`notify` may be called from any thread; each event is set on the
    loop its poll runs on."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[str, set] = {}

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


# -- small helpers -----------------------------------------------------------------------------
def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _problem(error: AAuthError, headers: dict | None = None) -> Response:
    return Response(
        error.response_body(),
        status_code=error.status,
        headers={**dict(error.response_headers()), **(headers or {})},
    )


def _optional_string(body: dict, name: str, *, limit: int = MAX_JUSTIFICATION) -> str | None:
    value = body.get(name)
    if value is not None and not (isinstance(value, str) and 0 < len(value) <= limit):
        raise AAuthError(
            "invalid_request", f"{name} must be a non-empty string of at most {limit} characters"
        )
    return value


def _gone() -> AAuthError:
    """-11 polling: after its final answer (or a cancel) the pending URL is gone."""
    return AAuthError("invalid_code", "this pending request has already given its answer", status=410)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(params.items()))
    return urlunsplit(parts._replace(query=query))


def check_callback(url) -> str:
    """A callback the PS may redirect a browser to: an absolute https URL (http only on a
    loopback host), with no userinfo or fragment — never ``javascript:``, ``data:`` or a
    relative path.  ``invalid_request`` otherwise."""
    bad = AAuthError("invalid_request", f"callback {url!r} must be an absolute https URL without fragment")
    if (
        not isinstance(url, str)
        or "#" in url
        or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url)
    ):
        raise bad
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises ValueError
    except ValueError:
        raise bad from None
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    if not secure or not parts.hostname or "@" in parts.netloc:
        raise bad
    return url


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the pages' forms) as a dict."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise AAuthError("invalid_request", "send the form as application/x-www-form-urlencoded")
    try:
        return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise AAuthError("invalid_request", "the form is not UTF-8") from None


def _local_path(target) -> str:
    """Where ``POST /login`` may send the browser next: a path on this server only."""
    if (
        isinstance(target, str)
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/interaction"


# -- the server --------------------------------------------------------------------------------
class PersonServer:
    """The PS + AP app (:attr:`app`) over a :class:`PSStore` in ``data_dir``.

    ``resolver`` finds other issuers' keys (agents of other APs, resources); the PS's
    own are answered in process; ``client_factory`` makes the HTTP client for revocations
    at resources.  ``policy`` may be changed at any time.  ``clock``,
    ``id_factory`` (pending ids) and ``code_factory`` (interaction codes) are injectable
    for docs mode; with ``id_factory`` token ``jti`` values are numbered too.
    """

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver: KeyResolver,
        data_dir: str | Path,
        policy: ConsentPolicy | None = None,
        pending_ttl: float = 600,
        auto_approve_agents: bool = False,
        clock: Callable[[], float] = time.time,
        code_factory: Callable[[], str] | None = None,
        id_factory: Callable[[], str] | None = None,
        dev: bool = False,
        users: dict[str, str] | None = None,
        name: str = "Person Server",
        client_factory: Callable[..., httpx.AsyncClient] | None = None,
        mission_lifetime: int | None = None,
    ):
        check_server_identifier(identifier, dev=dev)
        if not key.has_private:
            raise UsageError("the Person Server signs tokens: its key needs a private part")
        self.identifier = identifier
        self.host = urlsplit(identifier).hostname
        self.key = key
        self.resolver = OwnKeys(self, resolver)
        self.policy = policy if policy is not None else ConsentPolicy()
        self.pending_ttl = pending_ttl
        #: Seconds an approved mission lives (its blob's ``expires_at``); ``None``: until completed.
        self.mission_lifetime = mission_lifetime
        #: ``Retry-After`` of a ``202`` when the poll will not be held; a faster poll is ``429 slow_down``.
        self.poll_interval = POLL_INTERVAL
        self.auto_approve_agents = auto_approve_agents
        self.clock = clock
        self.code_factory = code_factory or new_code
        self.id_factory = id_factory or (lambda: secrets.token_urlsafe(16))
        self.numbered_jtis = id_factory is not None
        self.dev = dev
        self.name = name
        self.store = PSStore(Path(data_dir) / DB_FILE, clock=clock)
        for username, password in (users if users is not None else {"mcp-user": "user123"}).items():
            if self.store.get_user(username) is None:
                self.store.add_user(username, password)
        # pairwise subjects: an HMAC key only this PS (holder of its private key) can compute
        seed = key.private_jwk()["d"].encode()
        self._pairwise_key = hashlib.sha256(b"aauth-kit pairwise subject\x00" + seed).digest()
        self.waiters = Waiters()
        self._poll_not_before: dict[str, float] = {}
        #: ``client_factory(timeout=…)`` → the ``httpx.AsyncClient`` the PS revokes at resources with.
        self.client_factory = client_factory or (lambda **options: httpx.AsyncClient(**options))
        self.revoker = revocation.Revoker(identifier, PERSON_DWK, key, clock)
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        return [
            Route("/", lambda request: RedirectResponse("/interaction", 303)),
            Route("/.well-known/aauth-person.json", self.person_metadata_endpoint),
            Route("/.well-known/aauth-agent.json", self.agent_metadata_endpoint),
            Route("/.well-known/jwks.json", self.jwks_endpoint),
            Route("/person-token", self._api(self.person_token_endpoint), methods=["POST"]),
            Route("/auth-token", self._api(self.auth_token_endpoint), methods=["POST"]),
            Route("/mission", self._api(self.mission_endpoint), methods=["POST"]),
            Route("/mission/{mission_s256}", self._api(self.mission_action_endpoint), methods=["POST"]),
            Route("/pending/{pending_id}", self._api(self.pending_endpoint), methods=["GET", "DELETE"]),
            Route("/agent/register", self._api(self.register_endpoint), methods=["POST"]),
            Route("/agent/rotate", self._api(self.rotate_endpoint), methods=["POST"]),
            Route(revocation.REVOCATION_PATH, self._api(self.revocation_endpoint), methods=["POST"]),
            Route("/login", self.login_endpoint, methods=["POST"]),
            Route("/logout", self._api(self.logout_endpoint), methods=["POST"]),
            Route("/consent", self._api(self.consent_endpoint)),
            Route("/consent/{pending_id}/decision", self._api(self.decision_endpoint), methods=["POST"]),
            Route("/consent/{pending_id}/abandon", self._api(self.abandon_endpoint), methods=["POST"]),
            Route("/interaction", self.interaction_endpoint, methods=["GET", "POST"]),
            Route("/tokens", self._api(self.tokens_endpoint)),
            Route("/tokens/{jti}/revoke", self._api(self.revoke_token_endpoint), methods=["POST"]),
            Route("/missions", self._api(self.missions_endpoint)),
            Route(
                "/missions/{mission_s256}/revoke", self._api(self.revoke_mission_endpoint), methods=["POST"]
            ),
            Route("/admin/consent-policy", self._api(self.policy_endpoint), methods=["GET", "PUT"]),
            Route("/audit", self._api(self.audit_endpoint)),
        ]

    @staticmethod
    def _api(endpoint):
        """Run ``endpoint``; an :class:`AAuthError` becomes its problem+json (and, for a
        signature failure, ``Signature-Error``) response."""

        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except AAuthError as error:
                return _problem(error)

        run.__name__ = endpoint.__name__
        return run

    # -- Python-side API --------------------------------------------------------------------
    def issue_agent_token(
        self,
        local: str,
        agent_key: Key | dict,
        *,
        person: str = "mcp-user",
        lifetime: int = AGENT_TOKEN_LIFETIME,
        name: str | None = None,
    ) -> str:
        """As Agent Provider, issue ``aauth:{local}@{host}`` an agent token binding
        ``agent_key`` and bind the agent to ``person`` (the lab's bootstrap; -11 §5.3)."""
        if self.store.get_user(person) is None:
            raise UsageError(f"no person {person!r} at this PS")
        agent_id = self._agent_id(local)
        public = agent_key if isinstance(agent_key, Key) else Key.from_jwk(agent_key, require_alg=True)
        self.store.upsert_agent(
            agent_id,
            ap_issuer=self.identifier,
            agent_jkt=public.thumbprint(),
            username=person,
            status="approved",
            name=name,
        )
        issued = self._mint_agent_token(
            agent_id, public.public_jwk(kid=False), lifetime=lifetime, actor=person
        )
        return issued["agent_token"]

    def pending_codes(self) -> list[str]:
        """The interaction codes of the live pending requests, oldest first (display form)."""
        now = self.clock()
        return [
            format_code(p.code)
            for p in self.store.list_pending()
            if p.status in LIVE and p.expires_at > now and p.code
        ]

    def decide(self, code_or_pending_id: str, approved: bool, *, by: str = "mcp-user") -> None:
        """The person ``by`` decides, as on the consent page; held polls wake at once."""
        pending = self.store.find_by_code(code_or_pending_id) or self.store.get_pending(code_or_pending_id)
        if pending is None:
            raise AAuthError("not_found", f"no live pending request has code or id {code_or_pending_id!r}")
        self._decide(pending, approved, by)

    def close(self) -> None:
        self.store.close()

    # -- metadata (-11 "Metadata Documents") -------------------------------------------------
    def metadata_document(self, dwk: str) -> dict:
        """``aauth-person.json`` (PS role) or ``aauth-agent.json`` (AP role, plus the kit's
        ``registration_endpoint``)."""
        jwks_uri = f"{self.identifier}/.well-known/jwks.json"
        if dwk == PERSON_DWK:
            return person_metadata(
                self.identifier,
                jwks_uri,
                f"{self.identifier}/auth-token",
                f"{self.identifier}/person-token",
                name=self.name,
                description="Issues person and auth tokens; asks the person for consent.",
                revocation_endpoint=f"{self.identifier}{revocation.REVOCATION_PATH}",
                mission_endpoint=f"{self.identifier}/mission",
                dev=self.dev,
            )
        document = agent_metadata(
            self.identifier, jwks_uri, name=f"{self.name} (Agent Provider)", dev=self.dev
        )
        return {
            **document,
            "registration_endpoint": f"{self.identifier}/agent/register",
            "rotation_endpoint": f"{self.identifier}/agent/rotate",
        }

    def jwks_document(self) -> dict:
        return jwks([self.key])

    async def person_metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata_document(PERSON_DWK))

    async def agent_metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata_document(AGENT_DWK))

    async def jwks_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.jwks_document())

    # -- verifying signed requests (-11 "Verification (Server)") -----------------------------
    async def _message(self, request: Request) -> HttpMessage:
        """The request on this server's identifier, so ``@authority`` must name the PS."""
        query = request.scope.get("query_string", b"")
        path = request.scope.get("raw_path") or request.scope["path"].encode()
        target = self.identifier + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        fields = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        return HttpMessage(
            method=request.method, target_uri=target, headers=fields, body=await request.body()
        )

    async def _verify(
        self, message: HttpMessage, *, schemes: tuple[str, ...] = ("jwt",), label: str | None = None
    ) -> VerifiedRequest:
        """All seven steps with an agent token (``jwt``) or a bare key (``hwk``), bodies
        covered; then the agent token must be no sub-agent's (wire §4.1) and not revoked."""
        verified = await verify_request(
            message,
            resolver=self.resolver,
            now=int(self.clock()),
            accept_schemes=schemes,
            token_types=(tokens.AGENT_TYP,),
            body_required=True,
            label=label,
            dev=self.dev,
        )
        token = verified.token
        if token is not None:
            if token.parent_agent is not None:
                raise SignatureError(
                    "invalid_jwt", "a Person Server takes no requests signed with a sub-agent's token"
                )
            if self.store.is_revoked(token.iss, token.jti):
                raise SignatureError(
                    "revoked_jwt", f"the agent token {token.jti!r} from {token.iss} has been revoked"
                )
        return verified

    async def _agent_request(self, request: Request) -> tuple[HttpMessage, VerifiedRequest]:
        """A request signed with an agent token (token endpoints, missions): verified, and
        the token noted for the Agent Provider's revocations."""
        message = await self._message(request)
        verified = await self._verify(message)
        self._note(verified.token)
        return message, verified

    def _note(self, agent_token: tokens.VerifiedToken) -> None:
        """Remember which agent this agent token belongs to (its AP's revocation names only the ``jti``)."""
        if agent_token.jti is not None:
            self.store.note_agent_token(agent_token.iss, agent_token.jti, agent_token.sub, agent_token.exp)

    async def _verify_parameter(self, value, param: str, **checks) -> tokens.VerifiedToken:
        """A token sent as a body member: its failure is ``<invalid|expired|revoked>_<param>_token``."""
        if not isinstance(value, str):
            raise AAuthError("invalid_request", f"{param}_token must be a string")
        try:
            token = await tokens.verify_token(
                value, resolver=self.resolver, now=int(self.clock()), dev=self.dev, **checks
            )
        except TokenError as error:
            raise error.as_parameter_error(param) from None
        if self.store.is_revoked(token.iss, token.jti):
            raise AAuthError(f"revoked_{param}_token", f"the {token.typ} {token.jti!r} has been revoked")
        return token

    async def _verify_upstream(
        self, value, agent_token: tokens.VerifiedToken
    ) -> tuple[tokens.VerifiedToken, str]:
        """-11 §10.1: the upstream token is a person or auth token for the caller (``aud`` ==
        the caller's agent token ``iss``; ``cnf`` is not compared), from this PS; returns it
        and the person behind it."""
        upstream = await self._verify_parameter(
            value, "upstream", typ=(tokens.PERSON_TYP, tokens.AUTH_TYP), expected_aud=agent_token.iss
        )
        issuer = upstream.iss if upstream.typ == tokens.PERSON_TYP else upstream.ps
        person = self._person_for(upstream.sub, upstream.aud) if issuer == self.identifier else None
        if person is None:
            raise AAuthError("invalid_upstream_token", "this PS knows no person behind the upstream token")
        return upstream, person

    # -- persons and their pairwise subjects -------------------------------------------------
    def subject(self, username: str, audience: str) -> str:
        """The person's ``sub`` at ``audience``: pairwise (-11 "Person Tokens"), stable, and
        the same in person and auth tokens for that audience."""
        mac = hmac.new(self._pairwise_key, f"{username}\x00{audience}".encode(), hashlib.sha256).digest()
        return b64url(mac[:16])

    def _person_for(self, sub: str | None, audience: str | None) -> str | None:
        if not isinstance(sub, str) or not isinstance(audience, str):
            return None
        return next(
            (
                u.username
                for u in self.store.list_users()
                if hmac.compare_digest(self.subject(u.username, audience), sub)
            ),
            None,
        )

    def _agent_id(self, local: str) -> str:
        try:
            return check_agent_identifier(f"aauth:{local}@{self.host}", top_level=True)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"local: {error.detail}") from None

    async def _agent_name(self, agent_id: str, ap: str) -> str | None:
        agent = self.store.get_agent(agent_id)
        if agent is not None and agent.name:
            return agent.name
        if ap == self.identifier:
            return None
        with contextlib.suppress(AAuthError):
            return (await self.resolver.metadata(ap, AGENT_DWK)).get("name")
        return None

    async def _resource_info(self, resource: str) -> dict:
        """The resource's ``name`` and ``scope_descriptions`` for the consent page (-11 §5.4:
        the PS SHOULD show them); an unreachable resource just shows its identifier."""
        with contextlib.suppress(AAuthError):
            document = await self.resolver.metadata(resource, RESOURCE_DWK)
            descriptions = document.get("scope_descriptions")
            return {
                "resource_name": document.get("name") if isinstance(document.get("name"), str) else None,
                "scope_descriptions": descriptions if isinstance(descriptions, dict) else {},
            }
        return {"resource_name": None, "scope_descriptions": {}}

    # -- minting and recording ---------------------------------------------------------------
    def _new_jti(self, prefix: str) -> str:
        if not self.numbered_jtis:
            return secrets.token_urlsafe(16)
        return f"{prefix}-{len(self.store.list_tokens()) + 1:04d}"

    def _record(
        self, mint: Callable[[str], str], prefix: str, *, actor: str, action: str, subject: str, **claims
    ):
        """Mint with a fresh ``jti`` (numbered ones retried on a clash) and record it."""
        for _ in range(100):
            jti = self._new_jti(prefix)
            try:
                self.store.record_token(jti=jti, iss=self.identifier, **claims)
            except AAuthError as error:
                if error.code != "conflict":
                    raise
                continue
            token = mint(jti)
            self.store.audit(
                actor, action, subject, {"jti": jti, **{k: v for k, v in claims.items() if k != "typ"}}
            )
            return token
        raise AAuthError("server_error", "could not find a free jti")

    def _lifetime(self, caps: list[int], *, lifetime: int = TOKEN_LIFETIME) -> tuple[int, int]:
        """``(iat, exp)``: ``exp`` at most ``lifetime`` ahead and never after any of ``caps``
        (-11: ≤ the agent, presented and upstream tokens' ``exp``)."""
        now = int(self.clock())
        exp = min([now + lifetime, *caps])
        if exp <= now:
            raise AAuthError("expired", "a token this request rests on has expired")
        return now, exp

    def _mint_agent_token(self, agent_id: str, jwk: dict, *, lifetime: int, actor: str) -> dict:
        iat, exp = self._lifetime([], lifetime=lifetime)
        token = self._record(
            lambda jti: tokens.mint_agent_token(
                self.key,
                iss=self.identifier,
                sub=agent_id,
                cnf=jwk,
                iat=iat,
                exp=exp,
                jti=jti,
                ps=self.identifier,
                dev=self.dev,
            ),
            "agent",
            actor=actor,
            action="agent_token_issued",
            subject=agent_id,
            typ=tokens.AGENT_TYP,
            aud=None,
            sub=agent_id,
            agent_id=agent_id,
            scope=None,
            iat=iat,
            exp=exp,
        )
        return {"agent_token": token, "expires_in": exp - iat}

    def _mint_person_token(
        self,
        person: str,
        resource: str,
        jwk: dict,
        caps: list[int],
        *,
        agent_id: str,
        mission_s256: str | None = None,
    ) -> dict:
        iat, exp = self._lifetime(caps)
        sub = self.subject(person, resource)
        token = self._record(
            lambda jti: tokens.mint_person_token(
                self.key,
                iss=self.identifier,
                aud=resource,
                sub=sub,
                cnf=jwk,
                iat=iat,
                exp=exp,
                jti=jti,
                mission_s256=mission_s256,
                dev=self.dev,
            ),
            "person",
            actor=agent_id,
            action="person_token_issued",
            subject=resource,
            typ=tokens.PERSON_TYP,
            aud=resource,
            sub=sub,
            agent_id=agent_id,
            scope=None,
            iat=iat,
            exp=exp,
        )
        return {"person_token": token, "expires_in": exp - iat}

    def _mint_auth_token(self, grant: dict, caps: list[int], *, agent_id: str) -> dict:
        """``grant``: ``resource``, ``sub``, ``scope``, ``cnf_jwk``, ``mission_s256``, ``tenant``
        (from the resource token and the signing key; -11 §9.4.1)."""
        iat, exp = self._lifetime(caps)
        token = self._record(
            lambda jti: tokens.mint_auth_token(
                self.key,
                iss=self.identifier,
                aud=grant["resource"],
                ps=self.identifier,
                sub=grant["sub"],
                cnf=grant["cnf_jwk"],
                iat=iat,
                exp=exp,
                jti=jti,
                scope=grant["scope"],
                mission_s256=grant.get("mission_s256"),
                tenant=grant.get("tenant"),
                dev=self.dev,
            ),
            "auth",
            actor=agent_id,
            action="auth_token_issued",
            subject=grant["resource"],
            typ=tokens.AUTH_TYP,
            aud=grant["resource"],
            sub=grant["sub"],
            agent_id=agent_id,
            scope=grant["scope"],
            iat=iat,
            exp=exp,
        )
        return {"auth_token": token, "expires_in": exp - iat}

    @staticmethod
    def _token_response(result: dict) -> Response:
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    # -- POST /person-token (-11 §7.1, wire §5.4, §5.10) --------------------------------------
    async def person_token_endpoint(self, request: Request) -> Response:
        message, verified = await self._agent_request(request)
        agent_token = verified.token
        body = require_json_object(message.body)
        resource = body.get("resource")
        try:
            check_server_identifier(resource, dev=self.dev)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"resource: {error.detail}") from None
        caps, mission_s256, person = [agent_token.exp], None, None
        if "mission_s256" in body:  # -11 §7.1: the agent's own mission
            mission_s256 = self._active_mission(body["mission_s256"], caps, agent_id=agent_token.sub).s256
        if "upstream_token" in body:
            upstream, person = await self._verify_upstream(body["upstream_token"], agent_token)
            caps.append(upstream.exp)
            if mission_s256 is None and upstream.mission_s256 is not None:  # wire §5.10 step 2: copied
                mission_s256 = self._active_mission(upstream.mission_s256, caps).s256
        else:
            agent = self.store.get_agent(agent_token.sub)
            if agent is not None and agent.ap_issuer == agent_token.iss and agent.status == "approved":
                person = agent.username
        jwk = verified.key.public_jwk(kid=False)
        justification, can_interact = _optional_string(body, "justification"), _can_interact(body)
        if person is None:  # nobody stands behind this agent yet: a person must claim it
            _reachable(can_interact)
            request_data = {
                "agent_ap": agent_token.iss,
                "cnf_jwk": jwk,
                "caps": caps,
                "mission_s256": mission_s256,
                **await self._resource_info(resource),
            }
            return await self._defer(
                message,
                "person_token",
                agent_token.sub,
                verified,
                request_data,
                resource=resource,
                justification=justification,
                agent_name=await self._agent_name(agent_token.sub, agent_token.iss),
            )
        result = self._mint_person_token(
            person, resource, jwk, caps, agent_id=agent_token.sub, mission_s256=mission_s256
        )
        return self._token_response(result)

    # -- POST /auth-token (-11 §7.2, wire §5.5, §7.6) -----------------------------------------
    async def auth_token_endpoint(self, request: Request) -> Response:
        message, verified = await self._agent_request(request)
        agent_token = verified.token
        body = require_json_object(message.body)
        for name in ("resource_token", "presented_token"):
            if name not in body:
                raise AAuthError("invalid_request", f"{name} is required")
        justification, can_interact = _optional_string(body, "justification"), _can_interact(body)
        # wire §7.6: the resource token is for this PS, names it as ps and binds the signing key
        resource_token = await self._verify_parameter(
            body["resource_token"],
            "resource",
            typ=tokens.RESOURCE_TYP,
            expected_aud=self.identifier,
            expected_ps=self.identifier,
            signing_key_jwk=verified.key,
        )
        # ... and points back at the presented token, verified as if addressed to the resource
        presented = await self._verify_parameter(
            body["presented_token"],
            "presented",
            typ=(tokens.PERSON_TYP, tokens.AUTH_TYP),
            expected_aud=resource_token.iss,
        )
        check_presented_token(resource_token, presented)
        person = self._person_for(presented.sub, presented.aud)
        if person is None:
            raise AAuthError("invalid_presented_token", "this PS knows no person behind the presented token")
        caps = [agent_token.exp, presented.exp]
        if presented.mission_s256 is not None:  # wire §7.6: the mission is active (and caps exp)
            self._active_mission(presented.mission_s256, caps)
        if "upstream_token" in body:
            upstream, upstream_person = await self._verify_upstream(body["upstream_token"], agent_token)
            if upstream_person != person:
                raise AAuthError("invalid_upstream_token", "the upstream token speaks for another person")
            caps.append(upstream.exp)
        grant = {
            "resource": resource_token.iss,
            "sub": resource_token.sub,
            "scope": resource_token.scope,
            "cnf_jwk": verified.key.public_jwk(kid=False),
            "mission_s256": resource_token.mission_s256,
            "tenant": resource_token.tenant,
        }
        if not self.policy.needs_consent(resource_token.scope):
            return self._token_response(self._mint_auth_token(grant, caps, agent_id=agent_token.sub))
        _reachable(can_interact)
        request_data = {
            "grant": grant,
            "caps": caps,
            "person": person,
            **await self._resource_info(resource_token.iss),
        }
        return await self._defer(
            message,
            "auth_token",
            agent_token.sub,
            verified,
            request_data,
            resource=resource_token.iss,
            scope=resource_token.scope,
            justification=justification,
            agent_name=await self._agent_name(agent_token.sub, agent_token.iss),
        )

    # -- missions (-11 §8, wire §4.5, §5.12) ----------------------------------------------------
    async def mission_endpoint(self, request: Request) -> Response:
        """``POST /mission`` ``{"description", "tools"?, "resources"?}``: the person approves it
        on the consent page (``202`` + interaction code; a poll gets ``200 {"s256", "mission"}``
        or ``403 denied``).  An agent bound to a person may be approved by that person only."""
        message, verified = await self._agent_request(request)
        agent_token = verified.token
        body = require_json_object(message.body)
        description = body.get("description")
        if not isinstance(description, str) or not description.strip() or len(description) > MAX_MISSION_TEXT:
            raise AAuthError(
                "invalid_request",
                f"description must be Markdown text of at most {MAX_MISSION_TEXT} characters",
            )
        request_data = {
            "agent_ap": agent_token.iss,
            "description": description,
            "tools": _mission_tools(body.get("tools")),
            "resources": _mission_resources(body.get("resources"), dev=self.dev),
        }
        agent = self.store.get_agent(agent_token.sub)
        if agent is not None and agent.ap_issuer == agent_token.iss and agent.status == "approved":
            request_data["person"] = agent.username  # only this person may approve
        return await self._defer(
            message,
            "mission",
            agent_token.sub,
            verified,
            request_data,
            agent_name=await self._agent_name(agent_token.sub, agent_token.iss),
        )

    def _approve_mission(self, pending: Pending) -> dict:
        """The approval response of -11 §8.2: the blob's bytes are made once, stored verbatim,
        and ``s256`` is their SHA-256.  Identical bytes are the same mission (a concurrent poll
        finds it stored); if that mission has ended, ``approved_at`` moves on a second."""
        data = pending.request
        for bump in range(100):
            approved_at = int(pending.decided_at) + bump
            blob = {
                "agent": pending.agent_id,
                "approved_at": _iso(approved_at),
                "description": data["description"],
            }
            expires_at = approved_at + self.mission_lifetime if self.mission_lifetime else None
            if expires_at is not None:
                blob["expires_at"] = _iso(expires_at)
            if data.get("tools") is not None:
                blob["approved_tools"] = data["tools"]
            if data.get("resources") is not None:
                blob["approved_resources"] = data["resources"]
            raw = json.dumps(blob, separators=(",", ":"), ensure_ascii=False).encode()
            mission = self.store.get_mission(blob_s256(raw))
            if mission is None:
                with contextlib.suppress(AAuthError):
                    mission = self.store.add_mission(
                        raw, agent_id=pending.agent_id, username=pending.decided_by, expires_at=expires_at
                    )
                    self.store.audit(
                        pending.decided_by,
                        "mission_issued",
                        pending.agent_id,
                        {"mission_s256": mission.s256, "pending_id": pending.id},
                    )
                mission = mission or self.store.get_mission(blob_s256(raw))
            if mission.status == "active" and mission.agent_id == pending.agent_id:
                return {"s256": mission.s256, "mission": b64url(mission.blob)}
        raise AAuthError("server_error", "could not store the mission")

    def _active_mission(self, s256, caps: list[int] | None = None, *, agent_id: str | None = None) -> Mission:
        """-11 §8: ``s256`` names an active mission (of ``agent_id``, when given) — else ``404
        mission_not_found``, the same whether absent or another agent's, or ``403
        mission_terminated`` with ``mission_status`` and ``termination_reason``.  A mission past
        its ``expires_at`` is terminated (``expired``) here.  Its ``expires_at`` joins ``caps``."""
        if not isinstance(s256, str) or not MISSION_S256.fullmatch(s256):
            raise AAuthError("invalid_request", "mission_s256 must be a base64url SHA-256 (43 characters)")
        mission = self.store.get_mission(s256, agent_id=agent_id)
        if mission is None:
            raise AAuthError("mission_not_found", "no mission with this mission_s256 for this agent")
        mission = self._expire_if_due(mission)
        if mission.status != "active":
            raise AAuthError(
                "mission_terminated",
                f"the mission has ended ({mission.termination_reason})",
                mission_status=mission.status,
                termination_reason=mission.termination_reason,
            )
        if caps is not None and mission.expires_at is not None:
            caps.append(int(mission.expires_at))
        return mission

    def _expire_if_due(self, mission: Mission) -> Mission:
        """An active mission past its ``expires_at`` is terminated (``expired``) when next seen."""
        if (
            mission.status == "active"
            and mission.expires_at is not None
            and mission.expires_at <= self.clock()
        ):
            with contextlib.suppress(AAuthError):  # a concurrent request terminated it first
                self.store.terminate_mission(mission.s256, "expired")
                self.store.audit(
                    self.identifier, "mission_expired", mission.agent_id, {"mission_s256": mission.s256}
                )
            mission = self.store.get_mission(mission.s256)
        return mission

    async def mission_action_endpoint(self, request: Request) -> Response:
        """``POST /mission/{mission_s256}`` (-11 §8, wire §5.12).  ``{"action": "update",
        "description"}``: the request body's exact bytes are persisted as the update — ``200
        {"s256"}``, their SHA-256; the blob and ``mission_s256`` stay unchanged.  ``{"action":
        "completion", "summary"}``: this PS accepts a completion at once — ``200``, the mission
        terminated with reason ``completed`` — instead of holding it (``202``) for the person's
        review.  A bad segment, action, description or summary is ``400 invalid_request``; an
        unknown mission or another agent's ``404 mission_not_found``; a terminated one ``403
        mission_terminated``."""
        message, verified = await self._agent_request(request)
        agent_token = verified.token
        s256 = request.path_params["mission_s256"]
        if not MISSION_S256.fullmatch(s256):
            raise AAuthError("invalid_request", "the path segment must be a mission_s256 (base64url SHA-256)")
        body = require_json_object(message.body)
        if body.get("action") == "update":
            return self._update_mission(s256, body, message.body, agent_id=agent_token.sub)
        if body.get("action") != "completion":
            raise AAuthError("invalid_request", 'action must be "update" or "completion"')
        summary = body.get("summary")
        if not isinstance(summary, str) or not summary.strip() or len(summary) > MAX_MISSION_TEXT:
            raise AAuthError(
                "invalid_request", f"summary must be Markdown text of at most {MAX_MISSION_TEXT} characters"
            )
        self._active_mission(s256, agent_id=agent_token.sub)
        try:
            self.store.terminate_mission(s256, "completed", summary=summary)
        except AAuthError:  # terminated by a concurrent request: answer as for any dead mission
            self._active_mission(s256, agent_id=agent_token.sub)
            raise
        self.store.audit(agent_token.sub, "mission_completed", agent_token.sub, {"mission_s256": s256})
        return JSONResponse({"mission_status": "terminated", "termination_reason": "completed"})

    def _update_mission(self, s256: str, body: dict, raw: bytes, *, agent_id: str) -> Response:
        """-11 §8 mission update: the agent's new Markdown ``description``; the PS persists the
        update's bytes verbatim and answers their SHA-256 (wire §5.12)."""
        description = body.get("description")
        if not isinstance(description, str) or not description.strip() or len(description) > MAX_MISSION_TEXT:
            raise AAuthError(
                "invalid_request",
                f"description must be Markdown text of at most {MAX_MISSION_TEXT} characters",
            )
        self._active_mission(s256, agent_id=agent_id)
        try:
            update = self.store.add_mission_update(s256, raw)
        except AAuthError:  # terminated by a concurrent request: answer as for any dead mission
            self._active_mission(s256, agent_id=agent_id)
            raise
        self.store.audit(
            agent_id, "mission_updated", agent_id, {"mission_s256": s256, "update_s256": update.s256}
        )
        return JSONResponse({"s256": update.s256})

    # -- POST /agent/register (the AP's bootstrap) --------------------------------------------
    async def register_endpoint(self, request: Request) -> Response:
        """``{"local", "name"?}`` signed with ``hwk``: the key becomes the agent's; issued at
        once with ``auto_approve_agents`` (or for a known, approved key), else a person approves."""
        message = await self._message(request)
        verified = await self._verify(message, schemes=("hwk",))
        body = require_json_object(message.body)
        if not isinstance(body.get("local"), str):
            raise AAuthError("invalid_request", "local (the agent's local name) is required")
        agent_id = self._agent_id(body["local"])
        name, can_interact = _optional_string(body, "name", limit=200), _can_interact(body)
        jwk, jkt = verified.key.public_jwk(kid=False), verified.key.thumbprint()
        known = self.store.get_agent(agent_id)
        if known is not None and known.ap_issuer == self.identifier and known.agent_jkt != jkt:
            raise AAuthError("conflict", f"{agent_id} is registered with another key")
        if self.auto_approve_agents or (known is not None and known.status == "approved"):
            self.store.upsert_agent(
                agent_id, ap_issuer=self.identifier, agent_jkt=jkt, status="approved", name=name
            )
            result = self._mint_agent_token(
                agent_id, jwk, lifetime=AGENT_TOKEN_LIFETIME, actor=self.identifier
            )
            return self._token_response(result)
        _reachable(can_interact)
        self.store.upsert_agent(agent_id, ap_issuer=self.identifier, agent_jkt=jkt, name=name)
        request_data = {"agent_ap": self.identifier, "cnf_jwk": jwk}
        return await self._defer(message, "agent_approval", agent_id, verified, request_data, agent_name=name)

    # -- POST /agent/rotate (the AP's key rotation) ------------------------------------------
    async def rotate_endpoint(self, request: Request) -> Response:
        """Signed twice (see :func:`sign_key_rotation`): ``sig`` by the current key with the
        agent token this AP issued, ``new`` by the new key as ``hwk``.  The agent keeps its
        identifier and its person; the old agent token is revoked; the answer is a new agent
        token binding the new key (-11 "Agent Tokens": ``sub`` is stable across key rotation)."""
        message = await self._message(request)
        current = await self._verify(message, label="sig")
        new = await self._verify(message, schemes=("hwk",), label=NEW_KEY_LABEL)
        old_token, new_jkt = current.token, new.key.thumbprint()
        agent = self.store.get_agent(old_token.sub)
        if (
            old_token.iss != self.identifier
            or agent is None
            or agent.status != "approved"
            or agent.agent_jkt != current.key.thumbprint()
        ):
            raise AAuthError(
                "forbidden", f"{old_token.sub} is no approved agent of this AP with this key", status=403
            )
        if new_jkt == agent.agent_jkt:
            raise AAuthError("invalid_request", "the new key is the current key")
        self.store.upsert_agent(agent.agent_id, ap_issuer=self.identifier, agent_jkt=new_jkt)
        self.store.revoke(old_token.iss, old_token.jti, old_token.exp)
        self.store.audit(
            agent.agent_id,
            "agent_key_rotated",
            agent.agent_id,
            {"old_jkt": agent.agent_jkt, "new_jkt": new_jkt, "revoked_jti": old_token.jti},
        )
        result = self._mint_agent_token(
            agent.agent_id, new.key.public_jwk(kid=False), lifetime=AGENT_TOKEN_LIFETIME, actor=agent.agent_id
        )
        return self._token_response(result)

    # -- deferred responses (-11 "Deferred Responses", wire §3.9, §5.6) --------------------------
    async def _defer(
        self,
        message: HttpMessage,
        kind: str,
        agent_id: str,
        verified: VerifiedRequest,
        request_data: dict,
        *,
        agent_name: str | None,
        resource: str | None = None,
        scope: str | None = None,
        justification: str | None = None,
    ) -> Response:
        request_data = {**request_data, "agent_name": agent_name, "agent_jkt": verified.key.thumbprint()}
        for _ in range(100):  # injected ids and codes may repeat after a restart: take the next
            try:
                pending = self.store.create_pending(
                    kind,
                    agent_id=agent_id,
                    agent_jkt=verified.key.thumbprint(),
                    request=request_data,
                    expires_in=self.pending_ttl,
                    resource=resource,
                    scope=scope,
                    justification=justification,
                    code=self.code_factory(),
                    pending_id=self.id_factory(),
                )
                break
            except AAuthError as error:
                if error.code != "conflict":
                    raise
        else:
            raise AAuthError("server_error", "could not allocate a pending request id and code")
        self.store.audit(
            agent_id,
            f"{kind}_requested",
            resource or agent_id,
            {"pending_id": pending.id, "scope": scope, "justification": justification},
        )
        return self._pending_response(pending, waiting=bool(self._prefer_wait(message)))

    def _pending_response(self, pending: Pending, *, waiting: bool) -> Response:
        """``202``: come back to ``Location`` — at once when the poll will be held
        (``Prefer: wait``), else after :attr:`poll_interval` seconds."""
        retry_after = 0 if waiting else self.poll_interval
        self._poll_not_before[pending.id] = self.clock() + retry_after
        requirement = serialize_requirement(
            "interaction", url=f"{self.identifier}/interaction", code=format_code(pending.code), dev=self.dev
        )
        headers = {
            "Location": f"{self.identifier}/pending/{pending.id}",
            "Retry-After": str(retry_after),
            "Cache-Control": "no-store",
            "AAuth-Requirement": requirement,
        }
        return JSONResponse({"status": pending.status}, status_code=202, headers=headers)

    @staticmethod
    def _prefer_wait(message: HttpMessage) -> int:
        """``Prefer: wait`` in seconds (0 when absent; a malformed preference is ignored, RFC 7240 §2)."""
        try:
            return min(parse_prefer_wait(message.header("prefer")) or 0, MAX_WAIT)
        except HeaderError:
            return 0

    def _current(self, pending_id: str) -> Pending:
        """The request, moved to ``expired`` first if its time ran out."""
        pending = self.store.get_pending(pending_id)
        if pending.status in LIVE and pending.expires_at <= self.clock():
            for expired in self.store.expire_due():
                self.store.audit(self.identifier, "pending_expired", expired)
            pending = self.store.get_pending(pending_id)
        return pending

    async def pending_endpoint(self, request: Request) -> Response:
        """``GET``/``DELETE`` the pending URL, signed by the key that created it (anyone
        else: ``404``, the URL is not theirs to see)."""
        message = await self._message(request)
        verified = await self._verify(message, schemes=("jwt", "hwk"))
        pending_id = request.path_params["pending_id"]
        if self.store.get_pending(pending_id, agent_jkt=verified.key.thumbprint()) is None:
            raise AAuthError("not_found", "no pending request at this URL for this agent key")
        if request.method == "DELETE":
            return self._cancel(pending_id)
        wait = self._prefer_wait(message)
        self.store.record_poll(pending_id)
        with self.waiters.watch(pending_id) as changed:
            pending = self._current(pending_id)
            if (
                pending.status in LIVE
                and not wait
                and self.clock() < self._poll_not_before.get(pending_id, 0)
            ):
                retry_after = math.ceil(self._poll_not_before[pending_id] - self.clock())
                return _problem(
                    AAuthError("slow_down", f"poll again in {retry_after} s, or send Prefer: wait"),
                    {"Retry-After": str(retry_after)},
                )
            if pending.status in LIVE and wait:
                # held until the state changes, the wait ends, or the request expires
                timeout = min(wait, pending.expires_at - self.clock() + 0.01)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), max(timeout, 0))
                pending = self._current(pending_id)
        if pending.status in LIVE:
            return self._pending_response(pending, waiting=bool(wait))
        return self._final_answer(pending)

    def _final_answer(self, pending: Pending) -> Response:
        """The one final answer of a decided request; ``410`` after it."""
        if pending.status == "cancelled" or pending.answered_at is not None:
            raise _gone()
        if pending.status == "approved":
            self._complete(pending)
        answered = self.store.claim_answer(pending.id)
        if answered is None:
            raise _gone()
        self._poll_not_before.pop(pending.id, None)
        if answered.status == "completed":
            return self._token_response(answered.result)
        raise AAuthError(_FINAL_ERRORS[answered.status], f"the pending request ended: {answered.status}")

    def _complete(self, pending: Pending) -> None:
        """Mint what an approved request asked for and store it as the poll's result."""
        data, agent_id = pending.request, pending.agent_id
        if pending.kind == "auth_token":
            result = self._mint_auth_token(data["grant"], data["caps"], agent_id=agent_id)
        elif pending.kind == "person_token":
            result = self._mint_person_token(
                pending.decided_by,
                pending.resource,
                data["cnf_jwk"],
                data["caps"],
                agent_id=agent_id,
                mission_s256=data.get("mission_s256"),
            )
        elif pending.kind == "mission":
            result = self._approve_mission(pending)
        else:
            result = self._mint_agent_token(
                agent_id, data["cnf_jwk"], lifetime=AGENT_TOKEN_LIFETIME, actor=pending.decided_by
            )
        with contextlib.suppress(AAuthError):  # a concurrent poll completed it first: its result stands
            self.store.set_result(pending.id, result)

    def _cancel(self, pending_id: str) -> Response:
        """``DELETE``: the agent withdraws a live request (later requests: ``410``)."""
        try:
            pending = self.store.cancel(pending_id)
        except AAuthError as error:
            raise _gone() if error.code in ("conflict", "expired") else error from None
        self.store.audit(
            pending.agent_id,
            "pending_cancelled",
            pending.resource or pending.agent_id,
            {"pending_id": pending_id},
        )
        self.waiters.notify(pending_id)
        return Response(status_code=204)

    # -- revocation (-11 §11.12, wire §5.15) ---------------------------------------------------
    async def revocation_endpoint(self, request: Request) -> Response:
        """``POST /revoke`` ``{"jti", "exp"}`` signed with ``sig=jwks_uri`` by an Agent Provider
        (``dwk`` ``aauth-agent.json``: one of its agent tokens) or a resource (``aauth-resource.json``:
        one of its resource tokens); anyone else ``403 unsupported_iss``.  ``200`` once the
        cascade is terminal: empty, or ``{"downstream": [{"recipient", "error"}]}``."""
        revoked = await revocation.verify_revocation(
            await self._message(request),
            resolver=self.resolver,
            accept=(AGENT_DWK, RESOURCE_DWK),
            now=int(self.clock()),
            dev=self.dev,
        )
        if revoked.dwk == AGENT_DWK:
            downstream = await self.revoke_agent_token(
                revoked.signer, revoked.jti, revoked.exp, actor=revoked.signer
            )
        else:  # a resource token: refused from now on as resource_token (revoked_resource_token)
            self._remember_revocation(revoked.signer, revoked.jti, revoked.exp, actor=revoked.signer)
            downstream = []
        if not downstream:
            return Response(status_code=200)
        return JSONResponse({"downstream": downstream})

    def _remember_revocation(self, iss: str, jti: str, exp: int | None, *, actor: str) -> None:
        """Store ``(iss, jti)`` (kept until ``exp`` + skew) and forget revocations past theirs."""
        now = int(self.clock())
        self.store.forget_expired(now - revocation.SKEW)
        self.store.revoke(iss, jti, exp if exp is not None else now + REVOCATION_RETENTION)
        self.store.audit(actor, "token_revoked", iss, {"jti": jti, "exp": exp})

    async def revoke_agent_token(self, ap: str, jti: str, exp: int | None, *, actor: str) -> list[dict]:
        """The AP ``ap`` revoked its agent token ``jti``: refuse it, end its agent's unanswered
        pending requests (polls answer ``403 revoked``) and revoke every live person and auth
        token issued to that agent, here and at its resource.  Returns the ``downstream`` report."""
        self._remember_revocation(ap, jti, exp, actor=actor)
        agent_id = self.store.agent_of(ap, jti)
        if agent_id is None:
            return []  # never met here: refusing it from now on is all there is to do
        for pending_id in self.store.revoke_pending(agent_id):
            self.store.audit(actor, "pending_revoked", agent_id, {"pending_id": pending_id})
            self.waiters.notify(pending_id)
        now = self.clock()
        issued = [
            t
            for t in self.store.list_tokens(agent_id=agent_id)
            if t.typ in (tokens.PERSON_TYP, tokens.AUTH_TYP)
            and t.iss == self.identifier
            and t.exp > now
            and not self.store.is_revoked(t.iss, t.jti)
        ]
        return await self.revoke_issued(issued, actor=actor)

    async def revoke_issued(self, issued: list, *, actor: str) -> list[dict]:
        """Revoke tokens this PS issued (``ps_store.IssuedToken``), here and at the resource
        each was issued for, one signed ``POST`` per token (-11 §11.12: PS → resource).
        Returns ``[{"recipient", "error"}]`` for the resources that could not be told."""
        failed: dict[str, str] = {}
        async with self.client_factory(timeout=REVOCATION_TIMEOUT) as client:
            for token in issued:
                self.store.revoke(token.iss, token.jti, token.exp)
                error = await self._revoke_at_resource(client, token)
                self.store.audit(
                    actor,
                    "token_revoked",
                    token.aud,
                    {"jti": token.jti, "typ": token.typ, "agent": token.agent_id, "error": error},
                )
                if error is not None:
                    failed.setdefault(token.aud, error)
        return [{"recipient": recipient, "error": error} for recipient, error in failed.items()]

    async def _revoke_at_resource(self, client, token) -> str | None:
        """Tell the token's resource; ``None`` when it answered ``200``, else the error code
        (``revocation_unavailable`` when it has no usable ``revocation_endpoint`` or cannot be reached)."""
        try:
            document = await self.resolver.metadata(token.aud, RESOURCE_DWK)
            endpoint = check_endpoint_url(document.get("revocation_endpoint"), dev=self.dev)
        except AAuthError:
            return revocation.UNAVAILABLE  # no metadata, or no usable revocation_endpoint in it
        try:
            await self.revoker.revoke(client, endpoint, token.jti, token.exp)
        except AAuthError as error:
            return error.code  # the resource's own answer, or revocation_unavailable
        return None

    # -- decisions ---------------------------------------------------------------------------
    def _check_person(self, pending: Pending, username: str) -> None:
        """An auth token request is the business of its own person only."""
        person = pending.request.get("person") if isinstance(pending.request, dict) else None
        if person is not None and person != username:
            raise AAuthError("forbidden", "this request asks another person", status=403)

    def _decide(self, pending: Pending, approved: bool, by: str, *, abandon: bool = False) -> Pending:
        """Record the decision (atomic; a second one is ``409 conflict``), bind the agent where
        the decision says so, audit it and wake the held polls."""
        self._check_person(pending, by)
        if abandon:
            decided = self.store.abandon(pending.id, by)
        else:
            decided = self.store.decide(pending.id, approved, by)
        data = decided.request
        if decided.kind == "agent_approval":
            self.store.upsert_agent(
                decided.agent_id,
                ap_issuer=self.identifier,
                agent_jkt=decided.agent_jkt,
                username=by if approved and not abandon else None,
                status=None if abandon else "approved" if approved else "denied",
            )
        elif decided.kind == "person_token" and approved and not abandon:
            self.store.upsert_agent(
                decided.agent_id,
                ap_issuer=data["agent_ap"],
                agent_jkt=decided.agent_jkt,
                username=by,
                status="approved",
            )
        outcome = "abandoned" if abandon else "approved" if approved else "denied"
        self.store.audit(
            by,
            f"{decided.kind}_{outcome}",
            decided.resource or decided.agent_id,
            {"pending_id": decided.id, "agent": decided.agent_id, "scope": decided.scope},
        )
        self.waiters.notify(decided.id)
        return decided

    def consent_context(self, pending: Pending) -> dict:
        """The consent API's view of a pending request."""
        data = pending.request
        return {
            "pending_id": pending.id,
            "kind": pending.kind,
            "agent": pending.agent_id,
            "agent_name": data.get("agent_name"),
            "agent_jkt": pending.agent_jkt,
            "resource": pending.resource,
            "resource_name": data.get("resource_name"),
            "scope": pending.scope,
            "scope_descriptions": data.get("scope_descriptions") or {},
            "justification": pending.justification,
            "status": pending.status,
            "code": format_code(pending.code) if pending.code else None,
            "expires_at": _iso(pending.expires_at),
            **(
                {"mission": {name: data.get(name) for name in ("description", "tools", "resources")}}
                if pending.kind == "mission"
                else {}
            ),
        }

    def _open(self, code: str, username: str) -> Pending:
        """The person reached the request by its code: it becomes ``interacting``."""
        pending = self.store.find_by_code(code) if isinstance(code, str) else None
        if pending is None:
            raise AAuthError("invalid_code", "this code is unknown, used or expired")
        self._check_person(pending, username)
        if pending.status == "pending":  # held polls keep waiting: only a decision wakes them
            pending = self.store.mark_interacting(pending.id)
        return pending

    # -- persons: login, sessions --------------------------------------------------------------
    def _session(self, request: Request) -> tuple[str, str] | None:
        """``(username, session token)`` from ``Authorization: Bearer`` or the session cookie."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        token = credential.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE)
        username = self.store.session_user(token) if token else None
        return (username, token) if username else None

    def _person(self, request: Request) -> str:
        session = self._session(request)
        if session is None:
            raise AAuthError(
                "unauthorized", "sign in first: POST /login, then send its cookie or Bearer token"
            )
        return session[0]

    async def login_endpoint(self, request: Request) -> Response:
        """JSON ``{"username", "password"}`` → ``{"session"}`` + cookie; the HTML form posts
        ``username``, ``password``, ``next`` and is sent on to ``next``."""
        form = not request.headers.get("content-type", "").startswith("application/json")
        try:
            body = await _form(request) if form else require_json_object(await request.body())
        except AAuthError as error:
            return _problem(error)
        username, password = body.get("username"), body.get("password")
        target = _local_path(body.get("next")) if form else None
        ok = (
            isinstance(username, str)
            and isinstance(password, str)
            and self.store.check_password(username, password)
        )
        if not ok:
            if form:
                return HTMLResponse(
                    pages.login_page(
                        target,
                        error="Wrong username or password.",
                        username=username if isinstance(username, str) else "",
                    ),
                    401,
                )
            return _problem(AAuthError("unauthorized", "wrong username or password"))
        token = self.store.create_session(username)
        self.store.audit(username, "login", username)
        response = (
            RedirectResponse(target, 303) if form else JSONResponse({"session": token, "username": username})
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            path="/",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout_endpoint(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None:
            self.store.delete_session(session[1])
            self.store.audit(session[0], "logout", session[0])
        response = JSONResponse({"status": "signed_out"})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the consent REST API (the seed's tests) ------------------------------------------------
    async def consent_endpoint(self, request: Request) -> Response:
        """``GET /consent?code=CODE`` → who asks for what; the request becomes ``interacting``."""
        username = self._person(request)
        code = request.query_params.get("code")
        if not code:
            raise AAuthError("invalid_request", "code is required: GET /consent?code=XXXX-XXXX")
        return JSONResponse(self.consent_context(self._open(code, username)))

    async def _decision_request(self, request: Request) -> tuple[str, Pending, dict]:
        username = self._person(request)
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise AAuthError("invalid_request", "send the decision as application/json")
        body = require_json_object(await request.body())
        pending = self.store.get_pending(request.path_params["pending_id"])
        if pending is None:
            raise AAuthError("not_found", "no such pending request")
        if body.get("callback") is not None:
            check_callback(body["callback"])
        return username, pending, body

    async def decision_endpoint(self, request: Request) -> Response:
        """``POST /consent/{pending_id}/decision`` ``{"approved": bool, "callback"?}``."""
        username, pending, body = await self._decision_request(request)
        if not isinstance(body.get("approved"), bool):
            raise AAuthError("invalid_request", 'send {"approved": true} or {"approved": false}')
        decided = self._decide(pending, body["approved"], username)
        return JSONResponse(self._outcome(decided.status, body.get("callback")))

    async def abandon_endpoint(self, request: Request) -> Response:
        """``POST /consent/{pending_id}/abandon`` ``{"callback"?}``: the person walks away."""
        username, pending, body = await self._decision_request(request)
        decided = self._decide(pending, False, username, abandon=True)
        return JSONResponse(self._outcome(decided.status, body.get("callback")))

    @staticmethod
    def _outcome(status: str, callback: str | None) -> dict:
        outcome = {"status": status}
        if callback is not None:
            outcome["redirect_url"] = PersonServer.redirect_url(callback, status)
        return outcome

    @staticmethod
    def redirect_url(callback: str, status: str) -> str:
        """Back to the agent: plain on approval, ``?error=access_denied|user_abandoned``
        otherwise (wire §5.6)."""
        if status == "approved":
            return callback
        return _with_query(callback, error=callback_error_for("denied" if status == "denied" else status))

    # -- the interaction page (HTML) ------------------------------------------------------------
    def _csrf(self, session_token: str, pending_id: str) -> str:
        return b64url(
            hmac.new(session_token.encode(), f"consent\x00{pending_id}".encode(), hashlib.sha256).digest()
        )

    async def interaction_endpoint(self, request: Request) -> Response:
        """``GET /interaction?code=…&callback=…``: sign in, then the consent page; ``POST``:
        the person's answer, then back to the callback (or a "you can close this window" page)."""
        try:
            if request.method == "POST":
                return await self._interaction_answer(request)
            return self._interaction_page(request)
        except AAuthError as error:
            title = {"invalid_code": "This code does not work", "unauthorized": "Please sign in"}.get(
                error.code, "This request cannot go on"
            )
            return HTMLResponse(pages.error_page(title, error.detail), error.status)

    def _interaction_page(self, request: Request) -> Response:
        code, callback = request.query_params.get("code"), request.query_params.get("callback")
        if callback is not None:
            check_callback(callback)
        session = self._session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return HTMLResponse(pages.login_page(target))
        if not code:
            return HTMLResponse(pages.code_page())
        username, token = session
        pending = self._open(code, username)
        page = pages.consent_page(
            self.consent_context(pending),
            csrf=self._csrf(token, pending.id),
            callback=callback,
            person=username,
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def _interaction_answer(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            raise AAuthError("unauthorized", "your session ended; sign in and open the link again")
        username, token = session
        fields = await _form(request)
        pending_id, decision, callback = (
            fields.get("pending_id"),
            fields.get("decision"),
            fields.get("callback"),
        )
        if not isinstance(pending_id, str) or decision not in ("approve", "deny", "abandon"):
            raise AAuthError("invalid_request", "the form lacks pending_id or a decision")
        if not hmac.compare_digest(str(fields.get("csrf", "")), self._csrf(token, pending_id)):
            raise AAuthError("forbidden", "this form was not issued to your session", status=403)
        if callback:
            check_callback(callback)
        pending = self.store.get_pending(pending_id)
        if pending is None:
            raise AAuthError("not_found", "no such pending request")
        decided = self._decide(pending, decision == "approve", username, abandon=decision == "abandon")
        if callback:
            return RedirectResponse(self.redirect_url(callback, decided.status), 303)
        return HTMLResponse(pages.done_page(decided.status))

    # -- admin and audit ---------------------------------------------------------------------------
    async def policy_endpoint(self, request: Request) -> Response:
        """``GET``/``PUT /admin/consent-policy`` ``{"scopes", "prefixes"}`` (takes effect at once)."""
        username = self._person(request)
        if request.method == "PUT":
            if not request.headers.get("content-type", "").startswith("application/json"):
                raise AAuthError("invalid_request", "send the policy as application/json")
            self.policy.update(require_json_object(await request.body()))
            self.store.audit(username, "consent_policy_changed", "consent-policy", asdict(self.policy))
        return JSONResponse(asdict(self.policy))

    def _token_view(self, token) -> dict:
        return {
            "jti": token.jti,
            "typ": token.typ,
            "resource": token.aud,
            "agent": token.agent_id,
            "scope": token.scope,
            "issued_at": _iso(token.iat),
            "expires_at": _iso(token.exp),
            "revoked": self.store.is_revoked(token.iss, token.jti),
        }

    def _own_tokens(self, username: str) -> list:
        """The person and auth tokens this PS issued for ``username`` (pairwise ``sub`` per resource)."""
        return [
            t
            for t in self.store.list_tokens()
            if t.typ in (tokens.PERSON_TYP, tokens.AUTH_TYP)
            and t.iss == self.identifier
            and self._person_for(t.sub, t.aud) == username
        ]

    async def tokens_endpoint(self, request: Request) -> Response:
        """``GET /tokens``: the person and auth tokens issued on the signed-in person's behalf."""
        username = self._person(request)
        return JSONResponse([self._token_view(t) for t in self._own_tokens(username)])

    async def revoke_token_endpoint(self, request: Request) -> Response:
        """``POST /tokens/{jti}/revoke``: the person revokes one of their tokens, here and at its
        resource (-11 §11.12); again after a failure, to retry.  ``{"jti", "revoked", "downstream"}``."""
        username = self._person(request)
        jti = request.path_params["jti"]
        token = next((t for t in self._own_tokens(username) if t.jti == jti), None)
        if token is None:
            raise AAuthError("not_found", "you have no token with this jti")
        downstream = await self.revoke_issued([token], actor=username)
        return JSONResponse({"jti": jti, "revoked": True, "downstream": downstream})

    def _mission_view(self, mission: Mission) -> dict:
        document = json.loads(mission.blob)
        return {
            "s256": mission.s256,
            "agent": mission.agent_id,
            "description": document.get("description"),
            "approved_at": document.get("approved_at"),
            "status": mission.status,
            "termination_reason": mission.termination_reason,
            "expires_at": _iso(mission.expires_at) if mission.expires_at is not None else None,
            "terminated_at": _iso(mission.terminated_at) if mission.terminated_at is not None else None,
            "updates": [
                {
                    "s256": u.s256,
                    "at": _iso(u.created_at),
                    "description": json.loads(u.body).get("description"),
                }
                for u in self.store.list_mission_updates(mission.s256)
            ],
        }

    async def missions_endpoint(self, request: Request) -> Response:
        """``GET /missions``: the missions the signed-in person approved, with their state
        (-11 §8; wire §4.5 states and termination reasons)."""
        username = self._person(request)
        return JSONResponse(
            [self._mission_view(self._expire_if_due(m)) for m in self.store.list_missions(username=username)]
        )

    async def revoke_mission_endpoint(self, request: Request) -> Response:
        """``POST /missions/{mission_s256}/revoke``: the person ends one of their missions —
        terminated with reason ``revoked`` (wire §4.5), so the agent's next token request under
        it is ``403 mission_terminated``.  Another person's mission is ``404 mission_not_found``,
        as an unknown one; an ended one ``403 mission_terminated``."""
        username = self._person(request)
        s256 = request.path_params["mission_s256"]
        if not MISSION_S256.fullmatch(s256):
            raise AAuthError("invalid_request", "the path segment must be a mission_s256 (base64url SHA-256)")
        mission = self.store.get_mission(s256, username=username)
        if mission is None:
            raise AAuthError("mission_not_found", "you have no mission with this mission_s256")
        self._active_mission(s256)
        try:
            mission = self.store.terminate_mission(s256, "revoked")
        except AAuthError:  # ended by a concurrent request: answer as for any dead mission
            self._active_mission(s256)
            raise
        self.store.audit(username, "mission_revoked", mission.agent_id, {"mission_s256": s256})
        return JSONResponse(self._mission_view(mission))

    async def audit_endpoint(self, request: Request) -> Response:
        """``GET /audit?limit=N``: the latest entries, oldest first."""
        self._person(request)
        limit = request.query_params.get("limit", "100")
        if not limit.isdigit() or not 0 < int(limit) <= 10_000:
            raise AAuthError("invalid_request", "limit must be a number from 1 to 10000")
        return JSONResponse(
            [
                {
                    "seq": e.seq,
                    "at": _iso(e.ts),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                }
                for e in self.store.audit_log(int(limit))
            ]
        )


def sign_key_rotation(
    message: HttpMessage, key: Key, agent_token: str, new_key: Key, *, created: int
) -> None:
    """Sign ``POST /agent/rotate`` the way :meth:`PersonServer.rotate_endpoint` reads it:
    ``Signature-Key`` gets both members first (``sig=jwt`` with the agent token, ``new=hwk``
    with the new key), then ``key`` and ``new_key`` each sign the same components, the
    ``signature-key`` field among them — so each signature vouches for both keys (Signature
    Keys -09 §3: every signature covers the whole ``Signature-Key`` field)."""
    members = [jwt_key(agent_token), hwk_key(new_key, label=NEW_KEY_LABEL)]
    message.set_header("Signature-Key", ", ".join(member.to_member() for member in members))
    components = covered_components(message, cover_body=bool(message.body))
    for member, signer in zip(members, (key, new_key)):
        sign_request(message, signer, None, label=member.label, components=components, created=created)


def _mission_tools(tools) -> list[dict] | None:
    """-11 §8.1 ``tools``: ``[{"name", "description"}]`` of non-empty strings (absent: ``None``)."""
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(
        isinstance(t, dict)
        and set(t) == {"name", "description"}
        and all(isinstance(v, str) and v.strip() and len(v) <= MAX_MISSION_TEXT for v in t.values())
        for t in tools
    ):
        raise AAuthError("invalid_request", 'tools must be an array of {"name", "description"} strings')
    return tools


def _mission_resources(resources, *, dev: bool) -> list[str] | None:
    """-11 §8.1 ``resources``: an array of resource identifiers (absent: ``None``)."""
    if resources is None:
        return None
    if not isinstance(resources, list):
        raise AAuthError("invalid_request", "resources must be an array of resource identifiers")
    for resource in resources:
        try:
            check_server_identifier(resource, dev=dev)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"resources: {error.detail}") from None
    return resources


def _can_interact(body: dict) -> bool:
    """-11 §7.1/§7.2 ``capabilities`` (an array of strings): may the agent send its person to
    an interaction page?  An agent that sends none is assumed able to (the seed's agents)."""
    capabilities = body.get("capabilities")
    if capabilities is None:
        return True
    if not _strings(capabilities):
        raise AAuthError("invalid_request", "capabilities must be an array of strings")
    return "interaction" in capabilities


def _reachable(can_interact: bool) -> None:
    """The answer needs the person: an agent that cannot show an interaction gets the
    terminal ``403 user_unreachable``."""
    if not can_interact:
        raise AAuthError(
            "user_unreachable", "the person's consent is needed and the agent cannot show an interaction"
        )
