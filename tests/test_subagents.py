"""Sub-agents (-11 "Sub-Agents", "Sub-Agent Identity", "Single-Level Depth", "Parent-Mediated
Authorization") over real sockets in a Lab: the Agent Provider issuing sub-agent tokens, the
parent obtaining person and auth tokens for its sub-agent with ``subagent_token``, and every
refusal with its code and status; revoking the parent reaches the tokens issued for its sub-agent."""

from __future__ import annotations

import json

import pytest

from aauth_kit import jws, tokens
from aauth_kit.flow import FlowError
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.profile import sign_request
from aauth_kit.revocation import Revoker
from aauth_kit.rotation import sign_key_rotation
from aauth_kit.signature_key import jwt_key
from aauth_kit.subagents import SubAgent, create_subagent, subagent_request

PS = "https://ps.example"
SCA = "https://supply-chain.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        yield lab


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


def spawn(lab, parent, discriminator="search1") -> SubAgent:
    with lab.client() as client:
        return create_subagent(parent, client, discriminator, key=lab.key(f"sub/{discriminator}"))


def signed_send(lab, key, token, url, body):
    """A JSON POST signed with ``key`` presenting ``token``; the answer."""
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], json.dumps(body).encode())
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return lab.send(message).response


def signed_post(lab, key, token, url, body) -> tuple[int, dict]:
    response = signed_send(lab, key, token, url, body)
    return response.status, json.loads(response.body)


def ps_requests(lab, path):
    return [e for e in lab.trace.exchanges if e.request.target_uri == f"{PS}{path}"]


# -- the happy paths --------------------------------------------------------------------------------


def test_subagent_identity_from_the_agent_provider(lab):
    """-11 "Sub-Agent Identity": "its own aauth:local@domain identifier and signing key, issued
    by the agent provider"; ``parent_agent`` names the parent; the local part is the parent's,
    ``+`` and the discriminator; the token never outlives the parent's."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    token = claims(sub.agent_token)
    assert token["sub"] == "aauth:planner+search1@ps.example"
    assert token["parent_agent"] == "aauth:planner@ps.example"
    assert (token["iss"], token["ps"]) == (PS, PS)
    assert token["cnf"]["jwk"]["x"] == sub.key.public_jwk()["x"] != parent.key.public_jwk()["x"]
    assert token["exp"] <= claims(parent.agent_token)["exp"]
    assert jws.decode_unverified(sub.agent_token).header["typ"] == "aa-agent+jwt"


def test_parent_mediated_authorization(lab):
    """-11 "Parent-Mediated Authorization": the sub-agent calls the resource with its own key;
    the parent POSTs to the person and auth token endpoints, signed with its own agent token,
    with ``subagent_token``; the PS issues tokens bound to the sub-agent's key ("cnf = the
    sub-agent's jwk"); the sub-agent never calls the PS.  The relationship is in the PS's
    audit log, not in the tokens the resource sees."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    with lab.client(sub) as client:
        response = client.post(f"{SCA}/check")
    assert response.status_code == 200, response.text
    for path in ("/person-token", "/auth-token"):
        (exchange,) = ps_requests(lab, path)
        assert claims(jwt_key_of(exchange))["sub"] == "aauth:planner@ps.example"  # the parent signs
        assert json.loads(exchange.request.body)["subagent_token"] == sub.agent_token
    for token in (sub.person_token_for(SCA), sub.auth_token_for(SCA)):
        assert token is not None and claims(token)["cnf"]["jwk"]["x"] == sub.key.public_jwk()["x"]
        assert "parent_agent" not in claims(token)
    assert parent.auth_token_for(SCA) is None
    audit = [(e.action, e.subject) for e in lab.ps.store.audit_log()]
    assert ("subagent_token_presented", "aauth:planner+search1@ps.example") in audit


def jwt_key_of(exchange) -> str:
    value = exchange.request.header("signature-key")
    return value.split('jwt="')[1].split('"')[0]


def test_parent_mediated_authorization_consent_surfaces_for_the_parent(tmp_path):
    """ "If the user has already consented, the response is immediate; otherwise consent
    surfaces for the parent as usual": the PS's ``202`` is polled by the parent, whose
    ``on_interaction`` is told; the auth token then binds the sub-agent's key."""
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=["supply-chain:check"]) as lab:
        person = lab.hosts.client()
        session = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
        person.headers["Authorization"] = f"Bearer {session.json()['session']}"
        told = []

        def approve(interaction):
            told.append(interaction)
            context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
            person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})

        parent = lab.new_agent("planner", on_interaction=approve)
        sub = spawn(lab, parent)
        with lab.client(sub) as client:
            assert client.post(f"{SCA}/check").status_code == 200
        assert len(told) == 1 and parent.last_interaction is told[0] and sub.last_interaction is None
        polls = [e for e in lab.trace.exchanges if "/pending/" in e.request.target_uri]
        assert polls and all(claims(jwt_key_of(e))["sub"] == "aauth:planner@ps.example" for e in polls)
        assert claims(sub.auth_token_for(SCA))["cnf"]["jwk"]["x"] == sub.key.public_jwk()["x"]


