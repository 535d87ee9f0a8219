"""Notebook 06 exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that says why."""

from __future__ import annotations

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb06, stub


# -- q1: -11 "Deferred Responses": the person opens AAuth-Requirement's url with the code --------
def test_q1_stub_is_not_attempted():
    def link_for_person(headers): ...

    assert nb06.q1.check(link_for_person).status == NOT_ATTEMPTED
    assert nb06.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    assert nb06.q1.check(nb06.reference_link).status == CORRECT
    namespace = {}
    exec(nb06.q1.reference, namespace)  # the solution the learner is shown runs as written
    assert nb06.q1.check(namespace["link_for_person"]).status == CORRECT


def test_q1_the_pending_url_is_not_the_persons_link():
    result = nb06.q1.check(lambda headers: headers["Location"])
    assert result.status == INCORRECT and "pending URL" in result.message


def test_q1_splitting_the_header_by_hand_breaks_on_spaces():
    # RFC 8941 allows a space after ';'; a split(';') parser keeps it and the quotes
    def by_hand(headers):
        params = dict(part.split("=", 1) for part in headers["AAuth-Requirement"].split(";"))
        return f"{params['url'].strip(chr(34))}?code={params['code'].strip(chr(34))}"

    result = nb06.q1.check(by_hand)
    assert result.status == INCORRECT and 'requirement=interaction; url="' in result.message


def test_q1_a_missing_code_fails():
    from aauth_kit.headers import parse_requirement

    result = nb06.q1.check(lambda headers: parse_requirement(headers["AAuth-Requirement"]).url)
    assert result.status == INCORRECT and "?code=" in result.message


# -- q2: the seed's consent scopes and prefixes ------------------------------------------------
def test_q2_stub_is_not_attempted():
    my_policy = ...
    assert nb06.q2.check(my_policy).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    assert nb06.q2.check(nb06.REFERENCE_POLICY).status == CORRECT
    namespace = {}
    exec(nb06.q2.reference, namespace)
    assert nb06.q2.check(namespace["my_policy"]).status == CORRECT


def test_q2_listing_todays_scopes_misses_tomorrows():
    listed = {
        "scopes": ["supply-chain:optimize", "supply-chain:check"],
        "prefixes": ["user.", "profile.", "email."],
    }
    result = nb06.q2.check(listed)
    assert result.status == INCORRECT and "supply-chain:forecast" in result.message


def test_q2_a_too_broad_prefix_asks_for_the_market_analysis():
    result = nb06.q2.check(
        {"scopes": [], "prefixes": ["supply-chain:", "user.", "profile.", "email.", "market"]}
    )
    assert result.status == INCORRECT and "market-analysis:analyze" in result.message


def test_q2_a_policy_the_ps_refuses_says_why():
    result = nb06.q2.check({"scopes": "supply-chain:optimize"})
    assert result.status == INCORRECT and "invalid_request" in result.message
    assert nb06.q2.check(["supply-chain:"]).status == INCORRECT
