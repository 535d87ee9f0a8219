"""AAuth tokens: ``aa-agent+jwt``, ``aa-person+jwt``, ``aa-resource+jwt``,
``aa-auth+jwt`` — minting and verification (draft -11 "AAuth Tokens", "Agent Tokens",
"Person Tokens", "Resource Tokens", "Auth Tokens", "Common JWT Verification"), as
RFC 7515 compact JWS signed directly with :class:`keys.Key`.

Every token has the JOSE header ``{alg, kid, typ}`` (``alg`` fully specified:
``Ed25519`` or ``ES256``, never ``EdDSA``) and the claims ``iss``, ``dwk``, ``jti``,
``iat``, ``exp``; all but resource tokens carry ``cnf.jwk`` (with ``alg``), resource
tokens carry ``agent_jkt`` instead.

Verification is split so it runs sync or async: :func:`decode_unverified` parses,
:func:`check_token` applies the -11 checks with a key already in hand, and
:func:`verify_token` resolves the issuer's key through a :class:`metadata.KeyResolver`
first.  The checks run in the draft's order — ``typ`` first, then ``alg``, ``dwk``,
signature, ``exp`` (no tolerance), lifetime, ``iss``, ``aud``, ``cnf`` and the
per-type rules — and every failure is a :class:`errors.TokenError` carrying a
Signature-Error code:

* ``invalid_jwt`` — malformed, wrong ``typ``/``dwk``, bad signature, missing or
  ill-typed claim, over-long lifetime, bad ``iss``/``aud``/``sub``, forbidden claim;
* ``expired_jwt`` — ``exp`` is not strictly after now;
* ``unsupported_algorithm`` — header ``alg`` ``EdDSA``/``none``/unknown, or a
  ``cnf.jwk`` without a usable ``alg``;
* ``invalid_key`` — ``cnf.jwk`` incomplete or inconsistent, or not the key that signed
  the request (the key binding failed: the token names another key);
* ``clock_skew`` — ``iat`` further in the future than ``iat_window`` (opt-in);
* ``issuer_missing`` / ``issuer_mismatch`` / ``unknown_key`` — from key discovery.

Decisions where the drafts leave room (wire notes §9): ``aud`` is emitted as a string;
a one-element array naming the same audience is accepted (RFC 7519 §4.1.3 makes them
equivalent; aauth-go and the TypeScript SDK send arrays), any other array is not.
``kid`` is always emitted (the key's thumbprint when it has none).  A resource token's
``person_token_jti`` (the intermediate -11 name) is read as ``presented_jti``.
NumericDates must be integers.

A verifier sees the same token on every request until it expires, so a token that
passed :func:`check_token` is remembered (a bounded LRU) under the issuer key and the
expectations it was checked against; presented again, only the clock-dependent checks
(``exp``, ``iat_window``) and the key binding are redone.  The result is the same as a
full check: every other rule depends on nothing but the token, the key and the
expectations.
"""

from __future__ import annotations

import functools
import json
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_agent_identifier, check_server_identifier
from .keys import SUPPORTED_ALGS, Key, b64url, b64url_decode, check_jwk, jwk_thumbprint
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

_STRING_CLAIMS = (
    "iss",
    "dwk",
    "jti",
    "sub",
    "ps",
    "presented_jti",
    "person_token_jti",
    "agent_jkt",
    "scope",
    "mission_s256",
    "tenant",
    "parent_agent",
    "account",
    "login_hint",
)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SHA256_B64URL = re.compile(r"[A-Za-z0-9_-]{43}")
#: How many verified tokens are remembered (see the module docstring).
CHECKED_CACHE_SIZE = 4096


def _fail(detail: str, code: str = "invalid_jwt") -> TokenError:
    return TokenError(code, detail)


