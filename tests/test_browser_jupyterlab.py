"""Notebooks in a real JupyterLab in headless Debian Chromium:
what nbval cannot see — widgets rendered and clicked, SVG shown.

The harness test proves the set-up on a notebook written here (a button that prints
when clicked, an SVG).  The 06 test runs ``06_user_consent`` the way its cells say a
learner should, and approves with a click on the consent panel.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .jupyterlab import NotebookPage, copy_notebooks, start_jupyterlab

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
]  # hang guard for server start-up plus a whole notebook


@pytest.fixture(scope="module")
def jupyterlab(chromium, tmp_path_factory):
    """One JupyterLab for this module, serving a temporary copy of ``notebooks/``.

    Depends on ``chromium`` so that a machine without a browser skips (or fails) first.
    """
    workdir = tmp_path_factory.mktemp("jupyterlab")
    root = copy_notebooks(REPO / "notebooks", workdir / "notebooks")
    server = start_jupyterlab(root, workdir / "server")
    yield server
    server.stop()


@pytest.fixture
def lab_page(chromium):
    """A fresh page; JupyterLab's first load is slower than a plain page's."""
    with chromium.page(viewport={"width": 1400, "height": 1000}) as page:
        page.set_default_timeout(60_000)  # a hang guard, not a timed assertion
        yield page


# --------------------------------------------------------------------------- the harness

HARNESS_CELLS = [
    "import os\nprint('docs mode:', os.environ.get('AAUTH_KIT_DOCS'))",
    """\
import ipywidgets as widgets

out = widgets.Output()
button = widgets.Button(description="Say hello")
clicks = []


def on_click(_button):
    clicks.append(1)
    with out:
        print(f"hello from the kernel, click {len(clicks)}")


button.on_click(on_click)
widgets.VBox([button, out])""",
    """\
from IPython.display import SVG

SVG('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40">'
    '<rect width="160" height="40" fill="#eef"/><text x="10" y="25">harness</text></svg>')""",
]


def test_harness_run_all_click_and_svg(jupyterlab, lab_page):
    """Run All in JupyterLab, then a click on a widget button reaches the kernel and its
    print shows in the page; an SVG output is rendered; the kernel runs in docs mode."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in HARNESS_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab.root / "harness.ipynb")

    nb = NotebookPage(lab_page, jupyterlab, "harness.ipynb").open()
    nb.run("notebook:run-all-cells")

    assert "docs mode: 1" in nb.output(0).inner_text()
    button = nb.output(1).get_by_role("button", name="Say hello")
    button.click()
    nb.output(1).get_by_text("hello from the kernel, click 1").wait_for()
    button.click()
    nb.output(1).get_by_text("hello from the kernel, click 2").wait_for()

    svg = nb.output(2).locator(".jp-RenderedSVG img")
    svg.wait_for()
    assert svg.evaluate("img => img.complete && img.naturalWidth") == 160  # decoded as an image


# --------------------------------------------------------------------------- 06_user_consent


def test_06_user_consent_approved_by_a_click(jupyterlab, lab_page):
    """06 in JupyterLab: Run All (the 202, the approval over the PS's REST API, the auth
    token, the sequence diagram); then, as section 8 tells the learner, the flow runner's
    Run starts a flow that stops at the 202 (-11 "Deferred Responses"), the consent
    panel's Approve decides it, and the held poll returns the auth token: the runner
    shows the exchanges and their diagram."""
    nb = NotebookPage(lab_page, jupyterlab, "06_user_consent.ipynb").open()
    section_8 = nb.cell_index("FlowRunner(")
    nb.run("notebook:run-all-cells")

    # sections 4.5 and 4.6: the auth token decoded (also in the token inspector), the diagram
    assert '"typ": "aa-auth+jwt"' in nb.output(nb.cell_index("show.show(poll.response")).inner_text()
    assert (
        "aa-auth+jwt"
        in nb.output(nb.cell_index("TokenInspector(")).locator(".widget-html").first.inner_text()
    )
    diagram = (
        nb.output(nb.cell_index("SequenceDiagram(consent_steps")).locator(".jp-RenderedHTMLCommon img").first
    )
    assert diagram.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG decoded as an image

    # section 8, clicked
    view = nb.output(section_8)
    view.get_by_role("button", name="Run").click()
    view.get_by_text("→ 202 interaction code").first.wait_for()  # the flow waits for the person
    view.get_by_role("button", name="Refresh").click()
    view.get_by_text("Consent: aauth:yours@ps.example asks").first.wait_for()
    view.get_by_role("button", name="Approve").click()  # Playwright waits until it is enabled

    runner_state = view.locator(".aauth-card", has_text="Your agent optimizes").locator(".aauth-badge").first
    runner_state.filter(has_text=re.compile(r"^(done|failed)")).wait_for()
    text = view.inner_text()
    assert runner_state.inner_text() == "done", text
    assert "mcp-user approved this request" in text
    assert re.search(
        r"GET /pending/\S+ with agent token \(Prefer: wait=30\) → 200 auth_token", text
    )  # the held poll
    assert "POST /optimize with auth token → 200 OK" in text
    sequence = view.locator("svg").filter(has_text="200 auth_token")
    assert sequence.count() == 1 and sequence.is_visible()
