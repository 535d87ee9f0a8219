"""What every room of the Person Server shares: its identity and key, its store, clock,
key resolver, held polls and settings (one :class:`Context` per server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.jwks import KeyResolver
from aauth_kit.keys import Key
from aauth_kit.revocation import Revoker

if TYPE_CHECKING:
    from aauth_kit.throttle import Throttle

    from .deferred import Waiters
    from .store import PSStore
    from .store.pending import Pending


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
    #: Pending id → the time before which a poll without ``Prefer: wait`` is ``429 slow_down``.
    poll_not_before: dict[str, float] = field(default_factory=dict)
    #: Wrong interaction codes per person (-11 "Interaction Code Format": rate limited).
    wrong_codes: Throttle | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.identifier).hostname

    @property
    def dev(self) -> bool:
        return self.config.dev


def iso(ts: float) -> str:
    """A moment as the PS's JSON views show it: ``2026-01-01T12:00:00Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
