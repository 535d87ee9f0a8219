"""Class mode: solution() waits for the teacher's release; hint() works as always."""

import os
import subprocess
import sys
import textwrap

import pytest

from aauth_kit.exercises import catalogue, class_mode, classroom, nb01

HELD = "in this class the solution is shown once your teacher releases it"


@pytest.fixture
def fresh(monkeypatch):
    """A kernel that has not seen class mode yet (the state is read once per process)."""
    monkeypatch.setattr(classroom, "_state", classroom._ClassMode(""))


def solution_text(exercise, capsys) -> str:
    exercise.solution()
    return capsys.readouterr().out


def test_off_by_default_the_solution_shows(fresh, capsys):
    assert not classroom.is_on()
    assert solution_text(nb01.q1, capsys) == nb01.q1.reference + "\n"


def test_class_mode_holds_the_solution_back_and_hints_still_work(fresh, capsys):
    class_mode()
    assert "solution() waits for your teacher's release" in capsys.readouterr().out
    out = solution_text(nb01.q1, capsys)
    assert HELD in out and nb01.q1.reference not in out
    assert out.startswith("Q1 · the signature base: ")
    nb01.q1.hint(2)
    assert capsys.readouterr().out.startswith("Hint 2/")


def test_a_release_file_shows_the_solution_without_a_restart(fresh, capsys, tmp_path):
    class_mode(releases=tmp_path)
    capsys.readouterr()
    assert HELD in solution_text(nb01.q2, capsys)
    (tmp_path / "01-q2").touch()  # the teacher releases one exercise
    assert solution_text(nb01.q2, capsys) == nb01.q2.reference + "\n"
    assert HELD in solution_text(nb01.q1, capsys)  # the other one still waits
    (tmp_path / "01").touch()  # ... then the whole notebook
    assert solution_text(nb01.q1, capsys) == nb01.q1.reference + "\n"


def test_all_releases_every_notebook(fresh, capsys, tmp_path):
    class_mode(releases=tmp_path)
    (tmp_path / "all").touch()
    exercise = catalogue.exercises("09")["q2"]
    assert solution_text(exercise, capsys).endswith(exercise.reference + "\n")


def test_a_student_cannot_point_class_mode_at_a_folder_of_their_own(fresh, tmp_path):
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    class_mode(releases=teacher)
    class_mode(releases=teacher)  # the same folder again is fine
    with pytest.raises(ValueError, match="reads its releases from"):
        class_mode(releases=student)
    assert classroom._state.releases == teacher and classroom.is_on()


def test_every_exercise_names_its_notebook():
    """The release names the notebook: every exercise carries it."""
    for notebook in catalogue.NOTEBOOKS:
        found = catalogue.exercises(notebook)
        assert sorted(found) == ["q1", "q2"]
        assert {exercise.notebook for exercise in found.values()} == {notebook}


def test_the_environment_switch_is_read_once_and_stays_on(tmp_path):
    """AAUTH_KIT_CLASS=<folder> at kernel start: changing the variable later turns nothing
    off, and a second folder is refused; the teacher's file releases."""
    script = textwrap.dedent(
        f"""
        import os, pathlib
        from aauth_kit.exercises import class_mode, nb02
        os.environ["AAUTH_KIT_CLASS"] = "0"  # a student's flip, after the kit read it
        nb02.q1.solution()
        try:
            class_mode(releases="elsewhere")
        except ValueError as exc:
            print("refused:", exc)
        pathlib.Path({str(tmp_path)!r}, "02").touch()
        nb02.q1.solution()
        """
    )
    env = {**os.environ, "AAUTH_KIT_CLASS": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    held, rest = out.split("refused:", 1)
    assert HELD in held and "def my_thumbprint" not in held
    assert f"reads its releases from {tmp_path}" in rest and "def my_thumbprint" in rest


@pytest.mark.parametrize("value", ["1", "yes", "ON"])
def test_the_switch_without_a_folder_holds_every_solution(value):
    assert classroom._ClassMode(value).on and classroom._ClassMode(value).releases is None
    assert not classroom._ClassMode("0").on and not classroom._ClassMode("").on
