"""The session tokens an agent holds, per resource origin (-11 "AAuth-Access Response Header").

A resource that manages access itself hands the agent an opaque session token in
``AAuth-Access``; the agent sends it back as ``Authorization: AAuth <token>`` on every later
request to that resource, and its signature covers ``authorization`` ("The agent MUST include
authorization in the covered components of its HTTP signature").  "When the agent receives a
new AAuth-Access value, it MUST use the new value on subsequent requests."  A value that is
not one token68 (empty, whitespace, controls, more than one credential) ends the flow with
``invalid_response``.
"""

from __future__ import annotations

from .flow import FlowError
from .headers import HeaderError, parse_aauth_access, serialize_authorization


class SessionTokens(dict):
    """``{resource origin: session token}``."""

    def attach(self, request, resource: str) -> bool:
        """Put ``Authorization: AAuth`` on ``request`` when a session for ``resource`` is held
        (and the request carries no Authorization of its own); whether it did."""
        token = self.get(resource)
        if token is None or "authorization" in request.headers:
            return False
        request.headers["Authorization"] = serialize_authorization(token)
        return True

    def take(self, resource: str, response) -> None:
        """Keep the ``AAuth-Access`` of ``response``, if it has one (the newest replaces the old)."""
        values = response.headers.get_list("aauth-access")
        if not values:
            return
        try:
            if len(values) > 1:
                raise HeaderError("AAuth-Access", "more than one credential")
            self[resource] = parse_aauth_access(values[0])
        except HeaderError as exc:
            raise FlowError(
                "invalid_response", f"{resource} sent a bad {exc.detail}", status=502, response=response
            ) from None
