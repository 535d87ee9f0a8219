"""The resource role over real HTTP: the -11 challenge ladder, token rules, revocation,
the authorization endpoint and metadata.

The lab: an Agent Provider and a Person Server that only publish metadata and JWKS
(the tokens are minted here with their keys), and a resource whose resolver discovers
their keys over the virtual network (``jwks.HttpResolver(hosts.fetch())``).
Requests are signed with ``profile.sign_request``.  Socket mode throughout; the main
ladder runs once more in ASGI mode.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.headers import parse_requirement, parse_signature_error
from aauth_kit.jwks import HttpResolver, StaticResolver, jwks
from aauth_kit.keys import Key, b64url
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import (
    ACCESS_DWK,
    AGENT_DWK,
    PERSON_DWK,
    RESOURCE_DWK,
    access_metadata,
    agent_metadata,
    person_metadata,
    validate_metadata,
)
from aauth_kit.profile import sign_request
from aauth_kit.resource import Resource
from aauth_kit.resource_caller import Caller
from aauth_kit.resource_endpoints import metadata_document
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import SignatureKey, hwk_key, jwks_uri_key, jwt_key
from aauth_kit.token_verification import VerifiedToken, check_presented_token, check_token

NOW = 1_790_000_000
AP = "https://ap.example"
PS = "https://ps.example"
AS = "https://as.example"
RES = "https://resource.example"
AGENT_ID = "aauth:backend@ap.example"
PERSON = "pairwise-user-123"
OPTIMIZE = "supply:optimize"

ap_key = Key.from_seed("resource-test-ap", kid="ap-1")
ps_key = Key.from_seed("resource-test-ps", kid="ps-1")
resource_key = Key.from_seed("resource-test-resource", kid="res-1")
agent_key = Key.from_seed("resource-test-agent")
other_key = Key.from_seed("resource-test-other")
as_key = Key.from_seed("resource-test-as", kid="as-1")
rogue_ps_key = Key.from_seed("resource-test-rogue", kid="ps-1")  # same kid, not in the JWKS


# -- the lab ---------------------------------------------------------------------------
def issuer_app(doc: dict, dwk: str, key: Key) -> Starlette:
    """A server that only publishes ``/.well-known/{dwk}`` and its JWKS."""
    return Starlette(
        routes=[
            Route(f"/.well-known/{dwk}", lambda request: JSONResponse(doc)),
            Route("/.well-known/jwks.json", lambda request: JSONResponse(jwks([key]))),
        ]
    )


async def show_caller(request):
    caller: Caller = request.state.caller
    return JSONResponse(
        {
            "typ": caller.token.typ,
            "agent": caller.agent,
            "person": caller.person,
            "scopes": sorted(caller.scopes),
            "jkt": caller.jkt,
            "label": caller.verified.label,
        }
    )


async def open_endpoint(request):
    return JSONResponse({"caller": request.state.caller})


async def refusing_endpoint(request):
    raise AAuthError("invalid_request", "the endpoint refuses this body")


def make_lab(mode: str):
    hosts = Hosts(mode)
    hook_revoked: set[tuple[str, str]] = set()

    async def revocation_check(iss, jti):
        return (iss, jti) in hook_revoked

    ids = (f"rt-{n}" for n in itertools.count(1))
    hosts.add(AP, issuer_app(agent_metadata(AP, f"{AP}/.well-known/jwks.json"), AGENT_DWK, ap_key))
    hosts.add(
        PS,
        issuer_app(
            person_metadata(PS, f"{PS}/.well-known/jwks.json", f"{PS}/auth-token", f"{PS}/person-token"),
            PERSON_DWK,
            ps_key,
        ),
    )
    hosts.add(
        AS, issuer_app(access_metadata(AS, f"{AS}/.well-known/jwks.json", f"{AS}/token"), ACCESS_DWK, as_key)
    )
    resource = Resource(
        RES,
        key=resource_key,
        resolver=HttpResolver(hosts.fetch()),
        name="Supply chain",
        description="Laptop supply chain",
        scope_descriptions={OPTIMIZE: "Optimize the supply chain"},
        clock=lambda: NOW,
        id_factory=lambda: next(ids),
        revoked=revocation_check,
    )
    hosts.add(
        RES,
        resource.app(
            [
                resource.route("/open", open_endpoint, access="open"),
                resource.route("/agent", show_caller, access="agent-token"),
                resource.route("/person", show_caller, access="person-token"),
                resource.route("/optimize", show_caller, methods=("POST",), scope=OPTIMIZE),
                resource.route("/report", show_caller, scope="supply:read supply:report"),
                resource.route("/check", show_caller, access="person-token"),
                resource.route("/check", show_caller, methods=("POST",), scope="supply:check"),
                resource.route("/refuse", refusing_endpoint, access="agent-token"),
            ]
        ),
    )
    client = hosts.client(timeout=30)
    yield SimpleNamespace(hosts=hosts, client=client, resource=resource, hook_revoked=hook_revoked)
    client.close()
    hosts.stop()


@pytest.fixture(scope="module")
def lab():
    yield from make_lab("socket")


@pytest.fixture(scope="module")
def asgi_lab():
    yield from make_lab("asgi")


# -- tokens and requests -----------------------------------------------------------------
jtis = (f"jti-{n}" for n in itertools.count(1))


def agent_token(**overrides) -> str:
    claims = dict(iss=AP, sub=AGENT_ID, cnf=agent_key, iat=NOW - 10, exp=NOW + 3600, jti=next(jtis))
    return tokens.mint_agent_token(ap_key, **{**claims, **overrides})


def person_token(key: Key = ps_key, **overrides) -> str:
    claims = dict(iss=PS, aud=RES, sub=PERSON, cnf=agent_key, iat=NOW - 10, exp=NOW + 3000, jti=next(jtis))
    return tokens.mint_person_token(key, **{**claims, **overrides})


def auth_token(scope: str | None = OPTIMIZE, **overrides) -> str:
    claims = dict(
        iss=PS,
        aud=RES,
        ps=PS,
        sub=PERSON,
        cnf=agent_key,
        iat=NOW - 10,
        exp=NOW + 3000,
        scope=scope,
        jti=next(jtis),
    )
    return tokens.mint_auth_token(ps_key, **{**claims, **overrides})


def jti_of(token: str) -> str:
    return jws.decode_unverified(token).payload["jti"]


def signed_headers(
    method: str,
    url: str,
    signature_key: SignatureKey | str | None,
    *,
    key: Key = agent_key,
    created: int = NOW,
    body: bytes = b"",
) -> dict:
    """The headers ``profile.sign_request`` adds; a str is a token for ``sig=jwt``."""
    if isinstance(signature_key, str):
        signature_key = jwt_key(signature_key)
    message = HttpMessage(method, url, [], body)
    sign_request(message, key, signature_key, created=created)
    return dict(message.headers)


def call(lab, method: str, path: str, signature_key=None, *, body=None, url=None, sign_url=None, **options):
    """Send a request to the resource, signed when ``signature_key`` is given."""
    content = json.dumps(body).encode() if body is not None else b""
    url = url or f"{RES}{path}"
    headers = {}
    if signature_key is not None:
        headers = signed_headers(method, sign_url or url, signature_key, body=content, **options)
    return lab.client.request(method, url, headers=headers, content=content)


def requirement(response):
    assert response.status_code == 401, response.text
    return parse_requirement(response.headers["aauth-requirement"])


def signature_error(response) -> str:
    """The Signature-Error code of a 401 ([SK] "Signature-Error HTTP Response Header"; AAuth pins 401), checked against the body."""
    assert response.status_code == 401, response.text
    code, _ = parse_signature_error(response.headers["signature-error"])
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == code
    return code


def problem(response, status: int) -> str:
    """[N] "Error Response Format": problem+json whose ``error`` carries the code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "signature-error" not in response.headers
    return response.json()["error"]


