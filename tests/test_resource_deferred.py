"""Deferred delivery at a real resource, with the kit's agent and PS over loopback sockets
(-11 "Deferred Delivery", "Auth Token Required", "Polling with GET"): the parts supplier holds
``POST /orders`` behind a ``202`` + ``requirement=auth-token``, places the order on the first
poll that presents an auth token, and answers a repeated presentation of that token from the
kept result, by its ``jti``.
"""

from __future__ import annotations

import json
import time

import pytest

from aauth_kit import jws
from aauth_kit.headers import parse_requirement
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

from .test_resource_managed import AGENT_KEY, OTHER_KEY, SUP, Cast, send, signed_get, summaries

ORDER = {"part": "ssd-1tb", "units": 3}


@pytest.fixture
def cast(tmp_path):
    cast = Cast(tmp_path)
    yield cast
    cast.close()


def approving_agent(cast, **options):
    return cast.agent(on_interaction=lambda interaction: cast.ps.decide(interaction.code, True), **options)


def signed_post(url: str, token: str, body: dict, key=AGENT_KEY) -> HttpMessage:
    message = HttpMessage("POST", url, [("content-type", "application/json")], json.dumps(body).encode())
    sign_request(message, key, jwt_key(token))
    return message


def send_post(cast, message: HttpMessage):
    return cast.browser.request("POST", message.target_uri, headers=message.headers, content=message.body)


def test_deferred_delivery_the_held_order_runs_on_the_poll_with_the_auth_token(cast):
    """202 requirement=auth-token; the agent gets the auth token and polls the Location with it;
    the order is placed once and is the poll's answer; the POST is never sent again."""
    agent = approving_agent(cast)
    with cast.client(agent) as client:
        response = client.post(f"{SUP}/orders", json=ORDER)
    assert response.status_code == 201 and response.json() == {
        "order": 1,
        "part": "ssd-1tb",
        "units": 3,
        "total": 204.0,
    }
    steps = summaries(cast)
    assert steps[0] == "Supplier POST /orders → 401 (requirement=person-token)"
    assert "Supplier POST /orders → 202 (requirement=auth-token)" in steps
    assert steps[-1].startswith("Supplier GET /pending/") and steps[-1].endswith("→ 201")
    assert [s for s in steps if s.startswith("Supplier POST")] == [
        "Supplier POST /orders → 401 (requirement=person-token)",
        "Supplier POST /orders → 202 (requirement=auth-token)",
    ]
    assert len(cast.supplier.orders) == 1
    poll = cast.trace.exchanges[-1].request
    assert jws.decode_unverified(jwt_key_of(poll)).header["typ"] == "aa-auth+jwt"


def jwt_key_of(request) -> str:
    value = request.header("signature-key")
    return value.split('jwt="', 1)[1].rstrip('"')


def _held_order(cast):
    """Place an order through the agent, then return (agent, pending URL, auth token)."""
    agent = approving_agent(cast)
    with cast.client(agent) as client:
        assert client.post(f"{SUP}/orders", json=ORDER).status_code == 201
    poll = cast.trace.exchanges[-1].request
    return agent, poll.target_uri, agent.auth_token_for(SUP)


def test_deferred_delivery_replays_the_result_by_jti(cast):
    """-11 "Deferred Delivery": "MUST answer a repeated presentation of the same auth token at the
    pending URL from that result rather than executing again"."""
    _, url, auth_token = _held_order(cast)
    again = send(cast, signed_get(url, auth_token))
    assert again.status_code == 201 and again.json()["order"] == 1
    assert len(cast.supplier.orders) == 1


