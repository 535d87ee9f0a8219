"""HTML pieces the widgets share: escaping, a card, badges, sections, tables, highlights.

Everything is inline-styled — no ``<style>`` element, which would leak into the page
around the widget — with explicit colours on a white card (the sequence diagram's
palette), so a widget reads the same in light and dark themes.  Every piece of text
goes through :func:`esc`; functions taking ``*_html`` arguments expect escaped HTML.
"""

from __future__ import annotations

import html

from ..diagram import ACCENT, ACCENT_BAND, BOX, ERROR, FONT, INK, MUTED, PAPER, RULE

OK, OK_BAND, ERROR_BAND, WARN, WARN_BAND = "#1a7f37", "#dafbe1", "#ffebe9", "#9a6700", "#fff8c5"
SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
#: JWS parts in the token inspector (jwt.io-like colours, darkened for contrast on white).
PART_COLOURS = ("#b42318", "#8250df", "#0969da")
TONES = {
    "ok": (OK, OK_BAND),
    "error": (ERROR, ERROR_BAND),
    "warn": (WARN, WARN_BAND),
    "neutral": (MUTED, BOX),
    "accent": (ACCENT, ACCENT_BAND),
}


def esc(text) -> str:
    """Text as HTML: ``& < > " '`` become entities."""
    return html.escape(str(text), quote=True)


def card(title: str, *parts_html: str, badge_html: str = "") -> str:
    """The widget's white card: a title line (with an optional badge) above the parts."""
    head = (
        f'<div style="font-weight:600;font-size:14px;margin-bottom:6px">{esc(title)}'
        f"{' ' + badge_html if badge_html else ''}</div>"
    )
    return (
        f'<div class="aauth-card" style="background:{PAPER};color:{INK};border:1px solid {RULE};'
        f'border-radius:8px;padding:10px 12px;font-family:{SANS};font-size:13px;line-height:1.45">'
        f"{head}{''.join(parts_html)}</div>"
    )


def badge(text: str, tone: str = "neutral") -> str:
    ink, band = TONES[tone]
    return (
        f'<span class="aauth-badge aauth-{tone}" style="display:inline-block;padding:0 7px;'
        f"border-radius:10px;border:1px solid {ink};background:{band};color:{ink};font-size:12px;"
        f'font-weight:600">{esc(text)}</span>'
    )


def section(title: str, body_html: str, *, open: bool = True) -> str:
    """A collapsible section (``<details>``), open by default."""
    return (
        f'<details{" open" if open else ""} style="margin:6px 0">'
        f'<summary style="cursor:pointer;font-weight:600;color:{INK}">{esc(title)}</summary>'
        f'<div style="margin:4px 0 0 14px">{body_html}</div></details>'
    )


def pre(content_html: str) -> str:
    """Monospace block; long lines wrap anywhere (tokens have no spaces)."""
    return (
        f'<pre style="background:{BOX};color:{INK};border:1px solid {RULE};border-radius:6px;'
        f"padding:6px 8px;margin:4px 0;font-family:{FONT};font-size:12px;white-space:pre-wrap;"
        f'word-break:break-all">{content_html}</pre>'
    )


def para(text_html: str, *, muted: bool = False) -> str:
    return f'<div style="margin:3px 0{";color:" + MUTED if muted else ""}">{text_html}</div>'


def code(text) -> str:
    return f'<code style="font-family:{FONT};font-size:12px">{esc(text)}</code>'


def table(rows: list[tuple[str, str, str]]) -> str:
    """``(name, value, meaning)`` rows — plain text, escaped here — as a three-column table."""
    cells = "".join(
        f'<tr><td style="padding:1px 8px 1px 0;vertical-align:top;font-family:{FONT};font-size:12px;'
        f'white-space:nowrap">{esc(name)}</td>'
        f'<td style="padding:1px 8px 1px 0;vertical-align:top;font-family:{FONT};font-size:12px;'
        f'word-break:break-all">{esc(value)}</td>'
        f'<td style="padding:1px 0;vertical-align:top;color:{MUTED}">{esc(meaning)}</td></tr>'
        for name, value, meaning in rows
    )
    return f'<table style="border-collapse:collapse;margin:4px 0">{cells}</table>'


def mark(content_html: str, note: str, tone: str = "accent") -> str:
    """Highlight a span (covered components); ``note`` is its tooltip."""
    ink, band = TONES[tone]
    return (
        f'<span class="aauth-covered" title="{esc(note)}" style="background:{band};'
        f'border-bottom:2px solid {ink}">{content_html}</span>'
    )


def coloured(text: str, colour: str) -> str:
    return f'<span style="color:{colour}">{esc(text)}</span>'


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"
