"""What the Person Server issues, and for whom: pairwise subjects, then agent, person and
auth tokens minted with a fresh ``jti``, recorded and audited (-11 "Agent Token Structure",
"Person Token Structure", "Auth Token Structure")."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from aauth_kit import claims, tokens
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
    ctx: Context,
    mint: Callable[[str], str],
    prefix: str,
    *,
    actor: str,
    action: str,
    subject: str,
    person: str | None,
    audited: dict,
    **claims,
):
    """Mint with a fresh ``jti`` (numbered ones retried on a clash), record it, and audit it
    with ``audited`` besides."""
    for _ in range(100):
        jti = _new_jti(ctx, prefix)
        try:
            ctx.store.record_token(jti=jti, iss=ctx.identifier, **claims)
        except AAuthError as error:
            if error.code != "conflict":
                raise
            continue
        token = mint(jti)
        details = {"jti": jti, **{k: v for k, v in claims.items() if k != "typ"}, **audited}
        ctx.store.audit(actor, action, subject, details, person=person)
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


_MINT = {"agent": tokens.mint_agent_token, "person": tokens.mint_person_token, "auth": tokens.mint_auth_token}
_TYP = {"agent": claims.AGENT_TYP, "person": claims.PERSON_TYP, "auth": claims.AUTH_TYP}


def _issue(
    ctx: Context,
    kind: str,
    caps: list[int],
    *,
    actor: str,
    subject: str,
    claims: dict,
    record: dict,
    person: str | None,
    lifetime: int = TOKEN_LIFETIME,
    audited: dict | None = None,
) -> dict:
    """Mint a ``kind`` token (``agent``, ``person``, ``auth``) with ``claims``, record it with
    ``record`` (``aud``, ``sub``, ``agent_id``, ``scope``), audit it (with ``audited``
    besides); the token response."""
    iat, exp = _lifetime(ctx, caps, lifetime=lifetime)
    mint = _MINT[kind]
    token = _record(
        ctx,
        lambda jti: mint(ctx.key, iss=ctx.identifier, iat=iat, exp=exp, jti=jti, dev=ctx.dev, **claims),
        kind,
        actor=actor,
        action=f"{kind}_token_issued",
        subject=subject,
        person=person,
        audited=audited or {},
        typ=_TYP[kind],
        **record,
        iat=iat,
        exp=exp,
    )
    return {f"{kind}_token": token, "expires_in": exp - iat}


def mint_agent_token(
    ctx: Context,
    agent_id: str,
    jwk: dict,
    *,
    lifetime: int,
    actor: str,
    person: str | None = None,
    parent_agent: str | None = None,
    ps: str | None = None,
) -> dict:
    """As Agent Provider: an agent token for ``agent_id`` (bound to ``person``) binding ``jwk``;
    a sub-agent's names its parent in ``parent_agent`` (-11 "Sub-Agent Identity"); ``ps`` is the
    agent's Person Server (default: this one)."""
    return _issue(
        ctx,
        "agent",
        [],
        lifetime=lifetime,
        actor=actor,
        subject=agent_id,
        claims={"sub": agent_id, "cnf": jwk, "ps": ps or ctx.identifier, "parent_agent": parent_agent},
        person=person,
        record={
            "aud": None,
            "sub": agent_id,
            "agent_id": agent_id,
            "agent_iss": ctx.identifier,
            "scope": None,
        },
    )


def mint_person_token(
    ctx: Context,
    person: str,
    resource: str,
    jwk: dict,
    caps: list[int],
    *,
    agent: tuple[str, str],
    mission_s256: str | None = None,
) -> dict:
    """A person token for ``person`` at ``resource``, bound to the agent's key ``jwk``
    (``agent``: the agent token's ``(iss, sub)``)."""
    agent_iss, agent_id = agent
    sub = subject(ctx, person, resource)
    return _issue(
        ctx,
        "person",
        caps,
        actor=agent_id,
        subject=resource,
        claims={"aud": resource, "sub": sub, "cnf": jwk, "mission_s256": mission_s256},
        person=person,
        record={"aud": resource, "sub": sub, "agent_id": agent_id, "agent_iss": agent_iss, "scope": None},
    )


def mint_auth_token(
    ctx: Context, grant: dict, caps: list[int], *, agent: tuple[str, str], person: str | None = None
) -> dict:
    """``grant``: ``resource``, ``sub``, ``scope``, ``cnf_jwk``, ``account``, ``mission_s256``,
    ``tenant`` (from the resource token and the signing key; -11 "Auth Token Structure": each
    optional claim copied from the resource token); ``agent``: the agent token's ``(iss, sub)``.
    -11 "Account Binding": "the PS or AS copies it into the auth token", and "the audit trail
    records which account each authorization covered"."""
    agent_iss, agent_id = agent
    resource, sub, scope, account = grant["resource"], grant["sub"], grant["scope"], grant.get("account")
    claims = {
        "aud": resource,
        "ps": ctx.identifier,
        "sub": sub,
        "cnf": grant["cnf_jwk"],
        "scope": scope,
        "account": account,
        "mission_s256": grant.get("mission_s256"),
        "tenant": grant.get("tenant"),
    }
    record = {"aud": resource, "sub": sub, "agent_id": agent_id, "agent_iss": agent_iss, "scope": scope}
    return _issue(
        ctx,
        "auth",
        caps,
        actor=agent_id,
        subject=resource,
        claims=claims,
        record=record,
        person=person,
        audited={"account": account} if account is not None else None,
    )


def token_response(result: dict) -> Response:
    """A token endpoint's ``200``: never cached."""
    return JSONResponse(result, headers={"Cache-Control": "no-store"})