def test_deferred_delivery_completion_consumes_the_record(cast):
    """Another token at a completed pending URL gets nothing: 404 not_found."""
    agent, url, _ = _held_order(cast)
    person_token = agent.person_token_for(SUP)
    response = send(cast, signed_get(url, person_token))
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_deferred_delivery_polls_without_an_auth_token_stay_pending(cast):
    """A poll with the person token keeps the 202 and its requirement; once the resource token
    expired the poll carries a fresh one (nothing is re-sent)."""
    agent = approving_agent(cast)
    with cast.client(agent) as client:  # get the person token the challenge ladder asks for
        client.post(f"{SUP}/orders", json=ORDER)
    person_token = agent.person_token_for(SUP)
    held = send_post(cast, signed_post(f"{SUP}/orders", person_token, ORDER))
    assert held.status_code == 202 and held.headers["retry-after"] == "5"
    first = parse_requirement(held.headers["aauth-requirement"]).resource_token
    url = f"{SUP}{held.headers['location']}"
    same = send(cast, signed_get(url, person_token))
    assert same.status_code == 202
    assert parse_requirement(same.headers["aauth-requirement"]).resource_token == first
    resource = cast.supplier.resource
    (row,) = [h for h in resource.held.rows.values() if h.result is None]
    resource.resource_token_lifetime = -1  # the held resource token has expired
    row.resource_token = resource.resource_token(row.caller.token, row.caller.jkt, row.scope)
    resource.resource_token_lifetime = 300
    fresh = send(cast, signed_get(url, person_token))
    assert fresh.status_code == 202
    renewed = parse_requirement(fresh.headers["aauth-requirement"]).resource_token
    assert renewed != first
    assert jws.decode_unverified(renewed).payload["exp"] > time.time()


def test_deferred_delivery_delivers_the_invocations_own_error(cast):
    """A held invocation that fails answers the poll with its own error, once."""
    agent = approving_agent(cast)
    with cast.client(agent) as client:
        response = client.post(f"{SUP}/orders", json={"part": "unobtainium", "units": 1})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert cast.supplier.orders == []


def test_deferred_delivery_only_the_requesting_key_may_poll(cast):
    agent = approving_agent(cast)
    with cast.client(agent) as client:
        client.post(f"{SUP}/orders", json=ORDER)
    held = send_post(cast, signed_post(f"{SUP}/orders", agent.person_token_for(SUP), ORDER))
    thief = cast.ps.issue_agent_token("thief", OTHER_KEY)
    stolen = send(cast, signed_get(f"{SUP}{held.headers['location']}", thief, OTHER_KEY))
    assert (stolen.status_code, stolen.json()["error"]) == (404, "not_found")


def test_deferred_delivery_caps_held_orders(tmp_path):
    """A caller cannot make the resource hold unbounded invocations (429 rate_limited)."""
    cast = Cast(tmp_path, max_per_agent=1)
    try:
        agent = approving_agent(cast)
        with cast.client(agent) as client:
            client.post(f"{SUP}/orders", json=ORDER)
        token = agent.person_token_for(SUP)
        first = send_post(cast, signed_post(f"{SUP}/orders", token, ORDER))
        second = send_post(cast, signed_post(f"{SUP}/orders", token, ORDER))
        assert first.status_code == 202
        assert (second.status_code, second.json()["error"]) == (429, "rate_limited")
    finally:
        cast.close()


def test_deferred_delivery_expired_hold(cast):
    agent = approving_agent(cast)
    with cast.client(agent) as client:
        client.post(f"{SUP}/orders", json=ORDER)
    token = agent.person_token_for(SUP)
    held = send_post(cast, signed_post(f"{SUP}/orders", token, ORDER))
    for row in cast.supplier.resource.held.rows.values():
        row.expires_at = 0
    response = send(cast, signed_get(f"{SUP}{held.headers['location']}", token))
    assert (response.status_code, response.json()["error"]) == (408, "expired")


def test_agent_token_request_carries_login_hint_and_tenant(cast):
    """-11 "Agent Token Request": login_hint and tenant (OPTIONAL) ride in the token request."""
    agent = approving_agent(cast, login_hint="buyer@example.com", tenant="acme")
    with cast.client(agent) as client:
        assert client.post(f"{SUP}/orders", json=ORDER).status_code == 201
    (request,) = [e.request for e in cast.trace.exchanges if e.request.target_uri.endswith("/auth-token")]
    body = json.loads(request.body)
    assert (body["login_hint"], body["tenant"]) == ("buyer@example.com", "acme")
