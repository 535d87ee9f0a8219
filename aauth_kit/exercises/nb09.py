"""Exercises for notebook 09 (missions), graded against the live lab: ``ex = nb09.bind(lab)``.

* ``ex.q1`` — ``mission_s256(mission)``: from the ``mission`` member of a PS's approval
  (-11 "Mission Approval": the blob, base64url without padding) compute its ``s256`` — the
  base64url SHA-256 of exactly the decoded bytes.  The grader's own agent has a mission
  approved at the lab's PS; the learner's function gets that mission's blob string and
  must return the ``s256`` the PS returned with it.
* ``ex.q2`` — predict what the PS answers four requests naming a mission (-11 "Mission
  Endpoint Errors", "Mission Status Errors"): an unknown ``mission_s256`` (``404 mission_not_found``), a terminated mission
  (``403 mission_terminated``), another agent's mission (``404 mission_not_found``, the
  same answer as unknown) and a completion sent to a path segment that is no
  ``mission_s256`` (``400 invalid_request``).  The grader sends the four to the lab.
"""

from __future__ import annotations

import base64
import hashlib
import json

from ..keys import b64url, b64url_decode
from ..mission_client import Mission
from . import Exercise, NotAttempted
from .base import Grader, binding, json_body, outcome, prediction

#: The grader's agents, bootstrapped at the lab's Agent Provider for ``mcp-user``.
GRADER_AGENT = "exercise-09"
OTHER_AGENT = "exercise-09-other"
#: The grader's mission: Markdown with a non-ASCII character, as a person would write it.
DESCRIPTION = "# Réassort des portables\n\nCheck stock at the supply-chain agent — no orders."


class _Grader(Grader):
    """The lab, two agents of the grader's own, an active mission of the first and a
    terminated one — made on first use, then kept."""

    def __init__(self, lab):
        super().__init__(lab)
        self._active: Mission | None = None
        self._terminated: Mission | None = None

    def on_interaction(self, interaction) -> None:
        """The person approves each mission as soon as the agent shows the code (-11 "Mission Creation")."""
        self.lab.ps.decide(interaction.code, True)

    def _start(self, description: str) -> Mission:
        owner = self.agent(GRADER_AGENT)
        with self.lab.hosts.client(timeout=60) as client:
            return owner.start_mission(client, description)

    def active_mission(self) -> Mission:
        """A mission of the grader's agent that stays active."""
        if self._active is None:
            self._active = self._start(DESCRIPTION)
        return self._active

    def terminated_mission(self) -> Mission:
        """A mission of the grader's agent, completed."""
        if self._terminated is None:
            mission = self._start(DESCRIPTION + "\n\n(a mission that ends at once)")
            owner = self.agent(GRADER_AGENT)
            with self.lab.hosts.client(timeout=60) as client:
                owner.complete_mission(client, "Done.")
            self._terminated = mission
        return self._terminated

    def post(self, local: str, url: str, body: dict) -> tuple[int, str | None]:
        """A JSON ``POST`` signed by agent ``local`` with its agent token; ``(status, error)``."""
        return outcome(self.send_signed(local, "POST", url, *json_body(body)))


# -- q1: s256 from the blob -------------------------------------------------------------------------
def _padded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _wrong_answers(encoded: str) -> dict[str, str]:
    """What a plausible mistake computes, and what to say about it."""
    blob = b64url_decode(encoded)
    document = json.loads(blob)
    sha = hashlib.sha256(blob).digest()
    said = {
        b64url(
            hashlib.sha256(encoded.encode()).digest()
        ): "you hashed the base64url text; decode it first — s256 is over the blob's bytes",
        sha.hex(): "right bytes, wrong spelling: s256 is the digest in base64url without padding, not hex",
        base64.urlsafe_b64encode(
            sha
        ).decode(): "right digest, but drop the '=' padding (base64url without padding)",
        base64.b64encode(
            sha
        ).decode(): "right digest, but write it in base64url (- and _, no padding), not base64",
    }
    for options in ({}, {"separators": (",", ":")}, {"sort_keys": True}, {"ensure_ascii": False}):
        reserialized = json.dumps(document, **options).encode()
        if reserialized != blob:
            said[b64url(hashlib.sha256(reserialized).digest())] = (
                "you hashed the JSON after decoding and re-serializing it; those are other bytes. Hash exactly "
                "the decoded bytes — that is why an agent keeps them verbatim"
            )
    return said


