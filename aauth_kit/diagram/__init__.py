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
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import http_sfv

from ..claims import AGENT_TYP, AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from ..errors import AAuthError, UsageError
from ..headers import parse_legacy_challenge, parse_prefer_wait, parse_requirement, parse_signature_error
from ..jws import decode_unverified
from ..message import HttpMessage
from ..signature_key import parse_signature_key
from ..trace import Exchange, Trace

__all__ = ["SequenceDiagram", "label_for", "MAX_LABEL"]

#: Labels longer than this many characters end in "…".
MAX_LABEL = 60
ELLIPSIS = "…"
#: JWT ``typ`` (-11 "JWT Type Registrations") → the words a label uses.
TOKEN_WORDS = {
    AGENT_TYP: "agent token",
    PERSON_TYP: "person token",
    AUTH_TYP: "auth token",
    RESOURCE_TYP: "resource token",
}
#: JSON members by which a PS or resource delivers a token (-11 "Agent Token Acquisition",
#: "Person Token Endpoint", "Response with Resource Token", "PS Response").
DELIVERED = ("agent_token", "auth_token", "person_token", "resource_token")

# -- labels ------------------------------------------------------------------------------
_OPAQUE = re.compile(r"[A-Za-z0-9_-]{16,}")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def label_for(exchange: Exchange) -> tuple[str, str]:
    """``(request label, response label)`` for one exchange, in AAuth words::

        ("POST /auth-token with agent token (Prefer: wait=30)", "202 interaction code ABCD-EFGH")

    Opaque path segments (pending ids, hashes) become "…", a query becomes "?…", and
    each label is cut to :data:`MAX_LABEL` characters.  The response label is ""
    while the response has not arrived.  Nothing here verifies anything: tokens are
    read with :func:`jws.decode_unverified`, and a malformed header is named as such.
    """
    response = _response_words(exchange.response) if exchange.response is not None else ""
    return _clip(_request_words(exchange.request), MAX_LABEL), _clip(response, MAX_LABEL)


def _request_words(request: HttpMessage) -> str:
    text = f"{_clean(request.method) or '?'} {_short_path(request.target_uri)}"
    presented = _presented(request)
    if presented:
        text += f" with {presented}"
    try:
        wait = parse_prefer_wait(request.header("prefer"))
    except (AAuthError, ValueError):
        wait = None
    if wait is not None:
        text += f" (Prefer: wait={wait})"
    return text


