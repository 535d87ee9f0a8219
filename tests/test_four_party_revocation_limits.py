"""Limits of revocation at the Access Server, each attack mounted over real sockets in a Lab
(-11 "Token Revocation", "PS-AS Federation"; -11 is silent on these limits, the kit follows
OWASP ASVS level 2):

* cascades a PS never collects expire, and one trusted PS's share of the cascade table is
  bounded, so it cannot leave the AS answering ``429`` to every other PS;
* a resource refusing the AS's revocation, or the AS's own full store, does not stop the
  cascade: the other resources are still told, the refusing one is in the ``downstream`` report;
* the AS refuses an ``upstream_token`` it holds a revocation for (``revoked_upstream_token``).
"""

from __future__ import annotations

import json

import pytest
from aauth_kit.servers import access_server_revocation as as_revocation
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import tokens
from aauth_kit.agent import Agent
from aauth_kit.jwks import jwks
from aauth_kit.jws import decode_unverified
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import PERSON_DWK, RESOURCE_DWK, person_metadata, resource_metadata
from aauth_kit.revocation import Revoker
from aauth_kit.subagents import create_subagent

from .test_four_party_delegation import as_ps, token_requests
from .test_four_party_revocation import AS, CATALOG, anew, claims, federated, problem, read_parts, revoke

PS2 = "https://ps2.example"
REFUSING = "https://refusing.example"
SCA = "https://supply-chain.example"
PARTS = f"{CATALOG}/parts"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        yield lab


def second_person_server(lab) -> Revoker:
    """Another Person Server the AS trusts (its metadata and JWKS on the lab's network)."""
    key = lab.key("ps2")
    document = person_metadata(PS2, f"{PS2}/jwks.json", f"{PS2}/auth-token", f"{PS2}/person-token")
    routes = [
        Route(f"/.well-known/{PERSON_DWK}", lambda request: JSONResponse(document)),
        Route("/jwks.json", lambda request: JSONResponse(jwks([key]))),
    ]
    lab.hosts.add(PS2, Starlette(routes=routes))
    lab.access_server.policy.trusted.add(PS2)
    return Revoker(PS2, PERSON_DWK, key, lab.clock)


def revoke_jti(lab, revoker: Revoker, jti: str):
    message = revoker.request(f"{AS}/revoke", jti, int(lab.clock()) + 600)
    return lab.send(message, source=revoker.issuer).response


def test_token_revocation_uncollected_cascades_expire_and_each_ps_has_a_share(lab, monkeypatch):
    """The PS revokes at the AS and never polls the ``202``'s ``Location``: past its share of
    cascades (:data:`MAX_CASCADES_PER_PS`) it is ``429 rate_limited`` with ``Retry-After``,
    while another trusted PS is still served; a finished cascade is dropped
    :data:`CASCADE_RETENTION` seconds later (its URL answers ``404``) and frees the place."""
    monkeypatch.setattr(as_revocation, "ANSWER_WITHIN", 0)  # every cascade answers 202
    share = as_revocation.MAX_CASCADES_PER_PS
    ps = lab.ps.context.revoker
    locations = []
    for n in range(share):
        answer = revoke_jti(lab, ps, f"unpolled-{n}")
        assert answer.status == 202, answer.body
        locations.append(answer.header("location"))
    refused = revoke_jti(lab, ps, "one-too-many")
    assert problem(refused) == (429, "rate_limited")
    assert 0 < int(refused.header("retry-after")) <= as_revocation.CASCADE_RETENTION
    assert not lab.access_server.revocations.is_revoked(ps.issuer, "one-too-many")
    assert revoke_jti(lab, second_person_server(lab), "another-ps").status == 202
    lab.clock.advance(as_revocation.CASCADE_RETENTION + 1)
    poll = lab.send(ps.sign(HttpMessage("GET", locations[0])), source="PS").response
    assert problem(poll) == (404, "not_found")
    assert revoke_jti(lab, ps, "after-the-retention").status == 202
    assert len(lab.access_server.revocations.cascades) <= 2  # the expired ones are gone


def test_token_revocation_a_refusing_resource_does_not_stop_the_cascade(lab):
    """The AS's cascade meets first a resource that answers ``429 rate_limited``, and its own
    revocation store full: the catalog is still told (its auth token is refused), and the
    refusing resource is named in the ``downstream`` report."""
    document = resource_metadata(REFUSING, f"{REFUSING}/jwks.json", revocation_endpoint=f"{REFUSING}/revoke")

    async def refuse(request):
        body = {"type": "about:blank", "error": "rate_limited", "title": "rate_limited", "status": 429}
        headers = {"Retry-After": "60"}
        return JSONResponse(body, 429, headers, media_type="application/problem+json")

    lab.hosts.add(
        REFUSING,
        Starlette(
            routes=[
                Route(f"/.well-known/{RESOURCE_DWK}", lambda request: JSONResponse(document)),
                Route("/revoke", refuse, methods=["POST"]),
            ]
        ),
    )
    agent, auth_token, sent = federated(lab)
    presented = claims(sent["presented_token"])
    revocations = lab.access_server.revocations
    exp = claims(auth_token)["exp"]
    key = (lab.identifiers["ps"], presented["jti"])
    refusing = as_revocation.IssuedAuthToken(REFUSING, "refused-1", exp, key[0], (REFUSING, "rt-1"), "t")
    revocations.note_issued(key, refusing)
    revocations.issued[key].insert(0, revocations.issued[key].pop())  # told first
    revocations.max_revocations = len(revocations.revoked) + 2  # the presented token, the first one
    response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
    assert response.status == 200, response.body
    assert json.loads(response.body) == {"downstream": [{"recipient": REFUSING, "error": "rate_limited"}]}
    assert (AS, claims(auth_token)["jti"]) in lab.catalog.resource.revocations.revoked
    refused = read_parts(lab, agent, auth_token)
    assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")


