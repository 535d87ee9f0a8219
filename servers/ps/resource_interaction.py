"""The Person Server's side of -11 "Resource-Initiated Interaction": a resource token that
carries ``interaction`` (``{"url", "code"}``) chains the resource's own user-facing flow before
the PS's consent.

* At the token endpoint, :func:`checked_interaction`: "The interaction.url MUST be an HTTPS URL.
  The PS MUST validate this before constructing the redirect and MUST apply its egress admission
  policy to the URL" (the kit's one URL policy: https, or loopback http in dev mode; a refusal is
  ``400 invalid_resource_token``).  Such a request always waits for the person.
* At the PS's interaction page, :func:`interstitial`: the person learns "that the resource requires
  additional permissions before the PS can authorize access" and follows a link to
  ``{interaction.url}?code={interaction.code}&callback={ps_callback_url}``, the callback a
  PS-generated, per-flow URL (``/interaction/resource/{flow}``, known to this person's session only).
* At that callback: "If the callback contains an error parameter, the PS abandons the
  authorization and returns the mapped polling error to the agent" (-11 "Interaction Callback
  Errors": ``access_denied`` → ``denied``, ``user_abandoned`` → ``abandoned``,
  ``interaction_expired`` → ``expired``, ``server_error`` and ``temporarily_unavailable`` →
  ``server_error``); otherwise the PS shows its own consent page.  Until then the request
  cannot be approved (:meth:`Context.resource_done`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from html import escape

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aauth_kit.egress import EgressRefused
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_url
from aauth_kit.interaction import CALLBACK_ERRORS, interaction_url
from aauth_kit.token_verification import VerifiedToken

from . import browser, pages
from .consent import consent_context, decide, get_pending, redirect_url
from .context import Context
from .persons import session
from .store.pending import Pending

CALLBACK_PATH = "/interaction/resource"
#: The pending status a ``server_error`` callback ends a request with (polled as ``server_error``).
FAILED = "failed"


@dataclass
class Flow:
    """One chained flow: whose it is, where the agent's browser goes at the end, and whether
    the resource's part is done."""

    pending_id: str
    username: str
    callback: str | None
    expires_at: float
    done: bool = False


async def checked_interaction(ctx: Context, resource_token: VerifiedToken) -> dict | None:
    """The resource token's ``interaction`` claim, its URL checked and admitted; ``None`` without one."""
    claim = resource_token.payload.get("interaction")
    if claim is None:
        return None
    try:
        url = check_url(claim["url"], what="interaction.url", dev=ctx.dev)
        if ctx.egress is not None:
            await ctx.egress.admit(url)
    except AAuthError as error:
        raise AAuthError("invalid_resource_token", error.detail) from None
    except EgressRefused as refused:
        raise AAuthError("invalid_resource_token", f"interaction.url: {refused}") from None
    return {"url": url, "code": claim["code"]}


def _sweep(ctx: Context) -> None:
    now = ctx.clock()
    for key in [key for key, flow in ctx.resource_flows.items() if flow.expires_at <= now]:
        del ctx.resource_flows[key]


def interstitial(ctx: Context, pending: Pending, username: str, callback: str | None) -> Response | None:
    """The page before the resource's flow (``None`` when the request asks none, or it is done)."""
    if ctx.resource_done(pending):
        return None
    _sweep(ctx)
    flow_id = secrets.token_urlsafe(24)
    ctx.resource_flows[flow_id] = Flow(pending.id, username, callback, pending.expires_at)
    asked = pending.request["resource_interaction"]
    link = interaction_url(asked["url"], asked["code"], f"{ctx.identifier}{CALLBACK_PATH}/{flow_id}")
    name = pending.request.get("resource_name") or pending.resource
    body = (
        f"<h1>{escape(name)} needs your permission first</h1>"
        f"<p>{escape(name)} requires additional permissions before this Person Server can authorize "
        f"the agent <b>{escape(pending.agent_id)}</b>. You will come back here to decide.</p>"
        f'<p><a href="{escape(link)}">Continue to {escape(name)}</a></p>'
    )
    return pages.respond(pages.page("Permission at the resource — Person Server", body))


def _end(ctx: Context, pending: Pending, polling: str, username: str) -> str:
    """End the request with the polling error a callback error maps to; the status it ends in."""
    if polling in ("denied", "abandoned"):
        return decide(ctx, pending, False, username, abandon=polling == "abandoned").status
    ended = ctx.store.end(pending.id, "expired" if polling == "expired" else FAILED)
    ctx.store.audit(username, f"{pending.kind}_{ended.status}", pending.resource, {"pending_id": pending.id})
    ctx.waiters.notify(pending.id)
    return ended.status


def routes(ctx: Context) -> list[Route]:
    async def resource_callback(request: Request) -> Response:
        """``GET /interaction/resource/{flow}[?error=…]``: the resource sends the person back."""
        flow = ctx.resource_flows.get(request.path_params["flow"])
        signed_in = session(ctx, request)
        if flow is None or flow.done or signed_in is None or signed_in[0] != flow.username:
            error = AAuthError("invalid_request", "this link is not one of your open requests")
            return pages.respond(pages.error_page("This request cannot go on", error.detail), error.status)
        username, token = signed_in
        pending = get_pending(ctx, flow.pending_id)
        error = request.query_params.get("error")
        if error is not None:
            del ctx.resource_flows[request.path_params["flow"]]
            status = _end(ctx, pending, CALLBACK_ERRORS.get(error, "server_error"), username)
            if flow.callback:
                return RedirectResponse(redirect_url(flow.callback, status), 303)
            said = f"{pending.resource} did not grant its part ({error}), so the request has ended."
            return pages.respond(pages.page("Ended — Person Server", f"<h1>{escape(said)}</h1>"))
        flow.done = True
        csrf = browser.form_token(ctx, "consent", token, pending.id)
        page = pages.consent_page(
            consent_context(pending), csrf=csrf, callback=flow.callback, person=username
        )
        return pages.respond(page, form_action=(_origin(flow.callback),) if flow.callback else ())

    return [Route(f"{CALLBACK_PATH}/{{flow}}", resource_callback, methods=["GET"])]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"
