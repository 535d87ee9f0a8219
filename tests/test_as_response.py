"""-11 "AS Response" over real sockets: the Access Server answers the PS ``202`` with
``requirement=interaction`` (the resource owner approves at the AS's page) or
``requirement=approval`` (the AS decides itself); the PS passes them back to the agent as its
own ``202`` and polls the AS's ``Location`` at each of the agent's polls.

The agent is the kit's Agent; the owner is a browser signing in at the AS (the code alone
never approves: -11 "Interaction Code Format").  Error codes: -11 "Polling Error Codes".
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time

import pytest
from aauth_kit.servers.ps import federation_pending

from aauth_kit.agent_clarification import UpdatedRequest
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.jws import decode_unverified
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key
from tests.test_clarification import THREADS, asks_then_decides

PARTS = "https://catalog.example/parts"
ORDERS = "https://catalog.example/orders"
AS = "https://as.example"
PS = "https://ps.example"
OWNER = ("mcp-user", "user123")


@pytest.fixture
def lab(tmp_path):
    from aauth_kit.lab import Lab

    with Lab(mode="socket", docs=True, data_dir=tmp_path, consent_scopes=["catalog:order"]) as lab:
        yield lab


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def open_page(lab, browser, link: str, owner=OWNER):
    """The owner opens the link, signing in at the AS first when it asks; the page they end on."""
    page = browser.get(link)
    if 'name="password"' in page.text:
        fields = hidden_fields(page.text) | dict(zip(("username", "password"), owner, strict=True))
        signed = browser.post(f"{AS}/sign-in", data=fields, headers={"Origin": AS})
        assert signed.status_code == 303, signed.text
        page = browser.get(link)
    return page


def owner_answers(lab, interaction, decision: str) -> None:
    with lab.client(source="Owner") as browser:
        page = open_page(lab, browser, interaction.link())
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"decision": decision}
        done = browser.post(f"{AS}/interaction", data=form, headers={"Origin": AS})
        assert done.status_code == 200, done.text


def answering(lab, decision="approve", local="owner-asked", **options):
    """An agent whose interactions are answered: the PS's by the person, the AS's by the owner."""

    def on_interaction(interaction):
        if interaction.url.startswith(PS):
            lab.ps.decide(interaction.code, approved=True)
        else:
            owner_answers(lab, interaction, decision)

    return lab.new_agent(local, on_interaction=on_interaction, **options)


def between(lab, source, target):
    return [ex for ex in lab.trace.exchanges if ex.source == source and ex.target == target]


def refused(lab, agent, method="GET", url=PARTS, **kwargs) -> FlowError:
    with lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.request(method, url, **kwargs)
    return caught.value


def test_as_response_interaction_is_passed_back_to_the_agent(lab):
    """The AS asks the resource owner; the PS answers the agent 202 with the AS's url and code,
    its own pending URL, Retry-After and no-store; the owner approves; the agent's poll brings
    the AS's auth token, verified by the PS."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    agent = answering(lab)
    with lab.client(agent) as client:
        response = client.get(PARTS)
    assert response.status_code == 200, response.text
    asked = between(lab, "PS", "AS")[0]
    assert asked.response.status == 202
    as_requirement = parse_requirement(asked.response.header("aauth-requirement"))
    assert (as_requirement.requirement, as_requirement.url) == ("interaction", f"{AS}/interaction")
    passed = next(ex for ex in between(lab, "Agent", "PS") if ex.response.status == 202)
    requirement = parse_requirement(passed.response.header("aauth-requirement"))
    assert (requirement.requirement, requirement.url, requirement.code) == (
        "interaction",
        as_requirement.url,
        as_requirement.code,
    )
    assert passed.response.header("location").startswith(f"{PS}/pending/")
    assert passed.response.header("cache-control") == "no-store"
    assert passed.response.header("retry-after") is not None
    assert agent.last_interaction.url == f"{AS}/interaction"
    delivered = [ex for ex in between(lab, "PS", "AS") if ex.response.status == 200]
    assert len(delivered) == 1 and delivered[0].request.method == "GET"
    assert delivered[0].request.target_uri == asked.response.header("location")
    assert delivered[0].request.header("signature-key").startswith("sig=jwks_uri")


def test_as_response_owner_denies_after_interaction(lab):
    lab.access_server.policy.owner_approval = {"catalog:read"}
    error = refused(lab, answering(lab, "deny"))
    assert (error.code, error.status) == ("denied", 403)


