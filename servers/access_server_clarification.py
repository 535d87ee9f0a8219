"""The Access Server's question (-11 "AS Response": "requirement=clarification: The AS needs a
question answered"): a scope of :attr:`~.access_server.AccessPolicy.clarification` makes the
AS answer ``202`` + ``requirement=clarification`` with the question (-11 "Clarification
Required"); the PS — or the agent, through it — answers by POSTing ``{"action":
"clarification_response", "clarification_response"}`` to ``Location`` (-11 "Clarification
Response"), and the AS goes on deciding.  A missing or unknown ``action`` is ``400
invalid_request`` (-11 "Agent Response to Clarification": MUST); ``updated_request`` is not
taken here (``400``); an answer is non-empty Markdown of at most :data:`MAX_TEXT` characters,
kept as untrusted text (-11 "Clarification Limits").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from aauth_kit.errors import AAuthError
from aauth_kit.headers import serialize_requirement

if TYPE_CHECKING:
    from .access_server import AccessPolicy, TokenRequest

#: The longest answer taken (characters).
MAX_TEXT = 4000


def question_for(policy: AccessPolicy, scope: str) -> str | None:
    """The question the first scope of ``scope`` that has one asks."""
    return next((policy.clarification[s] for s in scope.split() if s in policy.clarification), None)


def pending_response(question: str, location: str) -> Response:
    headers = {
        "Location": location,
        "Retry-After": "0",
        "Cache-Control": "no-store",
        "AAuth-Requirement": serialize_requirement("clarification"),
    }
    return JSONResponse({"status": "pending", "clarification": question}, 202, headers)


def take_answer(pending: TokenRequest, body: dict) -> None:
    """Keep the answer to the open question (see the module doc)."""
    if body.get("action") != "clarification_response":
        raise AAuthError("invalid_request", 'action must be "clarification_response" here')
    if pending.clarification_response is not None:
        raise AAuthError("invalid_request", "no question is open for this token request")
    text = body.get("clarification_response")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise AAuthError(
            "invalid_request",
            f"clarification_response must be non-empty Markdown of at most {MAX_TEXT} characters",
        )
    pending.clarification_response = text
