"""The person's decisions on pending requests (-11 "User Interaction"), and the consent REST
API that takes them: ``GET /consent?code=…`` shows who asks for what, ``POST
/consent/{pending_id}/decision`` ``{"approved", "callback"?}`` and ``…/abandon`` answer.

A decision is recorded once (a second is ``409 conflict``), binds the agent to the person
where the request asked for that, is audited and wakes the held polls.  With a ``callback``
the answer says where the browser goes back to the agent: plain on approval,
``?error=access_denied|user_abandoned`` otherwise (-11 "Interaction Callback Errors").
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_callback_url
from aauth_kit.interaction import callback_error_for, format_code

from .context import Context, iso
from .missions import accept_completion
from .persons import json_body, person
from .store.pending import Pending

#: What the consent page shows of a permission or interaction request.
ASKED = ("action", "type", "description", "parameters", "url", "code", "question", "mission_s256")


def redirect_url(callback: str, status: str) -> str:
    """Back to the agent: plain on approval, ``?error=access_denied|user_abandoned`` otherwise."""
    if status == "approved":
        return callback
    parts = urlsplit(callback)
    error = callback_error_for("denied" if status == "denied" else status)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("error", error)])
    return urlunsplit(parts._replace(query=query))


def _check_person(ctx: Context, pending: Pending, username: str) -> None:
    """A request bound to a person is the business of that person only; an agent bound to a
    person is never claimed by another (-11 "Agent-Person Binding": the binding must be
    revoked first)."""
    asked = pending.request.get("person") if isinstance(pending.request, dict) else None
    if asked is not None and asked != username:
        raise AAuthError("forbidden", "this request asks another person", status=403)
    if asked is None and pending.opened_by not in (None, username):
        raise AAuthError("forbidden", "another person opened this request's code", status=403)
    agent = ctx.store.get_agent(pending.agent_id, ap_issuer=pending.agent_iss)
    if agent is not None and agent.username not in (None, username):
        raise AAuthError("forbidden", "this agent is bound to another person", status=403)


def decide(ctx: Context, pending: Pending, approved: bool, by: str, *, abandon: bool = False) -> Pending:
    """Record the decision (atomic; a second one is ``409 conflict``), bind the agent where
    the decision says so, audit it and wake the held polls.  A request that asks nobody yet
    (an agent to claim, -11 "Agent-Person Binding") is decided by the person who redeemed its
    code only: the code is how the agent's person reaches it."""
    _check_person(ctx, pending, by)
    asked = pending.request.get("person") if isinstance(pending.request, dict) else None
    if asked is None and pending.opened_by is None:
        raise AAuthError("forbidden", "open the interaction code of this request first", status=403)
    if abandon:
        decided = ctx.store.abandon(pending.id, by)
    else:
        decided = ctx.store.decide(pending.id, approved, by)
    if decided.kind == "agent_approval":
        ctx.store.upsert_agent(
            decided.agent_id,
            ap_issuer=ctx.identifier,
            agent_jkt=decided.agent_jkt,
            username=by if approved and not abandon else None,
            status=None if abandon else "approved" if approved else "denied",
        )
    elif decided.kind == "person_token" and approved and not abandon:
        ctx.store.upsert_agent(
            decided.agent_id,
            ap_issuer=decided.agent_iss,
            agent_jkt=decided.agent_jkt,
            username=by,
            status="approved",
        )
    elif decided.kind == "mission_completion" and approved and not abandon:
        accept_completion(ctx, decided)  # only the person's acceptance terminates the mission
    outcome = "abandoned" if abandon else "approved" if approved else "denied"
    ctx.store.audit(
        by,
        f"{decided.kind}_{outcome}",
        decided.resource or decided.agent_id,
        {"pending_id": decided.id, "agent": decided.agent_id, "scope": decided.scope},
    )
    ctx.waiters.notify(decided.id)
    return decided


