"""The PS's interaction endpoint (-11 "Interaction Endpoint"): the agent reaches its person
through the PS.  ``POST /reach`` (the metadata's ``interaction_endpoint``), signed with the
agent token, ``{"type", "description"?, "url"?, "code"?, "max_wait"?, "question"?,
"mission_s256"?}``.

The kit's PS reaches a person through their active session here: the request waits in their
inbox (``GET /inbox``) and opens on the consent page by its code.  So:

* ``type`` ``interaction`` or ``payment`` (a relay: ``url`` and ``code`` to pass on): ``202``
  with ``requirement=approval`` while the person has not engaged; ``200 {"status":
  "relayed"}`` once they opened the relay and confirmed it; ``408 expired`` when ``max_wait``
  elapsed first.  With no active session there is no channel: ``424 interaction_unavailable``,
  and the agent directs the person to ``url``/``code`` itself (-11 "Interaction Endpoint
  Errors").
* ``type`` ``question``: ``202`` the same way, then ``200 {"answer"}`` with the person's
  answer (-11 "Interaction Response"); with no channel, "If the PS cannot reach the user and
  the agent does not have the interaction capability", the terminal ``403 user_unreachable``.
  The request carries no capabilities: within a mission they are those captured at its
  approval (-11 "Agent Token Request"), and with ``interaction`` among them the ``202`` carries
  ``requirement=interaction`` for the agent to bring its person to the consent page; outside a
  mission none is assumed (-11 "AAuth-Capabilities Request Header").

Declined by the person: ``403 denied``.  Within a mission, request and response join its log
(:mod:`.governance`).  The person answers a question on the consent page or at ``POST
/consent/{pending_id}/answer`` ``{"answer"}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_endpoint_url
from aauth_kit.interaction import format_code
from aauth_kit.message import require_json_object

from .consent import decide, get_pending
from .context import Context, iso
from .deferred import can_interact, defer
from .governance import governed, log, mission_still_active, pending_id_of, person_of, reaches, text_of
from .persons import json_body, person
from .store.pending import LIVE, Pending
from .verification import agent_request

#: -11 "Interaction Request": the types of interaction.
TYPES = ("interaction", "payment", "question")
#: The longest interaction code the PS relays.
MAX_CODE = 64


def _request(ctx: Context, body: dict) -> dict:
    """The request members, checked: ``400 invalid_request`` for a bad type or member, a relay
    without an https ``url``, a question without ``question``."""
    kind = body.get("type")
    if kind not in TYPES:
        raise AAuthError("invalid_request", f"type must be one of {', '.join(TYPES)}")
    record = {
        "type": kind,
        "description": text_of(body, "description"),
        "question": text_of(body, "question"),
        "url": body.get("url"),
        "code": body.get("code"),
        "max_wait": body.get("max_wait"),
    }
    if kind == "question":
        if not (record["question"] or "").strip():
            raise AAuthError("invalid_request", "a question needs its question")
        return record
    try:
        check_endpoint_url(record["url"], dev=ctx.dev)
    except AAuthError as error:
        raise AAuthError("invalid_request", f"url: {error.detail}") from None
    code = record["code"]
    if code is not None and (not isinstance(code, str) or not 0 < len(code) <= MAX_CODE):
        raise AAuthError("invalid_request", f"code must be a string of 1 to {MAX_CODE} characters")
    wait = record["max_wait"]
    if wait is not None and (not isinstance(wait, int) or isinstance(wait, bool) or wait <= 0):
        raise AAuthError("invalid_request", "max_wait must be a positive number of seconds")
    return record


def is_question(pending: Pending) -> bool:
    return pending.kind == "interaction" and pending.request.get("type") == "question"


def answer(ctx: Context, pending: Pending, text, by: str) -> Pending:
    """The person answers a question: the answer joins the log first, then the decision wakes
    the agent's poll, whose ``200`` carries it (:func:`interaction_answer`)."""
    if not is_question(pending):
        raise AAuthError("invalid_request", "this request asks no question")
    if pending.request.get("person") != by:
        raise AAuthError("forbidden", "this request asks another person", status=403)
    if pending.status not in LIVE:
        raise AAuthError("conflict", f"the question is already {pending.status}")
    if not isinstance(text, str) or not text.strip() or len(text) > 20_000:
        raise AAuthError("invalid_request", "the answer must be text of at most 20000 characters")
    details = {"pending_id": pending.id, "mission_s256": pending.request.get("mission_s256"), "answer": text}
    log(ctx, pending.agent_id, "interaction_response", details, by)
    return decide(ctx, pending, True, by)


def interaction_answer(ctx: Context, pending: Pending) -> dict:
    """The poll's ``200`` once the person answered or engaged (-11 "Interaction Response"), if
    its mission is still active."""
    mission_still_active(ctx, pending)
    if is_question(pending):
        return {"answer": ctx.store.audit_entry("interaction_response", pending.id).details["answer"]}
    details = {"pending_id": pending.id, "mission_s256": pending.request.get("mission_s256")}
    log(ctx, pending.agent_id, "interaction_response", {**details, "status": "relayed"}, pending.decided_by)
    return {"status": "relayed"}


async def _reach(ctx: Context, request: Request) -> Response:
    message, verified = await agent_request(ctx, request)
    agent = (verified.token.iss, verified.token.sub)
    body = require_json_object(message.body)
    record = _request(ctx, body)
    mission = governed(ctx, body, agent)
    record["mission_s256"] = mission.s256 if mission is not None else None
    username = person_of(ctx, mission, agent)
    reached = reaches(ctx, username)
    if not reached and record["type"] != "question":
        raise AAuthError("interaction_unavailable", "the PS has no channel to relay this to the person now")
    if not reached and not can_interact({}, mission=mission):
        raise AAuthError("user_unreachable", "the PS has no channel to the person, and the agent has none")
    request_data = {"agent_ap": agent[0], **record, "person": username, "reached": reached}
    response = await defer(
        ctx, message, "interaction", agent, verified, request_data, expires_in=record["max_wait"]
    )
    log(ctx, agent[1], "interaction_request", {**record, "pending_id": pending_id_of(response)}, username)
    return response


def routes(ctx: Context) -> list[Route]:
    async def interaction_endpoint(request: Request) -> Response:
        """``POST /reach``: see the module's description."""
        return await _reach(ctx, request)

    async def inbox_endpoint(request: Request) -> Response:
        """``GET /inbox``: the live requests that ask the signed-in person, oldest first, each
        with the consent page that opens it (the PS's own channel to the person)."""
        username = person(ctx, request)
        waiting = [p for p in ctx.store.live_pending() if p.request.get("person") == username]
        return JSONResponse(
            [
                {
                    "pending_id": p.id,
                    "kind": p.kind,
                    "agent": p.agent_id,
                    "code": format_code(p.code),
                    "consent_url": f"{ctx.identifier}/interaction?code={format_code(p.code)}",
                    "expires_at": iso(p.expires_at),
                }
                for p in waiting
            ]
        )

    async def answer_endpoint(request: Request) -> Response:
        """``POST /consent/{pending_id}/answer`` ``{"answer"}``: the person answers a question."""
        username = person(ctx, request)
        body = await json_body(request, "the answer")
        decided = answer(
            ctx, get_pending(ctx, request.path_params["pending_id"]), body.get("answer"), username
        )
        return JSONResponse({"status": decided.status})

    return [
        Route("/reach", interaction_endpoint, methods=["POST"]),
        Route("/inbox", inbox_endpoint),
        Route("/consent/{pending_id}/answer", answer_endpoint, methods=["POST"]),
    ]
