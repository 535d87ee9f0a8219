"""The Person Server + Agent Provider (servers/ps.py) over real HTTP.

Every request is built here with profile.sign_request, sent through runtime.Hosts over
loopback sockets (the key flows once more in ASGI mode).  Resource tokens are minted in
the test with a resource key that a tiny Starlette app publishes as real
``aauth-resource.json`` metadata and JWKS.  [N] = draft -11; wire = aauth-wire.md.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aauth_kit.servers.ps import ConsentPolicy, PersonServer, check_callback
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.claims import AGENT_TYP
from aauth_kit.headers import parse_requirement
from aauth_kit.interaction import normalize_code
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import (
    AGENT_DWK,
    PERSON_DWK,
    HttpResolver,
    agent_metadata,
    jwks,
    resource_metadata,
    validate_metadata,
)
from aauth_kit.profile import sign_request
from aauth_kit.runtime import Hosts, get_loop_thread
from aauth_kit.signature_key import hwk_key, jwt_key

PS = "https://ps.example"
RES = "https://files.example"  # a resource whose scopes the tests ask for
CHAIN = "https://chain.example"  # a resource that is its own Agent Provider (call chaining)
APP = "https://app.example"  # where callbacks land
HANG_GUARD = 60  # seconds: only ever a guard against hangs, never a timing assertion
#: Prefer: wait for polls that must be woken: longer than the hang guard, so a poll that
#: is not woken ends the test with a timeout instead of quietly finding the decision later.
HELD = 2 * HANG_GUARD
SCOPE_DESCRIPTIONS = {"files:read": "Read your files.", "files:delete": "Delete your files."}


class Clock:
    """Wall-clock seconds plus an offset the test can move."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def party_app(identifier: str, key: Key, name: str) -> Starlette:
    """A resource's metadata and JWKS, and (for call chaining) its own AP metadata."""
    documents = {
        "/.well-known/aauth-resource.json": resource_metadata(
            identifier,
            f"{identifier}/.well-known/jwks.json",
            name=name,
            scope_descriptions=SCOPE_DESCRIPTIONS,
        ),
        "/.well-known/aauth-agent.json": agent_metadata(
            identifier, f"{identifier}/.well-known/jwks.json", name=f"{name} agent"
        ),
        "/.well-known/jwks.json": jwks([key]),
    }
    return Starlette(
        routes=[Route(path, lambda request, doc=doc: JSONResponse(doc)) for path, doc in documents.items()]
    )


def callback_app() -> Starlette:
    return Starlette(routes=[Route("/done", lambda request: JSONResponse(dict(request.query_params)))])


