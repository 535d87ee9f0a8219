"""Token revocation, draft -11 "Token Revocation", over real HTTP.

Three settings: a resource (``aauth_kit.resource.Resource``) behind a virtual network
with a Person Server, an Agent Provider and others that only publish metadata and JWKS
(§ "the resource's revocation endpoint"); the revoker's client against small recipient
apps (§ "the revoker"); and the whole cast in a ``Lab`` (§ "the Person Server"), where
a person or an Agent Provider revokes and the PS cascades to the resources.  Socket
mode throughout, ASGI mode for the main stories.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09,
[H] = an intermediate -11 editor's copy.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from aauth_kit.servers.ps import PersonServer
from aauth_kit.servers.ps.revocation import revoke_issued
from aauth_kit.servers.ps.store import PSStore
from aauth_kit.servers.ps.store.persons import DEMO_PERSON, PersonAccount
from aauth_kit.servers.ps.store.tokens import IssuedToken
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.claims import AUTH_TYP
from aauth_kit.errors import AAuthError
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement, parse_signature_error
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import (
    ACCESS_DWK,
    AGENT_DWK,
    PERSON_DWK,
    RESOURCE_DWK,
    access_metadata,
    agent_metadata,
    person_metadata,
    resource_metadata,
    validate_metadata,
)
from aauth_kit.profile import sign_request, verify_request
from aauth_kit.resource import Resource
from aauth_kit.resource_revocations import MAX_PER_SIGNER
from aauth_kit.revocation import (
    SKEW,
    UNAVAILABLE,
    UNSUPPORTED,
    Revoker,
    keep_until,
    parse_revocation_body,
    revocation_body,
)
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import hwk_key, jwks_uri_key, jwt_key, parse_signature_key

NOW = 1_790_000_000
# One identifier is one socket server per process (runtime.Hosts): these settings use
# identifiers of their own, none of the Lab's.
PS = "https://person.example"
PS2 = "https://other-person.example"
AP = "https://ap.example"
AS = "https://as.example"
RES = "https://resource.example"
PEER = "https://peer-resource.example"
AGENT_ID = "aauth:backend@ap.example"
SCOPE = "files:read"
HANG_GUARD = 60  # seconds: a guard against hangs only, never a timing assertion

ps_key = Key.from_seed("revocation-test-ps", kid="ps-1")
ps2_key = Key.from_seed("revocation-test-ps2", kid="ps-1")  # same kid, another server
rogue_key = Key.from_seed("revocation-test-rogue", kid="ps-1")  # claims to be the PS's key
ap_key = Key.from_seed("revocation-test-ap", kid="ap-1")
as_key = Key.from_seed("revocation-test-as", kid="as-1")
peer_key = Key.from_seed("revocation-test-peer", kid="peer-1")
resource_key = Key.from_seed("revocation-test-resource", kid="res-1")
agent_key = Key.from_seed("revocation-test-agent")


class Clock:
    """Seconds since the epoch, fixed and movable."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def publisher(doc: dict, dwk: str, key: Key) -> Starlette:
    """A party that only publishes ``/.well-known/{dwk}`` and its JWKS."""
    return Starlette(
        routes=[
            Route(f"/.well-known/{dwk}", lambda request: JSONResponse(doc)),
            Route("/.well-known/jwks.json", lambda request: JSONResponse(jwks([key]))),
        ]
    )


def send(client, message: HttpMessage):
    return client.request(message.method, message.target_uri, headers=message.headers, content=message.body)


def signature_error(response) -> str:
    """[SK] "Signature-Error HTTP Response Header", AAuth pins 401: the Signature-Error code, the same in the problem+json body."""
    assert response.status_code == 401, response.text
    code, _ = parse_signature_error(response.headers["signature-error"])
    assert response.json()["error"] == code
    return code


