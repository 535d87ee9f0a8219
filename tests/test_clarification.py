"""Clarification chat over real sockets (servers/ps/clarification.py, the pending URL of
servers/ps/deferred.py, the consent API and page): -11 "Clarification Chat", "Clarification
Required", "Agent Response to Clarification", "Clarification Limits", "Clarification Chat
Security", "Polling with GET", "Polling Error Codes" — the person asks, the agent's poll
carries the question, the agent answers, updates its request or cancels, the person decides.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from aauth_kit.servers.ps.clarification import ANSWER_TIMEOUT, MAX_ROUNDS, MAX_TEXT

from aauth_kit import tokens
from aauth_kit.agent_clarification import UpdatedRequest
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

from .ps_world import (
    HANG_GUARD,
    HELD,
    PS,
    decoded,
    error_of,
    form_fields,
    logged_in_browser,
    wait_until,
    world_fixture,
)

world = world_fixture()

QUESTION = "Why do you need to **delete** my files?"
ANSWER = "To clear the drafts you asked me to tidy up."


def defer(world, scope="files:delete", capabilities=("interaction", "clarification"), **kw):
    """A token request that waits for the person, the agent declaring ``capabilities``;
    returns (pending URL, code)."""
    presented = world.person_token()
    body = {
        "resource_token": world.resource_token(presented, scope),
        "presented_token": presented,
        "capabilities": list(capabilities),
        "justification": "Tidy up",
    }
    response = world.send("POST", f"{PS}/auth-token", body=body, **kw)
    assert response.status_code == 202, response.text
    world.presented = presented
    return response.headers["location"], parse_requirement(response.headers["aauth-requirement"]).code


def opened(world, code):
    """The person opens the request by its code; returns (person client, pending id)."""
    person = world.person()
    context = person.get(f"{PS}/consent", params={"code": code})
    assert context.status_code == 200, context.text
    return person, context.json()["pending_id"]


def ask(person, pending_id, question=QUESTION, **members):
    return person.post(f"{PS}/consent/{pending_id}/clarification", json={"question": question, **members})


def answer(world, url, text=ANSWER, **kw):
    body = {"action": "clarification_response", "clarification_response": text}
    return world.send("POST", url, body=body, **kw)


def asked(world, code, question=QUESTION):
    person, pending_id = opened(world, code)
    response = ask(person, pending_id, question)
    assert response.status_code == 200, response.text
    return person, pending_id


# -- the happy paths ------------------------------------------------------------------------------------------------


def test_clarification_required_the_poll_carries_the_question(world):
    """-11 "Clarification Required": "A server MUST use requirement=clarification with a 202
    Accepted response ... The response body MUST include a clarification field containing the
    question and MAY include timeout and options fields."  The deferred-response headers stay
    (-11 "Pending Response")."""
    url, code = defer(world)
    person, pending_id = opened(world, code)
    shown = ask(person, pending_id, options=["keep them", "delete them"]).json()
    assert shown["clarification"] == {
        "chat": [
            {
                "question": QUESTION,
                "options": ["keep them", "delete them"],
                "asked_at": shown["clarification"]["chat"][0]["asked_at"],
            }
        ],
        "awaiting_answer": True,
        "rounds_left": MAX_ROUNDS - 1,
    }
    world.clock.advance(5)
    poll = world.poll(url)
    assert poll.status_code == 202
    assert parse_requirement(poll.headers["aauth-requirement"]).requirement == "clarification"
    assert (poll.headers["location"], poll.headers["cache-control"]) == (url, "no-store")
    assert "retry-after" in poll.headers
    assert poll.json() == {
        "status": "interacting",
        "clarification": QUESTION,
        "timeout": ANSWER_TIMEOUT - 5,  # the 5 s the agent took to poll
        "options": ["keep them", "delete them"],
    }


def test_clarification_response_reaches_the_person_who_approves(world):
    """-11 "Clarification Response": the agent POSTs ``{"action": "clarification_response",
    ...}`` to the pending URL, then "resumes polling with GET"; the person sees the answer and
    decides; the poll gets the auth token."""
    url, code = defer(world)
    person, pending_id = asked(world, code)
    reply = answer(world, url, headers=[("Prefer", "wait=30")])
    assert reply.status_code == 202 and reply.headers["retry-after"] == "0"
    assert parse_requirement(reply.headers["aauth-requirement"]).requirement == "interaction"
    assert reply.json() == {"status": "interacting"}
    chat = person.get(f"{PS}/consent/{pending_id}").json()["clarification"]
    assert (chat["chat"][0]["answer"], chat["awaiting_answer"]) == (ANSWER, False)
    assert person.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}).status_code == 200
    token = world.poll(url)
    assert token.status_code == 200 and decoded(token.json()["auth_token"])["scope"] == "files:delete"
    actions = [e.action for e in world.ps.store.audit_log()]
    assert actions.index("clarification_asked") < actions.index("clarification_answered")


def test_clarification_a_held_poll_wakes_on_the_question(world):
    """-11 "Polling with GET": a poll held under ``Prefer: wait`` returns the question as soon
    as the person asks it."""
    url, code = defer(world)
    person, pending_id = opened(world, code)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(world.poll, url, wait=HELD)
        wait_until(lambda: world.ps.waiters.held(pending_id) == 1)
        ask(person, pending_id)
        poll = held.result()
    assert poll.json()["clarification"] == QUESTION


def test_clarification_updated_request_replaces_the_scope(world):
    """-11 "Updated Request": the agent POSTs a new resource token (reduced scope) with a
    justification; "The PS presents the updated request to the user", who approves it; the
    auth token carries the new scope."""
    url, code = defer(world)
    person, pending_id = asked(world, code)
    new = world.resource_token(world.presented, "files:read")
    body = {
        "action": "updated_request",
        "resource_token": new,
        "presented_token": world.presented,
        "justification": "Read-only is enough.",
    }
    assert world.send("POST", url, body=body).status_code == 202
    context = person.get(f"{PS}/consent/{pending_id}").json()
    assert (context["scope"], context["justification"]) == ("files:read", "Read-only is enough.")
    assert context["clarification"]["chat"][0]["updated"] == {
        "scope": "files:read",
        "justification": "Read-only is enough.",
    }
    person.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    world.clock.advance(5)
    assert decoded(world.poll(url).json()["auth_token"])["scope"] == "files:read"


def test_clarification_cancel_request(world):
    """-11 "Cancel Request": DELETE withdraws the request; "The PS terminates the consent
    session and informs the user that the agent withdrew its request.  Subsequent requests to
    the pending URL return 410 Gone." """
    url, code = defer(world)
    browser = logged_in_browser(world)
    page = browser.get(f"{PS}/interaction", params={"code": code})
    fields = form_fields(page.text)
    asking = browser.post(f"{PS}/interaction", data={**fields, "decision": "ask", "question": QUESTION})
    assert asking.status_code == 200
    assert world.send("DELETE", url).status_code == 204
    refreshed = browser.post(f"{PS}/interaction", data={**fields, "decision": "refresh"})
    assert "The agent withdrew its request." in refreshed.text
    for method in ("GET", "DELETE"):
        gone = world.send(method, url)
        assert (gone.status_code, error_of(gone)) == (410, "invalid_code")
    assert answer(world, url).status_code == 410
    person = world.person()
    decision = person.post(f"{PS}/consent/{fields['pending_id']}/decision", json={"approved": True})
    assert (decision.status_code, error_of(decision)) == (409, "conflict")


