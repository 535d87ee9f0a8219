"""-11 "Account Binding" over the kit's real flow, in a socket-mode Lab: a resource whose route
names the account a request acts on, the kit's agent, and the Person Server.

"When the request carried account, the resource echoes it as the account claim of the resource
token, the PS or AS copies it into the auth token, and the resource enforces per-account access
directly from the token it receives.  Different accounts yield different auth tokens, so an auth
token for one account grants nothing at another, and the audit trail records which account each
authorization covered."
"""

from __future__ import annotations

import json

import pytest
from starlette.responses import JSONResponse

from aauth_kit import jws
from aauth_kit.errors import UsageError
from aauth_kit.headers import parse_requirement
from aauth_kit.jwks import StaticResolver
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.resource import Resource
from aauth_kit.signature_key import jwt_key

PS = "https://ps.example"
LEDGER = "https://ledger.example"
SCOPE = "ledger:read"


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[]) as lab:
        resource = Resource(
            LEDGER,
            key=Key.generate(kid="ledger"),
            resolver=lab.resolver,
            clock=lab.clock,
            name="Ledger",
            scope_descriptions={SCOPE: "Read a ledger."},
        )

        async def balance(request):
            caller = request.state.caller
            return JSONResponse({"account": request.path_params["account"], "token_account": caller.account})

        route = resource.route(
            "/accounts/{account}/balance", balance, scope=SCOPE, account=lambda r: r.path_params["account"]
        )
        lab.hosts.add(LEDGER, resource.app([route]))
        yield lab


def auth_token_requests(lab) -> list[dict]:
    """The bodies the agent sent to the PS's auth token endpoint, and the PS's 200 bodies."""
    return [
        (json.loads(e.request.body), json.loads(e.response.body) if e.status == 200 else None)
        for e in lab.trace.exchanges
        if e.request.target_uri == f"{PS}/auth-token"
    ]


def test_c3_auth_token_carries_the_resource_tokens_account(lab):
    """C3: the resource token names the account; the PS copies it into the auth token (-11 "Auth
    Token Structure": "account: The account the authorization is for, copied from the resource
    token"), the resource admits it, and the PS's audit trail records the account."""
    agent = lab.new_agent("ledger-reader")
    with lab.client(agent) as client:
        response = client.get(f"{LEDGER}/accounts/acct-A/balance")
    assert response.status_code == 200, response.text
    assert response.json() == {"account": "acct-A", "token_account": "acct-A"}
    [(request, answer)] = auth_token_requests(lab)
    assert claims(request["resource_token"])["account"] == "acct-A"
    assert (
        claims(answer["auth_token"])["account"] == "acct-A" == claims(agent.auth_token_for(LEDGER))["account"]
    )
    issued = [e for e in lab.ps.store.audit_log() if e.action == "auth_token_issued"]
    assert issued[-1].details["account"] == "acct-A"


def test_c3_an_auth_token_for_one_account_grants_nothing_at_another(lab):
    """C3, the resource's side: the auth token for acct-A presented for acct-B is answered
    ``401`` ``requirement=auth-token`` with a resource token for acct-B (-11 "Auth Token
    Required": step-up with a new resource token); the kit's agent follows it to a second auth
    token, for acct-B, which in turn opens nothing at acct-A."""
    agent = lab.new_agent("two-accounts")
    with lab.client(agent) as client:
        assert client.get(f"{LEDGER}/accounts/acct-A/balance").status_code == 200
        token_a = agent.auth_token_for(LEDGER)
        # the attack: the acct-A token, hand-signed, at acct-B
        message = HttpMessage("GET", f"{LEDGER}/accounts/acct-B/balance")
        sign_request(message, agent.key, jwt_key(token_a), created=int(lab.clock()))
        refused = lab.send(message).response
        assert refused.status == 401
        challenge = parse_requirement(refused.header("aauth-requirement"))
        assert challenge.requirement == "auth-token"
        stepped = claims(challenge.resource_token)
        assert (stepped["account"], stepped["presented_jti"]) == ("acct-B", claims(token_a)["jti"])

        # the agent follows the challenge to an auth token for acct-B
        response = client.get(f"{LEDGER}/accounts/acct-B/balance")
        assert response.json() == {"account": "acct-B", "token_account": "acct-B"}
        token_b = agent.auth_token_for(LEDGER)
        assert claims(token_b)["account"] == "acct-B" and claims(token_b)["jti"] != claims(token_a)["jti"]
        message = HttpMessage("GET", f"{LEDGER}/accounts/acct-A/balance")
        sign_request(message, agent.key, jwt_key(token_b), created=int(lab.clock()))
        assert lab.send(message).response.status == 401


def test_c3_authorization_endpoint_account_reaches_the_auth_token(lab):
    """C3 through the authorization endpoint (-11 "Authorization Endpoint Request": ``account``
    OPTIONAL): the resource echoes the requested account into the resource token, and the PS's
    auth token carries the same value; without one, none."""
    agent = lab.new_agent("authorizer")
    with lab.client(agent) as client:
        client.get(f"{LEDGER}/accounts/acct-A/balance")  # a person token for the ledger
    person_token = agent.person_token_for(LEDGER)
    for asked in ("workspace-7", None):
        body = {"scope": SCOPE} | ({"account": asked} if asked else {})
        content = json.dumps(body).encode()
        message = HttpMessage("POST", f"{LEDGER}/authorize", [("Content-Type", "application/json")], content)
        sign_request(message, agent.key, jwt_key(person_token), created=int(lab.clock()))
        resource_token = json.loads(lab.send(message).response.body)["resource_token"]
        assert claims(resource_token).get("account") == asked
        request = {"resource_token": resource_token, "presented_token": person_token}
        message = HttpMessage(
            "POST", f"{PS}/auth-token", [("Content-Type", "application/json")], json.dumps(request).encode()
        )
        sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
        answer = lab.send(message).response
        assert answer.status == 200, answer.body
        assert claims(json.loads(answer.body)["auth_token"]).get("account") == asked


def test_c3_the_consent_page_names_the_account(tmp_path):
    """C3, the person's side: when the person must consent, the consent API and page name the
    account the authorization is for (-11 "Account Binding": the authorization is bound to it)."""
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[SCOPE]) as lab:
        resource = Resource(LEDGER, key=Key.generate(kid="ledger"), resolver=lab.resolver, clock=lab.clock)

        async def balance(request):
            return JSONResponse({"ok": True})

        route = resource.route(
            "/accounts/{account}/balance", balance, scope=SCOPE, account=lambda r: r.path_params["account"]
        )
        lab.hosts.add(LEDGER, resource.app([route]))
        person = lab.hosts.client()
        session = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
        person.headers["Authorization"] = f"Bearer {session.json()['session']}"
        seen = []

        def on_interaction(interaction):
            seen.append(person.get(f"{PS}/interaction", params={"code": interaction.code}).text)
            lab.ps.decide(interaction.code, True)

        agent = lab.new_agent("consenting", on_interaction=on_interaction)
        with lab.client(agent) as client:
            assert client.get(f"{LEDGER}/accounts/acct-Z/balance").status_code == 200
        person.close()
    assert "For your account <code>acct-Z</code>" in seen[0]


def test_c3_only_an_auth_token_route_binds_an_account():
    """An account is bound by an auth token, so only an ``auth-token`` route may name one."""
    resource = Resource(LEDGER, key=Key.generate(), resolver=StaticResolver())
    with pytest.raises(UsageError):
        resource.route("/x", lambda r: None, access="person-token", account=lambda r: "a")
