"""The pages of a server that signs persons in itself before they decide (a resource's own
consent page, an Access Server's owner page): the HTML page with its headers, the posted form,
the sign-in form and its ``POST``.

Sessions, CSRF tokens and throttles are :class:`aauth_kit.resource_login.PersonLogin`'s; this
module only shows and reads them (OWASP ASVS level 2 V3 "Session Management"; RFC 9700 §4.16:
pages are never framed, cached or scripted).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .asgi import check_origin, content_security_policy
from .errors import AAuthError
from .resource_login import PRE_SESSION_COOKIE, SESSION_COOKIE, PersonLogin, read_cookie, set_cookie

SIGN_IN_PATH = "/sign-in"
#: The largest form the pages post (a few short fields).
MAX_FORM = 2048
_STYLE = "body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; }"


def page(
    title: str, body: str, status: int = 200, *, form_action: tuple[str, ...] = (), headers=None
) -> HTMLResponse:
    """An HTML page with a content security policy (styles by hash, forms only to this origin
    and ``form_action``) and ``Cache-Control: no-store``."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    policy = content_security_policy(styles=(_STYLE,), form_action=form_action)
    sent = {"content-security-policy": policy, "cache-control": "no-store", **(headers or {})}
    return HTMLResponse(html, status, headers=sent)


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields; past :data:`MAX_FORM` bytes ``400 invalid_request``."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise AAuthError("invalid_request", "the form is too large")
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def sign_in_page(
    login: PersonLogin,
    request: Request,
    target: str,
    who: str,
    *,
    error: str = "",
    status: int = 200,
    headers=None,
) -> HTMLResponse:
    """The sign-in form for ``who`` (the server's name), sending the browser on to ``target``;
    its CSRF token bound to the browser's pre-session cookie (set here if new: login CSRF)."""
    pre = read_cookie(request, PRE_SESSION_COOKIE)
    new = pre is None
    pre = pre or secrets.token_urlsafe(32)
    said = f'<p role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<p>Sign in to {escape(who)} to answer an agent's request.</p>"
        f'{said}<form method="post" action="{SIGN_IN_PATH.lstrip("/")}">'
        f'<input type="hidden" name="next" value="{escape(target)}">'
        f'<input type="hidden" name="csrf" value="{escape(login.form_token("sign-in", pre))}">'
        '<label>Username <input type="text" name="username" autocomplete="username" required></label> '
        '<label>Password <input type="password" name="password" autocomplete="current-password" required>'
        '</label> <button type="submit">Sign in</button></form>'
    )
    response = page("Sign in", body, status, headers=headers)
    if new:
        set_cookie(response, request, PRE_SESSION_COOKIE, pre)
    return response


def sign_in_endpoint(
    login: PersonLogin, origin: str, who: str, local: Callable[[object], str]
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /sign-in``: same origin (``origin``), the form's CSRF token, then the credentials;
    signed in, a ``303`` to ``local(next)`` (only the server's own page) with the session
    cookie; a wrong password ``401`` and too many attempts ``429`` show the form again."""

    async def sign_in(request: Request) -> Response:
        check_origin(request, origin)
        form = await read_form(request)
        target = local(form.get("next"))
        login.check_form(form, "sign-in", read_cookie(request, PRE_SESSION_COOKIE))
        try:
            token = await login.sign_in_with(request, form.get("username"), form.get("password"))
        except AAuthError as error:
            if error.code == "rate_limited":
                wait = str(error.members["retry_after"])
                said = f"Too many attempts: try again in {wait} s."
                return sign_in_page(
                    login, request, target, who, error=said, status=429, headers={"retry-after": wait}
                )
            if error.code == "unauthorized":
                return sign_in_page(
                    login, request, target, who, error="Wrong username or password.", status=401
                )
            raise
        response = RedirectResponse(target, 303)
        set_cookie(response, request, SESSION_COOKIE, token)
        return response

    return sign_in
