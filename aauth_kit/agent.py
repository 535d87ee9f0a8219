"""The agent: an ``httpx.Auth`` flow that signs every request and follows AAuth
requirements to a result (-11 "Agent Identity", "Person Token", "Resource Access and
Resource Tokens", "Deferred Delivery", "Deferred Responses"); a ``202`` is polled by
:mod:`aauth_kit.agent_deferred`.

One generator, :meth:`AAuthFlow.auth_flow`, reads like the sequence diagram::

    sign with the best token held for the resource (auth > person > agent token)
    401 requirement=agent-token   → sign with the agent token, retry
    401 requirement=person-token  → POST person_token_endpoint at the PS,
                                    check the person token, retry with it
    401 requirement=auth-token    → check the resource token, POST auth_token_endpoint
                                    (Prefer: wait) → 202 → interaction → poll → 200
                                  → check the auth token, retry with it
    202 requirement=auth-token    → the same, then poll the resource's Location with it
    202 requirement=interaction   → tell the person, poll the resource's Location; keep the
                                    AAuth-Access it answers with (:mod:`aauth_kit.agent_sessions`)
                                    and send Authorization: AAuth from then on

Before a call, :meth:`Agent.authorize` may ask a resource's authorization endpoint for a scope
(:mod:`aauth_kit.agent_authorization`): the same session token or auth token comes of it.

Every token the PS hands out is checked before it is kept (:mod:`aauth_kit.agent_checks`):
its claims (MUST) and its signature (SHOULD), with the key its ``kid`` names in the JWKS
the PS's metadata points to (``jwks_uri``; fetched once per PS and kept for its
``Cache-Control`` lifetime by a :class:`jwks.HttpResolver`, which also refetches on
an unknown ``kid`` at most once a minute).

PS calls — metadata and JWKS discovery included — are yielded from the same generator,
so they travel over the client's transport and its event hooks record them in the
trace.  Waiting between polls is yielded too (:class:`flow.Pause`); one sync and one
async :class:`flow.Driver` run the generator for ``httpx.Client`` and
``httpx.AsyncClient``, and for the mission calls (:mod:`aauth_kit.mission_client`).
Tokens obtained are kept in a :class:`token_cache.TokenCache`.

Failures raise :class:`flow.FlowError` with the draft's code: a PS error passes through
(``denied``, ``abandoned``, ``expired``, ``invalid_code``, ``invalid_resource_token``,
…); the agent's own checks use ``invalid_resource_token``, ``invalid_person_token``,
``invalid_auth_token``, ``invalid_metadata`` and ``invalid_response`` (a server broke
the deferred-response rules); a token whose signature does not hold gets the
Signature-Error code (``invalid_jwt``, ``unknown_key``, ``invalid_key``, …) and
metadata or a JWKS that cannot be used the discovery code (``issuer_mismatch``,
``invalid_key``, …), all with status 502.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .agent_authorization import AuthorizationClient, Authorized
from .agent_checks import check_auth_token, check_person_token, check_resource_token, check_signature
from .agent_clarification import Clarification, UpdatedRequest
from .agent_deferred import Interaction, deferred
from .agent_responses import flow_error, json_body, requires, stale_token
from .agent_sessions import SessionTokens
from .claims import AUTH_TYP, PERSON_TYP
from .deferred_headers import serialize_prefer_wait
from .errors import AAuthError
from .flow import Driver, FlowError, fetch_through_flow, through_flow, timeout
from .governance_client import GovernanceClient
from .http_client import httpx, origin_of
from .jwks import HttpResolver
from .jws import decode_unverified
from .message import HttpMessage
from .metadata import PERSON_DWK, validate_metadata
from .mission_client import Mission, MissionClient
from .profile import sign_request
from .signature_key import jwt_key
from .token_cache import TokenCache


class Agent:
    """An agent: its signing ``key`` and ``agent_token`` (an ``aa-agent+jwt`` binding it).

    ``ps`` names the Person Server (default: the agent token's ``ps`` claim); ``wait``
    is the ``Prefer: wait`` sent to the PS; ``on_interaction`` is told once per consent
    request what the person must do.  ``clock`` (Unix seconds) dates signatures and
    expiry checks and ages cached discovery documents; ``sleep`` replaces the wait
    between polls (tests, docs mode).  ``verify_token_signatures=False`` skips the
    signature check of the tokens the PS hands out (-11 "Auth Token Response Verification"
    says SHOULD; the claim checks always run) — for a lesson that contrasts the two.
    ``capabilities`` goes with every token request: the PS assumes none it is not told
    (-11 "Agent Token Request", "AAuth-Capabilities Request Header").  ``clarify`` answers the
    person's questions and makes the agent declare ``clarification`` (:mod:`.agent_clarification`).
    ``login_hint`` and ``tenant`` go with every person and auth token request (-11 "Agent Token
    Request"): a PS that knows no person behind the agent yet learns whom to ask.  A resource
    token's own ``login_hint`` (-11 "Resource Token Structure") is copied into the auth token
    request and wins: the resource names the account it is for; the agent's is the fallback.

    ``tokens`` holds the person and auth tokens obtained, per resource origin, until
    they expire; ``last_interaction`` the last :class:`Interaction` (for notebooks);
    ``resolver`` the PS metadata and JWKS fetched so far (an :class:`HttpResolver`
    whose GETs travel through the flow); ``mission`` the active :class:`Mission`, if any.
    """

    def __init__(
        self,
        key,
        agent_token: str,
        *,
        ps: str | None = None,
        wait: int = 30,
        on_interaction: Callable[[Interaction], None] | None = None,
        justification: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        dev: bool = False,
        verify_token_signatures: bool = True,
        capabilities: tuple[str, ...] = ("interaction",),
        login_hint: str | None = None,
        tenant: str | None = None,
        clarify: Callable[[Clarification], str | UpdatedRequest | None] | None = None,
    ):
        self.key = key
        self.agent_token = agent_token
        self.ps = ps or decode_unverified(agent_token).payload.get("ps")
        self.wait = wait
        self.on_interaction = on_interaction
        self.justification = justification
        self.clock = clock
        self.sleep = sleep
        self.dev = dev
        self.verify_token_signatures = verify_token_signatures
        self.clarify = clarify
        self.capabilities = list(capabilities) + (
            ["clarification"] if clarify is not None and "clarification" not in capabilities else []
        )
        hints = {"login_hint": login_hint, "tenant": tenant}  # -11 "Agent Token Request"
        self.hints = {name: value for name, value in hints.items() if value is not None}
        self.sessions = SessionTokens()  # -11 "AAuth-Access Response Header"
        self.jkt = key.thumbprint()
        self.tokens = TokenCache(lambda: self.clock())
        self.missions = MissionClient(self)
        self.governance = GovernanceClient(self)
        self.authorization = AuthorizationClient(self)
        self.mission: Mission | None = None
        self.last_interaction: Interaction | None = None
        self.last_clarification: Clarification | None = None
        self.resolver = HttpResolver(fetch_through_flow, clock=clock, dev=dev)

    def auth(self, *, upstream_token: str | None = None, justification: str | None = None) -> AAuthFlow:
        """An ``httpx.Auth`` for any client: ``httpx.Client(auth=agent.auth())``.

        ``upstream_token`` makes it a call chain (-11 "Call Chaining"): the token this agent was
        called with, sent to the PS with every token request.
        """
        return AAuthFlow(
            self, upstream_token=upstream_token, justification=justification or self.justification
        )

    # -- missions (-11 "Mission"): see :class:`mission_client.MissionClient` ---------------
    def start_mission(self, client, description: str, *, tools=None, resources=None) -> Mission:
        """Ask the PS for a mission through the sync ``client``; it becomes :attr:`mission`
        and the cached tokens (issued outside it) are dropped."""
        return self.missions.start(client, description, tools=tools, resources=resources)

    async def astart_mission(self, client, description: str, *, tools=None, resources=None) -> Mission:
        """:meth:`start_mission` through an ``httpx.AsyncClient``."""
        return await self.missions.astart(client, description, tools=tools, resources=resources)

    def update_mission(self, client, description: str) -> str:
        """Send a new description; returns the ``s256`` of the update the PS persisted."""
        return self.missions.update(client, description)

    async def aupdate_mission(self, client, description: str) -> str:
        """:meth:`update_mission` through an ``httpx.AsyncClient``."""
        return await self.missions.aupdate(client, description)

    def complete_mission(self, client, summary: str) -> dict:
        """Propose the end of :attr:`mission` with a summary; once the person accepts it, the
        mission ends (its tokens are dropped) and the PS's answer is returned."""
        return self.missions.complete(client, summary)

    async def acomplete_mission(self, client, summary: str) -> dict:
        """:meth:`complete_mission` through an ``httpx.AsyncClient``."""
        return await self.missions.acomplete(client, summary)

    # -- -11 "PS Governance Endpoints": see :class:`governance_client.GovernanceClient` ----
    def ask_permission(self, client, action: str, **members) -> dict:
        return self.governance.ask_permission(client, action, **members)

    def send_audit_record(self, client, action: str, **members) -> None:
        return self.governance.send_audit_record(client, action, **members)

    def request_interaction(self, client, type: str, **members) -> dict:
        return self.governance.request_interaction(client, type, **members)

    # -- -11 "Authorization Endpoint Request": see :class:`agent_authorization.AuthorizationClient`
    def authorize(self, client, resource: str, scope: str, *, account: str | None = None) -> Authorized:
        """Ask ``resource`` for ``scope`` at its authorization endpoint, before calling it."""
        return self.authorization.authorize(client, resource, scope, account=account)

    # -- the token cache: see :class:`token_cache.TokenCache` ----------------------------
    def auth_token_for(self, resource: str) -> str | None:
        """The cached auth token for ``resource`` (an origin), if still valid."""
        return self.tokens.token_for(resource, "auth_token")

    def person_token_for(self, resource: str) -> str | None:
        """The cached person token for ``resource`` (an origin), if still valid."""
        return self.tokens.token_for(resource, "person_token")

    def forget(self, resource: str | None = None) -> None:
        """Drop the cached tokens of ``resource``, or of every resource."""
        self.tokens.forget(resource)


class AAuthFlow(httpx.Auth):
    """The agent's ``httpx.Auth``: one generator from the first request to the result."""

    requires_request_body = True
    requires_response_body = True

    def __init__(self, agent: Agent, *, upstream_token: str | None = None, justification: str | None = None):
        self.agent = agent
        self.upstream_token = upstream_token
        self.justification = justification

    # -- the flow --------------------------------------------------------------------------
    def auth_flow(self, request):
        agent = self.agent
        resource = origin_of(request.url)
        presented = agent.tokens.best(resource, self.upstream_token) or agent.agent_token
        agent.sessions.attach(request, resource)  # Authorization: AAuth, signed over
        response = yield self.sign(request, presented)

        if presented != agent.agent_token and stale_token(response):
            agent.forget(resource)  # a cached token the resource no longer takes
            presented = agent.agent_token
            response = yield self.sign(request, presented)

        if requires(response, "agent-token") and presented != agent.agent_token:
            presented = agent.agent_token  # -11 "Agent Token Required"
            response = yield self.sign(request, presented)

        if requires(response, "person-token"):  # -11 "Person Token Required"
            agent.forget(resource)
            presented = yield from self.person_token(resource)
            response = yield self.sign(request, presented)

        challenge = requires(response, "auth-token", statuses=(401, 202))
        if challenge is not None:  # -11 "Auth Token Required", "Deferred Delivery"
            resource_token = check_resource_token(
                agent, challenge.resource_token, resource, presented, response
            )
            auth_token = yield from self.auth_token(resource, resource_token, presented)
            if response.status_code == 202:  # deferred delivery: the resource holds the call
                response = yield from self.deferred(
                    response, auth_token, resource, resource_token.get("scope")
                )
            else:
                presented = auth_token  # a 202 now is polled with it (-11 "Interaction Chaining")
                response = yield self.sign(request, auth_token)

        if requires(response, "interaction", statuses=(202,)):  # -11 "Resource-Managed Authorization"
            agent.sessions.pop(resource, None)
            response = yield from self.deferred(response, presented, resource, None)
        agent.sessions.take(resource, response)
        return response

    # -- person token (-11 "Person Token Endpoint") ----------------------------------------
    def person_token(self, resource: str):
        ps = self.person_server()
        metadata = yield from self.discover(ps)
        body = {"resource": resource, "capabilities": self.agent.capabilities}
        if self.agent.mission is not None:  # -11 "Person Token Endpoint": issued within the mission
            body["mission_s256"] = self.agent.mission.s256
        if self.upstream_token is not None:
            body["upstream_token"] = self.upstream_token
        body.update(self.agent.hints)  # who to ask for, when the PS knows no person behind the agent yet
        response = yield self.ps_request(metadata["person_token_endpoint"], body)
        person_token = yield from self._result(response, "person_token", resource, None)
        check_person_token(self.agent, person_token, resource, ps)
        yield from check_signature(self.agent, person_token, PERSON_TYP)
        self.agent.tokens.remember(resource, "person_token", person_token, self.upstream_token)
        return person_token

    def person_server(self) -> str:
        """The PS that speaks for the person: the upstream token's (-11 "Call Chaining"),
        else the configured one, else the agent token's ``ps`` hint."""
        if self.upstream_token is not None:
            upstream = decode_unverified(self.upstream_token)
            ps = upstream.payload.get("ps") if upstream.header.get("typ") == AUTH_TYP else None
            ps = ps or upstream.payload.get("iss")
        else:
            ps = self.agent.ps
        if not isinstance(ps, str):
            raise FlowError(
                "invalid_request",
                "no Person Server is known: pass Agent(ps=...) or use an agent token with a ps claim",
            )
        return ps

    # -- auth token (-11 "Resource Challenge Verification", "PS Token Endpoint") -----------
    def auth_token(self, resource: str, resource_token: dict, presented: str):
        ps = resource_token["ps"]
        metadata = yield from self.discover(ps)
        body = {
            "resource_token": resource_token["token"],
            "presented_token": presented,
            "capabilities": self.agent.capabilities,
        }
        if self.upstream_token is not None:
            body["upstream_token"] = self.upstream_token
        if self.justification:
            body["justification"] = self.justification
        body.update(self.agent.hints)
        if isinstance(resource_token.get("login_hint"), str):  # the resource's hint wins (class doc)
            body["login_hint"] = resource_token["login_hint"]
        response = yield self.ps_request(metadata["auth_token_endpoint"], body)
        auth_token = yield from self._result(response, "auth_token", resource, resource_token.get("scope"))
        check_auth_token(self.agent, auth_token, resource, resource_token, presented)
        yield from check_signature(self.agent, auth_token, AUTH_TYP)
        self.agent.tokens.remember(resource, "auth_token", auth_token, self.upstream_token)
        return auth_token

    # -- talking to the PS -----------------------------------------------------------------
    def discover(self, ps: str):
        """``GET {ps}/.well-known/aauth-person.json`` (cached), validated (-11 "Metadata Documents")."""
        try:
            document = yield from through_flow(self.agent.resolver.metadata(ps, PERSON_DWK))
            return validate_metadata(document, ps, PERSON_DWK, dev=self.agent.dev, complete=True)
        except AAuthError as exc:
            raise FlowError(exc.code, exc.detail, status=502) from None

    def ps_request(self, endpoint: str, body: dict):
        """A token request: JSON body (content-type and content-digest covered), signed with the
        agent token, ``Prefer: wait`` (-11 "Deferred Responses")."""
        request = httpx.Request(
            "POST",
            endpoint,
            json=body,
            headers={"Prefer": serialize_prefer_wait(self.agent.wait)},
            extensions={"timeout": timeout(self.agent.wait)},
        )
        request.read()
        return self.sign(request, self.agent.agent_token)

    def _result(self, response, member: str, resource: str, scope: str | None):
        """The token in a ``200`` body, after following a ``202`` to its end."""
        if response.status_code == 202:
            response = yield from self.deferred(response, self.agent.agent_token, resource, scope)
        if response.status_code != 200:
            raise flow_error(response)
        body = json_body(response)
        value = body.get(member) if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise FlowError(
                "invalid_response",
                f"the 200 from {response.request.url} has no {member}",
                status=502,
                response=response,
            )
        return value

    def deferred(self, response, token: str, resource: str | None, scope: str | None):
        """Follow a ``202`` to its end (:func:`aauth_kit.agent_deferred.deferred`); a flow that
        polls in another's name (a sub-agent's parent) overrides it."""
        return (yield from deferred(self, response, token, resource, scope))

    # -- signing ---------------------------------------------------------------------------
    def sign(self, request, token: str):
        """Sign ``request`` in place with the agent's key, presenting ``token``
        (``Signature-Key: sig=jwt;jwt="…"``); a body gets ``content-digest`` covered."""
        message = HttpMessage(
            request.method, str(request.url), list(request.headers.multi_items()), request.content
        )
        for name in ("Signature-Input", "Signature"):  # a retry is signed afresh, not on top of the old one
            message.remove_header(name)
        sign_request(message, self.agent.key, jwt_key(token), created=int(self.agent.clock()))
        for name in ("Content-Type", "Content-Digest", "Signature-Key", "Signature-Input", "Signature"):
            value = message.header(name)
            if value is not None:
                request.headers[name] = value
        return request

    # -- httpx.Auth: the one generator, run by the sync or the async driver ---------------
    def sync_auth_flow(self, request):
        request.read()
        driver = Driver(self.auth_flow(request), self.agent.sleep or time.sleep)
        for step in driver.steps():
            driver.reply = yield step

    async def async_auth_flow(self, request):
        await request.aread()
        driver = Driver(self.auth_flow(request), self.agent.sleep or asyncio.sleep)
        async for step in driver.asteps():
            driver.reply = yield step


__all__ = ["Agent", "AAuthFlow"]