def verified_resource_token(lab, token: str) -> VerifiedToken:
    """Verify a resource token as a PS would: key discovered from the resource's metadata."""
    resolver = HttpResolver(lab.hosts.fetch())
    return asyncio.run(
        tokens.verify_token(
            token,
            typ=RESOURCE_TYP,
            resolver=resolver,
            now=NOW,
            expected_aud=PS,
            expected_ps=PS,
            signing_key_jwk=agent_key,
        )
    )


# -- the ladder ------------------------------------------------------------------------
@pytest.mark.parametrize("lab_name", ["lab", "asgi_lab"])
def test_the_challenge_ladder(lab_name, request):
    """The seed's step 3 under -11 ("Person Identity Access", "PS Authorization Access
    (Three-Party)"): no signature → agent-token; agent
    token → person-token; person token → auth-token + resource token; auth token → 200."""
    lab = request.getfixturevalue(lab_name)
    # [N] "Agent Token Required": a request with no signature at all is asked for an agent token
    assert requirement(call(lab, "POST", "/optimize", body={"n": 1})).requirement == "agent-token"
    # an agent token identifies the agent, not a person
    assert (
        requirement(call(lab, "POST", "/optimize", agent_token(), body={"n": 1})).requirement
        == "person-token"
    )
    # a person token for this resource earns a resource token for the person's PS ("Resource Token Structure")
    person = person_token()
    challenge = requirement(call(lab, "POST", "/optimize", person, body={"n": 1}))
    assert challenge.requirement == "auth-token"
    resource_token = verified_resource_token(lab, challenge.resource_token)
    assert resource_token.presented_jti == jti_of(person)
    # the auth token with the scope is let through ("Auth Token Verification")
    auth = auth_token()
    response = call(lab, "POST", "/optimize", auth, body={"n": 1})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "typ": AUTH_TYP,
        "agent": None,
        "person": [PS, PERSON],
        "scopes": [OPTIMIZE],
        "jkt": agent_key.thumbprint(),
        "label": "sig",
    }


