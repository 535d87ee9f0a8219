"""Revoking a parent agent reaches its sub-agents (-11 "Parent-Mediated Authorization": "revocation
propagates naturally: revoking the parent's grant causes the next sub-agent authorization to
fail"; -11 "Token Revocation"), over real sockets in a Lab."""

from __future__ import annotations

import json

import pytest

from aauth_kit import jws
from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.profile import sign_request
from aauth_kit.revocation import Revoker
from aauth_kit.signature_key import jwt_key
from aauth_kit.subagents import create_subagent

PS = "https://ps.example"
SCA = "https://supply-chain.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        yield lab


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
    with lab.client() as client:
        sub = create_subagent(parent, client, "search1", key=lab.key("sub/search1"))
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
