"""The agent against the real cast: ``aauth_kit.resource.Resource`` and
``aauth_kit.servers.ps.PersonServer`` over loopback sockets (and once over ASGI), with
keys discovered over HTTP (the seed's story under -11 "Person Identity Access", "PS Authorization
Access (Three-Party)" and "User Interaction").

Consent arrives the ways a person gives it: ``PersonServer.decide`` from the
``on_interaction`` callback, or the consent REST API from another thread while the agent
long-polls.  Latency is never asserted; timeouts are hang guards only.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aauth_kit.servers.ps import PersonServer
from starlette.responses import JSONResponse

from aauth_kit import jws
from aauth_kit.agent import Agent
from aauth_kit.agent_deferred import Interaction
from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.flow import FlowError
from aauth_kit.jwks import HttpResolver
from aauth_kit.keys import Key
from aauth_kit.resource import Resource
from aauth_kit.runtime import Hosts
from aauth_kit.trace import Trace

PS = "https://ps.example"
SCA = "https://supply-chain.example"
OPTIMIZE = "supply-chain:optimize"  # needs consent (the seed's policy)
CHECK = "supply-chain:check"  # granted by policy
PS_KEY = Key.from_seed("flow ps", kid="ps-1")
SCA_KEY = Key.from_seed("flow sca", kid="sca-1")
AGENT_KEY = Key.from_seed("flow backend")
HANG_GUARD = 60


async def optimize(request):
    caller = request.state.caller
    return JSONResponse({"result": "optimized", "person": caller.person[1], "scopes": sorted(caller.scopes)})


async def check(request):
    return JSONResponse({"checked": True, "person": request.state.caller.person[1]})


async def inventory(request):
    return JSONResponse({"agent": request.state.caller.agent})


class Cast:
    """PS + supply-chain resource on one ``Hosts``; keys found by HTTP discovery."""

    def __init__(self, mode: str, data_dir, *, pending_ttl: float = 600):
        self.hosts = Hosts(mode)
        resolver = HttpResolver(self.hosts.fetch())
        self.ps = PersonServer(
            PS,
            key=PS_KEY,
            resolver=resolver,
            data_dir=data_dir,
            pending_ttl=pending_ttl,
            policy=ConsentPolicy(),
        )
        self.resource = Resource(SCA, key=SCA_KEY, resolver=resolver, name="Supply-chain agent")
        routes = [
            self.resource.route("/optimize", optimize, methods=["POST"], access="auth-token", scope=OPTIMIZE),
            self.resource.route("/check", check, access="auth-token", scope=CHECK),
            self.resource.route("/inventory", inventory, access="agent-token"),
        ]
        self.hosts.add(PS, self.ps.app)
        self.hosts.add(SCA, self.resource.app(routes))
        self.trace = Trace(names={PS: "PS", SCA: "SCA"})

    def agent(self, **options) -> Agent:
        options.setdefault("sleep", lambda seconds: None)
        options.setdefault("wait", 5)
        return Agent(AGENT_KEY, self.ps.issue_agent_token("backend", AGENT_KEY), **options)

    def client(self, agent: Agent):
        return self.hosts.client(
            auth=agent.auth(justification="Optimize the laptop supply chain"),
            event_hooks=self.trace.sync_event_hooks("Backend"),
            timeout=HANG_GUARD,
        )

    def ps_exchanges(self) -> list[str]:
        return [e.summary() for e in self.trace.exchanges if e.target == "PS"]

    def close(self):
        self.hosts.stop()


@pytest.fixture
def cast(tmp_path):
    cast = Cast("socket", tmp_path)
    yield cast
    cast.close()


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


# -- no person asked -----------------------------------------------------------------------------
def test_agent_identity_route_needs_nothing_but_the_agent_token(cast):
    """-11 "Agent Identity Access" — one signed request, no PS."""
    with cast.client(cast.agent()) as client:
        response = client.get(f"{SCA}/inventory")
    assert response.json() == {"agent": "aauth:backend@ps.example"}
    assert [e.summary() for e in cast.trace.exchanges] == ["GET /inventory → 200"]


def test_policy_granted_flow_asks_no_person(cast):
    """-11 "PS Response": a scope outside the consent policy is granted at once (200, no 202)."""
    told = []
    agent = cast.agent(on_interaction=told.append)
    with cast.client(agent) as client:
        response = client.get(f"{SCA}/check")
    assert response.status_code == 200 and response.json()["checked"] is True
    assert told == []
    assert [f"{e.target} {e.summary()}" for e in cast.trace.exchanges] == [
        "SCA GET /check → 401 (requirement=person-token)",
        "PS GET /.well-known/aauth-person.json → 200",
        "PS POST /person-token → 200",
        "PS GET /.well-known/jwks.json → 200",  # -11 "Auth Token Response Verification"
        "SCA GET /check → 401 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "SCA GET /check → 200",
    ]
    auth = claims(agent.auth_token_for(SCA))
    # -11 "Auth Token Structure" as the contract states it
    assert (auth["iss"], auth["aud"], auth["ps"], auth["scope"]) == (PS, SCA, PS, CHECK)
    assert auth["cnf"]["jwk"]["x"] == AGENT_KEY.public_jwk()["x"]
    assert auth["sub"] == claims(agent.person_token_for(SCA))["sub"] == response.json()["person"]


def test_cached_tokens_make_the_second_call_without_the_ps(cast):
    agent = cast.agent()
    with cast.client(agent) as client:
        client.get(f"{SCA}/check")
        before = len(cast.ps_exchanges())
        assert client.get(f"{SCA}/check").status_code == 200
    assert len(cast.ps_exchanges()) == before
    assert cast.trace.exchanges[-1].summary() == "GET /check → 200"


def test_step_up_presents_the_auth_token_held(cast):
    """-11 "Auth Token Required": a request bearing an auth token that lacks the scope gets a new resource
    token with presented_jti = that auth token's jti; the agent presents it to the PS."""
    agent = cast.agent(on_interaction=lambda interaction: cast.ps.decide(interaction.code, True))
    with cast.client(agent) as client:
        client.get(f"{SCA}/check")
        check_token = agent.auth_token_for(SCA)
        cast.trace.clear()
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert [e.summary() for e in cast.trace.exchanges][0] == "POST /optimize → 401 (requirement=auth-token)"
    assert "POST /person-token → 200" not in cast.ps_exchanges()
    request = next(e.request for e in cast.trace.exchanges if e.request.target_uri == f"{PS}/auth-token")
    assert json.loads(request.body)["presented_token"] == check_token


