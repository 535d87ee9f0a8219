"""The kit's servers over Starlette: one error boundary and one view of a request.

* :func:`problem_response` renders an :class:`~aauth_kit.errors.AAuthError` as the
  RFC 9457 ``application/problem+json`` body of -11 "Error Response Format", with its
  status and, for a signature failure, the ``Signature-Error`` header of Signature Keys -09
  "Signature-Error HTTP Response Header" (a ``retry_after`` member also sets ``Retry-After``,
  RFC 9110 §10.2.3);
* :func:`exception_handlers` installs it for every route of an app (Starlette
  ``exception_handlers``), so an endpoint just raises;
* :func:`http_message` is the request as the signature layer sees it
  (:class:`~aauth_kit.message.HttpMessage`), its target URI built on the server's own
  identifier so that ``@authority`` must name that server.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from .errors import AAuthError
from .message import HttpMessage


def problem_response(error: AAuthError, headers: Mapping[str, str] | None = None) -> Response:
    """``error`` as problem+json with its status, its own headers and ``headers``."""
    response = Response(error.response_body(), status_code=error.status)
    retry_after = error.members.get("retry_after")
    extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
    for name, value in [*error.response_headers(), *extra.items(), *(headers or {}).items()]:
        response.headers[name] = value
    return response


async def _render(request: Request, error: Exception) -> Response:
    return problem_response(error)


def exception_handlers(more: Mapping | None = None) -> dict:
    """Starlette ``exception_handlers``: every :class:`AAuthError` an endpoint raises becomes
    its problem+json response; ``more`` adds handlers for other exception classes."""
    return {AAuthError: _render, **(more or {})}


async def http_message(request: Request, origin: str) -> HttpMessage:
    """``request`` as an :class:`HttpMessage` whose target URI is ``origin`` + the raw path
    and query: the server verifies what was sent to *it* (-11 "Verification (Server)")."""
    query = request.scope.get("query_string", b"")
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    target = origin + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    fields = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
    return HttpMessage(method=request.method, target_uri=target, headers=fields, body=await request.body())
