"""Every exercise of the kit by notebook, read without a lab: titles, hints and reference
answers for the tools that build on them (``scripts/build_assignments.py``, the tests)."""

from __future__ import annotations

import importlib
import re
from collections import defaultdict

from . import Exercise

NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10")


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
