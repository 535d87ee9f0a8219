"""The exercise cells of a notebook: each ends in ``ex.qN.check(name)``; above that line,
the learner's answer (from ``def name(`` or ``name =``) and, above the answer, the cell's
own setup (importing the exercises, binding them to the lab)."""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECK = re.compile(r"^ex\.(?P<question>q\d+)\.check\((?P<name>\w+)\)[ \t]*$", re.M)


@dataclass(frozen=True)
class AnswerCell:
    index: int  # of the cell in the notebook
    question: str  # "q1"
    setup: str  # the code above the answer, kept as it is
    answer: str  # the learner's part: a stub until they write it
    check: str  # the line that grades it


def source(cell) -> str:
    """A cell's text, stored as one string or (in a notebook file) a list of lines."""
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def answer_cells(notebook) -> list[AnswerCell]:
    """The exercise cells of ``notebook`` (a notebook node, or the JSON of one), in order."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        match = CHECK.search(text)
        if match is None:
            continue
        before = text[: match.start()]
        start = re.search(rf"^(def {match['name']}\(|{match['name']}\s*=)", before, re.M)
        cut = start.start() if start else 0
        found.append(
            AnswerCell(index, match["question"], before[:cut], before[cut:].rstrip() + "\n", match[0])
        )
    return found


def with_answer(cell: AnswerCell, answer: str) -> str:
    """The cell's text with ``answer`` in place of the learner's part."""
    return f"{cell.setup}{answer.rstrip()}\n\n\n{cell.check}"
