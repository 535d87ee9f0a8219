"""The lab's virtual network: spec-shaped identifiers routed to in-process servers.

Every party has an identifier such as ``https://ps.example`` (-11 "Server Identifiers")
and the runtime routes that origin to a real uvicorn socket on 127.0.0.1 or to an ASGI
app (``httpx.ASGITransport``); the real network is never used.  The HTTP client library
itself comes from :mod:`aauth_kit.http_client`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import UsageError
from .http_client import httpx, identifier_origin, origin_of
from .identifiers import is_dev_url

__all__ = [
    "UnknownHostError",
    "VirtualHostTransport",
    "SyncBridgeTransport",
]

#: A route target: ``(host, port)`` of a live socket server, or an ASGI app.
Target = tuple[str, int] | Callable[..., Awaitable[None]]

#: How long a hop to the loop thread may take when the request carries no httpx timeout.
DEFAULT_WAIT = 300.0

# Response extensions that still make sense once the body is buffered.
_KEPT_EXTENSIONS = ("http_version", "reason_phrase")


class LoopThreadLike(Protocol):
    """What the transports need from ``loop.LoopThread``."""

    def is_current(self) -> bool: ...

    def submit(self, coro) -> concurrent.futures.Future: ...


class UnknownHostError(httpx.ConnectError):
    """A request for an origin that no party is registered at.

    The lab never falls through to the real network: an unknown host fails here.
    """


def _wait_bound(request: httpx.Request, default: float) -> float:
    """The longest a caller waits for ``request``: its httpx timeouts summed, plus a second."""
    timeouts = [t for t in (request.extensions.get("timeout") or {}).values() if t is not None]
    return sum(timeouts) + 1.0 if timeouts else default


async def _buffered(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """Send ``request`` and read the whole raw body, so the response can leave this loop."""
    response = await transport.handle_async_request(request)
    try:
        body = b"".join([part async for part in response.aiter_raw()])
    finally:
        await response.aclose()
    extensions = {k: v for k, v in response.extensions.items() if k in _KEPT_EXTENSIONS}
    return httpx.Response(
        response.status_code,
        headers=response.headers.raw,
        stream=httpx.ByteStream(body),
        extensions=extensions,
    )


class VirtualHostTransport(httpx.AsyncBaseTransport):
    """Route each request by origin: to ``(host, port)`` over real HTTP, or into an ASGI app.

    ``routes`` maps normalized origins (see :func:`identifier_origin`) to targets and is
    read at every request, so later additions are seen.  A socket target receives the
    request over plain HTTP with the original ``Host`` header kept and
    ``X-Forwarded-Proto`` set to the identifier's scheme, so the app sees the same
    ``request.url`` (``https://ps.example/...``) in socket and ASGI mode.  Dev-mode
    URLs (``http://127.0.0.1:PORT``, ``http://localhost:PORT``) pass through; any other origin raises
    :class:`UnknownHostError`.

    With ``loop_thread``, all I/O and every ASGI app run on that thread's loop; a caller
    on another event loop (a Jupyter cell's top-level ``await``) hops over and waits.
    """

    #: Egress admission's checked addresses are kept: only routed origins and dev-mode
    #: loopback URLs are connected to, and a name admission resolved is neither.
    pins_addresses = True

    def __init__(
        self,
        routes: Mapping[str, Target],
        *,
        loop_thread: LoopThreadLike | None = None,
        default_wait: float = DEFAULT_WAIT,
    ):
        for origin in routes:
            if identifier_origin(origin) != origin:
                raise UsageError(
                    f"route key {origin!r} is not a normalized origin ({identifier_origin(origin)!r})"
                )
        self.routes = routes
        self.loop_thread = loop_thread
        self.default_wait = default_wait
        self._sockets = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.loop_thread is None or self.loop_thread.is_current():
            return await self._route(request)
        await request.aread()
        return await self._hop(_buffered(self, request), request)

    async def aclose(self) -> None:
        if self.loop_thread is None or self.loop_thread.is_current():
            await self._sockets.aclose()
        else:
            await asyncio.wait_for(asyncio.wrap_future(self.loop_thread.submit(self._sockets.aclose())), 5.0)

    async def _hop(self, coro, request: httpx.Request) -> httpx.Response:
        future = asyncio.wrap_future(self.loop_thread.submit(coro))
        done, _ = await asyncio.wait({future}, timeout=_wait_bound(request, self.default_wait))
        if not done:
            future.cancel()
            raise httpx.ReadTimeout(f"no response from {origin_of(request.url)} in time", request=request)
        return future.result()

    async def _route(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise httpx.UnsupportedProtocol(
                f"the lab routes http(s) URLs only, not {request.url}", request=request
            )
        origin = origin_of(request.url)
        target = self.routes.get(origin)
        if target is None:
            if is_dev_url(urlsplit(str(request.url))):
                return await self._sockets.handle_async_request(request)
            known = ", ".join(sorted(self.routes)) or "none"
            raise UnknownHostError(
                f"no party is registered at {origin} (known: {known}); the lab never uses the real network",
                request=request,
            )
        if isinstance(target, tuple):
            return await self._forward(request, origin, target)
        return await self._asgi(request, target)

    async def _forward(self, request: httpx.Request, origin: str, target: tuple[str, int]) -> httpx.Response:
        host, port = target
        headers = request.headers.copy()
        headers["x-forwarded-proto"] = request.url.scheme
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http", host=host, port=port),
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        try:
            return await self._sockets.handle_async_request(forwarded)
        except httpx.ConnectError as exc:
            raise httpx.ConnectError(
                f"{origin} (served at {host}:{port}) refused the connection; is its server stopped?",
                request=request,
            ) from exc

    async def _asgi(self, request: httpx.Request, app: Any) -> httpx.Response:
        timeout = asyncio.timeout(_wait_bound(request, self.default_wait))
        try:
            async with timeout:
                return await httpx.ASGITransport(app=app).handle_async_request(request)
        except TimeoutError:
            if timeout.expired():
                raise httpx.ReadTimeout(
                    f"no response from {origin_of(request.url)} in time", request=request
                ) from None
            raise


class SyncBridgeTransport(httpx.BaseTransport):
    """A sync transport that runs an async one on the runtime's loop thread and waits.

    This is what lets ``httpx.Client`` work in a notebook cell whose thread already runs
    an event loop, in socket and ASGI mode alike.  Waits are bounded by the request's
    httpx timeouts; calling it from the loop thread raises :class:`UsageError` instead of
    deadlocking.
    """

    def __init__(
        self,
        async_transport: httpx.AsyncBaseTransport,
        loop_thread: LoopThreadLike,
        *,
        default_wait: float = DEFAULT_WAIT,
    ):
        self.async_transport = async_transport
        self.loop_thread = loop_thread
        self.default_wait = default_wait

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._refuse_loop_thread("a sync httpx.Client request")
        request.read()
        return self._wait(
            self.loop_thread.submit(_buffered(self.async_transport, request)),
            _wait_bound(request, self.default_wait),
            lambda: httpx.ReadTimeout(f"no response from {origin_of(request.url)} in time", request=request),
        )

    def close(self) -> None:
        self._refuse_loop_thread("closing a sync httpx.Client")
        self._wait(
            self.loop_thread.submit(self.async_transport.aclose()),
            5.0,
            lambda: TimeoutError("closing the async transport took longer than 5 s"),
        )

    def _refuse_loop_thread(self, what: str) -> None:
        if self.loop_thread.is_current():
            raise UsageError(
                f"{what} on the kit's loop thread would wait for itself forever; "
                "use an async client (hosts.async_client()) and `await` there"
            )

    @staticmethod
    def _wait(future: concurrent.futures.Future, bound: float, timeout_error: Callable[[], Exception]):
        try:
            done, _ = concurrent.futures.wait([future], timeout=bound)
        except BaseException:  # KeyboardInterrupt in a cell: stop the work, then re-raise
            future.cancel()
            raise
        if not done:
            future.cancel()
            raise timeout_error()
        return future.result()
