"""Four-party access over real sockets: the agent, the parts catalog, the PS and the catalog's
Access Server (-11 "Federated Authorization Access (Four-Party)", "Access Server Federation").

Each test is named after the section it checks; the error codes are those of -11 "Token
Endpoint Error Codes" and "Polling Error Codes", plus the kit's ``as_unreachable`` (502) and
``payment_required`` (402) where the PS relays what it cannot resolve.
"""

from __future__ import annotations

import json

import pytest
from aauth_kit.servers import access_server_issuing
from starlette.responses import Response

from aauth_kit import tokens
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement, serialize_requirement
from aauth_kit.jws import decode_unverified
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK, validate_metadata
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwks_uri_key, jwt_key, parse_signature_key

from .test_four_party_revocation import anew

PARTS = "https://catalog.example/parts"
ORDERS = "https://catalog.example/orders"
AS = "https://as.example"
PS = "https://ps.example"


@pytest.fixture
def lab(tmp_path):
    from aauth_kit.lab import Lab

    with Lab(mode="socket", docs=True, data_dir=tmp_path, consent_scopes=["catalog:order"]) as lab:
        yield lab


def approving(lab, local="four-party"):
    return lab.new_agent(local, on_interaction=lambda i: lab.ps.decide(i.code, approved=True))


def to_as(lab):
    """The exchanges the PS had with the Access Server."""
    return [ex for ex in lab.trace.exchanges if ex.source == "PS" and ex.target == "AS"]


def refused(lab, agent, method="GET", url=PARTS, **kwargs) -> FlowError:
    with lab.client(agent) as client, pytest.raises(FlowError) as caught:
        client.request(method, url, **kwargs)
    return caught.value


def test_federated_authorization_access_four_party(lab):
    """Figure 6: the resource token's aud is the AS, the PS signs its own request to the AS,
    the agent presents the AS's auth token and the resource takes it."""
    agent = approving(lab)
    with lab.client(agent) as client:
        response = client.get(PARTS)
    assert response.status_code == 200
    assert response.json()["parts"]
    challenge = next(
        ex
        for ex in lab.trace.exchanges
        if (ex.response.header("aauth-requirement") or "").startswith("requirement=auth-token")
    )
    resource_token = decode_unverified(
        parse_requirement(challenge.response.header("aauth-requirement")).params["resource-token"]
    )
    assert resource_token.payload["aud"] == AS and resource_token.payload["ps"] == PS
    (federation,) = to_as(lab)
    assert federation.request.method == "POST" and federation.request.target_uri == f"{AS}/token"
    # -11 "PS-to-AS Token Request" (published -11): the presented token travels too
    sent = json.loads(federation.request.body)
    assert sorted(sent) == ["agent_token", "presented_token", "resource_token"]
    presented = decode_unverified(sent["presented_token"]).payload
    assert presented["jti"] == resource_token.payload["presented_jti"]
    key = parse_signature_key(federation.request.header("signature-key"), "sig")
    assert (key.scheme, key.params["id"], key.params["dwk"]) == ("jwks_uri", PS, "aauth-person.json")
    auth = decode_unverified(json.loads(federation.response.body)["auth_token"]).payload
    assert (auth["iss"], auth["dwk"], auth["aud"], auth["ps"]) == (
        AS,
        ACCESS_DWK,
        "https://catalog.example",
        PS,
    )
    assert auth["sub"] == resource_token.payload["sub"] and auth["scope"] == "catalog:read"
    assert auth["exp"] - auth["iat"] <= 3600 and auth["exp"] <= presented["exp"]


def test_access_server_metadata(lab):
    with lab.client() as client:
        document = client.get(f"{AS}/.well-known/aauth-access.json").json()
    validate_metadata(document, AS, ACCESS_DWK, complete=True)
    assert document["auth_token_endpoint"] == f"{AS}/token"
    assert document["jwks_uri"] == f"{AS}/.well-known/jwks.json"


