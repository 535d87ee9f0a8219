"""Exercises for notebook 12 (clarification chat), graded against the live lab: ``ex = nb12.bind(lab)``.

* ``ex.q1`` — ``answer_body(poll)``: given the JSON body of a poll that came back ``202`` with
  ``requirement=clarification`` (-11 "Clarification Required": ``status``, ``clarification``,
  ``timeout``, ``options``?), return the JSON body the agent POSTs to its pending URL to answer
  (-11 "Clarification Response": ``{"action": "clarification_response",
  "clarification_response": …}``).  The grader asks a real question about a request of its own
  agent, POSTs the learner's body, signed, and checks that the person sees the answer.
* ``ex.q2`` — predict what the PS answers four requests of the chat (-11 "Agent Response to
  Clarification", "Clarification Limits", "Polling Error Codes", "Pending URL Security").
"""

from __future__ import annotations

import contextlib

from ..headers import parse_requirement
from . import Exercise, NotAttempted
from .base import Grader, binding, json_body, outcome, prediction

#: The grader's agents, bootstrapped at the lab's Agent Provider for ``mcp-user``.
GRADER_AGENT = "exercise-12"
OTHER_AGENT = "exercise-12-other"
QUESTION = "Which warehouse will you optimize, **north** or **south**?"
OPTIONS = ["north", "south"]


class _Grader(Grader):
    """The lab, the grader's agents and the person, signed in at the PS's consent API."""

    def __init__(self, lab):
        super().__init__(lab)
        self.sca = lab.identifiers["supply_chain"]

    def send(self, local: str, method: str, url: str, body=None, *, token: str | None = None):
        """A request signed by agent ``local`` (with ``token``, default its agent token), with
        ``Prefer: wait=1`` (-11 "Polling with GET": the PS may then be polled at once)."""
        fields, data = json_body(body)
        return self.send_signed(local, method, url, [("Prefer", "wait=1"), *fields], data, token=token)

    @contextlib.contextmanager
    def person(self):
        """The seed's person, signed in at the consent API (Bearer)."""
        client = self.lab.hosts.client(timeout=60)
        try:
            login = client.post(f"{self.ps}/login", json={"username": "mcp-user", "password": "user123"})
            client.headers["Authorization"] = f"Bearer {login.json()['session']}"
            yield client
        finally:
            client.close()

    def pending(self) -> tuple[str, str]:
        """A consent request of the grader's agent that declares ``clarification``, opened by
        the person: ``(pending URL, pending id)``.  Person token, the SCA's resource token for
        ``POST /optimize``, then the auth token request (-11 "Agent Token Request")."""
        person_token = self.send(GRADER_AGENT, "POST", f"{self.ps}/person-token", {"resource": self.sca})
        token = person_token.json()["person_token"]
        challenge = self.send(GRADER_AGENT, "POST", f"{self.sca}/optimize", {}, token=token)
        resource_token = parse_requirement(challenge.headers["aauth-requirement"]).resource_token
        body = {
            "resource_token": resource_token,
            "presented_token": token,
            "capabilities": ["interaction", "clarification"],
        }
        deferred = self.send(GRADER_AGENT, "POST", f"{self.ps}/auth-token", body)
        code = parse_requirement(deferred.headers["aauth-requirement"]).code
        with self.person() as person:
            pending_id = person.get(f"{self.ps}/consent", params={"code": code}).json()["pending_id"]
        return deferred.headers["location"], pending_id

    def ask(self, pending_id: str, question: str = QUESTION, options=None) -> tuple[int, str | None]:
        with self.person() as person:
            body = {"question": question, **({"options": options} if options else {})}
            return outcome(person.post(f"{self.ps}/consent/{pending_id}/clarification", json=body))

    def view(self, pending_id: str) -> dict:
        with self.person() as person:
            return person.get(f"{self.ps}/consent/{pending_id}").json()


# -- q1: the answer's body --------------------------------------------------------------------------
def _grade_body(grader: _Grader):
    def grade(answer_body) -> str | None:
        url, pending_id = grader.pending()
        try:
            return _graded(grader, answer_body, url, pending_id)
        finally:  # the grader's request is withdrawn: its agent's pending requests are capped
            grader.send(GRADER_AGENT, "DELETE", url)

    return grade


