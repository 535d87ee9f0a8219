"""AAuth tokens end to end: verifying one whose issuer key is found through metadata,
reading a Signature-Key member's confirmation key, and minting the four types.

:func:`verify_token` locates the issuer's key (``iss`` + ``dwk`` + header ``kid``,
-11 "JWKS Discovery and Caching") and hands over to :func:`token_verification.check_token`; the
``mint_*`` functions check their claims against the same -11 rules a verifier applies
(:mod:`aauth_kit.claims`) and sign them as a compact JWS (:mod:`aauth_kit.jws`) with
the header ``{alg, kid, typ}``, ``kid`` always present (the key's thumbprint when it has
none).
"""

from __future__ import annotations

import functools
import secrets
import time

from .claims import (
    AGENT_TYP,
    AUTH_TYP,
    DEFAULT_LIFETIME,
    PERSON_TYP,
    RESOURCE_TYP,
    TYPES,
    check_claims,
    check_cnf_jwk,
    check_dwk,
    expected_types,
)
from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_server_identifier
from .jws import check_header, decode_remembered, decode_unverified, fail, sign_compact, signature_verifies
from .keys import Key
from .metadata import AGENT_DWK, PERSON_DWK, RESOURCE_DWK
from .token_verification import VerifiedToken, check_token


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
    return signature_verifies(decode_remembered(token), key)


def _key_locator(token, typ, dev: bool) -> tuple[str, str, str]:
    """The checks :func:`verify_token` makes before fetching anything (``typ``, ``alg``,
    ``dwk``, ``iss``, ``kid``); returns where the issuer's key is: ``(iss, dwk, kid)``."""
    decoded = decode_remembered(token)
    found = check_header(decoded.header, expected_types(typ))
    dwk = check_dwk(found, decoded.payload)
    iss, kid = decoded.payload.get("iss"), decoded.header.get("kid")
    try:
        check_server_identifier(iss, dev=dev)
    except AAuthError as exc:
        raise fail(f"claim iss: {exc.detail}") from None
    if kid is None:
        raise fail("the JWT header has no kid, so the issuer's key cannot be selected")
    return iss, dwk, kid


#: The same token gives the same answer: kept (failures are not).
_cached_key_locator = functools.lru_cache(maxsize=256)(_key_locator)


def confirmation_key(signature_key) -> Key:
    """The ``cnf.jwk`` key of the JWT in a ``jwt``/``jkt-jwt`` Signature-Key member,
    *without* verifying the JWT (offline inspection only)."""
    decoded = decode_unverified(signature_key.jwt)
    jwk = check_cnf_jwk(decoded.payload.get("cnf"))
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
        check_dwk(typ, claims)
        check_claims(
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
