"""Build the notebooks from their sources and run them in docs mode (``make notebooks``).

Each lesson is written as ``notebooks/src/NN_name.py`` in the "percent" format — cells
start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, every line starting with
``# ``); ``# %% tags=["nbval-ignore-output"]`` adds cell tags.  This script turns each
source into ``notebooks/NN_name.ipynb``, executes it top to bottom in a fresh kernel with
``AAUTH_KIT_DOCS=1`` (fixed clock, keys and ids), strips the widget state nbconvert would
store (random model ids) and writes it with its outputs, which nbval then compares.

Usage: ``python scripts/build_notebooks.py [NAME ...]`` (default: every source).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
TARGET = ROOT / "notebooks"
CELL = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> list:
    """Split a percent-format source into notebook cells."""
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines()
            )
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.splitlines():
        match = CELL.match(line)
        if match:
            flush()
            kind = "markdown" if match["markdown"] else "code"
            tags = json.loads(match["tags"]) if match["tags"] else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def stable_outputs(cell) -> list:
    """The same outputs on every build: adjacent stream chunks merged (the kernel splits a
    cell's prints at arbitrary points) and widget model ids replaced by the cell's id."""
    outputs = []
    for output in cell.outputs:
        previous = outputs[-1] if outputs else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
            continue
        view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
        if view is not None:
            view["model_id"] = f"{cell['id']}-widget"
        outputs.append(output)
    return outputs


def build(source: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = parse(source.read_text())
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.stem[:2]}-{index:03d}"  # stable ids: clean diffs
    os.environ["AAUTH_KIT_DOCS"] = "1"
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(TARGET)}}
    )
    client.execute()
    notebook.metadata.pop("widgets", None)  # random model ids; "Run All" recreates widgets
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = stable_outputs(cell)
    target = TARGET / f"{source.stem}.ipynb"
    nbformat.write(notebook, target)
    return target


def main(names: list[str]) -> int:
    sources = sorted(SOURCES.glob("*.py"))
    if names:
        sources = [s for s in sources if any(s.stem.startswith(n) for n in names)]
    for source in sources:
        print(f"building {source.stem} …", flush=True)
        build(source)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
