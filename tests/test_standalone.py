"""The repository stands alone: no tracked file reads or points outside it.  A clone has
nothing beside it; the conformance data lives in tests/vectors and tests/fixtures."""

import re

from .repo_text import lines_matching

#: Paths into a reference folder next to the repository.
OUTSIDE = re.compile(r"\.\./shared|shared/vectors|shared/seed")


def test_nothing_reads_outside_the_repository():
    assert lines_matching(OUTSIDE, skip=__file__) == []
