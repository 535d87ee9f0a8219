"""``make assignments``: nbgrader source notebooks built from the kit's notebooks, graded by
nbgrader's own ``generate_assignment`` and ``autograde``: the reference submission gets full
marks, the students' version handed in untouched gets zero."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from aauth_kit.exercises import catalogue

from .conftest import REPO
from .test_make_lab import make_dry_run

BUILD = REPO / "scripts" / "build_assignments.py"
ASSIGNMENT = "aauth"


def build(output: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(BUILD), "--output", str(output), *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_every_exercise_becomes_a_solution_cell_and_a_test_cell_with_points(tmp_path):
    build(tmp_path)
    sources = sorted((tmp_path / "source").glob("*/*.ipynb"))
    assert [path.stem[:2] for path in sources] == list(catalogue.NOTEBOOKS)
    for path in sources:
        number = path.stem[:2]
        cells = nbformat.read(path, as_version=4).cells
        marked = [(cell, cell.metadata["nbgrader"]) for cell in cells if "nbgrader" in cell.metadata]
        assert len(marked) == 4, path.name
        for question, ((answer, solution), (check, test)) in zip(
            ("q1", "q2"), zip(marked[::2], marked[1::2])
        ):
            reference = catalogue.exercises(number)[question].reference.rstrip()
            assert solution["solution"] and not solution["grade"]
            assert f"### BEGIN SOLUTION\n{reference}\n### END SOLUTION" in answer.source
            assert test["grade"] and test["locked"] and test["points"] in (1, 2)
            assert f"ex.{question}.check(" in check.source and "assert check_result.passed" in check.source
        assert all(not cell.get("outputs") for cell in cells)


def nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "AAUTH_KIT_DOCS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs alembic
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(300)
def test_nbgrader_grades_the_reference_full_and_the_untouched_version_zero(tmp_path):
    pytest.importorskip("nbgrader", reason="make test installs nbgrader (the [grade] extra)")
    from nbgrader.api import Gradebook

    build(tmp_path, "--assignment", ASSIGNMENT)  # every notebook's exercises (about 100 s)
    nbgrader(tmp_path, "generate_assignment", ASSIGNMENT)
    release, source = tmp_path / "release" / ASSIGNMENT, tmp_path / "source" / ASSIGNMENT
    assert "### BEGIN SOLUTION" not in "".join(path.read_text() for path in release.glob("*.ipynb"))
    for student, handed_in in (("reference", source), ("untouched", release)):
        shutil.copytree(handed_in, tmp_path / "submitted" / student / ASSIGNMENT)
    nbgrader(tmp_path, "autograde", ASSIGNMENT, "--create")
    points = sum(
        cell.metadata["nbgrader"].get("points", 0)
        for path in source.glob("*.ipynb")
        for cell in nbformat.read(path, as_version=4).cells
        if "nbgrader" in cell.metadata
    )
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        full = gradebook.find_submission(ASSIGNMENT, "reference")
        untouched = gradebook.find_submission(ASSIGNMENT, "untouched")
        assert len(full.notebooks) == len(catalogue.NOTEBOOKS) and full.max_score == points
        assert [(nb.name, nb.score) for nb in full.notebooks] == [
            (nb.name, nb.max_score) for nb in full.notebooks
        ]
        assert [nb.score for nb in untouched.notebooks] == [0] * len(catalogue.NOTEBOOKS)


def test_make_assignments_installs_nbgrader_and_builds():
    commands = make_dry_run("assignments")
    assert ".[grade]" in commands and "scripts/build_assignments.py" in commands


def test_the_test_tool_chain_brings_nbgrader():
    """``make test`` installs [test], which holds [grade]: the grading test never skips in CI."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "aauth-kit[grade]" in extras["test"] and any(
        name.startswith("nbgrader") for name in extras["grade"]
    )
