"""Interaction codes, the interaction URL and callback errors (draft -11 "Interaction
Code Format", "User Interaction" and "Interaction Callback Errors").

* An **interaction code** is drawn from a CSPRNG, at least 40 bits, written in the
  Crockford base32 alphabet ``0123456789ABCDEFGHJKMNPQRSTVWXYZ``.  The kit shows it
  grouped with hyphens (``A1B2-C3D4``).  Before comparison, hyphens and whitespace are
  stripped, case is ignored and the look-alikes ``I``/``L`` fold to ``1`` and ``O`` to
  ``0``.  A code only correlates a browser with a pending request; it never authorizes.
* The agent sends the user to ``{url}?code={code}`` and may add ``&callback={url}``.  When
  the interaction fails, the user comes back to ``{callback}?error=…``.  The PS maps each
  callback ``error`` to the polling error code the agent will see.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import AAuthError, UsageError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: -11 asks for at least 40 bits; each symbol carries 5.
MIN_LENGTH = 8
GROUP = 4

_SYMBOLS = {c: c for c in ALPHABET} | {c.lower(): c for c in ALPHABET}
_SYMBOLS |= {"I": "1", "i": "1", "L": "1", "l": "1", "O": "0", "o": "0"}

#: Callback ``?error=`` value → polling error code (-11 "Interaction Callback Errors").
CALLBACK_ERRORS = {
    "access_denied": "denied",
    "user_abandoned": "abandoned",
    "server_error": "server_error",
    "temporarily_unavailable": "server_error",
    "interaction_expired": "expired",
}
_POLLING_TO_CALLBACK = {
    "denied": "access_denied",
    "abandoned": "user_abandoned",
    "expired": "interaction_expired",
}


def new_code(length: int = MIN_LENGTH, *, random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh code in display form (``XXXX-XXXX``); ``random_bytes`` is injectable for docs mode."""
    if length < MIN_LENGTH:
        raise UsageError(f"an interaction code needs at least {MIN_LENGTH} symbols (40 bits)")
    n = int.from_bytes(random_bytes((length * 5 + 7) // 8), "big")
    return format_code("".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(length)))


def normalize_code(text: str) -> str:
    """The canonical form: no hyphens or whitespace, upper case, ``I L``→``1``, ``O``→``0``.

    Anything else raises ``AAuthError('invalid_code')``.
    """
    if not isinstance(text, str):
        raise AAuthError("invalid_code", "an interaction code is a string")
    symbols = []
    for c in text:
        if c == "-" or c.isspace():
            continue
        if c not in _SYMBOLS:
            raise AAuthError("invalid_code", f"{c!r} is not a Crockford base32 symbol")
        symbols.append(_SYMBOLS[c])
    if not symbols:
        raise AAuthError("invalid_code", "empty interaction code")
    return "".join(symbols)


def format_code(code: str) -> str:
    """Display form: the canonical code in hyphen-separated groups of four."""
    canonical = normalize_code(code)
    return "-".join(canonical[i : i + GROUP] for i in range(0, len(canonical), GROUP))


def codes_equal(a: str, b: str) -> bool:
    """Compare two codes after normalization, in constant time; malformed codes are unequal."""
    try:
        return hmac.compare_digest(normalize_code(a).encode(), normalize_code(b).encode())
    except AAuthError:
        return False


def interaction_url(base_url: str, code: str, callback: str | None = None) -> str:
    """``{base_url}?code={code}[&callback={callback}]``, percent-encoded, after any existing query."""
    parts = urlsplit(base_url)
    params = {"code": code} | ({"callback": callback} if callback is not None else {})
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def polling_code_for(callback_error: str) -> str:
    """The polling error for a callback ``?error=`` value; an unknown value counts as ``server_error``."""
    return CALLBACK_ERRORS.get(callback_error, "server_error")


def callback_error_for(polling_code: str) -> str:
    """The callback ``?error=`` value for a polling error; any other failure is ``server_error``."""
    return _POLLING_TO_CALLBACK.get(polling_code, "server_error")
