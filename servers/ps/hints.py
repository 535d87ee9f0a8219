"""The agent's ``login_hint`` and ``tenant`` (-11 "Agent Token Request": "Hint about who to
authorize, per [OpenID.Core] Section 3.1.2.1" and "Tenant identifier, per OpenID Connect
Enterprise Extensions 1.0").

Both are optional strings the PS checks (``400 invalid_request`` for another type, an empty
value, control characters or more than :data:`MAX_HINT` characters) and keeps with a request
that waits for the person: the login page is pre-filled with ``login_hint`` (a hint selects, it
never signs anyone in), and the consent page shows the ``tenant`` the agent named.
"""

from __future__ import annotations

from aauth_kit.errors import AAuthError

from .context import Context

MAX_HINT = 256
NAMES = ("login_hint", "tenant")


def agent_hints(body: dict) -> dict:
    """``{"login_hint"?, "tenant"?}`` from a token request body, checked."""
    hints = {}
    for name in NAMES:
        value = body.get(name)
        if value is None:
            continue
        if not (
            isinstance(value, str)
            and 0 < len(value) <= MAX_HINT
            and all(ord(c) >= 0x20 and ord(c) != 0x7F for c in value)
        ):
            raise AAuthError(
                "invalid_request", f"{name} must be a printable string of 1..{MAX_HINT} characters"
            )
        hints[name] = value
    return hints


def login_hint_for(ctx: Context, code: str | None) -> str:
    """The ``login_hint`` of the request whose code a signed-out browser brings ('' if none);
    the lookup does not redeem the code."""
    pending = ctx.store.find_by_code(code) if isinstance(code, str) and code else None
    hint = pending.request.get("login_hint") if pending and isinstance(pending.request, dict) else None
    return hint if isinstance(hint, str) else ""
