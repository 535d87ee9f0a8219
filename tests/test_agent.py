"""The agent's httpx.Auth flow (-11 "Agent Token Required", "Person Token Required", "Auth
Token Required", "Interaction Required", "Deferred Delivery", "Deferred Responses") against
a small resource and PS written here that speak the protocol: real HTTP over loopback sockets through ``runtime.Hosts``, real tokens, real
signatures verified with ``profile.verify_request``.  They are test servers, not mocks of
the agent; each can be told to misbehave in one way at a time.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.agent import Agent
from aauth_kit.agent_deferred import Interaction
from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from aauth_kit.deferred_headers import parse_prefer_wait
from aauth_kit.errors import AAuthError, SignatureError
from aauth_kit.flow import FlowError
from aauth_kit.headers import serialize_requirement
from aauth_kit.httpsig import read_signature
from aauth_kit.jwks import StaticResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.loop import get_loop_thread
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, RESOURCE_DWK, person_metadata
from aauth_kit.profile import verify_request
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import parse_signature_key
from aauth_kit.token_verification import check_presented_token
from aauth_kit.trace import Trace

PS = "https://ps.example"
RES = "https://resource.example"
AGENT_ID = "aauth:backend@ps.example"
PS_KEY = Key.from_seed("test ps", kid="ps-1")
PS_KEY_2 = Key.from_seed("test ps, rotated", kid="ps-2")
RES_KEY = Key.from_seed("test resource", kid="res-1")
AGENT_KEY = Key.from_seed("test agent")
OTHER_KEY = Key.from_seed("someone else")
CODE = "ABCD-EFGH"


def problem(status: int, code: str) -> Response:
    return JSONResponse(
        {"error": code, "detail": code}, status_code=status, media_type="application/problem+json"
    )


def aauth_requirement(status: int, requirement: str, body=None, **params) -> Response:
    return JSONResponse(
        body or {},
        status_code=status,
        headers={"AAuth-Requirement": serialize_requirement(requirement, **params)},
    )


async def message_of(request: Request) -> HttpMessage:
    return HttpMessage(request.method, str(request.url), list(request.headers.items()), await request.body())


class World:
    """The resource and the PS, with knobs for one misbehaviour at a time."""

    def __init__(self):
        self.resolver = StaticResolver()
        self.resolver.register_key(PS, AGENT_DWK, PS_KEY)
        self.resolver.register_key(PS, PERSON_DWK, PS_KEY)
        self.resolver.register_key(PS, PERSON_DWK, PS_KEY_2)
        self.resolver.register_key(RES, RESOURCE_DWK, RES_KEY)
        self.reset()

    def reset(self):
        self.resource_token_claims = {}  # overrides of the resource token the resource mints
        self.auth_token_claims = {}  # overrides of the auth token the PS mints
        self.auth_lifetime = 3600
        self.metadata_issuer = PS
        self.defer = False  # the auth token endpoint answers 202 (consent needed)
        self.location = "/pending/p1"
        self.script = []  # what each poll of the pending URL answers
        self.retry_after = "0"
        self.auth_error = None  # (status, code) answered by the auth token endpoint
        self.revoked = set()
        self.seen = []  # (endpoint, HttpMessage) of every signed request the servers verified
        self.pending_token = None
        self.signing_key = PS_KEY  # the key the PS signs person and auth tokens with
        self.token_header = {}  # overrides of the JOSE header of those tokens (re-signed)
        self.jwks_keys = [PS_KEY]  # the keys the PS's JWKS publishes
        self.jwks_body = None  # bytes served instead of the JWKS
        self.jwks_cache_control = None
        self.clock = time.time  # the servers' clock, moved along with an agent's in some tests

    # -- the resource ----------------------------------------------------------------------
    def resource_app(self) -> Starlette:
        def endpoint(access, scope=None, deferred=False):
            async def handle(request: Request) -> Response:
                message = await message_of(request)
                if message.header("signature-key") is None:
                    return aauth_requirement(401, "agent-token")
                try:
                    verified = await verify_request(
                        message, resolver=self.resolver, expected_aud=RES, now=int(self.clock())
                    )
                except SignatureError as exc:
                    return Response(exc.response_body(), 401, headers=dict(exc.response_headers()))
                self.seen.append((request.url.path, message))
                token = verified.token
                if token.jti in self.revoked:
                    error = SignatureError("revoked_jwt")
                    return Response(error.response_body(), 401, headers=dict(error.response_headers()))
                if access == "agent-only":
                    if token.typ != AGENT_TYP:
                        return aauth_requirement(401, "agent-token")
                    return JSONResponse({"agent": token.sub})
                if access == "agent-token":
                    return JSONResponse({"caller": token.sub})
                if token.typ == AGENT_TYP:
                    return aauth_requirement(401, "person-token")
                if access == "person-token" or (token.typ == AUTH_TYP and scope in token.scope.split()):
                    return JSONResponse({"person": token.sub, "body": message.body.decode()})
                ps = token.iss if token.typ == PERSON_TYP else token.ps
                claims = dict(
                    iss=RES,
                    aud=ps,
                    ps=ps,
                    sub=token.sub,
                    presented_jti=token.jti,
                    agent_jkt=verified.key.thumbprint(),
                    scope=scope,
                )
                claims.update(self.resource_token_claims)
                resource_token = tokens.mint_resource_token(RES_KEY, **claims)
                if deferred:  # -11 "Deferred Delivery" deferred delivery: the resource holds the call
                    response = aauth_requirement(
                        202, "auth-token", {"status": "pending"}, resource_token=resource_token
                    )
                    response.headers.update(
                        {"Location": "/jobs/j1", "Retry-After": "0", "Cache-Control": "no-store"}
                    )
                    return response
                return aauth_requirement(401, "auth-token", resource_token=resource_token)

            return handle

        async def job(request: Request) -> Response:
            message = await message_of(request)
            verified = await verify_request(
                message, resolver=self.resolver, expected_aud=RES, now=int(self.clock())
            )
            self.seen.append((request.url.path, message))
            if verified.token.typ != AUTH_TYP:
                return problem(403, "insufficient_scope")
            return JSONResponse({"result": "optimized", "by": verified.token.sub})

        return Starlette(
            routes=[
                Route("/whoami", endpoint("agent-token")),
                Route("/agent-only", endpoint("agent-only")),
                Route("/profile", endpoint("person-token")),
                Route("/optimize", endpoint("auth-token", "optimize"), methods=["GET", "POST"]),
                Route("/deferred", endpoint("auth-token", "optimize", deferred=True), methods=["POST"]),
                Route("/jobs/j1", job),
            ]
        )

    # -- the PS ----------------------------------------------------------------------------
    def ps_app(self) -> Starlette:
        async def metadata(request: Request) -> Response:
            doc = person_metadata(PS, f"{PS}/.well-known/jwks.json", f"{PS}/auth-token", f"{PS}/person-token")
            return JSONResponse({**doc, "issuer": self.metadata_issuer})

        async def signed(request: Request, endpoint: str):
            message = await message_of(request)
            verified = await verify_request(
                message,
                resolver=self.resolver,
                token_types=(AGENT_TYP,),
                body_required=True,
                now=int(self.clock()),
            )
            self.seen.append((endpoint, message))
            return message, verified

        async def jwks_document(request: Request) -> Response:
            headers = {"Cache-Control": self.jwks_cache_control} if self.jwks_cache_control else {}
            if self.jwks_body is not None:
                return Response(self.jwks_body, 200, headers=headers, media_type="application/json")
            return JSONResponse(jwks(self.jwks_keys), headers=headers)

        async def person_token(request: Request) -> Response:
            message, verified = await signed(request, "person-token")
            body = json.loads(message.body)
            token = self.issue(
                tokens.mint_person_token(
                    self.signing_key, iss=PS, aud=body["resource"], sub="person-1", cnf=verified.token.cnf_jwk
                )
            )
            return JSONResponse({"person_token": token, "expires_in": 3600})

        async def auth_token(request: Request) -> Response:
            message, verified = await signed(request, "auth-token")
            if self.auth_error:
                return problem(*self.auth_error)
            body = json.loads(message.body)
            now = int(self.clock())
            resource_token = await tokens.verify_token(
                body["resource_token"],
                typ=RESOURCE_TYP,
                resolver=self.resolver,
                now=now,
                expected_aud=PS,
                signing_key_jwk=verified.key.public_jwk(),
            )
            presented = await tokens.verify_token(
                body["presented_token"],
                typ=(PERSON_TYP, AUTH_TYP),
                resolver=self.resolver,
                now=now,
                expected_aud=resource_token.iss,
            )
            check_presented_token(resource_token, presented)
            claims = dict(
                iss=PS,
                aud=resource_token.iss,
                ps=PS,
                sub=resource_token.sub,
                cnf=verified.key.public_jwk(),
                scope=resource_token.scope,
                lifetime=self.auth_lifetime,
            )
            claims.update(self.auth_token_claims)
            token = self.issue(tokens.mint_auth_token(self.signing_key, **claims))
            if not self.defer:
                return JSONResponse({"auth_token": token, "expires_in": self.auth_lifetime})
            self.pending_token = token
            return self.pending_response()

        async def pending(request: Request) -> Response:
            await signed(request, "pending")
            step = self.script.pop(0) if self.script else "pending"
            if step == "approve":
                return JSONResponse({"auth_token": self.pending_token, "expires_in": self.auth_lifetime})
            if step == "pending":
                return self.pending_response()
            if isinstance(step, tuple) and step[0] == "hold":  # a poll held under Prefer: wait
                await asyncio.sleep(step[1])
                return self.pending_response(retry_after="1")
            if step == "garbage":
                return Response("<html>oops</html>", 503)
            return problem(*step)

        return Starlette(
            routes=[
                Route("/.well-known/aauth-person.json", metadata),
                Route("/.well-known/jwks.json", jwks_document),
                Route("/person-token", person_token, methods=["POST"]),
                Route("/auth-token", auth_token, methods=["POST"]),
                Route("/pending/{id}", pending),
            ]
        )

    def issue(self, token: str) -> str:
        """``token`` as the PS hands it out: re-signed with ``token_header`` merged into its header."""
        if not self.token_header:
            return token
        decoded = jws.decode_unverified(token)
        return jws.sign_compact({**decoded.header, **self.token_header}, decoded.payload, self.signing_key)

    def pending_response(self, retry_after=None) -> Response:
        """-11 "Deferred Responses" ."""
        response = aauth_requirement(
            202, "interaction", {"status": "pending"}, url=f"{PS}/interaction", code=CODE
        )
        response.headers.update(
            {
                "Location": self.location,
                "Retry-After": retry_after or self.retry_after,
                "Cache-Control": "no-store",
            }
        )
        return response

    def requests_to(self, endpoint: str) -> list[HttpMessage]:
        return [message for name, message in self.seen if name == endpoint]


WORLD = World()


@pytest.fixture(scope="module")
def hosts():
    with Hosts("socket") as hosts:
        hosts.add(RES, WORLD.resource_app())
        hosts.add(PS, WORLD.ps_app())
        yield hosts


@pytest.fixture(autouse=True)
def world():
    WORLD.reset()
    return WORLD


def agent_token(**claims) -> str:
    claims = {"iss": PS, "sub": AGENT_ID, "cnf": AGENT_KEY, "ps": PS, **claims}
    return tokens.mint_agent_token(PS_KEY, **claims)


@pytest.fixture
def pauses():
    return []


@pytest.fixture
def agent(pauses):
    return Agent(AGENT_KEY, agent_token(), sleep=pauses.append)


@pytest.fixture
def trace():
    return Trace(names={PS: "PS", RES: "Resource"})


@pytest.fixture
def client(hosts, agent, trace):
    with hosts.client(
        auth=agent.auth(justification="Optimize the laptop supply chain"),
        event_hooks=trace.sync_event_hooks("Agent"),
    ) as client:
        yield client


def presented(message: HttpMessage) -> dict:
    """The claims of the token a signed request presents in ``Signature-Key``."""
    signature_key = parse_signature_key(message.header("signature-key"), "sig")
    decoded = jws.decode_unverified(signature_key.jwt)
    return {"typ": decoded.header["typ"], **decoded.payload}


def covered(message: HttpMessage) -> list[str]:
    return read_signature(message).component_names


def summaries(trace: Trace) -> list[str]:
    return [f"{e.target} {e.summary()}" for e in trace.exchanges]


# -- signing and the three requirements ------------------------------------------------------
def test_agent_token_route_needs_one_signed_request(client, trace, world):
    """-11 "Agent Token Required": a request signed with the agent token is enough for agent identity access."""
    response = client.get(f"{RES}/whoami")
    assert response.json() == {"caller": AGENT_ID}
    assert summaries(trace) == ["Resource GET /whoami → 200"]
    (message,) = world.requests_to("/whoami")
    assert presented(message)["typ"] == AGENT_TYP
    assert covered(message) == ["@method", "@authority", "@path", "signature-key"]  # no body, no digest


def test_person_token_requirement_is_followed(client, agent, trace, world):
    """-11 "Person Token Required": 401 requirement=person-token → discover the PS from the agent token's ps
    claim, POST person_token_endpoint {"resource", "capabilities"} signed with the agent token, check the
    person token's signature against the PS's JWKS (-11 "Auth Token Response Verification"), retry."""
    response = client.get(f"{RES}/profile")
    assert response.json()["person"] == "person-1"
    assert summaries(trace) == [
        "Resource GET /profile → 401 (requirement=person-token)",
        "PS GET /.well-known/aauth-person.json → 200",
        "PS POST /person-token → 200",
        "PS GET /.well-known/jwks.json → 200",
        "Resource GET /profile → 200",
    ]
    (request,) = world.requests_to("person-token")
    assert json.loads(request.body) == {"resource": RES, "capabilities": ["interaction"]}
    assert presented(request)["typ"] == AGENT_TYP
    assert covered(request) == [
        "@method",
        "@authority",
        "@path",
        "content-type",
        "content-digest",
        "signature-key",
    ]
    assert presented(world.requests_to("/profile")[-1])["typ"] == PERSON_TYP
    assert agent.person_token_for(RES) == agent.tokens[RES]["person_token"]


def test_policy_granted_flow_and_the_retry(client, agent, trace, world):
    """-11 "Auth Token Required": person token → 401 auth-token + resource token → POST auth_token_endpoint
    {resource_token, presented_token, justification} with Prefer: wait → 200 → retry with
    the auth token, body covered by content-digest."""
    response = client.post(f"{RES}/optimize", json={"units": 3})
    assert response.status_code == 200 and json.loads(response.json()["body"]) == {"units": 3}
    assert summaries(trace) == [
        "Resource POST /optimize → 401 (requirement=person-token)",
        "PS GET /.well-known/aauth-person.json → 200",
        "PS POST /person-token → 200",
        "PS GET /.well-known/jwks.json → 200",
        "Resource POST /optimize → 401 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "Resource POST /optimize → 200",
    ]
    (request,) = world.requests_to("auth-token")
    body = json.loads(request.body)
    assert set(body) == {"resource_token", "presented_token", "justification", "capabilities"}
    assert body["presented_token"] == agent.tokens[RES]["person_token"]
    assert body["justification"] == "Optimize the laptop supply chain"
    assert parse_prefer_wait(request.header("prefer")) == 30
    final = world.requests_to("/optimize")[-1]
    assert presented(final)["typ"] == AUTH_TYP and presented(final)["scope"] == "optimize"
    assert "content-digest" in covered(final)
    assert agent.auth_token_for(RES) == agent.tokens[RES]["auth_token"]


def test_a_retried_request_carries_only_its_new_signature(client, world):
    """RFC 9421 §4.1/§4.2: a retry is signed afresh, so Signature-Input and Signature
    hold one member for the label, not the earlier attempt's signature too."""
    client.post(f"{RES}/optimize", json={"units": 3})
    retries = world.requests_to("/optimize")
    assert len(retries) == 3
    for message in retries:
        assert message.header("signature-input").count("sig=") == 1
        assert message.header("signature").count("sig=") == 1