# -- compact JWS -------------------------------------------------------------------------
class Decoded(NamedTuple):
    """A compact JWS taken apart, not yet verified."""

    header: dict
    payload: dict
    signing_input: bytes
    signature: bytes


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _no_duplicates(pairs):
    out = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"duplicate member {name!r}")
        out[name] = value
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _decode_part(segment: str, what: str) -> dict:
    try:
        value = json.loads(
            b64url_decode(segment).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_finite,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise _fail(f"the JWT {what} is not base64url JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _fail(f"the JWT {what} is not a JSON object")
    return value


def decode_unverified(token) -> Decoded:
    """Split a compact JWS (RFC 7515 §7.1) into header, payload, signing input and
    signature; any malformation is ``invalid_jwt``.  Nothing is verified."""
    if not isinstance(token, str):
        raise _fail("a JWT must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise _fail(f"a JWT has three dot-separated parts, this one has {len(parts)}")
    if not all(_B64URL.fullmatch(p) for p in parts) or not parts[0] or not parts[1]:
        raise _fail("a JWT part is empty or not base64url")
    header = _decode_part(parts[0], "header")
    payload = _decode_part(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except ValueError:
        raise _fail("the JWT signature is not base64url") from None
    return Decoded(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


@functools.lru_cache(maxsize=256)
def _decoded_text(token: str) -> Decoded:
    return decode_unverified(token)


def _decoded(token) -> Decoded:
    """:func:`decode_unverified`, remembered for the verifier's own read-only use."""
    return _decoded_text(token) if isinstance(token, str) else decode_unverified(token)


def sign_compact(header: dict, payload: dict, key: Key) -> str:
    """``b64url(header).b64url(payload).b64url(signature)`` — no claim rules applied."""
    if not key.has_private:
        raise UsageError("minting a token needs a private key")
    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(payload))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


# -- claim rules -------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _audience(value, *, allow_array: bool) -> str:
    if isinstance(value, str) and value:
        return value
    if allow_array and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and value[0]:
        return value[0]
    raise _fail(f"aud must name exactly one audience as a string, got {value!r}")


def _check_cnf_jwk(cnf) -> dict:
    """``cnf.jwk`` present, complete and with a fully-specified ``alg`` (SK -09 §3.3)."""
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise _fail("cnf must be an object holding a jwk object")
    if not isinstance(jwk.get("kty"), str) or not isinstance(jwk.get("alg", ""), str):
        raise _fail("cnf.jwk kty and alg must be strings", "invalid_key")
    try:
        check_jwk(jwk)
    except SignatureError as exc:
        raise TokenError(exc.code, f"cnf.jwk: {exc.detail}", accept_algs=exc.accept_algs) from None
    return jwk


def _check_shape(typ: str, payload: dict) -> None:
    """Required claims present, forbidden ones absent, defined ones well typed."""
    for name in REQUIRED_CLAIMS[typ]:
        if name not in payload and not (name == "presented_jti" and "person_token_jti" in payload):
            raise _fail(f"{typ} requires the claim {name}")
    for name in FORBIDDEN_CLAIMS.get(typ, ()):
        if name in payload:
            raise _fail(f"a {typ} must not contain {name}")
    defined = [n for n in REQUIRED_CLAIMS[typ] + OPTIONAL_CLAIMS[typ] if n in payload]
    for name in defined:
        value = payload[name]
        if name in _STRING_CLAIMS and (not isinstance(value, str) or (not value and name != "scope")):
            raise _fail(f"claim {name} must be a non-empty string")
        if name in ("iat", "exp") and not _is_int(value):
            raise _fail(f"claim {name} must be an integer NumericDate")
        if name in ("agent_jkt", "mission_s256") and not _SHA256_B64URL.fullmatch(value):
            raise _fail(f"claim {name} must be a base64url SHA-256 value")
        if name == "interaction" and not (
            isinstance(value, dict)
            and isinstance(value.get("url"), str)
            and isinstance(value.get("code"), str)
        ):
            raise _fail("claim interaction must be an object with string url and code")


def _check_claims(
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
        _check_expiry(typ, payload, now)
    if typ in (PERSON_TYP, AUTH_TYP) and exp - iat > MAX_LIFETIME:
        raise _fail(f"a {typ} must not live longer than {MAX_LIFETIME} s (exp - iat = {exp - iat})")
    if now is not None:
        _check_iat(payload, now, iat_window)
    for name in ("iss", "ps"):
        if name in payload and (name == "iss" or name in REQUIRED_CLAIMS[typ] + OPTIONAL_CLAIMS[typ]):
            try:
                check_server_identifier(payload[name], dev=dev)
            except AAuthError as exc:
                raise _fail(f"claim {name}: {exc.detail}") from None
    if "aud" in REQUIRED_CLAIMS[typ]:
        aud = _audience(payload["aud"], allow_array=allow_aud_array)
        if expected_aud is not None and aud != expected_aud:
            raise _fail(f"the {typ} is for {aud!r}, not {expected_aud!r}")
    if "cnf" in REQUIRED_CLAIMS[typ]:
        _check_cnf_jwk(payload["cnf"])
    if typ == AGENT_TYP:
        _check_agent_claims(payload)
    if typ == AUTH_TYP and payload["dwk"] == PERSON_DWK and payload["ps"] != payload["iss"]:
        raise _fail("a PS-issued auth token names its issuer in ps (ps must equal iss)")


def _check_expiry(typ: str, payload: dict, now: int) -> None:
    """``exp`` strictly after ``now``, no tolerance (-11 "Common JWT Verification")."""
    if payload["exp"] <= now:
        raise _fail(f"the {typ} expired at {payload['exp']} (now {now}; no tolerance)", "expired_jwt")


def _check_iat(payload: dict, now: int, iat_window: int | None) -> None:
    """``iat`` at most ``iat_window`` seconds ahead of ``now`` (opt-in ``clock_skew``)."""
    iat = payload["iat"]
    if iat_window is not None and iat > now + iat_window:
        raise _fail(f"iat {iat} is {iat - now} s ahead of the verifier's clock", "clock_skew")


def _check_agent_claims(payload: dict) -> None:
    """Agent token: ``sub`` an agent identifier (top-level unless ``parent_agent``)."""
    subagent = "parent_agent" in payload
    try:
        check_agent_identifier(payload["sub"], top_level=not subagent)
        if subagent:
            check_agent_identifier(payload["parent_agent"], top_level=True)
    except AAuthError as exc:
        raise _fail(f"agent token: {exc.detail}") from None


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


# -- verification ------------------------------------------------------------------------
def _normalize_typ(typ: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively, ``application/`` optional."""
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


def _check_header(header: dict, typ: str | tuple[str, ...]) -> str:
    """``typ`` first (-11 "Common JWT Verification"), then ``alg``; return the token's type."""
    expected = (typ,) if isinstance(typ, str) else tuple(typ)
    if not expected or any(t not in TYPES for t in expected):
        raise UsageError(f"typ must be one or more of {', '.join(TYPES)}, not {typ!r}")
    got = header.get("typ")
    found = _normalize_typ(got) if isinstance(got, str) else None
    if found not in expected:
        raise _fail(f"expected typ {' or '.join(expected)}, got {got!r}")
    if "crit" in header:
        raise _fail("the JWT header lists crit extensions the kit does not understand")
    alg = header.get("alg")
    if alg == "EdDSA":
        raise _fail(
            "alg EdDSA is polymorphic and forbidden since draft -10; use Ed25519", "unsupported_algorithm"
        )
    if alg not in SUPPORTED_ALGS:
        raise TokenError(
            "unsupported_algorithm", f"alg {alg!r} is not accepted", accept_algs=list(SUPPORTED_ALGS)
        )
    if "kid" in header and not isinstance(header["kid"], str):
        raise _fail("kid must be a string")
    return found


def _check_dwk(typ: str, payload: dict) -> str:
    dwk = payload.get("dwk")
    if dwk not in TOKEN_DWKS[typ]:
        raise _fail(f"a {typ} names dwk {' or '.join(TOKEN_DWKS[typ])}, not {dwk!r}")
    return dwk


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
    """Verify ``token`` with the issuer's ``key`` at time ``now`` (-11 "Common JWT Verification").

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
        _check_expiry(verified.typ, verified.payload, now)
        _check_iat(verified.payload, now, iat_window)
    if signing_key_jwk is not None and jwk_thumbprint(_as_jwk(signing_key_jwk)) != verified.jkt:
        raise _fail(
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
    decoded = _decoded(token)
    found = _check_header(decoded.header, typ)
    if decoded.header["alg"] != key.alg:
        raise _fail(f"the token says alg {decoded.header['alg']} but the issuer key is {key.alg}")
    _check_dwk(found, decoded.payload)
    if not key.verify(decoded.signature, decoded.signing_input):
        raise _fail(f"the {found} signature does not verify with the issuer's key")
    _check_claims(
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
        raise _fail(f"the {found} names PS {verified.ps!r}, not {expected_ps!r}")
    return verified


async def verify_token(
    token: str, *, typ: str | tuple[str, ...], resolver, now: int, **checks
) -> VerifiedToken:
    """Resolve the issuer's key (``iss`` + ``dwk`` + header ``kid``) and :func:`check_token`.

    ``typ``, ``alg``, ``dwk`` and ``iss`` are checked before anything is fetched; key
    discovery failures keep their Signature-Error code as a :class:`TokenError`.
    """
    dev = checks.get("dev", False)
    if isinstance(token, str):
        iss, dwk, kid = _cached_key_locator(token, typ if isinstance(typ, str) else tuple(typ), dev)
    else:
        iss, dwk, kid = _key_locator(token, typ, dev)
    try:
        key = await resolver.key(iss, dwk, kid)
        try:
            return check_token(token, typ=typ, key=key, now=now, **checks)
        except TokenError as exc:
            # the issuer may have replaced the key under the same kid: one refetch (floored)
            if exc.code != "invalid_jwt" or _signature_verifies(token, key):
                raise
            fresh = await resolver.refetch_key(iss, dwk, kid)
            if fresh is None or fresh.thumbprint() == key.thumbprint():
                raise
        return check_token(token, typ=typ, key=fresh, now=now, **checks)
    except TokenError:
        raise
    except SignatureError as exc:
        raise TokenError(exc.code, exc.detail, accept_algs=exc.accept_algs) from None


def _signature_verifies(token: str, key: Key) -> bool:
    decoded = _decoded(token)
    return key.verify(decoded.signature, decoded.signing_input)


def _key_locator(token, typ, dev: bool) -> tuple[str, str, str]:
    """The checks :func:`verify_token` makes before fetching anything (``typ``, ``alg``,
    ``dwk``, ``iss``, ``kid``); returns where the issuer's key is: ``(iss, dwk, kid)``."""
    decoded = _decoded(token)
    found = _check_header(decoded.header, typ)
    dwk = _check_dwk(found, decoded.payload)
    iss, kid = decoded.payload.get("iss"), decoded.header.get("kid")
    try:
        check_server_identifier(iss, dev=dev)
    except AAuthError as exc:
        raise _fail(f"claim iss: {exc.detail}") from None
    if kid is None:
        raise _fail("the JWT header has no kid, so the issuer's key cannot be selected")
    return iss, dwk, kid


#: The same token gives the same answer: kept (failures are not).
_cached_key_locator = functools.lru_cache(maxsize=256)(_key_locator)


def check_presented_token(resource_token: VerifiedToken, presented: VerifiedToken) -> None:
    """-11 "Auth Token Request" verification (wire §7.6): the token the agent presented is
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


def confirmation_key(signature_key) -> Key:
    """The ``cnf.jwk`` key of the JWT in a ``jwt``/``jkt-jwt`` Signature-Key member,
    *without* verifying the JWT (offline inspection only)."""
    decoded = decode_unverified(signature_key.jwt)
    jwk = _check_cnf_jwk(decoded.payload.get("cnf"))
    try:
        return Key.from_jwk(jwk, require_alg=True)
    except SignatureError as exc:
        raise TokenError(exc.code, f"cnf.jwk: {exc.detail}") from None


# -- minting -----------------------------------------------------------------------------
def mint(typ: str, key: Key, claims: dict, *, kid: str | None = None, dev: bool = False) -> str:
    """Sign ``claims`` as a ``typ`` token after checking them against the same -11 rules a
    verifier applies (``UsageError`` if they fail).  Header: ``{alg, kid, typ}``."""
    if typ not in TYPES:
        raise UsageError(f"unknown token type {typ!r}; use one of {', '.join(TYPES)}")
    if not isinstance(claims, dict):
        raise UsageError("claims must be a dict")
    try:
        _check_dwk(typ, claims)
        _check_claims(
            typ, claims, now=None, dev=dev, expected_aud=None, iat_window=None, allow_aud_array=False
        )
    except TokenError as exc:
        raise UsageError(f"refusing to mint this {typ}: {exc.detail}") from None
    header = {"alg": key.alg, "kid": kid or key.kid or key.thumbprint(), "typ": typ}
    return sign_compact(header, claims, key)


def _base_claims(typ, iss, dwk, iat, exp, lifetime, jti, cnf, extra) -> dict:
    iat = int(time.time()) if iat is None else iat
    claims = {
        "iss": iss,
        "dwk": dwk,
        "jti": jti or secrets.token_urlsafe(16),
        "iat": iat,
        "exp": exp if exp is not None else iat + (lifetime or DEFAULT_LIFETIME[typ]),
    }
    if cnf is not None:
        claims["cnf"] = {"jwk": cnf.public_jwk() if isinstance(cnf, Key) else cnf}
    return {**claims, **(extra or {})}


def _optional(**claims) -> dict:
    return {name: value for name, value in claims.items() if value is not None}


def mint_agent_token(
    key: Key,
    *,
    iss: str,
    sub: str,
    cnf: Key | dict,
    iat: int | None = None,
    exp: int | None = None,
    lifetime: int | None = None,
    jti: str | None = None,
    ps: str | None = None,
    parent_agent: str | None = None,
    kid: str | None = None,
    dev: bool = False,
    extra: dict | None = None,
) -> str:
    """An ``aa-agent+jwt`` from the Agent Provider ``key`` binding the agent key ``cnf``."""
    claims = _base_claims(AGENT_TYP, iss, AGENT_DWK, iat, exp, lifetime, jti, cnf, extra)
    claims.update(_optional(sub=sub, ps=ps, parent_agent=parent_agent))
    return mint(AGENT_TYP, key, claims, kid=kid, dev=dev)


def mint_person_token(
    key: Key,
    *,
    iss: str,
    aud: str,
    sub: str,
    cnf: Key | dict,
    iat: int | None = None,
    exp: int | None = None,
    lifetime: int | None = None,
    jti: str | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    kid: str | None = None,
    dev: bool = False,
    extra: dict | None = None,
) -> str:
    """An ``aa-person+jwt`` from the PS ``key``: the person ``sub`` for resource ``aud``."""
    claims = _base_claims(PERSON_TYP, iss, PERSON_DWK, iat, exp, lifetime, jti, cnf, extra)
    claims.update(_optional(aud=aud, sub=sub, mission_s256=mission_s256, tenant=tenant))
    return mint(PERSON_TYP, key, claims, kid=kid, dev=dev)


def mint_resource_token(
    key: Key,
    *,
    iss: str,
    aud: str,
    ps: str,
    sub: str,
    presented_jti: str,
    agent_jkt: str | Key,
    scope: str,
    iat: int | None = None,
    exp: int | None = None,
    lifetime: int | None = None,
    jti: str | None = None,
    account: str | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    kid: str | None = None,
    dev: bool = False,
    extra: dict | None = None,
) -> str:
    """An ``aa-resource+jwt`` from the resource ``key`` for the PS/AS ``aud``."""
    claims = _base_claims(RESOURCE_TYP, iss, RESOURCE_DWK, iat, exp, lifetime, jti, None, extra)
    jkt = agent_jkt.thumbprint() if isinstance(agent_jkt, Key) else agent_jkt
    claims.update(
        _optional(
            aud=aud,
            ps=ps,
            sub=sub,
            presented_jti=presented_jti,
            agent_jkt=jkt,
            scope=scope,
            account=account,
            mission_s256=mission_s256,
            tenant=tenant,
        )
    )
    return mint(RESOURCE_TYP, key, claims, kid=kid, dev=dev)


def mint_auth_token(
    key: Key,
    *,
    iss: str,
    aud: str,
    ps: str,
    sub: str,
    cnf: Key | dict,
    iat: int | None = None,
    exp: int | None = None,
    lifetime: int | None = None,
    jti: str | None = None,
    scope: str | None = None,
    account: str | None = None,
    mission_s256: str | None = None,
    tenant: str | None = None,
    dwk: str = PERSON_DWK,
    kid: str | None = None,
    dev: bool = False,
    extra: dict | None = None,
) -> str:
    """An ``aa-auth+jwt`` from the PS (``dwk`` ``aauth-person.json``) or AS (``aauth-access.json``)."""
    claims = _base_claims(AUTH_TYP, iss, dwk, iat, exp, lifetime, jti, cnf, extra)
    claims.update(
        _optional(
            aud=aud, ps=ps, sub=sub, scope=scope, account=account, mission_s256=mission_s256, tenant=tenant
        )
    )
    return mint(AUTH_TYP, key, claims, kid=kid, dev=dev)
