"""The PS's governance endpoints for what no resource governs (-11 "PS Governance Endpoints"):
``POST /permission`` (-11 "Permission Endpoint") and ``POST /audit`` (-11 "Audit Endpoint"),
and the mission log they feed (-11 "Mission Log"), which the person reads at ``GET
/missions/{mission_s256}/log``.  The interaction endpoint is :mod:`.interaction_endpoint`.

Every call is signed with the agent token; the agent is its ``(iss, sub)``.  A body that is
no JSON object, lacks ``action`` (or, for an audit record, ``mission_s256``) or carries a
member of the wrong type is ``400 invalid_request``; a ``mission_s256`` must name an active
mission of this agent — else ``404 mission_not_found`` or ``403 mission_terminated`` (-11
"Mission Status Errors") — when the request comes and again when its poll is answered.

A permission request for a tool the mission's ``approved_tools`` lists is granted at once
(``200 {"permission": "granted"}``); any other waits for the person (``202``, -11 "Deferred
Responses"), who sees the action, its description and parameters on the consent page; their
answer is the poll's ``200 {"permission": "granted" | "denied"}``.  When the person is
signed in at the PS, the PS reaches them itself (their inbox) and the ``202`` says
``requirement=approval``; otherwise it carries the interaction code for the agent to show.

The log of one mission holds at most ``Caps.log_per_mission`` entries; the agent's next
record past it is ``429 rate_limited`` (OWASP ASVS level 2 V11.1.4, :class:`~.context.Caps`).
The entries live in the PS's audit log, each naming the person it concerns, so ``GET
/audit`` shows a person the records of their missions too.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.message import require_json_object

from .context import Context, iso, over_cap
from .deferred import defer
from .missions import MAX_MISSION_TEXT, active_mission, still_active
from .persons import person
from .store.missions import Mission
from .store.pending import Pending
from .verification import agent_request

#: The longest ``action`` name (a tool name) the PS takes.
MAX_ACTION = 200


# -- the request members ------------------------------------------------------------------------
def action_of(body: dict) -> str:
    """``action`` (REQUIRED): a non-empty string naming the action (e.g. a tool name)."""
    action = body.get("action")
    if not isinstance(action, str) or not action.strip() or len(action) > MAX_ACTION:
        raise AAuthError("invalid_request", f"action must be a string of 1 to {MAX_ACTION} characters")
    return action


def text_of(body: dict, name: str) -> str | None:
    """An OPTIONAL Markdown member (``description``, ``question``): a string of bounded length."""
    text = body.get(name)
    if text is not None and (not isinstance(text, str) or len(text) > MAX_MISSION_TEXT):
        raise AAuthError(
            "invalid_request", f"{name} must be Markdown of at most {MAX_MISSION_TEXT} characters"
        )
    return text


def object_of(body: dict, name: str) -> dict | None:
    """An OPTIONAL JSON object member (``parameters``, ``result``)."""
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise AAuthError("invalid_request", f"{name} must be a JSON object")
    return value


def governed(ctx: Context, body: dict, agent: tuple[str, str], *, required: bool = False) -> Mission | None:
    """The active mission ``mission_s256`` names (of this agent), or ``None`` when absent."""
    if "mission_s256" not in body and not required:
        return None
    if "mission_s256" not in body:
        raise AAuthError("invalid_request", "mission_s256 is required: there is no audit outside a mission")
    mission = active_mission(ctx, body["mission_s256"], agent=agent)
    if ctx.store.mission_log_size(mission.s256) >= ctx.config.caps.log_per_mission:
        raise over_cap("entries in this mission's log", (), ctx.clock())
    return mission


def person_of(ctx: Context, mission: Mission | None, agent: tuple[str, str]) -> str | None:
    """Whom the agent's request concerns: the mission's person, else the person the agent is
    bound to (-11 "Agent-Person Binding"), else nobody yet."""
    if mission is not None:
        return mission.username
    known = ctx.store.get_agent(agent[1], ap_issuer=agent[0])
    return known.username if known is not None and known.status == "approved" else None


def reaches(ctx: Context, username: str | None) -> bool:
    """Can the PS reach the person itself?  The kit's channel is an active session at the PS
    (-11 "Mission Approval" names "push notification, email, or an active session")."""
    return username is not None and ctx.store.has_session(username)


def log(ctx: Context, agent_id: str, action: str, details: dict, username: str | None) -> None:
    """Append to the audit log about ``username``; with ``mission_s256`` the entry joins that
    mission's log (-11 "Mission Log")."""
    ctx.store.audit(
        agent_id, action, agent_id, {k: v for k, v in details.items() if v is not None}, person=username
    )


def pending_id_of(response: Response) -> str:
    return response.headers["location"].rsplit("/", 1)[1]


