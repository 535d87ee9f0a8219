"""Missions at the Person Server (-11 "Mission").

``POST /mission`` ``{"description", "tools"?, "resources"?}``, signed with the agent token,
always waits for the person (``202`` and the consent page, like a consent request; the
scope-based consent policy has nothing to say about a mission); once approved, the poll
answers ``200 {"s256", "mission"}`` — the blob ``{agent, approved_at, description,
expires_at?, approved_tools?, approved_resources?}`` base64url-encoded, its exact bytes stored
under their SHA-256 (-11 "Mission Approval"), with the ``capabilities`` the PS can provide for
the person now (kept with the mission: a token request within it that declares none has them,
-11 "Agent Token Request") and, when the proposal named resources, ``person_tokens``: one person token per
approved resource, carrying ``mission_s256`` and bound to the proposing agent's key.  ``POST /mission/{mission_s256}`` ``{"action":
"update", "description"}`` stores the update's exact bytes and answers ``200 {"s256"}``
(-11 "Mission Update"); ``{"action": "completion", "summary"}`` is a proposal the person reviews
(-11 "Mission Completion"): ``202`` and the consent page showing the summary; only the person's
acceptance terminates the mission (reason ``completed``; the poll answers ``200``), a follow-up
question (-11 "Clarification Chat") or a decline leaves it active (the poll answers ``403
denied``).  The person lists their missions with ``GET
/missions`` and ends one with ``POST /missions/{mission_s256}/revoke`` (reason ``revoked``;
-11 "Mission Management").  A token request naming a mission needs it active — else ``404
mission_not_found`` / ``403 mission_terminated`` (-11 "Mission Status Errors") — and the
tokens' ``exp`` is capped at the mission's ``expires_at`` (set when ``mission_lifetime`` is).
An agent holds at most ``Caps.missions_per_agent`` missions, active and proposed together
(one more proposal is ``429 rate_limited`` with ``Retry-After``; :class:`~.context.Caps`).
"""

from __future__ import annotations

import contextlib
import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.keys import b64url
from aauth_kit.message import HttpMessage, require_json_object
from aauth_kit.profile import VerifiedRequest

from .context import Context, iso, over_cap
from .deferred import defer
from .minting import mint_person_token
from .persons import person
from .store.missions import Mission, mission_s256
from .store.pending import Pending
from .verification import agent_request

#: The longest mission description or completion summary (Markdown) the PS takes.
MAX_MISSION_TEXT = 20_000
#: A ``mission_s256``: base64url, no padding, of a SHA-256 (43 characters).
MISSION_S256 = re.compile(r"[A-Za-z0-9_-]{43}")


def _markdown(body: dict, name: str) -> str:
    """A mission's ``description`` or ``summary``: non-empty Markdown of bounded length."""
    text = body.get(name)
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MISSION_TEXT:
        raise AAuthError(
            "invalid_request", f"{name} must be Markdown text of at most {MAX_MISSION_TEXT} characters"
        )
    return text


def _segment(request: Request) -> str:
    s256 = request.path_params["mission_s256"]
    if not MISSION_S256.fullmatch(s256):
        raise AAuthError("invalid_request", "the path segment must be a mission_s256 (base64url SHA-256)")
    return s256


def _tools(tools) -> list[dict] | None:
    """-11 "Mission Creation" ``tools``: ``[{"name", "description"}]`` of non-empty strings
    (absent: ``None``)."""
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(
        isinstance(t, dict)
        and set(t) == {"name", "description"}
        and all(isinstance(v, str) and v.strip() and len(v) <= MAX_MISSION_TEXT for v in t.values())
        for t in tools
    ):
        raise AAuthError("invalid_request", 'tools must be an array of {"name", "description"} strings')
    return tools


def _resources(resources, *, dev: bool) -> list[str] | None:
    """-11 "Mission Creation" ``resources``: an array of resource identifiers (absent: ``None``)."""
    if resources is None:
        return None
    if not isinstance(resources, list):
        raise AAuthError("invalid_request", "resources must be an array of resource identifiers")
    for resource in resources:
        try:
            check_server_identifier(resource, dev=dev)
        except AAuthError as error:
            raise AAuthError("invalid_request", f"resources: {error.detail}") from None
    return resources