# -- -11 "Single-Level Depth" -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/person-token", "/auth-token", "/mission"])
def test_single_level_depth_a_subagent_cannot_call_the_ps(lab, path):
    """ "A PS MUST reject a token request signed by an agent whose agent token has a
    parent_agent claim": the refused token is the one in ``Signature-Key``, so the answer is
    ``401`` with ``Signature-Error: error=invalid_key`` (-11 "Authentication Errors");
    published -11 has no ``invalid_agent_token``."""
    sub = spawn(lab, lab.new_agent("planner"))
    response = signed_send(lab, sub.key, sub.agent_token, f"{PS}{path}", {"resource": SCA})
    assert (response.status, json.loads(response.body)["error"]) == (401, "invalid_key")
    assert response.header("signature-error") == "error=invalid_key"


def test_single_level_depth_no_subagent_of_a_subagent(lab):
    """ "An agent provider MUST NOT issue a sub-agent token whose parent (parent_agent) is
    itself a sub-agent": the sub-agent's token in ``Signature-Key`` is refused, ``401``
    ``Signature-Error: error=invalid_key``."""
    sub = spawn(lab, lab.new_agent("planner"))
    with lab.client() as client:
        response = client.send(subagent_request(sub, Key.generate(), "deeper"), auth=None)
        assert (response.status_code, response.headers["signature-error"]) == (401, "error=invalid_key")
        with pytest.raises(FlowError) as info:
            create_subagent(sub, client, "deeper")
    assert (info.value.code, info.value.status) == ("invalid_key", 401)


# -- refusals at the token endpoints and the Agent Provider ---------------------------------------


def forged(lab, parent, **overrides) -> str:
    """An agent token from the PS's own AP key (so its signature holds), with ``overrides``."""
    now = int(lab.clock())
    values = {
        "iss": PS,
        "sub": "aauth:planner+x@ps.example",
        "cnf": lab.key("sub/x"),
        "ps": PS,
        "parent_agent": claims(parent.agent_token)["sub"],
        "iat": now,
        "exp": now + 600,
        "kid": "ps",
    }
    values.update(overrides)
    return tokens.mint_agent_token(lab.ps.context.key, **values)


@pytest.mark.parametrize(
    "case, code",
    [
        ("garbled", "invalid_subagent_token"),
        ("expired", "expired_subagent_token"),
        ("no-parent", "invalid_subagent_token"),
        ("another-parent", "invalid_subagent_token"),
        ("not-a-string", "invalid_request"),
    ],
)
def test_parent_mediated_authorization_subagent_token_errors(lab, case, code):
    """The PS "verifies the subagent_token Section 5.2.4 and that its parent_agent names the
    parent — the agent that signed the request"; failures use the token endpoint's
    ``<invalid|expired|revoked>_subagent_token`` codes (-11 "Token Endpoint Error Codes")."""
    parent = lab.new_agent("planner")
    other = lab.new_agent("stranger")
    now = int(lab.clock())
    subagent_token = {
        "garbled": forged(lab, parent)[:-4] + "AAAA",
        "expired": forged(lab, parent, iat=now - 700, exp=now - 100),
        "no-parent": forged(lab, parent, sub="aauth:planner-x@ps.example", parent_agent=None),
        "another-parent": forged(lab, other, sub="aauth:stranger+x@ps.example"),
        "not-a-string": 42,
    }[case]
    body = {"resource": SCA, "subagent_token": subagent_token}
    status, answer = signed_post(lab, parent.key, parent.agent_token, f"{PS}/person-token", body)
    assert (status, answer["error"]) == (400, code), answer