class World:
    """The PS, a resource, a chaining resource and a callback site on one Hosts network."""

    def __init__(self, data_dir, *, mode="socket", **ps_options):
        self.data_dir = data_dir
        self.clock = Clock()
        self.hosts = Hosts(mode)
        self.resolver = HttpResolver(self.hosts.fetch())
        self.ps_key = Key.from_seed("test ps", kid="ps-1")
        self.res_key = Key.from_seed("test resource", kid="res-1")
        self.chain_key = Key.from_seed("test chain", kid="chain-1")
        self.hosts.add(RES, party_app(RES, self.res_key, "Files"))
        self.hosts.add(CHAIN, party_app(CHAIN, self.chain_key, "Chain"))
        self.hosts.add(APP, callback_app())
        policy = ConsentPolicy(scopes=["files:delete"])  # the seed's prefixes, and one scope of RES
        self.ps_options = {
            "users": {"mcp-user": "user123", "alice": "alice-pw"},
            "policy": policy,
            **ps_options,
        }
        self.ps = self.start_ps()
        self.client = self.hosts.client(timeout=HANG_GUARD)
        self.agent_key = Key.from_seed("agent backend")
        self.agent_token = self.ps.issue_agent_token("backend", self.agent_key, name="Backend")

    def start_ps(self, **overrides) -> PersonServer:
        ps = PersonServer(
            PS,
            key=self.ps_key,
            resolver=self.resolver,
            data_dir=self.data_dir,
            clock=self.clock,
            **{**self.ps_options, **overrides},
        )
        self.hosts.add(PS, ps.app)
        return ps

    def restart_ps(self, **overrides) -> PersonServer:
        old = self.ps
        self.ps = self.start_ps(**overrides)
        old.close()
        return self.ps

    def stop(self):
        self.client.close()
        self.hosts.stop()
        self.ps.close()

    # -- signed requests ------------------------------------------------------------------
    def send(
        self, method, url, *, key=None, token=None, hwk=False, body=None, raw=None, headers=(), client=None
    ):
        """Sign with ``key`` presenting ``token`` (or the bare key with ``hwk``) and send."""
        key = key or self.agent_key
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
        message = HttpMessage(method, url, headers=list(headers), body=data)
        signature_key = hwk_key(key) if hwk else jwt_key(token or self.agent_token)
        sign_request(message, key, signature_key, created=int(self.clock()))
        return (client or self.client).request(method, url, headers=message.headers, content=data)

    def person_token(self, resource=RES, **kw) -> str:
        response = self.send("POST", f"{PS}/person-token", body={"resource": resource}, **kw)
        assert response.status_code == 200, response.text
        return response.json()["person_token"]

    def resource_token(
        self, presented: str, scope="files:read", *, key=None, agent_key=None, iss=RES, **claims
    ):
        shown = jws.decode_unverified(presented).payload
        now = int(self.clock())
        values = dict(
            aud=PS,
            ps=PS,
            sub=shown["sub"],
            presented_jti=shown["jti"],
            agent_jkt=agent_key or self.agent_key,
            scope=scope,
            iat=now,
            exp=now + 300,
        )
        values.update(claims)
        return tokens.mint_resource_token(key or self.res_key, iss=iss, **values)

    def ask(self, scope="files:read", *, wait=None, justification=None, **kw) -> tuple:
        """Person token → resource token → POST /auth-token; returns (response, presented)."""
        presented = self.person_token()
        body = {"resource_token": self.resource_token(presented, scope), "presented_token": presented}
        if justification is not None:
            body["justification"] = justification
        headers = [("Prefer", f"wait={wait}")] if wait is not None else []
        return self.send("POST", f"{PS}/auth-token", body=body, headers=headers, **kw), presented

    def defer(self, scope="files:delete", **kw):
        """A request that needs consent; returns (pending URL, code, 202 response)."""
        response, _ = self.ask(scope, **kw)
        assert response.status_code == 202, response.text
        requirement = parse_requirement(response.headers["aauth-requirement"])
        return response.headers["location"], requirement.code, response

    def poll(self, url, *, wait=None, **kw):
        headers = [("Prefer", f"wait={wait}")] if wait is not None else []
        return self.send("GET", url, headers=headers, **kw)

    # -- the person ---------------------------------------------------------------------------
    def person(self, username="mcp-user", password="user123"):
        client = self.hosts.client(timeout=HANG_GUARD)
        response = client.post(f"{PS}/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['session']}"
        return client

    def approve(self, code, approved=True, person=None):
        person = person or self.person()
        context = person.get(f"{PS}/consent", params={"code": code})
        assert context.status_code == 200, context.text
        decision = person.post(
            f"{PS}/consent/{context.json()['pending_id']}/decision", json={"approved": approved}
        )
        assert decision.status_code == 200, decision.text
        return context.json()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.stop()


def error_of(response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()["error"]


def decoded(token: str) -> dict:
    return jws.decode_unverified(token).payload


# -- metadata ---------------------------------------------------------------------------------


def test_metadata_documents_validate_and_name_the_endpoints(world):
    """[N] "Metadata Documents": aauth-person.json holds the four required members;
    aauth-agent.json names the AP's JWKS (plus the kit's registration endpoint)."""
    person = world.client.get(f"{PS}/.well-known/aauth-person.json").json()
    validate_metadata(person, PS, PERSON_DWK, complete=True)
    assert person["person_token_endpoint"] == f"{PS}/person-token"
    assert person["auth_token_endpoint"] == f"{PS}/auth-token"
    assert person["jwks_uri"] == f"{PS}/.well-known/jwks.json"
    agent = world.client.get(f"{PS}/.well-known/aauth-agent.json").json()
    validate_metadata(agent, PS, AGENT_DWK, complete=True)
    assert agent["registration_endpoint"] == f"{PS}/agent/register"
    keys = world.client.get(f"{PS}/.well-known/jwks.json").json()["keys"]
    assert [(k["kid"], k["alg"], k["x"]) for k in keys] == [
        ("ps-1", "Ed25519", world.ps_key.public_jwk()["x"])
    ]


def test_issued_agent_token_verifies_through_discovery(world):
    """[N] §5.3: the AP's agent token (sub aauth:local@host, cnf = the agent key, ps hint)
    verifies against the AP's published metadata and JWKS over HTTP."""
    verified = get_loop_thread().run(
        tokens.verify_token(
            world.agent_token,
            typ=AGENT_TYP,
            resolver=HttpResolver(world.hosts.fetch()),
            now=int(time.time()),
        )
    )
    assert (verified.iss, verified.sub, verified.ps) == (PS, "aauth:backend@ps.example", PS)
    assert verified.jkt == world.agent_key.thumbprint()
    agent = world.ps.store.get_agent("aauth:backend@ps.example")
    assert (agent.username, agent.status, agent.name) == ("mcp-user", "approved", "Backend")
    other = Key.from_seed("agent as jwk")
    from_jwk = world.ps.issue_agent_token("jwk-agent", other.public_jwk(), person="alice")
    assert decoded(from_jwk)["cnf"]["jwk"] == other.public_jwk(kid=False)
    assert world.ps.store.get_agent("aauth:jwk-agent@ps.example").username == "alice"
    from aauth_kit.errors import UsageError

    with pytest.raises(UsageError):
        world.ps.issue_agent_token("ghost", other, person="nobody")


# -- person tokens ------------------------------------------------------------------------------


def test_person_token_for_a_bound_agent(world):
    """[N] §7.1 / wire §5.4: an agent bound to a person gets a person token at once:
    aud = the resource, a pairwise sub, cnf = the signing key, exp ≤ 1 h and ≤ the agent token."""
    response = world.send("POST", f"{PS}/person-token", body={"resource": RES})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = decoded(response.json()["person_token"])
    assert (claims["iss"], claims["aud"], claims["dwk"]) == (PS, RES, "aauth-person.json")
    assert claims["sub"] == world.ps.subject("mcp-user", RES) != world.ps.subject("mcp-user", CHAIN)
    assert claims["sub"] != world.ps.subject("alice", RES)
    assert claims["cnf"]["jwk"] == world.agent_key.public_jwk(kid=False)
    assert claims["exp"] - claims["iat"] <= 3600 and claims["exp"] <= decoded(world.agent_token)["exp"]
    assert response.json()["expires_in"] == claims["exp"] - claims["iat"]
    assert "scope" not in claims


def test_person_token_body_errors(world):
    """[N] §7.1: a bad or missing ``resource`` is invalid_request (400), never a 500."""
    for body in ({}, {"resource": "http://files.example"}, {"resource": 7}, {"resource": f"{RES}/path"}):
        response = world.send("POST", f"{PS}/person-token", body=body)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), body
    for raw in (b"not json", b"[1, 2]", b"\xff\xfe"):
        response = world.send(
            "POST", f"{PS}/person-token", raw=raw, headers=[("Content-Type", "application/json")]
        )
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), raw


# -- auth tokens granted by policy ------------------------------------------------------------------


def test_auth_token_granted_by_policy(world):
    """wire §5.5 step 7 and [N] §9.4.1: a scope that needs no consent is granted at once;
    the auth token names the resource (aud), the person (sub copied from the resource token),
    the agent's key (cnf.jwk) and the scope; iss = ps = the PS; exp ≤ the agent token's."""
    response, presented = world.ask("files:read")
    assert response.status_code == 200, response.text
    claims = decoded(response.json()["auth_token"])
    assert (claims["iss"], claims["ps"], claims["aud"], claims["dwk"]) == (PS, PS, RES, "aauth-person.json")
    assert claims["sub"] == decoded(presented)["sub"]
    assert claims["cnf"]["jwk"] == world.agent_key.public_jwk(kid=False)
    assert claims["scope"] == "files:read"
    assert claims["exp"] <= decoded(world.agent_token)["exp"] and claims["exp"] <= decoded(presented)["exp"]
    assert jws.decode_unverified(response.json()["auth_token"]).header["typ"] == "aa-auth+jwt"


def test_auth_token_by_step_up_with_an_auth_token_presented(world):
    """wire §5.9: a resource may challenge a request bearing an auth token; the agent then
    presents that auth token and gets a new one."""
    first, _ = world.ask("files:read")
    auth_token = first.json()["auth_token"]
    body = {"resource_token": world.resource_token(auth_token, "files:read"), "presented_token": auth_token}
    response = world.send("POST", f"{PS}/auth-token", body=body)
    assert response.status_code == 200, response.text
    assert decoded(response.json()["auth_token"])["sub"] == decoded(auth_token)["sub"]


