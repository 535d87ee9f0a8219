"""Cross-checks with introspection-aauth 0.1.0, an AAuth -11 Person Server / Access Server
this project did not write.

Both directions, over real HTTP on loopback sockets (``runtime.Hosts``):

* its AAuth verifier (``verification.verify_agent`` for agents signing with ``sig=jwt``,
  ``verification.verify_server`` for servers signing with ``sig=jwks_uri``, discovery
  through its own ``Discovery``) accepts requests the kit signs, and its Person Server
  issues a person token to the kit's agent;
* the kit's ``profile.verify_request`` / ``verify_with_key`` accept requests its signer
  (``httpsig.sign``) produces, with tokens its issuer mints, and the kit's
  ``tokens.verify_token`` accepts its person token.

The peer's Person Server finds the person from ``login_hint`` at its person token endpoint
(the first hint binds the agent's key to that person; without hint or binding it answers ``400
invalid_request``), which is why the request below carries one.  The whole flows: the kit's agent
through the peer's PS (three-party, tests/test_interop_three_party.py) and through the kit's PS
and the peer's Access Server (four-party, tests/test_interop_four_party.py).

Where the peer knowingly differs from the drafts the difference is asserted, not hidden.
[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

import asyncio
import hashlib
import json

import pytest
from introspection_aauth.person_server import MemoryStore, PersonServer
from introspection_aauth.protocol import httpsig as peer_httpsig
from introspection_aauth.protocol import jwt as peer_jwt
from introspection_aauth.protocol.claims import AgentTokenClaims, Confirmation
from introspection_aauth.protocol.discovery import Discovery
from introspection_aauth.protocol.errors import AAuthError as PeerAAuthError
from introspection_aauth.protocol.errors import VerificationError
from introspection_aauth.protocol.httpsig import SignedRequest
from introspection_aauth.protocol.keys import SigningKey
from introspection_aauth.protocol.keys import jwks as peer_jwks
from introspection_aauth.protocol.verification import verify_agent, verify_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import tokens
from aauth_kit.claims import AGENT_TYP, PERSON_TYP
from aauth_kit.errors import SignatureError
from aauth_kit.http_client import make_fetch
from aauth_kit.httpsig import attach, sign
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, agent_metadata, person_metadata
from aauth_kit.profile import sign_request, verify_request, verify_with_key
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import hwk_key, jwks_uri_key, jwt_key

NOW = 1_790_000_000
AP, PS, AS, RES = "https://ap.example", "https://ps.example", "https://as.example", "https://resource.example"
PEER_AP, PEER_PS = "https://peer-ap.example", "https://peer-ps.example"

ap_key = Key.from_seed("interop-ap", kid="ap-1")
ps_key = Key.from_seed("interop-ps", kid="ps-1")
agent_key = Key.from_seed("interop-agent")
AGENT = "aauth:assistant@ap.example"


def peer_key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(name.encode()).digest())


peer_ap_key, peer_ps_key, peer_agent_key = map(peer_key, ("ap", "ps", "agent"))
PEER_AGENT = "aauth:helper@peer-ap.example"


def public_jwk(key: SigningKey) -> dict:
    return key.public_jwk.model_dump(exclude_none=True)


# -- the network: metadata and JWKS of every party, and the peer's Person Server -------------
def documents_app(documents: dict[str, dict], routes=()) -> Starlette:
    """Serve fixed JSON documents by path (well-known metadata, JWKS)."""

    async def serve(request: Request):
        doc = documents.get(request.url.path)
        return JSONResponse(doc) if doc is not None else JSONResponse({"error": "not_found"}, status_code=404)

    return Starlette(routes=[*routes, Route("/{path:path}", serve)])


def peer_person_server(http) -> PersonServer:
    """introspection-aauth's PS, trusting the kit's Agent Provider, clock pinned."""
    return PersonServer(
        PEER_PS,
        peer_ps_key,
        MemoryStore(),
        subject_secret=b"interop",
        agent_providers=[AP],
        http=http,
        endpoint_base=f"{PEER_PS}/aauth",
        default_tenant="acme",
        clock=lambda: NOW,
    )


def peer_ps_app(server: PersonServer) -> Starlette:
    """The peer PS's documents and its person token endpoint as an HTTP app."""

    async def person_token(request: Request):
        signed = SignedRequest(request.method, str(request.url), dict(request.headers), await request.body())
        try:
            answer = await server.person_token(signed)
        except PeerAAuthError as exc:
            answer = exc.answer()
        return Response(answer.content(), answer.status, answer.headers, media_type="application/json")

    documents = {
        "/.well-known/aauth-person.json": server.metadata().model_dump(exclude_none=True),
        "/.well-known/aauth-person-jwks.json": server.jwks().model_dump(exclude_none=True),
    }
    return documents_app(documents, [Route("/aauth/person-token", person_token, methods=["POST"])])


