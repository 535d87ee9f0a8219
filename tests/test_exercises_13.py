"""Notebook 13 exercises, graded against a live lab over loopback sockets (-11 "AAuth-Access
Response Header", "Authorization Endpoint Error Responses"): stub → "not attempted",
reference → passes, plausible wrong answers → fail with a sentence that says why."""

from __future__ import annotations

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb13, stub
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb13")) as lab:
        yield lab, nb13.bind(lab)


def request_with(authorization, *, sign_first=False):
    """An answer to q1 that sends ``authorization(session)``, signing before or after adding it."""

    def quotes_request(url, key, token, session, created):
        message = HttpMessage("GET", url)
        if sign_first:
            sign_request(message, key, jwt_key(token), created=created)
        message.headers.append(("Authorization", authorization(session)))
        if not sign_first:
            sign_request(message, key, jwt_key(token), created=created)
        return message

    return quotes_request


# -- q1: a call with a session token (-11 "AAuth-Access Response Header") ----------------------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def quotes_request(url, key, token, session, created): ...  # the notebook's stub

    assert ex.q1.check(quotes_request).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_gets_the_quotes(world):
    _, ex = world
    assert ex.q1.check(ex.q1.reference_answer("quotes_request")).status == CORRECT


def test_q1_a_bearer_token_is_explained(world):
    _, ex = world
    result = ex.q1.check(request_with(lambda session: f"Bearer {session}"))
    assert result.status == INCORRECT and "scheme AAuth" in result.message


def test_q1_a_header_added_after_signing_is_explained(world):
    _, ex = world
    result = ex.q1.check(request_with(lambda session: f"AAuth {session}", sign_first=True))
    assert result.status == INCORRECT and "must cover authorization" in result.message


def test_q1_another_token_is_explained(world):
    _, ex = world
    result = ex.q1.check(request_with(lambda session: "AAuth not-the-session"))
    assert result.status == INCORRECT and "found no session" in result.message


def test_q1_wrong_answers_leave_nothing_pending(world):
    lab, ex = world
    for _ in range(6):  # more than the supplier holds for one key
        ex.q1.check(request_with(lambda session: "AAuth not-the-session"))
    assert ex.q1.check(ex.q1.reference_answer("quotes_request")).status == CORRECT


# -- q2: what the authorization endpoint answers (-11 "Authorization Endpoint Error Responses") ---------
def test_q2_the_lab_answers_as_the_draft_says(world):
    lab, _ = world
    assert nb13.observe(lab) == nb13.EXPECTED
    assert nb13.observe(lab) == nb13.EXPECTED  # and again: the grader starts afresh each time


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check({situation: None for situation in nb13.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    assert ex.q2.check(ex.q2.reference_answer("answers")).status == CORRECT


def test_q2_the_signature_status_for_a_bad_person_token_is_explained(world):
    _, ex = world
    said = {**nb13.EXPECTED, nb13.OTHER_AUD: (401, "invalid_jwt")}
    result = ex.q2.check(said)
    assert result.status == INCORRECT and "not the 401" in result.message


def test_q2_asking_again_is_not_another_wait(world):
    _, ex = world
    said = {**nb13.EXPECTED, nb13.AGAIN: (202, None)}
    result = ex.q2.check(said)
    assert result.status == INCORRECT and "already authorized" in result.message