def test_tokens_are_cached_per_resource(client, agent, trace):
    """A second call presents the cached auth token: one exchange, no PS request."""
    client.post(f"{RES}/optimize", json={})
    trace.clear()
    response = client.post(f"{RES}/optimize", json={})
    assert response.status_code == 200
    assert summaries(trace) == ["Resource POST /optimize → 200"]


def test_an_auth_token_near_expiry_is_not_used(hosts, world, pauses):
    """Cached tokens count only until exp minus a margin; then the person token is presented
    and a fresh auth token obtained (-11 "Re-authorization": no refresh, new resource token)."""
    world.auth_lifetime = 60
    offset = [0]
    agent = Agent(AGENT_KEY, agent_token(), clock=lambda: time.time() + offset[0], sleep=pauses.append)
    trace = Trace(names={PS: "PS", RES: "Resource"})
    with hosts.client(auth=agent.auth(), event_hooks=trace.sync_event_hooks("Agent")) as client:
        client.get(f"{RES}/optimize")
        first = agent.auth_token_for(RES)
        offset[0] = 1  # a 60 s auth token has fewer than 5 minutes left: stale; the person token is not
        trace.clear()
        assert client.get(f"{RES}/optimize").status_code == 200
    assert summaries(trace) == [
        "Resource GET /optimize → 401 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "Resource GET /optimize → 200",
    ]
    assert agent.tokens[RES]["auth_token"] != first


