"""Every notebook as a student meets it, in a real JupyterLab in headless Chromium at a
1,280 px window: Run All, then each exercise's own solution pasted into a new last cell
is graded correct; every sequence diagram fits the cell it is shown in; a notebook run
top to bottom, then from a middle cell again, raises nothing; and the backend page's
consent link, opened from notebook 07's lab, leads to the PS's page, where the person
signs in and approves.

One JupyterLab serves the module; the notebooks run one after another in it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .jupyterlab import NotebookPage, copy_notebooks, start_jupyterlab

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WINDOW = {"width": 1280, "height": 900}

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # hang guard: a notebook and its exercises

#: The exercise checks in a notebook: ``ex.q1.check(name)``.
CHECK = re.compile(r"^(ex\.q\d+)\.check\((\w+)\)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def jupyterlab(chromium, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("jupyterlab-classroom")
    root = copy_notebooks(REPO / "notebooks", workdir / "notebooks")
    server = start_jupyterlab(root, workdir / "server")
    yield server
    server.stop()


@pytest.fixture
def lab_page(chromium):
    with chromium.page(viewport=WINDOW) as page:
        page.set_default_timeout(60_000)  # a hang guard, not a timed assertion
        yield page


def text_of(outputs: list[dict]) -> str:
    """What a cell shows as text: its streams and the plain text of its results."""
    parts = []
    for output in outputs:
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append("".join(output["data"].get("text/plain", "")))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def diagram_sizes(page) -> list[dict]:
    """Each diagram image shown in the notebook (not the full-size one in its closed fold):
    its width and its cell's output width."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .aauth-sequence img')]
              .filter(img => !img.closest('details'))
              .map(img => {
                const box = img.getBoundingClientRect();
                const area = img.closest('.jp-OutputArea-output').getBoundingClientRect();
                return {width: box.width, right: box.right, area: area.width, area_right: area.right,
                        natural: img.naturalWidth};
              })"""
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_run_all_then_each_solution_is_graded_correct_and_diagrams_fit(jupyterlab, lab_page, notebook):
    """Run All raises nothing; every diagram is no wider than its cell at 1,280 px; then for
    each exercise, ``ex.qN.solution()`` in a new last cell, its text run in another one with
    ``ex.qN.check(answer)``, shows "correct"."""
    began = time.monotonic()
    nb = NotebookPage(lab_page, jupyterlab, notebook).open()
    nb.run("notebook:run-all-cells")
    ran = time.monotonic() - began

    sizes = diagram_sizes(lab_page)
    for size in sizes:
        assert size["natural"] > 0, size  # decoded
        assert size["width"] <= size["area"] and size["right"] <= size["area_right"] + 0.5, size
    if notebook >= "01":  # every lesson draws its flows
        assert sizes, f"{notebook}: no diagram shown"

    checks = CHECK.findall("\n".join(source for _, source in nb.code_sources()))
    if notebook >= "01":
        assert checks, f"{notebook}: no exercise found"
    for exercise, answer in checks:
        solution = text_of(nb.append_and_run(f"{exercise}.solution()"))
        assert solution.strip(), f"{notebook} {exercise}: solution() showed nothing"
        graded = text_of(nb.append_and_run(f"{solution}\n{exercise}.check({answer})"))
        assert graded.startswith("✔ correct"), f"{notebook} {exercise}: {graded}"
    print(
        f"{notebook}: Run All {ran:.1f} s, all {time.monotonic() - began:.1f} s; "
        f"diagrams {[round(s['width']) for s in sizes]} px in cells of "
        f"{sorted({round(s['area']) for s in sizes})} px; exercises {[e for e, _ in checks]}"
    )


#: The cell run again: in 06, 07 and 15 the one that starts the main flow, else the middle code cell.
MIDDLE = {
    **dict.fromkeys(NOTEBOOKS),
    "06_user_consent.ipynb": "start = lab.trace.mark()",
    "07_supply_chain_demo.ipynb": "job_start = lab.trace.mark()",
    "15_subagents_and_chaining.ipynb": "chain_start = lab.trace.mark()",
}


@pytest.mark.parametrize("notebook", sorted(MIDDLE))
def test_run_all_then_a_middle_cell_again_then_the_rest_raises_nothing(jupyterlab, lab_page, notebook):
    nb = NotebookPage(lab_page, jupyterlab, notebook).open()
    nb.run("notebook:run-all-cells")
    if MIDDLE[notebook]:
        middle = nb.cell_index(MIDDLE[notebook])
    else:
        code = [index for index, _ in nb.code_sources()]
        middle = code[len(code) // 2]
    began = time.monotonic()
    nb.rerun_from(middle)  # raises naming any cell with an error output
    print(f"{notebook}: from cell {middle} again in {time.monotonic() - began:.1f} s")


def test_07_backend_page_consent_link_opens_the_ps_and_the_approval_comes_back(jupyterlab, lab_page):
    """After Run All in 07, the backend page from its link: the button starts a job, the
    page's "Open the consent page" link opens the PS's page (a loopback URL the browser
    reaches, not ``https://ps.example``), the person signs in and approves, the PS sends the
    browser back to the backend's callback page, and the job completes."""
    nb = NotebookPage(lab_page, jupyterlab, "07_supply_chain_demo.ipynb").open()
    nb.run("notebook:run-all-cells")
    link = nb.output(nb.cell_index('lab.link("backend")')).get_by_role("link")
    with lab_page.context.expect_page() as opened:
        link.click()
    backend = opened.value
    backend.wait_for_load_state()
    assert backend.text_content("h1") == "Laptop supply chain"
    backend.click("#optimize")
    backend.wait_for_selector("#consent:not([hidden])")
    code = backend.text_content("#code")
    href = backend.get_attribute("#consent-link", "href")
    assert href.startswith("http://127.0.0.1:") and f"code={code}" in href, href

    with backend.context.expect_page() as opened:
        backend.click("#consent-link")
    consent = opened.value
    consent.wait_for_load_state()
    consent.fill("#username", "mcp-user")
    consent.fill("#password", "user123")
    consent.click("button[type=submit]")
    consent.wait_for_selector("button[value=approve]")
    assert code in consent.text_content("body")
    consent.click("button[value=approve]")
    consent.wait_for_selector("#message")  # the backend's callback page
    assert consent.url.startswith(backend.url.rstrip("/") + "/callback?request_id=")
    assert "reached the Person Server" in consent.text_content("#message")
    backend.locator("#status", has_text=re.compile("^(completed|failed)$")).wait_for()
    assert backend.text_content("#status") == "completed", backend.text_content("body")
    assert backend.is_visible("#result")
