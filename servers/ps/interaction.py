"""The interaction page of the Person Server (-11 "User Interaction"): the URL an agent sends
its person to with the interaction code.  ``GET /interaction?code=…&callback=…``: sign in,
then the consent page (:mod:`.pages`); ``POST``: the person's answer from the page's form,
then back to the callback or a "you can close this window" page.

The answer is checked before anything else (:mod:`.browser`): a cross-origin POST or one
whose CSRF token was not issued to this session for this request is ``403 forbidden`` as
problem+json; the other errors are HTML pages.  The consent form may lead to the callback's
origin only (its ``form-action``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aauth_kit.asgi import check_origin
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_callback_url

from . import browser, pages
from .consent import consent_context, decide, get_pending, open_code, redirect_url
from .context import Context
from .interaction_endpoint import answer, is_question
from .persons import form, login_response, session

_TITLES = {
    "invalid_code": "This code does not work",
    "unauthorized": "Please sign in",
    "rate_limited": "Too many attempts",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _page(ctx: Context, request: Request) -> Response:
    code, callback = request.query_params.get("code"), request.query_params.get("callback")
    if callback is not None:
        check_callback_url(callback)
    signed_in = session(ctx, request)
    if signed_in is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return login_response(ctx, request, target)
    if not code:
        return pages.respond(pages.code_page())
    username, token = signed_in
    pending = open_code(ctx, code, username)
    csrf = browser.form_token(ctx, "consent", token, pending.id)
    page = pages.consent_page(consent_context(pending), csrf=csrf, callback=callback, person=username)
    return pages.respond(page, form_action=(_origin(callback),) if callback else ())


async def _answer(ctx: Context, username: str, fields: dict) -> Response:
    pending_id, decision, callback = fields["pending_id"], fields.get("decision"), fields.get("callback")
    if decision not in ("approve", "deny", "abandon"):
        raise AAuthError("invalid_request", "the form lacks a decision")
    if callback:
        check_callback_url(callback)
    pending = get_pending(ctx, pending_id)
    if decision == "approve" and is_question(pending):  # -11 "Interaction Response": the answer
        decided = answer(ctx, pending, fields.get("answer"), username)
    else:
        decided = decide(ctx, pending, decision == "approve", username, abandon=decision == "abandon")
    if callback:
        return RedirectResponse(redirect_url(callback, decided.status), 303)
    return pages.respond(pages.done_page(decided.status))


def _error_page(error: AAuthError) -> Response:
    """The error as an HTML page with its status; a throttled one (``429``) says when to try
    again in ``Retry-After`` too (RFC 6585 §4), as its problem+json twin does."""
    title = _TITLES.get(error.code, "This request cannot go on")
    retry_after = error.members.get("retry_after")
    headers = {"retry-after": str(retry_after)} if retry_after is not None else None
    return pages.respond(pages.error_page(title, error.detail), error.status, headers=headers)


def routes(ctx: Context) -> list[Route]:
    async def interaction_endpoint(request: Request) -> Response:
        """``GET``: the page; ``POST``: the person's answer, its origin and CSRF token first."""
        if request.method == "GET":
            try:
                return _page(ctx, request)
            except AAuthError as error:
                return _error_page(error)
        check_origin(request, ctx.identifier)
        signed_in = session(ctx, request)
        if signed_in is None:
            return _error_page(
                AAuthError("unauthorized", "your session ended; sign in and open the link again")
            )
        username, token = signed_in
        fields = await form(request)
        pending_id = fields.get("pending_id")
        if not isinstance(pending_id, str):
            raise AAuthError("invalid_request", "the form lacks pending_id")
        browser.check_form(ctx, request, fields, "consent", token, pending_id)
        try:
            return await _answer(ctx, username, fields)
        except AAuthError as error:
            return _error_page(error)

    return [
        Route("/", lambda request: RedirectResponse("/interaction", 303)),
        Route("/interaction", interaction_endpoint, methods=["GET", "POST"]),
    ]