def room_for_mission(ctx: Context, agent: tuple[str, str]) -> None:
    """``429 rate_limited`` when ``agent`` holds ``Caps.missions_per_agent`` missions, active
    or proposed (waiting for the person); ``Retry-After`` is when the first of them ends by
    itself.  -11 is silent on a cap: OWASP ASVS level 2 V11.1.4 (see :class:`~.context.Caps`)."""
    active = ctx.store.active_missions(agent=agent)
    proposed = ctx.store.live_pending(agent=agent, kind="mission")
    if len(active) + len(proposed) >= ctx.config.caps.missions_per_agent:
        ends = [m.expires_at for m in active if m.expires_at is not None] + [p.expires_at for p in proposed]
        raise over_cap("missions of this agent", ends, ctx.clock())


def approve(ctx: Context, pending: Pending) -> dict:
    """The approval response of -11 "Mission Approval": the blob's bytes are made once, stored
    verbatim, and ``s256`` is their SHA-256.  Identical bytes are the same mission (a concurrent
    poll finds it stored); if that mission has ended, ``approved_at`` moves on a second."""
    data = pending.request
    capabilities = _reachable_capabilities(ctx, pending.decided_by)
    for bump in range(100):
        approved_at = int(pending.decided_at) + bump
        blob = {
            "agent": pending.agent_id,
            "approved_at": iso(approved_at),
            "description": data["description"],
        }
        expires_at = approved_at + ctx.config.mission_lifetime if ctx.config.mission_lifetime else None
        if expires_at is not None:
            blob["expires_at"] = iso(expires_at)
        if data.get("tools") is not None:
            blob["approved_tools"] = data["tools"]
        if data.get("resources") is not None:
            blob["approved_resources"] = data["resources"]
        raw = json.dumps(blob, separators=(",", ":"), ensure_ascii=False).encode()
        mission = ctx.store.get_mission(mission_s256(raw))
        if mission is None:
            with contextlib.suppress(AAuthError):
                mission = ctx.store.add_mission(
                    raw,
                    agent_id=pending.agent_id,
                    agent_iss=pending.agent_iss,
                    username=pending.decided_by,
                    expires_at=expires_at,
                    capabilities=capabilities,
                )
                ctx.store.audit(
                    pending.decided_by,
                    "mission_issued",
                    pending.agent_id,
                    {"mission_s256": mission.s256, "pending_id": pending.id},
                )
            mission = mission or ctx.store.get_mission(mission_s256(raw))
        if mission.status == "active" and (mission.agent_iss, mission.agent_id) == (
            pending.agent_iss,
            pending.agent_id,
        ):
            return _approval(ctx, pending, mission)
    raise AAuthError("server_error", "could not store the mission")


def _reachable_capabilities(ctx: Context, username: str) -> list[str]:
    """-11 "Mission Approval" ``capabilities``: "The PS determines these based on whether it can
    currently reach the person" — the kit's channel is an active session at the PS, through
    which it relays interactions and payments (the interaction endpoint).  Stored with the
    mission: within it a request that declares no capabilities has these (-11 "Agent Token
    Request")."""
    return ["interaction", "payment"] if ctx.store.has_session(username) else []


def _approval(ctx: Context, pending: Pending, mission: Mission) -> dict:
    """-11 "Mission Approval" response members: ``capabilities`` as captured at approval
    (:func:`_reachable_capabilities`).  ``person_tokens``: "Present when the proposal named
    resources", each "carrying mission_s256 set to s256"; "A PS MAY omit a resource it
    declines to issue for" — here one whose token could not be minted (the agent token expired
    meanwhile)."""
    answer = {
        "s256": mission.s256,
        "mission": b64url(mission.blob),
        "capabilities": list(mission.capabilities or ()),
    }
    resources = pending.request.get("resources")
    if resources is not None:
        agent, issued = (pending.agent_iss, pending.agent_id), {}
        for resource in dict.fromkeys(resources):
            caps = list(pending.request["caps"])
            with contextlib.suppress(AAuthError):
                active_mission(ctx, mission.s256, caps)  # its expires_at caps the token's exp
                jwk = pending.request["cnf_jwk"]
                token = mint_person_token(
                    ctx, mission.username, resource, jwk, caps, agent=agent, mission_s256=mission.s256
                )
                issued[resource] = token["person_token"]
        answer["person_tokens"] = issued
    return answer


async def propose_completion(
    ctx: Context, message: HttpMessage, verified: VerifiedRequest, s256: str, summary: str
) -> Response:
    """-11 "Mission Completion": "The PS presents the summary to the person, returning a deferred
    response while they review."  Only the person who approved the mission reviews it.

    The draft names two outcomes: acceptance, and follow-up questions through the clarification
    chat (-11 "Clarification Chat"), the mission left active — the person asks from the consent page, the
    agent's poll carries the question and its answer comes back to the page
    (:mod:`.clarification`), the mission active all along.  It defines no plain refusal; so the
    person's Deny (or Not now) stands for "not yet": the poll answers the deferred response's
    own ``403 denied`` (``abandoned``; -11 "Polling Error Codes") and the mission stays active —
    the kit's reading where the draft is silent."""
    agent = (verified.token.iss, verified.token.sub)
    mission = active_mission(ctx, s256, agent=agent)
    request_data = {
        "agent_ap": verified.token.iss,
        "person": mission.username,
        "mission_s256": mission.s256,
        "description": json.loads(mission.blob).get("description"),
        "summary": summary,
    }
    return await defer(ctx, message, "mission_completion", agent, verified, request_data)