def test_clarification_chat_on_the_consent_page(world):
    """The person asks from the consent page (CSRF-bound form), looks for the answer, sees it
    escaped (-11 "Untrusted Input": "Markdown fields MUST be sanitized before rendering"), and
    approves; a forged form is 403."""
    url, code = defer(world)
    browser = logged_in_browser(world)
    page = browser.get(f"{PS}/interaction", params={"code": code})
    assert "Ask the agent" in page.text
    fields = form_fields(page.text)
    forged = browser.post(
        f"{PS}/interaction", data={**fields, "csrf": "x", "decision": "ask", "question": "?"}
    )
    assert forged.status_code == 403
    waiting = browser.post(f"{PS}/interaction", data={**fields, "decision": "ask", "question": "<b>why</b>?"})
    assert "&lt;b&gt;why&lt;/b&gt;?" in waiting.text and "Check for an answer" in waiting.text
    assert world.poll(url, wait=1).json()["clarification"] == "<b>why</b>?"
    answer(world, url, "<script>alert(1)</script> because")
    shown = browser.post(f"{PS}/interaction", data={**fields, "decision": "refresh"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt; because" in shown.text and "<script>" not in shown.text
    assert "content-security-policy" in shown.headers and shown.headers["cache-control"] == "no-store"
    done = browser.post(f"{PS}/interaction", data={**fields, "decision": "approve"})
    assert "You approved the request." in done.text
    assert world.poll(url).status_code == 200


# -- the errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"action": "maybe"}, {"clarification_response": ANSWER}, {"action": None}],
)
def test_clarification_post_without_a_known_action_is_400(world, body):
    """-11 "Agent Response to Clarification": "A server MUST reject a POST with a missing or
    unrecognized action value with 400 Bad Request." """
    url, code = defer(world)
    asked(world, code)
    response = world.send("POST", url, body=body)
    assert (response.status_code, error_of(response)) == (400, "invalid_request")


def test_clarification_answers_need_an_open_question_and_good_text(world):
    """An answer with no question open, an empty or oversized answer: 400 invalid_request."""
    url, code = defer(world)
    response = answer(world, url)
    assert (response.status_code, error_of(response)) == (400, "invalid_request")
    asked(world, code)
    for text in ("", "   ", "x" * (MAX_TEXT + 1), 42):
        response = answer(world, url, text)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), text
    assert answer(world, url, "x" * MAX_TEXT).status_code == 202


