"""The -11 claim rules of the four AAuth tokens, and checking a token against them.

``aa-agent+jwt`` (-11 "Agent Token Structure"), ``aa-person+jwt`` ("Person Token
Structure"), ``aa-resource+jwt`` ("Resource Token Structure") and ``aa-auth+jwt``
("Auth Token Structure") each have required, optional and forbidden claims; all carry
``iss``, ``dwk``, ``jti``, ``iat``, ``exp``, all but resource tokens ``cnf.jwk`` (with
``alg``), resource tokens ``agent_jkt`` instead.  :func:`check_token` verifies a token
with the issuer's key in hand, in the order of the drafts' verification steps — ``typ``
first, then ``alg``, ``dwk``, signature, ``exp`` (no tolerance), lifetime, ``iss``,
``aud``, ``cnf`` and the per-type rules — every failure a :class:`errors.TokenError`
carrying a Signature-Error code:

* ``invalid_jwt`` — malformed, wrong ``typ``/``dwk``, bad signature, missing or
  ill-typed claim, over-long lifetime, bad ``iss``/``aud``/``sub``, forbidden claim;
* ``expired_jwt`` — ``exp`` is not strictly after now;
* ``unsupported_algorithm`` — header ``alg`` ``EdDSA``/``none``/unknown, or a
  ``cnf.jwk`` without a usable ``alg``;
* ``invalid_key`` — ``cnf.jwk`` incomplete or inconsistent, or not the key that signed
  the request (the token names another key);
* ``clock_skew`` — ``iat`` further in the future than ``iat_window`` (opt-in).

Where the drafts leave room: ``aud`` is emitted as a string; a one-element array naming
the same audience is accepted (RFC 7519 §4.1.3 makes them equivalent; other
implementations send arrays), any other array is not.  A resource token's
``person_token_jti`` (the intermediate -11 name) is read as ``presented_jti``.
NumericDates must be integers.

A verifier sees the same token on every request until it expires, so a token that
passed :func:`check_token` is remembered (a bounded LRU) under the issuer key and the
expectations it was checked against; presented again, only the clock-dependent checks
(``exp``, ``iat_window``) and the key binding are redone, with the same result.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_agent_identifier, check_server_identifier
from .jws import check_alg, check_header, decode_remembered, fail, signature_verifies
from .keys import Key, check_jwk, jwk_thumbprint
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

#: How many verified tokens are remembered (see the module docstring).
CHECKED_CACHE_SIZE = 4096


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


# -- the verified token ------------------------------------------------------------------
def _claim(name: str):
    return property(lambda self: self.payload.get(name), doc=f"The ``{name}`` claim (None if absent).")


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed :func:`check_token`: raw text, header, payload and its type.
    Claims read as attributes (``t.iss``) or items (``t["iss"]``).  One instance may be
    handed to every verifier of the same token: read it, never change it."""

    token: str
    header: dict
    payload: dict
    typ: str

    alg = property(lambda self: self.header["alg"])
    kid = property(lambda self: self.header.get("kid"))
    iss = _claim("iss")
    dwk = _claim("dwk")
    sub = _claim("sub")
    jti = _claim("jti")
    iat = _claim("iat")
    exp = _claim("exp")
    ps = _claim("ps")
    scope = _claim("scope")
    agent_jkt = _claim("agent_jkt")
    mission_s256 = _claim("mission_s256")
    tenant = _claim("tenant")
    account = _claim("account")
    parent_agent = _claim("parent_agent")

    @property
    def aud(self) -> str | None:
        """The one audience (a one-element array is read as its element)."""
        aud = self.payload.get("aud")
        return aud[0] if isinstance(aud, list) else aud

    @property
    def presented_jti(self) -> str | None:
        """``presented_jti``, or the intermediate -11 ``person_token_jti``."""
        return self.payload.get("presented_jti", self.payload.get("person_token_jti"))

    @property
    def cnf_jwk(self) -> dict | None:
        cnf = self.payload.get("cnf")
        return cnf.get("jwk") if isinstance(cnf, dict) else None

    @functools.cached_property
    def cnf_key(self) -> Key | None:
        """The confirmation key: the key that must sign requests presenting this token."""
        jwk = self.cnf_jwk
        return Key.from_jwk(jwk, require_alg=True) if jwk is not None else None

    @property
    def jkt(self) -> str | None:
        """RFC 7638 thumbprint of the key the token binds (``cnf.jwk``, or ``agent_jkt``)."""
        jwk = self.cnf_jwk
        return jwk_thumbprint(jwk) if jwk is not None else self.agent_jkt

    def get(self, name: str, default=None):
        return self.payload.get(name, default)

    def __getitem__(self, name: str):
        return self.payload[name]


# -- checking a token ---------------------------------------------------------------------
def _as_jwk(key: Key | dict) -> dict:
    return key.public_jwk(kid=False) if isinstance(key, Key) else key


