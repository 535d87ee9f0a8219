"""Notebook 07 exercises, graded against a live lab that ran the seed's market-analysis
job: stub → "not attempted", reference → passes, plausible wrong answers → fail."""

from __future__ import annotations

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb07
from aauth_kit.lab import Lab
from aauth_kit.waiting import held_poll, wait_until

BACKEND = "https://backend.example"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A lab after one market-analysis job the person approved (-11 "Call Chaining")."""
    with (
        Lab(mode="asgi", docs=True, data_dir=tmp_path_factory.mktemp("nb07")) as lab,
        lab.hosts.client() as ui,
    ):
        request_id = ui.post(
            f"{BACKEND}/optimization/start", json={"custom_prompt": "Optimize with market analysis"}
        ).json()["request_id"]

        def progress(*statuses):
            body = ui.get(f"{BACKEND}/optimization/progress/{request_id}").json()
            return body if body["status"] in statuses + ("failed",) else None

        asked = wait_until(lambda: progress("interaction_required"), what="interaction_required")
        assert asked["status"] == "interaction_required", asked
        held_poll(lab.ps, asked["interaction_code"])
        lab.ps.decide(asked["interaction_code"], True)
        done = wait_until(lambda: progress("completed"), what="the end of the job")
        assert done["status"] == "completed", done
        results = ui.get(f"{BACKEND}/optimization/results/{request_id}").json()
        yield lab, results, nb07.bind(lab)


# -- q1: the market-analysis token is bound to the supply-chain agent's key (-11 "Call Chaining") ----------
def test_q1_stub_is_not_attempted(world):
    _, _, ex = world
    answer = ...
    assert ex.q1.check(answer).status == NOT_ATTEMPTED


def test_q1_reference_passes(world):
    lab, results, ex = world
    assert ex.q1.check(nb07.reference_key(results)).status == CORRECT
    market = results["authorizations"][1]
    namespace = {"market": market}
    exec(ex.q1.reference, namespace)
    assert ex.q1.check(namespace["answer"]).status == CORRECT


def test_q1_the_backends_key_is_wrong(world):
    lab, results, ex = world
    from aauth_kit.keys import jwk_thumbprint

    backend_key = jwk_thumbprint(results["authorizations"][0]["claims"]["cnf"]["jwk"])
    result = ex.q1.check(backend_key)
    assert result.status == INCORRECT and "backend's key" in result.message


def test_q1_the_x_coordinate_is_not_a_thumbprint(world):
    lab, results, ex = world
    result = ex.q1.check(results["authorizations"][1]["claims"]["cnf"]["jwk"]["x"])
    assert result.status == INCORRECT and "x coordinate" in result.message
    assert ex.q1.check(lab.keys["supply_chain"].thumbprint()).status == INCORRECT
    assert ex.q1.check(42).status == INCORRECT


# -- q2: consents, from the PS's audit log ----------------------------------------------------
def test_q2_stub_is_not_attempted(world):
    _, _, ex = world

    def approvals(entries): ...

    assert ex.q2.check(approvals).status == NOT_ATTEMPTED


def test_q2_reference_passes_on_the_sample_and_the_live_log(world):
    lab, _, ex = world
    assert ex.q2.check(nb07.reference_approvals).status == CORRECT
    namespace = {}
    exec(ex.q2.reference, namespace)
    assert ex.q2.check(namespace["approvals"]).status == CORRECT
    assert nb07.reference_approvals(lab.ps.store.audit_log()) == [
        ("mcp-user", "aauth:backend@ps.example", "supply-chain:optimize")
    ]


def test_q2_policy_grants_are_not_consents(world):
    _, _, ex = world

    def issued(entries):  # every auth token issued, whoever decided
        return [
            (e.details.get("sub"), e.actor, e.details["scope"])
            for e in entries
            if e.action == "auth_token_issued"
        ]

    result = ex.q2.check(issued)
    assert result.status == INCORRECT and "policy" in result.message


def test_q2_a_refusal_is_not_a_consent(world):
    _, _, ex = world

    def decided(entries):
        return [
            (e.actor, e.details["agent"], e.details["scope"])
            for e in entries
            if e.action in ("auth_token_approved", "auth_token_denied")
        ]

    result = ex.q2.check(decided)
    assert result.status == INCORRECT and "refus" in result.message


def test_q2_the_agent_is_not_the_person(world):
    _, _, ex = world

    def requested(entries):
        return [
            (e.actor, e.subject, e.details["scope"]) for e in entries if e.action == "auth_token_requested"
        ][:1]

    result = ex.q2.check(requested)
    assert result.status == INCORRECT and "person who decided" in result.message


def test_q2_an_answer_that_only_fits_the_sample_fails_on_the_live_log(world):
    _, _, ex = world
    result = ex.q2.check(lambda entries: [("alice", "aauth:backend@ps.example", "supply-chain:optimize")])
    assert result.status == INCORRECT and "this lab's own log" in result.message
