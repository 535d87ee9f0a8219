"""Binder launch files: pinned, consistent with the
package's own requirements, and opening the start notebook.  The pins are written by
scripts/pin_binder.py; these tests read them and never reach the package index."""

from __future__ import annotations

import importlib.util
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .conftest import REPO

BINDER = REPO / "binder"
PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!-]+)")


def pins() -> dict[str, Version]:
    found = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        pin = PIN.fullmatch(line)
        assert pin, f"{line!r} is not an exact pin name==version (no markers, extras, ranges or comments)"
        name = canonicalize_name(pin["name"])
        assert name not in found, f"{name} is pinned twice"
        found[name] = Version(pin["version"])
    return found


def pin_script():
    spec = importlib.util.spec_from_file_location("pin_binder", REPO / "scripts" / "pin_binder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_runtime_dependency_is_pinned_within_the_package_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pins()
    lab = project["optional-dependencies"]["lab"]
    assert any(Requirement(spec).name == "jupyter-server-proxy" for spec in lab)
    for spec in project["dependencies"] + lab + ["ipywidgets>=8.1,<9", "ipykernel>=7"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is missing from binder/requirements.txt"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {requirement.specifier}"
        )


def test_pins_cover_more_than_the_direct_dependencies():
    # the resolved set: the jupyter stack and the libraries under it, not only what pyproject names
    pinned = pins()
    for indirect in ("jupyter-server", "tornado", "pyzmq", "anyio", "h11", "simpervisor", "traitlets"):
        assert indirect in pinned, f"{indirect} (an indirect dependency) is not pinned"


def test_requirements_say_how_they_were_made():
    text = (BINDER / "requirements.txt").read_text()
    header = text.split("\n")[0]
    assert "scripts/pin_binder.py" in header and "do not edit by hand" in text
    script = pin_script()
    python = script.python_version()
    assert f"Python {python} (binder/runtime.txt)" in text
    for spec in script.requirements():  # the header names what was resolved: pyproject's own lists
        assert f"'{spec}'" in text


def test_the_pin_script_writes_the_report_it_is_given():
    """``render`` with a report as ``pip install --dry-run --report`` writes it (no network)."""
    script = pin_script()
    report = {
        "version": "1",
        "install": [
            {"metadata": {"name": "starlette", "version": "1.10.0"}, "requested": True},
            {"metadata": {"name": "anyio", "version": "4.16.0"}, "requested": False},
            {"metadata": {"name": "Jinja2", "version": "3.1.6"}, "requested": False},
        ],
    }
    text = script.render(report, wanted=["starlette>=0.40"], python="3.12", pip="26.3")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["anyio==4.16.0", "Jinja2==3.1.6", "starlette==1.10.0"]
    assert "pip 26.3" in text and "'starlette>=0.40'" in text and "Python 3.12" in text
    assert script.requirements() == [
        *tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"],
        *tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lab"],
    ]


def test_requirements_do_not_install_the_kit_itself():
    # a local reference disables repo2docker's pre-assembly; postBuild installs the kit
    text = (BINDER / "requirements.txt").read_text()
    assert not re.search(r"^\s*(-e|\.)", text, re.MULTILINE)
    post_build = (BINDER / "postBuild").read_text()
    assert "pip install --no-cache-dir --no-deps -e ." in post_build
    assert "announcements" in post_build  # the news pop-up is switched off


def test_runtime_matches_requires_python():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert Requirement(f"python{project['requires-python']}").specifier.contains(Version(version))


def test_start_hands_over_to_the_server():
    lines = [line for line in (BINDER / "start").read_text().splitlines() if line.strip()]
    assert lines[0].startswith("#!") and lines[-1] == 'exec "$@"'
    assert (BINDER / "start").stat().st_mode & 0o111 and (BINDER / "postBuild").stat().st_mode & 0o111


def test_readme_badge_opens_the_start_notebook():
    readme = (REPO / "README.md").read_text()
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)\s]+\)", readme)
    assert badge and "labpath=notebooks%2F00_start.ipynb" in badge.group(0)
    assert (REPO / "notebooks" / "00_start.ipynb").exists()
