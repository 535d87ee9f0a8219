"""Jupyter widgets (ipywidgets 8) for watching AAuth happen.

* :class:`TokenInspector` — a token's header, payload and signature, each claim explained;
* :class:`MessageInspector` — raw HTTP, covered components marked, the signature base,
  AAuth headers decoded;
* :class:`ConsentPanel` — a pending request at the Person Server, Approve / Deny;
* :class:`SequenceView` — the trace as a sequence diagram that redraws as traffic flows;
* :class:`FlowRunner` — runs a flow on the kit's loop thread and shows each exchange.

In Jupyter, widget clicks cannot arrive while a cell runs, so anything that waits for a
person runs on the loop thread (FlowRunner) and widgets report by trait assignment,
which is safe from any thread.  Every widget works headless (``button.click()``) and
carries a static HTML snapshot for viewers without a kernel.  Jupyter is imported here
only: ``import aauth_kit`` never needs it.
"""

from .consent import ConsentPanel
from .message import MessageInspector
from .runner import FlowRunner
from .sequence import SequenceView
from .token import TokenInspector

__all__ = ["ConsentPanel", "FlowRunner", "MessageInspector", "SequenceView", "TokenInspector"]
