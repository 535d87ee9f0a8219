"""The kit's HTTP client library: the only module of the kit that imports ``httpx`` (and its
connection layer, ``httpcore``).

Other modules use ``from .http_client import httpx`` (a successor, ``httpx2``, may replace
it here alone), plus the plain helpers every party needs: the origin of a URL, a party
identifier as a normalized origin, a ``fetch`` for metadata resolvers, and
:class:`PinnedTransport`, which connects to the addresses egress admission checked.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence

import httpcore
import httpx

from .errors import UsageError

__all__ = [
    "httpx",
    "origin_of",
    "identifier_origin",
    "make_fetch",
    "request_capped",
    "MAX_DOCUMENT_BYTES",
    "IDENTITY",
    "refuse_content_coding",
    "arefuse_content_coding",
    "FETCH_TIMEOUT",
    "ADMITTED_ADDRESSES",
    "PinnedTransport",
]


def origin_of(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default port left out."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UsageError(f"not a URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"not an http(s) URL with a host: {url!r}")
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


def identifier_origin(identifier: str) -> str:
    """Check that a party identifier is a bare origin and return it normalized.

    ``https://ps.example`` and ``https://ps.example/`` are identifiers; anything with
    a path, query, fragment or user info is not.
    """
    origin = origin_of(identifier)
    parsed = httpx.URL(identifier)
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.userinfo:
        raise UsageError(f"a party identifier is a bare origin like https://ps.example, not {identifier!r}")
    return origin


#: Largest metadata document or JWKS a fetch reads (bytes; answers are never content-coded).
MAX_DOCUMENT_BYTES = 1 << 20
#: What every capped read asks for: the body as it is, no content coding (RFC 9110 §12.5.3).
IDENTITY = {"Accept-Encoding": "identity"}
#: Seconds one fetch may take in all (connect, every read), not per read.
FETCH_TIMEOUT = 10.0


def make_fetch(
    transport: httpx.AsyncBaseTransport,
    *,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Callable[[str], Awaitable[tuple[int, dict[str, str], bytes]]]:
    """An ``async def fetch(url) -> (status, headers, body)`` over ``transport``.

    The shape ``jwks.HttpResolver`` takes: header names are lower-case, repeated
    headers are joined with ``", "``; a request that cannot be made raises
    ``TimeoutError`` or ``ConnectionError`` (an ``OSError``; an unknown host too).
    The whole fetch is bounded by ``timeout`` seconds (a body trickled byte by byte is
    cut there) and the body by ``max_bytes`` (streamed; reading stops at the cap and the
    fetch fails; a content-coded answer fails too, see :func:`_read_capped`): -11 "JWKS
    Discovery and Caching" asks for egress admission, whose limits follow OWASP ASVS level 2
    (resource limits on server-side requests).
    """

    async def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
        try:
            async with asyncio.timeout(timeout):
                request = httpx.Request(
                    "GET", url, headers=IDENTITY, extensions={"timeout": httpx.Timeout(timeout).as_dict()}
                )
                response = await transport.handle_async_request(request)
                try:
                    body = await _read_capped(response, max_bytes)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimeoutError(f"GET {url}: no complete answer within {timeout} s") from exc
        except (httpx.TransportError, httpx.InvalidURL, httpx.DecodingError) as exc:
            raise ConnectionError(f"GET {url}: {exc}") from exc
        return response.status_code, dict(response.headers), body

    return fetch


async def request_capped(
    client: httpx.AsyncClient, method: str, url: str, *, max_bytes: int = MAX_DOCUMENT_BYTES, **options
) -> httpx.Response:
    """``client.request(method, url, **options)`` with the answer's body read streamed and cut
    at ``max_bytes``: past it, ``httpx.ReadError``; content-coded, ``httpx.RemoteProtocolError``
    (:func:`refuse_content_coding`); both ``httpx.HTTPError``, like an answer that broke off.
    For a server reading another server's answers (revocations, federation): -11 is silent on their size;
    OWASP ASVS level 2 (resource limits on server-side requests)."""
    request = client.build_request(method, url, **options)
    request.headers.update(IDENTITY)
    response = await client.send(request, stream=True)
    try:
        body = await _read_capped(response, max_bytes)
    except ConnectionError as exc:
        raise httpx.ReadError(f"{method} {url}: {exc}", request=request) from None
    finally:
        await response.aclose()
    headers = [
        (k, v) for k, v in response.headers.multi_items() if k not in ("content-encoding", "content-length")
    ]
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def refuse_content_coding(response: httpx.Response) -> None:
    """``httpx.RemoteProtocolError`` for an answer with a content coding other than ``identity``
    (also an ``httpx.Client`` response hook: it runs before the body is read).

    The kit asks for ``Accept-Encoding: identity`` (:data:`IDENTITY`), so a conforming
    server sends the body as it is; decoding what a stranger compressed anyway (``gzip``,
    stacked ``gzip, gzip``) would turn a few hundred bytes into gigabytes before any size
    check.  Refusing is simpler than a bounded decoder and loses nothing: the documents the
    kit reads are small.  -11 is silent; OWASP ASVS level 2 (resource limits on server-side
    requests)."""
    codings = [c.strip().lower() for c in response.headers.get_list("content-encoding", split_commas=True)]
    if any(c not in ("", "identity") for c in codings):
        raise httpx.RemoteProtocolError(
            f"the answer is content-coded ({', '.join(codings)}); identity was asked for"
        )


async def arefuse_content_coding(response: httpx.Response) -> None:
    """:func:`refuse_content_coding` as an ``httpx.AsyncClient`` response hook (put it before
    any hook that reads the body, such as the lab's trace)."""
    refuse_content_coding(response)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body as sent (never decoded, see :func:`refuse_content_coding`), streamed;
    ``ConnectionError`` as soon as it passes ``max_bytes``.  A body a response hook read
    already (the lab's trace, after :func:`arefuse_content_coding`) is taken as read."""
    refuse_content_coding(response)
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise ConnectionError(f"the answer is larger than {max_bytes} bytes")
    if response.is_stream_consumed:
        if len(response.content) > max_bytes:
            raise ConnectionError(f"the answer is larger than {max_bytes} bytes")
        return response.content
    parts, size = [], 0
    async for part in response.aiter_raw():
        size += len(part)
        if size > max_bytes:
            raise ConnectionError(f"the answer is larger than {max_bytes} bytes")
        parts.append(part)
    return b"".join(parts)


#: The request extension naming the addresses egress admission checked for the URL's host
#: (:class:`~aauth_kit.egress.EgressTransport` sets it, :class:`PinnedTransport` obeys it).
ADMITTED_ADDRESSES = "aauth_kit.admitted_addresses"

#: ``(host, addresses)`` of the request :class:`PinnedTransport` is sending in this task.
_admitted: contextvars.ContextVar[tuple[str, Sequence[str]] | None] = contextvars.ContextVar(
    "admitted", default=None
)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens a connection to a host's admitted addresses, in order, never looking the name up."""

    def __init__(self):
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        admitted = _admitted.get()
        if admitted is None:
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        name, addresses = admitted
        if host != name or not addresses:
            raise httpcore.ConnectError(f"{host} has no admitted address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("the kit connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects a request carrying :data:`ADMITTED_ADDRESSES` to those
    addresses and no other: a second DNS answer at connect time (DNS rebinding: public when
    admission asked, private a moment later) is never asked for.  ``Host``, TLS SNI and the
    certificate check keep the URL's name.  A request without the extension connects as
    httpx does.  ``verify`` as httpx's (an ``ssl.SSLContext`` trusts its own CAs)."""

    #: Connections go to the addresses admission checked (:class:`~aauth_kit.egress.EgressTransport`).
    pins_addresses = True

    def __init__(self, *, verify=True):
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        addresses = request.extensions.get(ADMITTED_ADDRESSES)
        host = request.url.raw_host.decode("ascii")
        token = _admitted.set((host, tuple(addresses)) if addresses is not None else None)
        try:
            return await super().handle_async_request(request)
        finally:
            _admitted.reset(token)
