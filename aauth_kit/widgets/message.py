"""The message inspector: one HTTP message (or a traced request and its response) as
raw HTTP, with what its signature covers highlighted and its AAuth headers decoded.

* the RFC 9421 signature: ``Signature-Input`` parameters, the covered components
  marked in the raw message, the signature base rebuilt as the signer built it
  (RFC 9421 §2.5), and an offline check of the signature with the key ``Signature-Key`` names
  (the key only: the token's own signature, the time window and key discovery are
  the server's ``verify_request``);
* ``Signature-Key`` (Signature Keys -09 "Signature-Key HTTP Request Header"): the
  scheme, and for ``jwt`` the token's ``typ`` and main claims;
* ``AAuth-Requirement`` (-11 "Requirement Responses"), ``Signature-Error`` (Signature
  Keys -09 "Signature-Error HTTP Response Header"),
  ``Prefer: wait`` / ``Location`` / ``Retry-After`` (-11 "Deferred Responses") and
  problem+json ``error`` (-11 "Error Response Format");
* tokens carried in JSON bodies (``auth_token``, ``resource_token`` …), collected in
  :attr:`MessageInspector.tokens` for a :class:`TokenInspector`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import http_sfv
import ipywidgets as widgets

from .. import httpsig, jws, tokens
from ..deferred_headers import parse_prefer_wait, parse_retry_after
from ..errors import AAuthError, UsageError
from ..explain import (
    REQUIREMENT_WORDS,
    SIGNATURE_ERROR_WORDS,
    explain_claim,
    explain_typ,
    time_in_words,
    token_type,
)
from ..headers import parse_legacy_challenge, parse_requirement, parse_signature_error
from ..message import HttpMessage
from ..signature_key import key_from_hwk, parse_signature_key
from ..trace import Exchange
from .html import badge, card, clip, code, esc, mark, para, pre, section, table
from .panel import Panel, clock_of

#: Claims of a presented or challenged token worth a line in a message view.
SUMMARY_CLAIMS = ("iss", "sub", "aud", "scope", "agent_jkt", "exp", "cnf")
BODY_LIMIT = 3000


@dataclass
class Reading:
    """What the inspector read in one message; ``sections`` is the rendered HTML."""

    title: str
    message: HttpMessage
    signature: httpsig.SignatureInput | None = None
    base: str | None = None
    sections: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def covered(self) -> list[str]:
        return self.signature.components if self.signature else []


class MessageInspector(Panel):
    """``MessageInspector(exchange)`` or ``MessageInspector(message, label="sig")``.

    ``label`` picks the signature label (default: the first one present); ``now`` (a
    time or a clock) is what ``created`` is compared with, in words.
    """

    def __init__(
        self,
        message: HttpMessage | Exchange,
        *,
        label: str | None = None,
        now: int | Callable[[], float] | None = None,
    ):
        if not isinstance(message, (HttpMessage, Exchange)):
            raise UsageError(
                f"MessageInspector shows an HttpMessage or a traced Exchange, not {type(message).__name__}"
            )
        view = widgets.HTML()
        super().__init__(children=[view])
        self.view, self.label, self._clock = view, label, clock_of(now)
        if isinstance(message, Exchange):
            self.exchange, self.title = message, f"{message.index + 1}. {message.source} → {message.target}"
            pairs = [("Request", message.request)]
            if message.response is not None:
                pairs.append((f"Response {message.response.status}", message.response))
        else:
            self.exchange = None
            kind = "Request" if message.status is None else f"Response {message.status}"
            self.title, pairs = kind, [(kind, message)]
        self.readings = [self._read(title, msg) for title, msg in pairs]
        self.view.value = self.to_html()

    @property
    def base(self) -> str | None:
        """The signature base of the first message (the request, for an exchange)."""
        return self.readings[0].base

    @property
    def covered(self) -> list[str]:
        return self.readings[0].covered

    @property
    def tokens(self) -> dict[str, str]:
        """Compact JWTs found, by where they were: ``signature-key``, ``resource-token``
        (a challenge), or the JSON member name (``auth_token`` …)."""
        found: dict[str, str] = {}
        for reading in self.readings:
            found.update(reading.tokens)
        return found

    def to_html(self) -> str:
        return card(f"Message inspector: {self.title}", *(part for r in self.readings for part in r.sections))

    def __repr__(self) -> str:
        covered = len(self.covered)
        return f"<MessageInspector: {self.title}, {covered} covered component{'' if covered == 1 else 's'}>"

    # -- reading -------------------------------------------------------------------------------
    def _read(self, title: str, message: HttpMessage) -> Reading:
        reading = Reading(title, message)
        # the signature is read first: the raw view marks what it covers
        signature_html = self._signature(reading) if message.header("signature-input") is not None else ""
        reading.sections.append(section(title, pre(_raw_html(message, reading))))
        if signature_html:
            reading.sections.append(signature_html)
        for part in (_signature_key, _requirement, _signature_error, _deferred, _problem, _body_tokens):
            html_part = part(message, reading, self._clock())
            if html_part:
                reading.sections.append(html_part)
        return reading

    def _signature(self, reading: Reading) -> str:
        """``Signature-Input`` read, the base rebuilt, the signature checked offline."""
        message = reading.message
        try:
            sig = httpsig.read_signature(message, self.label)
        except AAuthError as exc:
            return section("Signature (RFC 9421)", para(f"{badge(exc.code, 'error')} {esc(exc.detail)}"))
        reading.signature = sig
        rows = [
            ("label", sig.label, "names this signature in Signature-Input, Signature and Signature-Key"),
            ("covers", " ".join(sig.components), "the components the signature protects (highlighted above)"),
        ]
        for name, value in sig.params.params.items():
            meaning = {
                "created": "when it was signed",
                "expires": "when it stops being valid",
                "keyid": "names the key",
                "alg": "RFC 9421 algorithm name (AAuth leaves it out)",
            }.get(name, "")
            shown = time_in_words(value, self._clock()) if name in ("created", "expires") else str(value)
            rows.append((name, shown, meaning))
        try:
            reading.base = httpsig.signature_base(message, sig.params)
        except (AAuthError, UsageError) as exc:
            base_html = para(f"{badge('cannot rebuild', 'error')} {esc(getattr(exc, 'detail', str(exc)))}")
        else:
            base_html = para(
                "The signer signed exactly these bytes (RFC 9421 §2.5): one line per covered "
                "component, then @signature-params.",
                muted=True,
            ) + pre(_base_html(reading.base))
        return section("Signature (RFC 9421)", table(rows) + _offline_check(message, sig)) + section(
            "Signature base", base_html
        )


# -- raw HTTP with the covered components marked ---------------------------------------------
def _raw_html(message: HttpMessage, reading: Reading) -> str:
    names = set(reading.signature.component_names) if reading.signature else set()

    def covered(text: str, *components: str) -> str:
        hit = [c for c in components if c in names]
        return mark(esc(text), f"covered as {', '.join(hit)}") if hit else esc(text)

    if message.status is None:
        has_host = message.header("host") is not None
        parts = message.url
        path = parts.path or "/"
        if has_host:
            target = covered(path, "@path", "@request-target", "@target-uri")
        else:
            target = covered(f"{parts.scheme}://{parts.netloc}", "@target-uri", "@authority") + covered(
                path, "@path", "@request-target", "@target-uri"
            )
        if parts.query:
            target += covered(f"?{parts.query}", "@query", "@request-target", "@target-uri")
        lines = [f"{covered(message.method, '@method')} {target} HTTP/1.1"]
    else:
        try:
            phrase = HTTPStatus(message.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {covered(str(message.status), '@status')} {esc(phrase)}".rstrip()]
    for name, value in message.headers:
        lower = name.lower()
        if lower == "host":
            value_html = covered(value, "@authority", "@target-uri")
        else:
            value_html = covered(value, lower)
        lines.append(f"{covered(name, lower)}: {value_html}")
    text = "\n".join(lines) + "\n\n"
    if message.body:
        try:
            body = clip(message.body.decode("utf-8"), BODY_LIMIT)
        except UnicodeDecodeError:
            body = f"({len(message.body)} bytes of binary data)"
        text += mark(esc(body), "covered through content-digest") if "content-digest" in names else esc(body)
    return text


def _base_html(base: str) -> str:
    """The base, its last line (``@signature-params``) set apart."""
    *lines, params = base.split("\n")
    return "\n".join([*(esc(line) for line in lines), f"<b>{esc(params)}</b>"])


def _offline_check(message: HttpMessage, sig: httpsig.SignatureInput) -> str:
    """Verify the signature bytes with the key ``Signature-Key`` names, offline."""
    value = message.header("signature-key")
    if value is None:
        return para(
            "No Signature-Key: a plain RFC 9421 signature, checkable only by someone who knows the key.",
            muted=True,
        )
    try:
        signature_key = parse_signature_key(value, sig.label)
        if signature_key.scheme == "hwk":
            key = key_from_hwk(signature_key)
        elif signature_key.scheme in ("jwt", "jkt-jwt"):
            key = tokens.confirmation_key(signature_key)
        else:
            return para(
                f"The {esc(signature_key.scheme)} key is fetched by the verifier; not checked here.",
                muted=True,
            )
        httpsig.verify_signature(message, sig, key, check_alg=False)  # -11 "Signature Parameters"
    except AAuthError as exc:
        return para(f"{badge(exc.code, 'error')} {esc(exc.detail)}")
    return para(
        f"{badge('signature matches', 'ok')} the bytes verify over this base with the key Signature-Key "
        "names (the token, the time window and the issuer are the server's checks)"
    )


# -- AAuth headers ------------------------------------------------------------------------------
def _token_rows(token: str, now: int) -> str:
    """A token's ``typ`` in one line and its main claims, unverified."""
    try:
        decoded = jws.decode_unverified(token)
    except AAuthError as exc:
        return para(f"{badge(exc.code, 'error')} {esc(exc.detail)}")
    typ = token_type(decoded.header)
    rows = [
        explain_claim(typ, name, decoded.payload[name], decoded.payload, now)
        for name in SUMMARY_CLAIMS
        if name in decoded.payload
    ]
    return para(esc(explain_typ(decoded.header.get("typ")))) + table(
        [(e.name, e.value, e.means) for e in rows]
    )