def presenting(lab, sent: dict, auth_token: str) -> dict:
    """``sent`` turned into a token request presenting the AS's ``auth_token`` (a new catalog
    resource token pointing back at it)."""
    resource_token = decode_unverified(sent["resource_token"])
    payload = {**resource_token.payload, "jti": "rt-presenting", "presented_jti": claims(auth_token)["jti"]}
    payload.pop("person_token_jti", None)
    minted = tokens.mint("aa-resource+jwt", lab.keys["catalog"], payload, kid=resource_token.header["kid"])
    return {**sent, "resource_token": minted, "presented_token": auth_token}


def test_token_revocation_a_full_as_store_still_refuses_the_tree_at_the_as(lab):
    """The AS's revocation store has room for the PS's revocation only (another PS's filled
    the rest): its cascade still refuses the auth token it issued from the person token, so
    that auth token presented back to the AS is ``400 revoked_presented_token``."""
    agent, auth_token, sent = federated(lab)
    revocations = lab.access_server.revocations
    assert as_ps(lab, presenting(lab, sent, auth_token)) == (200, None)
    revocations.max_revocations = len(revocations.revoked) + 1  # the presented token only
    response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
    assert response.status == 200, response.body
    assert revocations.is_revoked(AS, claims(auth_token)["jti"])
    assert as_ps(lab, presenting(lab, sent, auth_token)) == (400, "revoked_presented_token")
    assert problem(revoke_jti(lab, lab.ps.context.revoker, "one-more")) == (429, "rate_limited")


def test_upstream_token_verification_a_revoked_upstream_token_is_refused_at_the_as(tmp_path):
    """-11 "Upstream Token Verification" at the AS: the PS revoked the caller's auth token at
    the AS; a chained request presenting it as ``upstream_token`` is ``400
    revoked_upstream_token``."""
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        caller = lab.new_agent("caller")
        with lab.client(caller) as client:
            assert client.post(f"{SCA}/check").status_code == 200
        upstream = caller.auth_token_for(SCA)
        sca = lab.supply_chain
        agent = Agent(sca.agent_key, sca.agent_token(), ps=lab.identifiers["ps"], clock=lab.clock, dev=True)
        with lab.client(agent, upstream_token=upstream) as client:
            assert client.get(PARTS).status_code == 200
        sent = json.loads(token_requests(lab)[-1].request.body)
        assert as_ps(lab, sent)[0] == 200
        assert revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", upstream, "PS").status == 200
        assert as_ps(lab, sent) == (400, "revoked_upstream_token")


def test_parent_mediated_authorization_a_subagent_token_naming_another_ps_is_refused_at_the_as(tmp_path):
    """The AS checks that a ``subagent_token`` naming a PS names the signing one, as it does
    for the ``agent_token``: another PS's is ``400 invalid_subagent_token``."""
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        parent = lab.new_agent("planner")
        with lab.client() as client:
            sub = create_subagent(parent, client, "search1", key=lab.key("sub/search1"))
        with lab.client(sub) as client:
            assert client.get(PARTS).status_code == 200
        (federation,) = token_requests(lab)
        sent = json.loads(federation.request.body)
        assert as_ps(lab, sent)[0] == 200
        ap_key = lab.keys["ps"]  # the lab's Agent Provider signs with the PS's key
        elsewhere = {**claims(sub.agent_token), "ps": PS2}
        token = tokens.mint("aa-agent+jwt", ap_key, elsewhere, kid=ap_key.kid or ap_key.thumbprint())
        assert as_ps(lab, {**sent, "subagent_token": token}) == (400, "invalid_subagent_token")


def test_token_revocation_one_ps_has_a_share_of_the_as_revocations(lab):
    """A trusted PS revokes jti after jti at the AS: past its share of kept revocations (2
    here) it is ``429 rate_limited`` with ``Retry-After``; another trusted PS is still served."""
    lab.access_server.revocations.max_revocations_per_ps = 2
    ps = lab.ps.context.revoker
    assert [revoke_jti(lab, ps, f"many-{n}").status for n in range(2)] == [200, 200]
    refused = revoke_jti(lab, ps, "one-too-many")
    assert problem(refused) == (429, "rate_limited") and refused.header("retry-after")
    assert revoke_jti(lab, ps, "many-0").status == 200  # the same revocation again
    assert revoke_jti(lab, second_person_server(lab), "another-ps").status == 200


def test_as_token_endpoint_one_ps_has_a_share_of_the_waiting_requests(lab):
    """-11 "AS Response": requests waiting for a payment are held at the AS; one PS leaving
    them there meets its share (2 here, of 1,000 in all): ``429 rate_limited``."""
    _, _, sent = federated(lab)
    lab.access_server.policy.billing = True
    lab.access_server.max_pending_per_ps = 2
    assert [as_ps(lab, anew(lab, sent, n))[0] for n in range(2)] == [402, 402]
    assert as_ps(lab, anew(lab, sent, 2)) == (429, "rate_limited")
    assert len(lab.access_server.pending) == 2
