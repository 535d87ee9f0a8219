"""The repository's git-tracked text files, scanned line by line (for the tests that keep
the repository standing alone and its citations open to any reader)."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tracked_files() -> list[Path]:
    """Every file git tracks here; skips the test outside a git checkout."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to scan")
    return [path for name in listing.split("\0") if name and (path := REPO / name).is_file()]


def lines_matching(pattern: re.Pattern, skip: str) -> list[str]:
    """``path:line: text`` for each tracked text line matching ``pattern``, except in ``skip``
    (the scanning test itself, which must name what it looks for)."""
    hits = []
    for path in tracked_files():
        if path == Path(skip).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:160]}")
    return hits
