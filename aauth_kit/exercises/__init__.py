"""Exercises: one or more per notebook, each with ``check()``, ``hint()`` and ``solution()``.

The learner writes an answer in a cell (a function, a value, a header) and hands it to
the exercise; ``check()`` runs it against the live lab and says, in plain words, whether
it works and why not.  An untouched stub reports "not attempted" rather than a failure,
so Run All never shows red on an exercise the learner has not tried yet.

Style after Kaggle's learntools: ``ex.check(answer)``, ``ex.hint()``, ``ex.solution()``.
Tests prove for each exercise that the stub is "not attempted", the reference answer
passes and a plausible wrong answer fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .classroom import class_mode as class_mode  # a class's first cell: exercises.class_mode()
from .classroom import held_back

NOT_ATTEMPTED = "not attempted"
CORRECT = "correct"
INCORRECT = "incorrect"
LAB_STOPPED = "lab stopped"  # graded against a lab that no longer answers: nothing was graded
STOPPED_WORDS = "the lab is stopped: run the notebook from the top"


class NotAttempted(Exception):
    """Raised by a stub answer (``...`` body or ``None``)."""


@dataclass
class Result:
    """What ``check()`` found: a status and a sentence for the learner."""

    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == CORRECT

    def __repr__(self) -> str:  # what the notebook shows
        icon = {CORRECT: "✔", INCORRECT: "✘", NOT_ATTEMPTED: "…", LAB_STOPPED: "■"}[self.status]
        return f"{icon} {self.status}: {self.message}"

    def _repr_html_(self) -> str:
        from html import escape

        colour = {CORRECT: "#1a7f37", INCORRECT: "#cf222e", NOT_ATTEMPTED: "#6e7781", LAB_STOPPED: "#9a6700"}[
            self.status
        ]
        return f'<div style="color:{colour};font-weight:bold">{escape(repr(self))}</div>'


@dataclass
class Exercise:
    """One exercise.  ``grade(answer)`` returns ``None`` when the answer is right and a
    sentence saying what is wrong otherwise; it may raise :class:`NotAttempted`.

    ``lab`` is the lab the grade runs against, if any: while it is stopped, :meth:`check`
    grades nothing and says so, and :meth:`hint` adds that it is stopped.  ``notebook``
    (``"01"``) names the teacher's release of the solution in class mode (:mod:`.classroom`)."""

    title: str
    grade: Callable[[Any], str | None]
    hints: tuple[str, ...]
    reference: str  # the solution, as code the learner could have written
    success: str = "Well done."
    lab: Any = None
    notebook: str = ""

    @property
    def lab_stopped(self) -> bool:
        return self.lab is not None and self.lab.stopped

    def check(self, answer: Any = None) -> Result:
        if answer is None or answer is Ellipsis:
            return Result(NOT_ATTEMPTED, f"{self.title}: fill in your answer, then run check() again.")
        if self.lab_stopped:
            return Result(LAB_STOPPED, f"{self.title}: {STOPPED_WORDS}.")
        try:
            problem = self.grade(answer)
        except NotAttempted:
            return Result(NOT_ATTEMPTED, f"{self.title}: fill in your answer, then run check() again.")
        except Exception as exc:  # a learner's answer may raise anything; say what happened
            return Result(INCORRECT, f"{self.title}: your answer raised {type(exc).__name__}: {exc}")
        if problem is None:
            return Result(CORRECT, f"{self.title}: {self.success}")
        return Result(INCORRECT, f"{self.title}: {problem}")

    def hint(self, n: int = 1) -> None:
        """Print the ``n``-th hint (1-based); later hints say more.  Printed only, not
        returned: a notebook would show a returned text a second time."""
        number = min(max(n, 1), len(self.hints))
        text = f"Hint {number}/{len(self.hints)}: {self.hints[number - 1]}"
        if self.lab_stopped:
            text += f"\n({STOPPED_WORDS}.)"
        print(text)

    def solution(self) -> None:
        """Print the reference solution (printed only, like :meth:`hint`); in class mode,
        until the teacher releases it, say so instead."""
        print(held_back(self.notebook, self.title) or self.reference)

    def reference_answer(self, name: str) -> Any:
        """Run the solution as the learner would paste it and return what it defines as
        ``name`` (tests use it to prove the solution passes :meth:`check`)."""
        namespace: dict = {}
        exec(self.reference, namespace)  # the kit's own solution text, never learner input
        return namespace[name]


def stub(*args, **kwargs):
    """The body of an answer function the learner has not written yet."""
    raise NotAttempted


def status_and_code(given) -> tuple[int, str | None] | None:
    """``(status, error code)`` from a learner's prediction — ``code`` ``None`` when empty — or
    ``None`` when the answer has another shape."""
    if not isinstance(given, (tuple, list)) or len(given) != 2:
        return None
    status, code = given
    if not isinstance(status, int) or isinstance(status, bool) or not (code is None or isinstance(code, str)):
        return None
    return status, (code.strip() or None) if isinstance(code, str) else None


def grade_predictions(
    situations,
    observe: Callable[[], dict],
    why: dict[str, str],
    *,
    answerer: str,
    example: str = "e.g. (401, 'invalid_signature')",
) -> Callable[[Any], str | None]:
    """The grade of a "what does the server answer?" exercise: ``answers`` maps each of
    ``situations`` to ``(status, error code)``, compared with what ``observe()`` reports the
    lab really answered; a miss names the situation, the real answer and ``why[situation]``."""

    def grade(answers) -> str | None:
        if not isinstance(answers, dict):
            return "answers is a dict: situation → (status, error code)"
        if all(answers.get(situation) is None for situation in situations):
            raise NotAttempted
        for situation in situations:
            if status_and_code(answers.get(situation)) is None:
                return f"for {situation!r} give (status, error code), {example}"
        for situation, (status, code) in observe().items():
            given = status_and_code(answers[situation])
            if given == (status, code):
                continue
            said = "the status is right, but" if given[0] == status else "you said"
            return f"{situation}: {said} {given}, the {answerer} answered ({status}, {code!r}) — {why[situation]}."
        return None

    return grade