def test_as_response_interaction_after_the_persons_consent(lab):
    """The person consents at the PS first (claims released), then the AS asks the owner."""
    lab.access_server.policy.owner_approval = {"catalog:order"}
    seen = []
    agent = answering(lab, local="ordering")
    told = agent.on_interaction
    agent.on_interaction = lambda i: (seen.append(i.url), told(i))
    with lab.client(agent) as client:
        response = client.post(ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    assert response.status_code == 201, response.text
    assert seen == [f"{PS}/interaction", f"{AS}/interaction"]
    claims = [
        ex
        for ex in between(lab, "PS", "AS")
        if ex.request.method == "POST" and "pending" in ex.request.target_uri
    ]
    assert json.loads(claims[0].request.body) == {"name": "mcp-user"}


def test_as_response_approval_decided_at_the_access_server(lab):
    """requirement=approval: the agent only polls; the AS's own review decides."""
    lab.access_server.policy.approval = {"catalog:read"}
    decided = threading.Event()

    def review():
        for _ in range(600):
            waiting = lab.access_server.awaiting_approval()
            if waiting:
                lab.access_server.decide(waiting[0], True)
                decided.set()
                return
            time.sleep(0.05)

    reviewer = threading.Thread(target=review)
    reviewer.start()
    agent = lab.new_agent("patient")
    with lab.client(agent) as client:
        response = client.get(PARTS)
    reviewer.join()
    assert decided.is_set() and response.status_code == 200, response.text
    passed = next(ex for ex in between(lab, "Agent", "PS") if ex.response.status == 202)
    assert parse_requirement(passed.response.header("aauth-requirement")).requirement == "approval"
    assert agent.last_interaction is None


def test_as_response_approval_refused(lab):
    lab.access_server.policy.approval = {"catalog:read"}
    threading.Timer(
        0.5, lambda: lab.access_server.decide(lab.access_server.awaiting_approval()[0], False)
    ).start()
    error = refused(lab, lab.new_agent("refused"))
    assert (error.code, error.status) == ("denied", 403)


def test_as_response_pending_at_the_as_expires(lab):
    """The AS's pending request expires before anybody decides: the AS's 408 expired reaches the agent."""
    lab.access_server.policy.owner_approval = {"catalog:read"}

    def too_late(interaction):
        for pending in lab.access_server.pending.values():
            pending.expires_at = 0

    error = refused(lab, lab.new_agent("late", on_interaction=too_late))
    assert (error.code, error.status) == ("expired", 408)


def test_as_response_interaction_needs_an_agent_that_can_show_it(lab):
    lab.access_server.policy.owner_approval = {"catalog:read"}
    error = refused(lab, lab.new_agent("mute", capabilities=()))
    assert (error.code, error.status) == ("user_unreachable", 403)


def hand_poll(lab, url: str, local: str):
    """``GET`` the pending URL signed by hand as the agent ``local``."""
    key = lab.key(f"agent/{local}")
    token = lab.ps.issue_agent_token(local, key)
    message = HttpMessage("GET", url, [])
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return lab.send(message).response


def test_as_response_pending_url_answers_only_its_agent_and_survives_a_restart(lab):
    """Another agent polling the pending URL gets 404; the request outlives a PS restart and
    the owner's approval reaches the agent through the new PS."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    results = {}

    def on_interaction(interaction):
        other = hand_poll(lab, interaction.pending_url, "intruder")
        results["other"] = (other.status, json.loads(other.body)["error"])
        lab.restart_ps()
        owner_answers(lab, interaction, "approve")

    agent = lab.new_agent("restarted", on_interaction=on_interaction)
    with lab.client(agent) as client:
        response = client.get(PARTS)
    assert results["other"] == (404, "not_found")
    assert response.status_code == 200, response.text
    again = hand_poll(lab, agent.last_interaction.pending_url, "restarted")
    assert again.status == 410


def test_as_response_interaction_code_alone_does_not_approve(lab):
    """Without the owner's session the page asks to sign in and a decision is 403; the code is
    single use (a second visit is 410 invalid_code)."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    checks = {}

    def on_interaction(interaction):
        with lab.client(source="Stranger") as stranger:
            page = stranger.get(interaction.link())
            checks["page"] = 'name="password"' in page.text
            (pending,) = lab.access_server.pending.values()
            forged = stranger.post(
                f"{AS}/interaction",
                data={"request": pending.id, "decision": "approve", "csrf": "x"},
                headers={"Origin": AS},
            )
            checks["forged"] = forged.status_code
        with lab.client(source="Owner") as browser:
            assert open_page(lab, browser, interaction.link()).status_code == 200
            checks["again"] = open_page(lab, browser, interaction.link()).status_code
            pending.expires_at = 0  # nobody decides: the agent gets the AS's 408

    error = refused(lab, lab.new_agent("stolen-code", on_interaction=on_interaction))
    assert checks == {"page": True, "forged": 403, "again": 410}
    assert (error.code, error.status) == ("expired", 408)


# -- requirement=clarification ------------------------------------------------------------------------
QUESTION = "Which project needs the parts?"


def test_as_response_clarification_passed_down_and_answered(lab):
    """The AS asks a question; the PS passes it down to an agent that can answer; the agent's
    clarification_response goes on to the AS's Location, and the AS grants."""
    lab.access_server.policy.clarification = {"catalog:read": QUESTION}
    agent = lab.new_agent("talkative", clarify=lambda c: "The laptop refresh for the sales team.")
    with lab.client(agent) as client:
        response = client.get(PARTS)
    assert response.status_code == 200, response.text
    assert agent.last_clarification.question == QUESTION
    passed = next(ex for ex in between(lab, "Agent", "PS") if ex.response.status == 202)
    assert parse_requirement(passed.response.header("aauth-requirement")).requirement == "clarification"
    assert json.loads(passed.response.body)["clarification"] == QUESTION
    relayed = next(
        ex
        for ex in between(lab, "PS", "AS")
        if ex.request.method == "POST" and "pending" in ex.request.target_uri
    )
    assert json.loads(relayed.request.body) == {
        "action": "clarification_response",
        "clarification_response": "The laptop refresh for the sales team.",
    }
    assert relayed.request.header("signature-key").startswith("sig=jwks_uri")


def test_as_response_clarification_not_passed_to_an_agent_that_cannot_answer(lab):
    """An agent that did not declare the clarification capability is not asked: the PS keeps
    polling the AS, which stays pending, and gives up (502 as_unreachable)."""
    lab.access_server.policy.clarification = {"catalog:read": QUESTION}
    error = refused(lab, lab.new_agent("silent"))
    assert (error.code, error.status) == ("as_unreachable", 502)


def hand_post(lab, url: str, local: str, body: dict):
    key = lab.key(f"agent/{local}")
    token = lab.ps.issue_agent_token(local, key)
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], json.dumps(body).encode())
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return lab.send(message).response