def test_resource_token_claims(lab):
    """[N] "Resource Token Structure": iss = resource, dwk, aud = ps = person token iss, sub copied,
    presented_jti, agent_jkt = request key, scope = the route's, 300 s, jti from the factory,
    kid published in the resource's JWKS; it passes the PS's presented-token checks."""
    person = person_token(mission_s256=b64url(b"m" * 32), tenant="acme")
    challenge = requirement(call(lab, "POST", "/optimize", person, body={}))
    header = jws.decode_unverified(challenge.resource_token).header
    assert header == {"alg": "Ed25519", "kid": "res-1", "typ": RESOURCE_TYP}
    token = verified_resource_token(lab, challenge.resource_token)
    assert token.payload == {
        "iss": RES,
        "dwk": RESOURCE_DWK,
        "aud": PS,
        "ps": PS,
        "sub": PERSON,
        "presented_jti": jti_of(person),
        "agent_jkt": agent_key.thumbprint(),
        "scope": OPTIMIZE,
        "iat": NOW,
        "exp": NOW + 300,
        "jti": token.jti,
        "mission_s256": b64url(b"m" * 32),
        "tenant": "acme",
    }
    assert token.jti.startswith("rt-")
    presented = check_token(person, typ=PERSON_TYP, key=ps_key, now=NOW)
    check_presented_token(token, presented)  # [N] "Resource Token Verification", what the PS will do
    assert "no-store" in call(lab, "POST", "/optimize", person, body={}).headers["cache-control"]


def test_auth_token_lacking_the_scope_is_challenged_again(lab):
    """[N] "Auth Token Required" (step-up): presented_jti is then the auth token's jti, scope the route's."""
    for scope in ("supply:read", None, "supply:read other"):
        auth = auth_token(scope=scope)
        challenge = requirement(call(lab, "GET", "/report", auth))
        assert challenge.requirement == "auth-token"
        token = verified_resource_token(lab, challenge.resource_token)
        assert token.presented_jti == jti_of(auth)
        assert token.scope == "supply:read supply:report"
        assert (token.aud, token.ps, token.sub) == (PS, PS, PERSON)


