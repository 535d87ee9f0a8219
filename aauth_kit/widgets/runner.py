"""The flow runner: a Run button that plays a whole AAuth flow on the kit's loop thread
and shows each exchange as it happens.

In Jupyter a widget click cannot reach the kernel while a cell runs, so a flow that
waits for a person (202, interaction code, polling with ``Prefer: wait``) cannot be
awaited in a cell while the person clicks Approve.  The runner submits the flow to
the loop thread and returns at once; the flow's exchanges arrive through a trace
subscription and are shown by assigning the widgets' ``value`` traits from that
thread; the final result — or the draft's error code from :class:`agent.FlowError` —
closes the run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import ipywidgets as widgets

from ..diagram import SequenceDiagram, label_for
from ..errors import AAuthError, UsageError
from ..loop import LoopThread, get_loop_thread
from ..trace import Exchange, Trace
from .html import badge, card, clip, esc, para, pre, section
from .panel import Panel

STATE_BADGES = {
    "idle": ("not run yet", "neutral"),
    "running": ("running", "accent"),
    "done": ("done", "ok"),
    "failed": ("failed", "error"),
}
RESULT_LIMIT = 2000


class FlowRunner(Panel):
    """``FlowRunner(flow, trace=lab.trace)`` — ``flow`` is an ``async def`` (run on the
    loop thread) or a plain callable (run in a worker thread, so it may use sync
    clients; a coroutine it returns is awaited on the loop).

    :meth:`run` (what Run does) returns a ``concurrent.futures.Future`` of the flow's
    result; :attr:`state` is ``idle`` | ``running`` | ``done`` | ``failed``, then
    :attr:`result` or :attr:`error` holds the outcome and :attr:`exchanges` what flowed.
    """

    def __init__(
        self,
        flow: Callable[[], Any],
        *,
        trace: Trace,
        loop_thread: LoopThread | None = None,
        title: str = "Flow",
        parties: list[str] | None = None,
    ):
        if not callable(flow):
            raise UsageError(
                f"flow must be a callable (an async def or a function), not {type(flow).__name__}"
            )
        if not isinstance(trace, Trace):
            raise UsageError(f"trace must be a Trace, not {type(trace).__name__}")
        run_button = widgets.Button(description="Run", icon="play", button_style="primary")
        view = widgets.HTML()
        super().__init__(children=[run_button, view])
        self.flow, self.trace, self.title, self.parties = flow, trace, title, parties
        self.loop_thread = loop_thread or get_loop_thread()
        self.run_button, self.view = run_button, view
        self.state = "idle"
        self.result: Any = None
        self.error: BaseException | None = None
        self.exchanges: list[Exchange] = []
        self.notes: list[str] = []
        self.future: concurrent.futures.Future | None = None
        self._first_index = 0
        self._lock = threading.RLock()
        run_button.on_click(lambda _button: self.run())
        self._redraw()

    # -- running ------------------------------------------------------------------------------
    def run(self) -> concurrent.futures.Future:
        """Start the flow (a run in progress is not started twice: its future is returned)."""
        with self._lock:
            if self.state == "running":
                return self.future
            self.state, self.result, self.error, self.exchanges, self.notes = "running", None, None, [], []
            self._first_index = len(self.trace.exchanges)
            self.trace.subscribe(self._on_exchange)
            self._redraw()
            self.future = self.loop_thread.submit(self._play())
            return self.future

    async def _play(self) -> Any:
        """Run the flow; the widget shows the outcome before the returned future completes."""
        try:
            if inspect.iscoroutinefunction(self.flow):
                result = await self.flow()
            else:
                result = await asyncio.to_thread(self.flow)
                if inspect.isawaitable(result):
                    result = await result
        except BaseException as exc:  # CancelledError too: the view must not stay "running"
            self._finish("failed", None, exc)
            raise
        self._finish("done", result, None)
        return result

    def _finish(self, state: str, result: Any, error: BaseException | None) -> None:
        self.trace.unsubscribe(self._on_exchange)
        with self._lock:
            self.state, self.result, self.error = state, result, error
            self._redraw()

    def _on_exchange(self, exchange: Exchange) -> None:
        """Trace listener (on the client's thread): record and redraw, never raise into httpx."""
        try:
            with self._lock:
                if exchange.index >= self._first_index and exchange not in self.exchanges:
                    self.exchanges.append(exchange)
                    self._redraw()
        except Exception as exc:  # noqa: BLE001 - shown in the view instead
            self.notes.append(f"could not show an exchange: {type(exc).__name__}: {exc}")

    def report(self, text: str) -> None:
        """A line from the flow itself (say, the interaction code the person must enter)."""
        with self._lock:
            self.notes.append(str(text))
            self._redraw()

    # -- rendering ----------------------------------------------------------------------------
    def _redraw(self) -> None:
        self.run_button.disabled = self.state == "running"
        self.view.value = self.to_html()

    def to_html(self) -> str:
        with self._lock:
            text, tone = STATE_BADGES[self.state]
            if self.state == "failed":
                text = f"failed: {_error_code(self.error)}"
            parts = [para(esc(note)) for note in self.notes]
            if self.exchanges:  # each run numbered from 1, in the list and in its diagram
                steps = "".join(f"<li>{esc(_step_words(exchange))}</li>" for exchange in self.exchanges)
                parts.append(section("Exchanges", f'<ol style="margin:2px 0;padding-left:22px">{steps}</ol>'))
                diagram = SequenceDiagram(self.exchanges, parties=self.parties, highlight=-1, first=1)
                parts.append(section("Sequence", diagram.to_svg()))
            elif self.state == "idle":
                parts.append(para("Press Run: each exchange shows up here as it happens.", muted=True))
            if self.state == "done":
                parts.append(section("Result", pre(esc(_result_words(self.result)))))
            elif self.state == "failed":
                parts.append(
                    section(
                        "Error",
                        para(f"{badge(_error_code(self.error), 'error')} {esc(_error_detail(self.error))}"),
                    )
                )
            return card(self.title, *parts, badge_html=badge(text, tone))

    def __repr__(self) -> str:
        count = len(self.exchanges)
        return f"<FlowRunner {self.title!r}: {self.state}, {count} exchange{'' if count == 1 else 's'}>"


def _step_words(exchange: Exchange) -> str:
    request, response = label_for(exchange)
    return f"{exchange.source} → {exchange.target}: {request}" + (f" → {response}" if response else "")


def _result_words(result: Any) -> str:
    """An ``httpx.Response`` as status and body; JSON values indented; anything else as ``str``."""
    status = getattr(result, "status_code", None)
    if isinstance(status, int) and isinstance(getattr(result, "text", None), str):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        return clip(f"{status} {phrase}\n{result.text}", RESULT_LIMIT)
    if isinstance(result, (dict, list)):
        return clip(json.dumps(result, indent=2, ensure_ascii=False, default=str), RESULT_LIMIT)
    return clip("(no result)" if result is None else str(result), RESULT_LIMIT)


def _error_code(error: BaseException | None) -> str:
    if isinstance(error, AAuthError):
        return error.code
    if isinstance(error, (asyncio.CancelledError, concurrent.futures.CancelledError)):
        return "cancelled"
    return type(error).__name__


def _error_detail(error: BaseException | None) -> str:
    if isinstance(error, AAuthError):
        return error.detail
    return str(error) or "the flow stopped"
