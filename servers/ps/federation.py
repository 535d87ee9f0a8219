"""Four-party access at the Person Server (-11 "PS-AS Federation"): "If aud identifies a
different server (an AS), the PS discovers the AS's metadata at
{aud}/.well-known/aauth-access.json and calls the AS's auth_token_endpoint".

``POST /auth-token`` with a resource token addressed to an AS runs the checks of the
three-party path (the resource token names this PS as ``ps`` and binds the signing key — the
sub-agent's for a ``subagent_token``; the presented token is the one it points back to; an
``upstream_token`` speaks for the same person), asks the person when the consent policy says
so (the request waits as ``federated_auth_token``), then federates: a ``POST`` to the AS's
``auth_token_endpoint`` signed as this PS (``sig=jwks_uri``), body ``{"resource_token",
"agent_token", "presented_token"}`` and, when the agent sent them, ``subagent_token`` (the
parent is the ``agent_token``: -11 "Parent-Mediated Authorization") and ``upstream_token``
(-11 "PS-to-AS Token Request").  :mod:`.federation_exchange` follows the AS's answers;
a ``requirement=interaction`` or ``approval`` goes down to the agent as this PS's own ``202``
(:mod:`.federation_pending`) — an interaction only to an agent that can show one (else ``403
user_unreachable``), a ``clarification`` only to one that declared it can answer.
"""

from __future__ import annotations

import contextlib

from starlette.responses import Response

from aauth_kit import claims
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.jws import decode_unverified
from aauth_kit.message import HttpMessage
from aauth_kit.profile import VerifiedRequest

from . import clarification, federation_pending, subagents, token_endpoints
from .context import Context
from .deferred import can_interact, defer, reachable
from .federation_exchange import AccessServerPending, answer, exchange, passed_down, send, token_endpoint
from .minting import token_response
from .missions import active_mission, still_active
from .store.pending import Pending
from .verification import same_person_upstream, verify_parameter, verify_presented

KIND = clarification.FEDERATED


def addressed_to_access_server(ctx: Context, body: dict) -> bool:
    """Whether the resource token's ``aud`` names another server than this PS (read before the
    token is verified; :func:`auth_token` verifies it in full)."""
    value = body.get("resource_token")
    try:
        aud = decode_unverified(value).payload.get("aud") if isinstance(value, str) else None
    except AAuthError:
        return False
    return isinstance(aud, str) and aud != ctx.identifier


async def auth_token(ctx: Context, message: HttpMessage, verified: VerifiedRequest, body: dict) -> Response:
    """``POST /auth-token`` for a resource that has its own AS (see the module doc)."""
    agent_token = verified.token
    agent = (agent_token.iss, agent_token.sub)
    subagent = None
    if "subagent_token" in body:  # -11 "Parent-Mediated Authorization"
        subagent = await subagents.subagent_of(ctx, body["subagent_token"], agent_token)
    key = subagent.cnf_key if subagent is not None else verified.key
    resource_token = await verify_parameter(
        ctx,
        body["resource_token"],
        "resource",
        typ=claims.RESOURCE_TYP,
        expected_ps=ctx.identifier,
        signing_key_jwk=key,
    )
    try:
        check_server_identifier(resource_token.aud, dev=ctx.dev)
    except AAuthError as error:
        raise AAuthError("invalid_resource_token", f"aud: {error.detail}") from None
    presented, person = await verify_presented(ctx, body["presented_token"], resource_token)
    caps, mission = [agent_token.exp, presented.exp], None
    if presented.mission_s256 is not None:
        mission = active_mission(ctx, presented.mission_s256, caps)
    upstream = await same_person_upstream(ctx, body, agent_token, person)
    sent = {"subagent_token": subagent, "upstream_token": upstream}
    federation = {
        "access_server": resource_token.aud,
        "presented": presented.jti if presented.iss == ctx.identifier else None,  # revoked there too
        "resource": resource_token.iss,
        "scope": resource_token.scope,
        "request": {  # -11 "PS-to-AS Token Request"
            "resource_token": resource_token.token,
            "agent_token": agent_token.token,
            "presented_token": presented.token,
            **{name: token.token for name, token in sent.items() if token is not None},
        },
        "cnf_jwk": key.public_jwk(kid=False),
        "not_after": min([*caps, *(token.exp for token in sent.values() if token is not None)]),
    }
    interactive = can_interact(body, mission=mission)
    if not ctx.policy.needs_consent(resource_token.scope):
        capabilities = clarification.declared_capabilities(message)
        try:
            answered = await federate(
                ctx, federation, person, agent, consented=False, capabilities=capabilities
            )
            return token_response(answered)
        except AccessServerPending as asked:  # -11 "AS Response": passed down to the agent
            data = {"federation": federation, "mission_s256": presented.mission_s256, "person": person}
            data["capabilities"] = capabilities
            if asked.state["requirement"] == "interaction":
                reachable(interactive)
            return await federation_pending.create(ctx, message, agent, verified, data, asked.state)
    reachable(interactive)
    request_data = {
        "federation": federation,
        "mission_s256": presented.mission_s256,
        "person": person,
        "grant": {"account": resource_token.account},
        **await token_endpoints._resource_info(ctx, resource_token.iss),
    }
    return await defer(
        ctx,
        message,
        KIND,
        agent,
        verified,
        request_data,
        resource=resource_token.iss,
        scope=resource_token.scope,
        justification=token_endpoints.optional_string(body, "justification"),
    )


async def complete(ctx: Context, pending: Pending) -> dict:
    """The person approved: federate now, with the person's consent to release claims — if the
    request's mission is still active (else ``403 mission_terminated``, -11 "Mission Status
    Errors").  A requirement the AS then asks is passed down at this poll (:mod:`.federation_pending`)."""
    data = pending.request
    still_active(ctx, data.get("mission_s256"))
    agent = (pending.agent_iss, pending.agent_id)
    try:
        return await federate(
            ctx,
            data["federation"],
            data["person"],
            agent,
            consented=True,
            capabilities=data.get("capabilities"),
        )
    except AccessServerPending as asked:
        with contextlib.suppress(AAuthError):  # revoked meanwhile: the poll answers that
            federation_pending.wait(ctx, pending, asked.state)
        raise


async def federate(
    ctx: Context, federation: dict, person: str, agent: tuple[str, str], *, consented: bool, capabilities=None
) -> dict:
    """Ask the AS, follow its answers, verify its auth token: the agent's ``200`` body (or
    :class:`~.federation_exchange.AccessServerPending` for what goes down to an agent that
    declared ``capabilities``)."""
    access_server = federation["access_server"]

    async def first(client):
        endpoint = await token_endpoint(ctx, access_server)
        return await send(ctx, client, "POST", endpoint, federation["request"])

    passes_down = passed_down(capabilities)
    response = await exchange(ctx, access_server, first, person, consented=consented, passes_down=passes_down)
    return await answer(ctx, response, federation, person, agent)
