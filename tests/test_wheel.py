"""The kit as a user gets it from a package: build the wheel, install it into a fresh
virtual environment, import every module from there and run the installed CLI.

The wheel is built from a copy of the repository without build isolation and installed
with ``--no-deps --no-index``; the fresh environment sees this environment's third-party
packages through a path file, never this checkout (it runs isolated, from a temporary
folder), so nothing here touches the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: What the wheel must hold: every module of the kit and of the cast, by import name.
SOURCES = {"aauth_kit": REPO / "aauth_kit", "aauth_kit.servers": REPO / "servers"}
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
    ".npm-peers", "node_modules", ".ipynb_checkpoints",
)  # fmt: skip


def expected_modules() -> set[str]:
    """Every ``.py`` file of the kit and the cast, as the dotted name it installs under."""
    names = set()
    for package, root in SOURCES.items():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.add(".".join((package, *parts)))
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed: ``{"python", "bin", "wheel", "env", "cwd"}``."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"),
         str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp / "dist").glob("aauth_kit-*.whl")
    env_dir = tmp / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # this environment's third-party packages (not its .pth files, so not the editable kit)
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    run_dir = tmp / "elsewhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return {
        "python": python,
        "bin": env_dir / "bin",
        "wheel": wheel,
        "env": env,
        "cwd": run_dir,
        "site": site,
    }


def test_the_wheel_holds_every_module(installed):
    """Packages are discovered, not listed by hand: a new subpackage is in the wheel."""
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        files = {name for name in wheel.namelist() if name.endswith(".py")}
    in_wheel = set()
    for name in files:
        parts = name[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        in_wheel.add(".".join(parts))
    assert expected_modules() <= in_wheel, sorted(expected_modules() - in_wheel)
    assert not any(name.startswith("servers/") for name in files), "the cast squats the top-level name"


def test_every_module_imports_from_the_installed_wheel(installed):
    """Each module imports in the fresh environment, from its site-packages (not this checkout)."""
    names = sorted(expected_modules())
    script = (
        "import importlib, sys\n"
        f"site = {installed['site']!r}\n"
        f"for name in {names!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(site), (name, module.__file__)\n"
        "print(len(sys.modules))\n"
    )
    done = subprocess.run(
        [str(installed["python"]), "-I", "-c", script],
        cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_installed_cli_runs_the_demo(installed):
    """``aauth-kit demo --approve`` from the wheel's console script: the seed's story, approved."""
    done = subprocess.run(
        [str(installed["bin"] / "aauth-kit"), "demo", "--approve"],
        cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Result (200):" in done.stdout
    assert '"recommendations"' in done.stdout
