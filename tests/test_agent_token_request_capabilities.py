"""``capabilities`` within a mission, over loopback sockets (-11 "Agent Token Request": "Within a
mission, capabilities is OPTIONAL: if omitted, the PS uses the values captured at mission
approval; if present, it refreshes them for this request"; -11 "Mission Approval"; outside a
mission none is assumed, -11 "AAuth-Capabilities Request Header").  At the token endpoints
and at the interaction endpoint, whose question needs the person."""

from __future__ import annotations

import pytest

from aauth_kit.headers import parse_requirement

from .ps_world import PS, RES, error_of, world_fixture

world = world_fixture()

#: What the PS captured at approval: its channel to the person (an active session) or none.
REACHABLE, UNREACHABLE = ["interaction", "payment"], []


def mission_of(world, captured: list[str], **kw) -> str:
    """A mission approved by the person, whose session is still active when the approval is
    collected (``captured`` REACHABLE) or ended by then (UNREACHABLE); the person is signed
    out either way afterwards, so the PS cannot reach them now.  Its ``s256``."""
    proposal = world.send("POST", f"{PS}/mission", body={"description": "# Tidy the files"}, **kw)
    person = world.person()
    world.approve(parse_requirement(proposal.headers["aauth-requirement"]).code, person=person)
    if captured == UNREACHABLE:
        person.post(f"{PS}/logout")
    approved = world.poll(proposal.headers["location"], **kw)
    assert approved.status_code == 200, approved.text
    assert approved.json()["capabilities"] == captured
    person.post(f"{PS}/logout")
    return approved.json()["s256"]


def auth_token_request(world, s256: str, **members):
    """A request within mission ``s256`` for a scope that needs consent (``members``: the
    body's ``capabilities``, if any)."""
    body = {"resource": RES, "mission_s256": s256, **members}
    person_token = world.send("POST", f"{PS}/person-token", body=body).json()["person_token"]
    request = {
        "resource_token": world.resource_token(person_token, "files:delete", mission_s256=s256),
        "presented_token": person_token,
        **members,
    }
    return world.send("POST", f"{PS}/auth-token", body=request)


def outcome(response) -> tuple[int, str | None]:
    if response.status_code == 202:
        return 202, parse_requirement(response.headers["aauth-requirement"]).requirement
    return response.status_code, error_of(response)


@pytest.mark.parametrize(
    "captured, members, expected",
    [
        (REACHABLE, {}, (202, "interaction")),  # omitted: the captured values
        (UNREACHABLE, {}, (403, "user_unreachable")),
        (REACHABLE, {"capabilities": []}, (403, "user_unreachable")),  # present: refreshed
        (UNREACHABLE, {"capabilities": ["interaction"]}, (202, "interaction")),
    ],
    ids=["omitted-captured", "omitted-none-captured", "present-none", "present-interaction"],
)
def test_agent_token_request_capabilities_within_a_mission(world, captured, members, expected):
    s256 = mission_of(world, captured)
    assert outcome(auth_token_request(world, s256, **members)) == expected


def test_agent_token_request_capabilities_outside_a_mission_none_is_assumed(world):
    """The control: no mission, no ``capabilities`` → ``403 user_unreachable``."""
    person_token = world.person_token()
    request = {
        "resource_token": world.resource_token(person_token, "files:delete"),
        "presented_token": person_token,
    }
    assert outcome(world.send("POST", f"{PS}/auth-token", body=request)) == (403, "user_unreachable")


@pytest.mark.parametrize(
    "captured, expected", [(REACHABLE, (202, "interaction")), (UNREACHABLE, (403, "user_unreachable"))]
)
def test_agent_token_request_capabilities_person_token_within_a_mission(world, captured, expected):
    """An agent nobody stands behind yet (another Agent Provider's) asks for a person token
    within its mission, declaring no capabilities: the captured ones decide."""
    key, token = world.unclaimed_agent()
    s256 = mission_of(world, captured, key=key, token=token)
    body = {"resource": RES, "mission_s256": s256}
    assert outcome(world.send("POST", f"{PS}/person-token", body=body, key=key, token=token)) == expected


@pytest.mark.parametrize(
    "captured, expected", [(REACHABLE, (202, "interaction")), (UNREACHABLE, (403, "user_unreachable"))]
)
def test_agent_token_request_capabilities_interaction_endpoint_question(world, captured, expected):
    """-11 "Interaction Response": "If the PS cannot reach the user and the agent does not have
    the interaction capability, the PS returns user_unreachable" — within a mission, the
    capability is the one captured at approval: with it the agent brings its person to the PS
    (``requirement=interaction``), and the person's answer is the poll's ``200``."""
    s256 = mission_of(world, captured)
    body = {"type": "question", "question": "Which folder?", "mission_s256": s256}
    response = world.send("POST", f"{PS}/reach", body=body)
    assert outcome(response) == expected
    if response.status_code == 202:
        code = parse_requirement(response.headers["aauth-requirement"]).code
        person = world.person()
        pending_id = person.get(f"{PS}/consent", params={"code": code}).json()["pending_id"]
        person.post(f"{PS}/consent/{pending_id}/answer", json={"answer": "Drafts."})
        assert world.poll(response.headers["location"]).json() == {"answer": "Drafts."}
