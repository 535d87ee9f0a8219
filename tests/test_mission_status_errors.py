"""A token request under a mission that ends while it waits, over loopback sockets (-11
"Mission Status Errors": every PS decision path checks the mission; "Mission Management"):
the person revokes the mission, or it expires, before the request is approved — the poll
answers ``403 mission_terminated`` with the mission's status, never a token."""

from __future__ import annotations

import pytest

from aauth_kit.headers import parse_requirement

from .ps_world import CAPABILITIES, PS, RES, decoded, error_of, world_fixture

world = world_fixture()


def mission_of(world, **kw) -> str:
    """A mission proposed by the agent (``kw``: another key and token) and approved by the
    person; its ``s256``."""
    proposal = world.send("POST", f"{PS}/mission", body={"description": "# Tidy the files"}, **kw)
    assert proposal.status_code == 202, proposal.text
    world.approve(parse_requirement(proposal.headers["aauth-requirement"]).code)
    approved = world.poll(proposal.headers["location"], **kw)
    assert approved.status_code == 200, approved.text
    return approved.json()["s256"]


def end(world, s256: str, how: str) -> None:
    """The mission ends while the request waits: the person revokes it, or time runs out."""
    if how == "revoked":
        assert world.person().post(f"{PS}/missions/{s256}/revoke").status_code == 200
    else:
        world.clock.advance(61)  # past the mission's expires_at, within the request's own lifetime


def answered(world, response, s256: str, how: str, **kw) -> None:
    """The person approves the waiting request after its mission ended: the poll (signed as
    ``kw`` says) is ``403 mission_terminated`` with the mission's status members, and no token."""
    assert response.status_code == 202, response.text
    end(world, s256, how)
    world.approve(parse_requirement(response.headers["aauth-requirement"]).code)
    poll = world.poll(response.headers["location"], **kw)
    assert (poll.status_code, error_of(poll)) == (403, "mission_terminated")
    problem = poll.json()
    assert (problem["mission_status"], problem["termination_reason"]) == ("terminated", how)
    assert "auth_token" not in problem and "person_token" not in problem


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_mission_status_errors_auth_token_request_waiting_when_the_mission_ends(world, how):
    """An auth token request within the mission (its person token and resource token carry
    ``mission_s256``) waits for consent; the mission ends; the approval mints nothing."""
    world.ps.mission_lifetime = 60
    s256 = mission_of(world)
    body = {"resource": RES, "mission_s256": s256, "capabilities": list(CAPABILITIES)}
    person_token = world.send("POST", f"{PS}/person-token", body=body).json()["person_token"]
    resource_token = world.resource_token(person_token, "files:delete", mission_s256=s256)
    request = {
        "resource_token": resource_token,
        "presented_token": person_token,
        "capabilities": list(CAPABILITIES),
    }
    answered(world, world.send("POST", f"{PS}/auth-token", body=request), s256, how)


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_mission_status_errors_person_token_request_waiting_when_the_mission_ends(world, how):
    """An agent nobody stands behind yet (another Agent Provider's) asks for a person token
    within its mission and waits for a person to claim it; the mission ends; the claim mints
    nothing."""
    world.ps.mission_lifetime = 60
    key, token = world.unclaimed_agent()
    s256 = mission_of(world, key=key, token=token)
    body = {"resource": RES, "mission_s256": s256, "capabilities": list(CAPABILITIES)}
    response = world.send("POST", f"{PS}/person-token", body=body, key=key, token=token)
    answered(world, response, s256, how, key=key, token=token)


def test_mission_status_errors_a_live_mission_still_gets_its_token(world):
    """The control: the same waiting request under a mission still active gets its auth token,
    carrying ``mission_s256``."""
    s256 = mission_of(world)
    body = {"resource": RES, "mission_s256": s256, "capabilities": list(CAPABILITIES)}
    person_token = world.send("POST", f"{PS}/person-token", body=body).json()["person_token"]
    request = {
        "resource_token": world.resource_token(person_token, "files:delete", mission_s256=s256),
        "presented_token": person_token,
        "capabilities": list(CAPABILITIES),
    }
    response = world.send("POST", f"{PS}/auth-token", body=request)
    world.approve(parse_requirement(response.headers["aauth-requirement"]).code)
    poll = world.poll(response.headers["location"])
    assert poll.status_code == 200, poll.text
    assert decoded(poll.json()["auth_token"])["mission_s256"] == s256
