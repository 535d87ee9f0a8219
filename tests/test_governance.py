"""The PS governance endpoints (-11 "PS Governance Endpoints") over real sockets in a Lab:
"Permission Endpoint", "Audit Endpoint", "Interaction Endpoint" with every error their
sections define, the "Mission Log" they feed, and "Person Server Metadata"."""

from __future__ import annotations

import json
import threading
import time

import pytest
from aauth_kit.servers.ps.context import Caps

from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import PERSON_DWK
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

from .ps_world import form_fields

PS = "https://ps.example"
TOOLS = [{"name": "WebSearch", "description": "Search the web"}]
HANG_GUARD = 30


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], caps=Caps(log_per_mission=12)) as lab:
        yield lab


def sign_in(lab):
    """The person signs in at the PS: from now on the PS can reach them (their inbox)."""
    client = lab.hosts.client(timeout=HANG_GUARD)
    response = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    return client


def deciding_agent(lab, local="assistant"):
    """An agent whose person approves at once when it shows them a code."""
    return lab.new_agent(local, on_interaction=lambda i: lab.ps.decide(i.code, True))


def with_mission(lab, agent, tools=TOOLS):
    with lab.client(agent) as client:
        return agent.start_mission(client, "# Plan a trip\n\nFind flights.", tools=tools)


def signed_post(lab, agent, path: str, body, *, raw: bytes | None = None):
    """A hand-signed JSON POST with the agent's key and agent token."""
    data = raw if raw is not None else json.dumps(body).encode()
    message = HttpMessage("POST", f"{PS}{path}", [("Content-Type", "application/json")], data)
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    return lab.send(message).response


def error_of(response) -> tuple[int, str]:
    assert response.header("content-type").startswith("application/problem+json"), response.body
    return response.status, json.loads(response.body)["error"]


def in_background(call):
    """Run ``call()`` in a thread; returns a function that joins it and gives its result or error."""
    box = {}

    def run():
        try:
            box["result"] = call()
        except Exception as error:  # handed to the test
            box["error"] = error

    thread = threading.Thread(target=run)
    thread.start()

    def result():
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), "the agent's call never ended"
        if "error" in box:
            raise box["error"]
        return box["result"]

    return result


def inbox_item(person, kind: str) -> dict:
    """Wait until a request of ``kind`` waits in the person's inbox (a hang guard only)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        items = [i for i in person.get(f"{PS}/inbox").json() if i["kind"] == kind]
        if items:
            return items[0]
        time.sleep(0.02)
    raise AssertionError(f"no {kind} request reached the inbox")


def poll(lab, agent, location: str):
    """One signed GET of a pending URL, as the agent that made the request."""
    message = HttpMessage("GET", location, [], b"")
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    return lab.send(message).response


def mission_log(person, s256: str) -> list[dict]:
    response = person.get(f"{PS}/missions/{s256}/log")
    assert response.status_code == 200, response.text
    return response.json()["log"]


# -- -11 "Person Server Metadata" -----------------------------------------------------------------
def test_person_server_metadata_names_the_governance_endpoints(lab):
    document = lab.ps.metadata_document(PERSON_DWK)
    assert document["permission_endpoint"] == f"{PS}/permission"
    assert document["audit_endpoint"] == f"{PS}/audit"
    assert document["interaction_endpoint"] == f"{PS}/reach"
    assert document["claims_supported"] == ["sub", "name"]
    assert document["scopes_supported"] == []


def test_person_server_metadata_claims_supported_names_the_claims_an_access_server_may_ask(lab):
    """-11 "Person Server Metadata" ``claims_supported`` lists the identity claims the PS can
    provide; -11 "Claims Required" answers never carry ``sub``, so the one claim an Access
    Server may ask this PS for, the person's ``name``, is listed (fetched over the socket)."""
    with lab.hosts.client(timeout=HANG_GUARD) as client:
        document = client.get(f"{PS}/.well-known/{PERSON_DWK}").json()
    assert "name" in document["claims_supported"]


