"""Reading the error of an answer, for every client of the kit (agents, graders, servers,
notebooks): the ``error`` code of an RFC 9457 ``application/problem+json`` body (-11 "Error
Response Format") or of a ``Signature-Error`` header (Signature Keys -09 "Signature-Error HTTP
Response Header").  :mod:`aauth_kit.errors` writes them."""

from __future__ import annotations

import json

from .headers import HeaderError, parse_signature_error


def problem_of(body: bytes | str | None) -> dict:
    """The JSON object of a problem+json (or any JSON) body; ``{}`` for an empty body, one
    that is not JSON or not an object."""
    try:
        document = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def error_code(body: bytes | str | None, signature_error: str | None = None) -> str | None:
    """The error code of an answer: the ``error`` of its ``signature_error`` header value when
    one is given and readable, else the ``error`` string of its problem+json ``body``; ``None``
    for neither (a success)."""
    if signature_error:
        try:
            return parse_signature_error(signature_error)[0]
        except HeaderError:
            pass
    code = problem_of(body).get("error")
    return code if isinstance(code, str) else None
