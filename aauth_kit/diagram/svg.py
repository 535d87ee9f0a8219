"""The sequence diagram as SVG, the primary form: lifelines, numbered request arrows and
dashed response arrows, the current step banded (-11 "Detailed Flows" draws its
flows the same way).

At most :data:`MAX_WIDTH` wide unless a width is given, so that scaled to a notebook
cell in a 1,280 px window its text stays readable: each step has its row to itself, so
a label longer than its arrow runs on past the arrow's end (over the lifelines, on a
halo of the background colour) instead of widening every lane.

Byte-for-byte deterministic (nbval compares it): no ids, no timestamps, no elapsed
times, fixed number formatting, no ``<style>`` element (inline SVG would leak CSS).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .elements import (
    ACCENT,
    ACCENT_BAND,
    BOX,
    ERROR,
    FONT,
    INK,
    MUTED,
    PAPER,
    RULE,
    arrow,
    element,
    fit,
    num,
    text_width,
)
from .labels import clean

if TYPE_CHECKING:
    from .model import SequenceDiagram, Step

# Geometry (px).  Labels are monospace, so their width is predictable.
CHAR_W = 7.2  # a 12 px monospace advance
MARGIN = 16
TITLE_H = 28
HEAD_H = 30
ROW_H = 58
NOTE_H = 18
MIN_GAP, MAX_GAP = 170, 440  # a wide diagram shrinks to fit (max-width on the root)
MAX_WIDTH = 960  # px: lanes share this when they would need more
HALO = 3  # px of background drawn around label text, over the lifelines it crosses
BADGE_PAD, END_PAD = 28, 8  # label room is kept clear of the step badge at the source end
LOOP = 36  # how far a self-call loops out


def render(diagram: SequenceDiagram) -> str:
    """``diagram`` as a standalone SVG document; the same trace gives the same bytes."""
    exchanges = diagram.exchanges
    parties, steps = diagram.parties(exchanges), diagram.steps(exchanges)
    current = diagram.current(steps)
    column = {party: i for i, party in enumerate(parties)}
    count = max(len(parties), 1)
    if diagram.width is not None:
        gap = (diagram.width - 2 * MARGIN) / count
    else:
        gap = min(_fit_gap(steps, column, parties), (MAX_WIDTH - 2 * MARGIN) / count)
    width = diagram.width if diagram.width is not None else round(2 * MARGIN + count * gap)

    def x(party: str) -> float:
        return MARGIN + gap * (column[party] + 0.5)

    body: list[str] = []
    y = MARGIN
    if diagram.title:
        body.append(
            element(
                "text",
                {
                    "class": "title",
                    "x": MARGIN,
                    "y": y + 16,
                    "font-size": 14,
                    "font-weight": "bold",
                    "fill": INK,
                },
                fit(diagram.title, width - 2 * MARGIN, 8.4),
            )
        )
        y += TITLE_H
    head_top = y
    if parties:
        y += HEAD_H + 10
    rows = []
    for step in steps:
        height = ROW_H + (NOTE_H if step.note else 0)
        rows.append((step, y, height))
        y += height
    if not steps:
        body.append(
            element(
                "text",
                {
                    "class": "placeholder",
                    "x": width / 2,
                    "y": y + 22,
                    "text-anchor": "middle",
                    "fill": MUTED,
                },
                "No exchanges yet.",
            )
        )
        y += 40
    bottom = y + 6
    for party in parties:
        body.append(
            element(
                "line",
                {
                    "class": "lifeline",
                    "data-party": party,
                    "x1": x(party),
                    "y1": head_top + HEAD_H,
                    "x2": x(party),
                    "y2": bottom,
                    "stroke": RULE,
                    "stroke-width": 1.5,
                },
            )
        )
    for party in parties:
        name = fit(party, gap - 36, CHAR_W)
        box = min(gap - 12, text_width(name, CHAR_W) + 24)
        body += [
            '<g class="party">',
            element(
                "rect",
                {
                    "x": x(party) - box / 2,
                    "y": head_top,
                    "width": box,
                    "height": HEAD_H,
                    "rx": 6,
                    "fill": BOX,
                    "stroke": MUTED,
                },
            ),
            element(
                "text",
                {
                    "x": x(party),
                    "y": head_top + 19,
                    "text-anchor": "middle",
                    "font-weight": "bold",
                    "fill": INK,
                },
                name,
            ),
            "</g>",
        ]
    for step, top, height in rows:
        body += _step(step, x(step.source), x(step.target), top, height, gap, width, step.number == current)
    head = element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "aauth-sequence",
            "width": width,
            "height": bottom + MARGIN,
            "viewBox": f"0 0 {num(width)} {num(bottom + MARGIN)}",
            "style": "max-width: 100%; height: auto",
            "role": "img",
            "aria-label": diagram.title or "AAuth sequence diagram",
            "font-family": FONT,
            "font-size": 12,
        },
        open_tag=True,
    )
    return (
        "\n".join(
            [
                head,
                element("title", {}, clean(diagram.title or "AAuth sequence diagram")),
                element(
                    "rect",
                    {"class": "background", "width": "100%", "height": "100%", "rx": 8, "fill": PAPER},
                ),
                *body,
                "</svg>",
            ]
        )
        + "\n"
    )


def _step(
    step: Step,
    xs: float,
    xt: float,
    top: float,
    height: float,
    gap: float,
    width: float,
    current: bool,
) -> list[str]:
    ink = ACCENT if current else INK
    weight = "bold" if current else None
    y_req, y_resp = top + 24, top + 50
    out = [
        element(
            "g",
            {
                "class": "step current" if current else "step",
                "data-step": step.number,
                "aria-current": "step" if current else None,
            },
            open_tag=True,
        ),
        element("title", {}, step.tooltip),
    ]
    if current:
        out.append(
            element(
                "rect",
                {
                    "class": "highlight",
                    "x": MARGIN / 2,
                    "y": top + 2,
                    "width": width - MARGIN,
                    "height": height - 4,
                    "rx": 6,
                    "fill": ACCENT_BAND,
                    "stroke": ACCENT,
                },
            )
        )
    if xs == xt:  # a call to itself: a loop to the right, labels beside it
        direction, anchor, label_x = 1, "start", xs + LOOP + 8
        low, high = label_x, max(width - MARGIN, label_x + gap - LOOP - 24)
        out += arrow(
            "request",
            f"M {num(xs)} {num(y_req - 6)} H {num(xs + LOOP)} V {num(y_req + 6)} H {num(xs)}",
            xs,
            y_req + 6,
            -1,
            ink,
        )
        if step.answered:
            out += arrow(
                "response",
                f"M {num(xs)} {num(y_resp - 6)} H {num(xs + LOOP)} V {num(y_resp + 6)} H {num(xs)}",
                xs,
                y_resp + 6,
                -1,
                ink,
            )
    else:
        direction = 1 if xt > xs else -1
        anchor = "middle"
        label_x = (xs + direction * BADGE_PAD + xt - direction * END_PAD) / 2
        # on from the step badge, past the arrow's end if need be, to the diagram's edge
        low, high = (xs + BADGE_PAD, width - MARGIN) if direction == 1 else (MARGIN, xs - BADGE_PAD)
        out += arrow("request", f"M {num(xs)} {num(y_req)} H {num(xt)}", xt, y_req, direction, ink)
        if step.answered:
            out += arrow("response", f"M {num(xt)} {num(y_resp)} H {num(xs)}", xs, y_resp, -direction, ink)
    badge_x = xs + direction * 13 if xs != xt else xs - 13
    halo = {"stroke": ACCENT_BAND if current else PAPER, "stroke-width": HALO, "paint-order": "stroke"}

    def label(kind: str, text: str, y: float, fill: str, room: float = high - low, **style) -> str:
        text = fit(text, room, CHAR_W)
        x = label_x
        if anchor == "middle":  # centred on the arrow, moved inwards where it would leave the room
            half = text_width(text, CHAR_W) / 2
            x = min(max(label_x, low + half), high - half)
        attrs = {"class": kind, "x": x, "y": y, "text-anchor": anchor, "fill": fill, **style, **halo}
        return element("text", attrs, text)

    out += [
        element(
            "circle",
            {
                "class": "badge",
                "cx": badge_x,
                "cy": y_req - 11,
                "r": 8,
                "fill": ACCENT if current else MUTED,
            },
        ),
        element(
            "text",
            {
                "class": "step-number",
                "x": badge_x,
                "y": y_req - 7,
                "text-anchor": "middle",
                "font-size": 10,
                "font-weight": "bold",
                "fill": PAPER,
            },
            str(step.number),
        ),
        label("label request", step.request, y_req - 6, ink, **{"font-weight": weight}),
    ]
    if step.answered:
        fill = ERROR if step.failed else ink
        out.append(label("label response", step.response, y_resp - 6, fill, **{"font-weight": weight}))
    if step.note:
        room = max(high - low, width / 2)
        out.append(label("note", step.note, y_resp + 18, MUTED, room, **{"font-style": "italic"}))
    out.append("</g>")
    return out


def _fit_gap(steps: list[Step], column: dict[str, int], parties: list[str]) -> float:
    """The lifeline spacing that fits the widest label (within MIN_GAP … MAX_GAP)."""
    needs = [MIN_GAP]
    needs += [text_width(p, CHAR_W) + 48 for p in parties]
    for step in steps:
        text = max(text_width(step.request, CHAR_W), text_width(step.response, CHAR_W))
        span = abs(column[step.target] - column[step.source])
        needs.append(text + LOOP + 32 if span == 0 else (text + BADGE_PAD + END_PAD) / span)
    return min(max(math.ceil(max(needs)), MIN_GAP), MAX_GAP)