def test_clarification_updated_request_must_match_the_original(world):
    """-11 "Updated Request": the new resource token keeps the original's ``iss``, ``ps``,
    ``sub``, ``agent_jkt``, ``mission_s256`` and ``tenant`` — another resource, another key,
    another person, another PS: 400 invalid_resource_token; an expired one 400
    expired_resource_token (-11 "Token Endpoint Error Codes"); only a request made with a
    resource token can be updated."""
    url, code = defer(world)
    asked(world, code)
    other_key = Key.from_seed("agent other")
    shown = decoded(world.presented)
    now = int(world.clock())
    bad = {
        "another resource": world.resource_token(
            world.presented, "files:read", iss="https://chain.example", key=world.chain_key
        ),
        "another key": world.resource_token(world.presented, "files:read", agent_jkt=other_key),
        "another person": world.resource_token(world.presented, "files:read", sub=shown["sub"] + "x"),
        "another PS": world.resource_token(world.presented, "files:read", ps="https://other-ps.example"),
        "another tenant": world.resource_token(world.presented, "files:read", tenant="corp"),
        "expired": world.resource_token(world.presented, "files:read", iat=now - 600, exp=now - 300),
        "not a token": "nope",
    }
    codes = {}
    for why, token in bad.items():
        body = {"action": "updated_request", "resource_token": token, "presented_token": world.presented}
        response = world.send("POST", url, body=body)
        codes[why] = (response.status_code, error_of(response))
    assert codes == {
        "another resource": (400, "invalid_resource_token"),
        "another key": (400, "invalid_resource_token"),
        "another person": (400, "invalid_resource_token"),
        "another PS": (400, "invalid_resource_token"),
        "another tenant": (400, "invalid_resource_token"),
        "expired": (400, "expired_resource_token"),
        "not a token": (400, "invalid_resource_token"),
    }


