"""The sequence diagram of a trace: its parties and steps, drawn as SVG
(:mod:`.svg`) or mermaid (:mod:`.mermaid`); each step is one exchange, labelled in
AAuth words (:mod:`.labels`, -11 "Detailed Flows").
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from ..errors import UsageError
from ..trace import Exchange, Trace
from . import mermaid, svg
from .labels import MAX_LABEL, clip, is_failure, label_for
from .svg import MARGIN


@dataclass(frozen=True)
class Step:
    """One exchange as drawn: its number (``index + 1``, or counted from the diagram's ``first``),
    parties, labels and tooltip."""

    number: int
    source: str
    target: str
    request: str
    response: str
    answered: bool
    failed: bool
    tooltip: str
    note: str


class SequenceDiagram:
    """A sequence diagram of a :class:`Trace` (read when drawn, so it follows a live
    trace) or of a list of :class:`Exchange`.

    ``parties`` fixes the order of the lifelines (others follow in order of first
    appearance); steps are numbered as in the trace (``exchange.index + 1``), or from
    ``first`` on (``first=1``: a flow of its own, numbered 1, 2, …); ``highlight`` is the
    step number to draw as the current one (``-1`` is the last step; a number matching no
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
        first: int | None = None,
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
        if first is not None and (isinstance(first, bool) or not isinstance(first, int)):
            raise UsageError(f"first is the first step's number, not {first!r}")
        if width is not None and (
            isinstance(width, bool) or not isinstance(width, int) or width < 2 * MARGIN + 40
        ):
            raise UsageError(f"width must be an integer of at least {2 * MARGIN + 40} pixels, not {width!r}")
        self.given_parties = [str(p) for p in parties or []]
        self.highlight = highlight
        self.title = title
        self.width = width
        self.first = first

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
        for position, exchange in enumerate(self.exchanges if exchanges is None else exchanges):
            request, response = label_for(exchange)
            answered = exchange.response is not None
            number = exchange.index + 1 if self.first is None else self.first + position
            tooltip = f"{number}. {exchange.request.method} {exchange.request.target_uri}"
            if answered:
                tooltip += f" → {response}"
            steps.append(
                Step(
                    number=number,
                    source=exchange.source,
                    target=exchange.target,
                    request=request,
                    response=response,
                    answered=answered,
                    failed=answered and is_failure(exchange.response),
                    tooltip=clip(tooltip, 300),
                    note=clip(exchange.note or "", MAX_LABEL * 2),
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

    def to_svg(self) -> str:
        """The diagram as a standalone SVG document; the same trace gives the same bytes."""
        return svg.render(self)

    def to_mermaid(self) -> str:
        """The diagram as mermaid ``sequenceDiagram`` text (JupyterLab renders it in a
        ```` ```mermaid ```` fence); see :func:`.mermaid.render`."""
        return mermaid.render(self)

    def to_html(self) -> str:
        """The diagram for a notebook page: the SVG as an image scaled down to the cell's
        width, then a "Full size" fold with the same image at its own width, scrolling
        sideways.  An ``<img>`` with a ``data:`` URL, because viewers that do not trust a
        notebook (JupyterLab before a run, sanitizing sites) drop inline and bare SVG."""
        svg = self.to_svg()
        width = re.search(r'<svg [^>]*?width="([0-9.]+)"', svg).group(1)
        source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
        exchanges = self.exchanges
        alt = escape(
            self.title
            or f"Sequence diagram: {len(exchanges)} steps between {', '.join(self.parties(exchanges))}"
        )
        image = f'<img src="{source}" alt="{alt}" width="{width}"'
        return (
            '<div class="aauth-sequence">'
            f'{image} style="max-width:100%;height:auto;display:block">'
            '<details><summary style="cursor:pointer;font-size:12px;color:#57606a">'
            f"Full size ({width} px wide)</summary>"
            f'<div style="overflow-x:auto">{image} style="max-width:none;height:auto;display:block"></div>'
            "</details></div>"
        )

    # -- Jupyter ---------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        """Jupyter shows :meth:`to_html` (only: a bundle with the bare SVG or mermaid too
        would hide one of them, and would store the diagram twice)."""
        return self.to_html()

    def __repr__(self) -> str:
        # deterministic (no object address): notebooks compare text/plain outputs too
        exchanges = self.exchanges
        count = len(exchanges)
        return f"<SequenceDiagram: {count} step{'' if count == 1 else 's'}, {len(self.parties(exchanges))} parties>"
