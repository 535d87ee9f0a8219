"""The Person Server's two token endpoints, signed with an agent token (``Signature-Key:
sig=jwt``; body covered by ``content-type`` and ``content-digest``).

* ``POST /person-token`` ``{"resource", "upstream_token"?, "mission_s256"?, "subagent_token"?}`` → a person
  token for the person the agent is bound to, or — in a call chain — for the person behind
  the upstream token (-11 "Person Token Endpoint", "Call Chaining"); an agent bound to
  nobody waits for a person to claim it.
* ``POST /auth-token`` ``{"resource_token", "presented_token", "upstream_token"?,
  "subagent_token"?, "justification"?}`` → the checks of -11 "PS Token Endpoint" and "Resource Token
  Verification", then the consent policy: a scope that needs nobody's consent is granted at
  once, any other waits for the person (:mod:`.deferred`).

An agent that does not declare the ``interaction`` capability (none is assumed, -11
"AAuth-Capabilities Request Header") gets ``403 user_unreachable`` when the person would be
needed; within a mission, a request that declares no ``capabilities`` has those captured at
the mission's approval (-11 "Agent Token Request", :func:`.deferred.can_interact`).
"""

from __future__ import annotations

import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit import claims
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.message import require_json_object
from aauth_kit.metadata import RESOURCE_DWK
from aauth_kit.token_verification import VerifiedToken

from . import federation, subagents
from .context import Context
from .deferred import can_interact, defer, reachable
from .hints import agent_hints
from .minting import mint_auth_token, mint_person_token, token_response
from .missions import active_mission, still_active
from .resource_interaction import checked_interaction
from .store.pending import Pending
from .verification import (
    agent_request,
    same_person_upstream,
    verify_parameter,
    verify_presented,
    verify_upstream,
)

MAX_JUSTIFICATION = 4000


def optional_string(body: dict, name: str, *, limit: int = MAX_JUSTIFICATION) -> str | None:
    """An optional body member that, when present, is a non-empty string of at most ``limit``."""
    value = body.get(name)
    if value is not None and not (isinstance(value, str) and 0 < len(value) <= limit):
        raise AAuthError(
            "invalid_request", f"{name} must be a non-empty string of at most {limit} characters"
        )
    return value


async def _resource_info(ctx: Context, resource: str) -> dict:
    """The resource's ``name`` and ``scope_descriptions`` for the consent page (-11 "User
    Interaction": the PS SHOULD show them); an unreachable resource just shows its identifier."""
    with contextlib.suppress(AAuthError):
        document = await ctx.resolver.metadata(resource, RESOURCE_DWK)
        descriptions = document.get("scope_descriptions")
        return {
            "resource_name": document.get("name") if isinstance(document.get("name"), str) else None,
            "scope_descriptions": descriptions if isinstance(descriptions, dict) else {},
        }
    return {"resource_name": None, "scope_descriptions": {}}


def _bound_person(ctx: Context, agent_token: VerifiedToken) -> str | None:
    """The person an approved agent of this agent token's AP is bound to."""
    agent = ctx.store.get_agent(agent_token.sub, ap_issuer=agent_token.iss)
    if agent is not None and agent.status == "approved":
        return agent.username
    return None


def _complete_person_token(ctx: Context, pending: Pending) -> dict:
    """A person claimed the agent: the person token it asked for, if its mission is still active."""
    data = pending.request
    still_active(ctx, data.get("mission_s256"), data["caps"])
    return mint_person_token(
        ctx,
        pending.decided_by,
        pending.resource,
        data["cnf_jwk"],
        data["caps"],
        agent=(pending.agent_iss, pending.agent_id),
        mission_s256=data.get("mission_s256"),
    )


def _complete_auth_token(ctx: Context, pending: Pending) -> dict:
    """The person consented: the auth token it asked for, if its mission is still active."""
    agent = (pending.agent_iss, pending.agent_id)
    data = pending.request
    still_active(ctx, data["grant"].get("mission_s256"), data["caps"])
    return mint_auth_token(ctx, data["grant"], data["caps"], agent=agent, person=data.get("person"))


#: What an approved request of each kind mints (see :func:`.deferred.defer`).
COMPLETIONS = {"person_token": _complete_person_token, "auth_token": _complete_auth_token}


