"""The README's flow table: every flow of draft -11 → its notebooks, its servers, its tests.
Each row names a notebook that exists in notebooks/src (the issue is done when no row lacks
one), code and test files that exist, and only titles that are sections of the draft."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .test_citations import CITED_TITLE, DRAFT, SECTIONS

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Every flow of the draft"
COLUMNS = ["flow", "-11 sections", "notebooks", "servers", "tests"]
NAME = re.compile(r"`([^`]+)`")


def flow_rows() -> list[dict[str, str]]:
    """The table under :data:`HEADING`, one dict per row, keyed by :data:`COLUMNS`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS
    return [
        dict(zip(COLUMNS, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


ROWS = flow_rows()
IDS = [row["flow"].replace("`", "") for row in ROWS]
NOTEBOOKS = {path.stem for path in (ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")}


def test_the_table_has_the_draft_flows():
    flows = " ".join(row["flow"] for row in ROWS)
    for flow in (
        "two-party",
        "three-party",
        "four-party",
        "clarification",
        "sub-agents",
        "interaction chaining",
    ):
        assert flow in flows


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_flow_runs_in_a_notebook(row):
    named = NAME.findall(row["notebooks"])
    assert named, f"{row['flow']}: no notebook"
    assert [name for name in named if name not in NOTEBOOKS] == []


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_server_and_test_named_exists(row):
    servers, tests = NAME.findall(row["servers"]), NAME.findall(row["tests"])
    assert servers and tests, f"{row['flow']}: no server or no test"
    assert all(name.startswith("tests/test_") for name in tests)
    assert [name for name in servers + tests if not (ROOT / name).is_file()] == []


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_section_cited_is_a_heading_of_the_draft(row):
    cited = list(CITED_TITLE.finditer(row["-11 sections"]))
    assert cited, f"{row['flow']}: cites no section"
    assert [m["title"] for m in cited if m["title"] not in SECTIONS[DRAFT[m["draft"]]]] == []
