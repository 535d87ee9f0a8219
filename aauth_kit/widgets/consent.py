"""The consent panel: the person's side of a deferred request at the Person Server.

Seed step 6 and -11 "User Interaction": the PS holds a pending request (202, an
interaction code) until the person decides.  The panel shows what the person is asked
— which agent, for which resource, which scopes (with the resource's descriptions),
and the agent's justification — and its Approve / Deny buttons record the decision
with :meth:`PersonServer.decide`, exactly as the consent page does; the agent's held
poll wakes at once.  Refresh moves on to the next live request when this one is gone.
While its request waits, the panel looks at it on the kit's loop thread: decided
elsewhere (the consent page, the REST API) or expired, it shows the final state and its
buttons go dead, with no click needed.

In Jupyter a click cannot arrive while a cell runs, so the agent's poll must run
elsewhere (a later cell, or a :class:`FlowRunner` on the loop thread).
"""

from __future__ import annotations

import asyncio
import threading

import ipywidgets as widgets

from ..errors import AAuthError
from ..explain import duration_in_words, utc
from ..interaction import format_code
from ..loop import get_loop_thread
from .html import badge, card, esc, para, table
from .panel import Panel

KIND_WORDS = {
    "auth_token": 'asks for access to a resource (an auth token, -11 "PS Token Endpoint")',
    "person_token": 'asks to act for you at a resource (a person token, -11 "Person Token Endpoint")',
    "agent_approval": "asks to become one of your agents (an agent token from the Agent Provider)",
}
LIVE = ("pending", "interacting")
WATCH_EVERY = 0.5  # seconds between two looks at a waiting request
OUTCOME_TONES = {
    "approved": "ok",
    "completed": "ok",
    "denied": "error",
    "abandoned": "error",
    "expired": "warn",
    "cancelled": "warn",
}


