"""-11 "Mission Approval": the approval's ``capabilities`` and ``person_tokens`` over real HTTP in
a socket-mode Lab — what the PS sends, what the agent checks and keeps."""

from __future__ import annotations

import json

import pytest

from aauth_kit import jws
from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

PS = "https://ps.example"
SCA = "https://supply-chain.example"
MAA = "https://market-analysis.example"
DESCRIPTION = "# Optimize the supply chain\n\nUse the market analysis; report the plan."


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[]) as lab:
        yield lab


def login(lab):
    client = lab.hosts.client()
    response = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    return client


def decide(person, code: str) -> None:
    context = person.get(f"{PS}/consent", params={"code": code}).json()
    response = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
    assert response.status_code == 200, response.text


def signed(lab, agent, method: str, url: str, body=None):
    headers = [("Content-Type", "application/json")] if body is not None else [("Prefer", "wait=1")]
    message = HttpMessage(method, url, headers, json.dumps(body).encode() if body is not None else b"")
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    return lab.send(message).response


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


def test_mission_approval_person_tokens_for_the_named_resources(lab):
    """ "person_tokens (OPTIONAL): An object mapping resource identifiers to person tokens
    Section 6, each carrying mission_s256 set to s256.  Present when the proposal named
    resources."  Each is bound to the proposing agent's key, for its resource, its ``exp``
    capped by the mission's ``expires_at`` ("an issuer MUST shorten the token's lifetime to
    fit"); the agent keeps them and asks the person token endpoint for neither resource."""
    lab.ps.mission_lifetime = 600
    person = login(lab)
    agent = lab.new_agent("planner", on_interaction=lambda i: decide(person, i.code))
    with lab.client(agent) as client:
        mission = agent.start_mission(client, DESCRIPTION, resources=[SCA, MAA])
    assert mission.capabilities == ("interaction", "payment")
    assert sorted(mission.person_tokens) == [MAA, SCA]
    expires_at = lab.ps.store.get_mission(mission.s256).expires_at
    for resource, token in mission.person_tokens.items():
        payload = claims(token)
        assert (payload["iss"], payload["aud"], payload["mission_s256"]) == (PS, resource, mission.s256)
        assert payload["cnf"]["jwk"]["x"] == agent.key.public_jwk()["x"]
        assert payload["exp"] <= expires_at
        assert agent.person_token_for(resource) == token
    assert not [e for e in lab.trace.exchanges if e.request.target_uri == f"{PS}/person-token"]


def test_mission_approval_without_resources_has_no_person_tokens(lab):
    """No resources in the proposal: the approval has no ``person_tokens`` member; the
    ``capabilities`` are still told ("The agent unions them with its own")."""
    person = login(lab)
    agent = lab.new_agent("writer")
    response = signed(lab, agent, "POST", f"{PS}/mission", {"description": DESCRIPTION})
    assert response.status == 202
    code = response.header("aauth-requirement").split('code="')[1].split('"')[0]
    decide(person, code)
    answer = json.loads(signed(lab, agent, "GET", response.header("location")).body)
    assert set(answer) == {"s256", "mission", "capabilities"}
    assert answer["capabilities"] == ["interaction", "payment"]


def test_mission_approval_capabilities_describe_this_moment(lab):
    """ "The PS determines these based on whether it can currently reach the person": once the
    person's session has ended, the approval tells no capabilities (and the person tokens
    still come, they need no channel)."""
    person = login(lab)
    agent = lab.new_agent("night")
    response = signed(lab, agent, "POST", f"{PS}/mission", {"description": DESCRIPTION, "resources": [SCA]})
    code = response.header("aauth-requirement").split('code="')[1].split('"')[0]
    decide(person, code)
    assert person.post(f"{PS}/logout").status_code in (200, 204)
    answer = json.loads(signed(lab, agent, "GET", response.header("location")).body)
    assert answer["capabilities"] == []
    assert list(answer["person_tokens"]) == [SCA]


@pytest.mark.parametrize(
    "tamper, why",
    [
        (lambda tokens, other: {SCA: tokens[SCA].replace(".", ".x", 1)}, "person_token"),
        (lambda tokens, other: {SCA: other}, "not of this mission"),
        (lambda tokens, other: [tokens[SCA]], "person_tokens must map"),
    ],
    ids=["garbled", "another-mission", "not-an-object"],
)
def test_mission_approval_person_tokens_are_checked(lab, monkeypatch, tamper, why):
    """The agent checks each person token of the approval as one from the person token
    endpoint, and that it carries this mission's ``mission_s256``; anything else fails the
    mission's start (``invalid_person_token`` / ``invalid_response``) and no mission is kept."""
    person = login(lab)
    agent = lab.new_agent("victim", on_interaction=lambda i: decide(person, i.code))
    with lab.client(agent) as client:
        foreign = agent.start_mission(client, "# Another mission", resources=[SCA]).person_tokens[SCA]
    agent.mission = None
    agent.forget()
    approve = lab.ps.context.completions["mission"]

    def tampered(context, pending):
        result = approve(context, pending)
        return {**result, "person_tokens": tamper(result["person_tokens"], foreign)}

    monkeypatch.setitem(lab.ps.context.completions, "mission", tampered)
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        agent.start_mission(client, DESCRIPTION, resources=[SCA])
    assert info.value.code in ("invalid_person_token", "invalid_response")
    assert why in info.value.detail or info.value.code == f"invalid_{why}"
    assert agent.mission is None and agent.person_token_for(SCA) is None
