"""Notebook 04's exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that helps."""

from __future__ import annotations

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb04

from .conftest import untouched


# -- q1: -11 "Agent Identifiers" — the domain names the Agent Provider -------------------------------
def test_q1_stub_is_not_attempted():
    assert nb04.q1.check(untouched).status == NOT_ATTEMPTED
    assert nb04.q1.check(None).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    result = nb04.q1.check(nb04.q1.reference_answer("admit_token"))
    assert result.status == CORRECT, result.message


def test_q1_checking_sub_only_lets_the_impostor_in():
    result = nb04.q1.check(lambda token: token.sub in nb04.ALLOWED)
    assert result.status == INCORRECT
    assert "rogue.example" in result.message and "only your policy" in result.message


def test_q1_trusting_the_providers_only_fails():
    """Trusting every agent of the two providers admits agents that are not on the list."""
    providers = {"https://ps.example", "https://partner.example"}
    result = nb04.q1.check(lambda token: token.iss in providers)
    assert result.status == INCORRECT and "another agent of https://ps.example" in result.message


def test_q1_case_folding_fails():
    """Identifiers compare exactly (-11 "Agent Identifiers")."""

    def folded(token):
        domain = token.sub.rpartition("@")[2]
        return token.sub.lower() in nb04.ALLOWED and token.iss == f"https://{domain}"

    result = nb04.q1.check(folded)
    assert result.status == INCORRECT and "capital" in result.message


# -- q2: 401 + AAuth-Requirement / 401 + Signature-Error / 403 (Signature Keys -09 "Access Denied") ----------------
STUB = {
    "no signature at all": (None, None),
    "a signature that does not verify": (None, None),
    "a valid agent token, but the policy says no": (None, None),
}


def test_q2_stub_is_not_attempted():
    assert nb04.q2.check(dict(STUB)).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    result = nb04.q2.check(nb04.q2.reference_answer("answers"))
    assert result.status == CORRECT, result.message


def test_q2_header_names_compare_case_insensitively():
    answers = {
        situation: (status, header.lower() if header else None)
        for situation, (status, header) in nb04.EXPECTED.items()
    }
    assert nb04.q2.check(answers).status == CORRECT


def test_q2_a_policy_refusal_is_not_401():
    answers = dict(nb04.EXPECTED)
    answers["a valid agent token, but the policy says no"] = (401, "Signature-Error")
    result = nb04.q2.check(answers)
    assert result.status == INCORRECT and "403" in result.message


def test_q2_malformed_answers_are_named():
    answers = dict(nb04.EXPECTED)
    answers["no signature at all"] = 401
    assert "pair" in nb04.q2.check(answers).message
    assert nb04.q2.check(["401"]).status == INCORRECT
