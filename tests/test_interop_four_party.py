"""Four-party interop with introspection-aauth 0.1.0's Access Server (pinned like the other
peer tests), over loopback sockets: the kit's agent and PS in a Lab, the parts catalog naming
the peer's AS as its Access Server (-11 "Federated Authorization Access (Four-Party)").

Where the peer knowingly differs from -11 the difference is asserted, not hidden: its token
request model requires a ``presented_token`` member, which -11 "PS-to-AS Token Request" does
not define (the request parameters are ``resource_token``, ``agent_token`` and the optional
``subagent_token`` and ``upstream_token``), so the kit's PS, sending what -11 defines, is
refused ``400 invalid_request``.  With that one member added the peer serves the kit's PS
and the kit's catalog takes the peer's auth token.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from introspection_aauth.access_server import AccessServer, MemoryStore, Verdict
from introspection_aauth.protocol.errors import AAuthError as PeerAAuthError
from introspection_aauth.protocol.httpsig import SignedRequest
from introspection_aauth.protocol.keys import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.flow import FlowError
from aauth_kit.jws import decode_unverified
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK

PEER_AS = "https://peer-as.example"


def peer_as_app(server: AccessServer) -> Starlette:
    """The peer AS's documents, token endpoint and pending URL as an HTTP app."""

    def handler(call):
        async def endpoint(request: Request):
            signed = SignedRequest(
                request.method, str(request.url), dict(request.headers), await request.body()
            )
            try:
                answer = await call(signed, request)
            except PeerAAuthError as exc:
                answer = exc.answer()
            return Response(answer.content(), answer.status, answer.headers, media_type="application/json")

        return endpoint

    documents = {
        "/.well-known/aauth-access.json": server.metadata().model_dump(exclude_none=True),
        "/.well-known/aauth-access-jwks.json": server.jwks().model_dump(exclude_none=True),
    }

    async def document(request: Request):
        return JSONResponse(documents[request.url.path])

    return Starlette(
        routes=[
            *(Route(path, document) for path in documents),
            Route("/token", handler(lambda signed, _: server.token(signed)), methods=["POST"]),
            Route(
                "/pending/{pending_id}",
                handler(lambda signed, request: server.poll(signed, request.path_params["pending_id"])),
            ),
        ]
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
    from aauth_kit.profile import sign_request
    from aauth_kit.signature_key import jwt_key

    request = HttpMessage("GET", f"{lab.identifiers['catalog']}/parts")
    sign_request(request, agent.key, jwt_key(auth_token), created=int(lab.clock()))
    assert lab.send(request).response.status == 200