def problem(response, status: int) -> str:
    """[N] "Error Response Format": problem+json; a 403/400 carries no Signature-Error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "signature-error" not in response.headers
    return response.json()["error"]


# == the resource's revocation endpoint ======================================================
def make_resource_world(mode: str):
    hosts = Hosts(mode)
    jwks_of = lambda issuer: f"{issuer}/.well-known/jwks.json"  # noqa: E731
    for issuer, key in ((PS, ps_key), (PS2, ps2_key)):
        hosts.add(
            issuer,
            publisher(
                person_metadata(issuer, jwks_of(issuer), f"{issuer}/auth-token", f"{issuer}/person-token"),
                PERSON_DWK,
                key,
            ),
        )
    hosts.add(AP, publisher(agent_metadata(AP, jwks_of(AP)), AGENT_DWK, ap_key))
    hosts.add(AS, publisher(access_metadata(AS, jwks_of(AS), f"{AS}/token"), ACCESS_DWK, as_key))
    hosts.add(PEER, publisher(resource_metadata(PEER, jwks_of(PEER)), RESOURCE_DWK, peer_key))
    clock = Clock()
    resource = Resource(RES, key=resource_key, resolver=HttpResolver(hosts.fetch()), clock=clock)

    async def files(request):
        return JSONResponse({"files": ["a.txt"]})

    hosts.add(RES, resource.app([resource.route("/files", files, scope=SCOPE)]))
    client = hosts.client(timeout=HANG_GUARD)
    yield SimpleNamespace(hosts=hosts, client=client, resource=resource, clock=clock)
    client.close()
    hosts.stop()


@pytest.fixture(scope="module")
def world():
    yield from make_resource_world("socket")


@pytest.fixture(scope="module")
def asgi_world():
    yield from make_resource_world("asgi")


@pytest.fixture(autouse=True)
def _reset_clock(request):
    for name in ("world", "asgi_world"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clock.now = NOW


counter = iter(range(1, 1_000_000))


def auth_token(issuer: str = PS, key: Key = ps_key, **claims) -> str:
    values = dict(
        iss=issuer,
        aud=RES,
        ps=issuer,
        sub="pairwise-1",
        cnf=agent_key,
        iat=NOW - 10,
        exp=NOW + 3000,
        scope=SCOPE,
        jti=f"auth-{next(counter)}",
    )
    return tokens.mint_auth_token(key, **{**values, **claims})


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


def call_files(world, token: str):
    """GET /files signed by the agent, presenting ``token``."""
    message = HttpMessage("GET", f"{RES}/files")
    sign_request(message, agent_key, jwt_key(token), created=int(world.clock()))
    return send(world.client, message)


def revoker(issuer=PS, dwk=PERSON_DWK, key=ps_key, clock=None) -> Revoker:
    return Revoker(issuer, dwk, key, clock or (lambda: NOW))


def revoke(world, jti="some-jti", exp=NOW + 3000, **who):
    return send(world.client, revoker(clock=world.clock, **who).request(f"{RES}/revoke", jti, exp))


def post_raw(world, body: bytes, *, who: Revoker | None = None, url=f"{RES}/revoke"):
    """A revocation with any body, properly signed by ``who`` (default: the PS)."""
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], body)
    return send(world.client, (who or revoker(clock=world.clock)).sign(message))


def test_resource_metadata_names_its_revocation_endpoint(world):
    """[N] "Metadata Documents": aauth-resource.json carries revocation_endpoint (RECOMMENDED
    for resources that accept person tokens)."""
    doc = world.client.get(f"{RES}/.well-known/aauth-resource.json").json()
    assert validate_metadata(doc, RES, RESOURCE_DWK, complete=True)["revocation_endpoint"] == f"{RES}/revoke"


@pytest.mark.parametrize("world_name", ["world", "asgi_world"])
def test_ps_revokes_an_auth_token_at_the_resource(world_name, request):
    """[N] "Token Revocation": PS → resource, 200 with an empty body at once; from then on the token in
    Signature-Key gets 401 Signature-Error revoked_jwt with the requirement to
    fetch a person token again (-11 "Person Token Required")."""
    world = request.getfixturevalue(world_name)
    token = auth_token()
    assert call_files(world, token).status_code == 200
    response = revoke(world, claims(token)["jti"], claims(token)["exp"])
    assert (response.status_code, response.content) == (200, b"")
    refused = call_files(world, token)
    assert signature_error(refused) == "revoked_jwt"
    assert parse_requirement(refused.headers["aauth-requirement"]).requirement == "person-token"
    assert call_files(world, auth_token()).status_code == 200  # other tokens of the PS still work


def test_unknown_jti_is_200(world):
    """[N] "Token Revocation": no "not found" — a jti the resource never saw is revoked all the same
    (the [H] draft answered 404)."""
    response = revoke(world, "never-seen-anywhere")
    assert (response.status_code, response.content) == (200, b"")
    assert (PS, "never-seen-anywhere") in world.resource.revocations.revoked


def test_revocation_is_keyed_by_the_verified_signer(world):
    """[N] "Token Revocation": state is keyed by (verified signer, jti) — another PS revoking the same
    jti does not touch this PS's token, and the body cannot name another issuer."""
    token = auth_token()
    jti = claims(token)["jti"]
    response = revoke(world, jti, issuer=PS2, key=ps2_key)
    assert response.status_code == 200
    assert (PS2, jti) in world.resource.revocations.revoked
    assert call_files(world, token).status_code == 200
    # the [H] body form {"iss", "jti"}: its iss must be the signer ...
    refused = post_raw(world, json.dumps({"iss": PS, "jti": jti}).encode(), who=revoker(PS2, key=ps2_key))
    assert problem(refused, 403) == "unsupported_iss"
    assert call_files(world, token).status_code == 200
    # ... and then it is taken, without exp (an intermediate -11 peer sends no exp: both shapes are accepted during the transition)
    assert post_raw(world, json.dumps({"iss": PS, "jti": jti}).encode()).status_code == 200
    assert signature_error(call_files(world, token)) == "revoked_jwt"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"jti"',
        b"null",
        b"{}",
        b'{"exp": 1790003000}',
        b'{"jti": 7, "exp": 1790003000}',
        b'{"jti": "", "exp": 1790003000}',
        b'{"jti": null}',
        b'{"jti": ["a"]}',
        b'{"jti": "x", "exp": "1790003000"}',
        b'{"jti": "x", "exp": 1790003000.5}',
        b'{"jti": "x", "exp": true}',
        b'{"jti": "x", "exp": {}}',
        b"[" * 100_000,
    ],
)
def test_bad_bodies_are_invalid_request(world, body):
    """[N] "Token Revocation" errors: a malformed body is 400 invalid_request — never a 500."""
    assert problem(post_raw(world, body), 400) == "invalid_request"


def test_extra_members_are_ignored(world):
    assert (
        post_raw(world, b'{"jti": "x-extra", "exp": 1790003000, "reason": "lost laptop"}').status_code == 200
    )


