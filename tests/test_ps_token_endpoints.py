"""The Person Server's token endpoints over real HTTP (servers/ps/token_endpoints.py):
person tokens, auth tokens granted by policy, verification of what the agent sends, and
call chaining.
"""

from __future__ import annotations

import json

from aauth_kit import jws, tokens
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

from .ps_world import (
    CHAIN,
    PS,
    RES,
    decoded,
    error_of,
    world_fixture,
)

world = world_fixture()


# -- person tokens ---------------------------------------------------------------------------------


def test_person_token_for_a_bound_agent(world):
    """-11 "Person Token Endpoint": an agent bound to a person gets a person token at once:
    aud = the resource, a pairwise sub, cnf = the signing key, exp ≤ 1 h and ≤ the agent token."""
    response = world.send("POST", f"{PS}/person-token", body={"resource": RES})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = decoded(response.json()["person_token"])
    assert (claims["iss"], claims["aud"], claims["dwk"]) == (PS, RES, "aauth-person.json")
    assert claims["sub"] == world.ps.subject("mcp-user", RES) != world.ps.subject("mcp-user", CHAIN)
    assert claims["sub"] != world.ps.subject("alice", RES)
    assert claims["cnf"]["jwk"] == world.agent_key.public_jwk(kid=False)
    assert claims["exp"] - claims["iat"] <= 3600 and claims["exp"] <= decoded(world.agent_token)["exp"]
    assert response.json()["expires_in"] == claims["exp"] - claims["iat"]
    assert "scope" not in claims


def test_person_token_body_errors(world):
    """-11 "Person Token Endpoint": a bad or missing ``resource`` is invalid_request (400), never a 500."""
    for body in ({}, {"resource": "http://files.example"}, {"resource": 7}, {"resource": f"{RES}/path"}):
        response = world.send("POST", f"{PS}/person-token", body=body)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), body
    for raw in (b"not json", b"[1, 2]", b"\xff\xfe"):
        response = world.send(
            "POST", f"{PS}/person-token", raw=raw, headers=[("Content-Type", "application/json")]
        )
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), raw


# -- auth tokens granted by policy -----------------------------------------------------------------


def test_auth_token_granted_by_policy(world):
    """-11 "PS Token Endpoint", "Auth Token Structure": a scope that needs no consent is granted at once;
    the auth token names the resource (aud), the person (sub copied from the resource token),
    the agent's key (cnf.jwk) and the scope; iss = ps = the PS; exp ≤ the agent token's."""
    response, presented = world.ask("files:read")
    assert response.status_code == 200, response.text
    claims = decoded(response.json()["auth_token"])
    assert (claims["iss"], claims["ps"], claims["aud"], claims["dwk"]) == (PS, PS, RES, "aauth-person.json")
    assert claims["sub"] == decoded(presented)["sub"]
    assert claims["cnf"]["jwk"] == world.agent_key.public_jwk(kid=False)
    assert claims["scope"] == "files:read"
    assert claims["exp"] <= decoded(world.agent_token)["exp"] and claims["exp"] <= decoded(presented)["exp"]
    assert jws.decode_unverified(response.json()["auth_token"]).header["typ"] == "aa-auth+jwt"


def test_auth_token_by_step_up_with_an_auth_token_presented(world):
    """-11 "Auth Token Required": a resource may challenge a request bearing an auth token; the agent then
    presents that auth token and gets a new one."""
    first, _ = world.ask("files:read")
    auth_token = first.json()["auth_token"]
    body = {"resource_token": world.resource_token(auth_token, "files:read"), "presented_token": auth_token}
    response = world.send("POST", f"{PS}/auth-token", body=body)
    assert response.status_code == 200, response.text
    assert decoded(response.json()["auth_token"])["sub"] == decoded(auth_token)["sub"]


# -- verification of what the agent sends ----------------------------------------------------------


