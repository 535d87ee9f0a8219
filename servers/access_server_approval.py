"""The Access Server's own approvals (-11 "AS Response"): a scope the resource owner approves at
the AS's interaction page (``202`` + ``requirement=interaction; url; code``, -11 "Interaction
Required") and a scope the AS decides without the user's direction (``202`` +
``requirement=approval``, -11 "Approval Pending"; :meth:`~.access_server.AccessServer.decide`
stands for the administrator's review).  The PS polls ``Location`` until the answer: the auth
token, ``403 denied`` or ``408 expired``.

The page, ``GET /interaction?code=…``: the owner signs in at the AS first (the code is "a
correlation identifier", "NOT an authorization credential", and the agent holds it: -11
"Interaction Code Format"), with the sign-in, sessions and CSRF tokens of
:mod:`aauth_kit.resource_login` (OWASP ASVS level 2 V3).  Signed in, the owner redeems the code
(single use; a wrong or spent code is ``410 invalid_code``, wrong codes are throttled per owner)
and sees which agent (its agent token's ``sub`` and ``iss``), through which PS, asks for which
scope, with Approve and Deny — only an owner of that resource (``resource_owners``; another
owner's page and decision are ``403``, the code unspent); the
decision needs the session and the form's CSRF token bound to it and the request.  A
cross-origin post is refused (:func:`aauth_kit.asgi.check_origin`); pages are never framed or
cached and carry no script.  An AS given no owners refuses every decision (``403``).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import sign_in_pages as pages
from aauth_kit.asgi import check_origin
from aauth_kit.errors import AAuthError
from aauth_kit.headers import serialize_requirement
from aauth_kit.interaction import codes_equal, format_code
from aauth_kit.sign_in_pages import SIGN_IN_PATH, page, read_form

if TYPE_CHECKING:
    from .access_server import AccessPolicy, AccessServer, TokenRequest

INTERACTION_PATH = "/interaction"
#: ``Retry-After`` of the AS's ``202`` while a person or an administrator decides.
RETRY_AFTER = 1


def requirement_for(policy: AccessPolicy, scope: str) -> str | None:
    """``interaction`` when a scope needs the resource owner, else ``approval`` when one needs the
    AS's own review, else ``None``."""
    scopes = set(scope.split())
    if scopes & policy.owner_approval:
        return "interaction"
    return "approval" if scopes & policy.approval else None


def pending_response(server: AccessServer, pending: TokenRequest, location: str) -> Response:
    """-11 "Pending Response": ``202`` with ``Location``, ``Retry-After``, ``Cache-Control:
    no-store`` and the requirement; ``status`` is ``interacting`` once the owner opened the page."""
    if pending.requirement == "interaction":
        url = f"{server.identifier}{INTERACTION_PATH}"
        requirement = serialize_requirement(
            "interaction", url=url, code=format_code(pending.code), dev=server.dev
        )
    else:
        requirement = serialize_requirement("approval")
    headers = {
        "Location": location,
        "Retry-After": str(RETRY_AFTER),
        "Cache-Control": "no-store",
        "AAuth-Requirement": requirement,
    }
    status = "interacting" if pending.arrived else "pending"
    return JSONResponse({"status": status}, 202, headers)


def _local(target) -> str:
    """Where a sign-in may send the browser next: this AS's interaction page only."""
    if isinstance(target, str) and target.startswith(f"{INTERACTION_PATH}?"):
        return target
    return INTERACTION_PATH


def _by_code(server: AccessServer, code: str) -> TokenRequest | None:
    now = server.clock()
    for pending in server.pending.values():
        if pending.code is not None and pending.expires_at > now and codes_equal(pending.code, code):
            return pending
    return None


def _owns(server: AccessServer, username: str, pending: TokenRequest) -> bool:
    """Whether ``username`` approves for the resource ``pending`` asks (-11 "AS Response": "the
    resource owner must approve access"; without ``resource_owners``, every owner here)."""
    owners = server.resource_owners
    return owners is None or pending.resource_token.iss in owners.get(username, ())


def routes(server: AccessServer) -> list[Route]:
    login = server.login

    def sign_in_page(request: Request, target: str, **shown):
        return pages.sign_in_page(login, request, target, server.name, **shown)

    async def interaction_page(request: Request) -> Response:
        if login.sign_in is None:
            return page("No decision here", "<p>This Access Server signs nobody in.</p>", 403)
        signed_in = login.session(request)
        if signed_in is None:
            return sign_in_page(request, f"{INTERACTION_PATH}?{request.url.query}")
        token, session = signed_in
        try:
            login.wrong_codes.check(session.username)
        except AAuthError as error:
            wait = str(error.members["retry_after"])
            return page(
                "Too many codes", f"<p>Try again in {wait} s.</p>", 429, headers={"retry-after": wait}
            )
        pending = _by_code(server, request.query_params.get("code", ""))
        if pending is None or pending.arrived:
            login.wrong_codes.fail(session.username)
            return page("Code not valid", "<p>This code is unknown or was used already.</p>", 410)
        if not _owns(server, session.username, pending):  # the code stays unspent for its owner
            return page("Not your resource", "<p>Another owner decides for this resource.</p>", 403)
        pending.arrived = True
        rt, (agent_iss, agent_sub) = pending.resource_token, pending.agent or ("", "")
        hidden = (
            f'<input type="hidden" name="request" value="{escape(pending.id)}">'
            f'<input type="hidden" name="csrf" value="{escape(login.form_token("decide", token, pending.id))}">'
        )
        body = (
            f"<p>Signed in as {escape(session.username)}.</p>"
            f"<p>The agent <b>{escape(agent_sub)}</b> of <b>{escape(agent_iss)}</b>, for a person at "
            f"<b>{escape(pending.ps)}</b>, asks <b>{escape(rt.iss)}</b> "
            f"for <code>{escape(rt.scope or '')}</code>.</p>"
            f'<form method="post" action="{INTERACTION_PATH.lstrip("/")}">{hidden}'
            '<button name="decision" value="approve">Approve</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        return page("Allow this agent?", body)

    async def interaction_decision(request: Request) -> Response:
        check_origin(request, server.identifier)
        form = await read_form(request)
        signed_in = login.session(request)
        if signed_in is None:
            raise AAuthError("forbidden", "sign in first: only the owner decides, not the code", status=403)
        token, session = signed_in
        pending = server.pending.get(form.get("request", ""))
        live = pending is not None and pending.arrived and pending.approved is None
        if (
            not live
            or pending.expires_at <= server.clock()
            or form.get("decision") not in ("approve", "deny")
        ):
            raise AAuthError("invalid_request", "no such request, or it was answered already")
        login.check_form(form, "decide", token, pending.id)
        if not _owns(server, session.username, pending):
            raise AAuthError("forbidden", "another owner decides for this resource", status=403)
        pending.approved, pending.decided_by = form["decision"] == "approve", session.username
        outcome = "approved: the agent can go on" if pending.approved else "denied"
        return page("Done", f"<p>You {outcome}. You can close this page.</p>")

    return [
        Route(INTERACTION_PATH, interaction_page, methods=["GET"]),
        Route(INTERACTION_PATH, interaction_decision, methods=["POST"]),
        Route(
            SIGN_IN_PATH,
            pages.sign_in_endpoint(login, server.identifier, server.name, _local),
            methods=["POST"],
        ),
    ]
