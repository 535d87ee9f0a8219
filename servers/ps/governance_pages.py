"""What the consent page shows of a governance request (-11 "Permission Request",
"Interaction Request"): the action and its parameters, the relayed link and code, or the
question with a field for the answer.  Everything the agent sent is escaped; its Markdown is
shown as plain text (-11 "Untrusted Input")."""

from __future__ import annotations

import json
from html import escape


def asked_html(context: dict, agent: str, agent_id: str) -> tuple[str, str]:
    """``(ask, detail)`` for a ``permission`` or ``interaction`` request."""
    asked = context.get("asked") or {}
    who = f"<strong>{agent}</strong> (<code>{agent_id}</code>)"
    description = asked.get("description")
    detail = f"<blockquote>{escape(description)}</blockquote>" if description else ""
    if context["kind"] == "permission":
        ask = f"<p>{who} asks your permission to run <code>{escape(asked.get('action') or '')}</code>.</p>"
        if asked.get("parameters") is not None:
            shown = json.dumps(asked["parameters"], indent=2, ensure_ascii=False)
            detail += f"<p>With the parameters:</p><blockquote>{escape(shown)}</blockquote>"
    elif asked.get("type") == "question":
        ask = f"<p>{who} asks you:</p><blockquote>{escape(asked.get('question') or '')}</blockquote>"
        detail += "<p>Write your answer below and approve to send it.</p>"
    else:
        link = asked["url"] + (f"?code={asked['code']}" if asked.get("code") else "")
        ask = f"<p>{who} needs you at another site ({escape(asked.get('type') or '')}):</p>"
        detail += (
            f'<p><a href="{escape(link)}" rel="noreferrer noopener" target="_blank">{escape(asked["url"])}</a>'
            + (
                f' with the code <span class="code">{escape(asked["code"])}</span>'
                if asked.get("code")
                else ""
            )
            + "</p><p>Open it, then approve to tell your agent you have.</p>"
        )
    if asked.get("mission_s256"):
        detail += f'<p class="muted">Within the mission <code>{escape(asked["mission_s256"])}</code></p>'
    return ask, detail


def answer_field(context: dict) -> str:
    """The answer box of a question (inside the consent form), else nothing."""
    if context["kind"] != "interaction" or (context.get("asked") or {}).get("type") != "question":
        return ""
    return '<label for="answer">Your answer</label><textarea id="answer" name="answer" rows="4" maxlength="20000"></textarea>'
