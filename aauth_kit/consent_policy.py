"""Which scopes a Person Server grants only with the person's consent.

-11 "Policy Evaluation Points": the Person Server decides whether to issue an auth token
for a resource and scope, based on the person's consent ("User Interaction").  The kit's
policy is a list of scopes and of scope prefixes that need consent (the seed's Keycloak
attributes ``aauth.consent.required.scopes`` and ``…scope.prefixes``); every other scope is
granted at once.  The Person Server reads it at each auth token request, the policy widget
edits it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .errors import AAuthError, UsageError

DEFAULT_CONSENT_SCOPES = ("supply-chain:optimize",)
DEFAULT_CONSENT_PREFIXES = ("user.", "profile.", "email.")


@dataclass
class ConsentPolicy:
    """Which scopes need the person's consent: those listed in ``scopes`` and those starting
    with one of ``prefixes``.  Mutable: a running PS reads it at every request."""

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
            if not strings(value):
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
            if not strings(value) or any(not s or any(c.isspace() for c in s) for s in value):
                raise AAuthError(
                    "invalid_request", f"{name} must be an array of non-empty strings without spaces"
                )
        for name, value in document.items():
            setattr(self, name, list(value))


def strings(value) -> bool:
    """``value`` is a JSON array of strings."""
    return isinstance(value, list) and all(isinstance(s, str) for s in value)