def accept_completion(ctx: Context, pending: Pending) -> None:
    """The person accepted the completion: "the PS terminates the mission with reason completed"
    (-11 "Mission Completion") — unless it has ended meanwhile (revoked, or past its
    ``expires_at``), which the agent's poll then reports."""
    data = pending.request
    mission = ctx.store.get_mission(data["mission_s256"])
    if mission is None or _expire_if_due(ctx, mission).status != "active":
        return
    with contextlib.suppress(AAuthError):  # a concurrent request ended it first
        ctx.store.terminate_mission(mission.s256, "completed", summary=data["summary"])
        ctx.store.audit(
            pending.decided_by,
            "mission_completed",
            pending.agent_id,
            {"mission_s256": mission.s256, "pending_id": pending.id},
        )


def completion_answer(ctx: Context, pending: Pending) -> dict:
    """The poll's ``200`` once the person accepted: the mission terminated with reason
    ``completed``; a mission that ended otherwise is ``403 mission_terminated`` (-11 "Mission
    Status Errors")."""
    mission = ctx.store.get_mission(pending.request["mission_s256"])
    if mission.termination_reason != "completed":
        raise AAuthError(
            "mission_terminated",
            f"the mission has ended ({mission.termination_reason})",
            mission_status=mission.status,
            termination_reason=mission.termination_reason,
        )
    return {"mission_status": mission.status, "termination_reason": mission.termination_reason}


def still_active(ctx: Context, s256: str | None, caps: list[int] | None = None) -> None:
    """A request that waited under a mission gets its answer only while the mission is active:
    the person may have revoked it, or it expired, meanwhile (-11 "Mission Status Errors":
    ``403 mission_terminated`` at the poll).  A request under no mission passes."""
    if s256 is not None:
        active_mission(ctx, s256, caps)


def active_mission(
    ctx: Context, s256, caps: list[int] | None = None, *, agent: tuple[str, str] | None = None
) -> Mission:
    """-11 "Mission Status Errors": ``s256`` names an active mission (of ``agent``, the agent
    token's ``(iss, sub)``, when given) — else ``404 mission_not_found``, the same whether absent or another agent's, or
    ``403 mission_terminated`` with ``mission_status`` and ``termination_reason``.  A mission
    past its ``expires_at`` is terminated (``expired``) here.  Its ``expires_at`` joins ``caps``."""
    if not isinstance(s256, str) or not MISSION_S256.fullmatch(s256):
        raise AAuthError("invalid_request", "mission_s256 must be a base64url SHA-256 (43 characters)")
    mission = ctx.store.get_mission(s256, agent=agent)
    if mission is None:
        raise AAuthError("mission_not_found", "no mission with this mission_s256 for this agent")
    mission = _expire_if_due(ctx, mission)
    if mission.status != "active":
        raise AAuthError(
            "mission_terminated",
            f"the mission has ended ({mission.termination_reason})",
            mission_status=mission.status,
            termination_reason=mission.termination_reason,
        )
    if caps is not None and mission.expires_at is not None:
        caps.append(int(mission.expires_at))
    return mission


def _expire_if_due(ctx: Context, mission: Mission) -> Mission:
    """An active mission past its ``expires_at`` is terminated (``expired``) when next seen."""
    if mission.status == "active" and mission.expires_at is not None and mission.expires_at <= ctx.clock():
        with contextlib.suppress(AAuthError):  # a concurrent request terminated it first
            ctx.store.terminate_mission(mission.s256, "expired")
            ctx.store.audit(
                ctx.identifier, "mission_expired", mission.agent_id, {"mission_s256": mission.s256}
            )
        mission = ctx.store.get_mission(mission.s256)
    return mission


def _end(ctx: Context, s256: str, change, *, agent: tuple[str, str] | None = None):
    """``change()`` an active mission; if a concurrent request ended it first, answer as for
    any dead mission."""
    active_mission(ctx, s256, agent=agent)
    try:
        return change()
    except AAuthError:
        active_mission(ctx, s256, agent=agent)
        raise


