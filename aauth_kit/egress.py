"""Egress admission: which URLs the kit's servers may fetch or post to.

-11 "JWKS Discovery and Caching": before fetching any issuer metadata or ``jwks_uri``,
verifiers MUST apply egress admission.  The draft does not say what the policy is; this
one follows OWASP ASVS level 2 (server-side request forgery: an allow-list of
destinations, no internal addresses) and applies to every request the kit's parties make
(metadata and JWKS discovery, revocation ``POST`` s, calls between the cast):

* ``https`` only; ``http`` only in dev mode (:func:`identifiers.check_url`);
* an origin the lab routes (the cast's own identifiers, and the loopback sockets they are
  served at) is admitted by name;
* in dev mode, any other origin only if named explicitly (``allow``): dev identifiers
  are loopback ports, so anything else on loopback is someone else's service;
* outside dev mode the host is resolved and *every* address must be public: no private,
  loopback, link-local, unspecified, multicast or reserved address (an IP literal is
  judged without any lookup).  ``allow`` names origins admitted regardless;
* the connection then goes to the addresses admission checked, not to what the name
  resolves to a moment later (DNS rebinding): :class:`EgressTransport` hands them to its
  inner transport (:class:`~aauth_kit.http_client.PinnedTransport`), and refuses to send
  through one that would look the name up again.

A refusal is :class:`EgressRefused` (an ``httpx.ConnectError``), so callers see it as a
target they cannot reach — the same as a closed port, by design (no port scanner).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection, Mapping
from urllib.parse import urlsplit

from .errors import AAuthError, UsageError
from .http_client import ADMITTED_ADDRESSES, httpx, origin_of
from .identifiers import check_url

__all__ = ["Egress", "EgressRefused", "EgressTransport", "no_network", "system_resolve"]

#: ``async def resolve(host, port) -> [address, …]``
Resolve = Callable[[str, int], Awaitable[list[str]]]


class EgressRefused(httpx.ConnectError):
    """A URL egress admission refuses (reported like an unreachable target)."""


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


async def no_network(host: str, port: int) -> list[str]:
    """The lab's resolver: no real network, so a name it does not route resolves to nothing."""
    return []


def public_address(address: str) -> bool:
    """Whether ``address`` may be reached outside dev mode (a global unicast address)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or not ip.is_global
    )


class Egress:
    """The egress admission policy of one process (see the module docstring).

    ``routes`` is read at every admission (the lab adds parties later); ``allow`` holds
    the origins named explicitly (``aauth-kit serve --allow-origin``); ``resolve`` is
    injectable (tests, the lab's :func:`no_network`).
    """

    def __init__(
        self,
        *,
        dev: bool = False,
        routes: Mapping[str, object] | Collection[str] = (),
        allow: Collection[str] = (),
        resolve: Resolve = system_resolve,
    ):
        self.dev = dev
        self.routes = routes
        self.allow = {origin_of(origin) for origin in allow}
        self.resolve = resolve

    async def admit(self, url: str | httpx.URL) -> list[str] | None:
        """Return if ``url`` may be requested, else raise :class:`EgressRefused`: the checked
        addresses to connect to, or ``None`` for an origin admitted by name (the cast's own,
        or allowed)."""
        url = str(url)
        try:
            origin = origin_of(url)
            if self._own(origin) or origin in self.allow:
                return None
            check_url(url, dev=self.dev, query=True)
        except (AAuthError, UsageError) as exc:
            raise EgressRefused(f"egress refused: {getattr(exc, 'detail', exc)}") from None
        if self.dev:
            raise EgressRefused(f"egress refused: {origin} is not one of the cast's origins nor allowed")
        parts = urlsplit(url)
        host = parts.hostname
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self.resolve(host, parts.port or 443)
            except OSError:
                addresses = []
        if not addresses or not all(public_address(a) for a in addresses):
            raise EgressRefused(f"egress refused: {host} is not a public address")
        return addresses

    def _own(self, origin: str) -> bool:
        """An origin the lab routes, or the loopback socket one of them is served at."""
        if origin in self.routes:
            return True
        targets = self.routes.values() if isinstance(self.routes, Mapping) else ()
        return any(isinstance(t, tuple) and origin == f"http://{t[0]}:{t[1]}" for t in targets)


class EgressTransport(httpx.AsyncBaseTransport):
    """``inner`` with every request admitted by ``egress`` first.  A request whose host
    admission resolved carries the checked addresses (:data:`ADMITTED_ADDRESSES`) and is
    sent only through an ``inner`` that connects to them (``pins_addresses``); through any
    other it is refused like every refusal."""

    def __init__(self, inner: httpx.AsyncBaseTransport, egress: Egress):
        self.inner = inner
        self.egress = egress

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            addresses = await self.egress.admit(request.url)
            if addresses is not None and not getattr(self.inner, "pins_addresses", False):
                raise EgressRefused(
                    f"egress refused: {request.url.host} cannot be held to its checked address"
                )
        except EgressRefused as exc:
            raise EgressRefused(str(exc), request=request) from None
        if addresses is not None:
            request.extensions = {**request.extensions, ADMITTED_ADDRESSES: addresses}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