def _signature_key(message: HttpMessage, reading: Reading, now: int) -> str:
    value = message.header("signature-key")
    if value is None:
        return ""
    label = reading.signature.label if reading.signature else _first_member(value)
    try:
        signature_key = parse_signature_key(value, label or "sig")
    except AAuthError as exc:
        return section("Signature-Key", para(f"{badge(exc.code, 'error')} {esc(exc.detail)}"))
    scheme = signature_key.scheme
    words = {
        "hwk": 'a bare public key: the agent is pseudonymous (Signature Keys -09 "Header Web Key (hwk)")',
        "jwks_uri": 'the signer\'s keys are in its JWKS, found through its metadata (Signature Keys -09 "JWKS URI Discovery (jwks_uri)")',
        "jwt": 'a JWT whose cnf.jwk is the signing key (Signature Keys -09 "JWT Confirmation Key (jwt)")',
        "jkt-jwt": 'a JWT issued by a key thumbprint, naming an ephemeral key (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)")',
    }.get(scheme, "a scheme the kit does not accept: a verifier answers unsupported_scheme")
    body = para(f"{code(f'{signature_key.label}={scheme}')} — {esc(words)}")
    if signature_key.jwt is not None:
        reading.tokens["signature-key"] = signature_key.jwt
        body += _token_rows(signature_key.jwt, now)
    else:
        body += table([(name, str(v), "") for name, v in signature_key.params.items()])
    return section("Signature-Key", body)


