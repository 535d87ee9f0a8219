"""Interaction chaining over real sockets in a Lab (-11 "Interaction Chaining", "Call Chaining",
"Deferred Responses", "Polling Error Codes"): the supply-chain agent calls market analysis for
its caller; the person's PS asks the person first; the SCA answers its caller with its own
``202``, code and pending URL, and the kit's agent follows it as any ``202`` interaction."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from aauth_kit.servers.ps.store.persons import PersonAccount

from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.resource_held import HELD_TTL
from aauth_kit.signature_key import jwt_key

PS = "https://ps.example"
SCA = "https://supply-chain.example"
MAA = "https://market-analysis.example"
PROMPT = {"prompt": "Optimize the laptop supply chain with a market analysis"}


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=["market-analysis:analyze"]) as lab:
        yield lab


def downstream_code(lab, interaction) -> str:
    """What the person's browser does at the SCA's page: it is sent on to the PS's interaction."""
    with lab.hosts.client(timeout=30) as browser:
        page = browser.get(interaction.link(), follow_redirects=False)
    assert page.status_code == 303 and page.headers["cache-control"] == "no-store"
    target = urlsplit(page.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == PS
    return parse_qs(target.query)["code"][0]


def person(lab, decision: bool, seen: list):
    def on_interaction(interaction):
        seen.append(interaction)
        lab.ps.decide(downstream_code(lab, interaction), decision)

    return on_interaction


def summaries(lab) -> list[str]:
    return [f"{e.source} → {e.target} {e.summary()}" for e in lab.trace.exchanges]


def test_interaction_chaining_the_agent_polls_the_scas_pending_url_for_the_result(lab):
    """agent → SCA → PS 202 interaction → SCA 202 (its own url, code, Location) → the person approves
    downstream → the SCA gets its auth token, calls market analysis → the agent's poll gets the result."""
    seen = []
    agent = lab.new_agent("buyer", on_interaction=person(lab, True, seen))
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["market_analysis"]["on_behalf_of"]["iss"] == PS
    (interaction,) = seen
    assert interaction.url == f"{SCA}/interaction/downstream"
    assert interaction.pending_url.startswith(f"{SCA}/pending/")
    steps = summaries(lab)
    assert any(
        s.startswith("Agent → Supply chain POST /optimize → 202 (requirement=interaction)") for s in steps
    )
    assert any(
        s.startswith("Supply chain → PS POST /auth-token → 202 (requirement=interaction)") for s in steps
    ), steps
    assert steps[-1].startswith("Agent → Supply chain GET /pending/") and steps[-1].endswith("→ 200")
    # the downstream auth token is the SCA's: bound to its agent key, not to the caller's
    (authorization,) = body["authorizations"]
    cnf = authorization["claims"]["cnf"]["jwk"]
    assert cnf["x"] == lab.keys["supply_chain_agent"].public_jwk()["x"] != agent.key.public_jwk()["x"]
    assert authorization["claims"]["aud"] == MAA
    # the code is the SCA's own, and single-use
    assert interaction.code != parse_requirement_code(lab)
    with lab.hosts.client(timeout=30) as browser:
        again = browser.get(interaction.link(), follow_redirects=False)
    assert (again.status_code, again.json()["error"]) == (410, "invalid_code")


def parse_requirement_code(lab) -> str:
    """The code the PS gave the SCA (the downstream interaction's)."""
    for exchange in lab.trace.exchanges:
        value = exchange.response and exchange.response.header("aauth-requirement")
        if exchange.source == "Supply chain" and value and "interaction" in value:
            return parse_requirement(value).code
    raise AssertionError("the PS never asked the SCA for an interaction")


def test_interaction_chaining_denial_downstream_is_relayed(lab):
    """The person denies at the PS: the SCA's pending URL answers 403 denied, the draft's code."""
    agent = lab.new_agent("buyer", on_interaction=person(lab, False, []))
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert (response.status_code, response.json()["error"]) == (403, "denied")
    assert response.headers["content-type"] == "application/problem+json"


def stranger_poll(lab, url: str, token: str, key) -> tuple[int, str]:
    message = HttpMessage("GET", url, [])
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    response = lab.send(message).response
    return response.status, json.loads(response.body).get("error", "pending")


def test_interaction_chaining_only_the_original_agent_polls(lab):
    """Another agent (its own key and token) at the SCA's pending URL gets 404 not_found, as does
    the original key presenting a token of another (iss, sub); the original agent goes on."""
    refused = []

    def on_interaction(interaction):
        stranger = lab.new_agent("stranger")
        refused.append(stranger_poll(lab, interaction.pending_url, stranger.agent_token, stranger.key))
        refused.append(stranger_poll(lab, interaction.pending_url, agent.agent_token, agent.key))
        lab.ps.decide(downstream_code(lab, interaction), True)

    agent = lab.new_agent("buyer", on_interaction=on_interaction)
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert refused == [(404, "not_found"), (404, "not_found")]
    assert response.status_code == 200


def test_interaction_chaining_expires(lab):
    """Nobody answers: once the held row's time is up, the SCA's pending URL answers 408 expired
    and the downstream poll is given up."""

    def on_interaction(interaction):
        lab.clock.advance(HELD_TTL + 1)

    agent = lab.new_agent("buyer", on_interaction=on_interaction)
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert (response.status_code, response.json()["error"]) == (408, "expired")
    (row,) = lab.supply_chain.resource.held.rows.values()
    assert row.poller.task.done()


def test_interaction_chaining_caps_the_chained_requests(lab):
    """A caller at its cap of held requests gets 429 rate_limited, and nothing keeps running."""
    lab.supply_chain.resource.held.max_per_agent = 0
    agent = lab.new_agent("buyer")
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert (response.status_code, response.json()["error"]) == (429, "rate_limited")
    assert "retry-after" in response.headers
    assert lab.supply_chain.resource.held.rows == {}


def test_interaction_chaining_one_issuer_cannot_fill_the_chained_calls(lab):
    """The callers one issuer vouches for run at most their share of chained calls: the next is 429
    rate_limited + Retry-After while the first still waits for the person, and nothing of it keeps
    running; the first completes."""
    chaining = lab.supply_chain.chaining
    chaining.max_per_issuer = 1
    refused = []

    def on_interaction(interaction):
        second = lab.new_agent("second-buyer", on_interaction=person(lab, True, []))
        with lab.client(second) as client:
            refused.append(client.post(f"{SCA}/optimize", json=PROMPT))
        assert len(chaining.chained()) == 1 < chaining.max_chained
        lab.ps.decide(downstream_code(lab, interaction), True)

    agent = lab.new_agent("buyer", on_interaction=on_interaction)
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert response.status_code == 200
    (second,) = refused
    assert (second.status_code, second.json()["error"]) == (429, "rate_limited")
    assert int(second.headers["retry-after"]) > 0


def test_interaction_chaining_one_agent_cannot_use_up_its_issuers_share(tmp_path):
    """Inside its issuer's share (its PS's: the SCA takes person tokens) the callers acting for one
    person run at most their own (here 1): the same agent's second chained call is 429
    rate_limited + Retry-After while its first waits for the person, and an agent of another
    person of the same PS still chains; both complete."""
    alice = PersonAccount("alice", "alice-pw")
    with Lab(
        mode="socket", data_dir=tmp_path, consent_scopes=["market-analysis:analyze"], persons=[alice]
    ) as lab:
        _one_agent_share(lab)


def _one_agent_share(lab) -> None:
    chaining = lab.supply_chain.chaining
    chaining.max_per_agent = 1
    again, other = [], []

    def alice_approves(interaction):
        lab.ps.decide(downstream_code(lab, interaction), True, by="alice")

    def on_interaction(interaction):
        if not again:
            with lab.client(agent) as client:
                again.append(client.post(f"{SCA}/optimize", json=PROMPT))
            second = lab.new_agent("alices-buyer", person="alice", on_interaction=alice_approves)
            with lab.client(second) as client:
                other.append(client.post(f"{SCA}/optimize", json=PROMPT))
        lab.ps.decide(downstream_code(lab, interaction), True)

    agent = lab.new_agent("buyer", on_interaction=on_interaction)
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    assert response.status_code == 200
    (refused,) = again
    assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
    assert int(refused.headers["retry-after"]) > 0
    assert [r.status_code for r in other] == [200]


def test_interaction_chaining_wrong_codes_are_throttled_per_address(lab):
    """The SCA's page takes no session, so anyone may present codes there: -11 "Interaction Code
    Format" asks for rate limiting, so past a few wrong codes from one client address it answers 429
    rate_limited + Retry-After."""
    lab.supply_chain.chaining.wrong_codes.limit = 3
    with lab.hosts.client(timeout=30) as browser:
        tries = [browser.get(f"{SCA}/interaction/downstream?code=ZZZZ-ZZZ{n}") for n in range(4)]
    assert [(t.status_code, t.json()["error"]) for t in tries] == [(410, "invalid_code")] * 3 + [
        (429, "rate_limited")
    ]
    assert int(tries[3].headers["retry-after"]) > 0


def test_interaction_chaining_not_needed_answers_at_once(tmp_path):
    """No consent needed downstream: the SCA answers 200 in one go, as before."""
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        with lab.client(lab.new_agent("buyer")) as client:
            response = client.post(f"{SCA}/optimize", json=PROMPT)
        assert response.status_code == 200 and "market_analysis" in response.json()
        assert not any("→ 202" in s for s in summaries(lab))


def back_through_the_sca(lab, interaction, approve: bool) -> tuple[str, bool]:
    """The person with the agent's callback: the SCA's page → the PS (its consent API, with the
    callback the SCA gave it) → back to the SCA → on to the agent's callback.  Returns where
    the browser ends and whether the SCA's work was done when it sent it there."""
    with lab.hosts.client(timeout=30) as browser:
        page = browser.get(interaction.link(APP_CALLBACK), follow_redirects=False)
        ps_link = urlsplit(page.headers["location"])
        query = parse_qs(ps_link.query)
        (back,) = query["callback"]
        assert back.startswith(f"{SCA}/interaction/downstream/return?state=")
        session = browser.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
        browser.headers["Authorization"] = f"Bearer {session.json()['session']}"
        context = browser.get(f"{PS}/consent", params={"code": query["code"][0]}).json()
        decided = browser.post(
            f"{PS}/consent/{context['pending_id']}/decision", json={"approved": approve, "callback": back}
        ).json()
        del browser.headers["Authorization"]
        returned = browser.get(decided["redirect_url"], follow_redirects=False)
        assert returned.status_code == 303 and returned.headers["referrer-policy"] == "no-referrer"
        (call,) = [c for c in lab.supply_chain.chaining.chained() if c.code == interaction.code]
        again = browser.get(decided["redirect_url"], follow_redirects=False)
        assert (again.status_code, again.json()["error"]) == (400, "invalid_request")  # once
        return returned.headers["location"], call.task.done()


APP_CALLBACK = "https://app.example/callback?session=7"


@pytest.mark.parametrize("approve", [True, False])
def test_interaction_chaining_back_to_the_agents_callback_through_the_sca(lab, approve):
    """-11 "Interaction Chaining" (appendix): "redirect to R1 callback", R1 gets the auth token
    and calls downstream, then "redirect to agent callback" — with ``error=access_denied`` when
    the person denied (-11 "Interaction Callback Errors")."""
    ended = []
    agent = lab.new_agent(
        "buyer", on_interaction=lambda i: ended.append(back_through_the_sca(lab, i, approve))
    )
    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json=PROMPT)
    ((where, done),) = ended
    if approve:
        assert (where, done, response.status_code) == (APP_CALLBACK, True, 200)
    else:
        assert where == f"{APP_CALLBACK}&error=access_denied"
        assert (response.status_code, response.json()["error"]) == (403, "denied")


def test_interaction_chaining_a_callback_must_be_a_url_a_browser_may_go_to(lab):
    """The SCA's page checks the agent's callback like a PS does: ``400 invalid_request``."""
    refused = []

    def on_interaction(interaction):
        with lab.hosts.client(timeout=30) as browser:
            page = browser.get(interaction.link("javascript:alert(1)"), follow_redirects=False)
        refused.append((page.status_code, page.json()["error"]))
        lab.ps.decide(downstream_code(lab, interaction), True)  # the code is still good

    agent = lab.new_agent("buyer", on_interaction=on_interaction)
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json=PROMPT).status_code == 200
    assert refused == [(400, "invalid_request")]