def test_c7_an_auth_token_with_four_minutes_left_is_not_presented(hosts, world):
    """-11 "Re-authorization": the agent refreshes before expiry; a cached auth token with 4
    minutes left is not presented and a fresh one is fetched, one with 6 minutes left is."""
    fetched = [
        "Resource GET /optimize → 401 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "Resource GET /optimize → 200",
    ]
    for minutes_left, second_call in ((6, ["Resource GET /optimize → 200"]), (4, fetched)):
        world.auth_lifetime = minutes_left * 60
        agent = Agent(AGENT_KEY, agent_token())
        trace = Trace(names={PS: "PS", RES: "Resource"})
        with hosts.client(auth=agent.auth(), event_hooks=trace.sync_event_hooks("Agent")) as client:
            client.get(f"{RES}/optimize")
            first = agent.auth_token_for(RES) or agent.tokens[RES]["auth_token"]
            trace.clear()
            assert client.get(f"{RES}/optimize").status_code == 200
        assert summaries(trace) == second_call, minutes_left
        assert (agent.tokens[RES]["auth_token"] != first) == (minutes_left == 4)


@pytest.mark.parametrize("capabilities, sent", [(None, ["interaction"]), ((), [])])
def test_c2_agent_declares_its_capabilities_to_the_ps(hosts, world, capabilities, sent):
    """-11 "AAuth-Capabilities Request Header": without a declaration the PS assumes no
    capability, so every token request carries the body member ``capabilities`` (-11 "Agent
    Token Request"; the header is not used on PS endpoints): ``interaction`` by default."""
    options = {} if capabilities is None else {"capabilities": capabilities}
    agent = Agent(AGENT_KEY, agent_token(), **options)
    with hosts.client(auth=agent.auth()) as client:
        assert client.get(f"{RES}/profile").status_code == 200
        assert client.get(f"{RES}/optimize").status_code == 200
    bodies = {endpoint: json.loads(message.body) for endpoint, message in world.seen if message.body}
    assert bodies["person-token"]["capabilities"] == sent
    assert bodies["auth-token"]["capabilities"] == sent
    assert all(message.header("aauth-capabilities") is None for _, message in world.seen)