# -- -11 "Permission Endpoint" ----------------------------------------------------------------
def _pre_approved(mission: Mission | None, action: str) -> bool:
    """-11 "Permission Endpoint": the mission approval's ``approved_tools`` pre-approve a tool."""
    if mission is None:
        return False
    tools = json.loads(mission.blob).get("approved_tools") or []
    return any(isinstance(t, dict) and t.get("name") == action for t in tools)


def permission_answer(ctx: Context, pending: Pending) -> dict:
    """The poll's ``200`` once the person approved (-11 "Permission Response")."""
    return _answer(ctx, pending, {"permission": "granted"})


def permission_refusal(ctx: Context, pending: Pending) -> dict:
    """The poll's ``200`` once the person denied: ``denied`` with a ``reason``."""
    return _answer(ctx, pending, {"permission": "denied", "reason": "The person declined this action."})


def mission_still_active(ctx: Context, pending: Pending) -> None:
    """-11 "Permission Response", "Interaction Response": "If the mission is no longer active,
    the PS returns a mission status error" — at the poll too, for the person may have revoked
    the mission (or it expired) while the request waited: ``403 mission_terminated``."""
    still_active(ctx, pending.request.get("mission_s256"))


def _answer(ctx: Context, pending: Pending, answer: dict) -> dict:
    mission_still_active(ctx, pending)
    asked = pending.request
    details = {
        "pending_id": pending.id,
        "mission_s256": asked.get("mission_s256"),
        "action": asked["action"],
        **answer,
    }
    log(ctx, pending.agent_id, "permission_response", details, pending.request.get("person"))
    return answer


async def _reported(ctx: Context, request: Request, *members: str):
    """An agent's signed request to a governance endpoint: its message, verified signature,
    agent ``(iss, sub)``, body, and the record of what it reports (``action``, ``description``,
    ``parameters`` and the objects ``members``)."""
    message, verified = await agent_request(ctx, request)
    body = require_json_object(message.body)
    record = {
        "action": action_of(body),
        "description": text_of(body, "description"),
        **{name: object_of(body, name) for name in ("parameters", *members)},
    }
    return message, verified, (verified.token.iss, verified.token.sub), body, record


async def _permission(ctx: Context, request: Request) -> Response:
    message, verified, agent, body, record = await _reported(ctx, request)
    mission = governed(ctx, body, agent)
    record["mission_s256"] = mission.s256 if mission is not None else None
    username = person_of(ctx, mission, agent)
    if _pre_approved(mission, record["action"]):
        log(ctx, agent[1], "permission_request", record, username)
        log(ctx, agent[1], "permission_response", {**record, "permission": "granted"}, username)
        return JSONResponse({"permission": "granted"})
    request_data = {"agent_ap": agent[0], **record, "reached": reaches(ctx, username)}
    if username is not None:
        request_data["person"] = username  # only this person may answer
    response = await defer(ctx, message, "permission", agent, verified, request_data)
    log(ctx, agent[1], "permission_request", {**record, "pending_id": pending_id_of(response)}, username)
    return response


# -- -11 "Audit Endpoint" -----------------------------------------------------------------------
async def _audit(ctx: Context, request: Request) -> Response:
    _, _, agent, body, record = await _reported(ctx, request, "result")
    mission = governed(ctx, body, agent, required=True)
    log(ctx, agent[1], "audit_record", {"mission_s256": mission.s256, **record}, mission.username)
    return Response(status_code=201)


def _log_view(ctx: Context, mission: Mission) -> dict:
    return {
        "s256": mission.s256,
        "status": mission.status,
        "log": [
            {"seq": e.seq, "at": iso(e.ts), "actor": e.actor, "action": e.action, "details": e.details}
            for e in ctx.store.mission_log(mission.s256)
        ],
    }


def routes(ctx: Context) -> list[Route]:
    async def permission_endpoint(request: Request) -> Response:
        """``POST /permission`` ``{"action", "description"?, "parameters"?, "mission_s256"?}``."""
        return await _permission(ctx, request)

    async def audit_endpoint(request: Request) -> Response:
        """``POST /audit`` ``{"mission_s256", "action", "description"?, "parameters"?, "result"?}``:
        ``201 Created`` (-11 "Audit Response"); the person's ``GET /audit`` is :mod:`.persons`."""
        return await _audit(ctx, request)

    async def mission_log_endpoint(request: Request) -> Response:
        """``GET /missions/{mission_s256}/log``: the signed-in person's mission and its log, in
        order; another person's mission is ``404 mission_not_found``, as an unknown one."""
        username = person(ctx, request)
        mission = ctx.store.get_mission(request.path_params["mission_s256"], username=username)
        if mission is None:
            raise AAuthError("mission_not_found", "you have no mission with this mission_s256")
        return JSONResponse(_log_view(ctx, mission))

    return [
        Route("/permission", permission_endpoint, methods=["POST"]),
        Route("/audit", audit_endpoint, methods=["POST"]),
        Route("/missions/{mission_s256}/log", mission_log_endpoint),
    ]
