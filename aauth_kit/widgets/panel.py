"""The base of every kit widget: an ``ipywidgets.VBox`` whose state is rendered as HTML.

Displayed in a live kernel it is an ordinary widget.  Its display bundle also carries
a ``text/html`` snapshot (:meth:`Panel.to_html`) and a short, stable ``text/plain``
(``repr``): viewers without a kernel (GitHub, nbviewer, nbconvert) show the snapshot,
and nbval — which skips the widget view — compares those two instead of ipywidgets'
own repr, which changes between versions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as widgets


class Panel(widgets.VBox):
    def to_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        data["text/html"] = self.to_html()
        return data


def clock_of(now: int | Callable[[], float] | None) -> Callable[[], int]:
    """``now`` as a clock in whole seconds: a fixed time, a clock (a lab's docs-mode
    clock), or the system clock."""
    if now is None:
        return lambda: int(time.time())
    if callable(now):
        return lambda: int(now())
    return lambda: int(now)
