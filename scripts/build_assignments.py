"""Build nbgrader source notebooks from the kit's notebooks (``make assignments``).

The output is an nbgrader course folder: ``nbgrader_config.py`` and
``source/NN_name/NN_name.ipynb``, one assignment per notebook with exercises.  In each
exercise cell the learner's part becomes an nbgrader solution cell holding the reference
answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the stub kept above it as a
comment), and its ``ex.qN.check(...)`` line moves to an autograded test cell that asserts
the check passed: 2 points for an exercise that asks for code, 1 for one that asks to
predict or fill in values.  Outputs are cleared; nbgrader's ``generate_assignment`` makes
the students' version (no solutions) and ``autograde`` grades what they hand in.

Usage: ``python scripts/build_assignments.py [--output DIR] [--assignment NAME] [NN ...]``
(default ``_build/assignments``, git-ignored; every notebook with exercises, each its own
assignment unless ``--assignment`` puts them all in one).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from aauth_kit.exercises import catalogue
from aauth_kit.exercises.answer_cells import AnswerCell, answer_cells

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CONFIG = """\
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "aauth-kit"
c.Execute.timeout = 120  # seconds a cell may take when autograde runs it (a lab's cell on a busy machine)
"""


def points(cell: AnswerCell) -> int:
    """2 for writing code (the stub is a function), 1 for predicting or filling in values."""
    return 2 if cell.answer.startswith("def ") else 1


def _nbgrader(grade_id: str, *, solution: bool, points: int = 0) -> dict:
    meta = {"grade": points > 0, "grade_id": grade_id, "locked": not solution, "schema_version": 3}
    meta |= {"solution": solution, "task": False}
    return meta | ({"points": points} if points else {})


def solution_cell(cell: AnswerCell, reference: str, grade_id: str):
    stub = "".join(f"# {line}".rstrip() + "\n" for line in cell.answer.rstrip().splitlines())
    text = (
        f"{cell.setup}# Your answer replaces the solution region; the exercise starts like this:\n{stub}"
        f"### BEGIN SOLUTION\n{reference.rstrip()}\n### END SOLUTION"
    )
    new = nbformat.v4.new_code_cell(text)
    new.metadata["nbgrader"] = _nbgrader(grade_id, solution=True)
    return new


def test_cell(cell: AnswerCell, grade_id: str, score: int):
    call = cell.check.strip()
    # printed, not the cell's value: nbgrader would read a value as a partial score
    text = f"check_result = {call}\nprint(repr(check_result))\nassert check_result.passed"
    new = nbformat.v4.new_code_cell(text)
    new.metadata["nbgrader"] = _nbgrader(grade_id, solution=False, points=score)
    return new


def source_notebook(path: Path):
    """The nbgrader source version of the notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    number = path.stem[:2]
    references = catalogue.exercises(number)
    cells = list(notebook.cells)
    for cell in reversed(answer_cells(notebook)):  # from the end: indices stay valid
        stem = f"nb{number}-{cell.question}"
        cells[cell.index : cell.index + 1] = [
            solution_cell(cell, references[cell.question].reference, f"{stem}-answer"),
            test_cell(cell, f"{stem}-check", points(cell)),
        ]
    for index, cell in enumerate(cells):
        cell["id"] = f"{number}-{index:03d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("tags", None)  # nbval's tags mean nothing to nbgrader
    notebook.cells = cells
    return notebook


def build(output: Path, numbers: list[str], assignment: str | None = None) -> list[Path]:
    """Write the course folder; every notebook in ``assignment`` if named, else one assignment each."""
    written = []
    (output / "source").mkdir(parents=True, exist_ok=True)
    (output / "nbgrader_config.py").write_text(CONFIG)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        number = path.stem[:2]
        if number not in catalogue.NOTEBOOKS or (numbers and number not in numbers):
            continue
        target = output / "source" / (assignment or path.stem) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(path), target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "assignments")
    parser.add_argument("--assignment", help="put the notebooks in one assignment of this name")
    parser.add_argument("numbers", nargs="*", metavar="NN", help="notebooks to build, e.g. 01 07")
    args = parser.parse_args(argv)
    for target in build(args.output, args.numbers, args.assignment):
        print(f"wrote {target.relative_to(args.output)}")
    print(f"nbgrader course folder: {args.output} (cd there, then: nbgrader generate_assignment NN_name)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