def test_claims_required_the_ps_supplies_them_after_consent(lab):
    agent = approving(lab)
    with lab.client(agent) as client:
        response = client.post(ORDERS, json={"part": "keyboard-uk", "quantity": 2})
    assert response.status_code == 201, response.text
    asked, given = to_as(lab)
    assert asked.response.status == 202
    assert parse_requirement(asked.response.header("aauth-requirement")).requirement == "claims"
    assert json.loads(asked.response.body)["required_claims"] == ["name"]
    assert given.request.method == "POST" and given.request.target_uri == asked.response.header("location")
    assert given.request.header("signature-key").startswith("sig=jwks_uri")
    # the person's identity is the resource token's sub: the PS leaves sub out of its claims
    assert json.loads(given.request.body) == {"name": "mcp-user"}
    assert given.response.status == 200


def test_claims_required_without_consent_nothing_is_released(lab):
    """The person was not asked, so the PS releases no claim; the AS's policy refuses, and the
    agent gets the AS's 403 denied."""
    lab.policy.scopes = []
    error = refused(lab, lab.new_agent("quiet"), "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    assert (error.code, error.status) == ("denied", 403)
    assert json.loads(to_as(lab)[1].request.body) == {}


def test_as_response_payment_required(lab):
    """-11 "AS Response": 402 with Location and the payment details; the PS makes no payment
    and relays the 402 with the AS's WWW-Authenticate; once billed, the PS is served."""
    lab.access_server.policy.billing = True
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("payment_required", 402)
    (federation,) = to_as(lab)
    assert federation.response.status == 402
    assert federation.response.header("location").startswith(f"{AS}/token/pending/")
    challenge = federation.response.header("www-authenticate")
    assert challenge.startswith("Payment ") and error.response.headers["www-authenticate"] == challenge
    lab.access_server.settle(PS)
    with lab.client(approving(lab, "paid")) as client:
        assert client.get(PARTS).status_code == 200


def test_ps_as_trust_establishment_untrusted_ps_is_denied(lab):
    """An AS that does not trust the PS refuses its signature (401 unknown_key) without
    fetching anything; the agent gets 403 denied."""
    lab.access_server.policy.trusted = set()
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("denied", 403)
    (federation,) = to_as(lab)
    assert federation.response.status == 401
    assert "unknown_key" in federation.response.header("signature-error")


def test_as_decision_logic_scope_not_granted_relayed(lab):
    lab.access_server.policy.grants = {"catalog:order"}
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("denied", 403)


def test_as_unreachable(lab):
    """The AS cannot be reached (egress admits no such origin): 502 as_unreachable."""
    lab.catalog.resource.access_server = "https://gone.example"
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("as_unreachable", 502)
    assert to_as(lab) == []


def test_auth_token_delivery_the_ps_verifies_before_delivering(lab, monkeypatch):
    """-11 "Auth Token Delivery": an auth token for another person (sub) never reaches the
    agent: 502 as_unreachable."""
    issue = access_server_issuing.issue

    def wrong_sub(server, pending):
        token = issue(server, pending)
        claims = decode_unverified(token["auth_token"]).payload
        claims["sub"] = "someone-else"
        minted = tokens.mint("aa-auth+jwt", lab.access_server.key, claims, kid="access_server")
        return {**token, "auth_token": minted}

    monkeypatch.setattr(access_server_issuing, "issue", wrong_sub)
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("as_unreachable", 502)
    assert "sub" in error.detail


@pytest.mark.parametrize("location", ["mailto:x@as.example", "https://[::1", "https://evil.example/p"])
def test_as_response_a_location_off_the_as_origin_is_as_unreachable(lab, monkeypatch, location):
    """-11 "AS Response": the PS polls the ``Location`` of the AS's ``202`` only on the AS's own
    origin; one that is no http(s) URL at all (a ``mailto:``, a malformed URL) is refused the
    same way: ``502 as_unreachable``, never a ``500``."""
    headers = {"Location": location, "Retry-After": "0", "AAuth-Requirement": "requirement=approval"}
    monkeypatch.setattr(
        lab.access_server, "_decide", lambda pending: Response(status_code=202, headers=headers)
    )
    error = refused(lab, approving(lab))
    assert (error.code, error.status) == ("as_unreachable", 502)


@pytest.mark.parametrize(
    "url", ["https://person-server-login.evil.example/interaction", f"{PS}/interaction", f"{AS}:8443/i"]
)
def test_interaction_required_an_as_interaction_url_off_the_as_origin_is_as_unreachable(
    lab, monkeypatch, url
):
    """-11 "Interaction Required": the PS relays the AS's interaction URL to the agent as its
    own ``202``, so only one on the AS's own origin (never the PS's): else ``502 as_unreachable``."""
    requirement = serialize_requirement("interaction", url=url, code="ABCD-EFGH", dev=False)
    headers = {"Location": "/pending/1", "Retry-After": "0", "AAuth-Requirement": requirement}
    monkeypatch.setattr(
        lab.access_server, "_decide", lambda pending: Response(status_code=202, headers=headers)
    )
    seen = []
    agent = lab.new_agent("four-party", on_interaction=seen.append)
    error = refused(lab, agent)
    assert (error.code, error.status) == ("as_unreachable", 502)
    assert seen == []


# -- the AS's token endpoint, called as the PS ------------------------------------------------------
def ps_request(lab, body: dict, url=f"{AS}/token", method="POST"):
    message = HttpMessage(method, url, [("Content-Type", "application/json")], json.dumps(body).encode())
    lab.ps.context.revoker.sign(message)
    return lab.send(message, source="PS").response


def sent_to_as(lab, agent, method="GET", url=PARTS, **kwargs) -> dict:
    """The body the PS sent the AS when ``agent`` called the catalog (-11 "PS-to-AS Token
    Request")."""
    with lab.client(agent) as client:
        client.request(method, url, **kwargs)
    (*_, last) = (ex for ex in to_as(lab) if ex.request.target_uri == f"{AS}/token")
    return json.loads(last.request.body)


def problem(response) -> tuple[int, str]:
    return response.status, json.loads(response.body)["error"]


def test_as_token_endpoint_error_codes(lab):
    agent = approving(lab)
    sent = sent_to_as(lab, agent)
    for name in ("resource_token", "agent_token", "presented_token"):
        without = {k: v for k, v in sent.items() if k != name}
        assert problem(ps_request(lab, without)) == (400, "invalid_request"), name
    assert problem(ps_request(lab, {**sent, "resource_token": "x.y.z"})) == (400, "invalid_resource_token")
    other = lab.new_agent("other").agent_token  # bound to another key than agent_jkt
    assert problem(ps_request(lab, {**sent, "agent_token": other})) == (400, "invalid_agent_token")
    assert problem(ps_request(lab, {**sent, "agent_token": "x.y.z"})) == (400, "invalid_agent_token")
    lab.clock.advance(301)  # resource tokens live 300 s
    assert problem(ps_request(lab, sent)) == (400, "expired_resource_token")


def test_as_token_endpoint_verifies_the_presented_token(lab):
    """-11 "PS-to-AS Token Request" and "Resource Token Verification": the presented token is
    the one the resource token points back to, from the signing PS: another person token of
    the same agent, a token from an issuer the AS does not know, a forged one are each ``400
    invalid_presented_token``; once expired, ``expired_presented_token``."""
    agent = approving(lab)
    sent = sent_to_as(lab, agent)
    second = sent_to_as(lab, approving(lab, "second"))["presented_token"]  # another agent's
    assert problem(ps_request(lab, {**sent, "presented_token": second})) == (400, "invalid_presented_token")
    claims = decode_unverified(sent["presented_token"]).payload
    stranger = tokens.mint(
        "aa-person+jwt", lab.key("stranger"), {**claims, "iss": "https://stranger.example"}
    )
    assert problem(ps_request(lab, {**sent, "presented_token": stranger})) == (400, "invalid_presented_token")
    forged = tokens.mint("aa-person+jwt", lab.key("forger"), claims, kid="ps")
    assert problem(ps_request(lab, {**sent, "presented_token": forged})) == (400, "invalid_presented_token")
    now = int(lab.clock())
    expired = tokens.mint("aa-person+jwt", lab.keys["ps"], {**claims, "iat": now - 60, "exp": now}, kid="ps")
    assert problem(ps_request(lab, {**sent, "presented_token": expired})) == (400, "expired_presented_token")
    assert ps_request(lab, sent).status == 200  # the real one, unchanged


def test_claims_required_a_sub_among_the_claims_changes_nothing(lab):
    """The person's identity at the AS is the resource token's ``sub`` (-11 "PS-to-AS Token
    Request"): a ``sub`` a PS adds to its claims is ignored, never copied into the auth token."""
    agent = approving(lab)
    sent = sent_to_as(lab, agent, "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    resource_token = decode_unverified(sent["resource_token"]).payload
    asked = ps_request(lab, anew(lab, sent))
    assert asked.status == 202
    given = ps_request(lab, {"sub": "not-the-person", "name": "mcp-user"}, url=asked.header("location"))
    assert given.status == 200, given.body
    auth = decode_unverified(json.loads(given.body)["auth_token"]).payload
    assert auth["sub"] == resource_token["sub"] != "not-the-person"


def test_as_token_endpoint_takes_only_a_signed_ps(lab):
    """An agent's own signature (sig=jwt) is not a PS's: 401 before anything else."""
    agent = approving(lab)
    sent = sent_to_as(lab, agent)
    body = json.dumps(sent).encode()
    message = HttpMessage("POST", f"{AS}/token", [("Content-Type", "application/json")], body)
    sign_request(message, lab.key("agent/four-party"), jwt_key(sent["agent_token"]), created=int(lab.clock()))
    response = lab.send(message).response
    assert response.status == 401 and response.header("signature-error")


def test_claims_required_pending_url_errors(lab):
    """The pending URL: only the PS that asked sees it (a stranger's signature ``401
    unknown_key``), it expires (408 expired, then 404), and the AS caps how many wait (429
    rate_limited)."""
    agent = approving(lab)
    sent = sent_to_as(lab, agent, "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 1})
    asked = ps_request(lab, anew(lab, sent))
    assert asked.status == 202
    location = asked.header("location")
    stranger = HttpMessage("GET", location)
    stranger_key = jwks_uri_key("https://stranger.example", "aauth-person.json", "s")
    sign_request(stranger, lab.key("stranger"), stranger_key, created=int(lab.clock()))
    assert lab.send(stranger).response.header("signature-error") == "error=unknown_key"
    lab.access_server.max_pending = 1
    assert problem(ps_request(lab, anew(lab, sent, 2))) == (429, "rate_limited")
    lab.clock.advance(lab.access_server.pending_ttl + 1)
    assert problem(ps_request(lab, {}, url=location, method="GET")) == (408, "expired")
    assert problem(ps_request(lab, {}, url=location, method="GET")) == (404, "not_found")


def test_auth_token_verification_resource_takes_only_its_as(lab):
    """-11 "Auth Token Verification": the catalog takes auth tokens from its AS only; a resource
    without an AS takes none from an AS."""
    agent = approving(lab)
    with lab.client(agent) as client:
        assert client.get(PARTS).status_code == 200
    now = int(lab.clock())
    ps_issued = tokens.mint_auth_token(
        lab.keys["ps"],
        iss=PS,
        aud="https://catalog.example",
        ps=PS,
        sub="s",
        cnf=lab.key("agent/four-party"),
        scope="catalog:read",
        iat=now,
        kid="ps",
    )
    message = HttpMessage("GET", PARTS)
    sign_request(message, lab.key("agent/four-party"), jwt_key(ps_issued), created=int(lab.clock()))
    response = lab.send(message).response
    assert response.status == 401 and "invalid_jwt" in response.header("signature-error")
    as_issued = tokens.mint_auth_token(
        lab.keys["access_server"],
        iss=AS,
        aud="https://supply-chain.example",
        ps=PS,
        sub="s",
        cnf=lab.key("agent/four-party"),
        scope="supply-chain:read",
        iat=now,
        dwk=ACCESS_DWK,
        kid="access_server",
    )
    message = HttpMessage("GET", "https://supply-chain.example/inventory")
    sign_request(message, lab.key("agent/four-party"), jwt_key(as_issued), created=int(lab.clock()))
    response = lab.send(message).response
    assert response.status == 401 and "invalid_jwt" in response.header("signature-error")


def test_mission_status_errors_federated_request_waiting_when_the_mission_ends(lab):
    """-11 "Mission Status Errors": a four-party request within a mission waits for consent; the
    mission is revoked meanwhile; the person's approval sends nothing to the AS and the poll
    answers ``403 mission_terminated``."""
    agent = approving(lab, "missioned")
    with lab.client(agent) as client:
        mission = agent.start_mission(client, "# Order keyboards")

    def revoke_then_approve(interaction):
        lab.ps.store.terminate_mission(mission.s256, "revoked")
        lab.ps.decide(interaction.code, approved=True)

    agent.on_interaction = revoke_then_approve
    caught = refused(lab, agent, "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 2})
    assert (caught.code, caught.status) == ("mission_terminated", 403)
    assert to_as(lab) == []
