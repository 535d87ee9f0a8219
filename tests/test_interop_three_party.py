"""Three-party interop with introspection-aauth 0.1.0's Person Server (pinned like the other
peer tests), over loopback sockets (-11 "PS Authorization Access (Three-Party)").

The kit's real :class:`~aauth_kit.agent.Agent`, enrolled at the lab's Agent Provider, whose
person chose the peer as the agent's Person Server (``PUT /agents/person-server``: the agent
token's ``ps`` names the peer, -11 "Agent Token Structure"), calls a kit resource whose resource
tokens go to the PS behind the person token (``aud`` = the peer).  Nobody enrolls the agent at
the peer by hand: the agent sends ``login_hint`` (-11 "Agent Token Request") and the peer binds
the agent's key to the person the hint names, then asks that person (through its own approval
API, as its host's page would) to approve the mission.

What the peer does, and where it knowingly differs from -11 (asserted, not hidden):

* it trusts the Agent Providers it is configured with and refuses an agent token whose ``ps``
  names another Person Server (``403 invalid_request``, where -11 "Token Endpoint Error Codes"
  gives ``invalid_request`` the status 400) — which is why the person's choice at the Agent
  Provider matters;
* it finds the person from ``login_hint`` at the person token endpoint (the first hint binds
  the key), where -11 "Person Token Endpoint" issues "for the person bound to the requesting
  agent" and "Bootstrapping" binds through the interaction flow: without a hint and without a
  binding it answers ``400 invalid_request``;
* it issues auth tokens only within a mission (``403 access_denied``), where -11 "Missions"
  says "an agent can get auth tokens without a mission";
* its token request needs ``presented_token``, which -11 "Agent Token Request" does not define
  (the kit's agent sends it: the kit's own PS reads it too).

As -11 has it, the peer answers a mission proposal ``202`` with ``requirement=approval`` (-11
"Approval Pending"): its person approves out of band and the agent just polls; the approval
carries a person token for each resource the proposal named (-11 "Mission Approval"), bound to
the mission, which the resource copies into its resource token as ``mission_s256`` (-11
"Resource Token Structure").
"""

from __future__ import annotations

import hashlib
import json

import pytest
from aauth_kit.servers.ps.store.persons import PersonAccount
from introspection_aauth.person_server import MemoryStore, PersonServer
from introspection_aauth.person_server.models import ApprovalStatus
from introspection_aauth.protocol.keys import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit.agent import Agent
from aauth_kit.flow import FlowError
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.resource import Resource

from .ap_choice import choose, register, session
from .peer_apps import peer_app, signed

PEER_PS = "https://peer-ps.example"
RES = "https://notes.example"
SCOPE = "notes:read"
ALICE = PersonAccount("alice", "alice-password")


def peer_ps_app(server: PersonServer) -> Starlette:
    """The peer PS's documents and signed endpoints as an HTTP app (its methods, our routing)."""
    return peer_app(
        server,
        "person",
        [
            Route("/aauth/person-token", signed(lambda s, _: server.person_token(s)), methods=["POST"]),
            Route("/aauth/token", signed(lambda s, _: server.auth_token(s)), methods=["POST"]),
            Route("/aauth/mission", signed(lambda s, _: server.propose_mission(s)), methods=["POST"]),
            Route(
                "/aauth/pending/{tenant}/{approval}",
                signed(lambda s, p: server.poll(s, p["tenant"], p["approval"])),
            ),
        ],
    )


class PeerWorld:
    """The lab, the peer PS (trusting the lab's Agent Provider), a kit resource, and the person
    ``alice`` at both: she approves at the peer whatever waits for her while the agent polls."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.waiting: list[tuple[str, str]] = []

        async def on_approval(tenant, approval):
            self.waiting.append((tenant, approval.id))

        self.peer = PersonServer(
            PEER_PS,
            SigningKey.from_seed(hashlib.sha256(b"peer-ps").digest()),
            MemoryStore(),
            subject_secret=b"interop",
            agent_providers=[lab.identifiers["ps"]],
            http=lab.hosts.async_client(),
            endpoint_base=f"{PEER_PS}/aauth",
            default_tenant="acme",
            clock=lambda: int(lab.clock()),
            on_approval=on_approval,
        )
        lab.hosts.add(PEER_PS, peer_ps_app(self.peer))
        self.resource = Resource(
            RES, key=Key.from_seed("interop/notes", kid="notes"), resolver=lab.resolver, clock=lab.clock
        )

        async def notes(request: Request):
            return JSONResponse({"notes": ["buy bolts"], "sub": request.state.caller.token.sub})

        lab.hosts.add(RES, self.resource.app([self.resource.route("/notes", notes, scope=SCOPE)]))

    def approve(self, seconds: float = 0) -> None:
        """Alice approves at the peer (its ``decide``) every approval waiting for her; the agent's
        pause between polls (``Agent(sleep=…)``)."""
        while self.waiting:
            tenant, approval = self.waiting.pop(0)
            decided = get_loop_thread().run(
                self.peer.decide(tenant, approval, ApprovalStatus.APPROVED, decided_by="alice")
            )
            assert decided is not None and decided.status is ApprovalStatus.APPROVED

    def agent_at_peer(self, local: str = "helper", **options) -> Agent:
        """A lab agent of alice's whose person chose the peer PS, with its fresh agent token."""
        enrolled = self.lab.new_agent(local, person="alice")
        alice = session(self.lab, ALICE.username, ALICE.password)
        assert choose(self.lab, alice, f"aauth:{local}@ps.example", PEER_PS)[0] == 200
        token = register(self.lab, enrolled.key, local)
        return Agent(enrolled.key, token, clock=self.lab.clock, sleep=self.approve, **options)


