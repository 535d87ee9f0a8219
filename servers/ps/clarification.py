"""Clarification chat at the Person Server (-11 "Clarification Chat").

During consent the person asks the agent a question about its request; the agent's next poll of
the pending URL gets it: ``202`` with ``AAuth-Requirement: requirement=clarification`` and
``{"status", "clarification", "timeout", "options"?}`` (-11 "Clarification Required").  The
agent answers at the pending URL (-11 "Agent Response to Clarification"): ``POST {"action":
"clarification_response", "clarification_response"}``, or ``POST {"action": "updated_request",
"resource_token", "presented_token", "justification"?}`` with a new resource token that keeps
the original's ``iss``, ``ps``, ``sub``, ``agent_jkt``, ``mission_s256`` and ``tenant`` and the
token the agent presented for it (for a four-party request also the same Access Server as
``aud``: it is what the PS sends the AS), or ``DELETE`` to withdraw the request.  The person sees
the answer on the consent page (and in the consent API) and decides, or asks again.

The chat is kept in the pending request, ``request["clarifications"]``: one round per question
(``question``, ``options``?, ``asked_at``, ``deadline``; then ``answer`` or ``updated`` and
``answered_at``).  Limits (-11 "Clarification Limits", "Clarification Chat Security"): at most
:data:`MAX_ROUNDS` questions per request; questions and answers of at most :data:`MAX_TEXT`
characters; an open question leaves the agent :data:`ANSWER_TIMEOUT` seconds (its
``timeout``): the request's expiry moves to that deadline while the question is open, so a
silent agent's next poll is ``408 expired``; the answer gives the request its time back.  Both
texts are untrusted input, shown escaped (-11 "Untrusted Input").

Who may: only the person the request is for asks (:mod:`.consent` checks); only the agent that
made the request answers (the pending URL answers its own agent only, :mod:`.pending_url`).  A
question may be asked about a mission or its completion always (-11 "Mission Completion":
"follow-up questions via clarification chat"), about a token request only when the agent
declared the ``clarification`` capability (-11 "AAuth-Capabilities Request Header": none is
assumed).
"""

from __future__ import annotations

import json
import math

from aauth_kit import claims
from aauth_kit.errors import AAuthError
from aauth_kit.headers import serialize_requirement
from aauth_kit.jws import decode_unverified
from aauth_kit.message import HttpMessage, require_json_object

from .context import Context, iso
from .store.pending import Pending
from .verification import verify_parameter, verify_presented

#: -11 "Clarification Limits": "recommended: 5 rounds maximum".
MAX_ROUNDS = 5
#: The longest question, answer or justification (characters of Markdown) the PS takes.
MAX_TEXT = 4000
#: At most this many ``options``, each at most :data:`MAX_OPTION` characters.
MAX_OPTIONS = 10
MAX_OPTION = 200
#: Seconds the agent has to answer a question (the ``timeout`` of -11 "Clarification Required").
ANSWER_TIMEOUT = 120
#: -11 "Agent Response to Clarification": the POST actions at the pending URL.
ACTIONS = ("clarification_response", "updated_request")
#: The pending kind of a four-party request (:mod:`.federation`).
FEDERATED = "federated_auth_token"
_ALWAYS = ("mission", "mission_completion")
_WITH_CAPABILITY = ("auth_token", "person_token", FEDERATED)


def declared_capabilities(message: HttpMessage) -> list[str]:
    """The ``capabilities`` a token request declared (-11 "Agent Token Request"); none else."""
    try:
        body = json.loads(message.body) if message.body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    values = body.get("capabilities") if isinstance(body, dict) else None
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def offered(pending: Pending) -> bool:
    """May the person ask the agent about this request?"""
    if pending.kind in _ALWAYS:
        return True
    declared = pending.request.get("capabilities") or []
    return pending.kind in _WITH_CAPABILITY and "clarification" in declared


def rounds(pending: Pending) -> list[dict]:
    return list(pending.request.get("clarifications") or [])


def open_question(pending: Pending) -> dict | None:
    """The question the agent has not answered yet, if any."""
    chat = rounds(pending)
    return chat[-1] if chat and "answered_at" not in chat[-1] else None


def view(pending: Pending) -> dict | None:
    """The chat as the consent API shows it (``None`` where no question may be asked)."""
    if not offered(pending):
        return None
    shown = []
    for item in rounds(pending):
        entry = {name: item[name] for name in ("question", "options", "answer", "updated") if name in item}
        entry["asked_at"] = iso(item["asked_at"])
        if "answered_at" in item:
            entry["answered_at"] = iso(item["answered_at"])
        shown.append(entry)
    return {
        "chat": shown,
        "awaiting_answer": open_question(pending) is not None,
        "rounds_left": MAX_ROUNDS - len(shown),
    }


