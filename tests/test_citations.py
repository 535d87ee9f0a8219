"""Every citation in the repository is one a reader can open: the drafts by section title
(``-11 "Deferred Responses"``, ``Signature Keys -09 "Header Web Key (hwk)"``), RFCs by
number and section (``RFC 9421 §2.5``).  Notes that exist only on the developers' machines
and issue numbers are never cited, and the drafts are never cited by bare section number
(those numbers moved between versions).  The vectors in tests/vectors are copied verbatim
from their sources and keep their own wording."""

import json
import re
from pathlib import Path

from .repo_text import lines_matching

#: Notes a reader of the repository cannot open, and issue numbers.
INTERNAL_NOTE = re.compile(
    r"\bDESIGN\b|aauth-wire|(?i:\bwire (notes )?§|jupyter-notes|\binterop[ -]notes?\b|demo-inventory)"
    r"|\b[Ii]ssue \d"
)
#: A draft cited by number: ``-11 §7.2``, ``[N] §6.4``, ``SK §3.1``, ``SK-09 §5``.
DRAFT_NUMBER = re.compile(r"(?:\B-(?:0\d|1[01])|\[N\]|\[SK\]|\bSK(?:-0\d)?)\s*§\s*\d")
#: Copied verbatim from elsewhere (tests/vectors/README.md gives their sources).
VERBATIM = "tests/vectors/"


def hits(pattern: re.Pattern) -> list[str]:
    return [hit for hit in lines_matching(pattern, skip=__file__) if not hit.startswith(VERBATIM)]


def test_no_internal_notes_are_cited():
    assert hits(INTERNAL_NOTE) == []


def test_drafts_are_cited_by_section_title():
    assert hits(DRAFT_NUMBER) == []


#: A draft cited by title: ``-11 "Deferred Responses"``, ``[N] "Verification (Server)"``,
#: ``Signature Keys -09 "Header Web Key (hwk)"``.  Titles may wrap onto the next line.
CITED_TITLE = re.compile(r'(?P<draft>-11|\[N\]|Signature Keys -09|\[SK\]) "(?P<title>[^"\n]+)"')
SECTIONS = json.loads((Path(__file__).parent / "fixtures" / "draft_sections.json").read_text())
DRAFT = {"-11": "-11", "[N]": "-11", "Signature Keys -09": "Signature Keys -09", "[SK]": "Signature Keys -09"}


def test_every_cited_title_is_a_section_of_the_draft():
    """A quoted title names a real section (tests/fixtures/draft_sections.json lists them),
    so a reader can find it in the draft's table of contents."""
    unknown = []
    for hit in hits(CITED_TITLE):
        for match in CITED_TITLE.finditer(hit.split(": ", 1)[1]):
            if match["title"] not in SECTIONS[DRAFT[match["draft"]]]:
                unknown.append(f"{hit.split(': ', 1)[0]}: {match['draft']} {match['title']!r}")
    assert unknown == []
