"""Notebook 15 exercises, graded against a live lab over loopback sockets (-11 "Interaction
Chaining", "Polling Error Codes", "Single-Level Depth", "Upstream Token Verification"): stub →
"not attempted", reference → passes, plausible wrong answers → fail with a sentence that says why."""

from __future__ import annotations

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb15, stub
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    lab = Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb15"), consent_scopes=[])
    with lab:
        yield lab, nb15.bind(lab)


# -- q1: follow the chained 202 (-11 "Interaction Chaining") ------------------------------------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def follow(response): ...  # the notebook's stub

    assert ex.q1.check(follow).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_gets_the_result(world):
    lab, ex = world
    assert ex.q1.check(ex.q1.reference_answer("follow")).status == CORRECT
    assert lab.policy.needs_consent("market-analysis:analyze")  # the grader asked for it


def test_q1_a_relative_pending_url_is_explained(world):
    _, ex = world

    def follow(response):
        requirement = parse_requirement(response.headers["aauth-requirement"])
        return f"{requirement.url}?code={requirement.code}", response.headers["location"]

    result = ex.q1.check(follow)
    assert result.status == INCORRECT and "relative" in result.message


def test_q1_the_link_without_its_code_is_explained(world):
    _, ex = world

    def follow(response):
        requirement = parse_requirement(response.headers["aauth-requirement"])
        return requirement.url, str(response.url.join(response.headers["location"]))

    result = ex.q1.check(follow)
    assert result.status == INCORRECT and "?code=" in result.message


def test_q1_wrong_answers_leave_nothing_pending(world):
    """Every graded attempt is settled, so the agent's cap of pending requests is never reached."""
    lab, _ = world
    held = lab.supply_chain.resource.held
    assert [row for row in held.rows.values() if row.result is None and not row.poller.task.done()] == []


# -- q2: what is answered --------------------------------------------------------------------------
def test_q2_the_lab_answers_as_the_draft_says(world):
    lab, _ = world
    assert nb15.observe(lab) == nb15.EXPECTED


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check({situation: None for situation in nb15.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    assert ex.q2.check(ex.q2.reference_answer("answers")).status == CORRECT


def test_q2_a_stranger_told_forbidden_is_explained(world):
    _, ex = world
    result = ex.q2.check({**nb15.EXPECTED, nb15.STRANGER_POLLS: (403, "forbidden")})
    assert result.status == INCORRECT and "does not exist" in result.message