def _view(ctx: Context, mission: Mission) -> dict:
    document = json.loads(mission.blob)
    return {
        "s256": mission.s256,
        "agent": mission.agent_id,
        "description": document.get("description"),
        "approved_at": document.get("approved_at"),
        "status": mission.status,
        "termination_reason": mission.termination_reason,
        "expires_at": iso(mission.expires_at) if mission.expires_at is not None else None,
        "terminated_at": iso(mission.terminated_at) if mission.terminated_at is not None else None,
        "updates": [
            {"s256": u.s256, "at": iso(u.created_at), "description": json.loads(u.body).get("description")}
            for u in ctx.store.list_mission_updates(mission.s256)
        ],
    }


def routes(ctx: Context) -> list[Route]:
    async def mission_endpoint(request: Request) -> Response:
        """``POST /mission``: the person approves it on the consent page (``202`` + interaction
        code; a poll gets ``200 {"s256", "mission"}`` or ``403 denied``).  An agent bound to a
        person may be approved by that person only."""
        message, verified = await agent_request(ctx, request)
        agent_token = verified.token
        body = require_json_object(message.body)
        request_data = {
            "agent_ap": agent_token.iss,
            "description": _markdown(body, "description"),
            "tools": _tools(body.get("tools")),
            "resources": _resources(body.get("resources"), dev=ctx.dev),
            "cnf_jwk": verified.key.public_jwk(kid=False),  # the approval's person tokens bind it
            "caps": [agent_token.exp],
        }
        known = ctx.store.get_agent(agent_token.sub, ap_issuer=agent_token.iss)
        if known is not None and known.status == "approved":
            request_data["person"] = known.username  # only this person may approve
        agent = (agent_token.iss, agent_token.sub)
        return await defer(
            ctx, message, "mission", agent, verified, request_data, admit=lambda: room_for_mission(ctx, agent)
        )

    async def mission_action_endpoint(request: Request) -> Response:
        """``POST /mission/{mission_s256}``.  ``{"action": "update", "description"}``: the
        request body's exact bytes are persisted as the update — ``200 {"s256"}``, their
        SHA-256; the blob and ``mission_s256`` stay unchanged.  ``{"action": "completion",
        "summary"}``: ``202`` while the person reviews it (:func:`propose_completion`).
        A bad segment, action, description or summary is ``400 invalid_request``; an unknown
        mission or another agent's ``404 mission_not_found``; a terminated one ``403
        mission_terminated``."""
        message, verified = await agent_request(ctx, request)
        agent_id = verified.token.sub
        agent = (verified.token.iss, agent_id)
        s256 = _segment(request)
        body = require_json_object(message.body)
        if body.get("action") == "update":
            _markdown(body, "description")
            update = _end(ctx, s256, lambda: ctx.store.add_mission_update(s256, message.body), agent=agent)
            ctx.store.audit(
                agent_id, "mission_updated", agent_id, {"mission_s256": s256, "update_s256": update.s256}
            )
            return JSONResponse({"s256": update.s256})
        if body.get("action") != "completion":
            raise AAuthError("invalid_request", 'action must be "update" or "completion"')
        return await propose_completion(ctx, message, verified, s256, _markdown(body, "summary"))

    async def missions_endpoint(request: Request) -> Response:
        """``GET /missions``: the missions the signed-in person approved, with their state."""
        username = person(ctx, request)
        missions = ctx.store.list_missions(username=username)
        return JSONResponse([_view(ctx, _expire_if_due(ctx, m)) for m in missions])

    async def revoke_mission_endpoint(request: Request) -> Response:
        """``POST /missions/{mission_s256}/revoke``: the person ends one of their missions —
        terminated with reason ``revoked``, so the agent's next token request under it is
        ``403 mission_terminated``.  Another person's mission is ``404 mission_not_found``, as
        an unknown one; an ended one ``403 mission_terminated``."""
        username = person(ctx, request)
        s256 = _segment(request)
        if ctx.store.get_mission(s256, username=username) is None:
            raise AAuthError("mission_not_found", "you have no mission with this mission_s256")
        mission = _end(ctx, s256, lambda: ctx.store.terminate_mission(s256, "revoked"))
        ctx.store.audit(username, "mission_revoked", mission.agent_id, {"mission_s256": s256})
        return JSONResponse(_view(ctx, mission))

    return [
        Route("/mission", mission_endpoint, methods=["POST"]),
        Route("/mission/{mission_s256}", mission_action_endpoint, methods=["POST"]),
        Route("/missions", missions_endpoint),
        Route("/missions/{mission_s256}/revoke", revoke_mission_endpoint, methods=["POST"]),
    ]