def _short_path(uri: str) -> str:
    """The path with opaque segments elided: ``/pending/…``; a query shows as ``?…``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _clean(uri)
    segments = [ELLIPSIS if _is_opaque(s) else s for s in (parts.path or "/").split("/")]
    return _clean("/".join(segments)) + ("?…" if parts.query else "")


def _is_opaque(segment: str) -> bool:
    """A random-looking segment: long, and mixing at least two of lower, upper, digits.

    Human path words (``auth-token``, ``aauth-person.json``) stay readable."""
    if len(segment) > 40:
        return True
    classes = sum(bool(re.search(p, segment)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return bool(_OPAQUE.fullmatch(segment)) and classes >= 2


def _presented(request: HttpMessage) -> str:
    """What the request presents: its ``Signature-Key`` and an ``AAuth`` session token (-11 "AAuth-Access Response Header")."""
    words = []
    value = request.header("signature-key")
    if value is not None:
        words.append(_signature_key_words(value))
    scheme = (request.header("authorization") or "").split(" ")[0]
    if scheme.lower() == "aauth":  # auth schemes are case-insensitive (RFC 9110 §11.1)
        words.append("session token")
    return " + ".join(words)


def _signature_key_words(value: str) -> str:
    """The first ``Signature-Key`` member (Signature Keys -09 "Signature-Key HTTP Request Header") in words: a ``jwt`` by its ``typ``
    (``agent token``, ``person token``, ``auth token``), other schemes by name."""
    d = http_sfv.Dictionary()
    try:
        d.parse(value.encode("ascii"))
        label = next(iter(d))
        key = parse_signature_key(value, label)
    except (AAuthError, ValueError, UnicodeEncodeError, StopIteration):
        return "malformed Signature-Key"
    if key.scheme != "jwt":
        return f"{key.scheme} key"
    try:
        typ = decode_unverified(key.jwt).header.get("typ")
    except AAuthError:
        return "malformed JWT"
    if not isinstance(typ, str):
        return "JWT without typ"
    normalized = typ.lower().removeprefix("application/")  # RFC 7515 §4.1.9
    return TOKEN_WORDS.get(normalized, f"{typ} JWT")


def _response_words(response: HttpMessage) -> str:
    status = response.status
    error = response.header("signature-error")
    if error is not None:
        try:
            code = parse_signature_error(error)[0]
        except (AAuthError, ValueError):
            code = "malformed"
        return f"{status} Signature-Error: {code}"
    requirement = _requirement_words(response)
    if requirement:
        return f"{status} {requirement}"
    body = response.json_object()
    if isinstance(body.get("error"), str):  # -11 problem+json: ``error`` is what clients dispatch on
        return f"{status} {body['error']}"
    delivered = [name for name in DELIVERED if name in body]
    if response.header("aauth-access") is not None:
        delivered.append("session token")
    if delivered:
        return f"{status} {' + '.join(delivered)}"
    if status == 202:  # -11 "Deferred Responses": {"status": "pending" | "interacting"}
        state = body.get("status")
        return f"202 {state if isinstance(state, str) else 'pending'}"
    if isinstance(body.get("keys"), list):
        return f"{status} JWKS"
    if "issuer" in body:
        return f"{status} metadata"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _requirement_words(response: HttpMessage) -> str:
    """``AAuth-Requirement`` (-11 "Requirement Responses") or a pre-rename ``AAuth-Challenge`` / ``AAuth``."""
    value, legacy = response.header("aauth-requirement"), False
    if value is None:
        value, legacy = response.header("aauth-challenge") or response.header("aauth"), True
    if value is None:
        return ""
    try:
        requirement = parse_legacy_challenge(value) if legacy else parse_requirement(value)
    except (AAuthError, ValueError):
        return "malformed AAuth-Requirement"
    if requirement.requirement == "interaction" and requirement.code:
        words = f"interaction code {_clip(requirement.code, 20)}"
    else:
        words = f"{'require' if legacy else 'requirement'}={requirement.requirement}"
        if requirement.resource_token:
            words += " with resource token"
    return words + (" (legacy)" if legacy else "")


def _failed(response: HttpMessage) -> bool:
    """A 4xx/5xx that is not an AAuth challenge (a 401 with a requirement is a normal step)."""
    return (response.status or 0) >= 400 and not _requirement_words(response)


def _clean(text: str) -> str:
    """One line of text XML can carry: whitespace runs become one space, characters
    XML 1.0 forbids (controls, lone surrogates) become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", " ".join(str(text).split()))