def test_auth_token_needs_every_scope_of_the_route(lab):
    response = call(lab, "GET", "/report", auth_token(scope="supply:report extra supply:read"))
    assert response.status_code == 200
    assert response.json()["scopes"] == ["extra", "supply:read", "supply:report"]


def test_person_token_route(lab):
    """[N] "Person Token Verification": a person token identifies (iss, sub); an auth token does too; an agent
    token is asked for a person token."""
    for token in (person_token(), auth_token()):
        response = call(lab, "GET", "/person", token)
        assert response.status_code == 200
        assert response.json()["person"] == [PS, PERSON]
        assert response.json()["agent"] is None
    assert requirement(call(lab, "GET", "/person", agent_token())).requirement == "person-token"


def test_agent_token_route_accepts_all_three(lab):
    """[N] "Agent Identity Access": the agent id is the agent token's sub."""
    response = call(lab, "GET", "/agent", agent_token())
    assert response.json() == {
        "typ": AGENT_TYP,
        "agent": AGENT_ID,
        "person": None,
        "scopes": [],
        "jkt": agent_key.thumbprint(),
        "label": "sig",
    }
    assert call(lab, "GET", "/agent", person_token()).json()["person"] == [PS, PERSON]
    assert call(lab, "GET", "/agent", auth_token()).json()["scopes"] == [OPTIMIZE]
    assert requirement(call(lab, "GET", "/agent")).requirement == "agent-token"


def test_same_path_different_methods(lab):
    """GET /check wants a person token, POST /check an auth token with supply:check."""
    person = person_token()
    assert call(lab, "GET", "/check", person).status_code == 200
    challenge = requirement(call(lab, "POST", "/check", person, body={}))
    assert verified_resource_token(lab, challenge.resource_token).scope == "supply:check"
    assert call(lab, "POST", "/check", auth_token(scope="supply:check"), body={}).status_code == 200
    assert call(lab, "DELETE", "/check").status_code == 405


def test_open_route_and_endpoint_errors(lab):
    assert call(lab, "GET", "/open").json() == {"caller": None}
    assert problem(call(lab, "GET", "/refuse", agent_token()), 400) == "invalid_request"


def test_person_token_where_auth_token_required(lab):
    """[N] "Person Token Structure", "Auth Token Structure": a PS-issued auth token and a person token differ only in typ — a person
    token never passes for an auth token, whatever it carries."""
    person = person_token(extra={"scope_hint": OPTIMIZE})
    assert requirement(call(lab, "POST", "/optimize", person, body={})).requirement == "auth-token"


# -- token and signature failures ----------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, make",
    [
        ("GET", "/person", lambda: person_token(aud="https://other.example")),
        ("POST", "/optimize", lambda: auth_token(aud="https://other.example")),
    ],
)
def test_wrong_audience(lab, method, path, make):
    """[N] "Person Token Verification" / "Auth Token Verification": aud must be this resource → invalid_jwt."""
    assert signature_error(call(lab, method, path, make())) == "invalid_jwt"


def test_auth_token_from_an_access_server_is_refused(lab):
    """[N] "Auth Token Verification" accepts AS-issued auth tokens only from the resource's own AS; this
    resource is three-party, so an AS (here one with valid metadata and keys) cannot speak for it."""
    token = tokens.mint_auth_token(
        as_key,
        iss=AS,
        aud=RES,
        ps=PS,
        sub=PERSON,
        cnf=agent_key,
        scope=OPTIMIZE,
        iat=NOW,
        exp=NOW + 600,
        dwk=ACCESS_DWK,
    )
    assert signature_error(call(lab, "POST", "/optimize", token, body={})) == "invalid_jwt"


def test_token_bound_to_another_key(lab):
    """[N] "Request-Context Binding": cnf.jwk must be the request key; signed by another key → invalid_signature."""
    for token in (auth_token(cnf=other_key), person_token(cnf=other_key), agent_token(cnf=other_key)):
        assert signature_error(call(lab, "GET", "/agent", token)) == "invalid_signature"


