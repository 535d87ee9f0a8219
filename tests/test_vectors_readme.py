"""The conformance vectors in tests/vectors are what their README says: the same files, the
same bytes (SHA-256), and each one read by a test."""

import hashlib
import re
from pathlib import Path

from .conftest import VECTORS

TESTS = Path(__file__).parent
#: A README table row: | `folder/file` | … | `sha256` |
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$", re.MULTILINE)


def listed() -> dict[str, str]:
    return {m["file"]: m["sha"] for m in ROW.finditer((VECTORS / "README.md").read_text())}


def on_disk() -> set[str]:
    return {p.relative_to(VECTORS).as_posix() for p in VECTORS.rglob("*") if p.is_file()} - {"README.md"}


def test_the_readme_lists_exactly_the_files_present():
    assert listed(), "no file rows found in tests/vectors/README.md"
    assert set(listed()) == on_disk()


def test_every_vector_has_the_digest_its_readme_gives():
    for name, sha in listed().items():
        assert hashlib.sha256((VECTORS / name).read_bytes()).hexdigest() == sha, name


def test_every_vector_is_read_by_a_test():
    """Only what the tests use is copied in."""
    sources = "".join(path.read_text() for path in TESTS.glob("*.py"))
    for name in listed():
        assert name in sources, f"{name} is not read by any test"