def test_agent_token_requirement_switches_back_to_the_agent_token(client, agent, trace, world):
    """-11 "Agent Token Required": a route that wants the agent's identity gets the agent token even when a
    person token is cached (which stays cached for other routes)."""
    client.get(f"{RES}/profile")
    trace.clear()
    assert client.get(f"{RES}/agent-only").json() == {"agent": AGENT_ID}
    assert summaries(trace) == [
        "Resource GET /agent-only → 401 (requirement=agent-token)",
        "Resource GET /agent-only → 200",
    ]
    assert agent.person_token_for(RES) is not None


def test_a_revoked_cached_token_falls_back_to_the_agent_token(client, agent, trace, world):
    """-11 "Token Revocation": a cached token answered with 401 Signature-Error revoked_jwt is dropped."""
    client.get(f"{RES}/profile")
    world.revoked.add(jws.decode_unverified(agent.tokens[RES]["person_token"]).payload["jti"])
    trace.clear()
    assert client.get(f"{RES}/profile").status_code == 200
    assert summaries(trace) == [
        "Resource GET /profile → 401",
        "Resource GET /profile → 401 (requirement=person-token)",
        "PS POST /person-token → 200",
        "Resource GET /profile → 200",
    ]


def test_a_cached_ps_metadata_document_is_reused(client, trace):
    client.get(f"{RES}/profile")
    client.get(f"{RES}/optimize")
    assert sum("aauth-person.json" in s for s in summaries(trace)) == 1


