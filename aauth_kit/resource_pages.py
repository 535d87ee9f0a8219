"""The resource's own interaction page (-11 "Resource-Managed Authorization", "User
Interaction", "Resource-Initiated Interaction"): ``GET /interaction?code=…[&callback=…]``.

The person signs in at the resource first (:mod:`aauth_kit.resource_login`: the code is only a
correlation identifier, and the agent holds it): a browser without a session gets the
sign-in form, which posts to ``/sign-in`` and comes back to the same link.  Signed in, the
person redeems the code and sees which agent asks for which scope, with Approve and Deny;
the form posts back to ``/interaction``.  A decision needs the session, the form's CSRF token
bound to that session and that request, and the signed-in person being the person the request
was made for (else ``403 forbidden``, and the request stays pending).  A resource without
persons refuses every decision (``403``): it cannot tell who is deciding.

"The code parameter is single-use": redeeming it spends it, so a second visit (or an unknown
code) is ``410 invalid_code``; so is the code of a request that expired, and the page says it
expired (the agent's poll says ``408 expired``).  An answer posted after the request expired is
``408 expired`` and decides nothing (:meth:`HeldInvocations.decide`).  Every code a signed-in
person cannot use counts toward their wrong-code throttle (-11 "Interaction Code Format": rate
limited), another person's too.  A person signed in as someone else is asked to sign in as
the right person, and the code stays unspent.  The consent page carries a sign-out form:
``POST /sign-out`` with its CSRF token (bound to the session) ends the session at the resource
and drops its cookie (OWASP ASVS level 2 V3.3.1; -11 is silent on it).  A cross-origin post is
refused (:func:`asgi.check_origin`).  With a ``callback`` (an https URL, checked, kept with the
request) the browser goes back there after answering, with ``?error=access_denied`` on a
denial and ``?error=interaction_expired`` after the request expired (-11 "Interaction Callback Errors"); without one the page says what happened.  Pages
are never framed or cached and carry no script; forms post to relative URLs (the pages work
under a proxy's prefix).
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import sign_in_pages as pages
from .asgi import check_origin
from .errors import AAuthError
from .identifiers import check_url
from .interaction import callback_error_for
from .resource_held import INTERACTION_PATH, HeldInvocations
from .resource_login import (
    SESSION_COOKIE,
    PersonSession,
    clear_cookie,
)
from .sign_in_pages import SIGN_IN_PATH, page, read_form

SIGN_OUT_PATH = "/sign-out"


def _callback(value: str | None, dev: bool) -> str | None:
    if value is None:
        return None
    try:
        return check_url(value, what="the callback", dev=dev, query=True)
    except AAuthError as error:
        raise AAuthError("invalid_request", error.detail) from None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def _local(target) -> str:
    """Where a sign-in may send the browser next: this resource's interaction page only."""
    if isinstance(target, str) and (target == INTERACTION_PATH or target.startswith(f"{INTERACTION_PATH}?")):
        return target
    return INTERACTION_PATH


def _invalid_code(why: str) -> HTMLResponse:
    """``410 invalid_code`` (-11 "Interaction Code Format"), saying why."""
    error = AAuthError("invalid_code", why)
    return page("Code not valid", f"<p>{escape(error.detail)}</p>", error.status)


def _may_decide(held, session: PersonSession) -> bool:
    """The person behind the request (a person or auth token's ``(iss, sub)``), or anyone signed
    in when an agent token alone made it."""
    return held.caller.person is None or tuple(held.caller.person) == session.person


