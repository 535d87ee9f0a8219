"""The Person Server's HTML pages: login, code entry, the consent page and its outcomes.

The consent page is where -11 "User Interaction" happens: the person, logged in at
their PS, sees who asks (the agent), for what (the resource, its scopes with the
resource's own descriptions, the agent's justification) and the interaction code
the agent showed, and answers Approve, Deny or Not now.  Every value is HTML-escaped;
the justification is Markdown in -11 and shown here as plain text.  Every page is sent by
:func:`respond` with a content security policy allowing only its own stylesheet inline, never
framed (RFC 9700 §4.16), and every form that changes state carries a ``csrf`` field
(:mod:`.browser`).  Forms post to relative URLs (every page is at the top level), so the
pages work unchanged under a proxy's prefix (:mod:`aauth_kit.server_proxy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from starlette.responses import HTMLResponse

from aauth_kit.asgi import content_security_policy

from .governance_pages import answer_field, asked_html

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
h1 { font-size: 1.4rem; } .muted { color: #5a6472; font-size: .9rem; }
.card { border: 1px solid #d6dbe3; border-radius: .5rem; padding: 1rem 1.25rem; margin: 1rem 0; }
.code { font-family: ui-monospace, monospace; font-size: 1.2rem; letter-spacing: .1em; }
blockquote { white-space: pre-wrap; border-left: 3px solid #d6dbe3; margin: .5rem 0; padding-left: .75rem; }
label { display: block; margin: .5rem 0 .2rem; } input[type=text], input[type=password] { width: 100%; padding: .4rem; }
button { padding: .5rem 1.1rem; margin: .75rem .5rem 0 0; border-radius: .35rem; border: 1px solid #8a94a3; cursor: pointer; }
button.approve { background: #1f6feb; color: white; border-color: #1f6feb; } .error { color: #b42318; }
"""


def page(title: str, body: str) -> str:
    """The common frame of every page."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )


def respond(
    html: str, status: int = 200, *, form_action: tuple[str, ...] = (), headers: Mapping | None = None
) -> HTMLResponse:
    """``html`` with its policy: no script, the one inline stylesheet, forms to this origin and
    ``form_action``; never cached (a page may carry a code or a token)."""
    policy = content_security_policy(styles=(_STYLE,), form_action=form_action)
    sent = {"content-security-policy": policy, "cache-control": "no-store", **(headers or {})}
    return HTMLResponse(html, status, headers=sent)


def login_page(next_path: str, *, csrf: str, error: str | None = None, username: str = "") -> str:
    """The person signs in; the form posts to ``/login`` and comes back to ``next_path``;
    ``csrf`` binds it to the browser's pre-session cookie (login CSRF)."""
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return page(
        "Sign in — Person Server",
        f"<h1>Sign in to your Person Server</h1>{message}"
        '<form method="post" action="login">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<label for="username">Username</label><input type="text" id="username" name="username" value="{escape(username)}" autocomplete="username" required>'
        '<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>'
        '<button class="approve" type="submit">Sign in</button></form>',
    )


def code_page(*, error: str | None = None) -> str:
    """Enter the code an agent displayed (-11: the agent may show ``url`` and ``code``)."""
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return page(
        "Enter code — Person Server",
        f"<h1>Enter the code your agent shows</h1>{message}"
        '<form method="get" action="interaction"><label for="code">Code</label>'
        '<input type="text" id="code" name="code" class="code" placeholder="XXXX-XXXX" required>'
        '<button class="approve" type="submit">Continue</button></form>',
    )


def _scopes(scope: str | None, descriptions: dict) -> str:
    items = "".join(
        f"<li><code>{escape(s)}</code>"
        + (f" — {escape(str(descriptions[s]))}" if s in descriptions else "")
        + "</li>"
        for s in (scope or "").split()
    )
    return f"<ul>{items}</ul>" if items else "<p>(no scopes)</p>"


