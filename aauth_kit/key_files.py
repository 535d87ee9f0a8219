"""Keys kept in files, so that a server restarted on the same data directory keeps its
identity (its signatures, the tokens it issued and the pairwise subjects derived from its
key stay valid).

Each key is a private JWK in ``<directory>/<name>.jwk``; the directory is created ``0700``
and each file ``0600`` (owner only), written whole before it takes its name.  The draft is
silent on key storage; this follows OWASP ASVS level 2 (secrets readable by their owner only).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .keys import Key

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: str | Path) -> Path:
    """``path``, created ``0700`` (owner only) if it does not exist yet (with its parents)."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=DIRECTORY_MODE, parents=True)
        os.chmod(path, DIRECTORY_MODE)
    return path


def restrict(path: str | Path) -> None:
    """Make an existing file owner-only (``0600``): files left by an older kit, or copied in,
    are tightened when they are opened again."""
    path = Path(path)
    if path.exists() and path.stat().st_mode & 0o777 != FILE_MODE:
        os.chmod(path, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (a temporary file, then renamed)."""
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(partial, path)


def load_or_create(directory: str | Path, name: str, *, kid: str) -> Key:
    """The key ``name`` from ``directory``, made (Ed25519) and stored there the first time."""
    path = private_directory(directory) / f"{name.replace('/', '_')}.jwk"
    if path.exists():
        restrict(path)
        return Key.from_jwk(json.loads(path.read_text()))
    key = Key.generate(kid=kid)
    write_private(path, json.dumps(key.private_jwk()).encode())
    return key
