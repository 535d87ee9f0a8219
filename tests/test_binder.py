"""Binder launch files: pinned, consistent with the
package's own requirements, and opening the start notebook."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .conftest import REPO

BINDER = REPO / "binder"


def pins() -> dict[str, Version]:
    found = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            found[canonicalize_name(name)] = Version(version)
    return found


def test_every_runtime_dependency_is_pinned_within_the_package_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for spec in project["dependencies"] + ["ipywidgets>=8.1,<9", "ipykernel>=7"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is missing from binder/requirements.txt"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {requirement.specifier}"
        )


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
