"""Connection limits for the cast's uvicorn servers: slow clients cannot take them down.

The draft is silent on transport limits; these follow OWASP ASVS level 2 (resource
limits against denial of service):

* **header-read time**: a connection that has not sent complete request headers within
  ``header_timeout`` seconds of opening (or of its first byte of a later request on a
  kept-alive connection) is closed — a client trickling a byte at a time holds nothing
  for long.  uvicorn has no such option: :func:`protocol_class` adds it to its h11
  protocol with one timer per connection (nothing is logged per byte or per close);
* **header size**: at most ``max_header_bytes`` of request line and headers; more is
  answered ``431`` (RFC 6585 §5) and the connection closed;
* **concurrent connections**: at most ``max_connections`` per server; one more evicts
  the oldest connection that is still waiting for headers (an idle or slow one), else
  is closed at once, so well-behaved requests keep being answered.
"""

from __future__ import annotations

import functools
import logging
import resource
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: RFC 6585 §5: the answer to headers over the cap (then the connection is closed).
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\nconnection: close\r\n\r\n"
    b"request header fields too large\n"
)


#: File descriptors kept free for everything else the process opens (files, outgoing sockets).
RESERVED_DESCRIPTORS = 256
#: The cast's servers share one process and so its file-descriptor limit.
SERVERS_PER_PROCESS = 4


def default_max_connections() -> int:
    """An equal share of the process's file-descriptor limit for each of the cast's servers,
    less a reserve: a cap the process can always honour, so a flood of connections meets the
    cap and never ``EMFILE`` (1024 descriptors: 192 each; 20,000: 4,936 each)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, (soft - RESERVED_DESCRIPTORS) // SERVERS_PER_PROCESS)


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-server limits; the connection cap defaults to :func:`default_max_connections`."""

    max_connections: int = field(default_factory=default_max_connections)
    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024


@functools.cache
def protocol_class(limits: ConnectionLimits) -> type:
    """uvicorn's h11 protocol with ``limits`` (header-read timer, connection cap)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class LimitedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.opened_at = self.loop.time()
            self.header_timer = None
            self._arm()
            if sum(not c.transport.is_closing() for c in self.connections) > limits.max_connections:
                self._evict()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.awaiting_headers():
                if self.header_timer is None:
                    self._arm()
                buffered = self.conn.trailing_data[0] + data
                end = buffered.find(b"\r\n\r\n")
                if (end if end >= 0 else len(buffered)) > limits.max_header_bytes:
                    self._disarm()
                    self.transport.write(TOO_LARGE)
                    self.transport.close()
                    return
            super().data_received(data)
            if not self.awaiting_headers():
                self._disarm()

        def awaiting_headers(self) -> bool:
            """No request is being read or answered: the next request's headers are due."""
            return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

        def _arm(self) -> None:
            self.header_timer = self.loop.call_later(limits.header_timeout, self._header_timeout)

        def _disarm(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _header_timeout(self) -> None:
            self.header_timer = None
            if self.awaiting_headers() and not self.transport.is_closing():
                self.transport.close()

        def _evict(self) -> None:
            """Close the oldest connection still waiting for headers (this one if none is)."""
            waiting = [
                c
                for c in self.connections
                if c is not self and not c.transport.is_closing() and c.awaiting_headers()
            ]
            victim = min(waiting, key=lambda c: c.opened_at) if waiting else self
            log.debug("connection cap %d reached: closing %s", limits.max_connections, victim.client)
            victim._disarm()
            victim.transport.close()

    return LimitedH11Protocol
