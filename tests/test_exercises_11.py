"""Notebook 11 exercises, graded against a live lab over loopback sockets (-11 "PS-to-AS Token
Request", "AS Response"): stub → "not attempted", reference → passes, plausible wrong answers
→ fail with a sentence that says why."""

from __future__ import annotations

import json

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb11, stub
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwks_uri_key, jwt_key


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb11")) as lab:
        yield lab, nb11.bind(lab)


def _request(lab, endpoint, body: dict, signature_key=None):
    message = HttpMessage("POST", endpoint, [("Content-Type", "application/json")], json.dumps(body).encode())
    key = lab.keys["ps"]
    signature_key = signature_key or jwks_uri_key(lab.identifiers["ps"], "aauth-person.json", key.kid)
    sign_request(message, key, signature_key, created=int(lab.clock()))
    return message


def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def token_request(endpoint, resource_token, agent_token, presented_token): ...  # the notebook's stub

    assert ex.q1.check(token_request).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_gets_an_auth_token_from_the_as(world):
    lab, ex = world
    namespace = {"lab": lab}
    exec(ex.q1.reference, namespace)
    result = ex.q1.check(namespace["token_request"])
    assert result.status == CORRECT, result.message


def test_q1_without_the_agent_token_is_invalid_request(world):
    lab, ex = world
    result = ex.q1.check(lambda endpoint, rt, at, pt: _request(lab, endpoint, {"resource_token": rt}))
    assert result.status == INCORRECT and "400 (invalid_request)" in result.message


def test_q1_without_the_presented_token_is_invalid_request(world):
    """The request of the drafts before published -11: the AS needs the presented token."""
    lab, ex = world
    result = ex.q1.check(
        lambda endpoint, rt, at, pt: _request(lab, endpoint, {"resource_token": rt, "agent_token": at})
    )
    assert result.status == INCORRECT and "presented_token is required" in result.message


def test_q1_signed_with_the_agent_token_is_refused(world):
    """The agent's own signature is not the PS's: 401 before anything is read."""
    lab, ex = world
    result = ex.q1.check(
        lambda endpoint, rt, at, pt: _request(
            lab, endpoint, {"resource_token": rt, "agent_token": at, "presented_token": pt}, jwt_key(at)
        )
    )
    assert result.status == INCORRECT and "401" in result.message


def test_q1_signed_as_the_agent_provider_is_unknown_key(world):
    lab, ex = world
    as_ap = jwks_uri_key(lab.identifiers["ps"], "aauth-agent.json", lab.keys["ps"].kid)
    result = ex.q1.check(
        lambda endpoint, rt, at, pt: _request(
            lab, endpoint, {"resource_token": rt, "agent_token": at, "presented_token": pt}, as_ap
        )
    )
    assert result.status == INCORRECT and "unknown_key" in result.message


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check(dict.fromkeys(nb11.EXPECTED)).status == NOT_ATTEMPTED


def test_q2_reference_matches_the_lab_and_puts_it_back(world):
    lab, ex = world
    namespace: dict = {}
    exec(ex.q2.reference, namespace)
    result = ex.q2.check(namespace["answers"])
    assert result.status == CORRECT, result.message
    assert lab.access_server.policy.trusted == {lab.identifiers["ps"]}
    assert not lab.access_server.policy.billing
    assert lab.catalog.resource.access_server == lab.identifiers["access_server"]


def test_q2_plausible_wrong_answers_are_explained(world):
    _, ex = world
    namespace: dict = {}
    exec(ex.q2.reference, namespace)
    answers = dict(namespace["answers"])
    answers[nb11.UNTRUSTED] = (401, "unknown_key")  # what the AS told the PS, not the agent
    result = ex.q2.check(answers)
    assert result.status == INCORRECT and "403 denied" in result.message
    answers = dict(namespace["answers"])
    answers[nb11.PAYMENT] = (403, "denied")  # another PS's choice; this one relays the 402
    result = ex.q2.check(answers)
    assert result.status == INCORRECT and "402" in result.message