def test_parent_mediated_authorization_resource_token_bound_to_the_subagent(lab):
    """ "It verifies the resource_token is bound to the sub-agent's key: agent_jkt matches the
    subagent_token's cnf.jwk, not the signing key": a resource token bound to the parent's key,
    sent with a subagent_token, is ``400 invalid_resource_token``."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    with lab.client(parent) as client:
        assert client.post(f"{SCA}/check").status_code == 200  # the parent's own tokens, for its key
    (challenge,) = [
        e for e in lab.trace.exchanges if "resource-token" in (e.response.header("aauth-requirement") or "")
    ]
    auth = json.loads(ps_requests(lab, "/auth-token")[0].request.body)
    body = {**auth, "subagent_token": sub.agent_token}
    status, answer = signed_post(lab, parent.key, parent.agent_token, f"{PS}/auth-token", body)
    assert (status, answer["error"]) == (400, "invalid_resource_token"), (challenge, answer)


@pytest.mark.parametrize("discriminator", ["", "a+b", "Bad Name", None])
def test_subagent_identity_bad_discriminator(lab, discriminator):
    """The local part is "the parent's local part followed by + and a non-empty
    discriminator" (-11 "Agent Identifiers"): anything else is ``400 invalid_request``."""
    parent = lab.new_agent("planner")
    request = subagent_request(parent, Key.generate(), discriminator or "")
    if discriminator is None:
        message = HttpMessage("POST", f"{PS}/agent/subagent", [("Content-Type", "application/json")], b"{}")
        sign_key_rotation(message, parent.key, parent.agent_token, Key.generate(), created=int(lab.clock()))
        response = lab.send(message).response
        status, error = response.status, json.loads(response.body)["error"]
    else:
        with lab.client() as client:
            response = client.send(request, auth=None)
        status, error = response.status_code, response.json()["error"]
    assert (status, error) == (400, "invalid_request")


def test_subagent_identity_its_own_key(lab):
    """A sub-agent has "its own ... signing key": the parent's key as the new key is ``400
    invalid_request``."""
    parent = lab.new_agent("planner")
    with lab.client() as client:
        response = client.send(subagent_request(parent, parent.key, "same"), auth=None)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_subagent_identity_live_subagent_tokens_are_capped_per_parent(lab):
    """Each sub-agent token binds a new key that resources count toward the parent: a parent holds
    at most 10 live ones (-11 is silent; OWASP ASVS level 2 V11.1.4), the 11th is ``429
    rate_limited`` + ``Retry-After`` (when the first expires); another parent is not held back."""
    parent = lab.new_agent("planner")
    with lab.client() as client:
        statuses = [
            client.send(subagent_request(parent, lab.key(f"sub/cap{n}"), f"cap{n}"), auth=None).status_code
            for n in range(10)
        ]
        refused = client.send(subagent_request(parent, lab.key("sub/cap10"), "cap10"), auth=None)
    assert statuses == [200] * 10
    assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
    assert int(refused.headers["retry-after"]) > 0
    assert spawn(lab, lab.new_agent("other-planner")).agent_token


# -- revoking the parent (-11 "Parent-Mediated Authorization": "revocation propagates naturally") ----


def revoke_agent_token(lab, agent_token: str) -> int:
    """The lab's Agent Provider (at the PS's identifier) revokes ``agent_token`` at the PS."""
    claims = jws.decode_unverified(agent_token).payload
    message = Revoker(PS, AGENT_DWK, lab.keys["ps"], lab.clock).request(
        f"{PS}/revoke", claims["jti"], claims["exp"]
    )
    return lab.send(message, source="Agent Provider").status


def test_revoking_the_parent_revokes_the_subagents_tokens_at_the_resource(lab):
    """The person and auth tokens the PS issued for the sub-agent were asked for by its parent:
    the parent's revocation cascades to them, here and at the resource, which refuses them
    (``revoked_jwt``); the next sub-agent authorization fails, since the PS refuses the parent
    that would ask for it."""
    parent = lab.new_agent("planner")
    sub = spawn(lab, parent)
    with lab.client(sub) as client:
        assert client.post(f"{SCA}/check").status_code == 200
    issued = [sub.person_token_for(SCA), sub.auth_token_for(SCA)]
    assert revoke_agent_token(lab, parent.agent_token) == 200
    told = {
        json.loads(e.request.body)["jti"]
        for e in lab.trace.exchanges
        if e.source == "PS" and e.request.target_uri == f"{SCA}/revoke"
    }
    assert {jws.decode_unverified(token).payload["jti"] for token in issued} <= told
    message = HttpMessage("POST", f"{SCA}/check")
    sign_request(message, sub.key, jwt_key(issued[1]), created=int(lab.clock()))
    response = lab.send(message).response
    assert (response.status, response.header("signature-error")) == (401, "error=revoked_jwt")
    sub.forget()
    with lab.client(sub) as client, pytest.raises(FlowError) as refused:
        client.post(f"{SCA}/check")
    assert refused.value.code == "revoked_jwt" and "agent token" in refused.value.detail
