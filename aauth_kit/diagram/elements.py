"""The pieces the SVG sequence diagram is drawn with (-11 "Detailed Flows" draws its
flows as arrows between lifelines): deterministic elements (fixed number text, escaped
attributes, no ids), text widths and fitting, arrow shapes, and the palette.
"""

from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape

from .labels import ELLIPSIS, clean

FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
# Explicit neutral colours on a white card: the same in light and dark themes.
PAPER, INK, MUTED, RULE, BOX = "#ffffff", "#1f2328", "#57606a", "#d0d7de", "#f6f8fa"
ACCENT, ACCENT_BAND, ERROR = "#c2410c", "#fff1d6", "#b42318"


def _char_width(char: str, unit: float) -> float:
    return 2 * unit if unicodedata.east_asian_width(char) in "WF" else unit


def text_width(text: str, unit: float) -> float:
    return sum(_char_width(c, unit) for c in text)


def fit(text: str, room: float, unit: float) -> str:
    """``text`` cut with "…" so that it fits ``room`` pixels."""
    text = clean(text)
    if text_width(text, unit) <= room:
        return text
    out, used = "", unit  # room for the ellipsis
    for char in text:
        used += _char_width(char, unit)
        if used > room:
            break
        out += char
    return out + ELLIPSIS


def arrow(kind: str, path: str, tip_x: float, tip_y: float, direction: int, ink: str) -> list[str]:
    """A solid request or dashed response arrow; the head is a polygon (no marker ids)."""
    head = (
        f"{num(tip_x)},{num(tip_y)} {num(tip_x - direction * 9)},{num(tip_y - 4.5)} "
        f"{num(tip_x - direction * 9)},{num(tip_y + 4.5)}"
    )
    return [
        element(
            "path",
            {
                "class": f"arrow {kind}",
                "d": path,
                "fill": "none",
                "stroke": ink,
                "stroke-width": 1.5,
                "stroke-dasharray": "6 4" if kind == "response" else None,
            },
        ),
        element("polygon", {"class": "arrowhead", "points": head, "fill": ink}),
    ]


def num(value: float) -> str:
    """Stable number text: one decimal at most, no ``-0``."""
    text = f"{round(value, 1):.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def element(tag: str, attrs: dict, text: str | None = None, *, open_tag: bool = False) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        value = num(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{_xml(value)}"')
    start = f"<{tag}{''.join(parts)}"
    if open_tag:
        return start + ">"
    if text is None:
        return start + "/>"
    return f"{start}>{_xml(text)}</{tag}>"


def _xml(text: str) -> str:
    """Text for XML content or a double-quoted attribute: ``& < > "`` as entities."""
    return escape(clean(text), {'"': "&quot;"})
