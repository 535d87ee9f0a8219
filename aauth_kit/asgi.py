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
  identifier so that ``@authority`` must name that server;
* :class:`SecurityHeaders` gives every page of the cast the browser-facing headers
  (never framed, never sniffed, no referrer; a content security policy, which a page with
  inline blocks states itself through :func:`content_security_policy`), and
  :func:`check_origin` refuses a state-changing request a browser sent from another origin;
* :class:`BodyLimit` answers ``413`` to a body over the cap before reading it, and ``503``
  to one the process has no room for (:class:`BodyBudget`);
* :class:`ErrorBoundary` answers any other exception an endpoint lets escape as problem+json
  ``500 server_error``, its traceback logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
from collections.abc import Mapping

from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .errors import AAuthError
from .identifiers import DEV_HOSTS
from .message import HttpMessage
from .server_proxy import proxied_origins

log = logging.getLogger(__name__)


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


#: Sent with every response: never framed (RFC 9700 §4.16: the consent page MUST NOT be
#: clickjacked), never content-sniffed, and no ``Referer`` to any other origin (the
#: interaction URL carries a code).  ``same-origin`` rather than ``no-referrer``: under
#: ``no-referrer`` a browser sends ``Origin: null`` even on a page's POST to its own server
#: (Fetch "serializing a request origin"), and :func:`check_origin` could not tell it from
#: a forged one.
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def content_security_policy(
    *, scripts: tuple[str, ...] = (), styles: tuple[str, ...] = (), form_action: tuple[str, ...] = ()
) -> str:
    """The policy of a page: its own origin only, never framed, no plugins, no ``<base>``.

    ``scripts`` and ``styles`` are the page's inline blocks, exact text: each is allowed by its
    SHA-256 hash, nothing else inline is (CSP Level 3 hash sources); ``form_action`` adds the
    origins a form may lead to (a redirect after a POST counts)."""

    def hashes(blocks: tuple[str, ...]) -> str:
        digests = (base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in blocks)
        return "".join(f" 'sha256-{d}'" for d in digests)

    directives = [
        "default-src 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'" + "".join(f" {origin}" for origin in form_action),
    ]
    if scripts:
        directives.append("script-src 'self'" + hashes(scripts))
    if styles:
        directives.append("style-src 'self'" + hashes(styles))
    return "; ".join(directives)


class SecurityHeaders:
    """ASGI middleware: every HTML page gets :data:`SECURITY_HEADERS` and the default
    :func:`content_security_policy` unless the endpoint set its own.  JSON answers are left
    as they are: no client renders them as a page, and the notebooks show their headers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower(): value for name, value in headers}
                if present.get(b"content-type", b"").startswith(b"text/html"):
                    defaults = {**SECURITY_HEADERS, "content-security-policy": content_security_policy()}
                    headers += [
                        (k.encode(), v.encode()) for k, v in defaults.items() if k.encode() not in present
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: The default cap on a request body, in bytes: the cast's largest proper body (a mission
#: proposal) is far smaller.
MAX_BODY = 1 << 20
#: Seconds a request body may take to arrive once the app asks for it.
BODY_TIMEOUT = 30.0
#: The default cap on the bytes of request bodies held at once by all the servers of the
#: process (64 bodies at the cap; without it 1,000 connections could hold 1 GiB).
MAX_BUFFERED = 64 << 20
#: ``Retry-After`` seconds of a body refused for want of room in the budget.
BUSY_RETRY_AFTER = 1


class BodyBudget:
    """The bytes of request bodies buffered in flight, across every server of the process.

    :class:`BodyLimit` takes a body's ``Content-Length`` before reading it (a chunked body
    chunk by chunk) and gives it back when the request is answered."""

    def __init__(self, limit: int = MAX_BUFFERED):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Hold ``size`` more bytes if they fit under the limit."""
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.used -= size


#: The process's budget: every :class:`BodyLimit` shares it unless given another
#: (``aauth-kit serve --max-buffered-bytes`` sets its limit).
BUFFERED = BodyBudget()


class _TooLarge(Exception):
    """The streamed body went past the cap (raised out of ``receive``, caught by :class:`BodyLimit`)."""


class _TooSlow(Exception):
    """The body did not arrive in time (raised inside the app, answered here)."""


class _NoRoom(Exception):
    """A chunk of the body would pass the process's :class:`BodyBudget`."""


