"""Notebook 05's exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that helps."""

from __future__ import annotations

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb05

from .conftest import untouched


# -- q1: what an agent checks in a resource token (-11 "Resource Challenge Verification") -------
def test_q1_stub_is_not_attempted():
    assert nb05.q1.check(untouched).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    result = nb05.q1.check(nb05.q1.reference_answer("accept"))
    assert result.status == CORRECT, result.message


def test_q1_checking_only_key_and_time_fails():
    def lazy(resource_token, presented, my_jkt, resource, now):
        return resource_token["agent_jkt"] == my_jkt and resource_token["exp"] > now

    result = nb05.q1.check(lazy)
    assert result.status == INCORRECT and "another resource" in result.message


def test_q1_a_tolerant_exp_fails():
    """-11 "Resource Token Verification": exp strictly after now, no tolerance."""

    def tolerant(resource_token, presented, my_jkt, resource, now):
        full = nb05.q1.reference_answer("accept")
        return full(resource_token, presented, my_jkt, resource, now - 1)

    result = nb05.q1.check(tolerant)
    assert result.status == INCORRECT and "exactly now" in result.message


def test_q1_not_checking_ps_fails():
    """ps must be the presented token's PS (a person token's iss), not a constant."""

    def constant_ps(resource_token, presented, my_jkt, resource, now):
        full = nb05.q1.reference_answer("accept")
        return full({**resource_token, "ps": presented["iss"]}, presented, my_jkt, resource, now)

    result = nb05.q1.check(constant_ps)
    assert result.status == INCORRECT and "Person Server" in result.message


# -- q2: Signature-Error codes vs token endpoint codes -----------------------------------------------
def test_q2_stub_is_not_attempted():
    assert nb05.q2.check({situation: None for situation in nb05.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    result = nb05.q2.check(nb05.q2.reference_answer("codes"))
    assert result.status == CORRECT, result.message


def test_q2_invalid_key_is_not_what_the_ps_answers():
    """The key check inside the resource token fails as invalid_key, but a body member's
    failure is reported under the member's name: invalid_resource_token."""
    codes = dict(nb05.EXPECTED)
    codes["a resource token taken to the PS by an agent it did not challenge"] = "invalid_key"
    result = nb05.q2.check(codes)
    assert result.status == INCORRECT and "<invalid|expired|revoked>_<member>_token" in result.message


def test_q2_expired_is_not_invalid():
    codes = dict(nb05.EXPECTED)
    codes["an auth token used one second after its exp"] = "invalid_jwt"
    assert nb05.q2.check(codes).status == INCORRECT


def test_q2_malformed_answers_are_named():
    codes = dict(nb05.EXPECTED)
    codes["an auth token used one second after its exp"] = 401
    assert "as a string" in nb05.q2.check(codes).message
    assert nb05.q2.check(["expired_jwt"]).status == INCORRECT