# -- deferred consent at the PS (-11 "Interaction Required", "Deferred Responses") ------------------------------------
def test_consent_interaction_then_poll_until_approved(hosts, world, trace, pauses):
    """202 + Location + Retry-After + requirement=interaction: on_interaction is told once,
    the relative Location is resolved against the PS origin, polls are signed GETs with
    Prefer: wait and no body; Retry-After is honoured when the server did not hold."""
    world.defer, world.retry_after = True, "2"
    world.script = ["pending", "pending", "approve"]
    told = []
    agent = Agent(AGENT_KEY, agent_token(), wait=7, on_interaction=told.append, sleep=pauses.append)
    with hosts.client(auth=agent.auth(), event_hooks=trace.sync_event_hooks("Agent")) as client:
        response = client.post(f"{RES}/optimize", json={"units": 1})
    assert response.status_code == 200
    assert told == [Interaction(f"{PS}/interaction", CODE, f"{PS}/pending/p1", RES, "optimize")]
    assert agent.last_interaction is told[0]
    assert pauses == [2, 2, 2]
    polls = world.requests_to("pending")
    assert len(polls) == 3
    for poll in polls:
        assert poll.method == "GET" and poll.body == b"" and parse_prefer_wait(poll.header("prefer")) == 7
        assert presented(poll)["typ"] == AGENT_TYP
    assert summaries(trace)[-2:] == ["PS GET /pending/p1 → 200", "Resource POST /optimize → 200"]
    assert presented(world.requests_to("/optimize")[-1])["typ"] == AUTH_TYP


