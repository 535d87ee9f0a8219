"""The token inspector: one AAuth token's header, payload and signature, explained.

Each JOSE header member and claim gets one line in words (-11 "JWT Type Registrations"
and each type's "… Token Structure", via :mod:`aauth_kit.explain`, the text ``aauth-kit decode`` prints), times as dates and
distances from now, and a verification badge: with the issuer's key at hand the token
goes through :func:`check_token` (-11 "JWT Trust Verification"), without it the
token is shown as not verified.  "Check again" re-reads the clock, so a token can be
watched expiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets

from .. import jws
from ..claims import TYPES
from ..errors import AAuthError, TokenError, UsageError
from ..explain import (
    cnf_thumbprint,
    explain_claim,
    explain_header,
    explain_typ,
    lifetime_in_words,
    pretty,
    token_type,
    utc,
)
from ..jwks import issuer_key
from ..keys import Key, b64url
from ..token_verification import check_token
from .html import PART_COLOURS, badge, card, clip, coloured, esc, para, pre, section, table
from .panel import Panel, clock_of


@dataclass(frozen=True)
class Verification:
    """``state``: ``valid`` | ``invalid`` (``code`` is the Signature-Error code) |
    ``unverified`` (no issuer key given) | ``malformed`` (not a JWT at all)."""

    state: str
    code: str | None
    detail: str

    @property
    def valid(self) -> bool:
        return self.state == "valid"

    def words(self) -> str:
        return f"{self.code}: {self.detail}" if self.code else self.detail


BADGES = {
    "valid": ("valid", "ok"),
    "invalid": ("invalid", "error"),
    "unverified": ("not verified", "neutral"),
    "malformed": ("not a JWT", "error"),
}


def _issuer_key(jwks: Key | dict, kid) -> Key:
    """The key that must have signed the token: ``jwks`` itself (a Key or one JWK), or the
    member of a JWKS that the header's ``kid`` selects (as ``aauth-kit decode --jwks``)."""
    if isinstance(jwks, Key):
        return jwks
    if isinstance(jwks.get("keys"), list):
        return issuer_key(jwks["keys"], False, kid)
    return issuer_key([jwks], True, kid)


class TokenInspector(Panel):
    """``TokenInspector(token, jwks=issuer_key_or_jwks, now=lab.clock)``.

    ``jwks`` is the issuer's :class:`Key`, one JWK, or a JWKS (``{"keys": [...]}``);
    ``now`` a fixed time, a clock, or None for the system clock; ``dev`` accepts loopback
    ``http`` issuers.  :attr:`status` is the last :class:`Verification`.
    """

    def __init__(
        self,
        token: str,
        *,
        jwks: Key | dict | None = None,
        now: int | Callable[[], float] | None = None,
        dev: bool = False,
    ):
        if jwks is not None and not isinstance(jwks, (Key, dict)):
            raise UsageError(f"jwks is the issuer's Key, a JWK or a JWKS, not {type(jwks).__name__}")
        view = widgets.HTML()
        check_button = widgets.Button(
            description="Check again", icon="refresh", tooltip="verify again at the current time"
        )
        super().__init__(children=[view, check_button])
        self.token, self.jwks, self.dev = token, jwks, dev
        self.view, self.check_button = view, check_button
        self._clock = clock_of(now)
        self.decoded: jws.Decoded | None = None
        self.status: Verification | None = None
        self.checked_at = 0
        check_button.on_click(lambda _button: self.check())
        self.check()

    @property
    def typ(self) -> str | None:
        return token_type(self.decoded.header) if self.decoded else None

    def check(self) -> Verification:
        """Decode and (with a key) verify the token at the clock's current time; redraw."""
        self.checked_at = self._clock()
        try:
            self.decoded = jws.decode_unverified(self.token)
        except TokenError as exc:
            self.decoded, self.status = None, Verification("malformed", exc.code, exc.detail)
        else:
            self.status = self._verify()
        self.view.value = self.to_html()
        return self.status

    def _verify(self) -> Verification:
        if self.jwks is None:
            return Verification(
                "unverified", None, "no issuer key was given (jwks=...), so nothing was checked"
            )
        try:
            key = _issuer_key(self.jwks, self.decoded.header.get("kid"))
            check_token(self.token, typ=TYPES, key=key, now=self.checked_at, dev=self.dev)
        except AAuthError as exc:
            return Verification("invalid", exc.code, exc.detail)
        return Verification(
            "valid", None, f"signature and claims check out with the issuer's key at {utc(self.checked_at)}"
        )

    # -- rendering ---------------------------------------------------------------------------
    def to_html(self) -> str:
        text, tone = BADGES[self.status.state]
        status = badge(text, tone)
        if self.decoded is None:
            return card(
                "Token inspector",
                para(esc(self.status.words())),
                pre(esc(clip(str(self.token), 400))),
                badge_html=status,
            )
        header, payload = self.decoded.header, self.decoded.payload
        typ = self.typ
        parts = self.token.split(".")
        compact = ".".join(coloured(part, colour) for part, colour in zip(parts, PART_COLOURS))
        claims = [
            explain_claim(typ, name, value, payload, self.checked_at) for name, value in payload.items()
        ]
        extra = [line for line in (lifetime_in_words(payload, typ), cnf_thumbprint(payload)) if line]
        return card(
            "Token inspector",
            para(esc(explain_typ(header.get("typ")))),
            pre(compact),
            section(
                "Header",
                pre(esc(pretty(header)))
                + table(
                    [(e.name, e.value, e.means) for e in (explain_header(n, v) for n, v in header.items())]
                ),
            ),
            section(
                "Payload",
                pre(esc(pretty(payload)))
                + table([(e.name, e.value, e.means) for e in claims])
                + "".join(para(esc(line)) for line in extra),
            ),
            section("Signature", self._signature_html(status)),
            badge_html=status,
        )

    def _signature_html(self, status_badge: str) -> str:
        decoded = self.decoded
        alg, kid = decoded.header.get("alg"), decoded.header.get("kid")
        rows = [
            (
                "signed",
                f"{len(decoded.signing_input)} bytes",
                "base64url(header) '.' base64url(payload), exactly as sent",
            ),
            ("alg", str(alg), "the algorithm the issuer signed with"),
            ("kid", str(kid), "selects the issuer's key in its JWKS"),
            ("signature", b64url(decoded.signature), f"{len(decoded.signature)} bytes"),
        ]
        return table(rows) + para(f"{status_badge} {esc(self.status.words())}")

    def __repr__(self) -> str:
        return f"<TokenInspector: {self.typ or 'not a JWT'}, {BADGES[self.status.state][0]}>"