class ConsentPanel(Panel):
    """``ConsentPanel(lab.ps)`` shows the oldest live request; ``code=`` picks one.

    ``by`` is the person deciding (their username at the PS).  :meth:`approve`,
    :meth:`deny` and :meth:`refresh` do what the buttons do, from code.
    """

    def __init__(self, ps, code: str | None = None, *, by: str = "mcp-user"):
        view = widgets.HTML()
        approve = widgets.Button(description="Approve", button_style="success", icon="check")
        deny = widgets.Button(description="Deny", button_style="danger", icon="times")
        refresh = widgets.Button(description="Refresh", icon="refresh")
        super().__init__(children=[view, widgets.HBox([approve, deny, refresh])])
        self.ps, self.by = ps, by
        self.view, self.approve_button, self.deny_button, self.refresh_button = view, approve, deny, refresh
        self.code = code
        self.pending = None
        self.outcome: str | None = None  # the decision made here: "approved" | "denied"
        self.error: AAuthError | None = None
        self._lock = threading.RLock()
        self._watching = False
        self._closed = False
        approve.on_click(lambda _button: self.approve())
        deny.on_click(lambda _button: self.deny())
        refresh.on_click(lambda _button: self.refresh())
        self.refresh()

    # -- actions ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the request; once it is decided or gone, show the oldest live one instead
        (if there is none, the decided one stays on view)."""
        with self._lock:
            self._refresh()
        self._watch()

    def _refresh(self) -> None:
        self.error = None
        if self.pending is not None:
            pending = self.ps.store.get_pending(self.pending.id)
        elif self.code is not None:
            pending = self._lookup(self.code)
            if pending is None:
                self.error = AAuthError("invalid_code", f"no request has the code or id {self.code!r}")
                self.code = None
        else:
            pending = None
        if (pending is None and self.error is None) or (pending is not None and not self._waiting(pending)):
            codes = self.ps.pending_codes()
            if codes:
                self.code, self.outcome = codes[0], None
                pending = self._lookup(codes[0])
        self.pending = pending
        self._redraw()

    def approve(self) -> None:
        self._decide(True)

    def deny(self) -> None:
        self._decide(False)

    def _decide(self, approved: bool) -> None:
        with self._lock:
            self._decide_here(approved)

    def _decide_here(self, approved: bool) -> None:
        if self.pending is None:
            return
        self.error = None
        try:
            self.ps.decide(self.pending.id, approved, by=self.by)
        except AAuthError as exc:  # decided elsewhere (conflict), expired, another person's request
            self.error = exc
        else:
            self.outcome = "approved" if approved else "denied"
        self.pending = self.ps.store.get_pending(self.pending.id)
        self._redraw()

    def close(self) -> None:
        self._closed = True
        super().close()

    # -- watching -----------------------------------------------------------------------------
    def _watch(self) -> None:
        """Follow a waiting request on the loop thread until it is decided or expired."""
        with self._lock:
            if self._watching or self._closed or not self.live:
                return
            self._watching = True
        get_loop_thread().submit(self._follow())

    async def _follow(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(WATCH_EVERY)
                with self._lock:
                    if not self._look():
                        return
        finally:
            with self._lock:
                self._watching = False

    def _look(self) -> bool:
        """Re-read the request on view; redraw if it changed; whether it still waits."""
        if self.pending is None:
            return False
        try:
            pending = self.ps.store.get_pending(self.pending.id)
        except Exception:  # noqa: BLE001 - the PS closed (its lab stopped): nothing more to follow
            return False
        if pending is None:
            return False
        if pending.status != self.pending.status or not self._waiting(pending):
            self.pending = pending
            self._redraw()
        return self.live

    def _lookup(self, code_or_id: str):
        store = self.ps.store
        return store.find_by_code(code_or_id) or store.get_pending(code_or_id)

    # -- rendering ----------------------------------------------------------------------------
    def _waiting(self, pending) -> bool:
        """Still waiting for a decision: not decided and not past its expiry."""
        return pending.status in LIVE and pending.expires_at > self.ps.clock()

    @property
    def live(self) -> bool:
        return self.pending is not None and self._waiting(self.pending)

    def _redraw(self) -> None:
        self.approve_button.disabled = self.deny_button.disabled = not self.live
        self.view.value = self.to_html()

    def to_html(self) -> str:
        pending = self.pending
        error = para(f"{badge(self.error.code, 'error')} {esc(self.error.detail)}") if self.error else ""
        if pending is None:
            return card(
                "Consent",
                error,
                para(
                    "No request is waiting for a decision. Start a flow that needs "
                    "consent, then press Refresh.",
                    muted=True,
                ),
                badge_html=badge("nothing pending"),
            )
        data = pending.request if isinstance(pending.request, dict) else {}
        agent = pending.agent_id + (
            f" ({data['agent_name']})" if isinstance(data.get("agent_name"), str) else ""
        )
        rows = [("agent", agent, KIND_WORDS.get(pending.kind, pending.kind))]
        if pending.resource:
            name = data.get("resource_name")
            rows.append(
                (
                    "resource",
                    pending.resource + (f" ({name})" if isinstance(name, str) else ""),
                    "where the agent wants to act",
                )
            )
        descriptions = (
            data.get("scope_descriptions") if isinstance(data.get("scope_descriptions"), dict) else {}
        )
        for scope in (pending.scope or "").split():
            described = descriptions.get(scope)
            rows.append(("scope", scope, described if isinstance(described, str) else "(no description)"))
        if pending.justification:
            rows.append(
                ("justification", pending.justification, "the agent's own words (-11: shown to the person)")
            )
        if pending.code:
            rows.append(("code", format_code(pending.code), "the interaction code the agent was given"))
        now = self.ps.clock()
        if self.live:
            left = pending.expires_at - now
            rows.append(
                (
                    "expires",
                    utc(int(pending.expires_at)),
                    f"in {duration_in_words(int(left))}" if left > 0 else "now",
                )
            )
        parts = [table(rows), error]
        if self.outcome is not None:
            who = pending.decided_by or self.by
            parts.append(
                para(f"{esc(who)} {esc(self.outcome)} this request; the agent's next poll gets the answer.")
            )
        status = pending.status if self.live or pending.status not in LIVE else "expired"
        if self.outcome is None and not self.live:
            words = (
                f"{esc(pending.decided_by)} decided elsewhere (the consent page, its REST API or another panel)"
                if pending.decided_by
                else f"No longer waiting ({esc(status)})"
            )
            parts.append(para(f"{words}: nothing left to do here.", muted=True))
        title = f"Consent: {pending.agent_id} {'asks' if self.live else 'asked'}"
        return card(title, *parts, badge_html=badge(status, OUTCOME_TONES.get(status, "accent")))

    def __repr__(self) -> str:
        if self.pending is None:
            return "<ConsentPanel: nothing pending>"
        return f"<ConsentPanel: {self.pending.kind} from {self.pending.agent_id}, {self.pending.status}>"
