"""The Person Server's Agent Provider over real HTTP (servers/ps/agent_provider.py): agent
tokens issued in process and through registration.  Key rotation: test_ps_rotation.py.
"""

from __future__ import annotations

import time

import pytest

from aauth_kit import tokens
from aauth_kit.claims import AGENT_TYP
from aauth_kit.headers import parse_requirement
from aauth_kit.jwks import HttpResolver
from aauth_kit.keys import Key
from aauth_kit.loop import get_loop_thread

from .ps_world import (
    PS,
    RES,
    World,
    decoded,
    error_of,
    world_fixture,
)

world = world_fixture()


# -- agent tokens ----------------------------------------------------------------------------------


def test_issued_agent_token_verifies_through_discovery(world):
    """-11 "Agent Token Structure": the AP's agent token (sub aauth:local@host, cnf = the agent key, ps hint)
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
    agent = world.ps.store.get_agent("aauth:backend@ps.example", ap_issuer=PS)
    assert (agent.username, agent.status, agent.name) == ("mcp-user", "approved", "Backend")
    other = Key.from_seed("agent as jwk")
    from_jwk = world.ps.issue_agent_token("jwk-agent", other.public_jwk(), person="alice")
    assert decoded(from_jwk)["cnf"]["jwk"] == other.public_jwk(kid=False)
    assert world.ps.store.get_agent("aauth:jwk-agent@ps.example", ap_issuer=PS).username == "alice"
    from aauth_kit.errors import UsageError

    with pytest.raises(UsageError):
        world.ps.issue_agent_token("ghost", other, person="nobody")


# -- registration (bootstrap) ----------------------------------------------------------------------


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
        deferred = w.send(
            "POST",
            f"{PS}/person-token",
            key=key,
            token=token,
            body={"resource": RES, "capabilities": ["interaction"]},
        )
        assert deferred.status_code == 202
        code = parse_requirement(deferred.headers["aauth-requirement"]).code
        context = w.approve(code, person=w.person("alice", "alice-pw"))
        assert (context["kind"], context["agent_name"]) == ("person_token", "CLI")
        done = w.poll(deferred.headers["location"], key=key, token=token)
        assert done.status_code == 200, done.text
        assert decoded(done.json()["person_token"])["sub"] == w.ps.subject("alice", RES)
        again = w.send(
            "POST",
            f"{PS}/person-token",
            key=key,
            token=token,
            body={"resource": RES, "capabilities": ["interaction"]},
        )
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
    agent = world.ps.store.get_agent("aauth:notebook@ps.example", ap_issuer=PS)
    assert (agent.status, agent.username, agent.name) == ("approved", "mcp-user", "NB")
    assert (
        world.send(
            "POST",
            f"{PS}/person-token",
            key=key,
            token=token,
            body={"resource": RES, "capabilities": ["interaction"]},
        ).status_code
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
    assert world.ps.store.get_agent("aauth:nope@ps.example", ap_issuer=PS).status == "denied"
