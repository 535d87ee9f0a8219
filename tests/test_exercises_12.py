"""Notebook 12 exercises, graded against a live lab over loopback sockets (-11 "Clarification
Response", "Agent Response to Clarification", "Clarification Limits"): stub → "not attempted",
reference → passes, plausible wrong answers → fail with a sentence that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb12, stub
from aauth_kit.lab import Lab


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb12")) as lab:
        yield lab, nb12.bind(lab)


# -- q1: the body of a clarification response (-11 "Clarification Response") ------------------------------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def answer_body(poll): ...  # the notebook's stub

    assert ex.q1.check(answer_body).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_is_taken_and_shown_to_the_person(world):
    lab, ex = world
    namespace = {}
    exec(ex.q1.reference, namespace)  # the solution the learner is shown runs as written
    seen = []
    result = ex.q1.check(lambda poll: seen.append(poll) or namespace["answer_body"](poll))
    assert result.status == CORRECT, result.message
    assert seen[0]["clarification"] == nb12.QUESTION and seen[0]["options"] == nb12.OPTIONS
    answered = [
        p for p in lab.ps.store.list_pending() if (p.request.get("clarifications") or [{}])[-1].get("answer")
    ]
    assert answered and answered[-1].request["clarifications"][-1]["answer"] == "The north one."
    assert answered[-1].status == "cancelled"  # the grader withdraws its request afterwards


@pytest.mark.parametrize(
    "wrong, said",
    [
        (lambda poll: "The north one.", "not the answer's text alone"),
        (lambda poll: {"clarification_response": "north"}, "names its action"),
        (
            lambda poll: {"action": "answer", "clarification_response": "north"},
            "spelled clarification_response",
        ),
        (
            lambda poll: {"action": "clarification_response", "answer": "north"},
            "member named like the action",
        ),
        (lambda poll: ["north"], "not list"),
    ],
)
def test_q1_plausible_mistakes_are_explained(world, wrong, said):
    _, ex = world
    result = ex.q1.check(wrong)
    assert result.status == INCORRECT and said in result.message, result.message


# -- q2: what the PS answers (-11 "Agent Response to Clarification", "Clarification Limits") -------------------
def test_q2_the_lab_answers_as_the_draft_says(world):
    lab, _ = world
    assert nb12.observe(lab) == nb12.EXPECTED


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check({situation: None for situation in nb12.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    namespace = {}
    exec(ex.q2.reference, namespace)
    assert ex.q2.check(namespace["answers"]).status == CORRECT


def test_q2_another_agent_is_not_told_403(world):
    _, ex = world
    result = ex.q2.check({**nb12.EXPECTED, nb12.OTHER_AGENT_ANSWERS: (403, "forbidden")})
    assert result.status == INCORRECT and "(404, 'not_found')" in result.message


def test_q2_a_cancelled_request_is_gone_not_denied(world):
    _, ex = world
    result = ex.q2.check({**nb12.EXPECTED, nb12.AFTER_CANCEL: (403, "denied")})
    assert result.status == INCORRECT and "410 Gone" in result.message


def test_q2_the_notebooks_stub_names_the_graders_situations():
    """The learner fills in the notebook's dict: its keys must be the ones graded."""
    source = (Path(__file__).parent.parent / "notebooks" / "src" / "12_clarification.py").read_text()
    stub_cell = source[source.index("answers = {") :]
    namespace = {}
    exec(stub_cell[: stub_cell.index("\n}\n") + 2], namespace)
    assert set(namespace["answers"]) == set(nb12.EXPECTED)