def test_interaction_link():
    interaction = Interaction(f"{PS}/interaction", CODE, f"{PS}/pending/p1")
    assert interaction.link() == f"{PS}/interaction?code=ABCD-EFGH"
    assert interaction.link("https://backend.example/cb?x=1") == (
        f"{PS}/interaction?code=ABCD-EFGH&callback=https%3A%2F%2Fbackend.example%2Fcb%3Fx%3D1"
    )


def test_a_held_poll_is_not_followed_by_a_sleep(client, world, pauses):
    """-11 "Polling with GET": a poll the server held (Prefer: wait) for at least Retry-After needs no sleep."""
    world.defer = True
    world.script = [("hold", 1.3), "approve"]
    assert client.get(f"{RES}/optimize").status_code == 200
    assert pauses == []  # the first 202 says Retry-After: 0, the held one 1 s after 1.3 s


def test_slow_down_backs_off_linearly_and_continues(client, world, pauses):
    """-11 polling error slow_down (429): add 5 s to the interval each time, keep polling."""
    world.defer = True
    world.script = [(429, "slow_down"), (429, "slow_down"), "approve"]
    assert client.get(f"{RES}/optimize").status_code == 200
    assert pauses == [5, 10]


@pytest.mark.parametrize(
    "status, code",
    [(403, "denied"), (403, "abandoned"), (408, "expired"), (410, "invalid_code"), (500, "server_error")],
)
def test_terminal_polling_errors(client, world, status, code):
    """-11 "Polling Error Codes" : each ends the flow with its code and status."""
    world.defer = True
    world.script = ["pending", (status, code)]
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert (caught.value.code, caught.value.status) == (code, status)
    assert caught.value.response.status_code == status