@pytest.mark.parametrize(
    "make",
    [
        lambda: agent_token(iat=NOW - 7200, exp=NOW - 3600),
        lambda: person_token(iat=NOW - 3600, exp=NOW),  # exp must be strictly after now
        lambda: auth_token(iat=NOW - 3600, exp=NOW - 1),
    ],
)
def test_expired_tokens(lab, make):
    """[N] "Auth Token Verification" ("JWT Trust Verification" step 3): exp strictly in the future, no tolerance → expired_jwt."""
    assert signature_error(call(lab, "GET", "/agent", make())) == "expired_jwt"


def test_revoked_tokens(lab):
    """[N] "Token Revocation": a revoked token in Signature-Key → 401 revoked_jwt; "Auth Token
    Required": with requirement=person-token, never auth-token (agent token: agent-token)."""
    auth = auth_token()
    assert call(lab, "POST", "/optimize", auth, body={}).status_code == 200
    lab.resource.revocations.revoke(PS, jti_of(auth))
    response = call(lab, "POST", "/optimize", auth, body={})
    assert signature_error(response) == "revoked_jwt"
    assert requirement(response).requirement == "person-token"
    # the revocation hook (here async) is consulted too
    agent = agent_token()
    lab.hook_revoked.add((AP, jti_of(agent)))
    response = call(lab, "GET", "/agent", agent)
    assert signature_error(response) == "revoked_jwt"
    assert requirement(response).requirement == "agent-token"
    # revocation is keyed by (iss, jti): the same jti from another issuer is unaffected
    assert call(lab, "GET", "/agent", person_token(jti=jti_of(agent))).status_code == 200


def test_revocation_collections_and_sync_callables():
    """``revoked=`` takes a collection of (iss, jti) or a plain (sync) callable too."""
    auth = check_token(auth_token(), typ=AUTH_TYP, key=ps_key, now=NOW)
    by_set = Resource(RES, key=resource_key, resolver=StaticResolver(), revoked=[(PS, auth.jti)])
    by_callable = Resource(
        RES, key=resource_key, resolver=StaticResolver(), revoked=lambda iss, jti: iss == PS
    )
    nothing = Resource(RES, key=resource_key, resolver=StaticResolver())
    assert asyncio.run(by_set.revocations.is_revoked(auth)) and asyncio.run(
        by_callable.revocations.is_revoked(auth)
    )
    assert not asyncio.run(nothing.revocations.is_revoked(auth))


def test_tampered_requests(lab):
    """[N] verification step 7: the signature covers @method, @authority, @path and the
    content digest when covered → invalid_signature."""
    auth = auth_token()
    signed = signed_headers("POST", f"{RES}/optimize", auth, body=b'{"n": 1}')
    response = lab.client.post(f"{RES}/optimize", headers=signed, content=b'{"n": 2}')
    assert signature_error(response) == "invalid_signature"  # body no longer matches Content-Digest
    # signed for another path
    assert signature_error(call(lab, "GET", "/agent", auth, sign_url=f"{RES}/person")) == "invalid_signature"
    # signed for another authority and replayed here with that Host: the resource rebuilds
    # @authority from its own identifier ([N] "Covered Components"), so an agent token (no aud) cannot be replayed
    signed = signed_headers("GET", "https://evil.example/agent", agent_token())
    response = lab.client.get(f"{RES}/agent", headers={**signed, "Host": "evil.example"})
    assert signature_error(response) == "invalid_signature"
    # a flipped signature byte
    signed = signed_headers("GET", f"{RES}/agent", auth)
    value = signed["Signature"]  # sig=:<base64>:
    signed["Signature"] = value[:6] + ("A" if value[6] != "A" else "B") + value[7:]
    assert signature_error(lab.client.get(f"{RES}/agent", headers=signed)) == "invalid_signature"