def _first_member(value: str) -> str | None:
    d = http_sfv.Dictionary()
    try:
        d.parse(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return next(iter(d), None)


def _requirement(message: HttpMessage, reading: Reading, now: int) -> str:
    value, legacy = message.header("aauth-requirement"), False
    if value is None:
        value, legacy = message.header("aauth-challenge") or message.header("aauth"), True
    if value is None:
        return ""
    title = "AAuth-Challenge (pre -11 form)" if legacy else "AAuth-Requirement"
    try:
        requirement = parse_legacy_challenge(value) if legacy else parse_requirement(value)
    except AAuthError as exc:
        return section(title, para(f"{badge(exc.code, 'error')} {esc(exc.detail)}"))
    words = REQUIREMENT_WORDS.get(
        requirement.requirement, "not a -11 requirement: an agent must not treat it as satisfiable"
    )
    body = para(f"{badge(requirement.requirement, 'accent')} {esc(words)}")
    rows = [(name, str(v), "") for name, v in requirement.params.items() if name != "resource-token"]
    body += table(rows) if rows else ""
    if requirement.resource_token:
        reading.tokens["resource-token"] = requirement.resource_token
        body += para("resource-token:") + _token_rows(requirement.resource_token, now)
    return section(title, body)


def _signature_error(message: HttpMessage, reading: Reading, now: int) -> str:
    value = message.header("signature-error")
    if value is None:
        return ""
    try:
        error, members = parse_signature_error(value)
    except AAuthError as exc:
        return section("Signature-Error", para(f"{badge(exc.code, 'error')} {esc(exc.detail)}"))
    words = SIGNATURE_ERROR_WORDS.get(error, 'a code Signature Keys -09 "Error Codes" does not define')
    rows = [
        (name, " ".join(map(str, v)) if isinstance(v, list) else str(v), "") for name, v in members.items()
    ]
    rows += [
        (name, message.header(name), "what the server accepts")
        for name in ("accept-signature-scheme", "accept-signature-alg")
        if message.header(name)
    ]
    return section(
        "Signature-Error", para(f"{badge(error, 'error')} {esc(words)}") + (table(rows) if rows else "")
    )


def _deferred(message: HttpMessage, reading: Reading, now: int) -> str:
    """``Prefer: wait`` on a request; ``Location`` + ``Retry-After`` on a 202 (-11 "Deferred Responses")."""
    rows = []
    if message.status is None:
        try:
            wait = parse_prefer_wait(message.header("prefer"))
        except AAuthError as exc:
            rows.append(("Prefer", message.header("prefer"), f"{exc.code}: {exc.detail}"))
        else:
            if wait is not None:
                rows.append(("Prefer", f"wait={wait}", f"the agent will wait up to {wait} s for the answer"))
    elif message.status == 202:
        rows.append(
            ("Location", message.header("location") or "(missing)", "the pending URL the agent polls")
        )
        try:
            retry = parse_retry_after(message.header("retry-after"), now=now)
        except AAuthError as exc:
            rows.append(("Retry-After", message.header("retry-after"), f"{exc.code}: {exc.detail}"))
        else:
            rows.append(
                ("Retry-After", message.header("retry-after") or "(absent: 5)", f"poll again in {retry} s")
            )
    return section("Deferred response", table(rows)) if rows else ""


def _problem(message: HttpMessage, reading: Reading, now: int) -> str:
    body = message.json_object()
    if message.status is None or not isinstance(body.get("error"), str):
        return ""
    detail = body.get("detail", body.get("error_description"))
    text = f"{badge(body['error'], 'error')} {esc(detail) if isinstance(detail, str) else ''}"
    return section("Error (problem+json)", para(text))


def _body_tokens(message: HttpMessage, reading: Reading, now: int) -> str:
    """JWTs in top-level ``*_token`` JSON members (token responses, token requests)."""
    parts = []
    for name, value in message.json_object().items():
        if not (isinstance(name, str) and name.endswith("_token") and isinstance(value, str)):
            continue
        try:
            jws.decode_unverified(value)
        except AAuthError:
            continue
        reading.tokens[name] = value
        parts.append(para(code(name)) + _token_rows(value, now))
    return section("Tokens in the body", "".join(parts)) if parts else ""
