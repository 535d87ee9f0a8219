"""Four-party interop with introspection-aauth 0.1.0's Access Server (pinned like the other
peer tests), over loopback sockets: the kit's agent and PS in a Lab, the parts catalog naming
the peer's AS as its Access Server (-11 "Federated Authorization Access (Four-Party)").

What the peer does: it takes the PS's request signed ``sig=jwks_uri`` under
``aauth-person.json`` from the Person Servers it trusts, verifies the resource token against the
resource's keys (``aud`` = itself), the agent token against its Agent Provider's, and the person
token the resource saw (its ``jti`` = the resource token's ``presented_jti``) against the PS's;
asks its policy (here: allow) and answers ``200`` with an ``aa-auth+jwt`` (``dwk``
``aauth-access.json``, ``ps`` = the kit's PS) that the kit's PS verifies and hands on.

Where the peer knowingly differs from -11 the difference is asserted, not hidden: its token
request model requires a ``presented_token`` member, which -11 "PS-to-AS Token Request" does
not define (the request parameters are ``resource_token``, ``agent_token`` and the optional
``subagent_token`` and ``upstream_token``), so the kit's PS, sending what -11 defines, is
refused ``400 invalid_request`` and relays it to the agent.  With that one member added —
by hand, or by a shim at the kit PS's egress that adds the person token the agent presented
and signs the request again as the kit's PS — the peer serves the kit's PS, and the kit's agent
completes the four-party flow end to end: agent → catalog ``401`` + resource token (``aud`` =
the peer AS) → kit PS ``/auth-token`` → peer AS ``/token`` → auth token → catalog ``200``.
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
from aauth_kit.http_client import httpx
from aauth_kit.jws import decode_unverified
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

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


def test_peer_access_server_requires_presented_token_which_minus_11_does_not_define(lab):
    """The kit's PS sends the -11 request; the peer refuses it for lack of presented_token, and
    the kit's PS relays its 400 invalid_request to the agent."""
    agent = lab.new_agent("interop")
    with lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.get(f"{lab.identifiers['catalog']}/parts")
    assert (caught.value.code, caught.value.status) == ("invalid_request", 400)
    (federation,) = [ex for ex in lab.trace.exchanges if ex.source == "PS"]
    assert federation.request.target_uri == f"{PEER_AS}/token"
    assert sorted(json.loads(federation.request.body)) == ["agent_token", "resource_token"]
    assert federation.response.status == 400
    refusal = json.loads(federation.response.body)
    assert (refusal["error"], refusal["detail"]) == ("invalid_request", "Field required")


def test_peer_access_server_serves_the_kit_ps_with_presented_token_and_the_catalog_takes_its_token(lab):
    """The same request signed by the kit's PS (``sig=jwks_uri``), plus the peer's
    ``presented_token``: the peer issues an AS auth token, and the kit's catalog accepts it."""
    agent = lab.new_agent("interop")
    with lab.client(agent) as client, pytest.raises(FlowError):
        client.get(f"{lab.identifiers['catalog']}/parts")
    sent = json.loads(next(ex for ex in lab.trace.exchanges if ex.source == "PS").request.body)
    asked = json.loads(
        next(ex for ex in lab.trace.exchanges if ex.request.target_uri.endswith("/auth-token")).request.body
    )
    body = json.dumps({**sent, "presented_token": asked["presented_token"]}).encode()
    message = HttpMessage("POST", f"{PEER_AS}/token", [("Content-Type", "application/json")], body)
    lab.ps.context.revoker.sign(message)
    response = lab.send(message, source="PS").response
    assert response.status == 200, response.body
    auth_token = json.loads(response.body)["auth_token"]
    claims = decode_unverified(auth_token).payload
    assert (claims["iss"], claims["dwk"], claims["aud"], claims["ps"]) == (
        PEER_AS,
        ACCESS_DWK,
        lab.identifiers["catalog"],
        lab.identifiers["ps"],
    )
    request = HttpMessage("GET", f"{lab.identifiers['catalog']}/parts")
    sign_request(request, agent.key, jwt_key(auth_token), created=int(lab.clock()))
    assert lab.send(request).response.status == 200


class PresentedTokenShim(httpx.AsyncBaseTransport):
    """The kit PS's egress to the peer AS, plus the peer's ``presented_token``: the request the
    kit's PS signed is kept in :attr:`sent`, the person token the agent presented is added, and
    the request is signed again as the kit's PS (``sig=jwks_uri``)."""

    def __init__(self, inner, lab: Lab, presented):
        self.inner, self.lab, self.presented, self.sent = inner, lab, presented, []

    async def handle_async_request(self, request):
        if request.method == "POST" and str(request.url) == f"{PEER_AS}/token":
            body = json.loads(await request.aread())
            self.sent.append(body)
            content = json.dumps({**body, "presented_token": self.presented()}).encode()
            message = HttpMessage("POST", str(request.url), [("Content-Type", "application/json")], content)
            self.lab.ps.context.revoker.sign(message)
            request = httpx.Request("POST", request.url, headers=message.headers, content=message.body)
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


def test_peer_access_server_four_party_flow_of_the_kit_agent_end_to_end(lab):
    """The kit's agent's own flow through the kit's PS and the peer's AS, with the shim adding the
    peer's ``presented_token``: the catalog answers ``200`` with the peer AS's auth token."""
    agent = lab.new_agent("interop")
    catalog = lab.identifiers["catalog"]
    shim = PresentedTokenShim(lab.hosts.transport(), lab, lambda: agent.person_token_for(catalog))
    hooks = lab.trace.event_hooks("PS")
    lab.ps.context.client_factory = lambda **options: httpx.AsyncClient(
        transport=shim, event_hooks=hooks, **options
    )
    with lab.client(agent) as client:
        response = client.get(f"{catalog}/parts")
    assert response.status_code == 200, response.text
    (sent,) = shim.sent
    assert sorted(sent) == ["agent_token", "resource_token"]  # what -11 defines, as the kit's PS sent it
    assert decode_unverified(sent["resource_token"]).payload["aud"] == PEER_AS
    auth = decode_unverified(agent.auth_token_for(catalog)).payload
    assert (auth["iss"], auth["dwk"], auth["aud"], auth["ps"]) == (
        PEER_AS,
        ACCESS_DWK,
        catalog,
        lab.identifiers["ps"],
    )
    assert auth["cnf"]["jwk"]["x"] == agent.key.public_jwk()["x"]
