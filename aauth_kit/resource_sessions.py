"""Session tokens a resource issues for itself: ``AAuth-Access`` out, ``Authorization: AAuth``
back (-11 "AAuth-Access Response Header", "Resource-Managed Access (Two-Party)").

A session token is an opaque random token68 naming a row the resource keeps: the agent
(``(iss, sub)`` of its agent token), the thumbprint of the key that signed the request it was
issued on, the scope the person granted and an expiry.  -11 "AAuth-Access Security": "The
token MUST NOT be usable as a standalone bearer token", so a presented value counts only when
the request's signature covers ``authorization`` and was made by that same key for that same
agent; anything else finds no session.  A session past half its lifetime is rolled over: the
response carries a new ``AAuth-Access`` and the old value stops working ("A resource MAY
return a new AAuth-Access header on any response").  Rows are capped per agent and per agent
with its sub-agents (:func:`agent_share`: a sub-agent counts toward its parent, which mints
as many as its Agent Provider lets it; past either, their own oldest goes), per issuer of the
agents' tokens (one Agent Provider mints as many agents as it likes:
:data:`MAX_SESSIONS_PER_ISSUER`) and in all (``429 rate_limited`` + ``Retry-After``: when the
first of those sessions ends), and swept once they expire.  -11 is silent on the sizes; they
follow OWASP ASVS level 2 (V11.1.4, anti-automation).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AAuthError
from .headers import HeaderError, parse_authorization
from .identifiers import AGENT_SCHEME

#: Seconds a session token is good for.
SESSION_LIFETIME = 3600
#: Sessions one agent may hold at one resource (a new one drops its oldest).
MAX_SESSIONS_PER_AGENT = 5
#: Sessions one agent and its sub-agents may hold together at one resource (a new one drops their oldest).
MAX_SESSIONS_PER_SHARE = 20
#: Sessions a resource holds at most.
MAX_SESSIONS = 10_000
#: Sessions the agents of one issuer (``iss`` of their tokens) may hold at one resource.
MAX_SESSIONS_PER_ISSUER = MAX_SESSIONS // 10


def agent_share(agent: tuple[str, str]) -> tuple[str, str]:
    """The ``(iss, sub)`` whose share a row of ``agent`` counts toward: a sub-agent's parent
    (-11 "Sub-Agent Identity": ``aauth:{parent local}+{discriminator}@{domain}``), else itself.
    A person or auth token's ``sub`` is a person: their rows count toward them."""
    iss, sub = agent
    if isinstance(sub, str) and sub.startswith(AGENT_SCHEME) and "+" in sub:
        local, _, domain = sub[len(AGENT_SCHEME) :].rpartition("@")
        return iss, f"{AGENT_SCHEME}{local.partition('+')[0]}@{domain}"
    return iss, sub


@dataclass(frozen=True)
class Session:
    """One ``AAuth-Access`` grant: who holds it, with which key, for what, until when."""

    token: str
    agent: tuple[str, str]  # (iss, sub) of the agent token it was issued to
    jkt: str  # RFC 7638 thumbprint of the key that must sign every use
    scope: frozenset[str]
    issued_at: float
    expires_at: float


class Sessions:
    """The session tokens of one resource (see the module doc)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        lifetime: int = SESSION_LIFETIME,
        max_per_agent: int = MAX_SESSIONS_PER_AGENT,
        max_per_share: int = MAX_SESSIONS_PER_SHARE,
        max_sessions: int = MAX_SESSIONS,
        max_per_issuer: int = MAX_SESSIONS_PER_ISSUER,
        id_factory: Callable[[], str] | None = None,
    ):
        self.clock = clock
        self.lifetime = lifetime
        self.max_per_agent = max_per_agent
        self.max_per_share = max_per_share
        self.max_per_issuer = max_per_issuer
        self.max_sessions = max_sessions
        self.id_factory = id_factory or (lambda: secrets.token_urlsafe(32))
        self.rows: dict[str, Session] = {}

    def sweep(self) -> None:
        now = self.clock()
        for token in [t for t, s in self.rows.items() if s.expires_at <= now]:
            del self.rows[token]

    def issue(self, agent: tuple[str, str], jkt: str, scope) -> Session:
        """A new session for ``agent`` signing with ``jkt``; past the per-agent cap its own oldest
        goes, past its share's (:func:`agent_share`) the share's oldest."""
        self.sweep()
        share = agent_share(agent)
        self._make_room([s for s in self.rows.values() if s.agent == agent], self.max_per_agent)
        self._make_room([s for s in self.rows.values() if agent_share(s.agent) == share], self.max_per_share)
        now = self.clock()
        theirs = [s for s in self.rows.values() if s.agent[0] == agent[0]]
        for rows, cap, why in (
            (theirs, self.max_per_issuer, f"the agents of {agent[0]} hold all the sessions they may here"),
            (list(self.rows.values()), self.max_sessions, "this resource holds all the sessions it can"),
        ):
            if len(rows) >= cap:
                wait = min((s.expires_at for s in rows), default=now) - now
                raise AAuthError(
                    "rate_limited",
                    f"{why}; try later",
                    retry_after=max(1, math.ceil(wait)),
                )
        session = Session(self.id_factory(), agent, jkt, frozenset(scope), now, now + self.lifetime)
        self.rows[session.token] = session
        return session

    def _make_room(self, ours: list[Session], cap: int) -> None:
        """Drop the oldest of ``ours`` until one more fits under ``cap``."""
        for old in sorted(ours, key=lambda s: s.issued_at)[: max(0, len(ours) - cap + 1)]:
            del self.rows[old.token]

    def presented(self, authorization: str | None, *, covered: bool, agent, jkt: str):
        """The live session an ``Authorization: AAuth`` value names, if this signer may use it.

        ``None`` when there is no AAuth credential, the signature does not cover
        ``authorization``, the value is unknown or expired, or it was issued to another agent
        or key.  A malformed credential is ``400 invalid_request``."""
        try:
            value = parse_authorization(authorization)
        except HeaderError as exc:
            raise AAuthError("invalid_request", exc.detail) from None
        if value is None or not covered:
            return None
        session = self.rows.get(value)
        if session is None or session.expires_at <= self.clock():
            return None
        if session.agent != agent or not secrets.compare_digest(session.jkt, jkt):
            return None
        return session

    def covering(self, agent, jkt: str, scope) -> Session | None:
        """The newest live session of this signer granting all of ``scope``, if any (-11 "Response
        without Resource Token": "the agent's key is already authorized")."""
        now = self.clock()
        mine = [
            s
            for s in self.rows.values()
            if s.agent == agent and s.jkt == jkt and s.expires_at > now and set(scope) <= s.scope
        ]
        return max(mine, key=lambda s: s.issued_at, default=None)

    def replace(self, session: Session) -> Session:
        """A new session with the grant of ``session``, which ends (first: it makes room under the caps)."""
        self.rows.pop(session.token, None)
        return self.issue(session.agent, session.jkt, session.scope)

    def roll(self, session: Session) -> Session | None:
        """The session replacing ``session`` when it is past half its life (the old one ends), else ``None``."""
        if self.clock() < session.issued_at + self.lifetime / 2 or session.token not in self.rows:
            return None
        return self.replace(session)
