"""Deferred responses at the Person Server (-11 "Deferred Responses"): a request that waits
for the person is stored as pending and answered ``202`` with its pending URL
(:mod:`.pending_url` answers the polls).

``202`` carries ``Location`` (the pending URL, bound to the thumbprint of the agent key that
asked), ``Retry-After``, ``Cache-Control: no-store`` and ``AAuth-Requirement:
requirement=interaction; url; code`` (-11 "Interaction Required"), ``requirement=approval``
when the PS reaches the person itself (-11 "Approval Pending"), or ``requirement=clarification``
and the question while the person's question is open (-11 "Clarification Chat").

Caps (:class:`~.context.Caps`): an agent may leave at most ``pending_per_agent`` requests
waiting (one more is ``429 rate_limited`` with ``Retry-After``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from aauth_kit.consent_policy import strings
from aauth_kit.deferred_headers import parse_prefer_wait
from aauth_kit.errors import AAuthError
from aauth_kit.headers import HeaderError, serialize_requirement
from aauth_kit.interaction import format_code
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.profile import VerifiedRequest

from . import clarification
from .context import Context, over_cap
from .store.missions import Mission
from .store.pending import Pending

#: Seconds a non-waiting poller must leave between polls (its ``Retry-After``).
POLL_INTERVAL = 5
#: The longest a poll is held, whatever ``Prefer: wait`` asks (RFC 7240 lets a server honour less).
MAX_WAIT = 300


def can_interact(body: dict, *, undeclared: bool = False, mission: Mission | None = None) -> bool:
    """-11 "Agent Token Request" ``capabilities`` (strings): may the agent send its person to an
    interaction page?  Declared, they hold for this request; undeclared, within a ``mission`` the
    ones captured at its approval, else none (-11 "AAuth-Capabilities Request Header") —
    ``undeclared`` answers then (the AP's registration keeps asking the person)."""
    capabilities = body.get("capabilities")
    if capabilities is None:
        return "interaction" in (mission.capabilities or ()) if mission is not None else undeclared
    if not strings(capabilities):
        raise AAuthError("invalid_request", "capabilities must be an array of strings")
    return "interaction" in capabilities


def reachable(can_interact: bool) -> None:
    """The answer needs the person: an agent that cannot show an interaction gets the
    terminal ``403 user_unreachable``."""
    if not can_interact:
        raise AAuthError(
            "user_unreachable", "the person's consent is needed and the agent cannot show an interaction"
        )


async def who_asks(ctx: Context, agent_iss: str, agent_id: str) -> dict:
    """What the consent page shows of the agent ``(agent_iss, agent_id)`` (-11 "Agent-Person
    Binding": the agent provider's name beside the agent's): ``agent_name`` as registered
    here for that very pair, else its provider's ``name``; ``agent_provider_name`` from the
    provider's metadata (``None`` if unreachable)."""
    agent = ctx.store.get_agent(agent_id, ap_issuer=agent_iss)
    provider = None
    with contextlib.suppress(AAuthError):
        name = (await ctx.resolver.metadata(agent_iss, AGENT_DWK)).get("name")
        provider = name if isinstance(name, str) else None
    own = agent.name if agent is not None else None
    return {
        "agent_name": own or (provider if agent_iss != ctx.identifier else None),
        "agent_provider_name": provider,
    }


async def defer(
    ctx: Context,
    message: HttpMessage,
    kind: str,
    agent: tuple[str, str],
    verified: VerifiedRequest,
    request_data: dict,
    *,
    resource: str | None = None,
    scope: str | None = None,
    justification: str | None = None,
    admit: Callable[[], None] | None = None,
    expires_in: float | None = None,
) -> Response:
    """Store the request of ``agent`` (its ``(iss, sub)``) as pending (-11 "Pending Response")
    and answer ``202``.  The caps are checked just before the request is stored, with no
    ``await`` between, so requests sent together meet them too: the agent's live requests
    (``429 rate_limited``), then ``admit()`` (the caller's own cap, raising).  ``expires_in``
    shortens the wait for the person below the PS's ``pending_ttl``."""
    agent_iss, agent_id = agent
    request_data = {
        **request_data,
        **await who_asks(ctx, agent_iss, agent_id),
        "agent_jkt": verified.key.thumbprint(),
        "capabilities": clarification.declared_capabilities(message),
    }
    waiting = ctx.store.live_pending(agent=agent)
    if len(waiting) >= ctx.config.caps.pending_per_agent:
        raise over_cap("pending requests of this agent", (p.expires_at for p in waiting), ctx.clock())
    if admit is not None:
        admit()
    for _ in range(100):  # injected ids and codes may repeat after a restart: take the next
        try:
            pending = ctx.store.create_pending(
                kind,
                agent_id=agent_id,
                agent_iss=agent_iss,
                agent_jkt=verified.key.thumbprint(),
                request=request_data,
                expires_in=min(expires_in or ctx.config.pending_ttl, ctx.config.pending_ttl),
                resource=resource,
                scope=scope,
                justification=justification,
                code=ctx.config.code_factory(),
                pending_id=ctx.config.id_factory(),
            )
            break
        except AAuthError as error:
            if error.code != "conflict":
                raise
    else:
        raise AAuthError("server_error", "could not allocate a pending request id and code")
    ctx.store.audit(
        agent_id,
        f"{kind}_requested",
        resource or agent_id,
        {"pending_id": pending.id, "scope": scope, "justification": justification},
        person=request_data.get("person"),
    )
    return pending_response(ctx, pending, waiting=bool(prefer_wait(message)))


def pending_response(ctx: Context, pending: Pending, *, waiting: bool) -> Response:
    """``202``: come back to ``Location`` — at once when the poll will be held
    (``Prefer: wait``), else after the poll interval."""
    retry_after = 0 if waiting else ctx.config.poll_interval
    ctx.poll_not_before[pending.id] = ctx.clock() + retry_after
    body = {"status": pending.status}
    question = clarification.requirement(ctx, pending)  # -11 "Clarification Required"
    if question is not None:
        requirement, members = question
        body.update(members)
    elif pending.request.get("reached"):  # the PS reaches the person itself (-11 "Approval Pending")
        requirement = serialize_requirement("approval")
    else:
        requirement = serialize_requirement(
            "interaction", url=f"{ctx.identifier}/interaction", code=format_code(pending.code), dev=ctx.dev
        )
    return accepted(ctx, pending, retry_after, requirement, body)


def accepted(ctx: Context, pending: Pending, retry_after: int, requirement: str, body: dict) -> Response:
    """-11 "Pending Response": ``202`` with the pending URL, ``Retry-After``, ``Cache-Control:
    no-store`` and the ``AAuth-Requirement`` that says what the agent waits for."""
    headers = {
        "Location": f"{ctx.identifier}/pending/{pending.id}",
        "Retry-After": str(retry_after),
        "Cache-Control": "no-store",
        "AAuth-Requirement": requirement,
    }
    return JSONResponse(body, status_code=202, headers=headers)


def prefer_wait(message: HttpMessage) -> int:
    """``Prefer: wait`` in seconds (0 when absent; a malformed preference is ignored, RFC 7240 §2)."""
    try:
        return min(parse_prefer_wait(message.header("prefer")) or 0, MAX_WAIT)
    except HeaderError:
        return 0
