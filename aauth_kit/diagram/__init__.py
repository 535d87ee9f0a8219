"""The sequence diagram: a trace drawn as deterministic SVG and as mermaid text.

Every exchange is traced, and the diagram is drawn from the traffic that
actually flowed.  Each exchange is a numbered request arrow (source → target) and a
dashed response arrow back, labelled in AAuth words (:func:`label_for`): which token
the request presented (``Signature-Key``, Signature Keys -09 "Signature-Key HTTP Request Header"),
``Prefer: wait`` (-11 "Deferred Responses"), and what the response asks for
(``AAuth-Requirement``, -11 "Requirement Responses"), refuses (``Signature-Error``,
Signature Keys -09 "Signature-Error HTTP Response Header"; problem+json ``error``) or delivers (``auth_token`` …).

The SVG is the primary form (it renders everywhere, and nbval compares it), so it is
byte-for-byte deterministic: no ids, no timestamps, no elapsed times, fixed number
formatting.  It draws on its own white card with explicit colours, readable in light
and dark themes, and carries no ``<style>`` element (inline SVG would leak CSS into
the page).  :meth:`SequenceDiagram.to_mermaid` is the secondary, text form.

The package: :mod:`.model` (:class:`SequenceDiagram`: parties and steps), :mod:`.labels`
(an exchange in AAuth words), :mod:`.svg` (layout and drawing), :mod:`.elements` (SVG
pieces and the palette) and :mod:`.mermaid`.
"""

from .elements import ACCENT, ACCENT_BAND, BOX, ERROR, FONT, INK, MUTED, PAPER, RULE
from .labels import DELIVERED, ELLIPSIS, MAX_LABEL, TOKEN_WORDS, label_for
from .model import SequenceDiagram, Step
from .svg import (
    BADGE_PAD,
    CHAR_W,
    END_PAD,
    HEAD_H,
    LOOP,
    MARGIN,
    MAX_GAP,
    MAX_WIDTH,
    MIN_GAP,
    NOTE_H,
    ROW_H,
    TITLE_H,
)

__all__ = [
    "ACCENT",
    "ACCENT_BAND",
    "BADGE_PAD",
    "BOX",
    "CHAR_W",
    "DELIVERED",
    "ELLIPSIS",
    "END_PAD",
    "ERROR",
    "FONT",
    "HEAD_H",
    "INK",
    "LOOP",
    "MARGIN",
    "MAX_GAP",
    "MAX_LABEL",
    "MAX_WIDTH",
    "MIN_GAP",
    "MUTED",
    "NOTE_H",
    "PAPER",
    "ROW_H",
    "RULE",
    "TITLE_H",
    "TOKEN_WORDS",
    "SequenceDiagram",
    "Step",
    "label_for",
]
