"""The exercise mechanics (learntools style): not attempted / correct / incorrect."""

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, Exercise, stub

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
    assert EX.hint() == "Multiply."
    assert EX.hint(2) == "Return x * 2."
    assert EX.hint(9) == "Return x * 2."
    assert "x * 2" in EX.solution()
    assert "Hint 1/2" in capsys.readouterr().out