def test_unsigned_and_wrongly_signed_requests_are_401(world):
    """[N] "Token Revocation" "bad signature 401"; [SK] "Signature-Key HTTP Request Header" and "Error Codes"; the revocation endpoint takes only
    servers signing in their own right (-11 "Verification (Server)": jwks_uri)."""
    body = revocation_body("jti-x", NOW + 3000)
    headers = [("Content-Type", "application/json")]
    unsigned = world.client.post(f"{RES}/revoke", headers=headers, content=body)
    assert signature_error(unsigned) == "invalid_signature"
    for scheme in (jwt_key(auth_token()), hwk_key(agent_key)):  # an agent token / a bare key
        message = HttpMessage("POST", f"{RES}/revoke", list(headers), body)
        sign_request(message, agent_key, scheme, created=NOW)
        response = send(world.client, message)
        assert signature_error(response) == "unsupported_scheme"
        assert response.headers["accept-signature-scheme"] == "jwks_uri"
    # the PS's identity, another key under its kid
    assert signature_error(revoke(world, key=rogue_key)) == "invalid_signature"
    # a body changed after signing: the content-digest no longer matches
    message = revoker().request(f"{RES}/revoke", "jti-y", NOW + 3000)
    message.body = revocation_body("jti-z", NOW + 3000)
    assert signature_error(send(world.client, message)) == "invalid_signature"
    assert (PS, "jti-z") not in world.resource.revocations.revoked
    # the body not covered: a revocation covers content-type and content-digest (-11 "Token Revocation")
    message = HttpMessage("POST", f"{RES}/revoke", list(headers), body)
    sign_request(message, ps_key, jwks_uri_key(PS, PERSON_DWK, "ps-1"), created=NOW, cover_body=False)
    response = send(world.client, message)
    assert signature_error(response) == "invalid_input"
    # too old a signature (the resource's signature_window)
    world.clock.now = NOW + 600
    stale = revoker().request(f"{RES}/revoke", "old", NOW + 3000)  # signed at NOW
    assert signature_error(send(world.client, stale)) == "invalid_signature"
    # a signer whose metadata names a dwk nobody publishes
    message = HttpMessage("POST", f"{RES}/revoke", list(headers), body)
    sign_request(message, ps_key, jwks_uri_key(PS, "aauth-unknown.json", "ps-1"), created=int(world.clock()))
    assert signature_error(send(world.client, message)) == "invalid_key"


@pytest.mark.parametrize(
    "issuer, dwk, key",
    [
        (AP, AGENT_DWK, ap_key),
        (AS, ACCESS_DWK, as_key),
        (PEER, RESOURCE_DWK, peer_key),
    ],
)
def test_only_person_servers_revoke_at_a_resource(world, issuer, dwk, key):
    """[N] "Token Revocation": who revokes where — at a resource, the PS whose person and auth tokens it
    takes (and its own AS: this resource has none, so an AS is anyone else).  A validly signed
    request from anyone else is 403 unsupported_iss (no
    Signature-Error on a 403, [SK] "Access Denied")."""
    response = revoke(world, "jti-from-elsewhere", issuer=issuer, dwk=dwk, key=key)
    assert problem(response, 403) == "unsupported_iss"
    assert (issuer, "jti-from-elsewhere") not in world.resource.revocations.revoked


def test_wrong_method(world):
    """The revocation endpoint is POST only (RFC 9110 §15.5.6: 405 with Allow)."""
    response = world.client.get(f"{RES}/revoke")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_revocations_are_forgotten_after_exp_plus_skew():
    """[N] "Token Revocation": a recipient may drop a revocation after the token's exp plus clock skew;
    a token that has expired already leaves nothing behind, and no revocation is kept longer
    than a person or auth token can live (bounded memory)."""
    clock = Clock()
    resource = Resource(RES, key=resource_key, resolver=HttpResolver(None), clock=clock)
    resource.revocations.revoke(PS, "short", NOW + 100, forget=True)
    resource.revocations.revoke(PS, "far", NOW + 10**9, forget=True)
    resource.revocations.revoke(PS, "gone", NOW - SKEW - 1, forget=True)
    resource.revocations.revoke(PS, "kept")  # the Python API without forget: kept for good
    assert {jti for _, jti in resource.revocations.revoked} == {"short", "far", "kept"}
    assert keep_until(NOW + 10**9, NOW) == keep_until(None, NOW) == NOW + 3600 + SKEW
    clock.now = NOW + 100 + SKEW
    resource.revocations.revoke(PS, "later", NOW + 4000, forget=True)
    assert {jti for _, jti in resource.revocations.revoked} == {"far", "kept", "later"}
    clock.now = NOW + 3600 + SKEW
    resource.revocations.revoke(PS, "latest", NOW + 7000, forget=True)
    assert {jti for _, jti in resource.revocations.revoked} == {"kept", "later", "latest"}


def test_a_full_resource_answers_rate_limited(world):
    """[N] "Token Revocation" errors: 429 rate_limited with Retry-After when the resource holds all the
    revocations it will; an entry it already holds is still 200."""
    small = Resource(
        RES, key=resource_key, resolver=world.resource.resolver, clock=world.clock, max_revocations=2
    )
    hosts = Hosts("asgi")
    hosts.add(RES, small.app([]))
    for name, key in ((PS, ps_key),):
        hosts.add(
            name,
            publisher(
                person_metadata(name, f"{name}/.well-known/jwks.json", f"{name}/a", f"{name}/p"),
                PERSON_DWK,
                key,
            ),
        )
    small.resolver = HttpResolver(hosts.fetch())
    with hosts.client(timeout=HANG_GUARD) as client:
        view = SimpleNamespace(client=client, clock=world.clock)
        assert revoke(view, "one").status_code == revoke(view, "two").status_code == 200
        full = revoke(view, "three")
        assert problem(full, 429) == "rate_limited"
        assert int(full.headers["retry-after"]) > 0
        assert revoke(view, "two").status_code == 200
    hosts.stop()


