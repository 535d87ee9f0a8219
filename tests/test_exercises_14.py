"""Notebook 14 exercises, graded against a live lab over loopback sockets (-11 "Audit
Request", "Interaction Endpoint Errors"): stub → "not attempted", reference → passes,
plausible wrong answers → fail with a sentence that says why."""

from __future__ import annotations

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb14, stub
from aauth_kit.lab import Lab


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb14")) as lab:
        yield lab, nb14.bind(lab)


# -- q1: an audit record (-11 "Audit Request") ----------------------------------------------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def audit_record(mission_s256): ...  # the notebook's stub

    assert ex.q1.check(audit_record).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_joins_the_mission_log(world):
    lab, ex = world
    namespace = {}
    exec(ex.q1.reference, namespace)
    assert ex.q1.check(namespace["audit_record"]).status == CORRECT
    s256 = namespace["audit_record"]("x")["mission_s256"]
    assert s256 == "x"


def test_q1_a_record_without_its_mission_is_explained(world):
    _, ex = world
    result = ex.q1.check(lambda s256: {"action": "WebSearch", "result": {"status": "completed"}})
    assert result.status == INCORRECT and "mission_s256 is REQUIRED" in result.message


def test_q1_a_result_as_text_is_explained(world):
    _, ex = world
    result = ex.q1.check(lambda s256: {"mission_s256": s256, "action": "WebSearch", "result": "12 flights"})
    assert result.status == INCORRECT and "JSON object" in result.message


def test_q1_a_missing_action_is_the_pss_400(world):
    _, ex = world
    result = ex.q1.check(lambda s256: {"mission_s256": s256, "result": {"status": "completed"}})
    assert result.status == INCORRECT and "400 invalid_request" in result.message


# -- q2: what the PS answers (-11 "Interaction Endpoint Errors", "Mission Status Errors") ------------
def test_q2_the_lab_answers_as_the_draft_says(world):
    lab, _ = world
    assert nb14.observe(lab) == nb14.EXPECTED


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check({situation: None for situation in nb14.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    namespace = {}
    exec(ex.q2.reference, namespace)
    assert ex.q2.check(namespace["answers"]).status == CORRECT


def test_q2_the_two_unreachable_answers_swapped_are_explained(world):
    _, ex = world
    swapped = {**nb14.EXPECTED, nb14.RELAY: (403, "user_unreachable")}
    result = ex.q2.check(swapped)
    assert result.status == INCORRECT and "non-terminal" in result.message
