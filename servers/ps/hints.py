"""The agent's hints at the PS's token endpoints (-11 "Agent Token Request", "Person Token
Endpoint"): ``login_hint`` ("Hint about who to authorize, per [OpenID.Core] Section 3.1.2.1"),
``tenant`` and ``domain_hint`` (OpenID Connect Enterprise Extensions 1.0), ``prompt`` (the
OpenID Connect values ``none``, ``login``, ``consent``, ``select_account``, space-delimited),
``platform`` (a value of -11 "AAuth Platform Value Registry") and ``device`` (a short display
string: printable characters only, at most :data:`MAX_DEVICE`).

All are optional; the PS checks them (``400 invalid_request`` for another type, an empty
value, control characters, a string too long, an unknown ``prompt`` or ``platform`` value)
and keeps them with a request that waits for the person: the login page is pre-filled with
``login_hint`` (a hint selects, it never signs anyone in), and the consent page shows the
``tenant`` the agent named.
"""

from __future__ import annotations

from aauth_kit.errors import AAuthError

from .context import Context

MAX_HINT = 256
#: -11 "Agent Token Request": ``device`` "MUST NOT exceed 64 characters".
MAX_DEVICE = 64
#: The free-text hints: printable strings of at most their length.
TEXT = {"login_hint": MAX_HINT, "tenant": MAX_HINT, "domain_hint": MAX_HINT, "device": MAX_DEVICE}
#: -11 "Agent Token Request" ``prompt``: its defined values.
PROMPTS = ("none", "login", "consent", "select_account")
#: -11 "AAuth Platform Value Registry".
PLATFORMS = ("web", "mobile", "desktop", "workload", "self-hosted")


def _printable(value, limit: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and all(ord(c) >= 0x20 and ord(c) != 0x7F for c in value)
    )


def _prompt(value) -> str:
    """Space-delimited values, each defined, none repeated; ``none`` stands alone (with any other
    value it is an error, [OpenID.Core] Section 3.1.2.1)."""
    values = value.split(" ") if isinstance(value, str) else []
    if not values or not all(v in PROMPTS for v in values) or len(set(values)) != len(values):
        raise AAuthError("invalid_request", f"prompt must be space-delimited values of {', '.join(PROMPTS)}")
    if "none" in values and len(values) > 1:
        raise AAuthError("invalid_request", "prompt none cannot be combined with another value")
    return value


def agent_hints(body: dict) -> dict:
    """``{"login_hint"?, "tenant"?, "domain_hint"?, "prompt"?, "platform"?, "device"?}`` from a
    token request body, checked."""
    hints = {}
    for name, limit in TEXT.items():
        value = body.get(name)
        if value is None:
            continue
        if not _printable(value, limit):
            raise AAuthError("invalid_request", f"{name} must be a printable string of 1..{limit} characters")
        hints[name] = value
    if body.get("prompt") is not None:
        hints["prompt"] = _prompt(body["prompt"])
    if body.get("platform") is not None:
        if body["platform"] not in PLATFORMS:
            raise AAuthError("invalid_request", f"platform must be one of {', '.join(PLATFORMS)}")
        hints["platform"] = body["platform"]
    return hints


def login_hint_for(ctx: Context, code: str | None) -> str:
    """The ``login_hint`` of the request whose code a signed-out browser brings ('' if none);
    the lookup does not redeem the code."""
    pending = ctx.store.find_by_code(code) if isinstance(code, str) and code else None
    hint = pending.request.get("login_hint") if pending and isinstance(pending.request, dict) else None
    return hint if isinstance(hint, str) else ""