# -- deferred consent --------------------------------------------------------------------------------


def test_consent_needed_answers_202_with_every_header(world):
    """[N] "Deferred Responses", wire §3.9/§5.6: 202, Location (the pending URL on the PS),
    Retry-After, Cache-Control: no-store, AAuth-Requirement interaction (url + code), body
    {"status": "pending"}.  Under Prefer: wait the agent may come back at once."""
    url, code, response = world.defer("files:delete", wait=30)
    assert response.headers["location"].startswith(f"{PS}/pending/")
    assert response.headers["retry-after"] == "0"
    assert response.headers["cache-control"] == "no-store"
    requirement = parse_requirement(response.headers["aauth-requirement"])
    assert (requirement.requirement, requirement.url) == ("interaction", f"{PS}/interaction")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", requirement.code)
    assert response.json() == {"status": "pending"}
    assert world.ps.pending_codes() == [requirement.code]
    without_wait, _ = world.ask("files:delete")
    assert without_wait.headers["retry-after"] == "5"  # no Prefer: wait → poll later


def test_consent_prefix_policy(world):
    """The seed's prefixes: "profile.email" needs consent by prefix, "files:read" does not."""
    response, _ = world.ask("files:read profile.email")
    assert response.status_code == 202


def test_approve_via_rest_then_poll(world):
    """The seed's consent REST API: GET /consent?code → context; POST decision → the next
    poll answers 200 with the auth token; the pending URL is then gone (410)."""
    url, code, _ = world.defer("files:delete", justification="Clean up the **old** drafts")
    person = world.person()
    context = person.get(f"{PS}/consent", params={"code": code.lower()})  # case-insensitive code
    assert context.status_code == 200
    body = context.json()
    assert body["kind"] == "auth_token" and body["status"] == "interacting"
    assert (body["agent"], body["agent_name"], body["resource"], body["resource_name"]) == (
        "aauth:backend@ps.example",
        "Backend",
        RES,
        "Files",
    )
    assert (body["scope"], body["justification"]) == ("files:delete", "Clean up the **old** drafts")
    assert body["expires_at"].endswith("Z") and body["pending_id"] == url.rsplit("/", 1)[1]
    world.clock.advance(5)  # the Retry-After of the first 202
    pending = world.poll(url)
    assert (pending.status_code, pending.json()) == (202, {"status": "interacting"})
    decision = person.post(f"{PS}/consent/{body['pending_id']}/decision", json={"approved": True})
    assert decision.json() == {"status": "approved"}
    done = world.poll(url)
    assert done.status_code == 200, done.text
    claims = decoded(done.json()["auth_token"])
    assert (claims["aud"], claims["scope"], claims["sub"]) == (
        RES,
        "files:delete",
        world.ps.subject("mcp-user", RES),
    )
    assert world.poll(url).status_code == 410


def test_held_poll_wakes_when_the_person_decides(world):
    """DESIGN §4 "Deferred responses are event-driven": a held poll returns 200 as soon as the
    decision lands (a missed wake would hold it past the hang guard)."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(world.poll, url, wait=HELD)
        wait_until(lambda: world.ps.waiters.held(pending_id) == 1)
        world.approve(code)
        response = held.result(timeout=HANG_GUARD)
    assert response.status_code == 200, response.text
    assert "auth_token" in response.json()


@pytest.mark.parametrize("route", ["python", "html"])
def test_held_poll_wakes_on_decisions_from_other_routes(world, route):
    """The wake works whichever way the decision arrives: PersonServer.decide from another
    thread, or the HTML consent page."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(world.poll, url, wait=HELD)
        wait_until(lambda: world.ps.waiters.held(pending_id) == 1)
        if route == "python":
            threading.Thread(target=world.ps.decide, args=(code, True)).start()
        else:
            browser = logged_in_browser(world)
            page = browser.get(f"{PS}/interaction", params={"code": code})
            answer = browser.post(f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"})
            assert "You approved" in answer.text
        response = held.result(timeout=HANG_GUARD)
    assert response.status_code == 200, response.text


def test_denial_is_403_denied_then_410(world):
    """wire §5.6: a denied request answers 403 denied once, then 410."""
    url, code, _ = world.defer()
    world.approve(code, approved=False)
    response = world.poll(url, wait=30)
    assert (response.status_code, error_of(response)) == (403, "denied")
    assert "signature-error" not in response.headers  # a 403 never carries Signature-Error
    assert world.poll(url, wait=30).status_code == 410


def test_abandoned_is_403_abandoned_then_410(world):
    """wire §5.6: the person walked away → 403 abandoned; the callback gets user_abandoned."""
    url, code, _ = world.defer()
    person = world.person()
    pending_id = person.get(f"{PS}/consent", params={"code": code}).json()["pending_id"]
    answer = person.post(f"{PS}/consent/{pending_id}/abandon", json={"callback": f"{APP}/done?job=1"})
    assert answer.json() == {"status": "abandoned", "redirect_url": f"{APP}/done?job=1&error=user_abandoned"}
    response = world.poll(url)
    assert (response.status_code, error_of(response)) == (403, "abandoned")
    assert world.poll(url).status_code == 410


def test_expiry_is_408_then_410(world):
    """[N] polling: a request nobody answered within pending_ttl ends 408 expired, then 410."""
    url, code, _ = world.defer()
    world.clock.advance(601)
    response = world.poll(url)
    assert (response.status_code, error_of(response)) == (408, "expired")
    assert world.poll(url).status_code == 410
    assert world.ps.pending_codes() == []
    person = world.person()
    assert error_of(person.get(f"{PS}/consent", params={"code": code})) == "invalid_code"


def test_a_held_poll_ends_when_the_request_expires(tmp_path):
    """A held poll is bounded by the request's lifetime: 408 when it runs out, not after the
    whole wait (which would outlast the hang guard)."""
    w = World(tmp_path, pending_ttl=1)
    try:
        url, _, _ = w.defer()
        response = w.poll(url, wait=HELD)
        assert (response.status_code, error_of(response)) == (408, "expired")
    finally:
        w.stop()


def test_polling_too_fast_is_429_slow_down(world):
    """[N] polling: faster than Retry-After without Prefer: wait → 429 slow_down (with
    Retry-After); a poll that waits its turn, or asks to be held, is fine."""
    url, _, response = world.defer()
    assert response.headers["retry-after"] == "5"
    fast = world.poll(url)
    assert (fast.status_code, error_of(fast)) == (429, "slow_down")
    assert 0 < int(fast.headers["retry-after"]) <= 5
    world.clock.advance(5)
    assert world.poll(url).status_code == 202
    assert world.poll(url, wait=1).status_code == 202  # held polls are never too fast


def test_the_poll_interval_is_the_202s_retry_after(world):
    """[N] "Deferred Responses": the PS's poll interval (3 s here, the seed's backend's
    rhythm) is the Retry-After it sends and the pace it holds the agent to."""
    world.ps.poll_interval = 3
    url, _, response = world.defer()
    assert response.headers["retry-after"] == "3"
    world.clock.advance(2)
    early = world.poll(url)
    assert (early.status_code, error_of(early), early.headers["retry-after"]) == (429, "slow_down", "1")
    world.clock.advance(1)
    assert world.poll(url).status_code == 202


def test_delete_cancels(world):
    """wire §5.7: DELETE on the pending URL cancels (204); afterwards 410, and the code is spent."""
    url, code, _ = world.defer()
    assert world.send("DELETE", url).status_code == 204
    assert world.poll(url).status_code == 410
    assert world.send("DELETE", url).status_code == 410
    assert error_of(world.person().get(f"{PS}/consent", params={"code": code})) == "invalid_code"


def test_pending_url_answers_only_to_the_agent_key_that_created_it(world):
    """The pending URL is bound to the creating agent key's thumbprint: another agent (even
    one of the same person) gets 404 and cannot cancel it."""
    url, code, _ = world.defer()
    other_key = Key.from_seed("agent other")
    other_token = world.ps.issue_agent_token("other", other_key)
    assert (world.poll(url, key=other_key, token=other_token).status_code) == 404
    assert world.send("DELETE", url, key=other_key, token=other_token).status_code == 404
    assert world.poll(url, key=other_key, hwk=True).status_code == 404
    world.approve(code)
    assert world.poll(url).status_code == 200


def test_concurrent_polls_get_the_token_once(world):
    """The final answer is given once: of two polls racing after the approval, one gets the
    token and the other 410."""
    url, code, _ = world.defer()
    world.approve(code)
    world.clock.advance(5)
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: world.poll(url, wait=5), range(2)))
    assert statuses == [200, 410]
    assert [t.typ for t in world.ps.store.list_tokens()].count("aa-auth+jwt") == 1


