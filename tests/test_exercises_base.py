"""The exercise mechanics (learntools style): not attempted / correct / incorrect."""

from types import SimpleNamespace

from aauth_kit.exercises import (
    CORRECT,
    INCORRECT,
    LAB_STOPPED,
    NOT_ATTEMPTED,
    Exercise,
    nb07,
    nb08,
    nb09,
    nb10,
    stub,
)
from aauth_kit.lab import Lab

EX = Exercise(
    title="Double it",
    grade=lambda f: None if f(2) == 4 else f"double(2) gave {f(2)!r}, expected 4",
    hints=("Multiply.", "Return x * 2."),
    reference="def double(x):\n    return x * 2",
)


def test_stub_and_none_are_not_attempted():
    assert EX.check().status == NOT_ATTEMPTED
    assert EX.check(stub).status == NOT_ATTEMPTED


def test_reference_passes_and_wrong_answer_fails():
    assert EX.check(lambda x: x * 2).status == CORRECT
    wrong = EX.check(lambda x: x + 1)
    assert wrong.status == INCORRECT and "gave 3" in wrong.message


def test_an_answer_that_raises_is_incorrect_with_the_reason():
    result = EX.check(lambda x: 1 / 0)
    assert result.status == INCORRECT and "ZeroDivisionError" in result.message


def test_hints_escalate_and_solution_prints(capsys):
    EX.hint()
    assert capsys.readouterr().out == "Hint 1/2: Multiply.\n"
    EX.hint(2)
    EX.hint(9)
    assert capsys.readouterr().out == "Hint 2/2: Return x * 2.\n" * 2
    EX.solution()
    assert capsys.readouterr().out == "def double(x):\n    return x * 2\n"


def test_hint_and_solution_show_their_text_once(capsys):
    """Printed, not also returned: Jupyter would show a returned text a second time."""
    assert EX.hint() is None and EX.solution() is None
    out = capsys.readouterr().out
    assert out.count("Multiply.") == 1 and out.count("return x * 2") == 1


def graded_against(lab) -> Exercise:
    def grade(answer):
        raise AssertionError("a stopped lab is never asked")

    return Exercise(title="Q9 · live", grade=grade, hints=("Ask the lab.",), reference="x = 1", lab=lab)


def test_a_stopped_lab_is_reported_never_graded(capsys):
    exercise = graded_against(SimpleNamespace(stopped=True))
    result = exercise.check(lambda: 1)
    assert result.status == LAB_STOPPED and not result.passed
    assert result.message == "Q9 · live: the lab is stopped: run the notebook from the top."
    assert "■ lab stopped" in repr(result) and "lab stopped" in result._repr_html_()
    assert exercise.check().status == NOT_ATTEMPTED  # nothing written yet: still "not attempted"
    exercise.hint()
    assert capsys.readouterr().out == (
        "Hint 1/1: Ask the lab.\n(the lab is stopped: run the notebook from the top.)\n"
    )


def test_a_running_lab_is_graded(capsys):
    exercise = Exercise(
        title="Q9", grade=lambda answer: None, hints=("h",), reference="", lab=SimpleNamespace(stopped=False)
    )
    assert exercise.check(1).status == CORRECT
    exercise.hint()
    assert "stopped" not in capsys.readouterr().out


def test_every_live_grader_says_its_lab_is_stopped(tmp_path, capsys):
    """Notebooks 07-10 grade against their lab: once it is stopped, every answer gets the
    same friendly sentence and every hint says it too, never an exception."""
    lab = Lab(mode="asgi", docs=True, data_dir=tmp_path)
    bound = [nb07.bind(lab).q2] + [q for ex in (nb08, nb09, nb10) for q in (ex.bind(lab).q1, ex.bind(lab).q2)]
    assert not lab.stopped
    lab.stop()
    assert lab.stopped
    for exercise in bound:
        result = exercise.check(lambda *args: None)
        assert result.status == LAB_STOPPED, result
        assert result.message.endswith("the lab is stopped: run the notebook from the top.")
        exercise.hint()
        assert "the lab is stopped: run the notebook from the top" in capsys.readouterr().out