def test_an_unreadable_5xx_is_server_error(client, world):
    world.defer = True
    world.script = ["garbage"]
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert (caught.value.code, caught.value.status) == ("server_error", 503)


@pytest.mark.parametrize("location", [f"{RES}/pending/p1", "mailto:x@ps.example", "https://[::1"])
def test_a_pending_url_on_another_origin_is_refused(client, world, location):
    """-11 "Pending URL Security": the pending Location must be on the responder's origin; one
    that is no http(s) URL at all is refused the same way (``invalid_response``)."""
    world.defer = True
    world.location = location
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert caught.value.code == "invalid_response"
    assert world.requests_to("pending") == []


def test_a_token_endpoint_error_passes_through(client, world):
    """-11 "Token Endpoint Error Codes": the PS's problem+json error is the FlowError's code."""
    world.auth_error = (400, "invalid_resource_token")
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert (caught.value.code, caught.value.status) == ("invalid_resource_token", 400)


# -- what the agent checks (-11 "Resource Challenge Verification", "Auth Token Response Verification") ---------------------------------
@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example"},
        {"agent_jkt": OTHER_KEY.thumbprint()},
        {"presented_jti": "another-token"},
        {"sub": "person-2"},
        {"ps": "https://other-ps.example"},
        {"iat": int(time.time()) - 600, "exp": int(time.time()) - 1},
    ],
)
def test_a_resource_token_not_meant_for_this_request_is_refused(client, world, claims):
    """-11 "Resource Challenge Verification": iss = the origin called, agent_jkt = own key, presented_jti/sub/ps =
    those of the presented token, exp in the future — else no auth token request is made."""
    world.resource_token_claims = claims
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert caught.value.code == "invalid_resource_token"
    assert world.requests_to("auth-token") == []


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://other.example"},
        {"cnf": OTHER_KEY.public_jwk()},
        {"iss": "https://other-ps.example", "ps": "https://other-ps.example"},
        {"sub": "person-2"},
    ],
)
def test_an_auth_token_that_does_not_fit_is_refused(client, agent, world, claims):
    """-11 "Auth Token Response Verification": aud = the resource, cnf.jwk = own key, iss = resource token aud,
    sub = presented token sub; a misfit is not cached and not presented."""
    world.auth_token_claims = claims
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert caught.value.code == "invalid_auth_token"
    assert agent.auth_token_for(RES) is None
    assert all(presented(m)["typ"] != AUTH_TYP for m in world.requests_to("/optimize"))


def test_ps_metadata_must_name_its_issuer(client, world):
    """-11 "Metadata Documents": issuer byte-equal to the identifier it was fetched under."""
    world.metadata_issuer = "https://ps.example.evil"
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/profile")
    assert caught.value.code == "issuer_mismatch"


def test_no_person_server_known(hosts):
    agent = Agent(AGENT_KEY, tokens.mint_agent_token(PS_KEY, iss=PS, sub=AGENT_ID, cnf=AGENT_KEY))
    with hosts.client(auth=agent.auth()) as client, pytest.raises(FlowError) as caught:
        client.get(f"{RES}/profile")
    assert caught.value.code == "invalid_request"


def test_the_ps_argument_names_the_person_server(hosts, world):
    agent = Agent(AGENT_KEY, tokens.mint_agent_token(PS_KEY, iss=PS, sub=AGENT_ID, cnf=AGENT_KEY), ps=PS)
    with hosts.client(auth=agent.auth()) as client:
        assert client.get(f"{RES}/profile").status_code == 200