def test_signature_window(lab):
    """[N] verification step 3: created older than 60 s → invalid_signature, ahead → clock_skew."""
    token = agent_token()
    assert call(lab, "GET", "/agent", token, created=NOW - 60).status_code == 200
    assert signature_error(call(lab, "GET", "/agent", token, created=NOW - 61)) == "invalid_signature"
    assert signature_error(call(lab, "GET", "/agent", token, created=NOW + 61)) == "clock_skew"


def test_bad_signature_key(lab):
    """[N] "Signature-Key Scheme Rejection": agents sign with the jwt scheme only."""
    response = call(lab, "GET", "/agent", hwk_key(agent_key))
    assert signature_error(response) == "unsupported_scheme"
    assert response.headers["accept-signature-scheme"] == "jwt"
    assert (
        signature_error(call(lab, "GET", "/agent", jwks_uri_key(AP, AGENT_DWK, "ap-1")))
        == "unsupported_scheme"
    )
    assert signature_error(call(lab, "GET", "/agent", "not-a-jwt")) == "invalid_jwt"
    # a resource token is not a token an agent presents
    challenge = requirement(call(lab, "POST", "/optimize", person_token(), body={}))
    assert signature_error(call(lab, "GET", "/agent", challenge.resource_token)) == "invalid_jwt"
    # a token signed by a key the PS does not publish
    assert signature_error(call(lab, "GET", "/person", person_token(key=rogue_ps_key))) == "invalid_jwt"
    # an issuer nobody serves: no key can be established
    rogue = tokens.mint_person_token(
        ps_key, iss="https://nowhere.example", aud=RES, sub=PERSON, cnf=agent_key, iat=NOW, exp=NOW + 60
    )
    assert signature_error(call(lab, "GET", "/person", rogue)) == "invalid_key"
    # the Signature-Key header removed, the other two kept
    signed = signed_headers("GET", f"{RES}/agent", agent_token())
    del signed["Signature-Key"]
    assert signature_error(lab.client.get(f"{RES}/agent", headers=signed)) == "invalid_signature"
    signed = signed_headers("GET", f"{RES}/agent", agent_token())
    signed["Signature-Key"] = "sig=("
    assert signature_error(lab.client.get(f"{RES}/agent", headers=signed)) == "invalid_signature"


def test_signature_must_cover_signature_key(lab):
    """[SK-08] / [N] step 2: signature-key must be covered → invalid_input + required_input."""
    message = HttpMessage("GET", f"{RES}/agent", [], b"")
    sign_request(
        message, agent_key, jwt_key(agent_token()), created=NOW, components=["@method", "@authority", "@path"]
    )
    response = lab.client.get(f"{RES}/agent", headers=dict(message.headers))
    assert signature_error(response) == "invalid_input"
    _, members = parse_signature_error(response.headers["signature-error"])
    assert "signature-key" in members["required_input"]


# -- metadata -------------------------------------------------------------------------------
def test_metadata_document(lab):
    """[N] "Metadata Documents": aauth-resource.json validates; its JWKS holds the resource key."""
    doc = lab.client.get(f"{RES}/.well-known/aauth-resource.json").json()
    assert validate_metadata(doc, RES, RESOURCE_DWK, complete=True) == {
        "issuer": RES,
        "jwks_uri": f"{RES}/.well-known/jwks.json",
        "access_mode": "auth-token",
        "authorization_endpoint": f"{RES}/authorize",
        "scope_descriptions": {OPTIMIZE: "Optimize the supply chain"},
        "signature_window": 60,
        "name": "Supply chain",
        "description": "Laptop supply chain",
        "revocation_endpoint": f"{RES}/revoke",  # [N] "Token Revocation"
    }
    keys = lab.client.get(doc["jwks_uri"]).json()["keys"]
    assert keys == [resource_key.public_jwk(kid=False) | {"kid": "res-1"}]