def test_bad_signatures_are_401_with_signature_error(world):
    """-11 "Verification (Server)": the token endpoints take only agent tokens (jwt scheme), bodies covered."""
    presented = world.person_token()
    body = {"resource_token": world.resource_token(presented), "presented_token": presented}
    unsigned = world.client.post(f"{PS}/auth-token", json=body)
    assert unsigned.status_code == 401 and unsigned.headers["signature-error"] == "error=invalid_signature"
    with_person_token = world.send("POST", f"{PS}/auth-token", body=body, token=presented)
    assert with_person_token.headers["signature-error"] == "error=invalid_jwt"
    with_hwk = world.send("POST", f"{PS}/auth-token", body=body, hwk=True)
    assert with_hwk.headers["signature-error"] == "error=unsupported_scheme"
    assert with_hwk.headers["accept-signature-scheme"] == "jwt"
    message = HttpMessage(
        "POST",
        f"{PS}/auth-token",
        headers=[("Content-Type", "application/json")],
        body=json.dumps(body).encode(),
    )
    sign_request(
        message, world.agent_key, jwt_key(world.agent_token), created=int(world.clock()), cover_body=False
    )
    uncovered = world.client.post(f"{PS}/auth-token", headers=message.headers, content=message.body)
    assert uncovered.headers["signature-error"].startswith("error=invalid_input")
    world.ps.store.revoke(PS, decoded(world.agent_token)["jti"], decoded(world.agent_token)["exp"])
    revoked = world.send("POST", f"{PS}/person-token", body={"resource": RES})
    assert revoked.headers["signature-error"] == "error=revoked_jwt"


def test_bad_token_parameters_get_their_exact_codes(world):
    """-11 "Token Endpoint Error Codes": a failing body token is
    <invalid|expired|revoked>_<param>_token (400) — never a 500 and never Signature-Error."""
    presented = world.person_token()
    good_rt = world.resource_token(presented)
    now = int(world.clock())
    shown = decoded(presented)
    stranger = Key.from_seed("stranger", kid="res-1")
    expired_person = tokens.mint_person_token(
        world.ps_key,
        iss=PS,
        aud=RES,
        sub=shown["sub"],
        cnf=world.agent_key,
        iat=now - 100,
        exp=now - 1,
        jti=shown["jti"],
    )
    cases = [
        ({"resource_token": "garbage", "presented_token": presented}, "invalid_resource_token"),
        ({"resource_token": "a.b.c", "presented_token": presented}, "invalid_resource_token"),
        ({"resource_token": presented, "presented_token": presented}, "invalid_resource_token"),
        (
            {"resource_token": world.resource_token(presented, exp=now - 1), "presented_token": presented},
            "expired_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, ps="https://other-ps.example"),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, agent_key=Key.from_seed("x")),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        (
            {"resource_token": world.resource_token(presented, key=stranger), "presented_token": presented},
            "invalid_resource_token",
        ),
        (
            {
                "resource_token": world.resource_token(presented, iss="https://nowhere.example"),
                "presented_token": presented,
            },
            "invalid_resource_token",
        ),
        ({"resource_token": good_rt, "presented_token": "garbage"}, "invalid_presented_token"),
        ({"resource_token": good_rt, "presented_token": world.agent_token}, "invalid_presented_token"),
        (
            {"resource_token": good_rt, "presented_token": world.person_token()},
            "invalid_presented_token",
        ),  # other jti
        (
            {"resource_token": good_rt, "presented_token": world.person_token(CHAIN)},
            "invalid_presented_token",
        ),  # aud
        (
            {
                "resource_token": world.resource_token(presented, sub="someone-else"),
                "presented_token": presented,
            },
            "invalid_presented_token",
        ),
        ({"resource_token": good_rt, "presented_token": expired_person}, "expired_presented_token"),
        (
            {"resource_token": good_rt, "presented_token": presented, "upstream_token": "garbage"},
            "invalid_upstream_token",
        ),
        ({"resource_token": good_rt}, "invalid_request"),
        ({"presented_token": presented}, "invalid_request"),
        ({"resource_token": 42, "presented_token": presented}, "invalid_request"),
        ({"resource_token": good_rt, "presented_token": presented, "justification": 7}, "invalid_request"),
        (
            {"resource_token": good_rt, "presented_token": presented, "justification": "x" * 5000},
            "invalid_request",
        ),
    ]
    for body, expected in cases:
        response = world.send("POST", f"{PS}/auth-token", body=body)
        assert (response.status_code, error_of(response)) == (400, expected), (expected, response.text)
        assert "signature-error" not in response.headers
    # a resource token addressed to another server is four-party (-11 "PS-AS Federation": "If aud
    # identifies a different server (an AS), the PS discovers the AS's metadata"): that server
    # publishes no aauth-access.json, so the PS has no answer from an AS
    response = world.send(
        "POST",
        f"{PS}/auth-token",
        body={
            "resource_token": world.resource_token(presented, aud="https://other-ps.example"),
            "presented_token": presented,
        },
    )
    assert (response.status_code, error_of(response)) == (502, "as_unreachable")
    world.ps.store.revoke(PS, shown["jti"], shown["exp"])
    response = world.send(
        "POST", f"{PS}/auth-token", body={"resource_token": good_rt, "presented_token": presented}
    )
    assert error_of(response) == "revoked_presented_token"


