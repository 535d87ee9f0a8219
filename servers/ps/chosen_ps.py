"""The Person Server a person chose for their agent, which the Agent Provider names in the
agent token's ``ps`` claim (-11 "Agent Token Structure": "Configured per agent instance";
-11 "Bootstrapping": "set by the agent provider or chosen by the person deploying the agent").

``PUT /agents/person-server`` ``{"agent", "ps"}``, JSON API with the person's Bearer session
(:func:`.persons.person`): the agent must be bound to the caller at this Agent Provider (another
person's agent, or an unknown one, is ``404 not_found``, so agents cannot be probed); ``ps`` must
be a server identifier (-11 "Server Identifiers") whose ``aauth-person.json`` the PS fetches
through egress admission and validates (-11 "Person Server Metadata"); else ``400
invalid_request`` (-11 "Token Endpoint Error Codes": malformed fields).  ``"ps": null`` goes
back to this PS.  The choice is an audit entry (``agent_ps_chosen``), so it survives a restart
and the person's trail shows it; every agent token the AP issues afterwards (registration,
approval, rotation) names it, and the agent, reading its token's ``ps``, takes its person and
resource tokens there.

A choice made again writes nothing, and one person may change their agents' Person Server
``Caps.ps_changes_per_person`` times in :data:`CHANGE_WINDOW` seconds, then ``429
rate_limited`` with ``Retry-After`` until the oldest change leaves the window, before any
fetch: -11 is silent; OWASP ASVS level 2 (V11.1.4) — each change is an append-only audit row,
so a limit on rows written beats a rule on which calls write.  The count is those rows, so a
restart forgets nothing, and the changes still fetching their metadata, so concurrent ones
cannot all pass.
"""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.metadata import PERSON_DWK, validate_metadata

from .context import Context, over_cap
from .persons import json_body, person

CHOSEN = "agent_ps_chosen"
#: Seconds over which ``Caps.ps_changes_per_person`` counts a person's changes.
CHANGE_WINDOW = 3600


def person_server_for(ctx: Context, agent_id: str) -> str:
    """The Person Server the agent's person chose for it, else this one."""
    entry = ctx.store.latest_audit(CHOSEN, agent_id)
    chosen = entry.details.get("ps") if entry is not None else None
    return chosen if isinstance(chosen, str) else ctx.identifier


def check_changes(ctx: Context, username: str, in_flight: int = 0) -> None:
    """``429 rate_limited`` once ``username`` made ``Caps.ps_changes_per_person`` changes in
    the last :data:`CHANGE_WINDOW` seconds, counting the ``in_flight`` ones still fetching
    their Person Server's metadata (see the module doc)."""
    now, cap = ctx.clock(), ctx.config.caps.ps_changes_per_person
    changes = ctx.store.audit_times(CHOSEN, username, now - CHANGE_WINDOW)
    if len(changes) + in_flight >= cap:
        ends = [changes[-cap] + CHANGE_WINDOW] if len(changes) >= cap else []
        raise over_cap("changes of an agent's Person Server", ends, now)


async def checked_person_server(ctx: Context, value) -> str | None:
    """``value`` if it names a Person Server (its metadata fetched and valid); ``None`` stays."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise AAuthError("invalid_request", "a server identifier is a string")
        ps = check_server_identifier(value, dev=ctx.dev)
        document = await ctx.resolver.metadata(ps, PERSON_DWK)
        validate_metadata(document, ps, PERSON_DWK, dev=ctx.dev, complete=True)
    except AAuthError as error:
        raise AAuthError("invalid_request", f"ps: {error.detail}") from None
    return ps


def routes(ctx: Context) -> list[Route]:
    #: Person → changes of theirs between the cap's check and their audit row (the metadata
    #: fetch): each holds a place, so concurrent changes cannot all pass the check.
    in_flight: Counter = Counter()

    async def choose_endpoint(request: Request) -> Response:
        """``{"agent", "ps"}`` from the agent's person: see the module doc."""
        username = person(ctx, request)
        body = await json_body(request, "the choice")
        agent_id = body.get("agent")
        agent = ctx.store.get_agent(agent_id, ap_issuer=ctx.identifier) if isinstance(agent_id, str) else None
        if agent is None or agent.username != username:
            raise AAuthError("not_found", f"{username} has no agent {agent_id!r} at this Agent Provider")
        check_changes(ctx, username, in_flight[username])
        in_flight[username] += 1  # held from the check to the row: no await in between
        try:
            ps = await checked_person_server(ctx, body.get("ps"))
            if (ps or ctx.identifier) != person_server_for(ctx, agent_id):  # made again: no row
                ctx.store.audit(username, CHOSEN, agent_id, {"ps": ps}, person=username)
        finally:
            in_flight[username] -= 1
            if not in_flight[username]:
                del in_flight[username]
        return JSONResponse({"agent": agent_id, "ps": ps or ctx.identifier})

    return [Route("/agents/person-server", choose_endpoint, methods=["PUT"])]