def test_metadata_access_mode_and_dev_mode():
    """access_mode is the strongest a route needs, unless given; dev mode allows loopback http."""
    resource = Resource(
        "http://127.0.0.1:8080", key=resource_key, resolver=StaticResolver(dev=True), dev=True
    )
    assert metadata_document(resource)["access_mode"] == "agent-token"
    resource.route("/p", show_caller, access="person-token")
    resource.route("/o", open_endpoint, access="open")
    doc = metadata_document(resource)
    assert doc["access_mode"] == "person-token"
    assert doc["authorization_endpoint"] == "http://127.0.0.1:8080/authorize"
    assert "name" not in doc and "scope_descriptions" not in doc
    fixed = Resource(RES, key=resource_key, resolver=StaticResolver(), access_mode="agent-token")
    fixed.route("/x", show_caller, scope="a")
    assert metadata_document(fixed)["access_mode"] == "agent-token"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Resource("https://Resource.example", key=resource_key, resolver=StaticResolver()),
        lambda: Resource("http://127.0.0.1:8080", key=resource_key, resolver=StaticResolver()),
        lambda: Resource(RES, key=resource_key.public(), resolver=StaticResolver()),
        lambda: Resource(RES, key=resource_key, resolver=StaticResolver(), access_mode="open"),
        lambda: Resource(RES, key=resource_key, resolver=StaticResolver()).route("/x", show_caller),
        lambda: Resource(RES, key=resource_key, resolver=StaticResolver()).route(
            "/x", show_caller, scope=" a"
        ),
        lambda: Resource(RES, key=resource_key, resolver=StaticResolver()).route(
            "/x", show_caller, access="session"
        ),
    ],
)
def test_usage_errors(make):
    with pytest.raises(UsageError):
        make()


# -- the authorization endpoint ("Authorization Endpoint Request") --------------------------
def test_authorize_happy_path(lab):
    """[N] "Authorization Endpoint Request", "Response with Resource Token": POST {"scope"} signed with a person token → 200 {"resource_token"}."""
    person = person_token()
    response = call(lab, "POST", "/authorize", person, body={"scope": OPTIMIZE, "account": "acct-7"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = verified_resource_token(lab, response.json()["resource_token"])
    assert (token.scope, token.presented_jti, token.sub, token.account) == (
        OPTIMIZE,
        jti_of(person),
        PERSON,
        "acct-7",
    )
    # a scope a route needs is known even without a description; an auth token may ask too
    auth = auth_token()
    response = call(lab, "POST", "/authorize", auth, body={"scope": "supply:read supply:report"})
    token = verified_resource_token(lab, response.json()["resource_token"])
    assert (token.scope, token.presented_jti) == ("supply:read supply:report", jti_of(auth))


@pytest.mark.parametrize(
    "body, code",
    [
        ({"scope": "supply:delete"}, "invalid_scope"),
        ({"scope": f"{OPTIMIZE} nope"}, "invalid_scope"),
        ({}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"scope": ["a"]}, "invalid_request"),
        ({"scope": f"{OPTIMIZE}  supply:read"}, "invalid_request"),  # RFC 6749 §3.3: single spaces
        ({"scope": 'supply:"x"'}, "invalid_request"),
        ([OPTIMIZE], "invalid_request"),
        ("not json", "invalid_request"),
        ({"scope": OPTIMIZE, "account": 7}, "invalid_account"),
    ],
)
def test_authorize_errors(lab, body, code):
    """[N] "Authorization Endpoint Error Responses": problem+json with status 400."""
    content = b"{not json" if body == "not json" else json.dumps(body).encode()
    headers = signed_headers("POST", f"{RES}/authorize", person_token(), body=content)
    response = lab.client.post(f"{RES}/authorize", headers=headers, content=content)
    assert problem(response, 400) == code


def test_authorize_needs_a_person_token(lab):
    """[N] "Authorization Endpoint Request": signed with a person token; an agent token → requirement=person-token,
    no signature → requirement=agent-token; "Authorization Endpoint Error Responses": a person token
    for another aud → 400 invalid_person_token."""
    body = {"scope": OPTIMIZE}
    assert (
        requirement(call(lab, "POST", "/authorize", agent_token(), body=body)).requirement == "person-token"
    )
    assert requirement(call(lab, "POST", "/authorize", body=body)).requirement == "agent-token"
    assert (
        problem(call(lab, "POST", "/authorize", person_token(aud=AP), body=body), 400)
        == "invalid_person_token"
    )
    assert lab.client.get(f"{RES}/authorize").status_code == 405


# -- garbage never 500 --------------------------------------------------------------------------
def hostile_jwt(header: dict, payload: dict) -> dict:
    """A ``Signature-Key`` header presenting a JWT with the given (unsigned) contents."""
    jwt = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}.{b64url(b'x' * 64)}"
    return {"Signature-Key": f'sig=jwt;jwt="{jwt}"'}


