"""A notebook as students run it: top to bottom, then a middle cell again, then the rest.

Cells find the exchanges they show by what they are (a trace query), never by their place
in the trace, so running the cell that starts notebook 06's consent flow a second time —
right away, or after the whole notebook ran — leaves every later cell working. Cells that
use a token take it from the agent that holds it now, or check it at the moment it was
received, so a run from the middle after the end moved the clock on, rotated a key or
revoked an agent token works too (03, 05, 08).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.timeout(300)  # a hang guard: the notebook runs about three times


def cell_index(notebook, text: str) -> int:
    (index,) = [
        i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and text in cell.source
    ]
    return index


def run(notebook, *spans: slice) -> list[str]:
    """Run the code cells of ``notebook`` span after span in one kernel, as a student runs
    them (raises ``CellExecutionError`` on any error); the outputs of each cell run, as JSON."""
    cells = list(enumerate(notebook.cells))
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    shown = []
    with client.setup_kernel():
        for span in spans:
            for index, cell in cells[span]:
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    shown.append(json.dumps(cell.outputs))
    return shown


def test_06_runs_again_from_the_start_of_its_flow():
    notebook = nbformat.read(NOTEBOOKS / "06_user_consent.ipynb", as_version=4)
    start = cell_index(notebook, "start = lab.trace.mark()")
    # up to the flow's start, that cell twice, the rest; then from the start to the end again
    shown = run(notebook, slice(start + 1), slice(start, None), slice(start, None))
    assert not [text for text in shown if "Nothing to show" in text]
    poll_cell = notebook.cells[cell_index(notebook, "show.show(poll.response")]
    assert '\\"typ\\": \\"aa-auth+jwt\\"' in json.dumps(poll_cell.outputs)  # the auth token, decoded


def test_09_runs_again_from_section_5_after_the_mission_is_completed():
    """All of 09, then from section 5 (work under the mission) to the end again: the
    completion cell, finding the mission already completed, shows the completion it made
    instead of asking again, and every later cell works on what the first run recorded."""
    notebook = nbformat.read(NOTEBOOKS / "09_missions.ipynb", as_version=4)
    run(notebook, slice(None), slice(cell_index(notebook, "first = lab.trace.mark()"), None))
    completion_cell = notebook.cells[cell_index(notebook, "async def finish()")]
    assert "202" in json.dumps(completion_cell.outputs)


@pytest.mark.parametrize(
    ("name", "middle"),
    [
        # the identifier rules, then the rotation with the agent's current pair
        ("03_agent_tokens.ipynb", "check_agent_identifier(candidate, top_level=True)"),
        # the auth token's claims, then its check at the moment the agent received it
        ("05_ps_authorization.ipynb", "auth_claims = jws.decode_unverified(auth_token)"),
        # the revoked auth token, then the recovery with the fresh agent token the end left
        ("08_revocation.ipynb", 'send("POST", f"{SCA}/check", auth_token)'),
    ],
)
def test_runs_again_from_its_middle_after_the_end_moved_the_lab_on(name, middle):
    """All of the notebook, then from a middle cell to the end again: the end moved the clock
    past the tokens' exp (03, 05), rotated the agent's key (03) or revoked its agent token
    (08), and no cell run again raises."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    run(notebook, slice(None), slice(cell_index(notebook, middle), None))


def test_12_runs_again_from_each_section_that_starts_a_request():
    """All of 12, then from each section that starts a request of its own (1, 7, 8, 9, 10,
    11), from the person's decision (5) and from the middle code cell (where the classroom
    test starts) to the end again: no section meets what a later one left behind (the
    quitter's cancelled flow, a request of the limits), and a cell that continues a flow
    already over (5, the second cell of 7) runs too.  Sections 2 to 6 play section 1's
    request: the person redeems its interaction code once (section 2), so they run again
    from section 1."""
    notebook = nbformat.read(NOTEBOOKS / "12_clarification.ipynb", as_version=4)
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    starts = [
        cell_index(notebook, text)
        for text in (
            "agent = lab.new_agent(",  # 1
            'chat = person.get(f"{PS}/consent/',  # 5
            'checker = lab.new_agent("checker"',  # 7
            'quitter = lab.new_agent("quitter"',  # 8
            'hand = lab.new_agent("hand")',  # 9
            "tampered_url, tampered_id = new_request()",  # 10
            "from aauth_kit.exercises import nb12",  # 11
        )
    ]
    run(notebook, *(slice(start, None) for start in [code[0], *starts, code[len(code) // 2]]))