@pytest.fixture
def world(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path, persons=[ALICE]) as lab:
        yield PeerWorld(lab)


def test_three_party_the_agent_token_names_the_peer_the_person_chose(world):
    agent = world.agent_at_peer()
    claims = decode_unverified(agent.agent_token).payload
    assert (claims["iss"], claims["ps"]) == (world.lab.identifiers["ps"], PEER_PS)
    assert agent.ps == PEER_PS


def test_three_party_peer_refuses_an_agent_whose_token_names_another_ps(world):
    """Without the person's choice the agent token names the lab's PS; sent to the peer anyway
    (``Agent(ps=…)``), the agent is refused ``403 invalid_request``."""
    enrolled = world.lab.new_agent("stray", person="alice")
    agent = Agent(enrolled.key, enrolled.agent_token, ps=PEER_PS, clock=world.lab.clock, login_hint="alice")
    with world.lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.get(f"{RES}/notes")
    assert (caught.value.code, caught.value.status) == ("invalid_request", 403)
    assert decode_unverified(agent.agent_token).payload["ps"] == world.lab.identifiers["ps"]


def test_three_party_peer_asks_for_login_hint_where_minus_11_binds_the_agent_first(world):
    """Without a binding the peer needs a hint: the kit's agent without ``login_hint`` is
    refused ``400 invalid_request`` at the person token endpoint."""
    agent = world.agent_at_peer()
    with world.lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.get(f"{RES}/notes")
    assert (caught.value.code, caught.value.status) == ("invalid_request", 400)
    assert "login_hint" in caught.value.detail


def test_three_party_peer_issues_auth_tokens_only_within_a_mission(world):
    """With ``login_hint`` the peer issues the person token (no enrollment: it binds the key to
    alice) and the resource answers with a resource token for the peer; the peer refuses the
    auth token outside a mission, ``403 access_denied``."""
    agent = world.agent_at_peer(login_hint="alice")
    with world.lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.get(f"{RES}/notes")
    assert (caught.value.code, caught.value.status) == ("access_denied", 403)
    person_token = decode_unverified(agent.person_token_for(RES)).payload
    assert (person_token["iss"], person_token["aud"], person_token["tenant"]) == (PEER_PS, RES, "acme")
    (asked,) = [ex for ex in world.lab.trace.exchanges if ex.request.target_uri == f"{PEER_PS}/aauth/token"]
    resource_token = decode_unverified(json.loads(asked.request.body)["resource_token"]).payload
    assert (resource_token["aud"], resource_token["ps"]) == (PEER_PS, PEER_PS)
    assert resource_token["presented_jti"] == person_token["jti"]
    assert "mission_s256" not in resource_token


def test_three_party_kit_agent_completes_the_flow_at_the_peer_without_hand_enrollment(world):
    """The whole flow, the agent's own: person token (``login_hint``) → resource 401 + resource
    token → peer token endpoint 403 (no mission) → mission proposed, 202, approved by alice at
    the peer, polled to 200 with a person token for the resource → resource 401 + resource token
    carrying ``mission_s256`` → peer auth token → resource 200."""
    agent = world.agent_at_peer(login_hint="alice")
    with world.lab.client(agent) as client:
        with pytest.raises(FlowError):
            client.get(f"{RES}/notes")
        mission = agent.start_mission(client, "Read alice's notes", resources=[RES])
        response = client.get(f"{RES}/notes")
    assert response.status_code == 200, response.text
    auth = decode_unverified(agent.auth_token_for(RES)).payload
    assert (auth["iss"], auth["aud"], auth["scope"], auth["mission_s256"]) == (
        PEER_PS,
        RES,
        SCOPE,
        mission.s256,
    )
    assert response.json()["sub"] == auth["sub"]
    calls = [
        ex.request.target_uri for ex in world.lab.trace.exchanges if ex.request.target_uri.startswith(PEER_PS)
    ]
    assert f"{PEER_PS}/aauth/mission" in calls and calls.count(f"{PEER_PS}/aauth/token") == 2
    assert not any(uri.startswith(world.lab.identifiers["ps"] + "/auth-token") for uri in calls)
