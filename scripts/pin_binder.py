"""Write ``binder/requirements.txt``: every package Binder installs, pinned (``make pins``).

The set is what pip resolves today for the kit's dependencies and its ``[lab]`` extra, as
in an empty environment (``--ignore-installed``) on Binder's Python (``binder/runtime.txt``):
``pip install --dry-run --report`` resolves without installing anything and lists every
package it would install, direct or indirect, with its version.  Wheels only
(``--only-binary=:all:``), since pip resolves for another Python version than the one
running it; Binder installs the same wheels.  The kit itself is not in the list: postBuild
installs it with ``--no-deps`` (a local reference would disable repo2docker's
pre-assembly of the dependency layer).

This script needs the package index; the tests only read its result
(``tests/test_binder.py``: the pins agree with ``pyproject.toml``).

Usage: ``python scripts/pin_binder.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
EXTRA = "lab"

HEADER = """\
# Every package Binder installs for aauth-kit, pinned. Written by scripts/pin_binder.py
# (`make pins`; do not edit by hand): pip {pip} resolved pyproject.toml's dependencies and
# its [{extra}] extra as for an empty environment on Python {python} (binder/runtime.txt):
#   pip install --dry-run --ignore-installed --target DIR --only-binary=:all: \\
#     --python-version {python} --report REPORT \\
{requirements}
# No "-e ." here, so Binder can build the dependency layer before the kit's own files;
# postBuild installs the kit itself with --no-deps.
"""


def requirements(pyproject: Path = ROOT / "pyproject.toml", extra: str = EXTRA) -> list[str]:
    """The kit's dependencies and those of its ``extra``, as written in ``pyproject``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"][extra]]


def python_version(runtime: Path = BINDER / "runtime.txt") -> str:
    """Binder's Python, ``3.12`` for ``python-3.12``."""
    return runtime.read_text().strip().removeprefix("python-")


def resolve(wanted: list[str], python: str) -> dict:
    """pip's installation report (``--report``) for ``wanted`` in an empty environment."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--target",  # with a target pip resolves for another Python (nothing is written)
                str(Path(folder) / "target"),
                "--only-binary=:all:",
                "--python-version",
                python,
                "--quiet",
                "--report",
                str(report),
                *wanted,
            ],
            check=True,
        )
        return json.loads(report.read_text())


def render(report: dict, *, wanted: list[str], python: str, pip: str) -> str:
    """``binder/requirements.txt``: the header, then ``name==version`` for every package the
    report installs, sorted by name."""
    pins = sorted(
        ((item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]),
        key=lambda pin: pin[0].lower(),
    )
    quoted = textwrap.wrap(" ".join(f"'{spec}'" for spec in wanted), 90, break_on_hyphens=False)
    header = HEADER.format(
        pip=pip, extra=EXTRA, python=python, requirements=" \\\n".join(f"#     {line}" for line in quoted)
    )
    return header + "".join(f"{name}=={version}\n" for name, version in pins)


def pip_version() -> str:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--version"], check=True, capture_output=True, text=True
    ).stdout.split()[1]


def main() -> None:
    wanted, python = requirements(), python_version()
    text = render(resolve(wanted, python), wanted=wanted, python=python, pip=pip_version())
    (BINDER / "requirements.txt").write_text(text)
    print(f"binder/requirements.txt: {text.count('==')} pins for Python {python}")


if __name__ == "__main__":
    main()