def test_clarification_updated_request_presented_token(world):
    """-11 "Updated Request": ``presented_token`` is REQUIRED (missing: 400 invalid_request) and
    is verified against the new resource token's ``presented_jti`` as at the auth token endpoint
    (-11 "PS Token Endpoint"): another token 400 invalid_presented_token, an expired one
    expired_presented_token, a revoked one revoked_presented_token.  The request is unchanged
    by every refusal."""
    url, code = defer(world)
    person, pending_id = asked(world, code)
    new = world.resource_token(world.presented, "files:read")
    shown = decoded(world.presented)
    now = int(world.clock())
    expired = tokens.mint_person_token(
        world.ps_key, iss=PS, aud=shown["aud"], sub=shown["sub"], cnf=world.agent_key,
        iat=now - 100, exp=now - 1, jti=shown["jti"],
    )  # fmt: skip
    cases = {
        "missing": ({}, (400, "invalid_request")),
        "another person token": ({"presented_token": world.person_token()}, (400, "invalid_presented_token")),
        "not a token": ({"presented_token": "nope"}, (400, "invalid_presented_token")),
        "expired": ({"presented_token": expired}, (400, "expired_presented_token")),
    }
    for why, (members, expected) in cases.items():
        response = world.send(
            "POST", url, body={"action": "updated_request", "resource_token": new, **members}
        )
        assert (response.status_code, error_of(response)) == expected, why
    world.ps.store.revoke(PS, shown["jti"], shown["exp"])
    body = {"action": "updated_request", "resource_token": new, "presented_token": world.presented}
    response = world.send("POST", url, body=body)
    assert (response.status_code, error_of(response)) == (400, "revoked_presented_token")
    assert person.get(f"{PS}/consent/{pending_id}").json()["scope"] == "files:delete"


def test_clarification_only_the_agent_that_asked_may_answer(world):
    """-11 "Pending URL Security": "Servers MUST verify the agent's identity on every poll" —
    another agent's answer or cancel is 404, as its poll."""
    url, code = defer(world)
    asked(world, code)
    other_key = Key.from_seed("agent other")
    other_token = world.ps.issue_agent_token("other", other_key)
    assert answer(world, url, key=other_key, token=other_token).status_code == 404
    assert world.send("DELETE", url, key=other_key, token=other_token).status_code == 404
    assert world.poll(url, key=other_key, hwk=True).status_code == 404
    assert answer(world, url).status_code == 202


def test_clarification_only_the_person_asked_may_ask(world):
    """Only the person the request is for asks (403 forbidden for another); an agent that did
    not declare the clarification capability is asked nothing (400 invalid_request; -11
    "AAuth-Capabilities Request Header": no capability is assumed), and its page has no box."""
    url, code = defer(world)
    _, pending_id = opened(world, code)
    alice = world.person("alice", "alice-pw")
    refused = ask(alice, pending_id)
    assert (refused.status_code, error_of(refused)) == (403, "forbidden")
    assert alice.get(f"{PS}/consent/{pending_id}").status_code == 403
    url, code = defer(world, capabilities=("interaction",))
    person, pending_id = opened(world, code)
    refused = ask(person, pending_id)
    assert (refused.status_code, error_of(refused)) == (400, "invalid_request")
    assert "clarification" not in person.get(f"{PS}/consent/{pending_id}").json()


def test_clarification_limits_rounds_and_size(world):
    """-11 "Clarification Limits": "PSes SHOULD enforce limits on clarification rounds
    (recommended: 5 rounds maximum)"; -11 "Clarification Chat Security": "PSes MUST enforce a
    maximum number of clarification rounds".  A sixth question, or one while the last is open,
    is 409 conflict; an empty or oversized question 400 invalid_request."""
    url, code = defer(world)
    person, pending_id = opened(world, code)
    for text in ("", "x" * (MAX_TEXT + 1)):
        refused = ask(person, pending_id, text)
        assert (refused.status_code, error_of(refused)) == (400, "invalid_request")
    refused = ask(person, pending_id, options="yes")
    assert (refused.status_code, error_of(refused)) == (400, "invalid_request")
    for round_ in range(MAX_ROUNDS):
        assert ask(person, pending_id, f"question {round_}").status_code == 200
        again = ask(person, pending_id, "and another?")
        assert (again.status_code, error_of(again)) == (409, "conflict")
        assert answer(world, url, f"answer {round_}").status_code == 202
    refused = ask(person, pending_id, "one more?")
    assert (refused.status_code, error_of(refused)) == (409, "conflict")
    view = person.get(f"{PS}/consent/{pending_id}").json()["clarification"]
    assert (len(view["chat"]), view["rounds_left"]) == (MAX_ROUNDS, 0)


def test_clarification_unanswered_question_times_out(world):
    """-11 "Clarification Required": ``timeout``, "Seconds until the server times out the
    request.  The recipient MUST respond before this deadline" — a late agent's poll is ``408
    expired`` (-11 "Polling Error Codes"), then 410; its late answer gets the same."""
    url, code = defer(world)
    asked(world, code)
    world.clock.advance(ANSWER_TIMEOUT + 1)
    late = answer(world, url)
    assert (late.status_code, error_of(late)) == (408, "expired")
    assert world.poll(url).status_code == 410