def test_token_revocation_one_signer_cannot_fill_the_resource(world):
    """Anyone may publish a Person Server, and every PS may revoke at a resource: one signer gets
    ``429 rate_limited`` + ``Retry-After`` (when its first entry is forgotten) past its share, well
    before the table is full, and another PS still revokes."""
    revocations = world.resource.revocations
    revocations.max_per_signer = revocations.per_signer[PS] + 2
    try:
        assert revoke(world, "share-1").status_code == revoke(world, "share-2").status_code == 200
        full = revoke(world, "share-3", exp=NOW + 3000)
        assert problem(full, 429) == "rate_limited"
        assert 0 < int(full.headers["retry-after"]) <= 3000 + SKEW
        assert len(revocations.revoked) < revocations.max_revocations
        assert revoke(world, "share-2").status_code == 200  # one it holds is taken again
        assert revoke(world, "share-1", issuer=PS2, key=ps2_key).status_code == 200
        assert (PS, "share-3") not in revocations.revoked and (PS2, "share-1") in revocations.revoked
        world.clock.now = NOW + 3000 + SKEW  # the tokens expired: their revocations are forgotten
        assert revoke(world, "share-3", exp=NOW + 6000).status_code == 200
    finally:
        revocations.max_per_signer = MAX_PER_SIGNER


def test_parse_revocation_body_directly():
    """[N] "Token Revocation" body: jti (string) and exp (integer); [H] iss must be the signer."""
    assert parse_revocation_body(b'{"jti": "a", "exp": 5}', signer=PS) == ("a", 5)
    assert parse_revocation_body(b'{"jti": "a"}', signer=PS) == ("a", None)
    h_form = json.dumps({"iss": PS, "jti": "a"}).encode()
    assert parse_revocation_body(h_form, signer=PS) == ("a", None)
    with pytest.raises(AAuthError) as caught:
        parse_revocation_body(h_form, signer=PS2)
    assert (caught.value.code, caught.value.status) == ("unsupported_iss", 403)


# == the revoker ==================================================================================
def test_the_request_shape():
    """[N] "Token Revocation": POST, JSON {"jti", "exp"}, Signature-Key jwks_uri with the
    signer's id, dwk and kid, content-type and content-digest covered."""
    message = revoker().request(f"{RES}/revoke", "jti-1", NOW + 60)
    assert message.method == "POST"
    assert json.loads(message.body) == {"jti": "jti-1", "exp": NOW + 60}
    assert message.header("content-type") == "application/json"
    signature_key = parse_signature_key(message.header("signature-key"), "sig")
    assert (signature_key.scheme, signature_key.params) == (
        "jwks_uri",
        {"id": PS, "dwk": PERSON_DWK, "kid": "ps-1"},
    )
    covered = message.header("signature-input")
    for component in (
        '"@method"',
        '"@authority"',
        '"@path"',
        '"content-type"',
        '"content-digest"',
        '"signature-key"',
    ):
        assert component in covered
    assert f"created={NOW}" in covered
    # a key without kid is named by its thumbprint, as jwks.jwks names it
    bare = Revoker(PS, PERSON_DWK, Key.from_seed("revocation-test-bare"))
    assert bare.kid == jwks([bare.key])["keys"][0]["kid"]


SIGNER = "https://signer.example"
RECIPIENT = "https://recipient.example"


def recipient_app(answers: list, seen: list) -> Starlette:
    """A recipient that checks each request's signature (jwks_uri, the PS) and answers
    from ``answers`` in turn: ``(status, headers, body)``."""
    resolver_box = {}

    async def endpoint(request: Request) -> Response:
        target = RECIPIENT + request.url.path
        fields = [(k.decode(), v.decode()) for k, v in request.headers.raw]
        message = HttpMessage(request.method, target, fields, await request.body())
        verified = await verify_request(
            message,
            resolver=resolver_box["resolver"],
            now=NOW,
            accept_schemes=("jwks_uri",),
            body_required=True,
        )
        seen.append((request.method, request.url.path, verified.signature_key.params["id"]))
        status, headers, body = answers.pop(0)
        return Response(body, status_code=status, headers=headers)

    app = Starlette(
        routes=[
            Route("/revoke", endpoint, methods=["POST"]),
            Route("/revoke/pending/{n}", endpoint, methods=["GET"]),
        ]
    )
    app.state.resolver_box = resolver_box
    return app


def run_revoker(answers, *, endpoint=f"{RECIPIENT}/revoke", **options):
    hosts = Hosts("socket")
    seen: list = []
    app = recipient_app(answers, seen)
    hosts.add(RECIPIENT, app)
    signer_doc = person_metadata(SIGNER, f"{SIGNER}/.well-known/jwks.json", f"{SIGNER}/a", f"{SIGNER}/p")
    hosts.add(SIGNER, publisher(signer_doc, PERSON_DWK, ps_key))
    app.state.resolver_box["resolver"] = HttpResolver(hosts.fetch())
    slept: list = []

    async def go():
        async with hosts.async_client(timeout=HANG_GUARD) as client:
            return await revoker(SIGNER).revoke(
                client, endpoint, "jti-1", NOW + 60, sleep=slept.append, **options
            )

    try:
        return asyncio.run(go()), seen, slept
    finally:
        hosts.stop()


def test_token_revocation_revoker_reads_the_downstream_report():
    """[N] "Token Revocation": a 200 ends the revocation; its body is empty, or, from an AS to
    the PS, {"downstream": [{"recipient", "error"}]} — the revoker returns that report (entries
    with string members only; any other body is no report)."""
    assert run_revoker([(200, {}, b"")])[0] == []
    report = {"downstream": [{"recipient": RES, "error": UNAVAILABLE}, {"recipient": 3}, "x"]}
    answer = (200, {"content-type": "application/json"}, json.dumps(report).encode())
    assert run_revoker([answer])[0] == [{"recipient": RES, "error": UNAVAILABLE}]
    for body in (b"<html>", b"[1]", b'{"downstream": "all fine"}'):
        assert run_revoker([(200, {}, body)])[0] == []


