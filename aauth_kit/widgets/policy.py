"""The consent-policy form: the seed's configuration script as a widget.

The seed set two Keycloak realm attributes from an interactive shell script — the scopes
that need the person's consent (``aauth.consent.required.scopes``) and the scope prefixes
that do (``…scope.prefixes``) — with the menu choices scopes, prefixes, both, defaults,
view and clear.  The kit's Person Server reads the same two lists from its
:class:`~aauth_kit.consent_policy.ConsentPolicy` at every auth token request (-11 "Policy
Evaluation Points": whether the PS issues at once or asks the person first is its own
policy).  This form edits that policy object in place, so the next request sees the
change; each change is validated as the admin endpoint validates it and written to the PS's
audit log.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import ipywidgets as widgets

from ..errors import AAuthError
from .html import badge, card, code, esc, para, table
from .panel import Panel


def parse_list(text: str) -> list[str]:
    """``supply-chain:optimize, user.`` or a JSON array ``["a", "b"]`` → a list of strings
    (empty items dropped)."""
    text = (text or "").strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            raise AAuthError("invalid_request", f"{text!r} is not a JSON array") from None
        if not isinstance(value, list):
            raise AAuthError("invalid_request", f"{text!r} is not a JSON array")
        return [item.strip() if isinstance(item, str) else item for item in value if item != ""]
    return [item.strip() for item in text.split(",") if item.strip()]


class ConsentPolicyForm(Panel):
    """``ConsentPolicyForm(lab.ps)``: two fields and the seed's menu as buttons.

    :meth:`apply`, :meth:`use_defaults`, :meth:`view` and :meth:`clear` do what the
    buttons do, from code; ``by`` is who the audit log names as making the change.
    """

    def __init__(self, ps, *, by: str = "mcp-user"):
        from aauth_kit.consent_policy import DEFAULT_CONSENT_PREFIXES, DEFAULT_CONSENT_SCOPES

        self.ps, self.by = ps, by
        self.defaults = {"scopes": list(DEFAULT_CONSENT_SCOPES), "prefixes": list(DEFAULT_CONSENT_PREFIXES)}
        self.scopes_field = widgets.Text(description="Scopes", placeholder="supply-chain:optimize, openid")
        self.prefixes_field = widgets.Text(description="Prefixes", placeholder="user., profile., email.")
        self.apply_button = widgets.Button(description="Apply", button_style="primary", icon="check")
        self.defaults_button = widgets.Button(description="Use defaults", icon="undo")
        self.view_button = widgets.Button(description="View current", icon="eye")
        self.clear_button = widgets.Button(description="Clear", button_style="warning", icon="eraser")
        self.view_html = widgets.HTML()
        super().__init__(
            children=[
                self.scopes_field,
                self.prefixes_field,
                widgets.HBox([self.apply_button, self.defaults_button, self.view_button, self.clear_button]),
                self.view_html,
            ]
        )
        self.message: str | None = None
        self.error: AAuthError | None = None
        self.apply_button.on_click(lambda _button: self.apply())
        self.defaults_button.on_click(lambda _button: self.use_defaults())
        self.view_button.on_click(lambda _button: self.view())
        self.clear_button.on_click(lambda _button: self.clear())
        self.view()

    @property
    def policy(self):
        return self.ps.policy

    # -- the seed's menu ------------------------------------------------------------------------
    def apply(self, scopes: list[str] | str | None = None, prefixes: list[str] | str | None = None) -> None:
        """Set both lists from the fields (or from the arguments, which fill the fields first)."""
        for field, value in ((self.scopes_field, scopes), (self.prefixes_field, prefixes)):
            if value is not None:
                field.value = value if isinstance(value, str) else ", ".join(value)
        try:
            document = {
                "scopes": parse_list(self.scopes_field.value),
                "prefixes": parse_list(self.prefixes_field.value),
            }
        except AAuthError as exc:
            self._show(error=exc)
            return
        self._change(document, "Applied.")

    def use_defaults(self) -> None:
        """The kit's defaults, which are the seed's: the optimize scope and the identity prefixes."""
        self._change(dict(self.defaults), "Defaults applied.")

    def clear(self) -> None:
        """Nothing needs consent: the PS grants every scope by policy."""
        self._change({"scopes": [], "prefixes": []}, "Cleared: nothing needs the person's consent now.")

    def view(self) -> None:
        """Fill the fields from the policy the PS is using now."""
        self.scopes_field.value = ", ".join(self.policy.scopes)
        self.prefixes_field.value = ", ".join(self.policy.prefixes)
        self._show(message=None)

    def _change(self, document: dict, message: str) -> None:
        try:
            self.policy.update(document)  # validated exactly as PUT /admin/consent-policy validates it
        except AAuthError as exc:
            self._show(error=exc)
            return
        self.ps.store.audit(self.by, "consent_policy_changed", "consent-policy", asdict(self.policy))
        self.view()
        self._show(message=message)

    # -- rendering ---------------------------------------------------------------------------------
    def _show(self, *, message: str | None = None, error: AAuthError | None = None) -> None:
        self.message, self.error = message, error
        self.view_html.value = self.to_html()

    def to_html(self) -> str:
        rows = [
            (
                "aauth.consent.required.scopes",
                json.dumps(self.policy.scopes),
                "scopes the person must approve",
            ),
            (
                "aauth.consent.required.scope.prefixes",
                json.dumps(self.policy.prefixes),
                "any scope starting with one of these needs approval too",
            ),
        ]
        parts = [table(rows)]
        if self.error is not None:
            parts.append(para(f"{badge(self.error.code, 'error')} {esc(self.error.detail)}"))
        elif self.message:
            parts.append(para(esc(self.message)))
        parts.append(
            para(
                f"Every other scope is granted by policy, without asking. Fields take "
                f"{code('a, b')} or a JSON array.",
                muted=True,
            )
        )
        return card("Consent policy at the Person Server", *parts)

    def __repr__(self) -> str:
        return f"<ConsentPolicyForm: scopes {self.policy.scopes}, prefixes {self.policy.prefixes}>"


__all__ = ["ConsentPolicyForm", "parse_list"]
