"""The interaction page of the Person Server (-11 "User Interaction"): the URL an agent sends
its person to with the interaction code.  ``GET /interaction?code=…&callback=…``: sign in,
then the consent page (:mod:`.pages`); ``POST``: the person's answer from the page's form
(bound to the session by a CSRF token), then back to the callback or a "you can close this
window" page.  Errors are HTML pages here, not problem+json."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_callback_url
from aauth_kit.keys import b64url

from . import pages
from .consent import consent_context, decide, get_pending, open_code, redirect_url
from .context import Context
from .persons import form, session

_TITLES = {"invalid_code": "This code does not work", "unauthorized": "Please sign in"}


def _csrf(session_token: str, pending_id: str) -> str:
    mac = hmac.new(session_token.encode(), f"consent\x00{pending_id}".encode(), hashlib.sha256)
    return b64url(mac.digest())


def _page(ctx: Context, request: Request) -> Response:
    code, callback = request.query_params.get("code"), request.query_params.get("callback")
    if callback is not None:
        check_callback_url(callback)
    signed_in = session(ctx, request)
    if signed_in is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return HTMLResponse(pages.login_page(target))
    if not code:
        return HTMLResponse(pages.code_page())
    username, token = signed_in
    pending = open_code(ctx, code, username)
    page = pages.consent_page(
        consent_context(pending), csrf=_csrf(token, pending.id), callback=callback, person=username
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


async def _answer(ctx: Context, request: Request) -> Response:
    signed_in = session(ctx, request)
    if signed_in is None:
        raise AAuthError("unauthorized", "your session ended; sign in and open the link again")
    username, token = signed_in
    fields = await form(request)
    pending_id, decision, callback = fields.get("pending_id"), fields.get("decision"), fields.get("callback")
    if not isinstance(pending_id, str) or decision not in ("approve", "deny", "abandon"):
        raise AAuthError("invalid_request", "the form lacks pending_id or a decision")
    if not hmac.compare_digest(str(fields.get("csrf", "")), _csrf(token, pending_id)):
        raise AAuthError("forbidden", "this form was not issued to your session", status=403)
    if callback:
        check_callback_url(callback)
    pending = get_pending(ctx, pending_id)
    decided = decide(ctx, pending, decision == "approve", username, abandon=decision == "abandon")
    if callback:
        return RedirectResponse(redirect_url(callback, decided.status), 303)
    return HTMLResponse(pages.done_page(decided.status))


def routes(ctx: Context) -> list[Route]:
    async def interaction_endpoint(request: Request) -> Response:
        """``GET``: the page; ``POST``: the person's answer."""
        try:
            if request.method == "POST":
                return await _answer(ctx, request)
            return _page(ctx, request)
        except AAuthError as error:
            title = _TITLES.get(error.code, "This request cannot go on")
            return HTMLResponse(pages.error_page(title, error.detail), error.status)

    return [
        Route("/", lambda request: RedirectResponse("/interaction", 303)),
        Route("/interaction", interaction_endpoint, methods=["GET", "POST"]),
    ]
