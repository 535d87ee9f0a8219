"""The Person Server's Agent Provider role: it issues ``aa-agent+jwt`` to agents bound to
persons (-11 "Agent Token Acquisition"; the mechanism is the provider's own).

* in process, :func:`issue_agent_token` (the lab's bootstrap);
* ``POST /agent/register`` ``{"local", "name"?}`` signed with a bare key (``hwk``): the key
  becomes the agent's, issued at once with ``auto_approve_agents`` (or for a known, approved
  key), else a person approves it on the consent page.  Registrations waiting for a person
  are capped per client address (the socket's peer) and in all (``Caps.registrations_per_client``,
  ``Caps.pending_registrations``): one more is ``429 rate_limited`` with ``Retry-After``;
* ``POST /agent/rotate``, signed twice (:func:`aauth_kit.rotation.sign_key_rotation`): by the
  current key with its agent token and by the new key (``hwk``); the agent gets an agent
  token with the same ``sub`` binding the new key (-11 "Agent Token Structure": ``sub`` is
  stable across key rotations), and the old token is revoked here, with the requests the old
  key left pending (they answer ``403 revoked``).

Every agent token names in ``ps`` the Person Server the agent's person chose
(:mod:`.chosen_ps`), this one until they choose another.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit import claims
from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.identifiers import check_agent_identifier
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.rotation import NEW_KEY_LABEL

from .chosen_ps import person_server_for
from .context import Context, over_cap
from .deferred import can_interact, defer, reachable
from .minting import AGENT_TOKEN_LIFETIME, mint_agent_token, token_response
from .store.pending import Pending
from .token_endpoints import optional_string
from .verification import signed_request, verify


def agent_id(ctx: Context, local: str) -> str:
    """``aauth:{local}@{host}`` (-11 "Agent Identifiers"); a bad ``local`` is ``invalid_request``."""
    try:
        return check_agent_identifier(f"aauth:{local}@{ctx.host}", top_level=True)
    except AAuthError as error:
        raise AAuthError("invalid_request", f"local: {error.detail}") from None


def issue_agent_token(
    ctx: Context, local: str, agent_key: Key | dict, *, person: str, lifetime: int, name: str | None
) -> str:
    """Issue ``aauth:{local}@{host}`` an agent token binding ``agent_key`` and bind the agent
    to ``person`` (the lab's bootstrap)."""
    if ctx.store.get_user(person) is None:
        raise UsageError(f"no person {person!r} at this PS")
    agent = agent_id(ctx, local)
    public = agent_key if isinstance(agent_key, Key) else Key.from_jwk(agent_key, require_alg=True)
    ctx.store.upsert_agent(
        agent,
        ap_issuer=ctx.identifier,
        agent_jkt=public.thumbprint(),
        username=person,
        status="approved",
        name=name,
    )
    jwk = public.public_jwk(kid=False)
    ps = person_server_for(ctx, agent)
    issued = mint_agent_token(ctx, agent, jwk, lifetime=lifetime, actor=person, person=person, ps=ps)
    return issued["agent_token"]


def _complete_approval(ctx: Context, pending: Pending) -> dict:
    """A person approved a registered agent: its agent token."""
    jwk = pending.request["cnf_jwk"]
    by = pending.decided_by
    ps = person_server_for(ctx, pending.agent_id)
    return mint_agent_token(
        ctx, pending.agent_id, jwk, lifetime=AGENT_TOKEN_LIFETIME, actor=by, person=by, ps=ps
    )


def room_for_registration(ctx: Context, client: str) -> None:
    """``429 rate_limited`` when ``Caps.registrations_per_client`` registrations from
    ``client`` (or ``Caps.pending_registrations`` from everyone) wait for a person;
    ``Retry-After`` is when the first of them expires.  Anybody may register, so this bounds
    what strangers leave on the consent queue; -11 leaves registration to the Agent Provider
    and is silent on it: OWASP ASVS level 2 V11.1.4 (see :class:`~.context.Caps`).  Behind a
    reverse proxy every client has the proxy's address: the total cap still holds."""
    caps, now = ctx.config.caps, ctx.clock()
    mine = ctx.store.live_pending(kind="agent_approval", client=client)
    if len(mine) >= caps.registrations_per_client:
        raise over_cap("registrations from this address wait for approval", (p.expires_at for p in mine), now)
    everyone = ctx.store.live_pending(kind="agent_approval")
    if len(everyone) >= caps.pending_registrations:
        raise over_cap("registrations wait for approval", (p.expires_at for p in everyone), now)


#: What an approved request of each kind mints (see :func:`.deferred.defer`).
COMPLETIONS = {"agent_approval": _complete_approval}


def routes(ctx: Context) -> list[Route]:
    async def register_endpoint(request: Request) -> Response:
        """``{"local", "name"?}`` signed with ``hwk``: see the module doc."""
        message, verified = await signed_request(ctx, request, schemes=("hwk",))
        body = require_json_object(message.body)
        if not isinstance(body.get("local"), str):
            raise AAuthError("invalid_request", "local (the agent's local name) is required")
        agent = agent_id(ctx, body["local"])
        name, interactive = optional_string(body, "name", limit=200), can_interact(body, undeclared=True)
        jwk, jkt = verified.key.public_jwk(kid=False), verified.key.thumbprint()
        known = ctx.store.get_agent(agent, ap_issuer=ctx.identifier)
        if known is not None and known.agent_jkt != jkt:
            raise AAuthError("conflict", f"{agent} is registered with another key")
        if ctx.config.auto_approve_agents or (known is not None and known.status == "approved"):
            ctx.store.upsert_agent(
                agent, ap_issuer=ctx.identifier, agent_jkt=jkt, status="approved", name=name
            )
            result = mint_agent_token(
                ctx,
                agent,
                jwk,
                lifetime=AGENT_TOKEN_LIFETIME,
                actor=ctx.identifier,
                ps=person_server_for(ctx, agent),
            )
            return token_response(result)
        reachable(interactive)
        client = request.client.host if request.client else "unknown"
        room_for_registration(ctx, client)  # before anything is stored
        ctx.store.upsert_agent(agent, ap_issuer=ctx.identifier, agent_jkt=jkt, name=name)
        request_data = {"agent_ap": ctx.identifier, "cnf_jwk": jwk, "client": client}
        return await defer(
            ctx,
            message,
            "agent_approval",
            (ctx.identifier, agent),
            verified,
            request_data,
            admit=lambda: room_for_registration(ctx, client),
        )

    async def rotate_endpoint(request: Request) -> Response:
        """``sig`` by the current key with the agent token this AP issued, ``new`` by the new
        key as ``hwk``: the agent keeps its identifier and its person; every agent token this
        AP issued to it (all bind the old key) is revoked; the answer is a new agent token binding the new key."""
        message, current = await signed_request(ctx, request, label="sig")
        new = await verify(ctx, message, schemes=("hwk",), label=NEW_KEY_LABEL)
        old_token, new_jkt = current.token, new.key.thumbprint()
        agent = ctx.store.get_agent(old_token.sub, ap_issuer=ctx.identifier)
        if (
            old_token.iss != ctx.identifier
            or agent is None
            or agent.status != "approved"
            or agent.agent_jkt != current.key.thumbprint()
        ):
            raise AAuthError(
                "forbidden", f"{old_token.sub} is no approved agent of this AP with this key", status=403
            )
        if new_jkt == agent.agent_jkt:
            raise AAuthError("invalid_request", "the new key is the current key")
        ctx.store.upsert_agent(agent.agent_id, ap_issuer=ctx.identifier, agent_jkt=new_jkt)
        # every agent token this AP gave the agent binds the old key: none outlives the rotation
        now = int(ctx.clock())
        for issued in ctx.store.list_tokens(agent_id=agent.agent_id, agent_iss=ctx.identifier):
            if issued.typ == claims.AGENT_TYP and issued.iss == ctx.identifier and issued.exp > now:
                ctx.store.revoke(issued.iss, issued.jti, issued.exp)
        ctx.store.revoke(old_token.iss, old_token.jti, old_token.exp)
        # what the old key asked for is nobody's to collect now: its polls answer 403 revoked
        retired = ctx.store.revoke_pending(
            agent.agent_id, agent_iss=ctx.identifier, agent_jkt=agent.agent_jkt
        )
        for pending_id in retired:
            ctx.waiters.notify(pending_id)
        ctx.store.audit(
            agent.agent_id,
            "agent_key_rotated",
            agent.agent_id,
            {
                "old_jkt": agent.agent_jkt,
                "new_jkt": new_jkt,
                "revoked_jti": old_token.jti,
                "revoked_pending": retired,
            },
        )
        jwk = new.key.public_jwk(kid=False)
        result = mint_agent_token(
            ctx,
            agent.agent_id,
            jwk,
            lifetime=AGENT_TOKEN_LIFETIME,
            actor=agent.agent_id,
            ps=person_server_for(ctx, agent.agent_id),
        )
        return token_response(result)

    return [
        Route("/agent/register", register_endpoint, methods=["POST"]),
        Route("/agent/rotate", rotate_endpoint, methods=["POST"]),
    ]