AUTH_HEADER = {"alg": "Ed25519", "typ": "aa-auth+jwt", "kid": "ps-1"}
ALL_COMPONENTS = '"@method" "@authority" "@path" "signature-key"'


GARBAGE = [
    {"Signature": "garbage"},
    {"Signature-Input": "sig=garbage"},
    {"Signature-Key": "garbage"},
    {"Signature-Input": f"sig=({ALL_COMPONENTS});created=99999999999999999"},
    {"Signature-Input": f"sig=({ALL_COMPONENTS});created=-1"},
    {"Signature-Input": f"sig=({ALL_COMPONENTS});created=?1"},
    {"Signature-Input": f'sig=({ALL_COMPONENTS} "x-missing");created={NOW}'},
    {"Signature-Input": f'sig=("@query-param";name="q" {ALL_COMPONENTS});created={NOW}'},
    {"Signature": "sig=::"},
    {"Signature": "sig=:AAAA:, other=:AAAA:"},
    {"Signature-Key": 'sig=jwt;jwt=""'},
    {"Signature-Key": "sig=jwt;jwt=1"},
    {"Signature-Key": 'sig=x509;x5u="https://x.example"'},
    {"Signature-Key": 'other=jwt;jwt="a.b.c"'},
    hostile_jwt({"alg": "none", "typ": "aa-agent+jwt"}, {}),
    hostile_jwt({**AUTH_HEADER, "kid": ["x"]}, {"iss": PS}),
    hostile_jwt(AUTH_HEADER, {"iss": 5, "dwk": PERSON_DWK}),
    hostile_jwt(
        AUTH_HEADER, {"iss": PS, "dwk": PERSON_DWK, "cnf": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": 7}}}
    ),
    hostile_jwt(
        {**AUTH_HEADER, "kid": "ap-1", "typ": "aa-agent+jwt"}, {"iss": "https://127.0.0.1", "dwk": AGENT_DWK}
    ),
    {"Signature-Key": 'sig=jwt;jwt="é"'.encode("latin-1")},
    {"Content-Digest": "sha-256=:AAAA:"},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_headers_get_signature_errors(lab, garbage):
    """Bad input: a precise 401 Signature-Error, never a 500."""
    content = b'{"n": 1}'
    headers = signed_headers("POST", f"{RES}/optimize", auth_token(), body=content)
    headers.update(garbage)
    response = lab.client.post(f"{RES}/optimize", headers=headers, content=content)
    assert signature_error(response) in (
        "invalid_signature",
        "invalid_input",
        "invalid_jwt",
        "unsupported_scheme",
        "unsupported_algorithm",
        "clock_skew",
        "invalid_key",
    )


_header_text = (
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        min_size=1,
        max_size=80,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["Signature", "Signature-Input", "Signature-Key", "Content-Digest"]),
    value=_header_text,
    path=st.sampled_from(["/agent", "/person", "/optimize", "/authorize"]),
)
def test_fuzzed_headers_never_500(lab, name, value, path):
    """Any one header replaced by arbitrary text: a 401 (Signature-Error or requirement) or 4xx."""
    content = b'{"scope": "supply:optimize"}'
    headers = signed_headers("POST", f"{RES}{path}", person_token(), body=content)
    headers[name] = value.encode("latin-1")
    response = lab.client.post(f"{RES}{path}", headers=headers, content=content)
    assert response.status_code in (200, 400, 401, 405), response.text
    if response.status_code == 401:
        assert "signature-error" in response.headers or "aauth-requirement" in response.headers
