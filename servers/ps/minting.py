"""What the Person Server issues, and for whom: pairwise subjects, then agent, person and
auth tokens minted with a fresh ``jti``, recorded and audited (-11 "Agent Token Structure",
"Person Token Structure", "Auth Token Structure")."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from aauth_kit import tokens
from aauth_kit.errors import AAuthError
from aauth_kit.keys import b64url

from .context import Context

#: -11: person and auth tokens live at most an hour; agent tokens SHOULD stay under a day.
TOKEN_LIFETIME = 3600
AGENT_TOKEN_LIFETIME = 3600


# -- persons and their pairwise subjects ----------------------------------------------------------
def subject(ctx: Context, username: str, audience: str) -> str:
    """The person's ``sub`` at ``audience``: pairwise (-11 "Person Token Structure"), stable,
    and the same in person and auth tokens for that audience."""
    mac = hmac.new(ctx.pairwise_key, f"{username}\x00{audience}".encode(), hashlib.sha256).digest()
    return b64url(mac[:16])


def person_for(ctx: Context, sub: str | None, audience: str | None) -> str | None:
    """The person whose pairwise subject at ``audience`` is ``sub`` (``None``: nobody here)."""
    if not isinstance(sub, str) or not isinstance(audience, str):
        return None
    return next(
        (
            u.username
            for u in ctx.store.list_users()
            if hmac.compare_digest(subject(ctx, u.username, audience), sub)
        ),
        None,
    )


# -- minting and recording ------------------------------------------------------------------------
def _new_jti(ctx: Context, prefix: str) -> str:
    if not ctx.config.numbered_jtis:
        return secrets.token_urlsafe(16)
    return f"{prefix}-{len(ctx.store.list_tokens()) + 1:04d}"


def _record(
    ctx: Context, mint: Callable[[str], str], prefix: str, *, actor: str, action: str, subject: str, **claims
):
    """Mint with a fresh ``jti`` (numbered ones retried on a clash) and record it."""
    for _ in range(100):
        jti = _new_jti(ctx, prefix)
        try:
            ctx.store.record_token(jti=jti, iss=ctx.identifier, **claims)
        except AAuthError as error:
            if error.code != "conflict":
                raise
            continue
        token = mint(jti)
        ctx.store.audit(
            actor, action, subject, {"jti": jti, **{k: v for k, v in claims.items() if k != "typ"}}
        )
        return token
    raise AAuthError("server_error", "could not find a free jti")


def _lifetime(ctx: Context, caps: list[int], *, lifetime: int = TOKEN_LIFETIME) -> tuple[int, int]:
    """``(iat, exp)``: ``exp`` at most ``lifetime`` ahead and never after any of ``caps``
    (-11: ≤ the agent, presented and upstream tokens' ``exp``)."""
    now = int(ctx.clock())
    exp = min([now + lifetime, *caps])
    if exp <= now:
        raise AAuthError("expired", "a token this request rests on has expired")
    return now, exp


def mint_agent_token(ctx: Context, agent_id: str, jwk: dict, *, lifetime: int, actor: str) -> dict:
    """As Agent Provider: an agent token for ``agent_id`` binding ``jwk``."""
    iat, exp = _lifetime(ctx, [], lifetime=lifetime)
    token = _record(
        ctx,
        lambda jti: tokens.mint_agent_token(
            ctx.key,
            iss=ctx.identifier,
            sub=agent_id,
            cnf=jwk,
            iat=iat,
            exp=exp,
            jti=jti,
            ps=ctx.identifier,
            dev=ctx.dev,
        ),
        "agent",
        actor=actor,
        action="agent_token_issued",
        subject=agent_id,
        typ=tokens.AGENT_TYP,
        aud=None,
        sub=agent_id,
        agent_id=agent_id,
        scope=None,
        iat=iat,
        exp=exp,
    )
    return {"agent_token": token, "expires_in": exp - iat}


def mint_person_token(
    ctx: Context,
    person: str,
    resource: str,
    jwk: dict,
    caps: list[int],
    *,
    agent_id: str,
    mission_s256: str | None = None,
) -> dict:
    """A person token for ``person`` at ``resource``, bound to the agent's key ``jwk``."""
    iat, exp = _lifetime(ctx, caps)
    sub = subject(ctx, person, resource)
    token = _record(
        ctx,
        lambda jti: tokens.mint_person_token(
            ctx.key,
            iss=ctx.identifier,
            aud=resource,
            sub=sub,
            cnf=jwk,
            iat=iat,
            exp=exp,
            jti=jti,
            mission_s256=mission_s256,
            dev=ctx.dev,
        ),
        "person",
        actor=agent_id,
        action="person_token_issued",
        subject=resource,
        typ=tokens.PERSON_TYP,
        aud=resource,
        sub=sub,
        agent_id=agent_id,
        scope=None,
        iat=iat,
        exp=exp,
    )
    return {"person_token": token, "expires_in": exp - iat}


def mint_auth_token(ctx: Context, grant: dict, caps: list[int], *, agent_id: str) -> dict:
    """``grant``: ``resource``, ``sub``, ``scope``, ``cnf_jwk``, ``mission_s256``, ``tenant``
    (from the resource token and the signing key; -11 "Auth Token Structure")."""
    iat, exp = _lifetime(ctx, caps)
    token = _record(
        ctx,
        lambda jti: tokens.mint_auth_token(
            ctx.key,
            iss=ctx.identifier,
            aud=grant["resource"],
            ps=ctx.identifier,
            sub=grant["sub"],
            cnf=grant["cnf_jwk"],
            iat=iat,
            exp=exp,
            jti=jti,
            scope=grant["scope"],
            mission_s256=grant.get("mission_s256"),
            tenant=grant.get("tenant"),
            dev=ctx.dev,
        ),
        "auth",
        actor=agent_id,
        action="auth_token_issued",
        subject=grant["resource"],
        typ=tokens.AUTH_TYP,
        aud=grant["resource"],
        sub=grant["sub"],
        agent_id=agent_id,
        scope=grant["scope"],
        iat=iat,
        exp=exp,
    )
    return {"auth_token": token, "expires_in": exp - iat}


def token_response(result: dict) -> Response:
    """A token endpoint's ``200``: never cached."""
    return JSONResponse(result, headers={"Cache-Control": "no-store"})
