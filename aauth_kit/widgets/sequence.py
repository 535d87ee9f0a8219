"""The sequence view: a live :class:`SequenceDiagram` of a trace, one step highlighted.

Every exchange is traced: the view subscribes to the trace and redraws
when an exchange completes — from whatever thread ran the client (the kit's loop
thread, usually), by assigning the drawing's ``value`` trait, which ipywidgets allows
from any thread.  Previous / Next move the highlighted step; while the last step is
highlighted the view follows new ones.  The mermaid toggle swaps the SVG for the
mermaid text (JupyterLab renders ``text/vnd.mermaid`` natively).
"""

from __future__ import annotations

import threading

import ipywidgets as widgets

from ..diagram import SequenceDiagram, label_for
from ..errors import UsageError
from ..trace import Exchange, Trace
from .html import badge, card, esc, para, pre
from .panel import Panel


class SequenceView(Panel):
    """``SequenceView(lab.trace)``; ``parties``, ``title`` and ``width`` go to the diagram.

    :attr:`step` is the highlighted step number (``exchange.index + 1``; None while the
    trace is empty).  :meth:`close` stops following the trace.
    """

    def __init__(
        self,
        trace: Trace,
        *,
        parties: list[str] | None = None,
        title: str | None = None,
        width: int | None = None,
    ):
        if not isinstance(trace, Trace):
            raise UsageError(f"SequenceView draws a Trace, not {type(trace).__name__}")
        previous = widgets.Button(
            description="Previous", icon="arrow-left", tooltip="highlight the step before"
        )
        following = widgets.Button(description="Next", icon="arrow-right", tooltip="highlight the step after")
        mermaid = widgets.ToggleButton(
            description="mermaid", value=False, tooltip="show the diagram as mermaid"
        )
        caption, drawing, mermaid_out = widgets.HTML(), widgets.HTML(), widgets.Output()
        mermaid_out.layout.display = "none"
        super().__init__(
            children=[widgets.HBox([previous, following, mermaid]), caption, drawing, mermaid_out]
        )
        self.trace = trace
        self.diagram = SequenceDiagram(trace, parties=parties, title=title, width=width)
        self.previous_button, self.next_button, self.mermaid_toggle = previous, following, mermaid
        self.caption, self.drawing, self.mermaid_output = caption, drawing, mermaid_out
        self.step: int | None = None
        self.follow = True  # highlight each new step as it arrives
        self.error: str | None = None
        self._lock = threading.RLock()
        previous.on_click(lambda _button: self.move(-1))
        following.on_click(lambda _button: self.move(+1))
        mermaid.observe(lambda _change: self.redraw(), names="value")
        trace.subscribe(self._on_exchange)
        self.redraw()

    @property
    def count(self) -> int:
        return len(self.trace.exchanges)

    def move(self, delta: int) -> None:
        """Highlight the step ``delta`` steps away (clamped to the first and the last)."""
        with self._lock:
            if self.count:
                self.step = min(max((self.step or self.count) + delta, 1), self.count)
                self.follow = self.step == self.count
            self.redraw()

    def _on_exchange(self, exchange: Exchange) -> None:
        """Trace listener, on the client's thread: never raise into the HTTP client."""
        try:
            self.redraw()
        except Exception as exc:  # noqa: BLE001 - shown in the view instead
            self.error = f"{type(exc).__name__}: {exc}"
            self.caption.value = para(badge("redraw failed", "error") + " " + esc(self.error))

    def redraw(self) -> None:
        with self._lock:
            count = self.count
            if count == 0:
                self.step = None
            elif self.follow or self.step is None or self.step > count:
                self.step = count
            self.diagram.highlight = self.step
            self.previous_button.disabled = not count or self.step == 1
            self.next_button.disabled = not count or self.step == count
            self.caption.value = self._caption_html()
            if self.mermaid_toggle.value:
                text = self.diagram.to_mermaid()
                self.mermaid_output.outputs = (
                    {
                        "output_type": "display_data",
                        "data": {"text/vnd.mermaid": text, "text/plain": text},
                        "metadata": {},
                    },
                )
                self.drawing.layout.display, self.mermaid_output.layout.display = "none", None
            else:
                self.drawing.value = self.diagram.to_svg()
                self.drawing.layout.display, self.mermaid_output.layout.display = None, "none"

    def _caption_html(self) -> str:
        if self.step is None:
            return para("No exchanges yet: the diagram draws itself as requests flow.", muted=True)
        exchange = self.trace.exchanges[self.step - 1]
        request, response = label_for(exchange)
        arrow = f" → {response}" if response else " (waiting for the response)"
        return para(
            f"<b>Step {self.step} of {self.count}</b>: {esc(exchange.source)} → {esc(exchange.target)}: "
            f"{esc(request)}{esc(arrow)}"
        )

    def to_html(self) -> str:
        with self._lock:
            body = pre(esc(self.diagram.to_mermaid())) if self.mermaid_toggle.value else self.diagram.to_svg()
            return card("Sequence", self._caption_html(), body)

    def close(self) -> None:
        self.trace.unsubscribe(self._on_exchange)
        super().close()

    def __repr__(self) -> str:
        count = self.count
        return f"<SequenceView: {count} step{'' if count == 1 else 's'}, highlighted {self.step}>"
