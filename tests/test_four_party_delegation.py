"""Delegation through an Access Server, over real sockets in a Lab: a parent-mediated sub-agent
authorization and a call chain, each federated by the PS to the catalog's AS (-11 "PS-to-AS
Token Request": ``subagent_token`` "present when the PS federates a parent-mediated sub-agent
authorization", ``upstream_token`` "used in call chaining"), and the AS's refusals of both.
"""

from __future__ import annotations

import json

import pytest

from aauth_kit import jws, tokens
from aauth_kit.agent import Agent
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.subagents import SubAgent, create_subagent

PS = "https://ps.example"
AS = "https://as.example"
SCA = "https://supply-chain.example"
PARTS = "https://catalog.example/parts"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        yield lab


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


def spawn(lab, parent, discriminator="search1") -> SubAgent:
    with lab.client() as client:
        return create_subagent(parent, client, discriminator, key=lab.key(f"sub/{discriminator}"))


def token_requests(lab) -> list:
    """The PS's token requests to the AS (not its polls or claims)."""
    return [ex for ex in lab.trace.exchanges if ex.source == "PS" and ex.request.target_uri == f"{AS}/token"]


def as_ps(lab, body: dict) -> tuple[int, str]:
    """POST ``body`` to the AS's token endpoint signed as the lab's PS: the status and error code."""
    message = HttpMessage(
        "POST", f"{AS}/token", [("Content-Type", "application/json")], json.dumps(body).encode()
    )
    lab.ps.context.revoker.sign(message)
    response = lab.send(message, source="PS").response
    return response.status, json.loads(response.body).get("error")


def test_parent_mediated_authorization_through_the_access_server(lab):
    """-11 "Parent-Mediated Authorization": "In four-party, the PS federates by passing the parent
    as agent_token and the sub-agent as subagent_token to the AS"; the AS's auth token binds the
    sub-agent's key and the sub-agent presents it to the catalog."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    with lab.client(sub) as client:
        response = client.get(PARTS)
    assert response.status_code == 200, response.text
    (federation,) = token_requests(lab)
    sent = json.loads(federation.request.body)
    assert claims(sent["agent_token"])["sub"] == "aauth:planner@ps.example"
    assert sent["subagent_token"] == sub.agent_token
    auth = claims(sub.auth_token_for("https://catalog.example"))
    assert auth["iss"] == AS and auth["cnf"]["jwk"]["x"] == sub.key.public_jwk()["x"]
    assert auth["exp"] <= claims(sub.agent_token)["exp"]
    assert "parent_agent" not in auth and parent.auth_token_for("https://catalog.example") is None


def test_call_chaining_through_the_access_server(lab):
    """-11 "Call Chaining" with a downstream resource that has an AS: the supply-chain agent,
    holding the caller's auth token as ``upstream_token``, reaches the catalog; the PS passes
    the upstream token on to the AS, which issues for the supply-chain agent's own key."""
    caller = lab.new_agent("caller")
    with lab.client(caller) as client:
        assert client.post(f"{SCA}/check").status_code == 200
    upstream = caller.auth_token_for(SCA)
    sca = lab.supply_chain
    agent = Agent(sca.agent_key, sca.agent_token(), ps=PS, clock=lab.clock, dev=True)
    with lab.client(agent, upstream_token=upstream) as client:
        response = client.get(PARTS)
    assert response.status_code == 200, response.text
    (federation,) = token_requests(lab)
    assert json.loads(federation.request.body)["upstream_token"] == upstream
    auth = claims(agent.auth_token_for("https://catalog.example"))
    assert auth["cnf"]["jwk"]["x"] == sca.agent_key.public_jwk()["x"]
    assert auth["exp"] <= claims(upstream)["exp"]


def test_as_token_endpoint_subagent_token_errors(lab):
    """The AS checks the sub-agent as the PS does: its ``parent_agent`` names the
    ``agent_token``'s agent and it is bound to ``agent_jkt`` — else ``400
    invalid_subagent_token``; a forged one is ``invalid_subagent_token`` too."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    with lab.client(sub) as client:
        client.get(PARTS)
    (federation,) = token_requests(lab)
    sent = json.loads(federation.request.body)
    assert as_ps(lab, sent)[0] == 200
    stranger = lab.new_agent("stranger")
    assert as_ps(lab, {**sent, "agent_token": stranger.agent_token}) == (400, "invalid_subagent_token")
    other_sub = spawn(lab, parent, "search2")  # the parent's, bound to another key
    assert as_ps(lab, {**sent, "subagent_token": other_sub.agent_token}) == (400, "invalid_subagent_token")
    forged = tokens.mint("aa-agent+jwt", lab.key("forger"), claims(sub.agent_token), kid="ps")
    assert as_ps(lab, {**sent, "subagent_token": forged}) == (400, "invalid_subagent_token")
    without = {k: v for k, v in sent.items() if k != "subagent_token"}  # agent_jkt is the sub-agent's
    assert as_ps(lab, without) == (400, "invalid_agent_token")


def test_as_token_endpoint_upstream_token_errors(lab):
    """-11 "Upstream Token Verification" at the AS: the upstream token is for the calling agent
    (``aud`` = its agent token's ``iss``) and from the signing PS, else ``400
    invalid_upstream_token``; expired, ``expired_upstream_token``."""
    caller = lab.new_agent("caller")
    with lab.client(caller) as client:
        client.post(f"{SCA}/check")
        client.get(PARTS)  # an auth token of the caller's own, for the catalog (aud != SCA)
    upstream = caller.auth_token_for(SCA)
    sca = lab.supply_chain
    agent = Agent(sca.agent_key, sca.agent_token(), ps=PS, clock=lab.clock, dev=True)
    with lab.client(agent, upstream_token=upstream) as client:
        client.get(PARTS)
    sent = json.loads(token_requests(lab)[-1].request.body)
    assert as_ps(lab, sent)[0] == 200
    wrong_aud = caller.auth_token_for("https://catalog.example")
    assert as_ps(lab, {**sent, "upstream_token": wrong_aud}) == (400, "invalid_upstream_token")
    forged = tokens.mint("aa-auth+jwt", lab.key("forger"), claims(upstream), kid="ps")
    assert as_ps(lab, {**sent, "upstream_token": forged}) == (400, "invalid_upstream_token")
    now = int(lab.clock())
    expired = tokens.mint(
        "aa-auth+jwt", lab.keys["ps"], {**claims(upstream), "iat": now - 60, "exp": now}, kid="ps"
    )
    assert as_ps(lab, {**sent, "upstream_token": expired}) == (400, "expired_upstream_token")