def test_revoker_follows_202_with_signed_polls():
    """[N] "Token Revocation": 202 + a pending URL, polled by the revoker with a signed GET (honouring
    Retry-After) until the terminal 200."""
    answers = [
        (202, {"location": "/revoke/pending/1", "retry-after": "3"}, b'{"status":"pending"}'),
        (202, {"location": f"{RECIPIENT}/revoke/pending/1"}, b""),
        (200, {}, b'{"downstream": []}'),
    ]
    result, seen, slept = run_revoker(answers)
    assert result == []
    assert seen == [
        ("POST", "/revoke", SIGNER),
        ("GET", "/revoke/pending/1", SIGNER),
        ("GET", "/revoke/pending/1", SIGNER),
    ]
    assert slept == [3, 1]


@pytest.mark.parametrize(
    "answer, code, status",
    [
        (
            (403, {"content-type": "application/problem+json"}, b'{"error": "unsupported_iss"}'),
            "unsupported_iss",
            403,
        ),
        (
            (400, {}, b'{"error": "invalid_request", "error_description": "old style"}'),
            "invalid_request",
            400,
        ),
        ((401, {"signature-error": "error=invalid_key"}, b""), "invalid_key", 401),
        ((500, {}, b"<html>"), "server_error", 500),
        ((404, {}, b""), "invalid_response", 404),
        ((202, {}, b""), "invalid_response", 502),  # no Location
        ((202, {"location": "https://elsewhere.example/p"}, b""), "invalid_response", 502),  # another origin
    ],
)
def test_revoker_reports_the_recipients_error(answer, code, status):
    with pytest.raises(AAuthError) as caught:
        run_revoker([answer])
    assert (caught.value.code, caught.value.status) == (code, status)


def test_revoker_rate_limited_and_unreachable():
    """[N] "Token Revocation": 429 rate_limited carries Retry-After; a recipient that cannot be reached
    is revocation_unavailable, as is one that stays pending."""
    with pytest.raises(AAuthError) as caught:
        run_revoker([(429, {"retry-after": "30"}, b'{"error": "rate_limited"}')])
    assert (caught.value.code, caught.value.members["retry_after"]) == ("rate_limited", 30)
    with pytest.raises(AAuthError) as caught:
        run_revoker([], endpoint="https://nowhere.example/revoke")
    assert (caught.value.code, caught.value.status) == (UNAVAILABLE, 503)
    pending = (202, {"location": "/revoke/pending/1", "retry-after": "0"}, b"")
    with pytest.raises(AAuthError) as caught:
        run_revoker([pending] * 3, max_polls=2)
    assert caught.value.code == UNAVAILABLE


# == the Person Server ===========================================================================
@pytest.fixture(scope="module")
def lab():
    with Lab(mode="socket") as lab:
        yield lab


@pytest.fixture(scope="module")
def asgi_lab():
    with Lab(mode="asgi") as lab:
        yield lab


def login(lab, username="mcp-user", password="user123") -> dict:
    with lab.client(source="Person") as client:
        response = client.post(
            f"{lab.identifiers['ps']}/login", json={"username": username, "password": password}
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['session']}"}


def signed(lab, method, url, key, signature_key, body=None, headers=()):
    data = json.dumps(body).encode() if body is not None else b""
    message = HttpMessage(method, url, list(headers), data)
    sign_request(message, key, signature_key, created=int(lab.clock()))
    with lab.client(source="Agent") as client:
        return send(client, message)


def check(lab, agent):
    """The agent's POST /check at the SCA (scope supply-chain:check: no consent asked)."""
    with lab.client(agent) as client:
        return client.post(f"{lab.identifiers['supply_chain']}/check", json={})


def ask_for_consent(lab, agent, person: str):
    """The agent's auth token request for ``/optimize`` (a scope that needs the person): the
    SCA's challenge, then ``POST /auth-token`` at the PS, left pending (its ``202``)."""
    sca, ps = lab.identifiers["supply_chain"], lab.identifiers["ps"]
    challenge = signed(lab, "POST", f"{sca}/optimize", agent.key, jwt_key(person), body={"prompt": "x"})
    resource_token = parse_requirement(challenge.headers["aauth-requirement"]).resource_token
    body = {"resource_token": resource_token, "presented_token": person, "capabilities": ["interaction"]}
    return signed(lab, "POST", f"{ps}/auth-token", agent.key, jwt_key(agent.agent_token), body=body)


def ap_revokes(lab, agent_token: str):
    """The lab's Agent Provider (the PS in its AP role) revokes an agent token it issued at the
    PS: [N] "Token Revocation" AP → PS, signed as aauth-agent.json."""
    ap = Revoker(lab.identifiers["ps"], AGENT_DWK, lab.keys["ps"], lab.clock)
    with lab.client(source="Agent Provider") as client:
        return send(
            client,
            ap.request(
                f"{lab.identifiers['ps']}/revoke", claims(agent_token)["jti"], claims(agent_token)["exp"]
            ),
        )


def test_ps_metadata_names_its_revocation_endpoint(lab):
    """[N] "Metadata Documents": aauth-person.json RECOMMENDS revocation_endpoint."""
    ps = lab.identifiers["ps"]
    with lab.client() as client:
        doc = client.get(f"{ps}/.well-known/aauth-person.json").json()
    assert validate_metadata(doc, ps, PERSON_DWK, complete=True)["revocation_endpoint"] == f"{ps}/revoke"


