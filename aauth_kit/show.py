"""Messages as text for the notebooks: raw HTTP with long values shortened, and the
tokens a message carries decoded in words.

* :func:`raw` — one request or response as HTTP/1.1 text (RFC 9112 framing): the
  start line, the header fields as sent, a blank line, the body.  Long opaque values
  (JWTs, signatures, digests) are cut to their first and last characters, the same
  way every time, so a notebook's output never changes between runs.  The four
  headers httpx adds to every request (:data:`NOISE`) are left out unless a
  signature covers them; JSON bodies are indented (``pretty_json=False`` keeps them
  as sent).
* :func:`found_tokens` — the JWTs in ``Signature-Key`` (Signature Keys -09 "Signature-Key HTTP Request Header"),
  in ``AAuth-Requirement`` (``resource-token``, -11 "Requirement Responses") and in
  JSON bodies (``auth_token``, ``person_token`` …).
* :func:`decoded` — one token in words, through :mod:`aauth_kit.explain`.
* :func:`text` / :func:`show` — a message, a traced exchange, or a whole trace, with
  the tokens found decoded below each message; nothing (``None``, a query that found
  nothing) is said in words, never raised.

Nothing here verifies anything; the widgets (``aauth_kit.widgets``) show the same
messages interactively.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus

import http_sfv

from . import httpsig
from .errors import AAuthError
from .explain import explain_claim, explain_typ, lifetime_in_words, token_type
from .headers import parse_requirement
from .jws import decode_unverified
from .message import HttpMessage
from .trace import Exchange, Exchanges, NoExchange, Trace

#: Opaque values longer than this many characters are shortened.
SHORT = 48
#: Characters kept from the end of a shortened value (the rest is kept from the start).
TAIL = 8
ELLIPSIS = "…"
#: Headers httpx adds to every request; hidden unless a signature covers them.
NOISE = ("accept", "accept-encoding", "connection", "user-agent")
#: Body lines shown before "… (N more lines)".
BODY_LINES = 20
#: At most this many tokens are decoded per message.
MAX_TOKENS = 8

_OPAQUE = re.compile(r"[A-Za-z0-9+/=_.\-]+")


# -- shortening ----------------------------------------------------------------------------
def shorten(value: str, limit: int = SHORT) -> str:
    """``value`` if it has at most ``limit`` characters, else its start, "…" and its last
    :data:`TAIL` characters (``limit`` characters in all)."""
    if len(value) <= limit:
        return value
    tail = min(TAIL, max(limit // 4, 0))
    head = max(limit - tail - len(ELLIPSIS), 1)
    return f"{value[:head]}{ELLIPSIS}{value[len(value) - tail :] if tail else ''}"


def shorten_opaque(text: str, limit: int = SHORT) -> str:
    """Shorten every run of base64 / base64url / JWT characters longer than ``limit``
    inside ``text``; words, URLs and punctuation stay as they are."""
    return _OPAQUE.sub(lambda m: shorten(m.group(), limit), text)


def _shorten_json(value, limit: int):
    if isinstance(value, str):
        return shorten_opaque(value, limit)
    if isinstance(value, list):
        return [_shorten_json(item, limit) for item in value]
    if isinstance(value, dict):
        return {key: _shorten_json(item, limit) for key, item in value.items()}
    return value


# -- raw HTTP ------------------------------------------------------------------------------
def covered_fields(message: HttpMessage) -> set[str]:
    """Header names any signature on ``message`` covers (RFC 9421 §2.1); empty if the
    ``Signature-Input`` cannot be read."""
    try:
        labels = httpsig.signature_labels(message)
        return {name for label in labels for name in httpsig.read_signature(message, label).component_names}
    except AAuthError:
        return set()


def start_line(message: HttpMessage) -> str:
    """``GET /inventory HTTP/1.1`` (origin form when a ``Host`` field is present, else the
    absolute URI, RFC 9112 §3.2) or ``HTTP/1.1 401 Unauthorized``."""
    if message.status is None:
        target = message.request_target if message.header("host") is not None else message.target_uri
        return f"{message.method} {target} HTTP/1.1"
    try:
        phrase = HTTPStatus(message.status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {message.status} {phrase}".rstrip()


def body_text(
    message: HttpMessage, *, limit: int = SHORT, body_lines: int = BODY_LINES, pretty_json: bool = True
) -> str:
    """The body for reading: JSON indented with long strings shortened (or as sent with
    ``pretty_json=False``), text with long opaque runs shortened, at most ``body_lines``
    lines; binary bodies as a byte count."""
    if not message.body:
        return ""
    try:
        text = message.body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(message.body)} bytes of binary data)"
    if pretty_json:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, (dict, list)):
            text = json.dumps(_shorten_json(value, limit), indent=2, ensure_ascii=False)
        else:
            text = shorten_opaque(text, limit)
    else:
        text = shorten_opaque(text, limit)
    lines = text.splitlines()
    if len(lines) > body_lines:
        rest = len(lines) - body_lines
        lines = lines[:body_lines] + [f"… ({rest} more line{'' if rest == 1 else 's'})"]
    return "\n".join(lines)


def raw(
    message: HttpMessage,
    *,
    hide: Iterable[str] = NOISE,
    limit: int = SHORT,
    body_lines: int = BODY_LINES,
    pretty_json: bool = True,
) -> str:
    """``message`` as HTTP/1.1 text with long values shortened (see the module doc).

    ``hide`` names header fields to leave out (case-insensitive); a field a signature
    covers is always shown.
    """
    covered = covered_fields(message)
    hidden = {name.lower() for name in hide} - covered
    lines = [start_line(message)]
    lines += [
        f"{name}: {shorten_opaque(value, limit)}"
        for name, value in message.headers
        if name.lower() not in hidden
    ]
    body = body_text(message, limit=limit, body_lines=body_lines, pretty_json=pretty_json)
    return "\n".join(lines) + "\n" + (f"\n{body}" if body else "")


# -- tokens --------------------------------------------------------------------------------
def _is_jwt(value) -> bool:
    if not isinstance(value, str) or value.count(".") != 2:
        return False
    try:
        decode_unverified(value)
    except AAuthError:
        return False
    return True


def _json_tokens(value, path: str) -> list[tuple[str, str]]:
    if _is_jwt(value):
        return [(path, value)]
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _json_tokens(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _json_tokens(item, f"{path}[{index}]")
    return found


def found_tokens(message: HttpMessage) -> list[tuple[str, str]]:
    """``(where, token)`` for each JWT the message carries: ``Signature-Key`` members
    with a ``jwt`` parameter, the ``resource-token`` of ``AAuth-Requirement``, and
    strings in a JSON body that decode as JWTs (at most :data:`MAX_TOKENS`)."""
    found: list[tuple[str, str]] = []
    value = message.header("signature-key")
    if value is not None:
        members = http_sfv.Dictionary()
        try:
            members.parse(value.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            members = http_sfv.Dictionary()
        for label, member in members.items():
            jwt = member.params.get("jwt") if isinstance(member, http_sfv.Item) else None
            if _is_jwt(jwt):
                found.append((f"Signature-Key {label}={member.value}", jwt))
    value = message.header("aauth-requirement")
    if value is not None:
        try:
            resource_token = parse_requirement(value).resource_token
        except AAuthError:
            resource_token = None
        if _is_jwt(resource_token):
            found.append(("AAuth-Requirement resource-token", resource_token))
    found += [(f"body {path}", token) for path, token in _json_tokens(message.json_object(), "")]
    return found[:MAX_TOKENS]


def decoded(token: str, *, now: int, limit: int = SHORT) -> str:
    """One token in words: what its ``typ`` is, its JOSE header, then each claim with
    its meaning (-11 "Agent Token Structure" and the other token structures), times relative to ``now``, and its lifetime."""
    try:
        parts = decode_unverified(token)
    except AAuthError as exc:
        return f"(not a JWT: {exc.detail})"
    header, payload = parts.header, parts.payload
    typ = token_type(header)
    lines = [explain_typ(header.get("typ")), f"  header: {shorten_opaque(json.dumps(header), limit)}"]
    for name, value in payload.items():
        claim = explain_claim(typ, name, value, payload, now)
        lines.append(f"  {name}: {shorten_opaque(claim.value, limit)} — {claim.means}")
    lifetime = lifetime_in_words(payload, typ)
    if lifetime:
        lines.append(f"  {lifetime}")
    return "\n".join(lines)


# -- messages, exchanges, traces -----------------------------------------------------------
def _now(now, default: float | None) -> int:
    if callable(now):
        return int(now())
    if now is not None:
        return int(now)
    return int(default if default is not None else time.time())


def _message_text(
    message: HttpMessage, *, now: int, show_tokens: bool, seen: dict[str, str], where: str, **raw_options
) -> str:
    """Raw ``message``, then each token it carries: decoded the first time, named after that."""
    parts = [raw(message, **raw_options).rstrip("\n")]
    if show_tokens:
        for place, token in found_tokens(message):
            if token in seen:
                parts.append(f"\n▸ token in {place}: the same token as {seen[token]}")
                continue
            seen[token] = f"{where} ({place})" if where else place
            parts.append(
                f"\n▸ token in {place}:\n{decoded(token, now=now, limit=raw_options.get('limit', SHORT))}"
            )
    return "\n".join(parts)


def title(exchange: Exchange) -> str:
    """``1. Agent → Supply chain: GET /inventory → 200``."""
    return f"{exchange.index + 1}. {exchange.source} → {exchange.target}: {exchange.summary()}"


def _exchange_text(exchange: Exchange, *, now, show_tokens: bool, seen: dict[str, str], **raw_options) -> str:
    when = _now(now, exchange.started or None)
    step = exchange.index + 1
    parts = [
        f"── {title(exchange)} ──",
        _message_text(
            exchange.request,
            now=when,
            show_tokens=show_tokens,
            seen=seen,
            where=f"step {step}'s request",
            **raw_options,
        ),
    ]
    if exchange.response is not None:
        parts += [
            "",
            _message_text(
                exchange.response,
                now=when,
                show_tokens=show_tokens,
                seen=seen,
                where=f"step {step}'s response",
                **raw_options,
            ),
        ]
    return "\n".join(parts)


def text(
    item: HttpMessage | Exchange | Trace | Iterable[Exchange],
    *,
    now: int | Callable[[], float] | None = None,
    tokens: bool = True,
    **raw_options,
) -> str:
    """A message, a traced exchange (request, then response) or a trace as text, each
    message followed by the tokens it carries — decoded where a token first appears,
    named after that.

    ``now`` (a time or a clock such as ``lab.clock``) is what token times are
    compared with; by default an exchange's own start time, else the system clock.
    ``raw_options`` go to :func:`raw`.
    """
    missing = nothing(item)
    if missing:
        return missing
    seen: dict[str, str] = {}
    if isinstance(item, HttpMessage):
        return _message_text(
            item, now=_now(now, None), show_tokens=tokens, seen=seen, where="", **raw_options
        )
    exchanges = (
        [item] if isinstance(item, Exchange) else item.exchanges if isinstance(item, Trace) else list(item)
    )
    return "\n\n".join(
        _exchange_text(exchange, now=now, show_tokens=tokens, seen=seen, **raw_options)
        for exchange in exchanges
    )


def nothing(item) -> str:
    """What is missing, in words, when ``item`` is nothing to show; ``""`` otherwise."""
    if isinstance(item, NoExchange) or (isinstance(item, Exchanges) and not item):
        return f"Nothing to show: no exchange in the trace matches {item.wanted} (yet). Run the cells above first."
    if item is None:
        return (
            "Nothing to show: this is None. An exchange has no response until its request is answered, "
            "so wait for the flow to finish (or run the cells above first)."
        )
    if isinstance(item, Trace) and not item.exchanges:
        return "Nothing to show: the trace is empty."
    if isinstance(item, (list, tuple)) and not item:
        return "Nothing to show: no exchanges."
    return ""


def show(item, **options) -> None:
    """Print :func:`text` of ``item`` (a message, an exchange, a trace or a list of exchanges).

    One write, so a notebook stores it as one stream output, the same on every run."""
    print(text(item, **options) + "\n", end="")