def check_token(
    token: str,
    *,
    typ: str | tuple[str, ...],
    key: Key,
    now: int,
    expected_aud: str | None = None,
    expected_ps: str | None = None,
    signing_key_jwk: Key | dict | None = None,
    iat_window: int | None = None,
    dev: bool = False,
) -> VerifiedToken:
    """Verify ``token`` with the issuer's ``key`` at time ``now`` (-11 "JWT Trust Verification").

    ``typ`` may be a tuple (a presented token is a person *or* auth token).
    ``expected_aud``/``expected_ps`` are compared exactly.  ``signing_key_jwk`` is the
    key that signed the request: it must be ``cnf.jwk`` (thumbprints compared, RFC
    7638) — for a resource token, ``agent_jkt`` — else ``invalid_key``.
    ``iat_window`` opts in to ``clock_skew`` for an ``iat`` that far ahead.  ``dev``
    accepts loopback ``http`` issuers.
    """
    if not isinstance(key, Key):
        raise UsageError("check_token needs the issuer's key as a keys.Key")
    memo = (
        token,
        typ if isinstance(typ, str) else tuple(typ),
        key.alg,
        key.thumbprint(),
        expected_aud,
        expected_ps,
        dev,
    )
    verified = _checked.get(memo) if isinstance(token, str) else None
    if verified is None:
        verified = _check_token(
            token,
            typ=typ,
            key=key,
            now=now,
            expected_aud=expected_aud,
            expected_ps=expected_ps,
            iat_window=iat_window,
            dev=dev,
        )
        _checked.put(memo, verified)
    else:
        check_expiry(verified.typ, verified.payload, now)
        check_iat(verified.payload, now, iat_window)
    if signing_key_jwk is not None and jwk_thumbprint(_as_jwk(signing_key_jwk)) != verified.jkt:
        raise fail(
            f"the {verified.typ} is bound to another key than the one that signed the request", "invalid_key"
        )
    return verified


class _Checked:
    """Tokens that passed every check but the clock's, by token, type, key and
    expectations: a thread-safe LRU of :data:`CHECKED_CACHE_SIZE` entries."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[tuple, VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, memo: tuple) -> VerifiedToken | None:
        with self._lock:
            verified = self._entries.get(memo)
            if verified is not None:
                self._entries.move_to_end(memo)
            return verified

    def put(self, memo: tuple, verified: VerifiedToken) -> None:
        with self._lock:
            self._entries[memo] = verified
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)


_checked = _Checked(CHECKED_CACHE_SIZE)


def _check_token(
    token: str, *, typ, key: Key, now: int, expected_aud, expected_ps, iat_window, dev
) -> VerifiedToken:
    """Every check of :func:`check_token` but the key binding, in the draft's order."""
    decoded = decode_remembered(token)
    found = check_header(decoded.header, expected_types(typ))
    check_alg(decoded, key)
    check_dwk(found, decoded.payload)
    if not signature_verifies(decoded, key):
        raise fail(f"the {found} signature does not verify with the issuer's key")
    check_claims(
        found,
        decoded.payload,
        now=now,
        dev=dev,
        expected_aud=expected_aud,
        iat_window=iat_window,
        allow_aud_array=True,
    )
    verified = VerifiedToken(token, decoded.header, decoded.payload, found)
    if expected_ps is not None and verified.ps != expected_ps:
        raise fail(f"the {found} names PS {verified.ps!r}, not {expected_ps!r}")
    return verified


def check_presented_token(resource_token: VerifiedToken, presented: VerifiedToken) -> None:
    """-11 "PS Token Endpoint": the token the agent presented is
    the one the resource token points back to.  Both are already verified; failures are
    ``invalid_presented_token``.

    ``jti`` == ``presented_jti``; the presented token's PS (person token ``iss``, auth
    token ``ps``) == ``ps``; ``aud`` == the resource token's ``iss``; ``sub``,
    ``mission_s256`` and ``tenant`` equal, absence included (mission stripping); the
    bound key's thumbprint == ``agent_jkt``.
    """

    def fail(why: str) -> AAuthError:
        return AAuthError("invalid_presented_token", why)

    if presented.typ not in (PERSON_TYP, AUTH_TYP):
        raise fail(f"a presented token is a person or auth token, not {presented.typ}")
    if presented.jti != resource_token.presented_jti:
        raise fail(
            f"presented_jti {resource_token.presented_jti!r} names another token than jti {presented.jti!r}"
        )
    presented_ps = presented.iss if presented.typ == PERSON_TYP else presented.ps
    if presented_ps != resource_token.ps:
        raise fail(f"the resource token names PS {resource_token.ps!r}, the presented token {presented_ps!r}")
    if presented.aud != resource_token.iss:
        raise fail(
            f"the presented token is for {presented.aud!r}, the resource token comes from {resource_token.iss!r}"
        )
    missing = object()
    for name in ("sub", "mission_s256", "tenant"):
        if presented.payload.get(name, missing) != resource_token.payload.get(name, missing):
            raise fail(f"{name} differs between the resource token and the presented token (absence counts)")
    if presented.jkt != resource_token.agent_jkt:
        raise fail("the presented token is bound to another key than agent_jkt")
