"""The Person Server (PS) and its Agent Provider (AP), one server as in the seed (-11 "Person
Server", "Agent Identity").  One module per part of the draft, each exporting its routes:

* :mod:`.agent_provider` — agent tokens: bootstrap, ``/agent/register``, ``/agent/rotate``;
* :mod:`.chosen_ps` — the Person Server a person chose for their agent (``ps`` in its agent token);
* :mod:`.subagents` — sub-agent tokens (``/agent/subagent``) and ``subagent_token`` at the
  token endpoints;
* :mod:`.token_endpoints` — ``/person-token`` and ``/auth-token``, built on
  :mod:`.verification` (signed requests, token parameters) and :mod:`.minting` (pairwise
  ``sub``, minting, recording);
* :mod:`.deferred`, :mod:`.pending_url` and :mod:`.waiters` — the ``202``, the pending URL,
  ``Prefer: wait`` and the held polls (-11 "Deferred Responses");
* :mod:`.federation`, :mod:`.federation_exchange` and :mod:`.federation_pending` — four-party
  access: the exchange with the Access Server and requests waiting there (-11 "Access Server
  Federation");
* :mod:`.consent` and :mod:`.interaction` — the person's decisions: the consent REST API and
  the consent page (:mod:`.pages`) (-11 "User Interaction");
* :mod:`.missions` — -11 "Mission";
* :mod:`.governance` and :mod:`.interaction_endpoint` — -11 "PS Governance Endpoints":
  ``/permission``, ``/audit``, ``/reach`` and the mission log;
* :mod:`.revocation` — ``/revoke`` and its cascade (-11 "Token Revocation");
* :mod:`.persons` — sign-in, sessions, token lists, the audit view, the policy admin;
* :mod:`.metadata` — the two metadata documents and the JWKS;
* :mod:`.sweep` — the periodic clean-up of expired rows (the app's lifespan).

They share one :class:`~.context.Context`; :class:`PersonServer` assembles the app.
Everything durable lives in SQLite (:mod:`.store`) in ``data_dir``: a new ``PersonServer`` on
the same directory carries on where the old one stopped.

Choices where -11 leaves room: a person's ``sub`` is pairwise — an HMAC, keyed from the PS
key, of the person and the resource — so resources cannot correlate persons; consent is asked
every time (no remembered grants), so each story replays the same way; a request that needs
the person is answered ``202`` at once even under ``Prefer: wait`` (the agent must show the
code before anybody can decide), and only polls are held.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from aauth_kit import revocation as kit_revocation
from aauth_kit.asgi import ErrorBoundary, exception_handlers, middleware
from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.egress import Egress, EgressTransport
from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.http_client import PinnedTransport, httpx
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.interaction import format_code, new_code
from aauth_kit.jwks import KeyResolver
from aauth_kit.keys import Key
from aauth_kit.metadata import PERSON_DWK
from aauth_kit.throttle import Throttle

from . import (
    agent_provider,
    chosen_ps,
    consent,
    deferred,
    federation,
    governance,
    interaction,
    interaction_endpoint,
    metadata,
    minting,
    missions,
    pending_url,
    persons,
    resource_interaction,
    revocation,
    subagents,
    sweep,
    token_endpoints,
    waiters,
)
from .context import Caps, Config, Context
from .store import PSStore
from .store.pending import LIVE
from .store.persons import DEMO_PERSON, PersonAccount

DB_FILE = "ps.sqlite3"
#: Wrong interaction codes a person may enter per window before ``429 rate_limited``.
WRONG_CODES = 5
WRONG_CODE_WINDOW = 300
_ROOMS = (
    metadata,
    token_endpoints,
    missions,
    pending_url,
    agent_provider,
    chosen_ps,
    subagents,
    revocation,
    persons,
    consent,
    interaction,
    governance,
    interaction_endpoint,
    resource_interaction,
)


def admitted_clients(egress: Egress) -> Callable[..., httpx.AsyncClient]:
    """The PS's default ``client_factory``: every request admitted by ``egress`` first and sent
    to the addresses it checked (-11 "JWKS Discovery and Caching": egress admission)."""

    def factory(**options) -> httpx.AsyncClient:
        transport = EgressTransport(PinnedTransport(), egress)
        return httpx.AsyncClient(transport=transport, trust_env=False, **options)

    return factory


class PersonServer:
    """The PS + AP app (:attr:`app`) over a :class:`PSStore` in ``data_dir``.

    ``resolver`` finds other issuers' keys (agents of other APs, resources); the PS's
    own are answered in process; ``client_factory`` makes the HTTP client for revocations
    at resources and federation with Access Servers (by default one behind ``egress``
    admission, else the policy's defaults for ``dev``).  ``policy`` may be changed at any time.  ``clock``,
    ``id_factory`` (pending ids) and ``code_factory`` (interaction codes) are injectable
    for docs mode; with ``id_factory`` token ``jti`` values are numbered too.  ``persons``
    are the persons who sign in (by default the demo administrator mcp-user / user123).
    ``caps`` bounds what one agent or client may hold here and how long finished rows stay
    (:class:`~.context.Caps`; safe defaults).
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
        persons: Iterable[PersonAccount] = (DEMO_PERSON,),
        name: str = "Person Server",
        client_factory: Callable[..., httpx.AsyncClient] | None = None,
        mission_lifetime: int | None = None,
        wrong_codes: int = WRONG_CODES,
        caps: Caps | None = None,
        egress: Egress | None = None,
    ):
        check_server_identifier(identifier, dev=dev)
        if not key.has_private:
            raise UsageError("the Person Server signs tokens: its key needs a private part")
        config = Config(
            name=name,
            dev=dev,
            pending_ttl=pending_ttl,
            mission_lifetime=mission_lifetime,
            poll_interval=deferred.POLL_INTERVAL,
            auto_approve_agents=auto_approve_agents,
            code_factory=code_factory or new_code,
            id_factory=id_factory or (lambda: secrets.token_urlsafe(16)),
            numbered_jtis=id_factory is not None,
            caps=caps or Caps(),
        )
        store = PSStore(Path(data_dir) / DB_FILE, clock=clock)
        for account in persons:  # the configuration wins: new persons added, password and admin flag set
            if store.get_user(account.username) is None:
                store.add_user(account.username, account.password, admin=account.admin)
            else:
                store.set_password(account.username, account.password)
                store.set_admin(account.username, account.admin)
        seed = key.private_jwk()["d"].encode()
        self.context = Context(
            identifier=identifier,
            key=key,
            store=store,
            clock=clock,
            resolver=resolver,
            waiters=waiters.Waiters(),
            policy=policy if policy is not None else ConsentPolicy(),
            config=config,
            client_factory=client_factory or admitted_clients(egress or Egress(dev=dev)),
            revoker=kit_revocation.Revoker(identifier, PERSON_DWK, key, clock),
            pairwise_key=hashlib.sha256(b"aauth-kit pairwise subject\x00" + seed).digest(),
            completions={
                **token_endpoints.COMPLETIONS,
                **agent_provider.COMPLETIONS,
                federation.KIND: federation.complete,
                "mission": missions.approve,
                "mission_completion": missions.completion_answer,
                "permission": governance.permission_answer,
                "interaction": interaction_endpoint.interaction_answer,
            },
            refusals={"permission": governance.permission_refusal},
        )
        self.context.resolver = metadata.OwnKeys(self.context, resolver)
        self.context.egress = egress  # -11 "Resource-Initiated Interaction": admits interaction.url
        self.context.wrong_codes = Throttle(wrong_codes, WRONG_CODE_WINDOW, clock=clock)
        self.identifier, self.key, self.store, self.clock = identifier, key, store, clock
        self.waiters = self.context.waiters
        self.app = Starlette(
            routes=self.routes(),
            exception_handlers=exception_handlers(),
            middleware=[Middleware(ErrorBoundary, server=identifier), *middleware()],
            lifespan=sweep.lifespan(self.context),
        )

    def routes(self) -> list[Route]:
        return [route for room in _ROOMS for route in room.routes(self.context)]

    # -- settings a running server reads at every request ----------------------------------------
    @property
    def policy(self) -> ConsentPolicy:
        return self.context.policy

    @policy.setter
    def policy(self, policy: ConsentPolicy) -> None:
        self.context.policy = policy

    @property
    def poll_interval(self) -> float:
        return self.context.config.poll_interval

    @poll_interval.setter
    def poll_interval(self, seconds: float) -> None:
        self.context.config.poll_interval = seconds

    @property
    def caps(self) -> Caps:
        return self.context.config.caps

    @caps.setter
    def caps(self, caps: Caps) -> None:
        self.context.config.caps = caps

    @property
    def mission_lifetime(self) -> int | None:
        return self.context.config.mission_lifetime

    @mission_lifetime.setter
    def mission_lifetime(self, seconds: int | None) -> None:
        self.context.config.mission_lifetime = seconds

    # -- Python-side API --------------------------------------------------------------------
    def issue_agent_token(
        self,
        local: str,
        agent_key: Key | dict,
        *,
        person: str = "mcp-user",
        lifetime: int = minting.AGENT_TOKEN_LIFETIME,
        name: str | None = None,
    ) -> str:
        """As Agent Provider, issue ``aauth:{local}@{host}`` an agent token binding
        ``agent_key`` and bind the agent to ``person`` (the lab's bootstrap)."""
        return agent_provider.issue_agent_token(
            self.context, local, agent_key, person=person, lifetime=lifetime, name=name
        )

    def subject(self, username: str, audience: str) -> str:
        """The person's pairwise ``sub`` at ``audience``."""
        return minting.subject(self.context, username, audience)

    def pending_codes(self) -> list[str]:
        """The interaction codes of the live pending requests, oldest first (display form)."""
        now = self.clock()
        return [
            format_code(p.code)
            for p in self.store.list_pending()
            if p.status in LIVE and p.expires_at > now and p.code
        ]

    def decide(self, code_or_pending_id: str, approved: bool, *, by: str = "mcp-user") -> None:
        """The person ``by`` redeems the code (if nobody has) and decides, as on the consent
        page; held polls wake at once."""
        pending = self.store.find_by_code(code_or_pending_id) or self.store.get_pending(code_or_pending_id)
        if pending is None:
            raise AAuthError("not_found", f"no live pending request has code or id {code_or_pending_id!r}")
        if pending.status == "pending":
            pending = self.store.mark_interacting(pending.id, by)
        consent.decide(self.context, pending, approved, by)

    def metadata_document(self, dwk: str) -> dict:
        """``aauth-person.json`` (PS role) or ``aauth-agent.json`` (AP role)."""
        return metadata.metadata_document(self.context, dwk)

    def jwks_document(self) -> dict:
        return metadata.jwks_document(self.context)

    def close(self) -> None:
        self.store.close()