def test_as_response_clarification_answer_without_action_is_refused(lab):
    """-11 "Agent Response to Clarification": a POST without a known action is 400; an
    updated_request is not taken for a four-party question here (400)."""
    lab.access_server.policy.clarification = {"catalog:read": QUESTION}
    seen = {}

    def clarify(clarification):
        url = clarification.pending_url
        for name, body in {
            "none": {"clarification_response": "x"},
            "unknown": {"action": "shrug"},
            "updated": {"action": "updated_request", "resource_token": "x", "presented_token": "y"},
        }.items():
            response = hand_post(lab, url, "asked", body)
            seen[name] = (response.status, json.loads(response.body)["error"])
        return "Fine."

    agent = lab.new_agent("asked", clarify=clarify)
    with lab.client(agent) as client:
        assert client.get(PARTS).status_code == 200
    assert seen == {name: (400, "invalid_request") for name in ("none", "unknown", "updated")}


def test_as_response_clarification_answer_waits_for_the_poll_asking_as_a_held_poll(lab):
    """An answer that comes while a poll asks the AS waits for it (woken when it is done, no
    spinning) in one of the agent's ``held_polls_per_agent`` places: with them all taken it is
    ``429 rate_limited`` + ``Retry-After`` at once; with a place it goes on once the ask ends."""
    lab.access_server.policy.clarification = {"catalog:read": QUESTION}
    ctx, seen = lab.ps.context, {}

    def clarify(clarification):
        pending_id = clarification.pending_url.rsplit("/", 1)[1]
        pending = ctx.store.get_pending(pending_id)
        agent = (pending.agent_iss, pending.agent_id)
        body = {"action": "clarification_response", "clarification_response": "Sales laptops."}
        ctx.asking_access_server.add(pending_id)  # a poll is asking the AS now
        with contextlib.ExitStack() as places:
            for _ in range(ctx.config.caps.held_polls_per_agent):
                assert places.enter_context(ctx.waiters.hold(agent, ctx.config.caps.held_polls_per_agent))
            started = time.monotonic()
            response = hand_post(lab, clarification.pending_url, "asked", body)
            seen["full"] = (
                response.status,
                json.loads(response.body)["error"],
                response.header("retry-after"),
            )
            seen["at_once"] = time.monotonic() - started < 2
        threading.Timer(0.3, federation_pending._asked, (ctx, pending_id)).start()
        return "Sales laptops."  # the agent's answer waits for the ask to end, then goes on

    agent = lab.new_agent("asked", clarify=clarify)
    with lab.client(agent) as client:
        assert client.get(PARTS).status_code == 200
    assert seen == {"full": (429, "rate_limited", "1"), "at_once": True}