def _grade_s256(grader: _Grader):
    def grade(answer) -> str | None:
        mission = grader.active_mission()
        encoded = b64url(mission.blob)  # the approval's "mission" member, as the PS sent it
        given = answer(encoded)
        if given is None:
            raise NotAttempted
        if isinstance(given, bytes):
            return "return the s256 as a str (base64url text), not bytes"
        if not isinstance(given, str):
            return f"return a str, not {type(given).__name__}"
        if given == mission.s256:
            return None
        return _wrong_answers(encoded).get(
            given.strip(),
            (
                f"the PS's s256 for this mission is {mission.s256}; yours is {given!r}. Decode the base64url "
                "blob to bytes, take their SHA-256, and write the digest in base64url without padding"
            ),
        )

    return grade


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="09",
        title="Q1 · a mission's s256",
        grade=_grade_s256(grader),
        hints=(
            "Two steps back and two forward: base64url → bytes; bytes → SHA-256 digest → base64url.",
            "aauth_kit.keys has b64url_decode and b64url (both without padding); hashlib.sha256(blob).digest() "
            "is the digest. Never json.loads and json.dumps in between.",
        ),
        reference=(
            "import hashlib\n"
            "from aauth_kit.keys import b64url, b64url_decode\n\n"
            "def mission_s256(mission):\n"
            "    blob = b64url_decode(mission)\n"
            "    return b64url(hashlib.sha256(blob).digest())"
        ),
        success="the same s256 the PS returned — computed over the exact bytes, not over a re-serialization.",
        lab=grader.lab,
    )


# -- q2: what does the PS answer? -------------------------------------------------------------------
UNKNOWN = "the agent asks for a person token naming a mission_s256 the PS never issued"
TERMINATED = "the agent asks for a person token naming its own mission, which it has completed"
NOT_OWNED = "another agent asks for a person token naming this agent's active mission"
BAD_SEGMENT = 'the agent completes a mission at {mission_endpoint}/not-a-hash ({"action": "completion", …})'

#: What -11 "Mission Endpoint Errors" and "Mission Status Errors" say the PS answers each.
EXPECTED = {
    UNKNOWN: (404, "mission_not_found"),
    TERMINATED: (403, "mission_terminated"),
    NOT_OWNED: (404, "mission_not_found"),
    BAD_SEGMENT: (400, "invalid_request"),
}
_WHY = {
    UNKNOWN: "the mission_s256 is well formed but names no mission: 404 mission_not_found",
    TERMINATED: "the PS knows the mission and that it ended: 403 mission_terminated, with mission_status and "
    "termination_reason in the problem body — every PS endpoint answers a dead mission so",
    NOT_OWNED: "a mission belongs to one agent; to anyone else the PS answers exactly as if it did not exist "
    "(404 mission_not_found), so nobody can probe which missions exist",
    BAD_SEGMENT: "the path segment must be a mission_s256 (43 base64url characters): anything else is a malformed "
    "request, 400 invalid_request, before the PS looks anything up",
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the four requests of ``q2`` to the lab's PS; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    ps, sca = grader.ps, grader.lab.identifiers["supply_chain"]
    terminated, active = grader.terminated_mission(), grader.active_mission()

    def person_token(local: str, s256: str) -> tuple[int, str | None]:
        return grader.post(local, f"{ps}/person-token", {"resource": sca, "mission_s256": s256})

    return {
        UNKNOWN: person_token(GRADER_AGENT, b64url(hashlib.sha256(b"no such mission").digest())),
        TERMINATED: person_token(GRADER_AGENT, terminated.s256),
        NOT_OWNED: person_token(OTHER_AGENT, active.s256),
        BAD_SEGMENT: grader.post(
            GRADER_AGENT, f"{ps}/mission/not-a-hash", {"action": "completion", "summary": "x"}
        ),
    }


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="09",
        title="Q2 · what does the PS answer?",
        hints=(
            "First the request's shape (400), then whether this agent has such a mission (404), then whether it is "
            "still active (403).",
            "The codes are mission_not_found, mission_terminated and invalid_request. Ask yourself what a 403 for "
            "another agent's mission would tell a curious agent.",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="shape first (400), then existence for this agent (404, the same for someone else's), then "
        "state (403).",
        answerer="PS",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "OTHER_AGENT", "bind", "observe"]