def well_known(dwk: str, metadata: dict, keys: dict) -> dict:
    """The two documents of key discovery: ``/.well-known/{dwk}`` and the JWKS it names."""
    return {f"/.well-known/{dwk}": metadata, "/.well-known/jwks.json": keys}


@pytest.fixture(scope="module")
def hosts():
    """Every party on loopback sockets.  ``hosts.peer_http`` is the HTTP client the peer uses
    for discovery, ``hosts.kit_fetch`` the kit's (for ``HttpResolver``), ``hosts.peer_ps``
    the peer's Person Server object."""
    with Hosts("socket") as hosts:
        hosts.peer_http = hosts.async_client()
        kit_transport = hosts.transport()
        hosts.kit_fetch = make_fetch(kit_transport)
        hosts.add(
            AP,
            documents_app(
                well_known(AGENT_DWK, agent_metadata(AP, f"{AP}/.well-known/jwks.json"), jwks([ap_key]))
            ),
        )
        ps_doc = person_metadata(PS, f"{PS}/.well-known/jwks.json", f"{PS}/token", f"{PS}/person-token")
        hosts.add(PS, documents_app(well_known(PERSON_DWK, ps_doc, jwks([ps_key]))))
        peer_ap_doc = {"issuer": PEER_AP, "jwks_uri": f"{PEER_AP}/.well-known/jwks.json"}
        hosts.add(
            PEER_AP,
            documents_app(
                well_known(AGENT_DWK, peer_ap_doc, peer_jwks([peer_ap_key]).model_dump(exclude_none=True))
            ),
        )
        hosts.peer_ps = peer_person_server(hosts.peer_http)
        hosts.add(PEER_PS, peer_ps_app(hosts.peer_ps))
        yield hosts
        run(hosts.peer_http.aclose())
        run(kit_transport.aclose())


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))  # a hang guard, not a timing assertion


# -- helpers: the kit's messages as the peer sees them, and back ------------------------------
def kit_request(method: str, url: str, body: bytes = b"", headers=()) -> HttpMessage:
    host = url.split("/")[2]
    return HttpMessage(method, url, [("Host", host), *headers], body)


def as_peer(message: HttpMessage) -> SignedRequest:
    """The kit's signed request handed to the peer verifier (it lower-cases names itself)."""
    headers = {name: message.header(name) for name, _ in message.headers}
    return SignedRequest(message.method, message.target_uri, headers, message.body or None)


