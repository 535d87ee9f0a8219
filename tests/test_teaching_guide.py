"""docs/teaching.md: its minutes per notebook follow the method the guide states (markdown
words at 150 a minute, half a minute a code cell, 8 minutes an exercise asking for code and
4 one asking for values) and still match the notebooks, and every notebook has its row."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import REPO

GUIDE = REPO / "docs" / "teaching.md"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ROW = re.compile(
    r"^\| \[[^\]]+\]\(\.\./notebooks/(?P<stem>\w+)\.ipynb\) \| (?P<words>[\d,]+) \| (?P<reading>\d+) "
    r"\| (?P<cells>\d+) \| (?P<exercises>[^|]+) \| (?P<minutes>\d+) \|$",
    re.MULTILINE,
)
EXERCISE_MINUTES = {"code": 8, "predict": 4}
CHECK_CALL = re.compile(r"\bq\d+\.check\(")
TOLERANCE = 4  # minutes: small edits to a notebook leave its row standing


def rows() -> dict[str, dict]:
    return {match["stem"]: match.groupdict() for match in ROW.finditer(GUIDE.read_text())}


def estimate(words: int, cells: int, kinds: list[str]) -> float:
    return words / 150 + cells / 2 + sum(EXERCISE_MINUTES[kind] for kind in kinds)


def kinds(row: dict) -> list[str]:
    text = row["exercises"].strip()
    return [] if text == "—" else [kind.strip() for kind in text.split(",")]


def test_every_notebook_has_its_row():
    assert sorted(rows()) == [path.stem for path in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_rows_minutes_follow_the_stated_method_and_the_notebook(notebook):
    row = rows()[notebook.stem]
    words, cells = int(row["words"].replace(",", "")), int(row["cells"])
    assert int(row["reading"]) == round(words / 150)
    assert int(row["minutes"]) == round(estimate(words, cells, kinds(row)))

    notebook_cells = json.loads(notebook.read_text())["cells"]
    markdown = [("".join(cell["source"])) for cell in notebook_cells if cell["cell_type"] == "markdown"]
    code = ["".join(cell["source"]) for cell in notebook_cells if cell["cell_type"] == "code"]
    assert len(kinds(row)) == sum(len(CHECK_CALL.findall(source)) for source in code)
    measured = estimate(sum(len(text.split()) for text in markdown), len(code), kinds(row))
    assert abs(int(row["minutes"]) - measured) <= TOLERANCE, (
        f"{notebook.stem}: now about {measured:.0f} minutes"
    )


def test_the_totals_add_up():
    total = re.search(
        r"^\| \*\*all \w+\*\* \| ([\d,]+) \| (\d+) \| (\d+) \| (\d+) \| \*\*(\d+)\*\* \|$",
        GUIDE.read_text(),
        re.MULTILINE,
    )
    assert total, "the table ends with a totals row"
    listed = rows().values()
    assert int(total[1].replace(",", "")) == sum(int(row["words"].replace(",", "")) for row in listed)
    assert int(total[2]) == sum(int(row["reading"]) for row in listed)
    assert int(total[3]) == sum(int(row["cells"]) for row in listed)
    assert int(total[4]) == sum(len(kinds(row)) for row in listed)
    assert int(total[5]) == sum(int(row["minutes"]) for row in listed)