def test_clarification_an_answer_gives_the_request_its_time_back(world):
    """The question's deadline holds only while it is open: answered, the request keeps its
    own lifetime."""
    url, code = defer(world)
    before = world.ps.store.get_pending(url.rsplit("/", 1)[1]).expires_at
    asked(world, code)
    assert answer(world, url).status_code == 202
    assert world.ps.store.get_pending(url.rsplit("/", 1)[1]).expires_at == before


def test_clarification_answer_after_the_decision_gets_the_final_answer(world):
    """A request the person decided while the question was open: the agent's POST gets what its
    poll would (-11 "Deferred Response State Machine": "A non-202 response terminates
    polling"): here the denial, then 410."""
    url, code = defer(world)
    person, pending_id = asked(world, code)
    person.post(f"{PS}/consent/{pending_id}/decision", json={"approved": False})
    late = answer(world, url)
    assert (late.status_code, error_of(late)) == (403, "denied")
    assert answer(world, url).status_code == 410


def test_clarification_concurrent_questions_take_one_round(world):
    """Two questions sent together: one is asked, the other is 409 (the store's check is atomic)."""
    url, code = defer(world)
    person, pending_id = opened(world, code)
    barrier = threading.Barrier(2)

    def send(text):
        barrier.wait()
        return ask(person, pending_id, text).status_code

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(send, ["one?", "two?"])) == [200, 409]
    assert len(world.ps.store.get_pending(pending_id).request["clarifications"]) == 1


# -- the kit's agent --------------------------------------------------------------------------------------------------

SCA = "https://supply-chain.example"


#: The person's threads of a test, joined before its lab stops.
THREADS: list[threading.Thread] = []


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path) as lab:
        yield lab
        while THREADS:
            THREADS.pop().join(HANG_GUARD)


def signed_in(lab):
    """The seed's person at the PS's consent API, on a client of its own."""
    client = lab.hosts.client(timeout=HANG_GUARD)
    response = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    return client


def asks_then_decides(lab, question=QUESTION, *, approved=True, seen=None):
    """An ``on_interaction`` for the kit's agent: the person opens the code and asks
    ``question``; once the agent has answered, they decide (on a thread of their own: the
    agent's flow goes on polling meanwhile).  Each view of the request goes to ``seen``."""
    seen = [] if seen is None else seen

    def on_interaction(interaction):
        person = signed_in(lab)
        pending_id = person.get(f"{PS}/consent", params={"code": interaction.code}).json()["pending_id"]
        assert ask(person, pending_id, question).status_code == 200

        def decide():
            later, view = signed_in(lab), f"{PS}/consent/{pending_id}"
            try:
                wait_until(
                    lambda: (
                        later.get(view).json()["status"] != "interacting"
                        or not later.get(view).json()["clarification"]["awaiting_answer"]
                    )
                )
                seen.append(later.get(view).json())
                later.post(f"{view}/decision", json={"approved": approved})
            finally:
                later.close()

        thread = threading.Thread(target=decide, daemon=True)
        thread.start()
        THREADS.append(thread)
        person.close()

    return on_interaction


def pending_posts(lab) -> list[dict]:
    """The agent's POSTs and DELETEs at pending URLs, as the trace has them."""
    return [
        {"method": e.request.method, **(json.loads(e.request.body) if e.request.body else {})}
        for e in lab.trace.exchanges
        if "/pending/" in e.request.target_uri and e.request.method in ("POST", "DELETE")
    ]


def test_clarification_the_kits_agent_answers(lab):
    """The kit's agent meets ``requirement=clarification`` while polling, asks its ``clarify``
    callback and POSTs the answer (-11 "Clarification Response"), then polls on to the token;
    with the callback it declares the ``clarification`` capability (-11 "Agent Token Request")."""
    seen = []
    agent = lab.new_agent("asked", on_interaction=asks_then_decides(lab, seen=seen), clarify=lambda c: ANSWER)
    assert agent.capabilities == ["interaction", "clarification"]
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert agent.last_clarification.question == QUESTION
    assert agent.last_clarification.timeout is not None and agent.last_clarification.timeout <= ANSWER_TIMEOUT
    assert pending_posts(lab) == [
        {"method": "POST", "action": "clarification_response", "clarification_response": ANSWER}
    ]
    assert seen[0]["clarification"]["chat"][0]["answer"] == ANSWER


