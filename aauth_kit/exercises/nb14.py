"""Exercises for notebook 14 (the PS governance endpoints), graded against the live lab:
``ex = nb14.bind(lab)``.

* ``ex.q1`` — ``audit_record(mission_s256)``: the body of an audit request (-11 "Audit
  Request") recording a web search that found 12 flights.  The grader's agent, inside a
  mission the lab's PS approved, POSTs it to the ``audit_endpoint``; it must be answered
  ``201`` and the record must join the mission's log with ``action`` ``WebSearch`` and a
  ``result`` object.
* ``ex.q2`` — predict what the PS answers four governance requests (-11 "Audit Endpoint",
  "Interaction Endpoint Errors", "Interaction Response", "Mission Status Errors").  The person
  is not signed in at the PS, so the PS has no channel to them.
"""

from __future__ import annotations

from ..mission_client import Mission
from . import Exercise, NotAttempted
from .base import Grader, binding, json_body, outcome, prediction

#: The grader's agent, bootstrapped at the lab's Agent Provider for ``mcp-user``.
GRADER_AGENT = "exercise-14"
DESCRIPTION = "# Plan a trip to Tokyo\n\nSearch flights; book nothing."


class _Grader(Grader):
    """The lab, the grader's agent, an active mission of it and a completed one (made on first use)."""

    def __init__(self, lab):
        super().__init__(lab)
        self._missions: dict[str, Mission] = {}

    def on_interaction(self, interaction) -> None:
        """The person approves what the agent shows them at once."""
        self.lab.ps.decide(interaction.code, True)

    def mission(self, which: str) -> Mission:
        """``active`` or ``completed``: a mission of the grader's agent."""
        if which not in self._missions:
            agent = self.agent(GRADER_AGENT)
            with self.lab.hosts.client(timeout=60) as client:
                mission = agent.start_mission(client, f"{DESCRIPTION}\n\n({which})")
                if which == "completed":
                    agent.complete_mission(client, "Done.")
            self._missions[which] = mission
        return self._missions[which]

    def post(self, path: str, body) -> tuple[int, str | None]:
        """A JSON ``POST`` to the PS signed by the grader's agent; ``(status, error)``."""
        return outcome(self.send_signed(GRADER_AGENT, "POST", f"{self.ps}{path}", *json_body(body)))


# -- q1: an audit record -----------------------------------------------------------------------------
def _grade_record(grader: _Grader):
    def grade(answer) -> str | None:
        mission = grader.mission("active")
        body = answer(mission.s256)
        if body is None:
            raise NotAttempted
        if not isinstance(body, dict):
            return f"return the body as a dict, not {type(body).__name__}"
        if body.get("mission_s256") != mission.s256:
            return "an audit record names its mission: mission_s256 is REQUIRED — there is no audit outside a mission"
        if not isinstance(body.get("result"), dict):
            return "result is a JSON object (say {'status': 'completed', 'summary': 'Found 12 flights'}), not text"
        status, error = grader.post("/audit", body)
        if status != 201:
            return f"the PS answered {status} {error}: action is a REQUIRED string naming what was done"
        log = grader.lab.ps.store.mission_log(mission.s256, action="audit_record")
        if log[-1].details.get("action") != "WebSearch":
            return "the PS took it (201), but the action recorded is not 'WebSearch'"
        return None

    return grade


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="14",
        title="Q1 · an audit record",
        grade=_grade_record(grader),
        hints=(
            '-11 "Audit Request": mission_s256 and action are REQUIRED; description, parameters and result are not.',
            "parameters and result are JSON objects; description is Markdown text.",
        ),
        reference=(
            "def audit_record(mission_s256):\n"
            "    return {\n"
            "        'mission_s256': mission_s256,\n"
            "        'action': 'WebSearch',\n"
            "        'description': 'Searched for flights to Tokyo',\n"
            "        'result': {'status': 'completed', 'summary': 'Found 12 flights'},\n"
            "    }"
        ),
        success="201 Created, and the record is in the mission's log.",
        lab=grader.lab,
    )


# -- q2: what does the PS answer? -------------------------------------------------------------------
NO_MISSION = "the agent sends an audit record without mission_s256"
RELAY = "the agent asks the PS to relay an interaction URL and code to the person"
QUESTION = "the agent asks the PS to put a question to the person"
ENDED = "the agent asks permission for an action, naming a mission the person accepted as complete"

#: What -11 says the PS answers each, with the person not signed in at the PS.
EXPECTED = {
    NO_MISSION: (400, "invalid_request"),
    RELAY: (424, "interaction_unavailable"),
    QUESTION: (403, "user_unreachable"),
    ENDED: (403, "mission_terminated"),
}
_WHY = {
    NO_MISSION: "mission_s256 is REQUIRED at the audit endpoint: a malformed request",
    RELAY: "the PS has no channel to relay it; the agent can still direct the person to url and code itself "
    "— non-terminal, 424",
    QUESTION: "nobody can reach the person: the PS has no channel and the agent declared no interaction "
    "capability there — terminal",
    ENDED: "every PS endpoint answers a mission that has ended so, with mission_status and termination_reason",
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the four requests of ``q2`` to the lab's PS; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    ended = grader.mission("completed")
    relay = {"type": "interaction", "url": "https://booking.example/confirm", "code": "X7K2-M9P4"}
    return {
        NO_MISSION: grader.post("/audit", {"action": "WebSearch"}),
        RELAY: grader.post("/reach", relay),
        QUESTION: grader.post("/reach", {"type": "question", "question": "Window or aisle?"}),
        ENDED: grader.post("/permission", {"action": "SendEmail", "mission_s256": ended.s256}),
    }


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="14",
        title="Q2 · what does the PS answer?",
        hints=(
            "One is a malformed request, one a dead mission, and two are about reaching the person.",
            "Which of the two cannot-reach answers leaves the agent a way forward? That one is the 424.",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="a relay the PS cannot make is non-terminal (424); a question nobody can deliver is terminal (403).",
        answerer="PS",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "bind", "observe"]
