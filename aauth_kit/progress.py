"""``aauth-kit progress``: how far each student got, read from their executed notebooks.

Each ``ex.qN.check(...)`` call in a notebook shows its result (``✔ correct: Q1 · …``) as
the cell's output; this reads those outputs, the latest run of each exercise winning.  Stored
outputs are whatever the file says, and a student can edit a file: ``--rerun`` runs each
notebook top to bottom in a fresh kernel in docs mode and grades the outputs of that run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

NOT_RUN = "not run"  # the notebook holds no result of the exercise's check()
CALL = re.compile(r"\bex\.(q\d+)\.check\(")
RESULT = re.compile(r"^[✔✘…■] (correct|incorrect|not attempted|lab stopped): (Q\d+) ·")
HEADER = ("student", "exercise", "status")


@dataclass(frozen=True)
class Row:
    student: str  # the notebook file, as given
    exercise: str  # "Q1"
    status: str  # correct, incorrect, not attempted, lab stopped, not run


def _text(cell) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _results(cell) -> dict[str, str]:
    """``{"Q1": status}`` from the check() results a code cell shows."""
    found = {}
    for output in cell.get("outputs", []):
        plain = output.get("data", {}).get("text/plain", "")
        match = RESULT.match(plain if isinstance(plain, str) else "".join(plain))
        if match:
            found[match[2]] = match[1]
    return found


def grade(notebook: dict, student: str) -> list[Row]:
    """One row per exercise whose check() the notebook calls, in order of first call."""
    latest: dict[str, tuple[int, str]] = {}  # exercise -> (execution count, status)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        results, order = _results(cell), cell.get("execution_count") or 0
        for question in CALL.findall(_text(cell)):
            exercise = question.upper()
            latest.setdefault(exercise, (-1, NOT_RUN))
            status = results.get(exercise)
            if status is not None and order >= latest[exercise][0]:
                latest[exercise] = (order, status)
    return [Row(student, exercise, status) for exercise, (_, status) in latest.items()]


def rerun(path: Path, timeout: int = 120) -> dict:
    """``path`` executed top to bottom in a fresh kernel (docs mode), errors and all."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env={**os.environ, "AAUTH_KIT_DOCS": "1"})
    return notebook


def progress(paths: list[Path], *, fresh: bool = False) -> list[Row]:
    rows = []
    for path in paths:
        notebook = rerun(path) if fresh else json.loads(path.read_text(encoding="utf-8"))
        rows += grade(notebook, str(path))
    return rows


def table(rows: list[Row]) -> str:
    lines = [HEADER, *((row.student, row.exercise, row.status) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(2)]
    return "\n".join(f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}".rstrip() for line in lines)


def as_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows((row.student, row.exercise, row.status) for row in rows)
    return out.getvalue()


def add_command(sub) -> None:
    """The ``progress`` subcommand of ``aauth-kit``."""
    p = sub.add_parser(
        "progress",
        help="grade executed student notebooks: student file, exercise, status",
        description="Read each notebook's check() results (correct / incorrect / not attempted / "
        "lab stopped / not run) and print them as a table or CSV. The stored outputs are what the "
        "file says; --rerun executes each notebook in a fresh kernel first and grades that run.",
    )
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="executed .ipynb files")
    p.add_argument("--csv", action="store_true", help="print CSV (header: student,exercise,status)")
    p.add_argument(
        "--rerun", action="store_true", help="run each notebook in a fresh kernel (docs mode) and grade that"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    """Exit 0 with the report, 2 when a notebook cannot be read."""
    try:
        rows = progress([Path(name) for name in args.notebooks], fresh=args.rerun)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read the notebooks: {exc}", file=sys.stderr)
        return 2
    print(as_csv(rows).rstrip("\n") if args.csv else table(rows))
    return 0