# -- the resource's deferred form (-11 "Deferred Delivery") ---------------------------------------------------
def test_deferred_delivery_polls_the_resource_with_the_auth_token(client, trace, world):
    """202 + requirement=auth-token: get the auth token, then GET the resource's Location
    signed with it; the original request is not sent again."""
    response = client.post(f"{RES}/deferred", json={"units": 2})
    assert response.json() == {"result": "optimized", "by": "person-1"}
    assert summaries(trace)[-3:] == [
        "Resource POST /deferred → 202 (requirement=auth-token)",
        "PS POST /auth-token → 200",
        "Resource GET /jobs/j1 → 200",
    ]
    (poll,) = world.requests_to("/jobs/j1")
    assert presented(poll)["typ"] == AUTH_TYP


# -- call chaining (-11 "Call Chaining") -----------------------------------------------------------------
def test_upstream_token_goes_to_the_ps_named_by_it(hosts, world):
    """-11 "Call Chaining": the PS is the upstream token's; upstream_token rides in every token
    request; tokens of one chain are not presented in another."""
    upstream = tokens.mint_person_token(
        PS_KEY, iss=PS, aud="https://caller.example", sub="person-1", cnf=OTHER_KEY
    )
    agent = Agent(
        AGENT_KEY, tokens.mint_agent_token(PS_KEY, iss=PS, sub=AGENT_ID, cnf=AGENT_KEY), sleep=lambda s: None
    )
    with hosts.client(auth=agent.auth(upstream_token=upstream)) as client:
        assert client.get(f"{RES}/optimize").status_code == 200
    assert json.loads(world.requests_to("person-token")[0].body) == {
        "resource": RES,
        "capabilities": ["interaction"],
        "upstream_token": upstream,
    }
    assert json.loads(world.requests_to("auth-token")[0].body)["upstream_token"] == upstream
    world.seen.clear()
    with hosts.client(auth=agent.auth()) as client:  # no chain: the chained tokens do not count
        client.get(f"{RES}/whoami")
    assert presented(world.requests_to("/whoami")[0])["typ"] == AGENT_TYP


# -- async, sync on a kernel-like thread, ASGI -------------------------------------------------
def test_async_client_runs_the_same_flow_with_consent(hosts, world, trace):
    """httpx.AsyncClient drives the same generator; an async sleep is awaited."""
    world.defer, world.retry_after = True, "3"
    world.script = ["pending", "approve"]
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    told = []
    agent = Agent(AGENT_KEY, agent_token(), on_interaction=told.append, sleep=sleep)

    async def run():
        async with hosts.async_client(auth=agent.auth(), event_hooks=trace.event_hooks("Agent")) as client:
            return await client.post(f"{RES}/optimize", json={"units": 5})

    response = asyncio.run(run())
    assert response.status_code == 200 and len(told) == 1 and slept == [3, 3]
    assert summaries(trace)[-1] == "Resource POST /optimize → 200"


def test_async_client_on_the_kits_loop_thread(hosts, world):
    async def run():
        agent = Agent(AGENT_KEY, agent_token())
        async with hosts.async_client(auth=agent.auth()) as client:
            return await client.get(f"{RES}/optimize")

    assert get_loop_thread().run(run(), timeout=30).status_code == 200


def test_asgi_mode_full_flow(world, pauses):
    world.defer = True
    world.script = ["approve"]
    with Hosts("asgi") as hosts:
        hosts.add(RES, WORLD.resource_app())
        hosts.add(PS, WORLD.ps_app())
        agent = Agent(AGENT_KEY, agent_token(), sleep=pauses.append)
        with hosts.client(auth=agent.auth()) as client:
            assert client.post(f"{RES}/optimize", json={}).status_code == 200


def test_flow_error_is_an_aauth_error():
    error = FlowError("denied", "the person said no", status=403)
    assert isinstance(error, AAuthError) and error.problem()["error"] == "denied"
