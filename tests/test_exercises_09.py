"""Notebook 09 exercises, graded against a live lab over loopback sockets (-11 "Mission Approval"
blob, "Mission Endpoint Errors"): stub → "not attempted", reference → passes, plausible wrong
answers → fail with a sentence that says why."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb09, stub
from aauth_kit.keys import b64url, b64url_decode
from aauth_kit.lab import Lab


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb09")) as lab:
        yield lab, nb09.bind(lab)


# -- q1: s256 = base64url(SHA-256(the decoded blob bytes)) (-11 "Mission Approval") --------------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def mission_s256(mission): ...  # the notebook's stub

    assert ex.q1.check(mission_s256).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_gives_the_ps_s256(world):
    lab, ex = world
    namespace = {}
    exec(ex.q1.reference, namespace)  # the solution the learner is shown runs as written
    assert ex.q1.check(namespace["mission_s256"]).status == CORRECT
    # graded against a mission the lab's PS really approved and stored
    agent_id = lab.ps.store.get_agent(
        f"aauth:{nb09.GRADER_AGENT}@ps.example", ap_issuer=lab.identifiers["ps"]
    ).agent_id
    seen = []
    ex.q1.check(lambda mission: seen.append(mission) or namespace["mission_s256"](mission))
    stored = lab.ps.store.get_mission(namespace["mission_s256"](seen[0]))
    assert stored is not None and stored.agent_id == agent_id and stored.blob == b64url_decode(seen[0])


def test_q1_hashing_a_reserialization_is_explained(world):
    _, ex = world

    def reserialized(mission):
        document = json.loads(b64url_decode(mission))
        return b64url(hashlib.sha256(json.dumps(document).encode()).digest())

    result = ex.q1.check(reserialized)
    assert result.status == INCORRECT and "re-serializing" in result.message and "verbatim" in result.message


def test_q1_hashing_the_base64_text_is_explained(world):
    _, ex = world
    result = ex.q1.check(lambda mission: b64url(hashlib.sha256(mission.encode()).digest()))
    assert result.status == INCORRECT and "decode it first" in result.message


def test_q1_the_digests_spelling(world):
    _, ex = world

    def digest(mission):
        return hashlib.sha256(b64url_decode(mission)).digest()

    assert "not hex" in ex.q1.check(lambda m: digest(m).hex()).message
    assert "padding" in ex.q1.check(lambda m: base64.urlsafe_b64encode(digest(m)).decode()).message
    assert "not base64" in ex.q1.check(lambda m: base64.b64encode(digest(m)).decode()).message
    assert "not bytes" in ex.q1.check(lambda m: b64url(digest(m)).encode()).message
    other = ex.q1.check(lambda m: "A" * 43)
    assert other.status == INCORRECT and "the PS's s256 for this mission is" in other.message


# -- q2: what the PS answers a request naming a mission (-11 "Mission Endpoint Errors", "Mission Status Errors") --------------------------
def test_q2_the_lab_answers_as_the_draft_says(world):
    """-11 "Mission Endpoint Errors": 404 mission_not_found (unknown or not owned), 403 mission_terminated, 400 invalid_request."""
    lab, _ = world
    assert nb09.observe(lab) == nb09.EXPECTED


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    assert ex.q2.check({situation: None for situation in nb09.EXPECTED}).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    assert ex.q2.check(dict(nb09.EXPECTED)).status == CORRECT
    namespace = {}
    exec(ex.q2.reference, namespace)
    assert ex.q2.check(namespace["answers"]).status == CORRECT


def test_q2_another_agents_mission_is_not_a_403(world):
    _, ex = world
    result = ex.q2.check({**nb09.EXPECTED, nb09.NOT_OWNED: (403, "forbidden")})
    assert result.status == INCORRECT
    assert "(404, 'mission_not_found')" in result.message and "as if it did not exist" in result.message


def test_q2_the_right_status_with_the_wrong_code(world):
    _, ex = world
    result = ex.q2.check({**nb09.EXPECTED, nb09.TERMINATED: (403, "revoked")})
    assert result.status == INCORRECT and "status is right" in result.message
    assert "termination_reason" in result.message


def test_q2_a_bad_segment_is_no_404(world):
    _, ex = world
    result = ex.q2.check({**nb09.EXPECTED, nb09.BAD_SEGMENT: (404, "mission_not_found")})
    assert result.status == INCORRECT and "400 invalid_request" in result.message


def test_q2_a_bare_code_asks_for_status_and_code(world):
    _, ex = world
    result = ex.q2.check({**nb09.EXPECTED, nb09.UNKNOWN: "mission_not_found"})
    assert result.status == INCORRECT and "(status, error code)" in result.message
    assert ex.q2.check(["mission_not_found"]).status == INCORRECT


def test_q2_the_notebooks_stub_names_the_graders_situations():
    """The learner fills in the notebook's dict: its keys must be the ones graded."""
    source = (Path(__file__).parent.parent / "notebooks" / "src" / "09_missions.py").read_text()
    stub_cell = source[source.index("answers = {") :]
    namespace = {}
    exec(stub_cell[: stub_cell.index("\n}\n") + 2], namespace)
    assert set(namespace["answers"]) == set(nb09.EXPECTED)