def test_unknown_pending_url_is_404(world):
    response = world.poll(f"{PS}/pending/nothing-here")
    assert (response.status_code, error_of(response)) == (404, "not_found")


# -- the consent API -----------------------------------------------------------------------------------


def test_consent_api_needs_a_session(world):
    """The consent REST API, the admin endpoint and the audit log answer 401 unauthorized
    without a person's session (a wrong bearer token too)."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    anonymous = world.hosts.client()
    stranger = world.hosts.client(headers={"Authorization": "Bearer not-a-session"})
    for client in (anonymous, stranger):
        for response in (
            client.get(f"{PS}/consent", params={"code": code}),
            client.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}),
            client.get(f"{PS}/admin/consent-policy"),
            client.get(f"{PS}/audit"),
        ):
            assert (response.status_code, error_of(response)) == (401, "unauthorized")
    assert world.ps.store.get_pending(pending_id).status == "pending"


def test_reused_code_is_refused(world):
    """[N] "Interaction Code Format": a code is single use — once its request is decided,
    the code answers 410 invalid_code."""
    url, code, _ = world.defer()
    world.approve(code)
    response = world.person().get(f"{PS}/consent", params={"code": code})
    assert (response.status_code, error_of(response)) == (410, "invalid_code")
    for bad in ("0000-0000", "not a code!"):
        assert error_of(world.person().get(f"{PS}/consent", params={"code": bad})) == "invalid_code"


def test_second_decision_is_409(world):
    """The seed: a second decision on the same request is refused (409 conflict)."""
    url, code, _ = world.defer()
    person = world.person()
    context = world.approve(code, person=person)
    again = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": False})
    assert (again.status_code, error_of(again)) == (409, "conflict")
    assert world.poll(url).status_code == 200


def test_only_the_asked_person_may_decide(world):
    """An auth token request is for the person behind the presented token; another
    person's session gets 403 and the request stays open."""
    url, code, _ = world.defer()
    alice = world.person("alice", "alice-pw")
    assert alice.get(f"{PS}/consent", params={"code": code}).status_code == 403
    pending_id = url.rsplit("/", 1)[1]
    assert alice.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}).status_code == 403
    assert world.ps.store.get_pending(pending_id).status == "pending"


def test_decision_api_errors(world):
    url, code, _ = world.defer()
    person = world.person()
    pending_id = url.rsplit("/", 1)[1]
    cases = [
        (dict(json={"approved": "yes"}), 400, "invalid_request"),
        (dict(json=[True]), 400, "invalid_request"),
        (dict(content=b'{"approved": true}', headers={"Content-Type": "text/plain"}), 400, "invalid_request"),
        (dict(json={"approved": True, "callback": "javascript:alert(1)"}), 400, "invalid_request"),
    ]
    for kwargs, status, code_ in cases:
        response = person.post(f"{PS}/consent/{pending_id}/decision", **kwargs)
        assert (response.status_code, error_of(response)) == (status, code_), kwargs
    missing = person.post(f"{PS}/consent/nope/decision", json={"approved": True})
    assert (missing.status_code, error_of(missing)) == (404, "not_found")
    assert error_of(person.get(f"{PS}/consent")) == "invalid_request"
    answer = person.post(
        f"{PS}/consent/{pending_id}/decision", json={"approved": False, "callback": f"{APP}/done"}
    )
    assert answer.json() == {"status": "denied", "redirect_url": f"{APP}/done?error=access_denied"}


# -- restart ------------------------------------------------------------------------------------------------


def test_restarted_ps_resumes_its_pending_requests(world):
    """DESIGN §4 "State": a new PersonServer on the same data directory carries on — the
    person (whose session survived) approves there and the agent's poll gets its token."""
    url, code, _ = world.defer()
    person = world.person()
    world.restart_ps()
    assert world.ps.pending_codes() == [code]
    world.approve(code, person=person)
    response = world.poll(url, wait=30)
    assert response.status_code == 200, response.text
    assert decoded(response.json()["auth_token"])["sub"] == world.ps.subject("mcp-user", RES)


# -- the interaction page (HTML) ----------------------------------------------------------------------------


def logged_in_browser(world):
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    response = browser.post(
        f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": "/interaction"}
    )
    assert response.status_code == 200 and "Enter the code" in response.text
    return browser


