"""Revocation at the Person Server (-11 "Token Revocation").

``POST /revoke`` takes, signed with ``sig=jwks_uri``, an Agent Provider's revocation of an
agent token it issued, or a resource's of a resource token it issued, kept by (signer,
``jti``).  An agent token's revocation cascades to its agent (found by the token's ``jti``:
the PS notes every agent token it acts on): its unanswered pending requests end with polling
``403 revoked``, and each live person and auth token the PS issued to it is revoked here and
at the resource it was issued for (the ``revocation_endpoint`` of its metadata, signed by the
PS in its own right).  The answer is ``200`` with an empty body once every resource has
answered or failed: which resources the person's tokens were for, and which of them could not
be told, is the person's business, not the Agent Provider's (-11 "PS Visibility": the PS "MUST
apply appropriate access controls"), so the outcome of each is written to the audit trail of
the person the token spoke for, who reads it at ``GET /audit``, and a person revoking one of
their own tokens gets it in the answer (:mod:`.persons`).

A person token the PS presented to an Access Server in a federation (-11 "PS-AS Federation")
is revoked at that AS too (the ``revocation_endpoint`` of its ``aauth-access.json``): the AS
revokes the auth tokens it issued from it at their resource and answers with the
``downstream`` report of what it could not tell, which joins the person's trail.

A revocation of a token the PS never met is kept at most a day, one signer may have at most
``Caps.revocations_per_signer`` of them kept here and the PS ``Caps.revocations`` (then ``429
rate_limited``); only those of tokens it met join the audit trail (:func:`_remember`).  Each
recipient of a cascade has its own bounded time, every token being refused here before any
is sent, and an AS's answers are read up to the document cap, its ``downstream`` report to
:data:`aauth_kit.revocation.MAX_DOWNSTREAM` entries.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit import claims
from aauth_kit import revocation as kit
from aauth_kit.asgi import http_message
from aauth_kit.metadata import ACCESS_DWK, AGENT_DWK, RESOURCE_DWK

from .context import Context, over_cap
from .minting import person_for

#: A revocation of a token the PS never met is kept at most this long (without ``exp``: this
#: long): -11 "Agent Token Structure": agent tokens SHOULD NOT live longer than 24 hours; the
#: PS takes no token of another party living longer (:func:`.verification.within_revocation_horizon`).
REVOCATION_RETENTION = 24 * 3600
#: Seconds the PS gives a resource to answer a revocation (then: ``revocation_unavailable``).
REVOCATION_TIMEOUT = 10


def _remember(
    ctx: Context, iss: str, jti: str, exp: int | None, *, known_exp: int | None, actor: str
) -> None:
    """Store ``(iss, jti)`` until the token's end, and forget revocations past theirs.

    -11 "Token Revocation" lets a recipient forget a revocation after ``exp`` plus skew, and is
    silent on how much a signer may leave here; anyone publishing ``aauth-agent.json`` or
    ``aauth-resource.json`` can sign one, so the kit follows OWASP ASVS level 2 (V11.1.4,
    resource use): a token whose end has passed is refused already, so nothing is written; a
    token the PS met (``known_exp``) is kept until its own ``exp``; any other until ``exp`` but
    at most :data:`REVOCATION_RETENTION` from now (-11 "Agent Token Structure": agent tokens
    SHOULD NOT live longer; resource tokens far less), and only while the signer keeps fewer
    than ``Caps.revocations_per_signer`` and the PS fewer than ``Caps.revocations`` (else
    ``429 rate_limited``, ``Retry-After`` when the first of them may be forgotten).  Only a
    revocation of a token the PS met joins the audit trail, and only the first time."""
    now = int(ctx.clock())
    horizon = now + REVOCATION_RETENTION
    until = known_exp if known_exp is not None else min(exp if exp is not None else horizon, horizon)
    if until + kit.SKEW < now:
        return  # expired: refused as such everywhere, nothing to keep
    ctx.store.forget_expired(now - kit.SKEW)
    if ctx.store.is_revoked(iss, jti):
        return
    if known_exp is None:
        caps = ctx.config.caps
        for what, signer, cap in (
            ("revocations from one signer", iss, caps.revocations_per_signer),
            ("revocations", None, caps.revocations),
        ):
            held, first = ctx.store.revocations_of(signer)
            if held >= cap:
                raise over_cap(what, [first + kit.SKEW] if first is not None else [], now)
    ctx.store.revoke(iss, jti, until)
    if known_exp is not None:
        ctx.store.audit(actor, "token_revoked", iss, {"jti": jti, "exp": exp})


async def revoke_agent_token(ctx: Context, ap: str, jti: str, exp: int | None, *, actor: str) -> None:
    """The AP ``ap`` revoked its agent token ``jti``: refuse it, end its agent's unanswered
    pending requests (polls answer ``403 revoked``) and revoke every live person and auth
    token issued to that agent, here and at its resource (each outcome audited for its person)."""
    _remember(ctx, ap, jti, exp, known_exp=ctx.store.agent_token_exp(ap, jti), actor=actor)
    agent_id = ctx.store.agent_of(ap, jti)
    if agent_id is None:
        return  # never met here: refusing it from now on is all there is to do
    for pending_id in ctx.store.revoke_pending(agent_id, agent_iss=ap):
        ctx.store.audit(actor, "pending_revoked", agent_id, {"pending_id": pending_id})
        ctx.waiters.notify(pending_id)
    now = ctx.clock()
    issued = [
        t
        for t in ctx.store.list_tokens(agent_id=agent_id, agent_iss=ap)
        if t.typ in (claims.PERSON_TYP, claims.AUTH_TYP)
        and t.iss == ctx.identifier
        and t.exp > now
        and not ctx.store.is_revoked(t.iss, t.jti)
    ]
    await revoke_issued(ctx, issued, actor=actor)


async def revoke_issued(ctx: Context, issued: list, *, actor: str) -> list[dict]:
    """Revoke tokens this PS issued (``IssuedToken``): first here, every one of them, so none
    stays usable whatever a recipient does; then at the resource each was issued for — a
    person token also at each Access Server it was presented to — one signed ``POST`` per
    token and recipient, all at once, each within its own time
    (:func:`aauth_kit.revocation.revoke_each`), each outcome audited for the person the token
    spoke for.  Returns ``[{"recipient", "error"}]`` for the servers that could not be told,
    an AS's ``downstream`` report included — for that person's eyes only."""
    for token in issued:
        ctx.store.revoke(token.iss, token.jti, token.exp)
    jobs = [
        (token, recipient, dwk)
        for token in issued
        for recipient, dwk in [
            (token.aud, RESOURCE_DWK),
            *(
                [(server, ACCESS_DWK) for server in ctx.store.presented_at(token.jti)]
                if token.typ == claims.PERSON_TYP
                else []
            ),
        ]
    ]
    async with ctx.client_factory(timeout=REVOCATION_TIMEOUT) as client:
        outcomes = await kit.revoke_each(
            ctx.revoker,
            client,
            ctx.resolver,
            [(recipient, dwk, token.jti, token.exp) for token, recipient, dwk in jobs],
            dev=ctx.dev,
        )
    failed: dict[str, str] = {}
    for (token, recipient, _), (error, downstream) in zip(jobs, outcomes, strict=True):
        details = {"jti": token.jti, "typ": token.typ, "agent": token.agent_id, "error": error}
        ctx.store.audit(
            actor,
            "token_revoked",
            recipient,
            details | ({"downstream": downstream} if downstream else {}),
            person=person_for(ctx, token.sub, token.aud),
        )
        for entry in [{"recipient": recipient, "error": error}, *downstream]:
            if entry["error"] is not None:
                failed.setdefault(entry["recipient"], entry["error"])
    return [{"recipient": recipient, "error": error} for recipient, error in failed.items()]


def routes(ctx: Context) -> list[Route]:
    async def revocation_endpoint(request: Request) -> Response:
        """``POST /revoke`` ``{"jti", "exp"}`` signed with ``sig=jwks_uri`` by an Agent Provider
        (``dwk`` ``aauth-agent.json``: one of its agent tokens) or a resource
        (``aauth-resource.json``: one of its resource tokens); anyone else ``403
        unsupported_iss``.  ``200`` with an empty body once the cascade is terminal, whatever
        it met (-11 "Token Revocation": an unknown ``jti`` is revoked all the same, and the
        cascade report it defines goes from an Access Server to a Person Server, not to an
        Agent Provider or a resource)."""
        revoked = await kit.verify_revocation(
            await http_message(request, ctx.identifier),
            resolver=ctx.resolver,
            accept=(AGENT_DWK, RESOURCE_DWK),
            now=int(ctx.clock()),
            dev=ctx.dev,
        )
        if revoked.dwk == AGENT_DWK:
            await revoke_agent_token(ctx, revoked.signer, revoked.jti, revoked.exp, actor=revoked.signer)
        else:  # a resource token: refused from now on as resource_token (revoked_resource_token)
            _remember(ctx, revoked.signer, revoked.jti, revoked.exp, known_exp=None, actor=revoked.signer)
        return Response(status_code=200)

    return [Route(kit.REVOCATION_PATH, revocation_endpoint, methods=["POST"])]
