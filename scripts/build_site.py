"""Build the lessons' static site (``make docs``): Sphinx with myst-nb, from the notebooks
as committed (executed in docs mode; nothing is run), the README and the guides in docs/.

The sources are copied into a temporary folder laid out as in the repository, so the links
between them work on the site as they do in the repository; the configuration is
``docs/site/``.  Warnings fail the build.

Usage: ``python scripts/build_site.py [OUTPUT]`` (default ``_build/site``, git-ignored).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "docs" / "site"
PAGES = ["README.md", "docs/security.md", "docs/teaching.md"]


def stage(target: Path) -> None:
    """Copy the site's sources into ``target``, keeping their paths in the repository."""
    shutil.copy(CONFIG / "index.md", target / "index.md")
    sources = PAGES + [str(path.relative_to(ROOT)) for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    for name in sources:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, target / name)


def build(output: Path) -> int:
    """Build the HTML site into ``output``; Sphinx's exit status."""
    with tempfile.TemporaryDirectory(prefix="aauth-kit-site-") as staging:
        source = Path(staging) / "src"
        source.mkdir()
        stage(source)
        doctrees = Path(staging) / "doctrees"
        return build_main(
            ["-b", "html", "-q", "-W", "--keep-going", "-c", str(CONFIG), "-d", str(doctrees)]
            + [str(source), str(output)]
        )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "site"
    status = build(target.resolve())
    if status == 0:
        print(f"site: {target / 'index.html'}")
    sys.exit(status)