def _clip(text: str, limit: int) -> str:
    text = _clean(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


# -- the diagram -------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One exchange as drawn: its number (``index + 1``), parties, labels and tooltip."""

    number: int
    source: str
    target: str
    request: str
    response: str
    answered: bool
    failed: bool
    tooltip: str
    note: str


# Geometry (px).  Labels are monospace, so their width is predictable.
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
CHAR_W = 7.2  # a 12 px monospace advance
MARGIN = 16
TITLE_H = 28
HEAD_H = 30
ROW_H = 58
NOTE_H = 18
MIN_GAP, MAX_GAP = 170, 440  # a wide diagram shrinks to fit (max-width on the root)
BADGE_PAD, END_PAD = 28, 8  # label room is kept clear of the step badge at the source end
LOOP = 36  # how far a self-call loops out
# Explicit neutral colours on a white card: the same in light and dark themes.
PAPER, INK, MUTED, RULE, BOX = "#ffffff", "#1f2328", "#57606a", "#d0d7de", "#f6f8fa"
ACCENT, ACCENT_BAND, ERROR = "#c2410c", "#fff1d6", "#b42318"


class SequenceDiagram:
    """A sequence diagram of a :class:`Trace` (read when drawn, so it follows a live
    trace) or of a list of :class:`Exchange`.

    ``parties`` fixes the order of the lifelines (others follow in order of first
    appearance); ``highlight`` is the step number to draw as the current one (steps
    are numbered ``exchange.index + 1``; ``-1`` is the last step; a number matching no
    step highlights nothing); ``width`` fixes the SVG width in pixels.
    """

    def __init__(
        self,
        trace_or_exchanges: Trace | Iterable[Exchange],
        *,
        parties: list[str] | None = None,
        highlight: int | None = None,
        title: str | None = None,
        width: int | None = None,
    ):
        if isinstance(trace_or_exchanges, Trace):
            self._trace, self._exchanges = trace_or_exchanges, None
        else:
            self._trace, self._exchanges = None, list(trace_or_exchanges)
            for item in self._exchanges:
                if not isinstance(item, Exchange):
                    raise UsageError(f"a sequence diagram draws Exchange objects, not {type(item).__name__}")
        if highlight is not None and (isinstance(highlight, bool) or not isinstance(highlight, int)):
            raise UsageError(f"highlight is a step number, not {highlight!r}")
        if width is not None and (
            isinstance(width, bool) or not isinstance(width, int) or width < 2 * MARGIN + 40
        ):
            raise UsageError(f"width must be an integer of at least {2 * MARGIN + 40} pixels, not {width!r}")
        self.given_parties = [str(p) for p in parties or []]
        self.highlight = highlight
        self.title = title
        self.width = width

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self._trace.exchanges) if self._trace is not None else list(self._exchanges)

    def parties(self, exchanges: list[Exchange] | None = None) -> list[str]:
        """The given parties, then the others in order of first appearance."""
        seen = dict.fromkeys(self.given_parties)
        for exchange in self.exchanges if exchanges is None else exchanges:
            seen.setdefault(exchange.source)
            seen.setdefault(exchange.target)
        return list(seen)

    def steps(self, exchanges: list[Exchange] | None = None) -> list[Step]:
        """Each exchange as drawn; the tooltip keeps the full URL that the label shortens."""
        steps = []
        for exchange in self.exchanges if exchanges is None else exchanges:
            request, response = label_for(exchange)
            answered = exchange.response is not None
            tooltip = f"{exchange.index + 1}. {exchange.request.method} {exchange.request.target_uri}"
            if answered:
                tooltip += f" → {response}"
            steps.append(
                Step(
                    number=exchange.index + 1,
                    source=exchange.source,
                    target=exchange.target,
                    request=request,
                    response=response,
                    answered=answered,
                    failed=answered and _failed(exchange.response),
                    tooltip=_clip(tooltip, 300),
                    note=_clip(exchange.note or "", MAX_LABEL * 2),
                )
            )
        return steps

    def current(self, steps: list[Step]) -> int | None:
        """The step number drawn as current, if any."""
        if self.highlight is None:
            return None
        if self.highlight < 0:
            return steps[self.highlight].number if -len(steps) <= self.highlight else None
        return self.highlight

    # -- SVG -------------------------------------------------------------------------------
    def to_svg(self) -> str:
        """The diagram as a standalone SVG document; the same trace gives the same bytes."""
        exchanges = self.exchanges
        parties, steps = self.parties(exchanges), self.steps(exchanges)
        current = self.current(steps)
        column = {party: i for i, party in enumerate(parties)}
        count = max(len(parties), 1)
        if self.width is not None:
            gap = (self.width - 2 * MARGIN) / count
        else:
            gap = _fit_gap(steps, column, parties)
        width = self.width if self.width is not None else round(2 * MARGIN + count * gap)

        def x(party: str) -> float:
            return MARGIN + gap * (column[party] + 0.5)

        body: list[str] = []
        y = MARGIN
        if self.title:
            body.append(
                _element(
                    "text",
                    {
                        "class": "title",
                        "x": MARGIN,
                        "y": y + 16,
                        "font-size": 14,
                        "font-weight": "bold",
                        "fill": INK,
                    },
                    _fit(self.title, width - 2 * MARGIN, 8.4),
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
                _element(
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
                _element(
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
            name = _fit(party, gap - 36, CHAR_W)
            box = min(gap - 12, _text_width(name, CHAR_W) + 24)
            body += [
                '<g class="party">',
                _element(
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
                _element(
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
            body += self._svg_step(
                step, x(step.source), x(step.target), top, height, gap, width, step.number == current
            )
        head = _element(
            "svg",
            {
                "xmlns": "http://www.w3.org/2000/svg",
                "class": "aauth-sequence",
                "width": width,
                "height": bottom + MARGIN,
                "viewBox": f"0 0 {_num(width)} {_num(bottom + MARGIN)}",
                "style": "max-width: 100%; height: auto",
                "role": "img",
                "aria-label": self.title or "AAuth sequence diagram",
                "font-family": FONT,
                "font-size": 12,
            },
            open_tag=True,
        )
        return (
            "\n".join(
                [
                    head,
                    _element("title", {}, _clean(self.title or "AAuth sequence diagram")),
                    _element(
                        "rect",
                        {"class": "background", "width": "100%", "height": "100%", "rx": 8, "fill": PAPER},
                    ),
                    *body,
                    "</svg>",
                ]
            )
            + "\n"
        )

    def _svg_step(
        self,
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
            _element(
                "g",
                {
                    "class": "step current" if current else "step",
                    "data-step": step.number,
                    "aria-current": "step" if current else None,
                },
                open_tag=True,
            ),
            _element("title", {}, step.tooltip),
        ]
        if current:
            out.append(
                _element(
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
            direction, room, anchor, label_x = 1, gap - LOOP - 24, "start", xs + LOOP + 8
            out += _arrow(
                "request",
                f"M {_num(xs)} {_num(y_req - 6)} H {_num(xs + LOOP)} V {_num(y_req + 6)} H {_num(xs)}",
                xs,
                y_req + 6,
                -1,
                ink,
            )
            if step.answered:
                out += _arrow(
                    "response",
                    f"M {_num(xs)} {_num(y_resp - 6)} H {_num(xs + LOOP)} V {_num(y_resp + 6)} H {_num(xs)}",
                    xs,
                    y_resp + 6,
                    -1,
                    ink,
                )
        else:
            direction = 1 if xt > xs else -1
            room, anchor = abs(xt - xs) - BADGE_PAD - END_PAD, "middle"
            label_x = (xs + direction * BADGE_PAD + xt - direction * END_PAD) / 2
            out += _arrow("request", f"M {_num(xs)} {_num(y_req)} H {_num(xt)}", xt, y_req, direction, ink)
            if step.answered:
                out += _arrow(
                    "response", f"M {_num(xt)} {_num(y_resp)} H {_num(xs)}", xs, y_resp, -direction, ink
                )
        badge_x = xs + direction * 13 if xs != xt else xs - 13
        out += [
            _element(
                "circle",
                {
                    "class": "badge",
                    "cx": badge_x,
                    "cy": y_req - 11,
                    "r": 8,
                    "fill": ACCENT if current else MUTED,
                },
            ),
            _element(
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
            _element(
                "text",
                {
                    "class": "label request",
                    "x": label_x,
                    "y": y_req - 6,
                    "text-anchor": anchor,
                    "fill": ink,
                    "font-weight": weight,
                },
                _fit(step.request, room, CHAR_W),
            ),
        ]
        if step.answered:
            out.append(
                _element(
                    "text",
                    {
                        "class": "label response",
                        "x": label_x,
                        "y": y_resp - 6,
                        "text-anchor": anchor,
                        "fill": ERROR if step.failed else ink,
                        "font-weight": weight,
                    },
                    _fit(step.response, room, CHAR_W),
                )
            )
        if step.note:
            out.append(
                _element(
                    "text",
                    {
                        "class": "note",
                        "x": label_x,
                        "y": y_resp + 18,
                        "text-anchor": anchor,
                        "font-style": "italic",
                        "fill": MUTED,
                    },
                    _fit(step.note, max(room, width / 2), CHAR_W),
                )
            )
        out.append("</g>")
        return out

    # -- mermaid ---------------------------------------------------------------------------
    def to_mermaid(self) -> str:
        """The diagram as mermaid ``sequenceDiagram`` text (JupyterLab renders it in a
        ```` ```mermaid ```` fence).  Parties get aliases ``P1``, ``P2`` …; text goes
        through mermaid entity codes, so ``;``, ``#``, ``<``, ``>``, ``&`` and quotes
        cannot end a message or open a comment; the current step sits in a ``rect``."""
        exchanges = self.exchanges
        parties, steps = self.parties(exchanges), self.steps(exchanges)
        current = self.current(steps)
        alias = {party: f"P{i + 1}" for i, party in enumerate(parties)}
        lines = []
        if self.title:  # front matter; a JSON string is a YAML double-quoted scalar
            lines += ["---", f"title: {json.dumps(_clean(self.title), ensure_ascii=False)}", "---"]
        lines.append("sequenceDiagram")
        lines += [f"    participant {alias[p]} as {_mermaid_text(p)}" for p in parties]
        for step in steps:
            a, b = alias[step.source], alias[step.target]
            block = [f"{a}->>{b}: {step.number}. {_mermaid_text(step.request)}"]
            if step.answered:
                block.append(f"{b}-->>{a}: {_mermaid_text(step.response)}")
            if step.note:
                where = f"over {a},{b}" if a != b else f"right of {a}"
                block.append(f"Note {where}: {_mermaid_text(step.note)}")
            if step.number == current:
                block = ["rect rgb(255, 241, 214)", *(f"    {line}" for line in block), "end"]
            lines += [f"    {line}" for line in block]
        return "\n".join(lines) + "\n"

    # -- Jupyter ---------------------------------------------------------------------------
    def _repr_svg_(self) -> str:
        """Jupyter shows the SVG (only: a bundle with mermaid too would hide one of them)."""
        return self.to_svg()

    def __repr__(self) -> str:
        # deterministic (no object address): notebooks compare text/plain outputs too
        exchanges = self.exchanges
        count = len(exchanges)
        return f"<SequenceDiagram: {count} step{'' if count == 1 else 's'}, {len(self.parties(exchanges))} parties>"


# -- drawing helpers ---------------------------------------------------------------------
def _fit_gap(steps: list[Step], column: dict[str, int], parties: list[str]) -> float:
    """The lifeline spacing that fits the widest label (within MIN_GAP … MAX_GAP)."""
    needs = [MIN_GAP]
    needs += [_text_width(p, CHAR_W) + 48 for p in parties]
    for step in steps:
        text = max(_text_width(step.request, CHAR_W), _text_width(step.response, CHAR_W))
        span = abs(column[step.target] - column[step.source])
        needs.append(text + LOOP + 32 if span == 0 else (text + BADGE_PAD + END_PAD) / span)
    return min(max(math.ceil(max(needs)), MIN_GAP), MAX_GAP)


def _char_width(char: str, unit: float) -> float:
    return 2 * unit if unicodedata.east_asian_width(char) in "WF" else unit


def _text_width(text: str, unit: float) -> float:
    return sum(_char_width(c, unit) for c in text)


def _fit(text: str, room: float, unit: float) -> str:
    """``text`` cut with "…" so that it fits ``room`` pixels."""
    text = _clean(text)
    if _text_width(text, unit) <= room:
        return text
    out, used = "", unit  # room for the ellipsis
    for char in text:
        used += _char_width(char, unit)
        if used > room:
            break
        out += char
    return out + ELLIPSIS


def _arrow(kind: str, path: str, tip_x: float, tip_y: float, direction: int, ink: str) -> list[str]:
    """A solid request or dashed response arrow; the head is a polygon (no marker ids)."""
    head = (
        f"{_num(tip_x)},{_num(tip_y)} {_num(tip_x - direction * 9)},{_num(tip_y - 4.5)} "
        f"{_num(tip_x - direction * 9)},{_num(tip_y + 4.5)}"
    )
    return [
        _element(
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
        _element("polygon", {"class": "arrowhead", "points": head, "fill": ink}),
    ]


def _num(value: float) -> str:
    """Stable number text: one decimal at most, no ``-0``."""
    text = f"{round(value, 1):.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def _element(tag: str, attrs: dict, text: str | None = None, *, open_tag: bool = False) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        value = _num(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{_xml(value)}"')
    start = f"<{tag}{''.join(parts)}"
    if open_tag:
        return start + ">"
    if text is None:
        return start + "/>"
    return f"{start}>{_xml(text)}</{tag}>"


def _xml(text: str) -> str:
    """Text for XML content or a double-quoted attribute: ``& < > "`` as entities."""
    return escape(_clean(text), {'"': "&quot;"})


def _mermaid_text(text: str) -> str:
    """Mermaid entity codes (``#59;``) for what would end a message, open a comment
    or be read as HTML; one line."""
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in _clean(text))


_MERMAID_ESCAPES = {c: f"#{ord(c)};" for c in '#;<>&"'}