def _graded(grader: _Grader, answer_body, url: str, pending_id: str) -> str | None:
    grader.ask(pending_id, QUESTION, OPTIONS)
    poll = grader.send(GRADER_AGENT, "GET", url).json()
    body = answer_body(dict(poll))
    if body is None:
        raise NotAttempted
    if isinstance(body, str):
        return "return the JSON object (a dict) to POST, not the answer's text alone: the PS needs its action"
    if not isinstance(body, dict):
        return f"return a dict (the JSON body), not {type(body).__name__}"
    status, error = outcome(grader.send(GRADER_AGENT, "POST", url, body))
    if status == 202:
        chat = grader.view(pending_id).get("clarification", {}).get("chat", [])
        if chat and chat[-1].get("answer") == body.get("clarification_response"):
            return None
        return "the PS took the POST but the person sees no answer"
    if "action" not in body:
        return (
            f"the PS answered ({status}, {error!r}): every POST to a pending URL names its action — "
            '"action": "clarification_response" (a missing action is 400, -11 "Agent Response to Clarification")'
        )
    if body["action"] != "clarification_response":
        return (
            f"the PS answered ({status}, {error!r}): the action is spelled clarification_response "
            "(updated_request is the other one), not " + repr(body["action"])
        )
    return (
        f"the PS answered ({status}, {error!r}): the answer's text goes in the member named like the "
        "action, clarification_response — a non-empty string (here perhaps one of the poll's options)"
    )


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="12",
        title="Q1 · answer the person's question",
        grade=_grade_body(grader),
        hints=(
            "The body names what it is (its action) and carries the answer's Markdown text.",
            'Two members: "action" and "clarification_response"; poll["options"] lists the choices the person '
            "offered, if any.",
        ),
        reference=(
            "def answer_body(poll):\n"
            '    choice = (poll.get("options") or ["I will tell you on the next page."])[0]\n'
            '    return {"action": "clarification_response", "clarification_response": f"The {choice} one."}'
        ),
        success="the PS took the answer (202, the agent polls on) and the person sees it on the consent page.",
        lab=grader.lab,
    )


# -- q2: what does the PS answer? -------------------------------------------------------------------
NO_ACTION = 'the agent POSTs {"clarification_response": "…"} (no action) to its pending URL'
OTHER_AGENT_ANSWERS = "another agent POSTs a clarification_response to this agent's pending URL"
SIXTH_QUESTION = "the person asks a sixth question about the same request (five were asked and answered)"
AFTER_CANCEL = "the agent polls its pending URL after it cancelled the request with DELETE"

#: What -11 says the PS answers each.
EXPECTED = {
    NO_ACTION: (400, "invalid_request"),
    OTHER_AGENT_ANSWERS: (404, "not_found"),
    SIXTH_QUESTION: (409, "conflict"),
    AFTER_CANCEL: (410, "invalid_code"),
}
_WHY = {
    NO_ACTION: '-11 "Agent Response to Clarification": "A server MUST reject a POST with a missing or '
    'unrecognized action value with 400 Bad Request"',
    OTHER_AGENT_ANSWERS: 'the pending URL answers only the agent that made the request (-11 "Pending URL '
    'Security": the agent is verified on every poll); to anyone else it does not exist',
    SIXTH_QUESTION: '-11 "Clarification Limits" recommends 5 rounds at most and "Clarification Chat Security" '
    "makes a maximum a MUST; the kit refuses the sixth as a conflict with the request's state",
    AFTER_CANCEL: '-11 "Cancel Request": "Subsequent requests to the pending URL return 410 Gone"',
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the four requests of ``q2`` to the lab's PS; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    answer = {"action": "clarification_response", "clarification_response": "The north one."}
    url, pending_id = grader.pending()
    grader.ask(pending_id)
    no_action = outcome(grader.send(GRADER_AGENT, "POST", url, {"clarification_response": "north"}))
    other = outcome(grader.send(OTHER_AGENT, "POST", url, answer))
    for round_ in range(4):  # one question is open: answer it, then four more rounds
        grader.send(GRADER_AGENT, "POST", url, answer)
        grader.ask(pending_id, f"And question {round_ + 2}?")
    grader.send(GRADER_AGENT, "POST", url, answer)
    sixth = grader.ask(pending_id, "And a sixth?")
    grader.send(GRADER_AGENT, "DELETE", url)
    return {
        NO_ACTION: no_action,
        OTHER_AGENT_ANSWERS: other,
        SIXTH_QUESTION: sixth,
        AFTER_CANCEL: outcome(grader.send(GRADER_AGENT, "GET", url)),
    }


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="12",
        title="Q2 · what does the PS answer?",
        hints=(
            "Think of who may touch the pending URL, what its POST must say, and what is left of it after a DELETE.",
            'The codes are invalid_request, not_found, conflict and invalid_code (-11 "Polling Error Codes": '
            "410 for a URL that is gone).",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="a self-describing POST (400 without its action), one agent per pending URL (404 for others), "
        "a bounded chat (409 past five rounds), and a URL gone after a cancel (410).",
        answerer="PS",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "OTHER_AGENT", "bind", "observe"]