def form_fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def test_interaction_page_login_then_deny_redirects_to_the_callback(world):
    """The seed's consent screen: the interaction URL shows a login form; after signing in,
    who asks (agent), for what (resource, scopes with their descriptions, justification,
    all escaped) and the code; Deny returns the browser to the callback with
    ?error=access_denied (wire §5.6) and the agent's poll gets 403 denied."""
    url, code, _ = world.defer("files:delete", justification="<script>alert(1)</script> tidy up")
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    callback = f"{APP}/done?job=7"
    login = browser.get(f"{PS}/interaction", params={"code": code, "callback": callback})
    assert login.status_code == 200 and 'name="password"' in login.text
    next_path = form_fields(login.text)["next"].replace("&amp;", "&")
    page = browser.post(
        f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": next_path}
    )
    assert page.status_code == 200, page.text
    for shown in (
        "aauth:backend@ps.example",
        "Backend",
        "Files",
        RES,
        "files:delete",
        "Delete your files.",
        code,
    ):
        assert shown in page.text, shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; tidy up" in page.text and "<script>" not in page.text
    fields = form_fields(page.text)
    fields["callback"] = fields["callback"].replace("&amp;", "&")
    assert fields["callback"] == callback
    landed = browser.post(f"{PS}/interaction", data={**fields, "decision": "deny"})
    assert str(landed.url).startswith(f"{APP}/done")
    assert landed.json() == {"job": "7", "error": "access_denied"}
    assert error_of(world.poll(url)) == "denied"


def test_interaction_page_approve_without_callback(world):
    url, code, _ = world.defer()
    browser = logged_in_browser(world)
    page = browser.get(f"{PS}/interaction", params={"code": code})
    answer = browser.post(f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"})
    assert answer.status_code == 200 and "You can close this window" in answer.text
    assert world.poll(url).status_code == 200


def test_interaction_page_refusals(world):
    """Wrong password (401, the form again), a bad callback (400, never an open redirect), a
    spent code (410), a forged form (403), a form without a session (401)."""
    url, code, _ = world.defer()
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    wrong = browser.post(
        f"{PS}/login", data={"username": "mcp-user", "password": "nope", "next": "/interaction"}
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    bad_json = browser.post(f"{PS}/login", json={"username": "mcp-user", "password": "nope"})
    assert (bad_json.status_code, error_of(bad_json)) == (401, "unauthorized")
    browser = logged_in_browser(world)
    for callback in ("javascript:alert(1)", "/relative", "http://evil.example/cb", "https://a.example/#frag"):
        response = browser.get(f"{PS}/interaction", params={"code": code, "callback": callback})
        assert response.status_code == 400, callback
    page = browser.get(f"{PS}/interaction", params={"code": code})
    forged = browser.post(
        f"{PS}/interaction", data={**form_fields(page.text), "csrf": "x", "decision": "approve"}
    )
    assert forged.status_code == 403
    anonymous = world.hosts.client()
    assert (
        anonymous.post(
            f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"}
        ).status_code
        == 401
    )
    world.ps.decide(code, False)
    assert browser.get(f"{PS}/interaction", params={"code": code}).status_code == 410


def test_login_next_stays_on_the_ps(world):
    browser = world.hosts.client()
    assert browser.get(f"{PS}/").headers["location"] == "/interaction"
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        response = browser.post(
            f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": target}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/interaction"), target


def test_logout_ends_the_session(world):
    person = world.person()
    assert person.get(f"{PS}/audit").status_code == 200
    assert person.post(f"{PS}/logout").status_code == 200
    assert person.get(f"{PS}/audit").status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example/cb",
        "https://app.example/cb?x=1",
        "http://127.0.0.1:8000/cb",
        "http://localhost:3000/",
    ],
)
def test_check_callback_accepts(url):
    assert check_callback(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "/cb",
        "http://app.example/cb",
        "https://u:p@app.example/",
        "https://app.example/#x",
        "https://app.example:99999/",
        "https:///nohost",
        " https://app.example/",
        7,
        None,
    ],
)
def test_check_callback_refuses(url):
    from aauth_kit.errors import AAuthError

    with pytest.raises(AAuthError) as exc:
        check_callback(url)
    assert exc.value.code == "invalid_request"


# -- consent policy ------------------------------------------------------------------------------------------


def test_consent_policy_rules():
    policy = ConsentPolicy()
    assert (policy.scopes, policy.prefixes) == (["supply-chain:optimize"], ["user.", "profile.", "email."])
    assert policy.needs_consent("supply-chain:optimize")
    assert policy.needs_consent("supply-chain:read email.send")
    assert not policy.needs_consent("supply-chain:read supply-chain:check")
    assert not policy.needs_consent("") and not policy.needs_consent(None)
    assert not policy.needs_consent("xuser.name")  # a prefix matches at the start only


def test_consent_policy_from_env():
    """The seed's AAUTH_CONSENT_SCOPES / AAUTH_CONSENT_PREFIXES, JSON arrays."""
    policy = ConsentPolicy.from_env(
        {"AAUTH_CONSENT_SCOPES": '["openid", "profile"]', "AAUTH_CONSENT_PREFIXES": "[]"}
    )
    assert (policy.scopes, policy.prefixes) == (["openid", "profile"], [])
    assert ConsentPolicy.from_env({}) == ConsentPolicy()
    from aauth_kit.errors import UsageError

    for bad in ("openid,profile", '"openid"', "[1]", "{}"):
        with pytest.raises(UsageError):
            ConsentPolicy.from_env({"AAUTH_CONSENT_SCOPES": bad})


def test_policy_from_env_governs_the_ps(tmp_path):
    w = World(tmp_path, policy=ConsentPolicy.from_env({"AAUTH_CONSENT_SCOPES": '["files:read"]'}))
    try:
        assert w.ask("files:read")[0].status_code == 202
        assert w.ask("files:delete")[0].status_code == 200
    finally:
        w.stop()


