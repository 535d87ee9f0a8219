"""Class mode: ``solution()`` held back until the teacher releases it; ``hint()`` unchanged.

Class mode is on when the kernel starts with ``AAUTH_KIT_CLASS`` set (``1``, or the path
of the release folder) or once :func:`class_mode` is called, and it cannot be turned off
again in that kernel.  The teacher releases solutions by creating files in the release
folder, a folder the students can read but not write (on a hub, a shared read-only
folder): ``all``, ``01`` (every exercise of notebook 01) or ``01-q2`` (one exercise).
The folder is read on each ``solution()`` call, so a release needs no restart.

This is a nudge, not a lock: the reference answers ship with the kit, and a student who
reads its source (or the ``reference`` attribute) sees them.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "AAUTH_KIT_CLASS"
_OFF = {"", "0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}


class _ClassMode:
    """Whether class mode is on in this kernel, and the teacher's release folder."""

    def __init__(self, value: str) -> None:
        value = value.strip()
        self.on = value.lower() not in _OFF
        self.releases: Path | None = None
        if self.on and value.lower() not in _ON:
            self.releases = Path(value).expanduser()


_state = _ClassMode(os.environ.get(ENV, ""))


def class_mode(releases: str | os.PathLike | None = None) -> None:
    """Turn class mode on for this kernel (there is no off), reading releases from the
    folder ``releases``; a folder set already (by ``AAUTH_KIT_CLASS`` or an earlier call)
    is kept: asking for another raises :class:`ValueError`."""
    _state.on = True
    if releases is not None:
        folder = Path(releases).expanduser()
        if _state.releases is not None and folder != _state.releases:
            raise ValueError(f"class mode reads its releases from {_state.releases} already")
        _state.releases = folder
    where = f"a file in {_state.releases}" if _state.releases else "a release folder (none is set)"
    print(f"Class mode: solution() waits for your teacher's release ({where}); hint() works as always.")


def is_on() -> bool:
    return _state.on


def released(notebook: str, question: str) -> bool:
    """Whether the teacher released ``question`` (``q1``) of ``notebook`` (``01``)."""
    folder = _state.releases
    if folder is None:
        return False
    names = ("all", notebook, f"{notebook}-{question}")
    return any((folder / name).is_file() for name in names)


def held_back(notebook: str, title: str) -> str | None:
    """What ``solution()`` prints instead of the solution, or ``None`` when it may show it."""
    if not _state.on:
        return None
    question = title.split(" ", 1)[0].lower()
    if notebook and released(notebook, question):
        return None
    return (
        f"{title}: in this class the solution is shown once your teacher releases it; "
        "until then hint() (and hint(2), hint(3)) can help."
    )
