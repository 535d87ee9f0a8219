"""Notebook 10 exercises, graded against a live lab over loopback sockets: stub → "not attempted",
reference → passes, plausible wrong answers → fail with a sentence that says why; the
attacks the grader mounts are really refused with the answers the exercise expects."""

from __future__ import annotations

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb10
from aauth_kit.lab import Lab


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb10")) as lab:
        yield lab, nb10.bind(lab)


def _reference(exercise, name):
    namespace: dict = {}
    exec(exercise.reference, namespace)  # the solution the learner is shown runs as written
    return namespace[name]


# -- q1: predict the answers ------------------------------------------------------------------------
def test_q1_the_lab_answers_what_the_exercise_expects(world):
    """Each attack of Q1 is refused by the lab with the expected status and code, and the
    grader's person is no administrator (the policy stays as it was)."""
    lab, _ = world
    before = lab.ps.policy
    assert nb10.observe(lab) == nb10.EXPECTED
    assert lab.ps.policy == before
    assert not lab.ps.store.get_user(nb10.GRADER_PERSON).admin


def test_q1_stub_reference_and_a_wrong_prediction(world):
    _, ex = world
    assert ex.q1.check({situation: None for situation in nb10.EXPECTED}).status == NOT_ATTEMPTED
    assert ex.q1.check(_reference(ex.q1, "answers")).status == CORRECT
    wrong = dict(_reference(ex.q1, "answers"), **{nb10.HUGE: (400, "invalid_request")})
    result = ex.q1.check(wrong)
    assert result.status == INCORRECT and "413" in result.message and "Content-Length" in result.message


def test_q1_grading_twice_never_locks_the_grader_out(world):
    """The grader's attempts do not count as failed logins of a person the notebook uses, and
    grading again and again gives the same answers (a learner re-runs the cell)."""
    lab, ex = world
    for _ in range(3):
        assert ex.q1.check(_reference(ex.q1, "answers")).status == CORRECT
    assert lab.ps.store.check_password("mcp-user", "user123")


# -- q2: build the refused request ------------------------------------------------------------------
def test_q2_stub_is_not_attempted(world):
    _, ex = world

    def cross_site_start(backend): ...  # the notebook's stub

    assert ex.q2.check(cross_site_start).status == NOT_ATTEMPTED


def test_q2_reference_is_refused_and_starts_no_job(world):
    lab, ex = world
    jobs = len(lab.backend.jobs)
    assert ex.q2.check(_reference(ex.q2, "cross_site_start")).status == CORRECT
    assert len(lab.backend.jobs) == jobs


@pytest.mark.parametrize(
    ("change", "explained"),
    [
        ({"headers": {"Content-Type": "application/json", "Origin": "https://evil.example"}}, "preflight"),
        ({"headers": {"Content-Type": "text/plain"}}, "Origin"),
        ({"headers": {"Content-Type": "text/plain", "Origin": "https://backend.example"}}, "backend's own"),
        (
            {"headers": {"Content-Type": "text/plain", "Origin": "https://evil.example", "X-Evil": "1"}},
            "x-evil",
        ),
        ({"method": "GET"}, "POST"),
        ({"url": "https://backend.example/optimization/status"}, "/optimization/start"),
        ({"content": "not bytes"}, "bytes"),
    ],
)
def test_q2_requests_a_page_could_not_send_unasked_are_explained(world, change, explained):
    _, ex = world
    reference = _reference(ex.q2, "cross_site_start")

    def cross_site_start(backend):
        return {**reference(backend), **change}

    result = ex.q2.check(cross_site_start)
    assert result.status == INCORRECT and explained in result.message, result.message


def test_q2_a_value_instead_of_the_function_is_explained(world):
    _, ex = world
    result = ex.q2.check({"method": "POST"})
    assert result.status == INCORRECT and "function" in result.message
