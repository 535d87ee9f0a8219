"""The agent's side of a ``202`` (-11 "Deferred Responses", "Interaction Required").

:func:`deferred` polls the ``Location`` of a ``202`` — the PS's pending URL or a resource's —
signed with the token the flow presents there, until something other than ``202`` or ``429``
comes back; :func:`tell_interaction` hands a ``requirement=interaction`` to the agent's
``on_interaction`` as an :class:`Interaction`, once per interaction: a pending request may
ask a second one (a four-party request: the person's consent at the PS, then what the Access
Server asks, passed back by the PS: -11 "AS Response").
"""

from __future__ import annotations

from dataclasses import dataclass

from .agent_clarification import respond
from .agent_responses import held, pending_url_of, requirement_of, requires, retry_after
from .deferred_headers import serialize_prefer_wait
from .errors import AAuthError
from .flow import FlowError, Pause, timeout
from .http_client import httpx, origin_of
from .identifiers import check_endpoint_url
from .interaction import interaction_url

#: -11 "Polling with GET": each ``429 slow_down`` adds 5 s to the interval.
SLOW_DOWN_STEP = 5


@dataclass
class Interaction:
    """What the person must do (-11 "Interaction Required"): open ``url`` and enter ``code``."""

    url: str
    code: str
    pending_url: str
    resource: str | None = None
    scope: str | None = None

    def link(self, callback: str | None = None) -> str:
        """``{url}?code={code}[&callback={callback}]``, the link to show or open."""
        return interaction_url(self.url, self.code, callback)


def deferred(flow, response, token: str, resource: str | None, scope: str | None):
    """Poll a ``202``'s ``Location`` (signed by ``flow`` with ``token``) until something else comes back.

    Retry-After is honoured unless the server already held the poll that long
    (``Prefer: wait``); each ``429`` adds 5 s.  An ``interaction`` requirement is
    handed to ``on_interaction`` once per ``url`` and ``code``; a ``clarification`` is answered as the agent's
    ``clarify`` says (:mod:`aauth_kit.agent_clarification`).  Returns the first response that
    is neither ``202`` nor ``429``.
    """
    agent = flow.agent
    responder = origin_of(response.request.url)
    pending_url = pending_url_of(response, responder)
    backoff = 0
    told = None
    while response.status_code in (202, 429):
        if response.status_code == 429:  # slow_down
            backoff += SLOW_DOWN_STEP
            yield Pause(retry_after(response, default=0) + backoff)
        else:
            told = tell_interaction(agent, response, pending_url, resource, scope, told) or told
            if requires(response, "clarification", statuses=(202,)):  # -11 "Clarification Chat"
                response = yield from respond(flow, response, pending_url, token, resource, scope)
                continue
            delay = retry_after(response)
            if held(response) < delay:
                yield Pause(delay + backoff)
        poll = httpx.Request(
            "GET",
            pending_url,
            headers={"Prefer": serialize_prefer_wait(agent.wait)},
            extensions={"timeout": timeout(agent.wait)},
        )
        response = yield flow.sign(poll, token)
    return response


def tell_interaction(
    agent, response, pending_url: str, resource: str | None, scope: str | None, told: tuple | None = None
) -> tuple | None:
    """``requirement=interaction`` (-11 "Interaction Required"): the person must visit ``url``
    with ``code`` — told unless it is the ``told`` one; returns the ``(url, code)`` told."""
    requirement = requirement_of(response)
    if requirement is None or requirement.requirement != "interaction":
        return None
    if (requirement.url, requirement.code) == told:
        return None
    try:
        check_endpoint_url(requirement.url, dev=agent.dev)
    except AAuthError as exc:
        raise FlowError(
            "invalid_response", f"interaction url: {exc.detail}", status=502, response=response
        ) from None
    interaction = Interaction(requirement.url, requirement.code, pending_url, resource, scope)
    agent.last_interaction = interaction
    if agent.on_interaction is not None:
        agent.on_interaction(interaction)
    return (requirement.url, requirement.code)


__all__ = ["Interaction", "SLOW_DOWN_STEP", "deferred", "tell_interaction"]