def test_hostile_inputs_never_get_a_500(world):
    """Bad input: odd bodies, headers and tokens on every endpoint get a 4xx."""
    url, code, _ = world.defer()
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = [
        b"",
        b"null",
        b"{}",
        b"[]",
        b'"x"',
        b"1e999",
        deep,
        b"\xff",
        b'{"resource": {"a": 1}}',
        b'{"resource_token": [], "presented_token": null}',
        b'{"local": "' + b"a" * 300 + b'"}',
    ]
    signed_routes = [
        ("POST", f"{PS}/person-token", {}),
        ("POST", f"{PS}/auth-token", {}),
        ("POST", f"{PS}/agent/register", {"hwk": True}),
        ("GET", url, {}),
        ("DELETE", f"{PS}/pending/x", {}),
    ]
    for method, target, options in signed_routes:
        for body in bodies:
            response = world.send(
                method, target, raw=body, headers=[("Content-Type", "application/json")], **options
            )
            assert 400 <= response.status_code < 500, (method, target, body[:20], response.text)
    person = world.person()
    for method, target in [
        ("POST", f"{PS}/login"),
        ("POST", f"{PS}/consent/x/decision"),
        ("PUT", f"{PS}/admin/consent-policy"),
        ("POST", f"{PS}/interaction"),
    ]:
        for body in bodies:
            for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
                response = person.request(
                    method, target, content=body, headers={"Content-Type": content_type}
                )
                assert response.status_code < 500, (target, body[:20], content_type, response.text)
    for headers in (
        {"Signature-Key": "sig=jwt;jwt=1"},
        {"Signature-Input": "sig=(", "Signature": "x", "Signature-Key": "garbage"},
    ):
        response = world.client.post(f"{PS}/auth-token", content=b"{}", headers=headers)
        assert response.status_code == 401 and "signature-error" in response.headers
    assert world.send("GET", url, headers=[("Prefer", "wait=soon")]).status_code in (202, 429)
    for query in ({"code": "\x00"}, {"code": "x" * 10_000}, {"code": code, "callback": "\x00"}):
        assert 400 <= person.get(f"{PS}/interaction", params=query).status_code < 500
        assert person.get(f"{PS}/consent", params=query).status_code < 500


def test_capabilities_without_interaction_is_user_unreachable(world):
    """-11 "PS Token Endpoint" capabilities: an agent that cannot show an interaction cannot wait for consent."""
    presented = world.person_token()
    body = {
        "resource_token": world.resource_token(presented, "files:delete"),
        "presented_token": presented,
        "capabilities": ["clarification"],
    }
    response = world.send("POST", f"{PS}/auth-token", body=body)
    assert (response.status_code, error_of(response)) == (403, "user_unreachable")
    body["capabilities"] = ["interaction"]
    assert world.send("POST", f"{PS}/auth-token", body=body).status_code == 202
    body["capabilities"] = "interaction"
    assert error_of(world.send("POST", f"{PS}/auth-token", body=body)) == "invalid_request"
    presented = world.person_token()
    granted = {"resource_token": world.resource_token(presented, "files:read"), "presented_token": presented}
    assert (
        error_of(world.send("POST", f"{PS}/auth-token", body={**granted, "capabilities": [1]}))
        == "invalid_request"
    )
    assert world.send("POST", f"{PS}/auth-token", body={**granted, "capabilities": []}).status_code == 200


# -- call chaining ---------------------------------------------------------------------------------


def chain_agent(world):
    """CHAIN is its own Agent Provider: a self-issued agent token for its request key."""
    key = Key.from_seed("chain request key")
    now = int(world.clock())
    token = tokens.mint_agent_token(
        world.chain_key, iss=CHAIN, sub="aauth:chain@chain.example", cnf=key, iat=now, exp=now + 600
    )
    return key, token


