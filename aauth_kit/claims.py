"""The -11 claim rules of the four AAuth tokens.

``aa-agent+jwt`` (-11 "Agent Token Structure"), ``aa-person+jwt`` ("Person Token
Structure"), ``aa-resource+jwt`` ("Resource Token Structure") and ``aa-auth+jwt``
("Auth Token Structure") each have required, optional and forbidden claims; all carry
``iss``, ``dwk``, ``jti``, ``iat``, ``exp``, all but resource tokens ``cnf.jwk`` (with
``alg``), resource tokens ``agent_jkt`` instead.  Minting checks its claims against
these rules and so does every verifier (:mod:`aauth_kit.token_verification`); each
failure is a :class:`errors.TokenError` carrying a Signature-Error code.

Where the drafts leave room: ``aud`` is emitted as a string; a one-element array naming
the same audience is accepted (RFC 7519 §4.1.3 makes them equivalent; other
implementations send arrays), any other array is not.  A resource token's
``person_token_jti`` (the intermediate -11 name) is read as ``presented_jti``.
NumericDates must be integers.
"""

from __future__ import annotations

import re

from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_agent_identifier, check_server_identifier
from .jws import fail
from .keys import check_jwk
from .metadata import ACCESS_DWK, AGENT_DWK, PERSON_DWK, RESOURCE_DWK

AGENT_TYP = "aa-agent+jwt"
PERSON_TYP = "aa-person+jwt"
RESOURCE_TYP = "aa-resource+jwt"
AUTH_TYP = "aa-auth+jwt"
TYPES = (AGENT_TYP, PERSON_TYP, RESOURCE_TYP, AUTH_TYP)

#: The ``dwk`` each token type may name (auth tokens: PS-issued or AS-issued).
TOKEN_DWKS = {
    AGENT_TYP: (AGENT_DWK,),
    PERSON_TYP: (PERSON_DWK,),
    RESOURCE_TYP: (RESOURCE_DWK,),
    AUTH_TYP: (PERSON_DWK, ACCESS_DWK),
}
_COMMON = ("iss", "dwk", "jti", "iat", "exp")
REQUIRED_CLAIMS = {
    AGENT_TYP: _COMMON + ("sub", "cnf"),
    PERSON_TYP: _COMMON + ("aud", "sub", "cnf"),
    RESOURCE_TYP: _COMMON + ("aud", "ps", "sub", "presented_jti", "agent_jkt", "scope"),
    AUTH_TYP: _COMMON + ("aud", "ps", "sub", "cnf"),
}
#: Optional claims each type defines (others are ignored, -11 extensibility).
OPTIONAL_CLAIMS = {
    AGENT_TYP: ("ps", "parent_agent"),
    PERSON_TYP: ("mission_s256", "tenant"),
    RESOURCE_TYP: ("person_token_jti", "account", "mission_s256", "tenant", "interaction", "login_hint"),
    AUTH_TYP: ("scope", "account", "mission_s256", "tenant"),
}
FORBIDDEN_CLAIMS = {PERSON_TYP: ("scope", "account"), RESOURCE_TYP: ("cnf",)}
#: Person and auth tokens MUST NOT live longer than an hour (``exp - iat``).
MAX_LIFETIME = 3600
DEFAULT_LIFETIME = {AGENT_TYP: 3600, PERSON_TYP: 3600, RESOURCE_TYP: 300, AUTH_TYP: 3600}

#: Claims whose value is a string (non-empty, but for ``scope``).
_STRING_CLAIMS = frozenset(
    "iss dwk jti sub ps presented_jti person_token_jti agent_jkt scope mission_s256 tenant parent_agent"
    " account login_hint".split()
)
_SHA256_B64URL = re.compile(r"[A-Za-z0-9_-]{43}")


# -- claim rules -------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _audience(value, *, allow_array: bool) -> str:
    if isinstance(value, str) and value:
        return value
    if allow_array and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and value[0]:
        return value[0]
    raise fail(f"aud must name exactly one audience as a string, got {value!r}")


def check_cnf_jwk(cnf) -> dict:
    """``cnf.jwk`` present, complete and with a fully-specified ``alg`` (Signature Keys -09 "Key Validation")."""
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise fail("cnf must be an object holding a jwk object")
    if not isinstance(jwk.get("kty"), str) or not isinstance(jwk.get("alg", ""), str):
        raise fail("cnf.jwk kty and alg must be strings", "invalid_key")
    try:
        check_jwk(jwk)
    except SignatureError as exc:
        raise TokenError(exc.code, f"cnf.jwk: {exc.detail}", accept_algs=exc.accept_algs) from None
    return jwk


