"""A resource token's ``login_hint`` over real sockets in a Lab (-11 "Resource Token
Structure": OPTIONAL ``login_hint``; "Agent Token Request": the agent copies it into its
``login_hint`` request parameter).  The resource's hint wins over the agent's own, which is
sent only when the resource token has none."""

from __future__ import annotations

import json

import pytest

from aauth_kit.lab import Lab

SCA = "https://supply-chain.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        yield lab


def hinting(lab, monkeypatch, hint: str) -> None:
    """The supply-chain agent's resource tokens carry ``login_hint``."""
    resource = lab.supply_chain.resource
    mint = resource.resource_token

    def with_hint(*args, extra=None, **kw):
        return mint(*args, extra={**(extra or {}), "login_hint": hint}, **kw)

    monkeypatch.setattr(resource, "resource_token", with_hint)


def auth_token_request(lab, agent) -> dict:
    """The agent's ``POST /auth-token`` body, after a call that needs an auth token."""
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    (request,) = [e.request for e in lab.trace.exchanges if e.request.target_uri.endswith("/auth-token")]
    return json.loads(request.body)


@pytest.mark.parametrize("own", [None, "mcp-user"])
def test_resource_token_structure_login_hint_goes_to_the_ps(lab, monkeypatch, own):
    """The resource token's ``login_hint`` is the request's, whether or not the agent has one."""
    hinting(lab, monkeypatch, "buyer@supply-chain.example")
    body = auth_token_request(lab, lab.new_agent("hinted", login_hint=own))
    assert body["login_hint"] == "buyer@supply-chain.example"


def test_resource_token_structure_without_login_hint_the_agents_own_is_sent(lab):
    """No ``login_hint`` in the resource token: the agent's configured one goes (or none)."""
    assert auth_token_request(lab, lab.new_agent("own", login_hint="mcp-user"))["login_hint"] == "mcp-user"
    lab.trace.clear()
    assert "login_hint" not in auth_token_request(lab, lab.new_agent("plain"))
