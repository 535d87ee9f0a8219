"""The Person Server test world: the PS, a resource, a chaining resource and a callback
site on one :class:`~aauth_kit.runtime.Hosts` network, and the signed requests the tests send.

Every request is built with ``profile.sign_request`` and sent over loopback sockets (or in
ASGI mode).  Resource tokens are minted with a resource key that a tiny Starlette app
publishes as real ``aauth-resource.json`` metadata and JWKS.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from aauth_kit.servers.ps import PersonServer
from aauth_kit.servers.ps.store.persons import DEMO_PERSON, PersonAccount
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.headers import parse_requirement
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import agent_metadata, resource_metadata
from aauth_kit.profile import sign_request
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import hwk_key, jwt_key

PS = "https://ps.example"
RES = "https://files.example"  # a resource whose scopes the tests ask for
CHAIN = "https://chain.example"  # a resource that is its own Agent Provider (call chaining)
APP = "https://app.example"  # where callbacks land
OTHER_AP = "https://other-ap.example"  # an Agent Provider whose agents nobody claimed yet
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
            "persons": [DEMO_PERSON, PersonAccount("alice", "alice-pw")],
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
        body = {"resource": resource, "capabilities": list(CAPABILITIES)}
        response = self.send("POST", f"{PS}/person-token", body=body, **kw)
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

    def unclaimed_agent(self) -> tuple[Key, str]:
        """An agent of another Agent Provider (its metadata and JWKS on the network) that
        nobody stands behind at this PS yet: its key and agent token."""
        ap_key, key = Key.from_seed("other ap", kid="other-1"), Key.from_seed("unclaimed agent")
        self.hosts.add(OTHER_AP, party_app(OTHER_AP, ap_key, "Other AP"))
        now = int(self.clock())
        token = tokens.mint_agent_token(
            ap_key,
            iss=OTHER_AP,
            sub="aauth:fresh@other-ap.example",
            cnf=key,
            iat=now,
            exp=now + 3600,
            jti="a-1",
        )
        return key, token

    def ask(self, scope="files:read", *, wait=None, justification=None, **kw) -> tuple:
        """Person token → resource token → POST /auth-token; returns (response, presented)."""
        presented = self.person_token()
        body = {
            "resource_token": self.resource_token(presented, scope),
            "presented_token": presented,
            "capabilities": list(CAPABILITIES),
        }
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


#: What the test agent declares it can do (-11 "AAuth-Capabilities Request Header": nothing is assumed).
CAPABILITIES = ("interaction",)


def error_of(response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()["error"]


def decoded(token: str) -> dict:
    return jws.decode_unverified(token).payload


def wait_until(condition, limit: float = HANG_GUARD) -> None:
    """Spin until ``condition()`` holds (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.01)


def logged_in_browser(world):
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]  # the login form, its cookie
    response = browser.post(
        f"{PS}/login",
        data={"username": "mcp-user", "password": "user123", "next": "/interaction", "csrf": csrf},
    )
    assert response.status_code == 200 and "Enter the code" in response.text
    return browser


def form_fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def world_fixture():
    """The ``world`` fixture of each PS test module: ``world = world_fixture()``."""

    @pytest.fixture(name="world")
    def running_world(tmp_path):
        w = World(tmp_path)
        yield w
        w.stop()

    return running_world