# -- the person's question about a four-party request: an updated request goes to the AS ---------------
def test_as_response_updated_request_goes_to_the_access_server(lab):
    """The person asks at the PS about a four-party request; the agent answers with a new
    resource token (reduced scope, from the catalog); once the person approves, the PS sends the
    AS the new resource token, and the auth token has the reduced scope (-11 "Updated Request")."""

    def reduce(clarification):
        person_token = agent.person_token_for("https://catalog.example")
        message = HttpMessage("GET", PARTS, [])
        sign_request(message, agent.key, jwt_key(person_token), created=int(lab.clock()))
        challenge = lab.send(message).response.header("aauth-requirement")
        return UpdatedRequest(parse_requirement(challenge).resource_token, "Reading the catalog is enough.")

    agent = lab.new_agent("reduced", on_interaction=asks_then_decides(lab), clarify=reduce)
    with lab.client(agent) as client:
        client.post(ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    (asked,) = [ex for ex in between(lab, "PS", "AS") if ex.request.target_uri == f"{AS}/token"]
    sent = json.loads(asked.request.body)
    assert decode_unverified(sent["resource_token"]).payload["scope"] == "catalog:read"
    assert decode_unverified(json.loads(asked.response.body)["auth_token"]).payload["scope"] == "catalog:read"


def test_as_response_the_agent_cancels_a_request_waiting_at_the_as(lab):
    """-11 "Cancel Request": DELETE on the pending URL ends the wait (204); the flow's next poll,
    and any later one, is 410."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    seen = {}

    def cancel(interaction):
        key = lab.key("agent/cancelling")
        message = HttpMessage("DELETE", interaction.pending_url, [])
        sign_request(
            message, key, jwt_key(lab.ps.issue_agent_token("cancelling", key)), created=int(lab.clock())
        )
        seen["delete"] = lab.send(message).response.status

    error = refused(lab, lab.new_agent("cancelling", on_interaction=cancel))
    assert seen == {"delete": 204}
    assert (error.code, error.status) == ("invalid_code", 410)


def test_as_response_agent_token_revoked_while_waiting_at_the_as(lab):
    """-11 "Token Revocation": the agent's token revoked while the AS waits: the poll is 403
    revoked, and the AS's token never reaches the agent."""
    lab.access_server.policy.owner_approval = {"catalog:read"}

    def revoked_then_approved(interaction):
        (pending,) = [p for p in lab.ps.store.list_pending() if p.status == "at_access_server"]
        lab.ps.store.revoke_pending(pending.agent_id, agent_iss=pending.agent_iss)
        owner_answers(lab, interaction, "approve")

    error = refused(lab, lab.new_agent("revoked", on_interaction=revoked_then_approved))
    assert (error.code, error.status) == ("revoked", 403)
    assert [ex for ex in between(lab, "PS", "AS") if ex.response.status == 200] == []


def test_as_response_requests_waiting_at_the_as_count_towards_the_agents_cap(tmp_path):
    """A request waiting at the AS counts with the agent's pending requests: past
    ``pending_per_agent`` the PS keeps no more of them and answers 429 rate_limited (the AS's
    own request expires there, capped by the AS)."""
    from aauth_kit.servers.ps.context import Caps

    from aauth_kit.lab import Lab

    with Lab(mode="socket", docs=True, data_dir=tmp_path, caps=Caps(pending_per_agent=1)) as lab:
        lab.access_server.policy.owner_approval = {"catalog:read"}
        seen = {}

        def again(interaction):
            if seen:
                return
            seen["second"] = refused(lab, agent)
            owner_answers(lab, interaction, "approve")

        agent = lab.new_agent("greedy", on_interaction=again)
        with lab.client(agent) as client:
            assert client.get(PARTS).status_code == 200
        assert (seen["second"].code, seen["second"].status) == ("rate_limited", 429)


def test_as_response_updated_request_for_another_audience_is_refused(lab):
    """The new resource token must be for the same Access Server: one addressed to the PS
    itself (a three-party token of the same resource) is 400 invalid_resource_token."""

    def three_party(clarification):
        person_token = agent.person_token_for("https://catalog.example")
        lab.catalog.resource.access_server = None
        try:
            message = HttpMessage("GET", PARTS, [])
            sign_request(message, agent.key, jwt_key(person_token), created=int(lab.clock()))
            challenge = lab.send(message).response.header("aauth-requirement")
        finally:
            lab.catalog.resource.access_server = AS
        new = parse_requirement(challenge).resource_token
        assert decode_unverified(new).payload["aud"] == PS
        return UpdatedRequest(new, "Reading is enough.")

    agent = lab.new_agent("misaddressed", on_interaction=asks_then_decides(lab), clarify=three_party)
    error = refused(lab, agent, "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    assert (error.code, error.status) == ("invalid_resource_token", 400)
    (waiting,) = [p for p in lab.ps.store.list_pending() if p.status == "interacting"]
    lab.ps.decide(waiting.id, False)  # the person gives up: their page stops waiting for the answer
    while THREADS:
        THREADS.pop().join(30)
