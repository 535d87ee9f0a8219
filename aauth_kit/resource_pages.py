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

import secrets
from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .asgi import check_origin, content_security_policy
from .errors import AAuthError
from .identifiers import check_url
from .interaction import callback_error_for
from .resource_held import INTERACTION_PATH, HeldInvocations
from .resource_login import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    PersonSession,
    clear_cookie,
    read_cookie,
    set_cookie,
)

SIGN_IN_PATH = "/sign-in"
SIGN_OUT_PATH = "/sign-out"
_STYLE = "body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; }"
#: The largest form the pages post (a few short fields).
MAX_FORM = 2048


def _page(
    title: str, body: str, status: int = 200, *, form_action: tuple[str, ...] = (), headers=None
) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    policy = content_security_policy(styles=(_STYLE,), form_action=form_action)
    sent = {"content-security-policy": policy, "cache-control": "no-store", **(headers or {})}
    return HTMLResponse(html, status, headers=sent)


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


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise AAuthError("invalid_request", "the form is too large")
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _invalid_code(why: str) -> HTMLResponse:
    """``410 invalid_code`` (-11 "Interaction Code Format"), saying why."""
    error = AAuthError("invalid_code", why)
    return _page("Code not valid", f"<p>{escape(error.detail)}</p>", error.status)


def _may_decide(held, session: PersonSession) -> bool:
    """The person behind the request (a person or auth token's ``(iss, sub)``), or anyone signed
    in when an agent token alone made it."""
    return held.caller.person is None or tuple(held.caller.person) == session.person


def routes(held: HeldInvocations) -> list[Route]:
    resource = held.resource
    login = resource.login

    def sign_in_page(request: Request, target: str, *, error: str = "", status: int = 200, headers=None):
        """The sign-in form, its CSRF token bound to the browser's pre-session cookie (set here if new)."""
        pre = read_cookie(request, PRE_SESSION_COOKIE)
        new = pre is None
        pre = pre or secrets.token_urlsafe(32)
        said = f'<p role="alert">{escape(error)}</p>' if error else ""
        body = (
            f"<p>Sign in to {escape(resource.name or resource.identifier)} to answer an agent's request.</p>"
            f'{said}<form method="post" action="{SIGN_IN_PATH.lstrip("/")}">'
            f'<input type="hidden" name="next" value="{escape(target)}">'
            f'<input type="hidden" name="csrf" value="{escape(login.form_token("sign-in", pre))}">'
            '<label>Username <input type="text" name="username" autocomplete="username" required></label> '
            '<label>Password <input type="password" name="password" autocomplete="current-password" required>'
            '</label> <button type="submit">Sign in</button></form>'
        )
        response = _page("Sign in", body, status, headers=headers)
        if new:
            set_cookie(response, request, PRE_SESSION_COOKIE, pre)
        return response

    async def interaction_page(request: Request) -> Response:
        callback = _callback(request.query_params.get("callback"), resource.dev)
        if login.sign_in is None:
            why = "This resource signs nobody in, so it cannot tell who you are: it takes no decision here."
            return _page("No decision here", f"<p>{why}</p>", 403)
        signed_in = login.session(request)
        target = f"{INTERACTION_PATH}?{request.url.query}"
        if signed_in is None:
            return sign_in_page(request, target)
        token, session = signed_in
        try:
            login.wrong_codes.check(session.username)
        except AAuthError as error:
            wait = str(error.members["retry_after"])
            return _page(
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
        return _page("Allow this agent?", body, form_action=extra)

    async def sign_in(request: Request) -> Response:
        check_origin(request, resource.identifier)
        form = await _form(request)
        target = _local(form.get("next"))
        login.check_form(form, "sign-in", read_cookie(request, PRE_SESSION_COOKIE))
        try:
            token = await login.sign_in_with(request, form.get("username"), form.get("password"))
        except AAuthError as error:
            if error.code == "rate_limited":
                wait = str(error.members["retry_after"])
                said = f"Too many attempts: try again in {wait} s."
                return sign_in_page(request, target, error=said, status=429, headers={"retry-after": wait})
            if error.code == "unauthorized":
                return sign_in_page(request, target, error="Wrong username or password.", status=401)
            raise
        response = RedirectResponse(target, 303)
        set_cookie(response, request, SESSION_COOKIE, token)
        return response

    async def sign_out(request: Request) -> Response:
        """The signed-in person ends their session: same origin, the form's CSRF token (bound to
        the session) else ``403 forbidden``; without a live session there is nothing to end."""
        check_origin(request, resource.identifier)
        form = await _form(request)
        signed_in = login.session(request)
        if signed_in is not None:
            login.check_form(form, "sign-out", signed_in[0])
            login.end(signed_in[0])
        response = _page("Signed out", "<p>You are signed out. You can close this page.</p>")
        clear_cookie(response, request, SESSION_COOKIE)
        return response

    async def interaction_decision(request: Request) -> Response:
        check_origin(request, resource.identifier)
        form = await _form(request)
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
                return _page("Request expired", f"<p>{said}</p>", error.status)
            failed = "expired"
        if row.callback is not None:  # -11 "Interaction Callback Errors" on a failure
            callback = row.callback
            if failed is not None:
                callback = f"{callback}{'&' if '?' in callback else '?'}error={callback_error_for(failed)}"
            return RedirectResponse(callback, status_code=303)
        outcome = "approved: the agent can go on" if approve else "denied"
        return _page("Done", f"<p>You {outcome}. You can close this page.</p>")

    return [
        Route(INTERACTION_PATH, interaction_page, methods=["GET"]),
        Route(INTERACTION_PATH, interaction_decision, methods=["POST"]),
        Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
        Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
    ]
