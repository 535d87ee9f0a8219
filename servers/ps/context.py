"""What every room of the Person Server shares: its identity and key, its store, clock,
key resolver, held polls and settings (one :class:`Context` per server), and the caps on what
one party may hold there (:class:`Caps`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.errors import AAuthError
from aauth_kit.jwks import KeyResolver
from aauth_kit.keys import Key
from aauth_kit.revocation import Revoker

if TYPE_CHECKING:
    from aauth_kit.egress import Egress
    from aauth_kit.throttle import Throttle

    from .store import PSStore
    from .store.pending import Pending
    from .waiters import Waiters


#: ``Retry-After`` of a refusal at a cap when nothing in it ends by itself (a mission without
#: ``expires_at`` ends only when completed or revoked).
RETRY_LATER = 60


@dataclass(frozen=True)
class Caps:
    """What one party may hold at the PS at once, and how long finished rows are kept.

    -11 asks for rate limits where guessing is possible ("Interaction Code Format") and on
    repeated mission failures ("Mission Endpoint Errors"), and is silent on how much one agent
    or one client may leave waiting; the kit follows OWASP ASVS level 2 (V11.1.4:
    anti-automation against excessive calls and resource use).  Past a cap the request is
    refused ``429 rate_limited`` with ``Retry-After`` (RFC 6585 §4), the shape the kit's other
    throttles answer with.  An agent is its agent token's ``(iss, sub)`` (-11 "Agent
    Identifiers"); a client is the peer address of the socket."""

    #: Live pending requests (waiting for a person) per agent.
    pending_per_agent: int = 20
    #: Polls held under ``Prefer: wait`` at once per agent; a poll past it is answered at once.
    held_polls_per_agent: int = 4
    #: Active missions plus proposed ones (waiting for the person) per agent.
    missions_per_agent: int = 20
    #: Registrations waiting for a person's approval per client address (``POST /agent/register``).
    registrations_per_client: int = 10
    #: Registrations waiting for a person's approval from all clients together.
    pending_registrations: int = 100
    #: Live sub-agent tokens one parent agent may hold from this Agent Provider (-11 "Sub-Agents":
    #: each binds a new key, and resources count a sub-agent's requests toward its parent's).
    subagents_per_agent: int = 10
    #: Entries an agent may add to one mission's log (-11 "Mission Log": audit records,
    #: permission and interaction requests).
    log_per_mission: int = 1000
    #: Revocations one signer (an Agent Provider, a resource) may have kept here at once
    #: (-11 "Token Revocation"), each until its token's ``exp``, of a token the PS never met at
    #: most a day (:mod:`.revocation`).
    revocations_per_signer: int = 10_000
    #: Revocations kept here from all signers together; past it, one of a token the PS never met
    #: is refused (anyone with a domain can publish ``aauth-resource.json`` and sign one).
    revocations: int = 100_000
    #: Changes of an agent's Person Server one person may make per hour (each is an audit
    #: entry: -11 "Bootstrapping", chosen by the person).
    ps_changes_per_person: int = 10
    #: Seconds finished pending requests and expired tokens' rows are kept before the sweep
    #: deletes them (a week: a person token's record outlives its ``exp`` by far more than any
    #: resource token's lifetime, -11 "Person Token Endpoint").
    retention: float = 7 * 24 * 3600
    #: Seconds between two sweeps of expired rows (:mod:`.sweep`).
    sweep_interval: float = 300


def over_cap(what: str, ends: Iterable[float], now: float) -> AAuthError:
    """``429 rate_limited`` for a full cap on ``what``; ``Retry-After`` is when the first of
    ``ends`` (the moments its entries end by themselves) frees a place, else
    :data:`RETRY_LATER`."""
    first = min(ends, default=None)
    wait = RETRY_LATER if first is None else max(1, math.ceil(first - now))
    return AAuthError("rate_limited", f"too many {what}; try again later", retry_after=wait)


@dataclass
class Config:
    """The PS's settings; a running server reads them at every request."""

    name: str
    dev: bool
    #: Seconds a pending request waits for the person before it expires.
    pending_ttl: float
    #: Seconds an approved mission lives (its blob's ``expires_at``); ``None``: until completed.
    mission_lifetime: int | None
    #: ``Retry-After`` of a ``202`` when the poll will not be held; a faster poll is ``429 slow_down``.
    poll_interval: float
    auto_approve_agents: bool
    #: Interaction codes and pending ids (injectable for docs mode).
    code_factory: Callable[[], str]
    id_factory: Callable[[], str]
    #: Token ``jti`` values numbered (docs mode) instead of random.
    numbered_jtis: bool
    caps: Caps = field(default_factory=Caps)


@dataclass
class Context:
    """The shared state the endpoints of every PS module work on."""

    identifier: str
    key: Key
    store: PSStore
    clock: Callable[[], float]
    #: Other issuers' keys (agents of other APs, resources); the PS's own answered in process.
    resolver: KeyResolver
    waiters: Waiters
    policy: ConsentPolicy
    config: Config
    #: ``client_factory(timeout=…)`` → the ``httpx.AsyncClient`` the PS revokes at resources with.
    client_factory: Callable
    #: Signs the PS's own revocations at resources.
    revoker: Revoker
    #: HMAC key of the pairwise subjects: only this PS (holder of its private key) computes them.
    pairwise_key: bytes
    #: Pending kind → what an approved request of that kind mints (the poll's ``200`` body).
    completions: dict[str, Callable[[Context, Pending], dict]] = field(default_factory=dict)
    #: Pending kind → the ``200`` body a request of that kind the person denied answers with
    #: (-11 "Permission Response": ``denied`` is an answer, not an error).
    refusals: dict[str, Callable[[Context, Pending], dict]] = field(default_factory=dict)
    #: Pending id → the time before which a poll without ``Prefer: wait`` is ``429 slow_down``.
    poll_not_before: dict[str, float] = field(default_factory=dict)
    #: Wrong interaction codes per person (-11 "Interaction Code Format": rate limited).
    wrong_codes: Throttle | None = None
    #: Egress admission for URLs the PS sends a browser to (None: the URL policy only).
    egress: Egress | None = None
    #: Chained resource flows by their per-flow callback id (-11 "Resource-Initiated Interaction").
    resource_flows: dict = field(default_factory=dict)
    #: Pending ids whose AS a poll is asking now (-11 "AS Response": one poll at a time asks).
    asking_access_server: set = field(default_factory=set)

    @property
    def host(self) -> str:
        return urlsplit(self.identifier).hostname

    @property
    def dev(self) -> bool:
        return self.config.dev

    def resource_done(self, pending: Pending) -> bool:
        """Whether ``pending`` asks no resource interaction, or that one is done (-11
        "Resource-Initiated Interaction": resolved before the PS's own consent)."""
        if not (isinstance(pending.request, dict) and pending.request.get("resource_interaction")):
            return True
        return any(flow.done and flow.pending_id == pending.id for flow in self.resource_flows.values())


def iso(ts: float) -> str:
    """A moment as the PS's JSON views show it: ``2026-01-01T12:00:00Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
