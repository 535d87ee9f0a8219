"""The trace: every HTTP exchange between parties, in order.

Every exchange is traced: the trace is the single source for the
sequence diagram, the message inspector and the audit sentences.  Recording hooks
into any httpx client through its ``event_hooks`` (duck-typed: this module does
not import httpx).

Notebooks find an exchange by what it is — :meth:`Trace.find`, :meth:`Trace.first` and
:meth:`Trace.last` by method, path, party and status, after a :meth:`Trace.mark` —
never by its place in the list, so a cell run twice or out of order still finds it.
"""

from __future__ import annotations

import fnmatch
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


@dataclass(frozen=True)
class NoExchange:
    """What :meth:`Trace.first` and :meth:`Trace.last` give when nothing matches: false,
    with no request, response or status, and saying what was looked for."""

    wanted: str
    request: None = None
    response: None = None
    status: None = None

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<no exchange: {self.wanted}>"


class Exchanges(list):
    """The exchanges a query found, in order, and what it looked for (:attr:`wanted`)."""

    def __init__(self, exchanges=(), wanted: str = "any exchange"):
        super().__init__(exchanges)
        self.wanted = wanted


def _matches(exchange: Exchange, method, path, url, source, target, party, status) -> bool:
    request = exchange.request
    return (
        (method is None or request.method == method.upper())
        and (path is None or fnmatch.fnmatchcase(urlsplit(request.target_uri).path or "/", path))
        and (url is None or request.target_uri.split("?")[0] == url.split("?")[0])
        and (source is None or exchange.source == source)
        and (target is None or exchange.target == target)
        and (party is None or party in (exchange.source, exchange.target))
        and (status is None or exchange.status == status)
    )


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

    # -- queries ---------------------------------------------------------------------------
    def mark(self) -> int:
        """Where the trace ends now: ``since=`` a mark finds only what came after it."""
        with self._lock:
            return len(self.exchanges)

    def find(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        url: str | None = None,
        source: str | None = None,
        target: str | None = None,
        party: str | None = None,
        status: int | None = None,
        since: int | Exchange | None = None,
    ) -> Exchanges:
        """The exchanges that match every criterion given, in order.

        ``path`` is the request's path, exact or a pattern (``/pending/*``); ``url`` the
        whole target URL without its query (say, the ``Location`` a ``202`` gave);
        ``source``, ``target`` and ``party`` (either end) are party names (``"PS"``);
        ``status`` is the response's; ``since`` is a :meth:`mark` or an exchange (itself
        included)."""
        criteria = {
            "method": method, "path": path, "url": url, "source": source,
            "target": target, "party": party, "status": status,
        }  # fmt: skip
        start = since.index if isinstance(since, Exchange) else since or 0
        with self._lock:
            exchanges = self.exchanges[start:]
        words = [f"{name}={value!r}" for name, value in criteria.items() if value is not None]
        if since is not None:
            words.append(f"since step {start + 1}")
        return Exchanges(
            (exchange for exchange in exchanges if _matches(exchange, **criteria)),
            " ".join(words) or "any exchange",
        )

    def first(self, **criteria) -> Exchange | NoExchange:
        """The first exchange :meth:`find` finds, or a :class:`NoExchange` saying what is missing."""
        found = self.find(**criteria)
        return found[0] if found else NoExchange(found.wanted)

    def last(self, **criteria) -> Exchange | NoExchange:
        """The last exchange :meth:`find` finds (``last(method="GET", path="/pending/*")``
        is the last poll), or a :class:`NoExchange` saying what is missing."""
        found = self.find(**criteria)
        return found[-1] if found else NoExchange(found.wanted)

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
