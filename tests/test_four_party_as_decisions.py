"""What the Access Server decides for a token request that waits or repeats, each attack mounted
by the PS over real sockets in a Lab (-11 "PS-to-AS Token Request", "AS Response", "Token
Revocation", "Resource Token Structure"; the shares follow OWASP ASVS level 2, -11 is silent):

* a request waiting for payment or claims is not completed once a token it was asked with is
  revoked: a revoked presented token drops it (its URL is ``404``, a new request ``400
  revoked_presented_token``), a revoked upstream token is ``400 revoked_upstream_token`` when
  it is decided;
* a request repeating a resource token gets the first answer again (the same auth token, the
  same waiting request), so replaying it mints nothing;
* every issued record counts toward its PS's share, and so do the revocations a PS's
  cascade makes at the AS.
"""

from __future__ import annotations

import json

import pytest

from aauth_kit.agent import Agent
from aauth_kit.lab import Lab

from .test_four_party import ORDERS, approving, ps_request, sent_to_as
from .test_four_party_delegation import token_requests
from .test_four_party_revocation import AS, CATALOG, anew, claims, federated, problem, revoke
from .test_four_party_revocation_limits import revoke_jti

SCA = "https://supply-chain.example"
PARTS = f"{CATALOG}/parts"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        yield lab


def issued(lab) -> int:
    return sum(map(len, lab.access_server.revocations.issued.values()))


def answered(lab, request: dict) -> bool:
    """Whether the AS issued an auth token for ``request``'s resource token."""
    resource_token = claims(request["resource_token"])
    return lab.access_server.revocations.answered((resource_token["iss"], resource_token["jti"])) is not None


def test_as_response_a_request_waiting_for_payment_is_dropped_when_its_presented_token_is_revoked(lab):
    """The PS's request waits for payment (``402``); the PS revokes the person token it
    presented: the waiting request is gone (its poll after settlement ``404 not_found``, no auth
    token issued) and a new request with that token is ``400 revoked_presented_token``."""
    _, _, sent = federated(lab)
    lab.access_server.policy.billing = True
    request = anew(lab, sent)
    waiting = ps_request(lab, request)
    assert waiting.status == 402
    assert revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS").status == 200
    lab.access_server.settle(lab.identifiers["ps"])
    assert problem(ps_request(lab, {}, url=waiting.header("location"), method="GET")) == (404, "not_found")
    assert problem(ps_request(lab, anew(lab, sent, 2))) == (400, "revoked_presented_token")
    assert not answered(lab, request) and not lab.access_server.pending


def test_claims_required_claims_for_a_revoked_presented_token_issue_nothing(tmp_path):
    """The PS's request waits for claims (``202``); the PS revokes the person token it
    presented, then POSTs the claims: ``404 not_found``, no auth token issued."""
    with Lab(mode="socket", docs=True, data_dir=tmp_path, consent_scopes=["catalog:order"]) as lab:
        agent = approving(lab)
        sent = sent_to_as(lab, agent, "POST", ORDERS, json={"part": "keyboard-uk", "quantity": 1})
        request = anew(lab, sent)
        asked = ps_request(lab, request)
        assert asked.status == 202
        revoker = lab.ps.context.revoker
        assert revoke(lab, revoker, f"{AS}/revoke", sent["presented_token"], "PS").status == 200
        given = ps_request(lab, {"name": "mcp-user"}, url=asked.header("location"))
        assert problem(given) == (404, "not_found")
        assert not answered(lab, request)


def test_upstream_token_verification_a_waiting_request_stops_when_its_upstream_token_is_revoked(tmp_path):
    """A chained request (``upstream_token``) waits for payment; the PS revokes the upstream
    token at the AS: deciding it after settlement is ``400 revoked_upstream_token`` and it is
    forgotten (then ``404``)."""
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
        lab.access_server.policy.billing = True
        waiting = ps_request(lab, anew(lab, sent))
        assert waiting.status == 402
        assert revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", upstream, "PS").status == 200
        lab.access_server.settle(lab.identifiers["ps"])
        poll = ps_request(lab, {}, url=waiting.header("location"), method="GET")
        assert problem(poll) == (400, "revoked_upstream_token")
        assert problem(ps_request(lab, {}, url=waiting.header("location"), method="GET")) == (
            404,
            "not_found",
        )


def test_resource_token_structure_a_repeated_token_request_gets_the_same_auth_token(lab):
    """-11 "Resource Token Structure": the resource token's ``jti`` is for replay detection.
    The PS sends the same token request 30 more times: each ``200`` answers the auth token
    already issued for it, and the AS records nothing more."""
    agent, auth_token, sent = federated(lab)
    before = issued(lab)
    answers = [ps_request(lab, sent) for _ in range(30)]
    assert {(a.status, json.loads(a.body)["auth_token"]) for a in answers} == {(200, auth_token)}
    assert issued(lab) == before == lab.access_server.revocations.issued_to_ps[lab.identifiers["ps"]]


def test_as_response_a_repeated_waiting_request_is_the_same_waiting_request(lab):
    """A token request waiting for payment, sent again: the same ``402`` and ``Location``, one
    request waiting."""
    _, _, sent = federated(lab)
    lab.access_server.policy.billing = True
    request = anew(lab, sent)
    first, again = ps_request(lab, request), ps_request(lab, request)
    assert (first.status, again.status) == (402, 402)
    assert first.header("location") == again.header("location")
    assert len(lab.access_server.pending) == 1


def test_as_token_endpoint_each_ps_has_a_share_of_the_issued_records(lab):
    """Every auth token issued is recorded for the PS it was issued to: past the PS's share (1
    here, with room left in all) a new token request is ``429 rate_limited``."""
    _, _, sent = federated(lab)
    revocations = lab.access_server.revocations
    assert revocations.issued_to_ps[lab.identifiers["ps"]] == 1
    revocations.max_issued_per_ps = 1
    assert problem(ps_request(lab, anew(lab, sent))) == (429, "rate_limited")
    assert issued(lab) == 1 < revocations.max_issued


def test_token_revocation_a_cascade_counts_in_the_share_of_the_ps_that_started_it(lab):
    """The PS revokes the person token it presented: the AS's revocation of the auth token
    issued from it counts toward that PS's share (2 here: the person token and the auth token),
    so its next revocation is ``429 rate_limited``."""
    _, auth_token, sent = federated(lab)
    revocations = lab.access_server.revocations
    revocations.max_revocations_per_ps = 2
    assert revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS").status == 200
    assert (AS, claims(auth_token)["jti"]) in revocations.revoked
    assert revocations.revoked_by_ps[lab.identifiers["ps"]] == 2
    assert problem(revoke_jti(lab, lab.ps.context.revoker, "one-more")) == (429, "rate_limited")