class _WatchedSend:
    """An ASGI ``send`` that notes whether the response has begun (then an error can no
    longer be answered with a response of its own)."""

    def __init__(self, send):
        self.send, self.started = send, False

    async def __call__(self, message):
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is ``413`` (``invalid_request``) before it
    is read — at once when ``Content-Length`` says so, else as soon as the received chunks
    pass the cap; a body not complete ``timeout`` seconds after the app first asks for it is
    ``408`` (RFC 9110 §15.5.9), so slow senders cannot hold buffers; either way the
    connection is then closed, the rest never read (OWASP ASVS level 2 V13.1.3: size limits
    on requests).  -11 sets no limit; a body is read whole only below both.

    Bodies under the cap still share ``budget`` (the process's :data:`BUFFERED`): one that
    would pass it is ``503 temporarily_unavailable`` with ``Retry-After`` before any of it is
    read (a chunked one when its chunk would), and the connection is closed.  Not ``413``:
    the body is not too large, the server is busy for now (RFC 9110 §15.6.4), and 503 is what
    the draft's clients back off from and retry (-11 "Deferred Response State Machine")."""

    def __init__(
        self, app, max_bytes: int = MAX_BODY, timeout: float = BODY_TIMEOUT, budget: BodyBudget | None = None
    ):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout
        self.budget = budget if budget is not None else BUFFERED

    def _error(self, refusal: Exception) -> AAuthError:
        """The answer to a body refused by ``refusal`` (:class:`_TooLarge`, ``_TooSlow``, ``_NoRoom``)."""
        if isinstance(refusal, _NoRoom):
            return AAuthError(
                "temporarily_unavailable",
                "the server holds as many request bodies as it may; try again shortly",
                status=503,
                retry_after=BUSY_RETRY_AFTER,
            )
        if isinstance(refusal, _TooSlow):
            return AAuthError(
                "invalid_request", f"the body did not arrive within {self.timeout:g} s", status=408
            )
        return AAuthError("invalid_request", f"the body is over {self.max_bytes} bytes", status=413)

    async def _refuse(self, scope, receive, send, refusal: Exception) -> None:
        await problem_response(self._error(refusal), {"connection": "close"})(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not (declared.isascii() and declared.isdigit()) or int(declared) > self.max_bytes
        ):
            return await self._refuse(scope, receive, send, _TooLarge())
        held = int(declared or 0)
        if held and not self.budget.take(held):
            return await self._refuse(scope, receive, send, _NoRoom())
        try:
            await self._guarded(scope, receive, send, counted=declared is None)
        finally:
            self.budget.give(held)

    async def _guarded(self, scope, receive, send, *, counted: bool) -> None:
        """The app, its body capped and timed; without ``Content-Length`` (``counted``) the
        body is taken from the budget chunk by chunk, and given back at the end."""
        # deadline: 0.0 until the app first asks for the body, then when it must be complete;
        # None once it is (a later receive only waits for a disconnect)
        received, deadline, taken = 0, 0.0, 0
        watched = _WatchedSend(send)

        async def counted_receive():
            nonlocal received, deadline, taken
            if deadline is None:  # the body is complete: a disconnect may be awaited freely
                return await receive()
            if deadline == 0:
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            size = len(message.get("body", b""))
            received += size
            if received > self.max_bytes:
                raise _TooLarge
            if counted and size:
                if not self.budget.take(size):
                    raise _NoRoom
                taken += size
            if not message.get("more_body", False):
                deadline = None
            return message

        try:
            await self.app(scope, counted_receive, watched)
        except (_TooLarge, _TooSlow, _NoRoom) as refusal:
            if watched.started:
                raise
            await self._refuse(scope, receive, send, refusal)
        finally:
            self.budget.give(taken)


class ErrorBoundary:
    """ASGI middleware: an exception an endpoint lets escape (a bug, not an
    :class:`AAuthError`, which :func:`exception_handlers` renders) is logged with its
    traceback under ``server``'s name and answered ``500 server_error`` as problem+json (-11
    "Error Response Format"), not as a bare page; once the response has begun it is raised."""

    def __init__(self, app, server: str):
        self.app, self.server = app, server

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        watched = _WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except ClientDisconnect:  # nobody left to answer
            raise
        except Exception:
            log.exception("%s: %s %s failed", self.server, scope.get("method"), scope.get("path"))
            if watched.started:
                raise
            error = AAuthError("server_error", "the server failed to answer this request")
            await problem_response(error)(scope, receive, send)


def middleware(
    max_body: int = MAX_BODY, body_timeout: float = BODY_TIMEOUT, budget: BodyBudget | None = None
) -> list[Middleware]:
    """The middleware every app of the cast runs under (Starlette ``middleware=``)."""
    return [
        Middleware(BodyLimit, max_bytes=max_body, timeout=body_timeout, budget=budget),
        Middleware(SecurityHeaders),
    ]


def own_origins(request: Request, identifier: str) -> set[str]:
    """The origins this server answers as: its identifier's and, on a loopback socket, the
    ``http://127.0.0.1:PORT`` and ``http://localhost:PORT`` a browser reaches it at.  Taken
    from the listening socket, never from ``Host``: a page that rebinds its own name to
    127.0.0.1 sends its own ``Host`` and ``Origin``, which must not count as this server's.
    Behind a Jupyter server's proxy, also that server's origin for what the proxy forwarded
    (:func:`~aauth_kit.server_proxy.proxied_origins`)."""
    origins = {identifier.rstrip("/")}
    server = request.scope.get("server")
    if server and server[0] in DEV_HOSTS and server[1]:
        origins.update(f"http://{host}:{server[1]}" for host in DEV_HOSTS)
        origins.update(proxied_origins(request.headers, server[1]))
    return origins


def check_origin(request: Request, identifier: str) -> None:
    """``403 forbidden`` for a request a browser sent from another origin: a foreign or
    ``null`` ``Origin``, or, without ``Origin``, ``Sec-Fetch-Site: cross-site``/``same-site``
    (other ports of the same host are the same *site*).  A client that sends neither is
    not a browser acting for someone else and passes (OWASP CSRF Prevention: verify the
    origin with standard headers)."""
    origin = request.headers.get("origin")
    if origin is not None:
        if origin not in own_origins(request, identifier):
            raise AAuthError("forbidden", f"cross-origin request refused: Origin {origin[:100]}", status=403)
    elif request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise AAuthError("forbidden", "cross-site request refused (Sec-Fetch-Site)", status=403)
