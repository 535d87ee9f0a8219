"""Sub-agents at the Person Server and its Agent Provider role (-11 "Sub-Agents").

* ``POST /agent/subagent`` ``{"discriminator"}``, signed twice like ``/agent/rotate``: by the
  parent with the agent token this AP issued it, and by the sub-agent's own new key (``hwk``,
  label ``new``).  The answer is ``{"agent_token"}`` for ``aauth:{parent local}+{discriminator}@
  {host}`` with ``parent_agent`` naming the parent and ``cnf`` the new key (-11 "Sub-Agent
  Identity"), never outliving the parent's token.  A parent that is itself a sub-agent is
  refused (-11 "Single-Level Depth").  A parent holds at most ``Caps.subagents_per_agent`` live
  sub-agent tokens (each binds a new key; -11 is silent on a limit, OWASP ASVS level 2 V11.1.4):
  past it ``429 rate_limited`` + ``Retry-After``, when the first of them expires.
* ``subagent_token`` at both token endpoints (-11 "Parent-Mediated Authorization"):
  :func:`subagent_of` verifies it and checks its ``parent_agent`` names the signing agent; the
  tokens are then bound to the sub-agent's key while the parent's grant is evaluated.

Errors follow the token endpoint's ``<invalid|expired|revoked>_<parameter>_token`` pattern of
published -11 (-11 "Token Endpoint Error Codes"): a ``subagent_token`` that does not verify,
names no parent or another parent is ``400 invalid_subagent_token`` (``expired_subagent_token``
once expired, ``revoked_subagent_token`` once revoked); a request signed with a sub-agent's own
token is refused at every PS endpoint like any ``Signature-Key`` token the PS does not take:
``401`` with ``Signature-Error: error=invalid_key`` (:func:`.verification.single_level`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit import claims
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import AGENT_SCHEME, parse_agent_identifier, subagent_identifier
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.rotation import NEW_KEY_LABEL
from aauth_kit.token_verification import VerifiedToken

from .chosen_ps import person_server_for
from .context import Context, over_cap
from .minting import AGENT_TOKEN_LIFETIME, mint_agent_token, token_response
from .verification import signed_request, single_level, verify, verify_parameter


async def subagent_of(ctx: Context, value, parent: VerifiedToken) -> VerifiedToken:
    """-11 "Parent-Mediated Authorization": the PS verifies the ``subagent_token`` as any agent
    token (-11 "Agent Token Verification") and checks that its ``parent_agent`` names the
    parent, the agent that signed the request.  The parent is ``(iss, sub)`` of the signing
    agent token: the sub-agent's AP must be the parent's."""
    subagent = await verify_parameter(ctx, value, "subagent", typ=claims.AGENT_TYP)
    check_parent(subagent, parent)
    ctx.store.audit(
        parent.sub,
        "subagent_token_presented",
        subagent.sub,
        {"subagent_jti": subagent.jti, "parent_agent": parent.sub},
    )
    return subagent


def check_parent(subagent: VerifiedToken, parent: VerifiedToken) -> None:
    """The sub-agent's ``parent_agent`` names the parent agent ``(iss, sub)``, else ``400
    invalid_subagent_token``."""
    if subagent.parent_agent is None:
        raise AAuthError("invalid_subagent_token", "subagent_token has no parent_agent: it is no sub-agent's")
    if (subagent.iss, subagent.parent_agent) != (parent.iss, parent.sub):
        raise AAuthError(
            "invalid_subagent_token",
            f"subagent_token names parent {subagent.parent_agent!r} of {subagent.iss}, "
            f"not the signing agent {parent.sub!r} of {parent.iss}",
        )


async def bound_key(ctx: Context, body: dict, parent: VerifiedToken, signer: Key) -> tuple[Key, list[int]]:
    """The key the issued token binds, and the ``exp`` values capping it: the sub-agent's
    ("the issued token's cnf is the sub-agent's key", -11 "Person Token Endpoint") when the
    body has a ``subagent_token``, else the signer's."""
    if "subagent_token" not in body:
        return signer, []
    subagent = await subagent_of(ctx, body["subagent_token"], parent)
    return subagent.cnf_key, [subagent.exp]


def check_subagent_cap(ctx: Context, parent: str) -> None:
    """``429 rate_limited`` when ``parent`` holds ``Caps.subagents_per_agent`` live sub-agent tokens."""
    local, domain = parse_agent_identifier(parent)
    now = ctx.clock()
    live = ctx.store.live_subagent_tokens(ctx.identifier, f"{AGENT_SCHEME}{local}+", f"@{domain}", now)
    if len(live) >= ctx.config.caps.subagents_per_agent:
        raise over_cap(f"sub-agent tokens for {parent}", live, now)


def routes(ctx: Context) -> list[Route]:
    async def subagent_endpoint(request: Request) -> Response:
        """The Agent Provider issues a sub-agent token (see the module doc).  -11 "Sub-Agent
        Identity": "Acquisition of a sub-agent token from the agent provider is
        platform-dependent"; the kit's mirrors its key rotation."""
        message, parent = await signed_request(ctx, request, label="sig", subagents=True)
        new = await verify(ctx, message, schemes=("hwk",), label=NEW_KEY_LABEL)
        token = parent.token
        # -11 "Single-Level Depth": "An agent provider MUST NOT issue a sub-agent token whose
        # parent (parent_agent) is itself a sub-agent."
        single_level(token)
        agent = ctx.store.get_agent(token.sub, ap_issuer=ctx.identifier)
        if token.iss != ctx.identifier or agent is None or agent.status != "approved":
            raise AAuthError("forbidden", f"{token.sub} is no approved agent of this AP", status=403)
        body = require_json_object(message.body)
        discriminator = body.get("discriminator")
        if not isinstance(discriminator, str) or not discriminator or "+" in discriminator:
            raise AAuthError(
                "invalid_request", "discriminator must be a non-empty local-part string without +"
            )
        try:
            sub = subagent_identifier(token.sub, discriminator)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"discriminator: {error.detail}") from None
        if new.key.thumbprint() == parent.key.thumbprint():
            raise AAuthError("invalid_request", "a sub-agent has its own signing key, not its parent's")
        check_subagent_cap(ctx, token.sub)
        result = mint_agent_token(
            ctx,
            sub,
            new.key.public_jwk(kid=False),
            lifetime=min(AGENT_TOKEN_LIFETIME, token.exp - int(ctx.clock())),
            actor=token.sub,
            person=agent.username,
            parent_agent=token.sub,
            ps=person_server_for(ctx, token.sub),  # the one the parent's person chose, as of now
        )
        return token_response(result)

    return [Route("/agent/subagent", subagent_endpoint, methods=["POST"])]