def consent_page(context: dict, *, csrf: str, callback: str | None, person: str) -> str:
    """Who asks, for what, and why; Approve / Deny / Not now post back to ``/interaction``.

    ``context`` is the consent API's view of the pending request (``kind``, ``agent``,
    ``agent_name``, ``resource``, ``resource_name``, ``scope``, ``scope_descriptions``,
    ``justification``, ``code``, ``expires_at``; for a mission ``mission``: ``description``,
    ``tools``, ``resources``; for a mission's completion ``completion``: ``description``,
    ``summary``).
    """
    agent = escape(context.get("agent_name") or context["agent"])
    agent_id = escape(context["agent"])
    resource = escape(context.get("resource_name") or context.get("resource") or "")
    kind = context["kind"]
    if kind == "agent_approval":
        ask = f"<p>A new agent, <strong>{agent}</strong> (<code>{agent_id}</code>), asks to act for you.</p>"
        detail = (
            f'<p class="muted">Its key thumbprint: <code>{escape(context.get("agent_jkt", ""))}</code></p>'
        )
    elif kind == "mission":  # -11 "Mission Creation": the mission's description, tools and resources
        mission = context.get("mission") or {}
        ask = f"<p><strong>{agent}</strong> (<code>{agent_id}</code>) asks you to approve a mission:</p>"
        detail = f"<blockquote>{escape(mission.get('description') or '')}</blockquote>"
        tools = "".join(
            f"<li><code>{escape(t['name'])}</code> — {escape(t['description'])}</li>"
            for t in mission.get("tools") or []
        )
        resources = "".join(f"<li><code>{escape(r)}</code></li>" for r in mission.get("resources") or [])
        detail += f"<p>With the tools:</p><ul>{tools}</ul>" if tools else ""
        detail += f"<p>At the resources:</p><ul>{resources}</ul>" if resources else ""
    elif kind == "mission_completion":  # -11 "Mission Completion": the person reviews the summary
        completion = context.get("completion") or {}
        ask = f"<p><strong>{agent}</strong> (<code>{agent_id}</code>) reports its mission complete:</p>"
        detail = (
            f"<blockquote>{escape(completion.get('description') or '')}</blockquote>"
            f"<p>Its summary of what it did:</p><blockquote>{escape(completion.get('summary') or '')}</blockquote>"
            "<p>Approve to end the mission; deny to keep it active.</p>"
        )
    elif kind in ("permission", "interaction"):  # -11 "PS Governance Endpoints"
        ask, detail = asked_html(context, agent, agent_id)
    elif kind == "person_token":
        ask = (
            f"<p><strong>{agent}</strong> (<code>{agent_id}</code>) asks to act as you at "
            f"<strong>{resource}</strong> (<code>{escape(context['resource'])}</code>).</p>"
        )
        detail = ""
    else:
        ask = (
            f"<p><strong>{agent}</strong> (<code>{agent_id}</code>) asks for access to "
            f"<strong>{resource}</strong> (<code>{escape(context['resource'])}</code>) on your behalf.</p>"
        )
        detail = "<p>It asks for:</p>" + _scopes(
            context.get("scope"), context.get("scope_descriptions") or {}
        )
        if context.get("account"):  # -11 "Account Binding": which account at the resource
            detail += f"<p>For your account <code>{escape(context['account'])}</code> there.</p>"
    provider = context.get("agent_provider") or ""
    ask += (  # -11 "Agent-Person Binding": which Agent Provider vouches for this agent
        f'<p class="muted">Agent Provider: <strong>{escape(context.get("agent_provider_name") or provider)}'
        f"</strong> (<code>{escape(provider)}</code>)</p>"
    )
    why = context.get("justification")
    justification = f"<p>Its reason:</p><blockquote>{escape(why)}</blockquote>" if why else ""
    hidden = (
        f'<input type="hidden" name="pending_id" value="{escape(context["pending_id"])}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        + (f'<input type="hidden" name="callback" value="{escape(callback)}">' if callback else "")
    )
    return page(
        "Consent — Person Server",
        f'<h1>Do you allow this?</h1><p class="muted">Signed in as {escape(person)}</p>'
        f'<div class="card">{ask}{detail}{justification}'
        f'<p class="muted">Check that your agent shows the code <span class="code">{escape(context.get("code") or "")}</span>. '
        f"This request expires at {escape(context['expires_at'])}.</p></div>"
        f'<form method="post" action="interaction">{hidden}{answer_field(context)}'
        '<button class="approve" type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        '<button type="submit" name="decision" value="abandon">Not now</button></form>',
    )


def done_page(status: str) -> str:
    """After the decision, when there is no callback to return to."""
    said = {
        "approved": "You approved the request.",
        "denied": "You denied the request.",
        "abandoned": "You left the request unanswered.",
    }[status]
    return page("Done — Person Server", f"<h1>{escape(said)}</h1><p>You can close this window.</p>")


def error_page(title: str, detail: str) -> str:
    return page(f"{title} — Person Server", f'<h1>{escape(title)}</h1><p class="error">{escape(detail)}</p>')