@pytest.mark.parametrize("lab_name", ["lab", "asgi_lab"])
def test_person_revokes_an_auth_token_and_the_agent_recovers(lab_name, request):
    """The end-to-end story ([N] "Token Revocation"): the agent gets an auth token at the SCA;
    the person revokes it at the PS (consent REST API); the PS revokes it at the SCA, signed
    in its own right; the token is refused with revoked_jwt; the agent's next call recovers —
    the kit's agent forgets the token, fetches a person token and a new auth token (the
    resource's requirement=person-token rides along with revoked_jwt)."""
    lab = request.getfixturevalue(lab_name)
    sca, ps = lab.identifiers["supply_chain"], lab.identifiers["ps"]
    agent = lab.new_agent(f"revoking-{lab_name}")
    assert check(lab, agent).status_code == 200
    old = agent.auth_token_for(sca)
    jti = claims(old)["jti"]
    session = login(lab)
    with lab.client(source="Person") as client:
        listed = {t["jti"]: t for t in client.get(f"{ps}/tokens", headers=session).json()}
        assert listed[jti]["typ"] == AUTH_TYP and listed[jti]["revoked"] is False
        mark = len(lab.trace.exchanges)
        response = client.post(f"{ps}/tokens/{jti}/revoke", headers=session)
        assert response.json() == {"jti": jti, "revoked": True, "downstream": []}
        assert client.get(f"{ps}/tokens", headers=session).json()[list(listed).index(jti)]["revoked"] is True
    told = [e for e in lab.trace.exchanges[mark:] if e.source == "PS"]
    assert [(e.request.method, e.request.target_uri, e.status) for e in told] == [
        ("POST", f"{sca}/revoke", 200)
    ]
    key = parse_signature_key(told[0].request.header("signature-key"), "sig")
    assert (key.scheme, key.params["id"], key.params["dwk"]) == ("jwks_uri", ps, PERSON_DWK)
    assert json.loads(told[0].request.body) == {"jti": jti, "exp": claims(old)["exp"]}
    # the old token is refused at the resource ...
    refused = signed(lab, "POST", f"{sca}/check", agent.key, jwt_key(old), body={})
    assert signature_error(refused) == "revoked_jwt"
    # ... and the agent recovers by itself
    mark = len(lab.trace.exchanges)
    assert check(lab, agent).status_code == 200
    new = agent.auth_token_for(sca)
    assert new != old and claims(new)["scope"] == claims(old)["scope"]
    first = lab.trace.exchanges[mark]
    assert first.status == 401 and "revoked_jwt" in first.response.header("signature-error")


def test_person_revocation_errors(lab):
    """The consent API's revocation: a session is needed; only the person's own tokens."""
    ps = lab.identifiers["ps"]
    agent = lab.new_agent("revocation-errors")
    assert check(lab, agent).status_code == 200
    jti = claims(agent.auth_token_for(lab.identifiers["supply_chain"]))["jti"]
    with lab.client(source="Person") as client:
        assert problem(client.post(f"{ps}/tokens/{jti}/revoke"), 401) == "unauthorized"
        assert problem(client.get(f"{ps}/tokens"), 401) == "unauthorized"
        session = login(lab)
        assert problem(client.post(f"{ps}/tokens/no-such-jti/revoke", headers=session), 404) == "not_found"
        agent_jti = claims(agent.agent_token)["jti"]  # not a person or auth token
        assert problem(client.post(f"{ps}/tokens/{agent_jti}/revoke", headers=session), 404) == "not_found"