def from_peer(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> HttpMessage:
    """A request the peer signed, as the kit's verifier receives it (the peer emits lower-case names)."""
    return kit_request(method, url, body, list(headers.items()))


def agent_token(**overrides) -> str:
    claims = dict(iss=AP, sub=AGENT, cnf=agent_key, iat=NOW - 60, exp=NOW + 3600, jti="agent-token-1")
    claims.update(overrides)
    return tokens.mint_agent_token(ap_key, **claims)


def peer_agent_token() -> str:
    """An agent token minted by the peer's own JWT code for its agent key."""
    claims = AgentTokenClaims(
        iss=PEER_AP,
        dwk="aauth-agent.json",
        jti="peer-agent-1",
        iat=NOW - 60,
        exp=NOW + 3600,
        sub=PEER_AGENT,
        cnf=Confirmation(jwk=peer_agent_key.public_jwk),
    )
    return peer_jwt.encode(claims, peer_ap_key, peer_jwt.AGENT_TOKEN)


def peer_code(message: HttpMessage, resolve=None) -> str:
    """The peer's Signature-Error code for a request (its httpsig.verify)."""
    with pytest.raises(VerificationError) as info:
        run(peer_httpsig.verify(as_peer(message), NOW, resolve))
    return info.value.code


def kit_code(message: HttpMessage, **options) -> str:
    with pytest.raises(SignatureError) as info:
        verify_with_key(message, agent_key, now=NOW, **options)
    return info.value.code


# -- the peer's verifier accepts the kit's requests ------------------------------------------
@pytest.mark.parametrize("method, body", [("GET", b""), ("POST", b'{"resource":"https://resource.example"}')])
def test_peer_verify_agent_accepts_kit_jwt_request(hosts, method, body):
    """[N] "HTTP Message Signatures Profile" + "Agent Token Verification": the kit's agent signs with its
    agent token in ``sig=jwt``; the peer checks the signature, fetches the AP's metadata and
    JWKS over HTTP, verifies the token and binds cnf.jwk to the signing key."""
    message = kit_request(method, f"{RES}/data", body)
    sign_request(message, agent_key, jwt_key(agent_token()), created=NOW)
    agent = run(verify_agent(as_peer(message), Discovery(hosts.peer_http), {AP}, NOW))
    assert (agent.id, agent.provider, agent.jkt) == (AGENT, AP, agent_key.thumbprint())


def test_peer_verify_server_accepts_kit_jwks_uri_request(hosts):
    """[SK] "JWKS URI Discovery (jwks_uri)" / [N] "PS-to-AS Token Request": a server signs in its own right with
    ``sig=jwks_uri;id;dwk;kid``; the peer discovers the PS's key and accepts it."""
    message = kit_request("POST", f"{AS}/token", b'{"resource_token":"x"}')
    sign_request(message, ps_key, jwks_uri_key(PS, PERSON_DWK, "ps-1"), created=NOW)
    issuer = run(verify_server(as_peer(message), Discovery(hosts.peer_http), {PS}, PERSON_DWK, NOW))
    assert issuer == PS


def test_peer_verify_accepts_kit_query_coverage(hosts):
    """RFC 9421 §2.2.7: ``@query`` is ``?`` + the query in both implementations."""
    message = kit_request("GET", f"{RES}/search?q=laptops&n=3")
    sign_request(message, agent_key, jwt_key(agent_token()), created=NOW, extra=("@query",))
    verified = run(peer_httpsig.verify(as_peer(message), NOW))
    assert verified.thumbprint == agent_key.thumbprint()


def test_peer_person_server_issues_a_person_token_the_kit_accepts(hosts):
    """[N] "Person Token Endpoint" end to end over HTTP: the kit's agent asks the peer's PS
    (``POST person_token_endpoint``, signed with its agent token, body covered); the peer
    answers 200 with an ``aa-person+jwt``; the kit verifies it against the peer's published
    JWKS and then accepts a resource request presenting it."""
    body = json.dumps({"resource": RES, "login_hint": "alice"}).encode()
    message = kit_request("POST", f"{PEER_PS}/aauth/person-token", body)
    sign_request(message, agent_key, jwt_key(agent_token()), created=NOW)

    async def flow():
        async with hosts.async_client() as client:
            headers = [(name, value) for name, value in message.headers if name.lower() != "host"]
            response = await client.post(message.target_uri, headers=headers, content=message.body)
        assert response.status_code == 200, response.text
        person_token = response.json()["person_token"]
        resolver = HttpResolver(hosts.kit_fetch)
        token = await tokens.verify_token(
            person_token,
            typ=PERSON_TYP,
            resolver=resolver,
            now=NOW,
            expected_aud=RES,
            signing_key_jwk=agent_key,
        )
        call = kit_request("GET", f"{RES}/data")
        sign_request(call, agent_key, jwt_key(person_token), created=NOW)
        verified = await verify_request(call, resolver=resolver, now=NOW, expected_aud=RES)
        return token, verified

    token, verified = run(flow())
    assert (token.iss, token.aud, token.dwk, token.alg) == (PEER_PS, RES, PERSON_DWK, "Ed25519")
    assert token.jkt == agent_key.thumbprint()
    assert verified.token.typ == PERSON_TYP and verified.token.sub == token.sub


# -- the kit's verifier accepts the peer's requests ------------------------------------------
@pytest.mark.parametrize(
    "method, url, body",
    [
        ("GET", f"{RES}/data", b""),
        ("GET", f"{RES}/search?q=laptops", b""),  # the peer covers @query whenever there is one
        ("POST", f"{PS}/token", b'{"resource_token":"x","presented_token":"y"}'),
    ],
)
def test_kit_verify_request_accepts_peer_jwt_request(hosts, method, url, body):
    """[N] "Verification (Server)" steps 1-7 on a request the peer signed, presenting an
    agent token the peer minted: the kit fetches the peer AP's metadata and JWKS over HTTP,
    verifies the token (typ, alg, dwk, kid, exp, cnf) and the signature."""
    headers = peer_httpsig.sign(
        peer_agent_key, peer_httpsig.jwt_key(peer_agent_token()), method, url, body=body or None, created=NOW
    )
    message = from_peer(method, url, headers, body)
    verified = run(
        verify_request(message, resolver=HttpResolver(hosts.kit_fetch), now=NOW, body_required=bool(body))
    )
    assert verified.token.typ == AGENT_TYP and verified.token.sub == PEER_AGENT
    assert verified.key.thumbprint() == peer_agent_key.kid  # the peer's kid is the RFC 7638 thumbprint


def test_kit_verify_request_accepts_peer_jwks_uri_request(hosts):
    """[SK] "JWKS URI Discovery (jwks_uri)": the peer's PS signs as itself (``Identity.signed``, ``sig=jwks_uri``); the
    kit resolves ``{id}/.well-known/{dwk}`` → ``jwks_uri`` → ``kid`` over HTTP and verifies."""
    body = b'{"jti":"t-1","exp":1790000600}'
    headers = hosts.peer_ps.identity.signed("POST", f"{RES}/revoke", body, NOW)
    message = from_peer("POST", f"{RES}/revoke", headers, body)
    verified = run(
        verify_request(
            message,
            resolver=HttpResolver(hosts.kit_fetch),
            now=NOW,
            accept_schemes=("jwks_uri",),
            body_required=True,
        )
    )
    assert verified.scheme == "jwks_uri" and verified.key.thumbprint() == peer_ps_key.kid
    # the same request with the key in hand
    assert verify_with_key(message, Key.from_jwk(public_jwk(peer_ps_key)), now=NOW).label == "sig"


# -- both verifiers give the same Signature-Error code for the same bad request -------------
def _signed(mutate=None, *, components=None, created=NOW, body=b""):
    message = kit_request("POST" if body else "GET", f"{RES}/data", body)
    sign_request(message, agent_key, jwt_key(agent_token()), created=created, components=components)
    if mutate:
        mutate(message)
    return message


@pytest.mark.parametrize(
    "make, code",
    [
        # [N] verification step 3: created older than the 60 s window
        (lambda: _signed(created=NOW - 61), "invalid_signature"),
        # [N] step 3: created ahead of the clock by more than the window
        (lambda: _signed(created=NOW + 61), "clock_skew"),
        # [N] step 2: @method @authority @path signature-key must be covered
        (lambda: _signed(components=["@method", "@authority", "@path"]), "invalid_input"),
        # [N] step 7: a covered component changed after signing
        (lambda: _signed(lambda m: setattr(m, "target_uri", f"{RES}/admin")), "invalid_signature"),
        # [SK] "X.509 Certificates (x509)": not implemented by either
        (
            lambda: _signed(
                lambda m: m.set_header("Signature-Key", 'sig=x509;x5u="https://x.example/c.pem"')
            ),
            "unsupported_scheme",
        ),
    ],
)
def test_both_verifiers_report_the_same_code(make, code):
    message = make()
    assert kit_code(message) == code
    assert peer_code(message) == code


# -- documented differences -----------------------------------------------------------------
def test_neither_accepts_hwk_from_an_agent():
    """[N] "HTTP Message Signatures Profile": AAuth agents sign with ``jwt``; a pseudonymous ``hwk``
    request is ``unsupported_scheme`` at an AAuth verifier.  The peer never implements hwk;
    the kit implements it ([SK] "Header Web Key (hwk)") but its AAuth verifier accepts only ``jwt`` by default."""
    message = kit_request("GET", f"{RES}/data")
    sign_request(message, agent_key, hwk_key(agent_key), created=NOW)
    assert peer_code(message) == "unsupported_scheme"
    with pytest.raises(SignatureError) as info:
        run(verify_request(message, resolver=None, now=NOW))
    assert info.value.code == "unsupported_scheme"


def test_difference_explicit_default_port_in_authority():
    """RFC 9421 §2.2.3: ``@authority`` leaves out the scheme's default port.  The peer keeps
    an explicit ``:443``, so a URL written with ``:443`` signs
    differently on each side; without the port both agree."""
    url = f"{RES}:443/data"
    headers = peer_httpsig.sign(
        peer_agent_key, peer_httpsig.jwt_key(peer_agent_token()), "GET", url, created=NOW
    )
    assert peer_httpsig.authority(url) == "resource.example:443"
    peer_key_as_kit = Key.from_jwk(public_jwk(peer_agent_key))
    with pytest.raises(SignatureError) as info:
        verify_with_key(from_peer("GET", url, headers), peer_key_as_kit, now=NOW)
    assert info.value.code == "invalid_signature"
    ours = kit_request("GET", url)
    sign_request(ours, agent_key, jwt_key(agent_token()), created=NOW)
    assert peer_code(ours) == "invalid_signature"
    # the same request without the explicit port: both agree
    headers = peer_httpsig.sign(
        peer_agent_key, peer_httpsig.jwt_key(peer_agent_token()), "GET", f"{RES}/data", created=NOW
    )
    assert verify_with_key(from_peer("GET", f"{RES}/data", headers), peer_key_as_kit, now=NOW)


def test_difference_signature_key_with_several_members():
    """[SK] "Label Consistency": the verifier selects the member whose label it verifies and ignores the
    others.  The peer insists on exactly one member and answers
    ``invalid_key``; the kit accepts."""
    message = kit_request("GET", f"{RES}/data")
    other = hwk_key(Key.from_seed("someone else"), label="other").to_member()
    message.set_header("Signature-Key", f"{other}, {jwt_key(agent_token()).to_member()}")
    attach(
        message, sign(message, agent_key, ["@method", "@authority", "@path", "signature-key"], created=NOW)
    )
    assert verify_with_key(message, agent_key, now=NOW).label == "sig"
    assert peer_code(message) == "invalid_key"


def test_difference_body_coverage_at_a_resource():
    """[N] profile: ``content-type`` and ``content-digest`` must be covered on a body sent to
    a PS or AS (or a revocation endpoint), not on every body.  The peer, being a PS/AS,
    requires them on any body; the kit requires them when the endpoint asks
    (``body_required=True``)."""
    message = _signed(components=["@method", "@authority", "@path", "signature-key"], body=b'{"q":1}')
    assert verify_with_key(message, agent_key, now=NOW).label == "sig"
    assert kit_code(message, body_required=True) == "invalid_input"
    assert peer_code(message) == "invalid_input"