def consent_context(pending: Pending) -> dict:
    """The consent API's view of a pending request (the consent page shows the same)."""
    data = pending.request
    return {
        "pending_id": pending.id,
        "kind": pending.kind,
        "agent": pending.agent_id,
        "agent_name": data.get("agent_name"),
        "agent_provider": pending.agent_iss,
        "agent_provider_name": data.get("agent_provider_name"),
        "agent_jkt": pending.agent_jkt,
        "resource": pending.resource,
        "resource_name": data.get("resource_name"),
        "scope": pending.scope,
        "scope_descriptions": data.get("scope_descriptions") or {},
        "justification": pending.justification,
        "status": pending.status,
        "code": format_code(pending.code) if pending.code else None,
        "expires_at": iso(pending.expires_at),
        **(
            {"mission": {name: data.get(name) for name in ("description", "tools", "resources")}}
            if pending.kind == "mission"
            else {}
        ),
        # -11 "Mission Completion": the person reviews the summary against the mission
        **(
            {"completion": {name: data.get(name) for name in ("mission_s256", "description", "summary")}}
            if pending.kind == "mission_completion"
            else {}
        ),
        # -11 "Permission Request", "Interaction Request": what the agent asks of the person
        **(
            {"asked": {name: data[name] for name in ASKED if data.get(name) is not None}}
            if pending.kind in ("permission", "interaction")
            else {}
        ),
        # -11 "Account Binding": the person sees which of their accounts at the resource
        **({"account": data["grant"]["account"]} if (data.get("grant") or {}).get("account") else {}),
    }


def open_code(ctx: Context, code: str, username: str) -> Pending:
    """The person redeems the request's code: it becomes ``interacting``, opened by them
    (held polls keep waiting: only a decision wakes them).  -11 "Interaction Code Format": a
    code is single use — a second presentation, by anyone, is ``410 invalid_code`` — and
    code validation is rate limited: after ``wrong_codes`` unknown or used codes a person gets
    ``429 rate_limited`` with ``Retry-After`` (an unknown code names no pending interaction
    to fail, so the person is throttled instead)."""
    ctx.wrong_codes.check(username)
    pending = ctx.store.find_by_code(code) if isinstance(code, str) else None
    if pending is None:
        ctx.wrong_codes.fail(username)
        raise AAuthError("invalid_code", "this code is unknown, used or expired")
    if pending.status == "pending":
        _check_person(ctx, pending, username)
        try:
            return ctx.store.mark_interacting(pending.id, username)
        except AAuthError as error:
            if error.code != "conflict":
                raise
    ctx.wrong_codes.fail(username)
    raise AAuthError("invalid_code", "this code has been used already")


def get_pending(ctx: Context, pending_id) -> Pending:
    """The pending request a decision is about (``404 not_found`` if none)."""
    pending = ctx.store.get_pending(pending_id)
    if pending is None:
        raise AAuthError("not_found", "no such pending request")
    return pending


def _outcome(status: str, callback: str | None) -> dict:
    outcome = {"status": status}
    if callback is not None:
        outcome["redirect_url"] = redirect_url(callback, status)
    return outcome


def routes(ctx: Context) -> list[Route]:
    async def consent_endpoint(request: Request) -> Response:
        """``GET /consent?code=CODE`` → who asks for what; the request becomes ``interacting``."""
        username = person(ctx, request)
        code = request.query_params.get("code")
        if not code:
            raise AAuthError("invalid_request", "code is required: GET /consent?code=XXXX-XXXX")
        return JSONResponse(consent_context(open_code(ctx, code, username)))

    async def decision_request(request: Request) -> tuple[str, Pending, dict]:
        username = person(ctx, request)
        body = await json_body(request, "the decision")
        pending = get_pending(ctx, request.path_params["pending_id"])
        if body.get("callback") is not None:
            check_callback_url(body["callback"])
        return username, pending, body

    async def decision_endpoint(request: Request) -> Response:
        """``POST /consent/{pending_id}/decision`` ``{"approved": bool, "callback"?}``."""
        username, pending, body = await decision_request(request)
        if not isinstance(body.get("approved"), bool):
            raise AAuthError("invalid_request", 'send {"approved": true} or {"approved": false}')
        decided = decide(ctx, pending, body["approved"], username)
        return JSONResponse(_outcome(decided.status, body.get("callback")))

    async def abandon_endpoint(request: Request) -> Response:
        """``POST /consent/{pending_id}/abandon`` ``{"callback"?}``: the person walks away."""
        username, pending, body = await decision_request(request)
        decided = decide(ctx, pending, False, username, abandon=True)
        return JSONResponse(_outcome(decided.status, body.get("callback")))

    return [
        Route("/consent", consent_endpoint),
        Route("/consent/{pending_id}/decision", decision_endpoint, methods=["POST"]),
        Route("/consent/{pending_id}/abandon", abandon_endpoint, methods=["POST"]),
    ]
