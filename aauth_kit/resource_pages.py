"""The resource's own interaction page (-11 "Resource-Managed Authorization", "User
Interaction"): ``GET /interaction?code=…[&callback=…]`` shows the person which agent asks for
which scope and offers Approve or Deny; the form posts back to ``/interaction``.

"The code parameter is single-use": opening the page consumes it, so a second visit (or an
unknown code) is ``410 invalid_code``.  The form carries a per-request secret (``csrf``) that
only the page knew, and a cross-origin post is refused (:func:`asgi.check_origin`).  With a
``callback`` (an https URL, checked) the person's browser goes back there after answering,
with ``?error=access_denied`` on a denial (-11 "Interaction Callback Errors"); without one the
page says what happened.  Pages are never framed or cached and carry no script.
"""

from __future__ import annotations

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

_STYLE = "body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; }"
#: The largest form the page posts (two short fields).
MAX_FORM = 2048


def _page(title: str, body: str, status: int = 200, *, form_action: tuple[str, ...] = ()) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    policy = content_security_policy(styles=(_STYLE,), form_action=form_action)
    return HTMLResponse(
        html, status, headers={"content-security-policy": policy, "cache-control": "no-store"}
    )


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


def routes(held: HeldInvocations) -> list[Route]:
    resource = held.resource

    async def interaction_page(request: Request) -> Response:
        code = request.query_params.get("code", "")
        callback = _callback(request.query_params.get("callback"), resource.dev)
        row = held.by_code(code)
        if row is None or row.arrived or row.expires_at <= resource.clock():
            error = AAuthError("invalid_code", "this code is unknown or was used already")
            return _page("Code not valid", f"<p>{escape(error.detail)}</p>", error.status)
        row.arrived = True
        agent = row.caller.agent or f"with key {row.caller.jkt[:12]}…, acting for you,"
        hidden = f'<input type="hidden" name="csrf" value="{escape(row.csrf)}">'
        if callback is not None:
            hidden += f'<input type="hidden" name="callback" value="{escape(callback)}">'
        body = (
            f"<p>The agent <b>{escape(agent)}</b> asks {escape(resource.name or resource.identifier)} "
            f"for <code>{escape(row.scope)}</code>.</p>"
            f'<form method="post" action="{INTERACTION_PATH}">{hidden}'
            '<button name="decision" value="approve">Approve</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        extra = (_origin(callback),) if callback is not None else ()
        return _page("Allow this agent?", body, form_action=extra)

    async def interaction_decision(request: Request) -> Response:
        check_origin(request, resource.identifier)
        raw = await request.body()
        if len(raw) > MAX_FORM:
            raise AAuthError("invalid_request", "the form is too large")
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        row = held.by_csrf(form.get("csrf", ""))
        if row is None or row.approved is not None or form.get("decision") not in ("approve", "deny"):
            raise AAuthError("invalid_request", "no such interaction, or it was answered already")
        approve = form["decision"] == "approve"
        held.decide(row, approve)
        callback = _callback(form.get("callback"), resource.dev)
        if callback is not None:
            if not approve:
                callback = f"{callback}{'&' if '?' in callback else '?'}error={callback_error_for('denied')}"
            return RedirectResponse(callback, status_code=303)
        outcome = "approved: the agent can go on" if approve else "denied"
        return _page("Done", f"<p>You {outcome}. You can close this page.</p>")

    return [
        Route(INTERACTION_PATH, interaction_page, methods=["GET"]),
        Route(INTERACTION_PATH, interaction_decision, methods=["POST"]),
    ]