def requirement(ctx: Context, pending: Pending) -> tuple[str, dict] | None:
    """The ``AAuth-Requirement`` and body members of a poll while a question is open
    (-11 "Clarification Required"), else ``None``."""
    question = open_question(pending)
    if question is None:
        return None
    members = {
        "clarification": question["question"],
        "timeout": max(0, math.ceil(question["deadline"] - ctx.clock())),
    }
    if question.get("options"):
        members["options"] = question["options"]
    return serialize_requirement("clarification"), members


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise AAuthError(
            "invalid_request", f"{name} must be non-empty Markdown of at most {MAX_TEXT} characters"
        )
    return value


def _options(value) -> list[str] | None:
    """-11 "Clarification Required" ``options``: an array of strings (discrete choices)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_OPTIONS
        or not all(isinstance(v, str) and v.strip() and len(v) <= MAX_OPTION for v in value)
    ):
        raise AAuthError(
            "invalid_request",
            f"options must be 1 to {MAX_OPTIONS} strings of at most {MAX_OPTION} characters",
        )
    return value


# -- the person asks ------------------------------------------------------------------------------
def ask(ctx: Context, pending: Pending, by: str, question, options=None) -> Pending:
    """The person ``by`` (already checked to be the one the request is for) asks the agent:
    ``400 invalid_request`` for a bad text or where no question may be asked, ``409 conflict``
    while the last question is open or once the rounds are used up."""
    question, options = _text(question, "question"), _options(options)

    def change(current: Pending) -> dict:
        if not offered(current):
            raise AAuthError(
                "invalid_request", "the agent did not declare the clarification capability for this request"
            )
        if open_question(current) is not None:
            raise AAuthError("conflict", "the agent has not answered the last question yet", status=409)
        if len(rounds(current)) >= MAX_ROUNDS:
            raise AAuthError(
                "conflict", f"all {MAX_ROUNDS} clarification rounds are used; approve or deny", status=409
            )
        now = ctx.clock()
        deadline = min(current.expires_at, now + ANSWER_TIMEOUT)
        item = {"question": question, "asked_at": now, "deadline": deadline, "expires_at": current.expires_at}
        if options:
            item["options"] = options
        return {
            "request": {**current.request, "clarifications": [*rounds(current), item]},
            "expires_at": deadline,
        }

    asked = ctx.store.revise(pending.id, change)
    ctx.store.audit(
        by,
        "clarification_asked",
        asked.resource or asked.agent_id,
        {"pending_id": asked.id, "round": len(rounds(asked))},
    )
    ctx.waiters.notify(asked.id)  # a held poll carries the question to the agent at once
    return asked


# -- the agent answers ----------------------------------------------------------------------------
async def respond(ctx: Context, message: HttpMessage, pending: Pending) -> Pending:
    """``POST`` at the pending URL by its own agent (-11 "Agent Response to Clarification"):
    a missing or unknown ``action`` is ``400 invalid_request`` (MUST), as is an answer when no
    question is open; a new resource token that fails its checks ``400
    invalid_resource_token`` / ``expired_resource_token``, a presented token that does not match
    it ``400 invalid_presented_token`` / ``expired_presented_token`` / ``revoked_presented_token``."""
    body = require_json_object(message.body)
    action = body.get("action")
    if action not in ACTIONS:
        raise AAuthError(
            "invalid_request", 'action must be "clarification_response" or "updated_request" (DELETE cancels)'
        )
    if action == "clarification_response":
        answer = {"answer": _text(body.get("clarification_response"), "clarification_response")}
        columns: dict = {}
    else:
        answer, columns = await _updated_request(ctx, body, pending)

    def change(current: Pending) -> dict:
        question = open_question(current)
        if question is None:
            raise AAuthError("invalid_request", "no question of the person awaits an answer")
        chat = rounds(current)
        chat[-1] = {**question, **answer, "answered_at": ctx.clock()}
        request = {**current.request, **columns.pop("request", {}), "clarifications": chat}
        return {**columns, "request": request, "expires_at": question["expires_at"]}

    answered = ctx.store.revise(pending.id, change)
    ctx.store.audit(
        answered.agent_id,
        "clarification_answered" if action == "clarification_response" else "request_updated",
        answered.resource or answered.agent_id,
        {"pending_id": answered.id, "scope": answered.scope},
        person=answered.request.get("person"),
    )
    ctx.waiters.notify(answered.id)
    return answered


async def _updated_request(ctx: Context, body: dict, pending: Pending) -> tuple[dict, dict]:
    """-11 "Updated Request": the new resource token keeps the original's ``iss``, ``ps``,
    ``sub``, ``agent_jkt``, ``mission_s256`` and ``tenant`` (else ``400 invalid_resource_token``),
    and ``presented_token`` (REQUIRED: missing is ``400 invalid_request``) is verified against
    it as at the auth token endpoint (-11 "PS Token Endpoint", :func:`.verification.verify_presented`),
    for the same person.  The agent is the one signing (checked by the pending URL)."""
    if pending.kind not in ("auth_token", FEDERATED):
        raise AAuthError("invalid_request", "only a request made with a resource token can be updated")
    justification = body.get("justification")
    if justification is not None:
        justification = _text(justification, "justification")
    for name in ("resource_token", "presented_token"):
        if name not in body:
            raise AAuthError("invalid_request", f"{name} is required")
    if pending.kind == FEDERATED:
        return await _updated_federated_request(ctx, body, pending, justification)
    grant = pending.request["grant"]
    token = await verify_parameter(
        ctx,
        body["resource_token"],
        "resource",
        typ=claims.RESOURCE_TYP,
        expected_aud=ctx.identifier,
        expected_ps=ctx.identifier,
        signing_key_jwk=grant["cnf_jwk"],  # the original's agent_jkt (a sub-agent's, when it asked)
    )
    presented = await _same_request(ctx, token, grant["resource"], grant, body, pending)
    updated = {"scope": token.scope, **({"justification": justification} if justification else {})}
    request = {
        "grant": {**grant, "scope": token.scope, "account": token.account},
        "caps": [*pending.request["caps"], presented.exp],  # the auth token outlives neither
    }
    columns = {"request": request, "scope": token.scope}
    if justification:
        columns["justification"] = justification
    return {"updated": updated}, columns


async def _updated_federated_request(
    ctx: Context, body: dict, pending: Pending, justification: str | None
) -> tuple[dict, dict]:
    """-11 "Updated Request" for a four-party request: the new resource token is for the same
    Access Server (``aud``) from the same resource, and keeps the original's ``ps``, ``sub``,
    ``agent_jkt``, ``mission_s256`` and ``tenant``; with its presented token it replaces the
    original in what this PS sends the AS once the person approves (-11 "PS-to-AS Token Request")."""
    federation = pending.request["federation"]
    token = await verify_parameter(
        ctx,
        body["resource_token"],
        "resource",
        typ=claims.RESOURCE_TYP,
        expected_aud=federation["access_server"],
        expected_ps=ctx.identifier,
        signing_key_jwk=federation["cnf_jwk"],
    )
    original = decode_unverified(federation["request"]["resource_token"]).payload
    presented = await _same_request(ctx, token, federation["resource"], original, body, pending)
    sent = {**federation["request"], "resource_token": token.token, "presented_token": presented.token}
    federation = {
        **federation,
        "request": sent,
        "scope": token.scope,
        "presented": presented.jti if presented.iss == ctx.identifier else None,
        "not_after": min(federation["not_after"], presented.exp),
    }
    updated = {"scope": token.scope, **({"justification": justification} if justification else {})}
    request = {
        "federation": federation,
        "grant": {**pending.request.get("grant", {}), "account": token.account},
    }
    columns = {"request": request, "scope": token.scope}
    if justification:
        columns["justification"] = justification
    return {"updated": updated}, columns


async def _same_request(ctx: Context, token, resource: str, original: dict, body: dict, pending: Pending):
    """-11 "Updated Request": the new resource token comes from the same ``resource`` and keeps
    the ``original``'s ``sub``, ``mission_s256`` and ``tenant`` (its key was checked when it was
    verified); the presented token speaks for the same person.  The verified presented token."""
    if token.iss != resource or any(
        token.payload.get(n) != original.get(n) for n in ("sub", "mission_s256", "tenant")
    ):
        raise AAuthError(
            "invalid_resource_token",
            "the new resource token must come from the same resource, for the same agent key, person and mission",
        )
    presented, person = await verify_presented(ctx, body["presented_token"], token)
    if person != pending.request.get("person"):
        raise AAuthError("invalid_presented_token", "the presented token speaks for another person")
    return presented