def test_admin_policy_endpoint_changes_the_policy_live(world):
    """GET/PUT /admin/consent-policy: the change applies to the very next request and is audited."""
    person = world.person()
    assert person.get(f"{PS}/admin/consent-policy").json() == {
        "scopes": ["files:delete"],
        "prefixes": ["user.", "profile.", "email."],
    }
    assert world.ask("files:delete")[0].status_code == 202
    changed = person.put(f"{PS}/admin/consent-policy", json={"scopes": []})
    assert changed.json() == {"scopes": [], "prefixes": ["user.", "profile.", "email."]}
    assert world.ps.policy.scopes == []
    assert world.ask("files:delete")[0].status_code == 200
    changed = person.put(f"{PS}/admin/consent-policy", json={"scopes": ["files:read"], "prefixes": []})
    assert world.ask("files:read")[0].status_code == 202
    for bad in ({"scopes": "files:delete"}, {"scopes": [1]}, {"scopes": ["a b"]}, {"other": []}, [1]):
        response = person.put(f"{PS}/admin/consent-policy", json=bad)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), bad
    plain = person.put(
        f"{PS}/admin/consent-policy", content=b'{"scopes": []}', headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 400
    assert (world.ps.policy.scopes, world.ps.policy.prefixes) == (["files:read"], [])
    entry = [e for e in person.get(f"{PS}/audit").json() if e["action"] == "consent_policy_changed"][-1]
    assert (entry["actor"], entry["details"]) == ("mcp-user", {"scopes": ["files:read"], "prefixes": []})


# -- audit ----------------------------------------------------------------------------------------------------


def test_audit_records_every_decision_and_issued_token(world):
    """DESIGN §2: "mcp-user authorized the backend agent to …" — the audit log holds the
    request, the decision and every token issued, with who did it."""
    url, code, _ = world.defer()
    world.approve(code)
    world.poll(url)
    entries = world.person().get(f"{PS}/audit").json()
    actions = [(e["actor"], e["action"], e["subject"]) for e in entries]
    agent = "aauth:backend@ps.example"
    expected = [
        ("mcp-user", "agent_token_issued", agent),
        (agent, "person_token_issued", RES),
        (agent, "auth_token_requested", RES),
        ("mcp-user", "auth_token_approved", RES),
        (agent, "auth_token_issued", RES),
    ]
    assert [a for a in actions if a[1] != "login"] == expected
    issued = next(e for e in entries if e["action"] == "auth_token_issued")
    assert issued["details"]["scope"] == "files:delete" and issued["details"]["jti"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", issued["at"])
    assert {t.typ for t in world.ps.store.list_tokens()} == {"aa-agent+jwt", "aa-person+jwt", "aa-auth+jwt"}
    person = world.person()
    assert len(person.get(f"{PS}/audit", params={"limit": 2}).json()) == 2
    assert error_of(person.get(f"{PS}/audit", params={"limit": "lots"})) == "invalid_request"


# -- verification of what the agent sends (wire §7.1, §7.6) --------------------------------------------------------


def test_bad_signatures_are_401_with_signature_error(world):
    """wire §7.1: the token endpoints take only agent tokens (jwt scheme), bodies covered."""
    presented = world.person_token()
    body = {"resource_token": world.resource_token(presented), "presented_token": presented}
    unsigned = world.client.post(f"{PS}/auth-token", json=body)
    assert unsigned.status_code == 401 and unsigned.headers["signature-error"] == "error=invalid_signature"
    with_person_token = world.send("POST", f"{PS}/auth-token", body=body, token=presented)
    assert with_person_token.headers["signature-error"] == "error=invalid_jwt"
    with_hwk = world.send("POST", f"{PS}/auth-token", body=body, hwk=True)
    assert with_hwk.headers["signature-error"] == "error=unsupported_scheme"
    assert with_hwk.headers["accept-signature-scheme"] == "jwt"
    message = HttpMessage(
        "POST",
        f"{PS}/auth-token",
        headers=[("Content-Type", "application/json")],
        body=json.dumps(body).encode(),
    )
    sign_request(
        message, world.agent_key, jwt_key(world.agent_token), created=int(world.clock()), cover_body=False
    )
    uncovered = world.client.post(f"{PS}/auth-token", headers=message.headers, content=message.body)
    assert uncovered.headers["signature-error"].startswith("error=invalid_input")
    world.ps.store.revoke(PS, decoded(world.agent_token)["jti"], decoded(world.agent_token)["exp"])
    revoked = world.send("POST", f"{PS}/person-token", body={"resource": RES})
    assert revoked.headers["signature-error"] == "error=revoked_jwt"


def test_bad_token_parameters_get_their_exact_codes(world):
    """[N] "Token Endpoint Error Codes": a failing body token is
    <invalid|expired|revoked>_<param>_token (400) — never a 500 and never Signature-Error."""
    presented = world.person_token()
    good_rt = world.resource_token(presented)
    now = int(world.clock())
    shown = decoded(presented)
    stranger = Key.from_seed("stranger", kid="res-1")
    expired_person = tokens.mint_person_token(
        world.ps_key,
        iss=PS,
        aud=RES,
        sub=shown["sub"],
        cnf=world.agent_key,
        iat=now - 100,
        exp=now - 1,
        jti=shown["jti"],
    )
    cases = [
        ({"resource_token": "garbage", "presented_token": presented}, "invalid_resource_token"),
        ({"resource_token": "a.b.c", "presented_token": presented}, "invalid_resource_token"),
        ({"resource_token": presented, "presented_token": presented}, "invalid_resource_token"),
        (
            {"resource_token": world.resource_token(presented, exp=now - 1), "presented_token": presented},
            "expired_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, aud="https://other-ps.example"),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, ps="https://other-ps.example"),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, agent_key=Key.from_seed("x")),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        (
            {"resource_token": world.resource_token(presented, key=stranger), "presented_token": presented},
            "invalid_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, iss="https://nowhere.example"),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        ({"resource_token": good_rt, "presented_token": "garbage"}, "invalid_presented_token"),
        ({"resource_token": good_rt, "presented_token": world.agent_token}, "invalid_presented_token"),
        (
            {"resource_token": good_rt, "presented_token": world.person_token()},
            "invalid_presented_token",
        ),  # other jti
        (
            {"resource_token": good_rt, "presented_token": world.person_token(CHAIN)},
            "invalid_presented_token",
        ),  # aud
        (
            {
                "resource_token": world.resource_token(presented, sub="someone-else"),
                "presented_token": presented,
            },
            "invalid_presented_token",
        ),
        ({"resource_token": good_rt, "presented_token": expired_person}, "expired_presented_token"),
        (
            {"resource_token": good_rt, "presented_token": presented, "upstream_token": "garbage"},
            "invalid_upstream_token",
        ),
        ({"resource_token": good_rt}, "invalid_request"),
        ({"presented_token": presented}, "invalid_request"),
        ({"resource_token": 42, "presented_token": presented}, "invalid_request"),
        ({"resource_token": good_rt, "presented_token": presented, "justification": 7}, "invalid_request"),
        (
            {"resource_token": good_rt, "presented_token": presented, "justification": "x" * 5000},
            "invalid_request",
        ),
    ]
    for body, expected in cases:
        response = world.send("POST", f"{PS}/auth-token", body=body)
        assert (response.status_code, error_of(response)) == (400, expected), (expected, response.text)
        assert "signature-error" not in response.headers
    world.ps.store.revoke(PS, shown["jti"], shown["exp"])
    response = world.send(
        "POST", f"{PS}/auth-token", body={"resource_token": good_rt, "presented_token": presented}
    )
    assert error_of(response) == "revoked_presented_token"


def test_hostile_inputs_never_get_a_500(world):
    """DESIGN §4 "Bad input": odd bodies, headers and tokens on every endpoint get a 4xx."""
    url, code, _ = world.defer()
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = [
        b"",
        b"null",
        b"{}",
        b"[]",
        b'"x"',
        b"1e999",
        deep,
        b"\xff",
        b'{"resource": {"a": 1}}',
        b'{"resource_token": [], "presented_token": null}',
        b'{"local": "' + b"a" * 300 + b'"}',
    ]
    signed_routes = [
        ("POST", f"{PS}/person-token", {}),
        ("POST", f"{PS}/auth-token", {}),
        ("POST", f"{PS}/agent/register", {"hwk": True}),
        ("GET", url, {}),
        ("DELETE", f"{PS}/pending/x", {}),
    ]
    for method, target, options in signed_routes:
        for body in bodies:
            response = world.send(
                method, target, raw=body, headers=[("Content-Type", "application/json")], **options
            )
            assert 400 <= response.status_code < 500, (method, target, body[:20], response.text)
    person = world.person()
    for method, target in [
        ("POST", f"{PS}/login"),
        ("POST", f"{PS}/consent/x/decision"),
        ("PUT", f"{PS}/admin/consent-policy"),
        ("POST", f"{PS}/interaction"),
    ]:
        for body in bodies:
            for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
                response = person.request(
                    method, target, content=body, headers={"Content-Type": content_type}
                )
                assert response.status_code < 500, (target, body[:20], content_type, response.text)
    for headers in (
        {"Signature-Key": "sig=jwt;jwt=1"},
        {"Signature-Input": "sig=(", "Signature": "x", "Signature-Key": "garbage"},
    ):
        response = world.client.post(f"{PS}/auth-token", content=b"{}", headers=headers)
        assert response.status_code == 401 and "signature-error" in response.headers
    assert world.send("GET", url, headers=[("Prefer", "wait=soon")]).status_code in (202, 429)
    for query in ({"code": "\x00"}, {"code": "x" * 10_000}, {"code": code, "callback": "\x00"}):
        assert 400 <= person.get(f"{PS}/interaction", params=query).status_code < 500
        assert person.get(f"{PS}/consent", params=query).status_code < 500


def test_capabilities_without_interaction_is_user_unreachable(world):
    """[N] §7.2 capabilities: an agent that cannot show an interaction cannot wait for consent."""
    presented = world.person_token()
    body = {
        "resource_token": world.resource_token(presented, "files:delete"),
        "presented_token": presented,
        "capabilities": ["clarification"],
    }
    response = world.send("POST", f"{PS}/auth-token", body=body)
    assert (response.status_code, error_of(response)) == (403, "user_unreachable")
    body["capabilities"] = ["interaction"]
    assert world.send("POST", f"{PS}/auth-token", body=body).status_code == 202
    body["capabilities"] = "interaction"
    assert error_of(world.send("POST", f"{PS}/auth-token", body=body)) == "invalid_request"
    presented = world.person_token()
    granted = {"resource_token": world.resource_token(presented, "files:read"), "presented_token": presented}
    assert (
        error_of(world.send("POST", f"{PS}/auth-token", body={**granted, "capabilities": [1]}))
        == "invalid_request"
    )
    assert world.send("POST", f"{PS}/auth-token", body={**granted, "capabilities": []}).status_code == 200


# -- call chaining (wire §5.10) -------------------------------------------------------------------------------------


def chain_agent(world):
    """CHAIN is its own Agent Provider: a self-issued agent token for its request key."""
    key = Key.from_seed("chain request key")
    now = int(world.clock())
    token = tokens.mint_agent_token(
        world.chain_key, iss=CHAIN, sub="aauth:chain@chain.example", cnf=key, iat=now, exp=now + 600
    )
    return key, token


def test_call_chaining_person_and_auth_tokens(world):
    """-11 §10.1: the chaining resource, signing with its own agent token, gets a person token
    for the downstream resource for the person behind the upstream token (exp capped by the
    upstream's), then an auth token with presented + upstream tokens; sub comes from the
    downstream resource token, never from upstream."""
    now = int(world.clock())
    # an active mission of the backend (wire §7.6: a token naming a mission needs it active)
    mission = world.ps.store.add_mission(
        b'{"agent":"aauth:backend@ps.example"}', agent_id="aauth:backend@ps.example", username="mcp-user"
    ).s256
    upstream = tokens.mint_person_token(  # the backend's person token for CHAIN, on a mission
        world.ps_key,
        iss=PS,
        aud=CHAIN,
        sub=world.ps.subject("mcp-user", CHAIN),
        cnf=world.agent_key,
        iat=now,
        exp=now + 300,
        mission_s256=mission,
    )  # before the chain token ends
    key, token = chain_agent(world)
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": upstream}
    )
    assert response.status_code == 200, response.text
    person_token = response.json()["person_token"]
    claims = decoded(person_token)
    assert (claims["aud"], claims["sub"]) == (RES, world.ps.subject("mcp-user", RES))
    assert claims["cnf"]["jwk"] == key.public_jwk(kid=False) and claims["exp"] == decoded(upstream)["exp"]
    assert claims["mission_s256"] == mission  # copied from upstream (wire §5.10 step 2)
    resource_token = world.resource_token(person_token, agent_key=key, mission_s256=mission)
    body = {"resource_token": resource_token, "presented_token": person_token, "upstream_token": upstream}
    auth = world.send("POST", f"{PS}/auth-token", key=key, token=token, body=body)
    assert auth.status_code == 200, auth.text
    auth_claims = decoded(auth.json()["auth_token"])
    assert (auth_claims["aud"], auth_claims["sub"]) == (RES, claims["sub"])
    assert auth_claims["cnf"]["jwk"] == key.public_jwk(kid=False)
    assert (auth_claims["mission_s256"], auth_claims["exp"]) == (mission, decoded(upstream)["exp"])


def test_call_chaining_refusals(world):
    """wire §5.10: the upstream token must be for the caller (aud == its agent token iss) and
    from this PS: else invalid_upstream_token; expired → expired_upstream_token."""
    key, token = chain_agent(world)
    not_for_caller = world.person_token(RES)
    response = world.send(
        "POST",
        f"{PS}/person-token",
        key=key,
        token=token,
        body={"resource": RES, "upstream_token": not_for_caller},
    )
    assert error_of(response) == "invalid_upstream_token"
    now = int(world.clock())
    stale = tokens.mint_person_token(
        world.ps_key,
        iss=PS,
        aud=CHAIN,
        sub=world.ps.subject("mcp-user", CHAIN),
        cnf=world.agent_key,
        iat=now - 100,
        exp=now - 1,
    )
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": stale}
    )
    assert error_of(response) == "expired_upstream_token"
    unknown = tokens.mint_person_token(
        world.ps_key, iss=PS, aud=CHAIN, sub="nobody", cnf=world.agent_key, iat=now, exp=now + 60
    )
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": unknown}
    )
    assert error_of(response) == "invalid_upstream_token"


