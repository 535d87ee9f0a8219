"""``make docs``: the lessons' static site (``scripts/build_site.py``, Sphinx with myst-nb).

The site is built once, into a temporary folder, from the notebooks as committed: every
notebook has its page, and every output stored in the notebook is on that page as stored —
text, the widgets' static HTML cards (or their text, for a widget that has none), never a
widget's JSON, and the sequence diagrams as stored: an image scaled to the column and a
fold with it at full size.  The landing
page leads to every lesson and guide.  Warnings fail the build, so a broken link does too.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .test_make_lab import make_dry_run

BUILD = REPO / "scripts" / "build_site.py"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BUILD_TIMEOUT = 110  # a hang guard: the build takes about ten seconds


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, str(BUILD), str(output)], capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return output


def outputs(notebook: Path) -> list[dict]:
    """The outputs stored in ``notebook``, in order."""
    cells = json.loads(notebook.read_text())["cells"]
    return [output for cell in cells for output in cell.get("outputs", [])]


def text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def as_shown(value: str | list[str]) -> str:
    """Stored text as a page shows it in a ``<pre>``: escaped, line ends as ``\\n``."""
    return html.escape(text(value).replace("\r\n", "\n").rstrip("\n"), quote=False)


def diagrams(notebook: Path) -> list[str]:
    """The sequence diagrams stored in ``notebook``: their HTML (the SVG as a ``data:`` image, a fold)."""
    return [
        text(o["data"]["text/html"]).strip()
        for o in outputs(notebook)
        if 'class="aauth-sequence"' in text(o.get("data", {}).get("text/html", ""))
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_page_shows_its_diagram_with_its_full_size_fold(site, notebook):
    page = site / "notebooks" / f"{notebook.with_suffix('.html').name}"
    assert page.is_file(), f"no page for {notebook.name}"
    stored = diagrams(notebook)
    assert stored, f"{notebook.name} has no committed diagram"
    shown = page.read_text()
    for diagram in stored:
        assert 'src="data:image/svg+xml;base64,' in diagram and "Full size" in diagram
        assert diagram in shown, f"{page.name} does not show a diagram of {notebook.name} as stored"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_stored_output_is_on_the_page_and_no_widget_json(site, notebook):
    page = (site / "notebooks" / f"{notebook.with_suffix('.html').name}").read_text()
    assert WIDGET_VIEW not in page and '"model_id"' not in page
    for output in outputs(notebook):
        data = output.get("data", {})
        if output["output_type"] == "stream":
            assert as_shown(output["text"]) in page
        elif "text/html" in data:  # the widgets' static card, tables
            assert text(data["text/html"]).strip() in page
        elif "text/plain" in data and "text/markdown" not in data:
            assert as_shown(data["text/plain"]) in page  # a widget with no card (06's runner): its text


def test_the_landing_page_leads_to_every_lesson_and_guide(site):
    index = (site / "index.html").read_text()
    for notebook in NOTEBOOKS:
        assert f'href="notebooks/{notebook.stem}.html"' in index
    for guide in ("teaching", "security"):
        assert (site / "docs" / f"{guide}.html").is_file()
        assert f'href="docs/{guide}.html"' in index
    assert ">Quick start<" in index  # the README, on the landing page
    assert not (site / "README.html").exists()


def test_every_lesson_page_launches_its_notebook_on_binder(site):
    for notebook in NOTEBOOKS:
        page = (site / "notebooks" / notebook.with_suffix(".html").name).read_text()
        assert (
            f"https://mybinder.org/v2/gh/aauth-kit/aauth-kit/main?urlpath=lab/tree/notebooks/{notebook.name}"
            in page
        )


def test_make_docs_installs_the_docs_extra_and_builds_into_a_git_ignored_folder():
    commands = make_dry_run("docs")
    installs = [line for line in commands.splitlines() if "pip install" in line and "-e" in line]
    assert installs == [installs[0]] and "'.[docs]'" in installs[0], commands
    assert "scripts/build_site.py" in commands
    assert "_build/" in (REPO / ".gitignore").read_text().splitlines()


def test_diagrams_fit_a_1280_px_window_and_keep_their_proportions(site, browser_page):
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    browser_page.goto((site / "notebooks" / "07_supply_chain_demo.html").as_uri())
    sizes = browser_page.eval_on_selector_all(
        ".cell_output .aauth-sequence > img",  # the scaled image (its full-size twin is folded)
        """images => images.map(img => {
            const box = img.getBoundingClientRect(), column = img.closest('.cell_output').getBoundingClientRect();
            return {width: box.width, height: box.height, column: column.width,
                    natural: img.naturalWidth, naturalHeight: img.naturalHeight};
        })""",
    )
    assert sizes and sizes[0]["natural"] > sizes[0]["column"]  # the capstone diagram is scaled down
    for size in sizes:
        assert size["width"] <= size["column"]
        assert size["height"] / size["width"] == pytest.approx(
            size["naturalHeight"] / size["natural"], rel=0.01
        )
    assert browser_page.evaluate("document.documentElement.scrollWidth") <= 1280
