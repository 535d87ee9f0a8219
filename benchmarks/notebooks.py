"""Benchmark 7: wall time to execute every notebook.

Each lesson source ``notebooks/src/NN_*.py`` is turned into a notebook and executed top
to bottom in a fresh kernel in docs mode, exactly as ``scripts/build_notebooks.py``
does, but nothing is written.  Skipped in the quick pass (the key is then ``null``).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from .harness import Settings

ROOT = Path(__file__).resolve().parent.parent


def builder():
    """``scripts/build_notebooks.py`` as a module (``scripts/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def execute(build, source: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = build.parse(source.read_text())
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(build.TARGET)}}
    )
    client.execute()


def run(settings: Settings) -> dict:
    if not settings.notebooks:
        return {
            "notebooks_total_s": None,
            "notes": {"notebooks_total_s": f"skipped in the {settings.name} pass (run `make bench` for it)"},
        }
    build = builder()
    sources = sorted(build.SOURCES.glob("*.py"))
    times, failed = {}, {}
    previous = os.environ.get("AAUTH_KIT_DOCS")
    os.environ["AAUTH_KIT_DOCS"] = "1"  # what `make notebooks` runs them in
    try:
        for source in sources:
            started = time.perf_counter()
            try:
                execute(build, source)
            except Exception as error:  # a notebook being rewritten: say so, time the rest
                failed[source.stem] = (
                    f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:200] if str(error).strip() else ''}"
                )
                continue
            times[source.stem] = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("AAUTH_KIT_DOCS", None)
        else:
            os.environ["AAUTH_KIT_DOCS"] = previous
    notes = {f"notebook {name}": f"failed, not counted: {why}" for name, why in failed.items()}
    return {
        "notebooks_total_s": sum(times.values()) if times else None,
        "notebooks_executed": len(times),
        "notebooks_seconds": times,
        "notes": notes,
    }