def routes(held: HeldInvocations) -> list[Route]:
    resource = held.resource
    login = resource.login

    who = resource.name or resource.identifier

    def sign_in_page(request: Request, target: str, **shown):
        return pages.sign_in_page(login, request, target, who, **shown)

    async def interaction_page(request: Request) -> Response:
        callback = _callback(request.query_params.get("callback"), resource.dev)
        if login.sign_in is None:
            why = "This resource signs nobody in, so it cannot tell who you are: it takes no decision here."
            return page("No decision here", f"<p>{why}</p>", 403)
        signed_in = login.session(request)
        target = f"{INTERACTION_PATH}?{request.url.query}"
        if signed_in is None:
            return sign_in_page(request, target)
        token, session = signed_in
        try:
            login.wrong_codes.check(session.username)
        except AAuthError as error:
            wait = str(error.members["retry_after"])
            return page(
                "Too many codes", f"<p>Try again in {wait} s.</p>", 429, headers={"retry-after": wait}
            )
        row = held.by_code(request.query_params.get("code", ""))
        if row is None or row.arrived or row.expires_at <= resource.clock() or not _may_decide(row, session):
            login.wrong_codes.fail(session.username)  # every code this person cannot use counts
        if row is not None and row.expires_at <= resource.clock():
            return _invalid_code("this request expired: the agent can ask again")
        if row is None or row.arrived:
            return _invalid_code("this code is unknown or was used already")
        if not _may_decide(row, session):  # the code stays unspent for the right person
            error = f"You are signed in as {session.username}; this request is for another person: sign in as them."
            return sign_in_page(request, target, error=error, status=403)
        row.arrived, row.callback = True, callback
        agent = row.caller.agent or f"with key {row.caller.jkt[:12]}…, acting for you,"
        hidden = (
            f'<input type="hidden" name="interaction" value="{escape(row.id)}">'
            f'<input type="hidden" name="csrf" value="{escape(login.form_token("decide", token, row.id))}">'
        )
        sign_out = (
            f'<form method="post" action="{SIGN_OUT_PATH.lstrip("/")}">'
            f'<input type="hidden" name="csrf" value="{escape(login.form_token("sign-out", token))}">'
            '<button type="submit">Sign out</button></form>'
        )
        body = (
            f"<p>Signed in as {escape(session.username)}.</p>{sign_out}"
            f"<p>The agent <b>{escape(agent)}</b> asks {escape(resource.name or resource.identifier)} "
            f"for <code>{escape(row.scope)}</code>.</p>"
            f'<form method="post" action="{INTERACTION_PATH.lstrip("/")}">{hidden}'
            '<button name="decision" value="approve">Approve</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        extra = (_origin(callback),) if callback is not None else ()
        return page("Allow this agent?", body, form_action=extra)

    async def sign_out(request: Request) -> Response:
        """The signed-in person ends their session: same origin, the form's CSRF token (bound to
        the session) else ``403 forbidden``; without a live session there is nothing to end."""
        check_origin(request, resource.identifier)
        form = await read_form(request)
        signed_in = login.session(request)
        if signed_in is not None:
            login.check_form(form, "sign-out", signed_in[0])
            login.end(signed_in[0])
        response = page("Signed out", "<p>You are signed out. You can close this page.</p>")
        clear_cookie(response, request, SESSION_COOKIE)
        return response

    async def interaction_decision(request: Request) -> Response:
        check_origin(request, resource.identifier)
        form = await read_form(request)
        signed_in = login.session(request)
        if signed_in is None:
            raise AAuthError("forbidden", "sign in first: only the person decides, not the code", status=403)
        token, session = signed_in
        row = held.deciding(form.get("interaction", ""))
        if row is None or form.get("decision") not in ("approve", "deny"):
            raise AAuthError("invalid_request", "no such interaction, or it was answered already")
        login.check_form(form, "decide", token, row.id)
        if not _may_decide(row, session):
            raise AAuthError("forbidden", "this request was made for another person", status=403)
        approve = form["decision"] == "approve"
        failed = None if approve else "denied"
        try:
            held.decide(row, approve)
        except AAuthError as error:  # it expired while the page was open
            if error.code != "expired":
                raise
            if row.callback is None:
                said = (
                    "This request expired before your answer: nothing was decided. The agent can ask again."
                )
                return page("Request expired", f"<p>{said}</p>", error.status)
            failed = "expired"
        if row.callback is not None:  # -11 "Interaction Callback Errors" on a failure
            callback = row.callback
            if failed is not None:
                callback = f"{callback}{'&' if '?' in callback else '?'}error={callback_error_for(failed)}"
            return RedirectResponse(callback, status_code=303)
        outcome = "approved: the agent can go on" if approve else "denied"
        return page("Done", f"<p>You {outcome}. You can close this page.</p>")

    return [
        Route(INTERACTION_PATH, interaction_page, methods=["GET"]),
        Route(INTERACTION_PATH, interaction_decision, methods=["POST"]),
        Route(
            SIGN_IN_PATH, pages.sign_in_endpoint(login, resource.identifier, who, _local), methods=["POST"]
        ),
        Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
    ]
