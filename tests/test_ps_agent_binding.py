"""H1: agent takeover across Agent Providers, mounted over loopback sockets.

A hostile Agent Provider (its own metadata and JWKS on the test network) issues an agent
token whose ``sub`` is the identifier of the agent the PS bound to mcp-user, binding the
attacker's key.  -11 "Agent-Person Binding": the PS recognizes an agent by
``(agent_token.iss, agent_token.sub)`` — so the hostile token is another agent, and a bound
agent is never claimed by a different person.
"""

from __future__ import annotations

from aauth_kit import tokens
from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.revocation import Revoker

from .ps_world import PS, RES, decoded, error_of, party_app, world_fixture

world = world_fixture()

HOSTILE = "https://hostile.example"
VICTIM = "aauth:backend@ps.example"


def _hostile(world, sub=VICTIM, jti="hostile-1"):
    """The hostile AP on the network and an agent token of its with ``sub``, binding the attacker's key."""
    ap_key, attacker_key = Key.from_seed("hostile ap", kid="hostile-1"), Key.from_seed("attacker")
    world.hosts.add(HOSTILE, party_app(HOSTILE, ap_key, "Hostile"))
    now = int(world.clock())
    token = tokens.mint_agent_token(
        ap_key, iss=HOSTILE, sub=sub, cnf=attacker_key, iat=now, exp=now + 600, jti=jti
    )
    return ap_key, attacker_key, token


def _person_token_request(world, key, token, **body):
    return world.send(
        "POST",
        f"{PS}/person-token",
        key=key,
        token=token,
        body={"resource": RES, "capabilities": ["interaction"], **body},
    )


def test_h1_hostile_ap_with_the_victims_sub_is_another_agent(world):
    """The attack of the finding: the hostile agent is not the bound agent (no person token at
    once: 202 and a consent), the consent context names the hostile Agent Provider and not the
    real agent's registered name; after a person approves, the real agent's binding, key and
    tokens are untouched and it still gets its person token at once."""
    victim_token = world.person_token()  # the real agent, bound to mcp-user
    before = world.ps.store.get_agent(VICTIM, ap_issuer=PS)
    _, attacker_key, hostile_token = _hostile(world)

    response = _person_token_request(world, attacker_key, hostile_token)
    assert response.status_code == 202, response.text
    code = parse_requirement(response.headers["aauth-requirement"]).code
    alice = world.person("alice", "alice-pw")
    context = alice.get(f"{PS}/consent", params={"code": code}).json()
    assert (context["agent"], context["agent_provider"]) == (VICTIM, HOSTILE)
    assert context["agent_provider_name"] == "Hostile agent" and context["agent_name"] != "Backend"
    decision = alice.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
    assert decision.status_code == 200, decision.text
    attacker_person_token = world.poll(response.headers["location"], key=attacker_key, token=hostile_token)
    assert decoded(attacker_person_token.json()["person_token"])["sub"] == world.ps.subject("alice", RES)

    assert world.ps.store.get_agent(VICTIM, ap_issuer=PS) == before  # person, key, status, name
    hostile = world.ps.store.get_agent(VICTIM, ap_issuer=HOSTILE)
    assert (hostile.username, hostile.agent_jkt) == ("alice", attacker_key.thumbprint())
    again = decoded(world.person_token())
    assert again["sub"] == decoded(victim_token)["sub"] == world.ps.subject("mcp-user", RES)
    assert {t.agent_iss for t in world.ps.store.list_tokens(agent_id=VICTIM, agent_iss=PS)} == {PS}
    assert len(world.ps.store.list_tokens(agent_id=VICTIM, agent_iss=HOSTILE)) == 1


def test_h1_the_consent_page_names_the_agent_provider(world):
    """-11 "Agent-Person Binding": the consent screen shows the agent provider's name."""
    _, attacker_key, hostile_token = _hostile(world)
    response = _person_token_request(world, attacker_key, hostile_token)
    code = parse_requirement(response.headers["aauth-requirement"]).code
    browser = world.person()
    page = browser.get(f"{PS}/interaction", params={"code": code})
    assert "Agent Provider: <strong>Hostile agent</strong>" in page.text and HOSTILE in page.text


def test_h1_the_hostile_agent_cannot_use_the_victims_mission(world):
    """A mission is its agent's, ``(iss, sub)``: the hostile agent naming the real agent's
    mission gets 404 mission_not_found, as for an unknown one (-11 "Mission Status Errors")."""
    mission = world.ps.store.add_mission(
        b'{"agent":"aauth:backend@ps.example"}', agent_id=VICTIM, agent_iss=PS, username="mcp-user"
    )
    _, attacker_key, hostile_token = _hostile(world)
    response = _person_token_request(world, attacker_key, hostile_token, mission_s256=mission.s256)
    assert (response.status_code, error_of(response)) == (404, "mission_not_found")
    owned = world.send("POST", f"{PS}/person-token", body={"resource": RES, "mission_s256": mission.s256})
    assert owned.status_code == 200, owned.text


def test_h1_the_hostile_aps_revocation_leaves_the_real_agent_alone(world):
    """The hostile AP revokes its own agent token (same ``sub``): the cascade reaches its agent
    only — the real agent's pending request and tokens stay as they were (-11 "Token Revocation")."""
    ap_key, attacker_key, hostile_token = _hostile(world)
    victim_person_token = decoded(world.person_token())
    url, _, _ = world.defer()
    assert _person_token_request(world, attacker_key, hostile_token).status_code == 202
    revocation = Revoker(HOSTILE, AGENT_DWK, ap_key, world.clock).request(
        f"{PS}/revoke", "hostile-1", int(world.clock()) + 600
    )
    answer = world.client.post(revocation.target_uri, headers=revocation.headers, content=revocation.body)
    assert answer.status_code == 200, answer.text
    pending_id = url.rsplit("/", 1)[1]
    assert world.ps.store.get_pending(pending_id).status == "pending"
    assert not world.ps.store.is_revoked(PS, victim_person_token["jti"])
    assert world.send("POST", f"{PS}/person-token", body={"resource": RES}).status_code == 200


def test_h1_a_bound_agent_is_never_claimed_by_another_person(world):
    """-11 "Agent-Person Binding": once alice claimed the agent, mcp-user cannot claim it with a
    second request made before (403 forbidden; the binding must be revoked first)."""
    _, attacker_key, token = _hostile(world, sub="aauth:fresh@hostile.example")
    first = _person_token_request(world, attacker_key, token)
    second = _person_token_request(world, attacker_key, token)
    codes = [parse_requirement(r.headers["aauth-requirement"]).code for r in (first, second)]
    world.approve(codes[0], person=world.person("alice", "alice-pw"))
    mcp_user = world.person()
    context = mcp_user.get(f"{PS}/consent", params={"code": codes[1]})
    assert (context.status_code, error_of(context)) == (403, "forbidden")
    pending_id = second.headers["location"].rsplit("/", 1)[1]
    decision = mcp_user.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert (decision.status_code, error_of(decision)) == (403, "forbidden")
    assert world.ps.store.get_agent("aauth:fresh@hostile.example", ap_issuer=HOSTILE).username == "alice"