@pytest.mark.parametrize("lab_name", ["lab", "asgi_lab"])
def test_ap_revokes_an_agent_token_and_the_ps_cascades(lab_name, request):
    """[N] "Token Revocation": AP → PS (agent token, keyed by (AP, jti)); the PS cascades by
    the agent: its pending request ends — a held poll wakes with 403 revoked, a later poll
    too — and the person and auth tokens it was issued are revoked at the SCA, so the agent
    cannot recover (its agent token is refused at the PS with revoked_jwt)."""
    lab = request.getfixturevalue(lab_name)
    sca = lab.identifiers["supply_chain"]
    agent = lab.new_agent(f"cascade-{lab_name}")
    bystander = lab.new_agent(f"bystander-{lab_name}")
    assert check(lab, agent).status_code == check(lab, bystander).status_code == 200
    auth, person = agent.auth_token_for(sca), agent.person_token_for(sca)
    # a consent request left pending: /optimize needs the person
    deferred = ask_for_consent(lab, agent, person)
    assert deferred.status_code == 202
    pending_url = deferred.headers["location"]
    pending_id = pending_url.rsplit("/", 1)[1]

    def held_poll():
        return signed(
            lab, "GET", pending_url, agent.key, jwt_key(agent.agent_token), headers=[("Prefer", "wait=120")]
        )

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(held_poll)
        deadline = time.monotonic() + HANG_GUARD
        while lab.ps.waiters.held(pending_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        response = ap_revokes(lab, agent.agent_token)
        assert (response.status_code, response.content) == (200, b"")
        assert problem(held.result(timeout=HANG_GUARD), 403) == "revoked"
    # a poll signed with the revoked agent token: the token is refused first
    assert (
        signature_error(signed(lab, "GET", pending_url, agent.key, jwt_key(agent.agent_token)))
        == "revoked_jwt"
    )
    # the agent's person and auth tokens are refused at the SCA
    for token in (auth, person):
        assert (
            signature_error(signed(lab, "POST", f"{sca}/check", agent.key, jwt_key(token), body={}))
            == "revoked_jwt"
        )
    # the agent cannot get new ones
    with pytest.raises(FlowError) as caught:
        check(lab, agent)
    assert caught.value.code == "revoked_jwt"
    # another agent of the same person is untouched
    assert (
        signed(
            lab, "POST", f"{sca}/check", bystander.key, jwt_key(bystander.auth_token_for(sca)), body={}
        ).status_code
        == 200
    )


def test_ap_revocation_survives_a_restart(lab):
    """[N] "Token Revocation": the PS keeps revocations in SQLite — after a restart the
    agent token is still refused, the pending request still ends revoked, and the person's
    token list still says revoked."""
    sca, ps = lab.identifiers["supply_chain"], lab.identifiers["ps"]
    agent = lab.new_agent("restarting")
    assert check(lab, agent).status_code == 200
    person = agent.person_token_for(sca)
    deferred = ask_for_consent(lab, agent, person)
    pending_url = deferred.headers["location"]
    assert ap_revokes(lab, agent.agent_token).status_code == 200
    lab.restart_ps()
    assert (
        signature_error(
            signed(
                lab,
                "POST",
                f"{ps}/person-token",
                agent.key,
                jwt_key(agent.agent_token),
                body={"resource": sca},
            )
        )
        == "revoked_jwt"
    )
    # a bare key is no agent's identity (-11 "Pending URL Security"): 404; the agent, with a new
    # agent token from its AP for the same key, gets the final 403 revoked, once
    assert problem(signed(lab, "GET", pending_url, agent.key, hwk_key(agent.key)), 404) == "not_found"
    fresh = jwt_key(lab.ps.issue_agent_token("restarting", agent.key))
    assert problem(signed(lab, "GET", pending_url, agent.key, fresh), 403) == "revoked"
    assert problem(signed(lab, "GET", pending_url, agent.key, fresh), 410) == "invalid_code"
    with lab.client(source="Person") as client:
        listed = client.get(f"{ps}/tokens", headers=login(lab)).json()
    mine = {claims(agent.auth_token_for(sca))["jti"], claims(person)["jti"]}
    assert {t["jti"]: t["revoked"] for t in listed if t["jti"] in mine} == dict.fromkeys(mine, True)


def test_a_resource_revokes_its_resource_token_at_the_ps(lab):
    """[N] "Token Revocation": resource → aud (the PS) for resource tokens; the PS then refuses it as a
    body parameter with 400 revoked_resource_token."""
    sca, ps = lab.identifiers["supply_chain"], lab.identifiers["ps"]
    agent = lab.new_agent("resource-token")
    assert check(lab, agent).status_code == 200
    person = agent.person_token_for(sca)
    challenge = signed(lab, "POST", f"{sca}/optimize", agent.key, jwt_key(person), body={"prompt": "x"})
    resource_token = parse_requirement(challenge.headers["aauth-requirement"]).resource_token
    resource = Revoker(sca, RESOURCE_DWK, lab.keys["supply_chain"], lab.clock)
    with lab.client(source="Supply chain") as client:
        response = send(
            client,
            resource.request(f"{ps}/revoke", claims(resource_token)["jti"], claims(resource_token)["exp"]),
        )
    assert (response.status_code, response.content) == (200, b"")
    refused = signed(
        lab,
        "POST",
        f"{ps}/auth-token",
        agent.key,
        jwt_key(agent.agent_token),
        body={"resource_token": resource_token, "presented_token": person, "capabilities": ["interaction"]},
    )
    assert problem(refused, 400) == "revoked_resource_token"


def test_ps_revocation_endpoint_errors(lab):
    """[N] "Token Revocation" at the PS: an unknown jti is 200 (no 404); a person-server signer (not an AP
    or resource) is 403 unsupported_iss; an agent signing with its token is 401
    unsupported_scheme; a bad body 400 invalid_request; GET is 405."""
    ps = lab.identifiers["ps"]
    url = f"{ps}/revoke"
    as_ap = Revoker(ps, AGENT_DWK, lab.keys["ps"], lab.clock)
    as_ps = Revoker(ps, PERSON_DWK, lab.keys["ps"], lab.clock)
    agent = lab.new_agent("revocation-endpoint-errors")
    with lab.client(source="Agent Provider") as client:
        unknown = send(client, as_ap.request(url, "never-issued", int(lab.clock()) + 60))
        assert (unknown.status_code, unknown.content) == (200, b"")
        assert problem(send(client, as_ps.request(url, "x", int(lab.clock()) + 60)), 403) == "unsupported_iss"
        bad = as_ap.sign(HttpMessage("POST", url, [("Content-Type", "application/json")], b'{"jti": 5}'))
        assert problem(send(client, bad), 400) == "invalid_request"
        unsigned = client.post(url, json={"jti": "x", "exp": 1})
        assert signature_error(unsigned) == "invalid_signature"
        assert client.get(url).status_code == 405
    by_agent = signed(lab, "POST", url, agent.key, jwt_key(agent.agent_token), body={"jti": "x", "exp": 1})
    assert signature_error(by_agent) == "unsupported_scheme"
    assert (
        signed(
            lab,
            "POST",
            f"{lab.identifiers['supply_chain']}/check",
            agent.key,
            jwt_key(agent.agent_token),
            body={},
        ).status_code
        == 401
    )  # the agent is unharmed (needs a token)


# -- downstream failures: a PS, a real resource, a resource without revocation_endpoint ------------
CASCADE_PS = "https://cascade-ps.example"
CASCADE_AP = "https://cascade-ap.example"
CASCADE_RES = "https://cascade-resource.example"
PLAIN = "https://plain.example"
NOWHERE = "https://nowhere.example"


def test_c5_cascade_outcomes_go_to_the_person_not_the_agent_provider(tmp_path):
    """C5: the PS answers the Agent Provider's revocation ``200`` with an empty body once the
    cascade is terminal ([N] "Token Revocation": "200 OK if the token was revoked or was already
    invalid") — it does not tell the AP which resources the person's tokens were for, nor which
    could not be told (one without a revocation_endpoint, one that cannot be reached; [N] "PS
    Visibility").  The reachable resource is told; the outcomes are in the person's own audit
    trail (``GET /audit``), over real sockets."""
    hosts = Hosts("socket")
    clock = Clock(time.time())
    resolver = HttpResolver(hosts.fetch())
    ps = PersonServer(
        CASCADE_PS,
        key=ps_key,
        resolver=resolver,
        data_dir=tmp_path,
        clock=clock,
        client_factory=lambda **options: hosts.async_client(**options),
        persons=[DEMO_PERSON, PersonAccount("ada", "pw-ada")],
    )
    hosts.add(CASCADE_PS, ps.app)
    hosts.add(
        CASCADE_AP,
        publisher(agent_metadata(CASCADE_AP, f"{CASCADE_AP}/.well-known/jwks.json"), AGENT_DWK, ap_key),
    )
    hosts.add(
        PLAIN, publisher(resource_metadata(PLAIN, f"{PLAIN}/.well-known/jwks.json"), RESOURCE_DWK, peer_key)
    )
    resource = Resource(CASCADE_RES, key=resource_key, resolver=resolver, clock=clock)
    hosts.add(CASCADE_RES, resource.app([]))
    try:
        with hosts.client(timeout=HANG_GUARD) as client:
            now = int(clock())
            # an agent of another Agent Provider, bound to a person by the PS's store
            agent_token = tokens.mint_agent_token(
                ap_key, iss=CASCADE_AP, sub=AGENT_ID, cnf=agent_key, iat=now, exp=now + 600, jti="ap-agent-1"
            )
            ps.store.upsert_agent(
                AGENT_ID,
                ap_issuer=CASCADE_AP,
                agent_jkt=agent_key.thumbprint(),
                username="ada",
                status="approved",
            )
            issued = {}
            for audience in (CASCADE_RES, PLAIN, NOWHERE):
                body = json.dumps({"resource": audience}).encode()
                message = HttpMessage("POST", f"{CASCADE_PS}/person-token", [], body)
                sign_request(message, agent_key, jwt_key(agent_token), created=now)
                response = send(client, message)
                assert response.status_code == 200, response.text
                issued[audience] = claims(response.json()["person_token"])["jti"]
            ap = Revoker(CASCADE_AP, AGENT_DWK, ap_key, clock)
            response = send(client, ap.request(f"{CASCADE_PS}/revoke", "ap-agent-1", now + 600))
            assert (response.status_code, response.content) == (200, b"")
            assert "content-type" not in response.headers
            assert (CASCADE_PS, issued[CASCADE_RES]) in resource.revocations.revoked
            # the person (no administrator) reads the outcomes in their own audit trail
            session = client.post(f"{CASCADE_PS}/login", json={"username": "ada", "password": "pw-ada"})
            trail = client.get(
                f"{CASCADE_PS}/audit", headers={"Authorization": f"Bearer {session.json()['session']}"}
            ).json()
            outcomes = {e["subject"]: e["details"]["error"] for e in trail if e["action"] == "token_revoked"}
            assert outcomes == {CASCADE_RES: None, PLAIN: UNSUPPORTED, NOWHERE: UNAVAILABLE}
            assert all(ps.store.is_revoked(CASCADE_PS, jti) for jti in issued.values())
            # the revocation is the AP's: keyed by (AP, jti), the PS's own namespace untouched
            assert ps.store.is_revoked(CASCADE_AP, "ap-agent-1") and not ps.store.is_revoked(
                CASCADE_PS, "ap-agent-1"
            )
            # the same AP revoking again: nothing new is issued, nothing to cascade
            assert send(client, ap.request(f"{CASCADE_PS}/revoke", "ap-agent-1", now + 600)).content == b""
    finally:
        hosts.stop()
        ps.close()


def test_c6_resource_without_revocation_endpoint_is_revocation_unsupported(tmp_path):
    """-11 "Token Revocation": a resource whose metadata names no revocation_endpoint is
    reported revocation_unsupported; one that cannot be reached stays revocation_unavailable
    (over real sockets)."""
    hosts = Hosts("socket")
    clock = Clock(time.time())
    ps = PersonServer(
        CASCADE_PS,
        key=ps_key,
        resolver=HttpResolver(hosts.fetch()),
        data_dir=tmp_path,
        clock=clock,
        client_factory=lambda **options: hosts.async_client(**options),
    )
    hosts.add(
        PLAIN, publisher(resource_metadata(PLAIN, f"{PLAIN}/.well-known/jwks.json"), RESOURCE_DWK, peer_key)
    )
    now = int(clock())
    issued = [
        IssuedToken(f"auth-{n}", AUTH_TYP, CASCADE_PS, audience, AGENT_ID, AGENT_ID, "read", now, now + 600)
        for n, audience in enumerate((PLAIN, NOWHERE))
    ]
    try:
        report = asyncio.run(revoke_issued(ps.context, issued, actor="mcp-user"))
    finally:
        hosts.stop()
        ps.close()
    assert report == [
        {"recipient": PLAIN, "error": "revocation_unsupported"},
        {"recipient": NOWHERE, "error": "revocation_unavailable"},
    ]


def test_store_forgets_expired_revocations(tmp_path):
    """[N] "Token Revocation": revocation state may be dropped after exp + skew; agent tokens noted for
    the cascade go with it (real SQLite)."""
    clock = Clock()
    with PSStore(tmp_path / "ps.sqlite3", clock=clock) as store:
        store.revoke(AP, "old", NOW - 100)
        store.revoke(AP, "new", NOW + 100)
        store.note_agent_token(AP, "old", AGENT_ID, NOW - 100)
        store.note_agent_token(AP, "new", AGENT_ID, NOW + 100)
        assert store.agent_of(AP, "old") == store.agent_of(AP, "new") == AGENT_ID
        assert store.forget_expired(NOW - SKEW) == 1
        assert not store.is_revoked(AP, "old") and store.is_revoked(AP, "new")
        assert store.agent_of(AP, "old") is None and store.agent_of(AP, "new") == AGENT_ID
        assert store.agent_of(PS, "new") is None
