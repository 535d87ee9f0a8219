"""The frame of a notebook's exercises graded against its live lab (notebooks 07 to 15):
``bind(lab)`` and the ``ex.q1``, ``ex.q2`` it returns, the "what does the server answer?"
exercise made from its table of situations, and the grader's own requests over the lab's
network.  A notebook's module keeps only its situations, reference answers and explanations."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..message import HttpMessage
from ..problem import error_code
from ..profile import sign_request
from ..signature_key import jwt_key
from . import Exercise, grade_predictions

#: The header field of a JSON body.
JSON = ("Content-Type", "application/json")


@dataclass(frozen=True)
class Exercises:
    """A notebook's exercises, graded against one lab."""

    q1: Exercise
    q2: Exercise


def binding(
    *questions: Callable[[Any], Exercise], grader: Callable[[Any], Any] | None = None
) -> Callable[[Any], Exercises]:
    """A notebook's ``bind(lab)``: one ``grader(lab)`` (by default the lab itself), handed to
    each of ``questions`` to make its exercise."""

    def bind(lab) -> Exercises:
        """The exercises, graded against ``lab`` over its network."""
        made = lab if grader is None else grader(lab)
        return Exercises(*(question(made) for question in questions))

    return bind


def prediction(
    *,
    notebook: str,
    title: str,
    hints: tuple[str, ...],
    grader,
    observe: Callable[[Any], dict],
    expected: dict,
    why: dict[str, str],
    success: str,
    **grading: str,
) -> Exercise:
    """A "what does the server answer?" exercise graded against ``grader.lab``: ``expected``
    maps each situation to ``(status, error code)``, and written out as ``answers`` it is the
    reference answer; ``observe(grader)`` mounts the situations in the lab and reports what it
    answered; ``grading`` (``answerer``, ``example``) goes to :func:`grade_predictions`."""
    rows = "".join(f"    {situation!r}: {answer!r},\n" for situation, answer in expected.items())
    return Exercise(
        notebook=notebook,
        title=title,
        grade=grade_predictions(expected, lambda: observe(grader), why, **grading),
        hints=hints,
        reference=f"answers = {{\n{rows}}}",
        success=success,
        lab=grader.lab,
    )


def send(lab, message: HttpMessage):
    """Send ``message`` exactly as it is over ``lab``'s network (not traced); the response."""
    headers = [(name, value) for name, value in message.headers if name.lower() != "host"]
    with lab.hosts.client(timeout=60) as client:
        return client.request(message.method, message.target_uri, headers=headers, content=message.body)


def json_body(body) -> tuple[list[tuple[str, str]], bytes]:
    """The header fields and the content of a request carrying ``body`` as JSON (none for ``None``)."""
    if body is None:
        return [], b""
    return [JSON], json.dumps(body).encode()


class Grader:
    """The lab a notebook's exercises are graded against, and the grader's own agents there:
    each bootstrapped at the lab's Agent Provider on first use, then kept."""

    #: What the person does with an interaction a grader's agent shows them (``None``: nothing).
    on_interaction: Callable[[Any], None] | None = None

    def __init__(self, lab):
        self.lab = lab
        self.ps = lab.identifiers["ps"]
        self._agents: dict[str, Any] = {}

    def agent(self, local: str):
        """The grader's agent ``local`` (``exercise-NN``), bootstrapped the first time it is asked for."""
        if local not in self._agents:
            self._agents[local] = self.lab.new_agent(local, on_interaction=self.on_interaction)
        return self._agents[local]

    def send_signed(self, local: str, method: str, url: str, fields=(), content=b"", *, key=None, token=None):
        """A request signed by agent ``local`` (or ``key``) at the lab's clock, presenting ``token``
        (default its agent token) in Signature-Key (Signature Keys -09 "JWT Confirmation Key (jwt)"),
        sent by :func:`send`; the response."""
        agent = self.agent(local)
        message = HttpMessage(method, url, list(fields), content)
        sign_request(
            message, key or agent.key, jwt_key(token or agent.agent_token), created=int(self.lab.clock())
        )
        return send(self.lab, message)


def error_of(response) -> str | None:
    """The error code of a response's problem body; ``None`` for a success."""
    return error_code(response.content)


def outcome(response) -> tuple[int, str | None]:
    """``(status, error code)`` of a response."""
    return response.status_code, error_of(response)