def routes(ctx: Context) -> list[Route]:
    async def person_token_endpoint(request: Request) -> Response:
        message, verified = await agent_request(ctx, request)
        agent_token = verified.token
        agent = (agent_token.iss, agent_token.sub)
        body = require_json_object(message.body)
        resource = body.get("resource")
        try:
            check_server_identifier(resource, dev=ctx.dev)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"resource: {error.detail}") from None
        caps, mission, person = [agent_token.exp], None, None
        if "mission_s256" in body:  # -11 "Person Token Endpoint": the agent's own mission
            mission = active_mission(ctx, body["mission_s256"], caps, agent=agent)
        if "upstream_token" in body:
            upstream, person = await verify_upstream(ctx, body["upstream_token"], agent_token)
            caps.append(upstream.exp)
            if mission is None and upstream.mission_s256 is not None:  # copied down the chain
                mission = active_mission(ctx, upstream.mission_s256, caps)
        else:
            person = _bound_person(ctx, agent_token)
        key, subagent_caps = await subagents.bound_key(
            ctx, body, agent_token, verified.key
        )  # -11 "Sub-Agents"
        caps += subagent_caps
        jwk = key.public_jwk(kid=False)
        mission_s256 = mission.s256 if mission is not None else None
        justification = optional_string(body, "justification")
        interactive = can_interact(body, mission=mission)
        hints = agent_hints(body)  # -11 "Agent Token Request"
        if person is None:  # nobody stands behind this agent yet: a person must claim it
            reachable(interactive)
            request_data = {
                "agent_ap": agent_token.iss,
                "cnf_jwk": jwk,
                "caps": caps,
                "mission_s256": mission_s256,
                **hints,
                **await _resource_info(ctx, resource),
            }
            return await defer(
                ctx,
                message,
                "person_token",
                agent,
                verified,
                request_data,
                resource=resource,
                justification=justification,
            )
        result = mint_person_token(ctx, person, resource, jwk, caps, agent=agent, mission_s256=mission_s256)
        return token_response(result)

    async def auth_token_endpoint(request: Request) -> Response:
        message, verified = await agent_request(ctx, request)
        agent_token = verified.token
        agent = (agent_token.iss, agent_token.sub)
        body = require_json_object(message.body)
        for name in ("resource_token", "presented_token"):
            if name not in body:
                raise AAuthError("invalid_request", f"{name} is required")
        if federation.addressed_to_access_server(ctx, body):  # -11 "PS-AS Federation": four-party
            return await federation.auth_token(ctx, message, verified, body)
        justification = optional_string(body, "justification")
        hints = agent_hints(body)  # -11 "Agent Token Request"
        key, subagent_caps = await subagents.bound_key(
            ctx, body, agent_token, verified.key
        )  # -11 "Sub-Agents"
        # the resource token is for this PS, names it as ps and binds the signing key
        resource_token = await verify_parameter(
            ctx,
            body["resource_token"],
            "resource",
            typ=claims.RESOURCE_TYP,
            expected_aud=ctx.identifier,
            expected_ps=ctx.identifier,
            signing_key_jwk=key,
        )
        # ... and points back at the presented token, verified as if addressed to the resource
        presented, person = await verify_presented(ctx, body["presented_token"], resource_token)
        caps, mission = [agent_token.exp, presented.exp, *subagent_caps], None
        if presented.mission_s256 is not None:  # the mission is active (and caps exp)
            mission = active_mission(ctx, presented.mission_s256, caps)
        interactive = can_interact(body, mission=mission)
        upstream = await same_person_upstream(ctx, body, agent_token, person)
        if upstream is not None:
            caps.append(upstream.exp)
        grant = {
            "resource": resource_token.iss,
            "sub": resource_token.sub,
            "scope": resource_token.scope,
            "cnf_jwk": key.public_jwk(kid=False),
            "account": resource_token.account,
            "mission_s256": resource_token.mission_s256,
            "tenant": resource_token.tenant,
        }
        resource_interaction = await checked_interaction(ctx, resource_token)  # the resource asks first
        if resource_interaction is None and not ctx.policy.needs_consent(resource_token.scope):
            return token_response(mint_auth_token(ctx, grant, caps, agent=agent, person=person))
        reachable(interactive)
        request_data = {
            "grant": grant,
            "caps": caps,
            "person": person,
            "resource_interaction": resource_interaction,
            **hints,
            **await _resource_info(ctx, grant["resource"]),
        }
        return await defer(
            ctx,
            message,
            "auth_token",
            agent,
            verified,
            request_data,
            resource=resource_token.iss,
            scope=resource_token.scope,
            justification=justification,
        )

    return [
        Route("/person-token", person_token_endpoint, methods=["POST"]),
        Route("/auth-token", auth_token_endpoint, methods=["POST"]),
    ]
