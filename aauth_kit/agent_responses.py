"""What an agent reads in the answers of resources and Person Servers.

An ``AAuth-Requirement`` to follow (-11 "AAuth-Requirement Header Structure"), a
``Signature-Error`` saying a cached token is no longer taken (-11 "Authentication
Errors"), the error a server ended a request with (-11 "Error Response Format"), and the
rules of a ``202``: its ``Location`` on the responder's own origin and its
``Retry-After`` (-11 "Pending Response", "Polling with GET").  A response that breaks
them ends the flow with ``invalid_response``.
"""

from __future__ import annotations

import json

from .deferred_headers import DEFAULT_RETRY_AFTER, parse_retry_after
from .errors import AAuthError, UsageError
from .flow import FlowError
from .headers import HeaderError, Requirement, parse_requirement, parse_signature_error
from .http_client import httpx, origin_of
from .problem import error_code, problem_of

#: A 401 ``Signature-Error`` with these codes means a cached token is no longer taken.
_STALE_TOKEN_ERRORS = ("expired_jwt", "revoked_jwt")


def json_body(response):
    """The JSON body of ``response``, or ``None`` when it has none."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def requirement_of(response) -> Requirement | None:
    """The ``AAuth-Requirement`` of ``response``, parsed (``None`` if absent)."""
    value = response.headers.get("aauth-requirement")
    if value is None:
        return None
    try:
        return parse_requirement(value)
    except HeaderError as exc:
        raise FlowError(
            "invalid_response", f"{response.request.url} sent a {exc.detail}", status=502, response=response
        ) from None


def requires(response, requirement: str, *, statuses=(401,)) -> Requirement | None:
    """The ``AAuth-Requirement`` of ``response`` if it asks for ``requirement`` (-11 "Requirement Values")."""
    if response.status_code not in statuses:
        return None
    found = requirement_of(response)
    return found if found is not None and found.requirement == requirement else None


def stale_token(response) -> bool:
    """401 ``Signature-Error: error=expired_jwt|revoked_jwt`` with no requirement to follow."""
    value = response.headers.get("signature-error")
    if response.status_code != 401 or value is None or "aauth-requirement" in response.headers:
        return False
    try:
        return parse_signature_error(value)[0] in _STALE_TOKEN_ERRORS
    except HeaderError:
        return False


def flow_error(response) -> FlowError:
    """The error a PS answered with: problem+json ``error`` (or pre -09 ``error_description``),
    a ``Signature-Error``, or ``server_error`` for anything unreadable."""
    body, code = problem_of(response.content), error_code(response.content)
    detail = (body.get("detail") or body.get("error_description")) if code else None
    if code is None and response.status_code == 401:
        code = error_code(None, response.headers.get("signature-error"))
    if code is None:
        code = "server_error" if response.status_code >= 500 else "invalid_response"
    detail = (
        detail
        if isinstance(detail, str)
        else f"{response.request.method} {response.request.url} answered {response.status_code}"
    )
    return FlowError(code, detail, status=response.status_code, response=response)


def pending_url_of(response, responder: str) -> str:
    """The ``Location`` of a ``202``, resolved against the request URL and required to be on
    the responder's origin (-11 "Pending Response", "Pending URL Security")."""
    location = response.headers.get("location")
    if not location:
        raise FlowError(
            "invalid_response", f"the 202 from {responder} has no Location", status=502, response=response
        )
    try:
        url = response.request.url.join(location)
        same = origin_of(url) == responder
    except (httpx.InvalidURL, AAuthError, UsageError):  # a mailto:, a malformed URL
        same = False
    if not same:
        raise FlowError(
            "invalid_response",
            f"the pending URL {location!r} is not on {responder}",
            status=502,
            response=response,
        )
    return str(url)


def retry_after(response, default: int = DEFAULT_RETRY_AFTER) -> int:
    """``Retry-After`` in seconds (absent: ``default``; unreadable: the -11 default of 5)."""
    try:
        return parse_retry_after(response.headers.get("retry-after"), default=default)
    except HeaderError:
        return DEFAULT_RETRY_AFTER


def held(response) -> float:
    """How long the server took to answer: a poll held under ``Prefer: wait`` already waited."""
    try:
        return response.elapsed.total_seconds()
    except RuntimeError:  # not read yet
        return 0.0
