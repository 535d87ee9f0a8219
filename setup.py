"""Package discovery: ``aauth_kit`` and its subpackages, and the cast in ``servers/``
installed under the kit's namespace as ``aauth_kit.servers`` (so an installed kit never
takes the generic top-level name ``servers``).  Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

CAST = "servers"
packages = find_packages(include=["aauth_kit", "aauth_kit.*"])
packages += [f"aauth_kit.{name}" for name in find_packages(include=[CAST, f"{CAST}.*"])]

setup(packages=packages, package_dir={"aauth_kit.servers": CAST})