def test_call_chaining_person_and_auth_tokens(world):
    """-11 "Call Chaining": the chaining resource, signing with its own agent token, gets a person token
    for the downstream resource for the person behind the upstream token (exp capped by the
    upstream's), then an auth token with presented + upstream tokens; sub comes from the
    downstream resource token, never from upstream."""
    now = int(world.clock())
    # an active mission of the backend (-11 "Mission Status Errors": a token naming a mission needs it active)
    mission = world.ps.store.add_mission(
        b'{"agent":"aauth:backend@ps.example"}',
        agent_id="aauth:backend@ps.example",
        agent_iss=PS,
        username="mcp-user",
    ).s256
    upstream = tokens.mint_person_token(  # the backend's person token for CHAIN, on a mission
        world.ps_key,
        iss=PS,
        aud=CHAIN,
        sub=world.ps.subject("mcp-user", CHAIN),
        cnf=world.agent_key,
        iat=now,
        exp=now + 300,
        mission_s256=mission,
    )  # before the chain token ends
    key, token = chain_agent(world)
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": upstream}
    )
    assert response.status_code == 200, response.text
    person_token = response.json()["person_token"]
    claims = decoded(person_token)
    assert (claims["aud"], claims["sub"]) == (RES, world.ps.subject("mcp-user", RES))
    assert claims["cnf"]["jwk"] == key.public_jwk(kid=False) and claims["exp"] == decoded(upstream)["exp"]
    assert claims["mission_s256"] == mission  # copied from upstream (-11 "Call Chaining")
    resource_token = world.resource_token(person_token, agent_key=key, mission_s256=mission)
    body = {"resource_token": resource_token, "presented_token": person_token, "upstream_token": upstream}
    auth = world.send("POST", f"{PS}/auth-token", key=key, token=token, body=body)
    assert auth.status_code == 200, auth.text
    auth_claims = decoded(auth.json()["auth_token"])
    assert (auth_claims["aud"], auth_claims["sub"]) == (RES, claims["sub"])
    assert auth_claims["cnf"]["jwk"] == key.public_jwk(kid=False)
    assert (auth_claims["mission_s256"], auth_claims["exp"]) == (mission, decoded(upstream)["exp"])


def test_call_chaining_refusals(world):
    """-11 "Upstream Token Verification": the upstream token must be for the caller (aud == its agent token iss) and
    from this PS: else invalid_upstream_token; expired → expired_upstream_token."""
    key, token = chain_agent(world)
    not_for_caller = world.person_token(RES)
    response = world.send(
        "POST",
        f"{PS}/person-token",
        key=key,
        token=token,
        body={"resource": RES, "upstream_token": not_for_caller},
    )
    assert error_of(response) == "invalid_upstream_token"
    now = int(world.clock())
    stale = tokens.mint_person_token(
        world.ps_key,
        iss=PS,
        aud=CHAIN,
        sub=world.ps.subject("mcp-user", CHAIN),
        cnf=world.agent_key,
        iat=now - 100,
        exp=now - 1,
    )
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": stale}
    )
    assert error_of(response) == "expired_upstream_token"
    unknown = tokens.mint_person_token(
        world.ps_key, iss=PS, aud=CHAIN, sub="nobody", cnf=world.agent_key, iat=now, exp=now + 60
    )
    response = world.send(
        "POST", f"{PS}/person-token", key=key, token=token, body={"resource": RES, "upstream_token": unknown}
    )
    assert error_of(response) == "invalid_upstream_token"


def test_c2_an_agent_that_declares_no_capabilities_is_user_unreachable(world):
    """-11 "AAuth-Capabilities Request Header": "recipients MUST NOT assume any capabilities".
    A token request without ``capabilities`` that needs the person is ``403 user_unreachable``
    (before, the PS assumed the agent could show an interaction and answered 202); one that
    needs nobody is still granted."""
    for scope, expected in (("files:delete", (403, "user_unreachable")), ("files:read", (200, None))):
        presented = world.person_token()
        body = {"resource_token": world.resource_token(presented, scope), "presented_token": presented}
        response = world.send("POST", f"{PS}/auth-token", body=body)
        got = (response.status_code, error_of(response) if response.status_code != 200 else None)
        assert got == expected, scope
