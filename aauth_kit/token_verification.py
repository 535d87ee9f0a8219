"""Checking an AAuth token with its issuer's key in hand (-11 "JWT Trust Verification").

:func:`check_token` applies the drafts' verification steps in their order — ``typ``
first, then ``alg``, ``dwk``, signature, ``exp`` (no tolerance), lifetime, ``iss``,
``aud``, ``cnf`` and the per-type rules of :mod:`aauth_kit.claims` — and returns a
:class:`VerifiedToken`; every failure is a :class:`errors.TokenError` carrying a
Signature-Error code:

* ``invalid_jwt`` — malformed, wrong ``typ``/``dwk``, bad signature, missing or
  ill-typed claim, over-long lifetime, bad ``iss``/``aud``/``sub``, forbidden claim;
* ``expired_jwt`` — ``exp`` is not strictly after now;
* ``unsupported_algorithm`` — header ``alg`` ``EdDSA``/``none``/unknown, or a
  ``cnf.jwk`` without a usable ``alg``;
* ``invalid_key`` — ``cnf.jwk`` incomplete or inconsistent, or not the key that signed
  the request (the token names another key);
* ``clock_skew`` — ``iat`` further in the future than ``iat_window`` (opt-in).

A verifier sees the same token on every request until it expires, so a token that
passed :func:`check_token` is remembered (a bounded LRU) under the issuer key and the
expectations it was checked against; presented again, only the clock-dependent checks
(``exp``, ``iat_window``) and the key binding are redone, with the same result.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .claims import AUTH_TYP, PERSON_TYP, check_claims, check_dwk, check_expiry, check_iat, expected_types
from .errors import AAuthError, UsageError
from .jws import check_alg, check_header, decode_remembered, fail, signature_verifies
from .keys import Key, jwk_thumbprint

#: How many verified tokens are remembered (see the module docstring).
CHECKED_CACHE_SIZE = 4096


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