# -- -11 "Permission Endpoint" --------------------------------------------------------------------
def test_permission_response_granted_at_once_for_a_pre_approved_tool(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    with lab.client(agent) as client:
        answer = agent.ask_permission(client, "WebSearch", parameters={"query": "flights"})
    assert answer == {"permission": "granted"}
    person = sign_in(lab)
    actions = [e["action"] for e in mission_log(person, mission.s256)]
    assert actions[-2:] == ["permission_request", "permission_response"]


def test_permission_request_deferred_until_the_person_grants_it(lab):
    agent = deciding_agent(lab)
    with lab.client(agent) as client:
        answer = agent.ask_permission(client, "SendEmail", description="Send the itinerary")
    assert answer == {"permission": "granted"}
    assert agent.last_interaction is not None  # no session: the agent showed the PS's code


def test_permission_response_denied_with_a_reason(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    agent.on_interaction = lambda i: lab.ps.decide(i.code, False)
    with lab.client(agent) as client:
        answer = agent.ask_permission(client, "DeleteFiles", parameters={"path": "/"})
    assert answer["permission"] == "denied" and answer["reason"]
    log = mission_log(sign_in(lab), mission.s256)
    assert log[-1]["action"] == "permission_response" and log[-1]["details"]["permission"] == "denied"


def test_permission_request_reaches_a_signed_in_person_with_requirement_approval(lab):
    agent = deciding_agent(lab)
    person = sign_in(lab)
    response = signed_post(lab, agent, "/permission", {"action": "SendEmail", "description": "<b>hi</b>"})
    assert response.status == 202
    assert parse_requirement(response.header("aauth-requirement")).requirement == "approval"
    item = inbox_item(person, "permission")
    context = person.get(f"{PS}/consent", params={"code": item["code"]}).json()
    assert context["asked"]["action"] == "SendEmail"
    assert (
        person.post(f"{PS}/consent/{item['pending_id']}/decision", json={"approved": True}).status_code == 200
    )


def test_permission_response_is_a_mission_status_error_once_the_mission_ended(lab):
    """-11 "Permission Response": "If the mission is no longer active, the PS returns a mission
    status error" — also when the person revokes the mission while the request waits, and
    then grants (or denies) it anyway: the poll gets ``403 mission_terminated``."""
    agent = deciding_agent(lab)
    person = sign_in(lab)
    for approved in (True, False):
        mission = with_mission(lab, agent)
        waiting = signed_post(
            lab, agent, "/permission", {"action": "SendEmail", "mission_s256": mission.s256}
        )
        assert waiting.status == 202
        item = inbox_item(person, "permission")
        assert person.post(f"{PS}/missions/{mission.s256}/revoke").status_code == 200
        decided = person.post(f"{PS}/consent/{item['pending_id']}/decision", json={"approved": approved})
        assert decided.status_code == 200, decided.text
        answer = poll(lab, agent, waiting.header("location"))
        assert error_of(answer) == (403, "mission_terminated")
        assert json.loads(answer.body)["termination_reason"] == "revoked"


def test_permission_request_errors(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    assert error_of(signed_post(lab, agent, "/permission", {})) == (400, "invalid_request")
    assert error_of(signed_post(lab, agent, "/permission", {"action": 7})) == (400, "invalid_request")
    bad_parameters = {"action": "Run", "parameters": ["x"]}
    assert error_of(signed_post(lab, agent, "/permission", bad_parameters)) == (400, "invalid_request")
    assert error_of(signed_post(lab, agent, "/permission", None, raw=b"{")) == (400, "invalid_request")
    unknown = {"action": "Run", "mission_s256": "A" * 43}
    assert error_of(signed_post(lab, agent, "/permission", unknown)) == (404, "mission_not_found")
    other = lab.new_agent("other")
    mine = {"action": "Run", "mission_s256": mission.s256}
    assert error_of(signed_post(lab, other, "/permission", mine)) == (404, "mission_not_found")
    person = sign_in(lab)
    person.post(f"{PS}/missions/{mission.s256}/revoke")
    response = signed_post(lab, agent, "/permission", mine)
    assert error_of(response) == (403, "mission_terminated")
    assert json.loads(response.body)["termination_reason"] == "revoked"
    with lab.hosts.client() as stranger:  # no signature at all
        assert stranger.post(f"{PS}/permission", json={"action": "Run"}).status_code == 401


# -- -11 "Audit Endpoint" -------------------------------------------------------------------------
def test_audit_response_201_and_the_record_joins_the_mission_log(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    with lab.client(agent) as client:
        agent.send_audit_record(
            client,
            "WebSearch",
            description="Searched for flights",
            parameters={"query": "flights to Tokyo"},
            result={"status": "completed"},
        )
    response = signed_post(lab, agent, "/audit", {"mission_s256": mission.s256, "action": "Read"})
    assert response.status == 201
    person = sign_in(lab)
    records = [e for e in mission_log(person, mission.s256) if e["action"] == "audit_record"]
    assert [r["details"]["action"] for r in records] == ["WebSearch", "Read"]
    assert records[0]["details"]["result"] == {"status": "completed"}
    viewer = [e for e in person.get(f"{PS}/audit").json() if e["action"] == "audit_record"]
    assert len(viewer) == 2  # the person's GET /audit shows the records of their mission


def test_audit_request_errors(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    assert error_of(signed_post(lab, agent, "/audit", {"action": "Read"})) == (400, "invalid_request")
    assert error_of(signed_post(lab, agent, "/audit", {"mission_s256": mission.s256})) == (
        400,
        "invalid_request",
    )
    bad = {"mission_s256": mission.s256, "action": "Read", "result": "done"}
    assert error_of(signed_post(lab, agent, "/audit", bad)) == (400, "invalid_request")
    malformed = {"mission_s256": "not-a-mission", "action": "Read"}
    assert error_of(signed_post(lab, agent, "/audit", malformed)) == (400, "invalid_request")
    other = lab.new_agent("other")
    mine = {"mission_s256": mission.s256, "action": "Read"}
    assert error_of(signed_post(lab, other, "/audit", mine)) == (404, "mission_not_found")
    sign_in(lab).post(f"{PS}/missions/{mission.s256}/revoke")
    assert error_of(signed_post(lab, agent, "/audit", mine)) == (403, "mission_terminated")
    agent.mission = None
    with lab.client(agent) as client, pytest.raises(FlowError) as raised:
        agent.send_audit_record(client, "Read")
    assert raised.value.code == "invalid_request"


def test_audit_records_of_one_mission_are_capped(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    record = {"mission_s256": mission.s256, "action": "Read"}
    statuses = [signed_post(lab, agent, "/audit", record).status for _ in range(12)]
    assert 201 in statuses and statuses[-1] == 429
    response = signed_post(lab, agent, "/audit", record)
    assert error_of(response) == (429, "rate_limited") and response.header("retry-after")


def test_mission_log_is_the_persons_own(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    stranger = lab.hosts.client()
    stranger.post(f"{PS}/login", json={"username": "mcp-user", "password": "wrong"})
    assert sign_in(lab).get(f"{PS}/missions/{'A' * 43}/log").json()["error"] == "mission_not_found"
    assert stranger.get(f"{PS}/missions/{mission.s256}/log").status_code == 401


# -- -11 "Interaction Endpoint" -------------------------------------------------------------------
def test_interaction_response_answer_to_a_question(lab):
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    person = sign_in(lab)
    with lab.client(agent) as client:
        result = in_background(
            lambda: agent.request_interaction(client, "question", question="Refundable or cheaper?")
        )
        item = inbox_item(person, "interaction")
        page = person.get(f"{PS}/consent", params={"code": item["code"]}).json()
        assert page["asked"]["question"] == "Refundable or cheaper?"
        answered = person.post(f"{PS}/consent/{item['pending_id']}/answer", json={"answer": "Refundable."})
        assert answered.status_code == 200, answered.text
        assert result() == {"answer": "Refundable."}
    actions = [e["action"] for e in mission_log(person, mission.s256)]
    assert actions[-2:] == ["interaction_request", "interaction_response"]


def test_interaction_response_is_a_mission_status_error_once_the_mission_ended(lab):
    """-11 "Interaction Response": "If the mission is no longer active, the PS returns a mission
    status error" — the person revoked the mission before answering the agent's question:
    the poll gets ``403 mission_terminated``, not the answer."""
    agent = deciding_agent(lab)
    mission = with_mission(lab, agent)
    person = sign_in(lab)
    asked = {"type": "question", "question": "Refundable or cheaper?", "mission_s256": mission.s256}
    waiting = signed_post(lab, agent, "/reach", asked)
    assert waiting.status == 202
    item = inbox_item(person, "interaction")
    assert person.post(f"{PS}/missions/{mission.s256}/revoke").status_code == 200
    answered = person.post(f"{PS}/consent/{item['pending_id']}/answer", json={"answer": "Refundable."})
    assert answered.status_code == 200, answered.text
    answer = poll(lab, agent, waiting.header("location"))
    assert error_of(answer) == (403, "mission_terminated")
    assert json.loads(answer.body)["termination_reason"] == "revoked"


def test_interaction_response_relay_reaches_the_person(lab):
    agent = deciding_agent(lab)
    person = sign_in(lab)
    relay = {"type": "payment", "url": "https://booking.example/confirm", "code": "X7K2-M9P4"}
    with lab.client(agent) as client:
        result = in_background(lambda: agent.request_interaction(client, **relay))
        item = inbox_item(person, "interaction")
        page = person.get(f"{PS}/consent", params={"code": item["code"]}).json()
        assert page["asked"]["url"] == relay["url"] and page["asked"]["code"] == relay["code"]
        person.post(f"{PS}/consent/{item['pending_id']}/decision", json={"approved": True})
        assert result() == {"status": "relayed"}


def test_interaction_relay_ends_when_max_wait_elapses(lab):
    agent = deciding_agent(lab)
    sign_in(lab)
    body = {"type": "interaction", "url": "https://booking.example/confirm", "max_wait": 5}
    response = signed_post(lab, agent, "/reach", body)
    assert response.status == 202
    lab.clock.advance(6)
    message = HttpMessage("GET", response.header("location"), [], b"")
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    assert error_of(lab.send(message).response) == (408, "expired")


def test_interaction_endpoint_errors(lab):
    agent = deciding_agent(lab)
    relay = {"type": "interaction", "url": "https://booking.example/confirm", "code": "X7K2-M9P4"}
    # no session: the PS has no channel to the person
    assert error_of(signed_post(lab, agent, "/reach", relay)) == (424, "interaction_unavailable")
    question = {"type": "question", "question": "Which hotel?"}
    assert error_of(signed_post(lab, agent, "/reach", question)) == (403, "user_unreachable")
    with lab.client(agent) as client, pytest.raises(FlowError) as raised:
        agent.request_interaction(client, **relay)
    assert raised.value.code == "interaction_unavailable"
    for bad in (
        {"type": "completion"},
        {"type": "question"},
        {"type": "payment"},
        {"type": "payment", "url": "http://booking.example/pay"},
        {**relay, "max_wait": -1},
        {**relay, "code": ""},
    ):
        assert error_of(signed_post(lab, agent, "/reach", bad)) == (400, "invalid_request"), bad
    mission = with_mission(lab, agent)
    sign_in(lab).post(f"{PS}/missions/{mission.s256}/revoke")
    ended = {**question, "mission_s256": mission.s256}
    assert error_of(signed_post(lab, agent, "/reach", ended)) == (403, "mission_terminated")


def test_consent_page_escapes_what_the_agent_sent(lab):
    agent = deciding_agent(lab)
    person = sign_in(lab)
    hostile = {"action": "<script>x()</script>", "parameters": {"to": '"><img src=x>'}}
    assert signed_post(lab, agent, "/permission", hostile).status == 202
    item = inbox_item(person, "permission")
    browser = lab.hosts.client(follow_redirects=True)
    csrf = form_fields(browser.get(f"{PS}/interaction", params={"code": item["code"]}).text)["csrf"]
    page = browser.post(  # signed in, the browser lands on the consent page
        f"{PS}/login",
        data={
            "username": "mcp-user",
            "password": "user123",
            "next": f"/interaction?code={item['code']}",
            "csrf": csrf,
        },
        headers={"origin": PS},
    )
    assert "&lt;script&gt;x()&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "<img" not in page.text


def test_interaction_response_answer_given_on_the_consent_page(lab):
    agent = deciding_agent(lab)
    person = sign_in(lab)
    with lab.client(agent) as client:
        result = in_background(
            lambda: agent.request_interaction(client, "question", question="<i>Which?</i>")
        )
        item = inbox_item(person, "interaction")
        browser = lab.hosts.client(follow_redirects=True)
        csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]
        target = f"/interaction?code={item['code']}"
        page = browser.post(
            f"{PS}/login",
            data={"username": "mcp-user", "password": "user123", "next": target, "csrf": csrf},
            headers={"origin": PS},
        )
        assert '<textarea id="answer" name="answer"' in page.text and "&lt;i&gt;Which?" in page.text
        fields = {**form_fields(page.text), "decision": "approve", "answer": "The second."}
        done = browser.post(f"{PS}/interaction", data=fields, headers={"origin": PS})
        assert done.status_code == 200, done.text
        assert result() == {"answer": "The second."}
