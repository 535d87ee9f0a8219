"""The agent's side of clarification chat (-11 "Clarification Chat").

A poll that comes back ``202`` with ``requirement=clarification`` carries the person's question
(``clarification``, ``timeout``?, ``options``?; -11 "Clarification Required").  "The agent MUST
respond to a clarification with one of" three actions (-11 "Agent Response to Clarification"):
the ``clarify`` callback the agent was given decides which — it returns the answer's text (a
clarification response), an :class:`UpdatedRequest` (a new resource token, e.g. with reduced
scope), or ``None`` to cancel.  An agent without a callback cannot answer, so it cancels: the
one response it can give.  After a POST the agent resumes polling; after the ``DELETE`` the flow
ends with :class:`flow.FlowError` ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .agent_responses import json_body
from .deferred_headers import serialize_prefer_wait
from .errors import AAuthError
from .flow import FlowError, timeout
from .http_client import httpx
from .jws import decode_unverified


@dataclass(frozen=True)
class Clarification:
    """A question the person asked through the PS: ``question`` (Markdown, untrusted),
    ``options`` (discrete choices, if any), ``timeout`` (seconds left to answer, if given),
    ``pending_url`` where the answer goes, and the ``resource`` and ``scope`` asked about."""

    question: str
    pending_url: str
    options: tuple[str, ...] = ()
    timeout: int | None = None
    resource: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class UpdatedRequest:
    """-11 "Updated Request": a new ``resource_token`` from the same resource (e.g. with
    reduced scope), why (``justification``, RECOMMENDED), and the ``presented_token`` the
    agent showed the resource for it (REQUIRED on the wire; left out, the agent sends the
    token it holds for the resource whose ``jti`` the resource token's ``presented_jti`` names)."""

    resource_token: str
    justification: str | None = field(default=None)
    presented_token: str | None = field(default=None)


def presented_for(agent, answer: UpdatedRequest, resource: str | None) -> str:
    """The token the new resource token points back to (its ``presented_jti``): the one
    given, else the person or auth token the agent holds for ``resource`` with that ``jti``."""
    if answer.presented_token is not None:
        return answer.presented_token
    try:
        wanted = decode_unverified(answer.resource_token).payload.get("presented_jti")
    except AAuthError as exc:
        raise FlowError("invalid_resource_token", exc.detail) from None
    held = agent.tokens.get(resource, {}) if resource is not None else {}
    for name in ("auth_token", "person_token"):
        token = held.get(name)
        if token is not None and decode_unverified(token).payload.get("jti") == wanted:
            return token
    raise FlowError(
        "invalid_request", "the agent holds no token the new resource token names: give presented_token"
    )


def clarification_of(response, pending_url: str, resource: str | None, scope: str | None) -> Clarification:
    """The question in a ``requirement=clarification`` 202 (``invalid_response`` without one)."""
    body = json_body(response)
    question = body.get("clarification") if isinstance(body, dict) else None
    if not isinstance(question, str):
        raise FlowError(
            "invalid_response",
            "a requirement=clarification 202 without a clarification string",
            status=502,
            response=response,
        )
    options = body.get("options")
    options = tuple(o for o in options if isinstance(o, str)) if isinstance(options, list) else ()
    seconds = body.get("timeout")
    seconds = seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else None
    return Clarification(question, pending_url, options, seconds, resource, scope)


def respond(flow, response, pending_url: str, token: str, resource: str | None, scope: str | None):
    """Answer the question in ``response`` as the agent's ``clarify`` callback says (a flow
    step: yields the signed POST or DELETE); returns the PS's reply to a POST, which the
    polling goes on from.  Raises ``cancelled`` once the request is withdrawn."""
    clarification = clarification_of(response, pending_url, resource, scope)
    flow.agent.last_clarification = clarification
    clarify = flow.agent.clarify
    answer = clarify(clarification) if clarify is not None else None
    if answer is None:  # -11 "Cancel Request"
        reply = yield flow.sign(httpx.Request("DELETE", pending_url), token)
        raise FlowError(
            "cancelled",
            f"the agent withdrew its request rather than answer {clarification.question!r}",
            status=reply.status_code,
            response=reply,
        )
    if isinstance(answer, UpdatedRequest):  # -11 "Updated Request"
        body = {
            "action": "updated_request",
            "resource_token": answer.resource_token,
            "presented_token": presented_for(flow.agent, answer, resource),
        }
        if answer.justification:
            body["justification"] = answer.justification
    elif isinstance(answer, str):  # -11 "Clarification Response"
        body = {"action": "clarification_response", "clarification_response": answer}
    else:
        raise FlowError("invalid_request", "clarify must return a str, an UpdatedRequest or None")
    wait = flow.agent.wait  # the reply is the poll's 202: come back at once, to a held poll
    request = httpx.Request(
        "POST",
        pending_url,
        json=body,
        headers={"Prefer": serialize_prefer_wait(wait)},
        extensions={"timeout": timeout(wait)},
    )
    request.read()
    return (yield flow.sign(request, token))