def test_a_revoked_auth_token_is_replaced(cast):
    """-11 "Auth Token Required", "Token Revocation": revoked_jwt + requirement=person-token → a fresh person token, then a
    fresh auth token; the resource never re-challenges the revoked one with auth-token."""
    agent = cast.agent()
    with cast.client(agent) as client:
        client.get(f"{SCA}/check")
        old = claims(agent.auth_token_for(SCA))
        cast.resource.revocations.revoke(old["iss"], old["jti"])
        cast.trace.clear()
        assert client.get(f"{SCA}/check").status_code == 200
    assert [f"{e.target} {e.summary()}" for e in cast.trace.exchanges] == [
        "SCA GET /check → 401 (requirement=person-token)",
        "PS POST /person-token → 200",
        "SCA GET /check → 401 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "SCA GET /check → 200",
    ]
    assert claims(agent.auth_token_for(SCA))["jti"] != old["jti"]


# -- consent (-11 "User Interaction") --------------------------------------------------------------------------
def test_consent_approved_from_the_interaction_callback(cast):
    """202 + interaction code → the person approves (PersonServer.decide) → the poll returns
    the auth token → retry → 200."""
    told = []

    def approve(interaction: Interaction):
        told.append(interaction)
        cast.ps.decide(interaction.code, True)

    agent = cast.agent(on_interaction=approve)
    with cast.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json={"units": 3})
    assert response.status_code == 200 and response.json()["scopes"] == [OPTIMIZE]
    (interaction,) = told
    assert interaction.url == f"{PS}/interaction" and interaction.pending_url.startswith(f"{PS}/pending/")
    assert (interaction.resource, interaction.scope) == (SCA, OPTIMIZE)
    assert "POST /auth-token → 202 (requirement=interaction)" in cast.ps_exchanges()
    assert claims(agent.auth_token_for(SCA))["scope"] == OPTIMIZE


def test_consent_through_the_rest_api_while_the_agent_polls(cast):
    """The seed's way: the person logs in and decides through the consent REST API from
    another thread; the held poll (Prefer: wait) returns the auth token."""
    errors = []

    def person_consents(interaction: Interaction):
        def run():
            try:
                with cast.hosts.client(timeout=HANG_GUARD) as person:
                    login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
                    person.headers["Authorization"] = f"Bearer {login.json()['session']}"
                    consent = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
                    assert (consent["resource"], consent["scope"]) == (SCA, OPTIMIZE)
                    answer = person.post(
                        f"{PS}/consent/{consent['pending_id']}/decision", json={"approved": True}
                    )
                    assert answer.json()["status"] == "approved"
            except Exception as exc:  # reported by the test thread
                errors.append(exc)

        threading.Thread(target=run, daemon=True).start()

    agent = cast.agent(on_interaction=person_consents, wait=HANG_GUARD)
    with cast.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json={})
    assert errors == []
    assert response.status_code == 200


def test_denial_ends_the_flow_with_denied(cast):
    """-11 polling error ``denied`` (403)."""
    agent = cast.agent(on_interaction=lambda interaction: cast.ps.decide(interaction.code, False))
    with cast.client(agent) as client, pytest.raises(FlowError) as caught:
        client.post(f"{SCA}/optimize", json={})
    assert (caught.value.code, caught.value.status) == ("denied", 403)
    assert agent.auth_token_for(SCA) is None


def test_unanswered_consent_expires(tmp_path):
    """-11 polling error ``expired`` (408) once the pending request outlives its lifetime."""
    cast = Cast("socket", tmp_path, pending_ttl=1)
    try:
        told = []
        agent = cast.agent(on_interaction=told.append, wait=2)
        with cast.client(agent) as client, pytest.raises(FlowError) as caught:
            client.post(f"{SCA}/optimize", json={})
        assert (caught.value.code, caught.value.status) == ("expired", 408)
        assert len(told) == 1
    finally:
        cast.close()


# -- async and ASGI ------------------------------------------------------------------------------
def test_async_client_consent_flow(cast):
    agent = cast.agent(on_interaction=lambda interaction: cast.ps.decide(interaction.code, True))

    async def run():
        async with cast.hosts.async_client(
            auth=agent.auth(), event_hooks=cast.trace.event_hooks("Backend"), timeout=HANG_GUARD
        ) as client:
            first = await client.post(f"{SCA}/optimize", json={})
            second = await client.post(f"{SCA}/optimize", json={})
            return first, second

    first, second = asyncio.run(run())
    assert first.status_code == second.status_code == 200
    assert cast.trace.exchanges[-1].summary() == "POST /optimize → 200"


def test_asgi_mode_consent_flow(tmp_path):
    cast = Cast("asgi", tmp_path)
    try:
        agent = cast.agent(on_interaction=lambda interaction: cast.ps.decide(interaction.code, True))
        with cast.client(agent) as client:
            assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    finally:
        cast.close()
