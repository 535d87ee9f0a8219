"""The agent's token cache: the person and auth tokens it holds, per resource origin.

An agent presents the best token it holds for a resource — auth token, else person
token, else its agent token (-11 "Auth Token Usage", "Person Token Usage") — while at
least :data:`EXPIRY_MARGIN` seconds remain before it expires, and keeps tokens obtained
within one call chain (``upstream_token``, -11 "Call Chaining") apart from the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .http_client import origin_of
from .jws import decode_unverified

#: A cached token with fewer than this many seconds left is not presented: the agent
#: refreshes it first, proactively, before it expires (-11 "Re-authorization").  Five
#: minutes: a resource token lives at most that long (-11 "Resource Token Structure"), so a
#: token presented now outlives the longest re-authorization it could set off.
EXPIRY_MARGIN = 300


class TokenCache(dict):
    """``{resource origin: {"person_token": …, "auth_token": …, "upstream_token": …}}``;
    ``clock`` (Unix seconds) decides which tokens are still fresh."""

    def __init__(self, clock: Callable[[], float] = time.time):
        super().__init__()
        self.clock = clock

    def token_for(self, resource: str, name: str) -> str | None:
        """The cached ``name`` (``auth_token``, ``person_token``) for ``resource``, if still valid."""
        return self.fresh(self.get(origin_of(resource), {}).get(name))

    def forget(self, resource: str | None = None) -> None:
        """Drop the cached tokens of ``resource``, or of every resource."""
        if resource is None:
            self.clear()
        else:
            self.pop(origin_of(resource), None)

    def fresh(self, token: str | None) -> str | None:
        """``token`` unless fewer than :data:`EXPIRY_MARGIN` seconds remain before it expires."""
        if token is None:
            return None
        exp = decode_unverified(token).payload.get("exp")
        return token if isinstance(exp, int) and exp - self.clock() >= EXPIRY_MARGIN else None

    def remember(self, resource: str, name: str, token: str, upstream_token: str | None) -> None:
        """Keep ``token`` as ``name`` for ``resource``; tokens of another call chain are dropped."""
        entry = self.setdefault(resource, {})
        if entry.get("upstream_token") != upstream_token:
            entry.clear()
        entry[name] = token
        if upstream_token is not None:
            entry["upstream_token"] = upstream_token

    def best(self, resource: str, upstream_token: str | None) -> str | None:
        """The fresh auth token, else the fresh person token of this call chain, else ``None``."""
        entry = self.get(resource, {})
        if entry.get("upstream_token") == upstream_token:
            for name in ("auth_token", "person_token"):
                token = self.fresh(entry.get(name))
                if token is not None:
                    return token
        return None
