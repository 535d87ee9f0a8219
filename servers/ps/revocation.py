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

One signer may have at most ``Caps.revocations_per_signer`` revocations kept here (then ``429
rate_limited``), and an AS's answers are read up to the document cap, its ``downstream``
report to :data:`aauth_kit.revocation.MAX_DOWNSTREAM` entries.
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

#: A revocation without ``exp`` is kept this long: -11 agent tokens SHOULD live under a day.
REVOCATION_RETENTION = 24 * 3600
#: Seconds the PS gives a resource to answer a revocation (then: ``revocation_unavailable``).
REVOCATION_TIMEOUT = 10


def _remember(ctx: Context, iss: str, jti: str, exp: int | None, *, actor: str) -> None:
    """Store ``(iss, jti)`` (kept until ``exp`` + skew) and forget revocations past theirs.

    -11 is silent on how many revocations one signer may leave here; OWASP ASVS level 2
    (V11.1.4, resource use): past ``Caps.revocations_per_signer`` kept for ``iss``, a new one
    is ``429 rate_limited`` with ``Retry-After`` (when the first of them may be forgotten)."""
    now = int(ctx.clock())
    ctx.store.forget_expired(now - kit.SKEW)
    held, first = ctx.store.revocations_of(iss)
    if held >= ctx.config.caps.revocations_per_signer and not ctx.store.is_revoked(iss, jti):
        raise over_cap("revocations from one signer", [first + kit.SKEW] if first is not None else [], now)
    ctx.store.revoke(iss, jti, exp if exp is not None else now + REVOCATION_RETENTION)
    ctx.store.audit(actor, "token_revoked", iss, {"jti": jti, "exp": exp})


async def revoke_agent_token(ctx: Context, ap: str, jti: str, exp: int | None, *, actor: str) -> None:
    """The AP ``ap`` revoked its agent token ``jti``: refuse it, end its agent's unanswered
    pending requests (polls answer ``403 revoked``) and revoke every live person and auth
    token issued to that agent, here and at its resource (each outcome audited for its person)."""
    _remember(ctx, ap, jti, exp, actor=actor)
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
    """Revoke tokens this PS issued (``IssuedToken``), here and at the resource each was issued
    for — a person token also at each Access Server it was presented to — one signed ``POST``
    per token and recipient, each outcome audited for the person the token spoke for.  Returns
    ``[{"recipient", "error"}]`` for the servers that could not be told, an AS's ``downstream``
    report included — for that person's eyes only."""
    failed: dict[str, str] = {}
    async with ctx.client_factory(timeout=REVOCATION_TIMEOUT) as client:
        for token in issued:
            ctx.store.revoke(token.iss, token.jti, token.exp)
            recipients = [(token.aud, RESOURCE_DWK)]
            if token.typ == claims.PERSON_TYP:
                recipients += [(server, ACCESS_DWK) for server in ctx.store.presented_at(token.jti)]
            for recipient, dwk in recipients:
                error, downstream = await kit.revoke_at(
                    ctx.revoker, client, ctx.resolver, recipient, dwk, token.jti, token.exp, dev=ctx.dev
                )
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
            _remember(ctx, revoked.signer, revoked.jti, revoked.exp, actor=revoked.signer)
        return Response(status_code=200)

    return [Route(kit.REVOCATION_PATH, revocation_endpoint, methods=["POST"])]
