"""``aauth-kit progress``: the exercise results of executed notebooks, stored or re-run."""

import json
from pathlib import Path

import nbformat
import pytest

from aauth_kit import cli, progress
from aauth_kit.exercises import catalogue
from aauth_kit.exercises.answer_cells import answer_cells, with_answer

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WRONG_Q2 = "def changed_component(original, tampered):\n    return '@method'"


def pasted(name: str, answers: dict[str, str]):
    """The repository's notebook with ``answers`` (question -> code) in its answer cells."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in answer_cells(notebook):
        if cell.question in answers:
            notebook.cells[cell.index].source = with_answer(cell, answers[cell.question])
    return notebook


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    """alice ran notebook 01 with the reference for Q1 and a wrong Q2; bob handed in 02
    untouched as the repository has it (run, nothing attempted); carol never ran hers;
    mallory edited the stored output of an untouched 01 to say correct."""
    folder = tmp_path_factory.mktemp("submissions")
    for student in ("alice", "bob", "carol", "mallory"):
        (folder / student).mkdir()
    alice = pasted(
        "01_http_signatures.ipynb", {"q1": catalogue.exercises("01")["q1"].reference, "q2": WRONG_Q2}
    )
    nbformat.write(alice, folder / "alice" / "01.ipynb")
    nbformat.write(progress.rerun(folder / "alice" / "01.ipynb"), folder / "alice" / "01.ipynb")
    (folder / "bob" / "02.ipynb").write_bytes((NOTEBOOKS / "02_signature_keys.ipynb").read_bytes())
    carol = nbformat.read(NOTEBOOKS / "02_signature_keys.ipynb", as_version=4)
    for cell in carol.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(carol, folder / "carol" / "02.ipynb")
    text = (NOTEBOOKS / "01_http_signatures.ipynb").read_text()
    forged = text.replace("\u2026 not attempted: Q1", "\u2714 correct: Q1")
    assert forged != text
    (folder / "mallory" / "01.ipynb").write_text(forged)
    return folder


def statuses(rows) -> list[tuple[str, str, str]]:
    return [(Path(row.student).parent.name, row.exercise, row.status) for row in rows]


def test_stored_outputs_give_each_status(submissions):
    paths = [submissions / "alice/01.ipynb", submissions / "bob/02.ipynb", submissions / "carol/02.ipynb"]
    assert statuses(progress.progress(paths)) == [
        ("alice", "Q1", "correct"),
        ("alice", "Q2", "incorrect"),
        ("bob", "Q1", "not attempted"),
        ("bob", "Q2", "not attempted"),
        ("carol", "Q1", "not run"),
        ("carol", "Q2", "not run"),
    ]


def test_stored_outputs_believe_an_edited_file_and_rerun_does_not(submissions):
    path = submissions / "mallory/01.ipynb"
    assert statuses(progress.progress([path]))[0] == ("mallory", "Q1", "correct")
    assert statuses(progress.progress([path], fresh=True)) == [
        ("mallory", "Q1", "not attempted"),
        ("mallory", "Q2", "not attempted"),
    ]


def test_the_latest_run_of_an_exercise_counts():
    """A check pasted in a new last cell and run after the first one wins, whatever its place."""

    def ran(count, shown):
        outputs = [{"data": {"text/plain": shown}}] if shown else []
        return {"cell_type": "code", "source": "ex.q1.check(f)", "execution_count": count, "outputs": outputs}

    notebook = {"cells": [ran(30, "\u2714 correct: Q1 · x: y"), ran(12, "\u2718 incorrect: Q1 · x: y")]}
    assert [row.status for row in progress.grade(notebook, "s")] == ["correct"]
    notebook["cells"].append(ran(None, None))  # a check cell not run: changes nothing
    assert [row.status for row in progress.grade(notebook, "s")] == ["correct"]


def test_the_command_prints_a_table_and_csv(submissions, capsys):
    paths = [str(submissions / "alice/01.ipynb"), str(submissions / "carol/02.ipynb")]
    assert cli.main(["progress", *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["student", "exercise", "status"]
    assert lines[1].split() == [paths[0], "Q1", "correct"] and lines[4].split() == [
        paths[1],
        "Q2",
        "not",
        "run",
    ]
    assert cli.main(["progress", "--csv", *paths]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "student,exercise,status",
        f"{paths[0]},Q1,correct",
        f"{paths[0]},Q2,incorrect",
        f"{paths[1]},Q1,not run",
        f"{paths[1]},Q2,not run",
    ]


def test_an_unreadable_notebook_is_exit_2(tmp_path, capsys):
    (tmp_path / "x.ipynb").write_text(json.dumps({"nbformat": 4}))
    assert cli.main(["progress", str(tmp_path / "x.ipynb")]) == 2
    assert cli.main(["progress", str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read the notebooks")