def _check_shape(typ: str, payload: dict) -> None:
    """Required claims present, forbidden ones absent, defined ones well typed."""
    for name in REQUIRED_CLAIMS[typ]:
        if name not in payload and not (name == "presented_jti" and "person_token_jti" in payload):
            raise fail(f"{typ} requires the claim {name}")
    for name in FORBIDDEN_CLAIMS.get(typ, ()):
        if name in payload:
            raise fail(f"a {typ} must not contain {name}")
    defined = [n for n in REQUIRED_CLAIMS[typ] + OPTIONAL_CLAIMS[typ] if n in payload]
    for name in defined:
        value = payload[name]
        if name in _STRING_CLAIMS and (not isinstance(value, str) or (not value and name != "scope")):
            raise fail(f"claim {name} must be a non-empty string")
        if name in ("iat", "exp") and not _is_int(value):
            raise fail(f"claim {name} must be an integer NumericDate")
        if name in ("agent_jkt", "mission_s256") and not _SHA256_B64URL.fullmatch(value):
            raise fail(f"claim {name} must be a base64url SHA-256 value")
        if name == "interaction" and not (
            isinstance(value, dict)
            and isinstance(value.get("url"), str)
            and isinstance(value.get("code"), str)
        ):
            raise fail("claim interaction must be an object with string url and code")


def check_claims(
    typ: str,
    payload: dict,
    *,
    now: int | None,
    dev: bool,
    expected_aud: str | None,
    iat_window: int | None,
    allow_aud_array: bool,
) -> None:
    """The claim rules of ``typ`` in the draft's order (``now`` None: minting, no time check)."""
    _check_shape(typ, payload)
    iat, exp = payload["iat"], payload["exp"]
    if now is not None:
        check_expiry(typ, payload, now)
    if typ in (PERSON_TYP, AUTH_TYP) and exp - iat > MAX_LIFETIME:
        raise fail(f"a {typ} must not live longer than {MAX_LIFETIME} s (exp - iat = {exp - iat})")
    if now is not None:
        check_iat(payload, now, iat_window)
    for name in ("iss", "ps"):
        if name in payload and (name == "iss" or name in REQUIRED_CLAIMS[typ] + OPTIONAL_CLAIMS[typ]):
            try:
                check_server_identifier(payload[name], dev=dev)
            except AAuthError as exc:
                raise fail(f"claim {name}: {exc.detail}") from None
    if "aud" in REQUIRED_CLAIMS[typ]:
        aud = _audience(payload["aud"], allow_array=allow_aud_array)
        if expected_aud is not None and aud != expected_aud:
            raise fail(f"the {typ} is for {aud!r}, not {expected_aud!r}")
    if "cnf" in REQUIRED_CLAIMS[typ]:
        check_cnf_jwk(payload["cnf"])
    if typ == AGENT_TYP:
        _check_agent_claims(payload)
    if typ == AUTH_TYP and payload["dwk"] == PERSON_DWK and payload["ps"] != payload["iss"]:
        raise fail("a PS-issued auth token names its issuer in ps (ps must equal iss)")


def check_expiry(typ: str, payload: dict, now: int) -> None:
    """``exp`` strictly after ``now``, no tolerance (-11 "JWT Trust Verification")."""
    if payload["exp"] <= now:
        raise fail(f"the {typ} expired at {payload['exp']} (now {now}; no tolerance)", "expired_jwt")


def check_iat(payload: dict, now: int, iat_window: int | None) -> None:
    """``iat`` at most ``iat_window`` seconds ahead of ``now`` (opt-in ``clock_skew``)."""
    iat = payload["iat"]
    if iat_window is not None and iat > now + iat_window:
        raise fail(f"iat {iat} is {iat - now} s ahead of the verifier's clock", "clock_skew")


def _check_agent_claims(payload: dict) -> None:
    """Agent token: ``sub`` an agent identifier (top-level unless ``parent_agent``)."""
    subagent = "parent_agent" in payload
    try:
        check_agent_identifier(payload["sub"], top_level=not subagent)
        if subagent:
            check_agent_identifier(payload["parent_agent"], top_level=True)
    except AAuthError as exc:
        raise fail(f"agent token: {exc.detail}") from None


def check_dwk(typ: str, payload: dict) -> str:
    dwk = payload.get("dwk")
    if dwk not in TOKEN_DWKS[typ]:
        raise fail(f"a {typ} names dwk {' or '.join(TOKEN_DWKS[typ])}, not {dwk!r}")
    return dwk


def expected_types(typ: str | tuple[str, ...]) -> tuple[str, ...]:
    """``typ`` as a tuple of AAuth token types (``UsageError`` for anything else)."""
    expected = (typ,) if isinstance(typ, str) else tuple(typ)
    if not expected or any(t not in TYPES for t in expected):
        raise UsageError(f"typ must be one or more of {', '.join(TYPES)}, not {typ!r}")
    return expected
