"""Four-party interop with introspection-aauth 0.1.0's Access Server (pinned like the other
peer tests), over loopback sockets: the kit's agent and PS in a Lab, the parts catalog naming
the peer's AS as its Access Server (-11 "Federated Authorization Access (Four-Party)").

What the peer does: it takes the PS's request signed ``sig=jwks_uri`` under
``aauth-person.json`` from the Person Servers it trusts, verifies the resource token against the
resource's keys (``aud`` = itself), the agent token against its Agent Provider's, and the person
token the resource saw (its ``jti`` = the resource token's ``presented_jti``) against the PS's;
asks its policy (here: allow) and answers ``200`` with an ``aa-auth+jwt`` (``dwk``
``aauth-access.json``, ``ps`` = the kit's PS) that the kit's PS verifies and hands on.

Both follow published -11 "PS-to-AS Token Request": the PS sends ``resource_token``,
``agent_token`` and ``presented_token``, and the kit's agent completes the four-party flow
end to end: agent → catalog ``401`` + resource token (``aud`` = the peer AS) → kit PS
``/auth-token`` → peer AS ``/token`` → auth token → catalog ``200``.  Where the peer knowingly
differs from -11 the difference is asserted, not hidden: it serves no ``subagent_token`` (nor
``upstream_token``), which -11 makes OPTIONAL.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from introspection_aauth.access_server import AccessServer, MemoryStore, Verdict
from introspection_aauth.protocol.keys import SigningKey
from starlette.applications import Starlette
from starlette.routing import Route

from aauth_kit.flow import FlowError
from aauth_kit.jws import decode_unverified
from aauth_kit.lab import Lab
from aauth_kit.metadata import ACCESS_DWK

from .peer_apps import peer_app, signed

PEER_AS = "https://peer-as.example"


def peer_as_app(server: AccessServer) -> Starlette:
    """The peer AS's documents, token endpoint and pending URL as an HTTP app."""
    return peer_app(
        server,
        "access",
        [
            Route("/token", signed(lambda request, _: server.token(request)), methods=["POST"]),
            Route(
                "/pending/{pending_id}",
                signed(lambda request, path: server.poll(request, path["pending_id"])),
            ),
        ],
    )


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        ps, catalog = lab.identifiers["ps"], lab.identifiers["catalog"]
        peer = AccessServer(
            PEER_AS,
            SigningKey.from_seed(hashlib.sha256(b"peer-as").digest()),
            lambda request: Verdict.allow(),
            resources=[catalog],
            person_servers=[ps],
            agent_providers=[ps],  # the lab's Agent Provider lives at the PS's identifier
            http=lab.hosts.async_client(),
            store=MemoryStore(),
            clock=lambda: int(lab.clock()),
        )
        lab.hosts.add(PEER_AS, peer_as_app(peer))
        lab.catalog.resource.access_server = PEER_AS
        yield lab


def test_peer_access_server_metadata_is_read_by_the_kit(lab):
    with lab.client() as client:
        document = client.get(f"{PEER_AS}/.well-known/{ACCESS_DWK}").json()
    assert document["issuer"] == PEER_AS and document["auth_token_endpoint"] == f"{PEER_AS}/token"
    assert document["jwks_uri"] == f"{PEER_AS}/.well-known/aauth-access-jwks.json"


def test_kit_agent_completes_the_four_party_flow_through_the_peer_access_server(lab):
    """-11 "Federated Authorization Access (Four-Party)" end to end: the kit's agent calls the
    catalog, takes its resource token (``aud`` = the peer's AS) to the kit's PS, which signs
    the -11 request to the peer's AS (``resource_token``, ``agent_token``, ``presented_token``);
    the peer issues an AS auth token, the kit's PS verifies and delivers it, and the catalog
    serves the agent with it."""
    agent = lab.new_agent("interop")
    with lab.client(agent) as client:
        response = client.get(f"{lab.identifiers['catalog']}/parts")
    assert response.status_code == 200, response.text
    (federation,) = [ex for ex in lab.trace.exchanges if ex.source == "PS"]
    assert federation.request.target_uri == f"{PEER_AS}/token"
    assert sorted(json.loads(federation.request.body)) == ["agent_token", "presented_token", "resource_token"]
    assert federation.response.status == 200
    claims = decode_unverified(agent.auth_token_for(lab.identifiers["catalog"])).payload
    assert (claims["iss"], claims["dwk"], claims["aud"], claims["ps"]) == (
        PEER_AS,
        ACCESS_DWK,
        lab.identifiers["catalog"],
        lab.identifiers["ps"],
    )
    assert claims["cnf"]["jwk"]["x"] == agent.key.public_jwk()["x"]


def test_peer_access_server_serves_no_subagent_token(lab):
    """A difference, asserted: the peer answers ``400 invalid_request`` ("call chaining and
    sub-agents are not served here") to a ``subagent_token`` that -11 "PS-to-AS Token Request"
    defines as OPTIONAL; the kit's PS relays the AS's refusal to the parent agent."""
    from aauth_kit.subagents import create_subagent

    parent = lab.new_agent("planner")
    with lab.client() as client:
        sub = create_subagent(parent, client, "search1", key=lab.key("sub/search1"))
    with lab.client(sub) as client, pytest.raises(FlowError) as caught:
        client.get(f"{lab.identifiers['catalog']}/parts")
    assert (caught.value.code, caught.value.status) == ("invalid_request", 400)
    (federation,) = [ex for ex in lab.trace.exchanges if ex.source == "PS"]
    assert "subagent_token" in json.loads(federation.request.body)
    assert federation.response.status == 400
