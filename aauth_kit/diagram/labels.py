"""The labels of a sequence diagram: one exchange in AAuth words (:func:`label_for`).

A request is named by the token it presents (``Signature-Key``, Signature Keys -09
"Signature-Key HTTP Request Header") and ``Prefer: wait`` (-11 "Deferred Responses");
a response by what it asks for (``AAuth-Requirement``, -11 "Requirement Responses"),
refuses (``Signature-Error``, Signature Keys -09 "Signature-Error HTTP Response Header";
problem+json ``error``) or delivers (``auth_token`` …).  Nothing here verifies anything.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from urllib.parse import urlsplit

import http_sfv

from ..claims import AGENT_TYP, AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from ..deferred_headers import parse_prefer_wait
from ..errors import AAuthError
from ..headers import parse_legacy_challenge, parse_requirement, parse_signature_error
from ..jws import decode_unverified
from ..message import HttpMessage
from ..signature_key import parse_signature_key
from ..trace import Exchange

#: Labels longer than this many characters end in "…".
MAX_LABEL = 60
ELLIPSIS = "…"
#: JWT ``typ`` (-11 "JWT Type Registrations") → the words a label uses.
TOKEN_WORDS = {
    AGENT_TYP: "agent token",
    PERSON_TYP: "person token",
    AUTH_TYP: "auth token",
    RESOURCE_TYP: "resource token",
}
#: JSON members by which a PS or resource delivers a token (-11 "Agent Token Acquisition",
#: "Person Token Endpoint", "Response with Resource Token", "PS Response").
DELIVERED = ("agent_token", "auth_token", "person_token", "resource_token")

_OPAQUE = re.compile(r"[A-Za-z0-9_-]{16,}")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def label_for(exchange: Exchange) -> tuple[str, str]:
    """``(request label, response label)`` for one exchange, in AAuth words::

        ("POST /auth-token with agent token (Prefer: wait=30)", "202 interaction code ABCD-EFGH")

    Opaque path segments (pending ids, hashes) become "…", a query becomes "?…", and
    each label is cut to :data:`MAX_LABEL` characters.  The response label is ""
    while the response has not arrived.  Nothing here verifies anything: tokens are
    read with :func:`jws.decode_unverified`, and a malformed header is named as such.
    """
    response = _response_words(exchange.response) if exchange.response is not None else ""
    return clip(_request_words(exchange.request), MAX_LABEL), clip(response, MAX_LABEL)


def _request_words(request: HttpMessage) -> str:
    text = f"{clean(request.method) or '?'} {_short_path(request.target_uri)}"
    presented = _presented(request)
    if presented:
        text += f" with {presented}"
    try:
        wait = parse_prefer_wait(request.header("prefer"))
    except (AAuthError, ValueError):
        wait = None
    if wait is not None:
        text += f" (Prefer: wait={wait})"
    return text


def _short_path(uri: str) -> str:
    """The path with opaque segments elided: ``/pending/…``; a query shows as ``?…``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return clean(uri)
    segments = [ELLIPSIS if _is_opaque(s) else s for s in (parts.path or "/").split("/")]
    return clean("/".join(segments)) + ("?…" if parts.query else "")


def _is_opaque(segment: str) -> bool:
    """A random-looking segment: long, and mixing at least two of lower, upper, digits.

    Human path words (``auth-token``, ``aauth-person.json``) stay readable."""
    if len(segment) > 40:
        return True
    classes = sum(bool(re.search(p, segment)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return bool(_OPAQUE.fullmatch(segment)) and classes >= 2


def _presented(request: HttpMessage) -> str:
    """What the request presents: its ``Signature-Key`` and an ``AAuth`` session token (-11 "AAuth-Access Response Header")."""
    words = []
    value = request.header("signature-key")
    if value is not None:
        words.append(_signature_key_words(value))
    scheme = (request.header("authorization") or "").split(" ")[0]
    if scheme.lower() == "aauth":  # auth schemes are case-insensitive (RFC 9110 §11.1)
        words.append("session token")
    return " + ".join(words)


def _signature_key_words(value: str) -> str:
    """The first ``Signature-Key`` member (Signature Keys -09 "Signature-Key HTTP Request Header") in words: a ``jwt`` by its ``typ``
    (``agent token``, ``person token``, ``auth token``), other schemes by name."""
    d = http_sfv.Dictionary()
    try:
        d.parse(value.encode("ascii"))
        label = next(iter(d))
        key = parse_signature_key(value, label)
    except (AAuthError, ValueError, UnicodeEncodeError, StopIteration):
        return "malformed Signature-Key"
    if key.scheme != "jwt":
        return f"{key.scheme} key"
    try:
        typ = decode_unverified(key.jwt).header.get("typ")
    except AAuthError:
        return "malformed JWT"
    if not isinstance(typ, str):
        return "JWT without typ"
    normalized = typ.lower().removeprefix("application/")  # RFC 7515 §4.1.9
    return TOKEN_WORDS.get(normalized, f"{typ} JWT")


def _response_words(response: HttpMessage) -> str:
    status = response.status
    error = response.header("signature-error")
    if error is not None:
        try:
            code = parse_signature_error(error)[0]
        except (AAuthError, ValueError):
            code = "malformed"
        return f"{status} Signature-Error: {code}"
    requirement = _requirement_words(response)
    if requirement:
        return f"{status} {requirement}"
    body = response.json_object()
    if isinstance(body.get("error"), str):  # -11 problem+json: ``error`` is what clients dispatch on
        return f"{status} {body['error']}"
    delivered = [name for name in DELIVERED if name in body]
    if response.header("aauth-access") is not None:
        delivered.append("session token")
    if delivered:
        return f"{status} {' + '.join(delivered)}"
    if status == 202:  # -11 "Deferred Responses": {"status": "pending" | "interacting"}
        state = body.get("status")
        return f"202 {state if isinstance(state, str) else 'pending'}"
    if isinstance(body.get("keys"), list):
        return f"{status} JWKS"
    if "issuer" in body:
        return f"{status} metadata"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _requirement_words(response: HttpMessage) -> str:
    """``AAuth-Requirement`` (-11 "Requirement Responses") or a pre-rename ``AAuth-Challenge`` / ``AAuth``."""
    value, legacy = response.header("aauth-requirement"), False
    if value is None:
        value, legacy = response.header("aauth-challenge") or response.header("aauth"), True
    if value is None:
        return ""
    try:
        requirement = parse_legacy_challenge(value) if legacy else parse_requirement(value)
    except (AAuthError, ValueError):
        return "malformed AAuth-Requirement"
    if requirement.requirement == "interaction" and requirement.code:
        words = f"interaction code {clip(requirement.code, 20)}"
    else:
        words = f"{'require' if legacy else 'requirement'}={requirement.requirement}"
        if requirement.resource_token:
            words += " with resource token"
    return words + (" (legacy)" if legacy else "")


def is_failure(response: HttpMessage) -> bool:
    """A 4xx/5xx that is not an AAuth challenge (a 401 with a requirement is a normal step)."""
    return (response.status or 0) >= 400 and not _requirement_words(response)


def clean(text: str) -> str:
    """One line of text XML can carry: whitespace runs become one space, characters
    XML 1.0 forbids (controls, lone surrogates) become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", " ".join(str(text).split()))


def clip(text: str, limit: int) -> str:
    text = clean(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS
