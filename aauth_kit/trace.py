"""The trace: every HTTP exchange between parties, in order.

Every exchange is traced: the trace is the single source for the
sequence diagram, the message inspector and the audit sentences.  Recording hooks
into any httpx client through its ``event_hooks`` (duck-typed: this module does
not import httpx).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .message import HttpMessage


@dataclass
class Exchange:
    """One request and its response, seen from the client that sent it."""

    index: int
    source: str
    target: str
    request: HttpMessage
    response: HttpMessage | None = None
    started: float = 0.0
    elapsed_ms: float | None = None
    note: str = ""

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    def summary(self) -> str:
        """``POST /token → 202`` with the AAuth requirement when there is one."""
        path = urlsplit(self.request.target_uri).path or "/"
        text = f"{self.request.method} {path}"
        if self.response is not None:
            text += f" → {self.response.status}"
            requirement = self.response.header("aauth-requirement")
            if requirement:
                text += f" ({requirement.split(';')[0]})"
        return text


@dataclass
class Trace:
    """An ordered, thread-safe list of exchanges with listeners (widgets redraw on them).

    ``names`` maps an origin (``https://ps.example``) to a party name (``PS``); origins
    not in it are shown by host.
    """

    names: dict[str, str] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    _listeners: list[Callable[[Exchange], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def party(self, url: str) -> str:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return self.names.get(origin, parts.netloc)

    def subscribe(self, listener: Callable[[Exchange], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Exchange], None]) -> None:
        """Stop calling ``listener`` (a widget that was closed or re-created); unknown ones are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def begin(self, source: str, request: HttpMessage) -> Exchange:
        with self._lock:
            exchange = Exchange(
                len(self.exchanges), source, self.party(request.target_uri), request, started=self.clock()
            )
            self.exchanges.append(exchange)
        return exchange

    def finish(self, exchange: Exchange, response: HttpMessage) -> None:
        exchange.response = response
        exchange.elapsed_ms = round((self.clock() - exchange.started) * 1000, 3)
        for listener in list(self._listeners):
            listener(exchange)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def parties(self) -> list[str]:
        """Party names in order of first appearance."""
        seen: dict[str, None] = {}
        for exchange in self.exchanges:
            seen.setdefault(exchange.source)
            seen.setdefault(exchange.target)
        return list(seen)

    def event_hooks(self, source: str) -> dict:
        """httpx ``event_hooks`` that record every exchange a client makes as ``source``.

        The async variants are what an ``httpx.AsyncClient`` needs; sync clients take
        :meth:`sync_event_hooks`.
        """

        async def on_request(request):
            await request.aread()
            request.extensions["aauth_trace"] = self.begin(source, _message_from_request(request))

        async def on_response(response):
            await response.aread()
            self._finish_from(response)

        return {"request": [on_request], "response": [on_response]}

    def sync_event_hooks(self, source: str) -> dict:
        def on_request(request):
            request.read()
            request.extensions["aauth_trace"] = self.begin(source, _message_from_request(request))

        def on_response(response):
            response.read()
            self._finish_from(response)

        return {"request": [on_request], "response": [on_response]}

    def _finish_from(self, response) -> None:
        exchange = response.request.extensions.get("aauth_trace")
        if exchange is not None:
            message = HttpMessage(
                status=response.status_code,
                headers=list(response.headers.items()),
                body=response.content,
                request=exchange.request,
            )
            self.finish(exchange, message)


def _message_from_request(request) -> HttpMessage:
    return HttpMessage(
        method=request.method,
        target_uri=str(request.url),
        headers=list(request.headers.items()),
        body=request.content,
    )
