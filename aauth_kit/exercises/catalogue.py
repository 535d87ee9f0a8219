"""Every exercise of the kit by notebook, read without a lab: titles, hints and reference
answers for the tools that build on them (``scripts/build_assignments.py``, the tests)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

from . import Exercise

#: The notebooks with exercises ("01", ...): one module ``nbNN`` each.
NOTEBOOKS = tuple(
    sorted(
        info.name[2:]
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if re.fullmatch(r"nb\d\d", info.name)
    )
)


class _NoLab:
    """Stands in for the lab of notebooks 07 to 10: stopped, so nothing is ever graded."""

    stopped = True
    identifiers: dict = defaultdict(str)
    keys: dict = {}


def exercises(notebook: str) -> dict[str, Exercise]:
    """``{"q1": Exercise, ...}`` of ``notebook`` (``"01"``)."""
    module = importlib.import_module(f"{__package__}.nb{notebook}")
    source = module.bind(_NoLab()) if hasattr(module, "bind") else module
    names = sorted(name for name in dir(source) if re.fullmatch(r"q\d+", name))
    return {name: getattr(source, name) for name in names}