def test_clarification_the_kits_agent_updates_its_request(lab):
    """``clarify`` may return an :class:`UpdatedRequest`: a new resource token from the same
    resource with a reduced scope (here the one ``POST /check`` challenges with), POSTed with
    its justification (-11 "Updated Request"); the person approves the reduced request."""

    def reduce(clarification):
        person_token = agent.person_token_for(SCA)
        message = HttpMessage("POST", f"{SCA}/check", [("Content-Type", "application/json")], b"{}")
        sign_request(message, agent.key, jwt_key(person_token), created=int(lab.clock()))
        challenge = lab.send(message).response.header("aauth-requirement")
        return UpdatedRequest(parse_requirement(challenge).resource_token, "Checking is enough.")

    seen = []
    agent = lab.new_agent("reduced", on_interaction=asks_then_decides(lab, seen=seen), clarify=reduce)
    with lab.client(agent) as client:
        client.post(f"{SCA}/optimize", json={})
    assert [(p["method"], p["action"]) for p in pending_posts(lab)] == [("POST", "updated_request")]
    assert pending_posts(lab)[0]["presented_token"] == agent.person_token_for(SCA)  # REQUIRED in -11
    assert (seen[0]["scope"], seen[0]["justification"]) == ("supply-chain:check", "Checking is enough.")
    assert decoded(agent.auth_token_for(SCA))["scope"] == "supply-chain:check"


def test_clarification_the_kits_agent_cancels(lab):
    """``clarify`` returning ``None`` withdraws the request: ``DELETE`` on the pending URL (-11
    "Cancel Request") and the flow ends ``cancelled``; the pending URL is gone after."""
    agent = lab.new_agent("withdrawn", on_interaction=asks_then_decides(lab), clarify=lambda c: None)
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert (info.value.code, info.value.status) == ("cancelled", 204)
    assert pending_posts(lab) == [{"method": "DELETE"}]
    assert [p.status for p in lab.ps.store.list_pending()] == ["cancelled"]


def test_clarification_mission_completion_follow_up_question(lab):
    """-11 "Mission Completion": the person "responds with follow-up questions via clarification
    chat Section 8.3, leaving the mission active"; the agent answers, the person accepts, and
    only then does the mission end."""
    agent = lab.new_agent(
        "missioned", on_interaction=asks_then_decides(lab), clarify=lambda c: "All 40 laptops."
    )
    person = signed_in(lab)

    def approve(interaction):
        context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
        person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})

    agent.on_interaction = approve
    with lab.client(agent) as client:
        mission = agent.start_mission(client, "# Restock laptops")
    states = []
    agent.clarify = lambda c: (
        states.append(lab.ps.store.get_mission(mission.s256).status) or "All 40 laptops."
    )
    agent.on_interaction = asks_then_decides(lab, "How many did you order?")
    with lab.client(agent) as client:
        done = agent.complete_mission(client, "Restocked.")
    assert done == {"mission_status": "terminated", "termination_reason": "completed"}
    assert states == ["active"]
    person.close()


def test_clarification_an_agent_without_a_callback_cancels(lab):
    """An agent given no ``clarify`` cannot answer; -11 "Agent Response to Clarification" leaves
    it one response, the cancel: its completion proposal is withdrawn and the mission stays."""
    person = signed_in(lab)

    def approve(interaction):
        context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
        person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})

    agent = lab.new_agent("mute", on_interaction=approve)
    assert agent.capabilities == ["interaction"]
    with lab.client(agent) as client:
        mission = agent.start_mission(client, "# Restock laptops")
    agent.on_interaction = asks_then_decides(lab)
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        agent.complete_mission(client, "Restocked.")
    assert info.value.code == "cancelled"
    assert agent.mission == mission and lab.ps.store.get_mission(mission.s256).status == "active"
    person.close()