# -- the Agent Provider: registration (bootstrap) ----------------------------------------------------------------------


def test_register_with_auto_approve(tmp_path):
    """The AP bootstrap: POST /agent/register signed with hwk; with auto-approve the agent
    token comes back at once, binding the signing key."""
    w = World(tmp_path, auto_approve_agents=True)
    try:
        key = Key.from_seed("cli agent")
        response = w.send(
            "POST", f"{PS}/agent/register", key=key, hwk=True, body={"local": "cli", "name": "CLI"}
        )
        assert response.status_code == 200, response.text
        claims = decoded(response.json()["agent_token"])
        assert (claims["iss"], claims["sub"], claims["ps"]) == (PS, "aauth:cli@ps.example", PS)
        assert claims["cnf"]["jwk"] == key.public_jwk(kid=False)
        # an auto-approved agent is bound to nobody: its first person token asks a person
        token = response.json()["agent_token"]
        deferred = w.send("POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES})
        assert deferred.status_code == 202
        code = parse_requirement(deferred.headers["aauth-requirement"]).code
        context = w.approve(code, person=w.person("alice", "alice-pw"))
        assert (context["kind"], context["agent_name"]) == ("person_token", "CLI")
        done = w.poll(deferred.headers["location"], key=key, token=token)
        assert done.status_code == 200, done.text
        assert decoded(done.json()["person_token"])["sub"] == w.ps.subject("alice", RES)
        again = w.send("POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES})
        assert again.status_code == 200  # now bound to alice
    finally:
        w.stop()


def test_register_needs_the_persons_approval(world):
    """Without auto-approve a new agent waits for its person (kind agent_approval), then
    polls the pending URL signed with the same bare key and gets its agent token."""
    key = Key.from_seed("new agent")
    response = world.send(
        "POST", f"{PS}/agent/register", key=key, hwk=True, body={"local": "notebook", "name": "NB"}
    )
    assert response.status_code == 202
    url = response.headers["location"]
    code = parse_requirement(response.headers["aauth-requirement"]).code
    assert world.poll(url, key=key, hwk=True, wait=1).status_code == 202
    context = world.approve(code)
    assert (context["kind"], context["agent"], context["agent_jkt"]) == (
        "agent_approval",
        "aauth:notebook@ps.example",
        key.thumbprint(),
    )
    done = world.poll(url, key=key, hwk=True)
    assert done.status_code == 200, done.text
    token = done.json()["agent_token"]
    assert decoded(token)["sub"] == "aauth:notebook@ps.example"
    agent = world.ps.store.get_agent("aauth:notebook@ps.example")
    assert (agent.status, agent.username, agent.name) == ("approved", "mcp-user", "NB")
    assert (
        world.send("POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES}).status_code
        == 200
    )


def test_register_refusals(world):
    key = Key.from_seed("new agent")
    jwt_signed = world.send("POST", f"{PS}/agent/register", body={"local": "x"})
    assert jwt_signed.headers["signature-error"] == "error=unsupported_scheme"
    for body in ({}, {"local": "a+b"}, {"local": "bad local"}, {"local": 3}, {"local": "ok", "name": 5}):
        response = world.send("POST", f"{PS}/agent/register", key=key, hwk=True, body=body)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), body
    taken = world.send("POST", f"{PS}/agent/register", key=key, hwk=True, body={"local": "backend"})
    assert (taken.status_code, error_of(taken)) == (409, "conflict")


def test_denied_registration(world):
    key = Key.from_seed("new agent")
    response = world.send("POST", f"{PS}/agent/register", key=key, hwk=True, body={"local": "nope"})
    world.approve(parse_requirement(response.headers["aauth-requirement"]).code, approved=False)
    assert error_of(world.poll(response.headers["location"], key=key, hwk=True)) == "denied"
    assert world.ps.store.get_agent("aauth:nope@ps.example").status == "denied"


# -- docs mode -------------------------------------------------------------------------------------------------------


def test_docs_mode_ids_codes_and_jtis_are_injected(tmp_path):
    """DESIGN §4 "Determinism": pending ids and codes come from the factories, token jtis are
    numbered; after a restart the factories may repeat, and the PS takes the next free value."""

    def factories():
        ids = iter(f"pending-{n:04d}" for n in range(1, 100))
        codes = iter(["ABCD-EFGH", "ABCD-EFGJ", "ABCD-EFGK", "ABCD-EFGM"])
        return {"id_factory": lambda: next(ids), "code_factory": lambda: next(codes)}

    w = World(tmp_path, **factories())
    try:
        assert decoded(w.agent_token)["jti"] == "agent-0001"
        url, code, _ = w.defer()
        assert (url, code) == (f"{PS}/pending/pending-0001", "ABCD-EFGH")
        w.restart_ps(**factories())
        url2, code2, _ = w.defer()
        assert (url2, code2) == (f"{PS}/pending/pending-0002", "ABCD-EFGJ")
        assert normalize_code(code2) == "ABCDEFGJ"
        assert decoded(w.person_token())["jti"] == "person-0004"
    finally:
        w.stop()


# -- ASGI mode -------------------------------------------------------------------------------------------------------


def test_key_flow_in_asgi_mode(tmp_path):
    """The same consent flow with the apps called in process (no sockets): 202 → held poll →
    decision → 200; policy grant; denial."""
    w = World(tmp_path, mode="asgi")
    try:
        assert w.ask("files:read")[0].status_code == 200
        url, code, _ = w.defer()
        pending_id = url.rsplit("/", 1)[1]
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(w.poll, url, wait=HELD)
            wait_until(lambda: w.ps.waiters.held(pending_id) == 1)
            w.approve(code)
            assert held.result(timeout=HANG_GUARD).status_code == 200
        url, code, _ = w.defer()
        w.approve(code, approved=False)
        assert error_of(w.poll(url)) == "denied"
    finally:
        w.stop()


def wait_until(condition, limit: float = HANG_GUARD) -> None:
    """Spin until ``condition()`` holds (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.01)
