"""Verifying what agents send the Person Server: signed requests (-11 "Verification
(Server)") and the tokens they carry as body parameters (-11 "Token Endpoint Error Codes",
"Upstream Token Verification")."""

from __future__ import annotations

from starlette.requests import Request

from aauth_kit import claims, tokens
from aauth_kit.asgi import http_message
from aauth_kit.errors import AAuthError, SignatureError, TokenError
from aauth_kit.jws import fail
from aauth_kit.message import HttpMessage
from aauth_kit.profile import VerifiedRequest, verify_request
from aauth_kit.revocation import SKEW
from aauth_kit.token_verification import VerifiedToken, check_presented_token

from .context import Context
from .minting import person_for
from .revocation import REVOCATION_RETENTION


def single_level(token: VerifiedToken) -> None:
    """-11 "Single-Level Depth": a PS MUST reject a request signed by an agent whose agent token
    has a ``parent_agent`` claim (its parent asks the PS for it, -11 "Parent-Mediated
    Authorization").  The refused token is the one in ``Signature-Key``, so the answer is
    the one any refused ``Signature-Key`` token gets (-11 "Authentication Errors"): ``401``
    with ``Signature-Error: error=invalid_key`` — the JWT is well formed and its signature holds
    (not ``invalid_jwt``), but the key it conveys "does not meet the server's trust
    requirements" (Signature Keys -09 "invalid_key").  Published -11 has no
    ``invalid_agent_token`` any more."""
    if token.parent_agent is not None:
        raise SignatureError(
            "invalid_key",
            f"{token.sub} is a sub-agent of {token.parent_agent}: its parent asks the PS for it",
        )


def within_revocation_horizon(token: VerifiedToken, now: int) -> None:
    """A token of another party must end within the time the PS keeps that party's revocations
    of tokens it never met (:data:`.revocation.REVOCATION_RETENTION`, plus clock skew): else a
    revocation that reached the PS before the token did would be forgotten while the token
    still works.  -11 "Agent Token Structure": agent tokens SHOULD NOT live longer than 24
    hours ("Resource Token Structure": resource tokens far less), so the PS refuses a longer
    lifetime, counted from ``iat`` or from now, whichever is earlier: ``invalid_jwt``."""
    lifetime = token.exp - min(token.iat, now)
    if lifetime > REVOCATION_RETENTION + SKEW:
        raise fail(
            f"the {token.typ} {token.jti!r} from {token.iss} lives {lifetime} s: this PS takes none"
            f" living longer than {REVOCATION_RETENTION} s (the time it keeps a revocation of it)"
        )


async def verify(
    ctx: Context,
    message: HttpMessage,
    *,
    schemes: tuple[str, ...] = ("jwt",),
    label: str | None = None,
    subagents: bool = False,
) -> VerifiedRequest:
    """All seven steps with an agent token (``jwt``) or a bare key (``hwk``), bodies
    covered; then the agent token must be no sub-agent's (:func:`single_level`; ``subagents``
    leaves that to the caller), within the revocation horizon (:func:`within_revocation_horizon`)
    and not revoked."""
    verified = await verify_request(
        message,
        resolver=ctx.resolver,
        now=int(ctx.clock()),
        accept_schemes=schemes,
        token_types=(claims.AGENT_TYP,),
        body_required=True,
        label=label,
        dev=ctx.dev,
    )
    token = verified.token
    if token is not None:
        if not subagents:
            single_level(token)
        within_revocation_horizon(token, int(ctx.clock()))
        if ctx.store.is_revoked(token.iss, token.jti):
            raise SignatureError(
                "revoked_jwt", f"the agent token {token.jti!r} from {token.iss} has been revoked"
            )
    return verified


async def signed_request(
    ctx: Context,
    request: Request,
    *,
    schemes: tuple[str, ...] = ("jwt",),
    label: str | None = None,
    subagents: bool = False,
) -> tuple[HttpMessage, VerifiedRequest]:
    """The request addressed to this PS, and its verified signature."""
    message = await http_message(request, ctx.identifier)
    return message, await verify(ctx, message, schemes=schemes, label=label, subagents=subagents)


async def agent_request(ctx: Context, request: Request) -> tuple[HttpMessage, VerifiedRequest]:
    """A request signed with an agent token (token endpoints, missions): verified, and
    the token noted for the Agent Provider's revocations."""
    message, verified = await signed_request(ctx, request)
    token = verified.token
    if token.jti is not None:  # its AP's revocation names only the jti: remember whose it is
        ctx.store.note_agent_token(token.iss, token.jti, token.sub, token.exp)
    return message, verified


async def verify_parameter(ctx: Context, value, param: str, **checks) -> VerifiedToken:
    """A token sent as a body member: its failure (a lifetime past the revocation horizon too,
    :func:`within_revocation_horizon`) is ``<invalid|expired|revoked>_<param>_token``."""
    if not isinstance(value, str):
        raise AAuthError("invalid_request", f"{param}_token must be a string")
    try:
        token = await tokens.verify_token(
            value, resolver=ctx.resolver, now=int(ctx.clock()), dev=ctx.dev, **checks
        )
        within_revocation_horizon(token, int(ctx.clock()))
    except TokenError as error:
        raise error.as_parameter_error(param) from None
    if ctx.store.is_revoked(token.iss, token.jti):
        raise AAuthError(f"revoked_{param}_token", f"the {token.typ} {token.jti!r} has been revoked")
    return token


async def verify_presented(ctx: Context, value, resource_token: VerifiedToken) -> tuple[VerifiedToken, str]:
    """-11 "PS Token Endpoint": the presented token, verified as if addressed to the resource
    (``aud`` == the resource token's ``iss``), is the one the resource token points back to;
    returns it and the person of this PS behind it (``invalid_presented_token`` if none)."""
    presented = await verify_parameter(
        ctx, value, "presented", typ=(claims.PERSON_TYP, claims.AUTH_TYP), expected_aud=resource_token.iss
    )
    check_presented_token(resource_token, presented)
    person = person_for(ctx, presented.sub, presented.aud)
    if person is None:
        raise AAuthError("invalid_presented_token", "this PS knows no person behind the presented token")
    return presented, person


async def verify_upstream(ctx: Context, value, agent_token: VerifiedToken) -> tuple[VerifiedToken, str]:
    """-11 "Upstream Token Verification": the upstream token is a person or auth token for the
    caller (``aud`` == the caller's agent token ``iss``; ``cnf`` is not compared), from this
    PS; returns it and the person behind it."""
    upstream = await verify_parameter(
        ctx, value, "upstream", typ=(claims.PERSON_TYP, claims.AUTH_TYP), expected_aud=agent_token.iss
    )
    issuer = upstream.iss if upstream.typ == claims.PERSON_TYP else upstream.ps
    person = person_for(ctx, upstream.sub, upstream.aud) if issuer == ctx.identifier else None
    if person is None:
        raise AAuthError("invalid_upstream_token", "this PS knows no person behind the upstream token")
    return upstream, person


async def same_person_upstream(
    ctx: Context, body: dict, agent_token: VerifiedToken, person: str
) -> VerifiedToken | None:
    """The body's ``upstream_token``, if any (-11 "Call Chaining"), verified and speaking for
    ``person`` — the person behind the presented token — else ``400 invalid_upstream_token``."""
    if "upstream_token" not in body:
        return None
    upstream, upstream_person = await verify_upstream(ctx, body["upstream_token"], agent_token)
    if upstream_person != person:
        raise AAuthError("invalid_upstream_token", "the upstream token speaks for another person")
    return upstream
