"""Virtual hosts: the lab's parties by identifier, over loopback sockets or ASGI.

:class:`Hosts` maps ``https://ps.example`` style identifiers to uvicorn servers on the
kit's loop thread (socket mode, :mod:`aauth_kit.uvicorn_server`) or straight to the
ASGI apps (ASGI mode, for the browser); its clients reach them through the virtual
network of :mod:`aauth_kit.transport`.
"""

from __future__ import annotations

import sys
from typing import Any

from .connection_limits import ConnectionLimits
from .egress import Egress, EgressTransport
from .errors import UsageError
from .http_client import httpx, identifier_origin, make_fetch
from .lifespan import Lifespan
from .loop import get_loop_thread
from .transport import SyncBridgeTransport, VirtualHostTransport
from .uvicorn_server import ServerHandle, start_server


class Hosts:
    """The lab's parties: identifier → socket server (``mode="socket"``) or ASGI app (``"asgi"``).

    ``mode="auto"`` picks ASGI in the browser (no sockets there) and sockets elsewhere.
    A socket server is registered under its identifier, so one identifier has one
    server per process: adding it again (re-running a cell) replaces the old one.
    Socket servers run under ``limits`` (connections, header size and read time).
    With ``egress`` (an :class:`~aauth_kit.egress.Egress` over :attr:`routes`), every
    request of its clients and fetches is admitted first.
    """

    egress: Egress | None = None

    def __init__(
        self,
        mode: str = "socket",
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        limits: ConnectionLimits | None = None,
    ):
        if mode == "auto":
            mode = "asgi" if sys.platform == "emscripten" else "socket"
        if mode not in ("socket", "asgi"):
            raise UsageError(f"mode must be 'socket', 'asgi' or 'auto', not {mode!r}")
        self.mode = mode
        self.loop_thread = get_loop_thread()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.limits = limits
        self.routes: dict[str, Any] = {}
        self._servers: dict[str, ServerHandle] = {}
        self._lifespans: dict[str, Lifespan] = {}

    def add(self, identifier: str, app, *, port: int = 0) -> str:
        """Serve ``app`` as ``identifier`` (``https://ps.example``); returns the normalized origin.

        ``port`` fixes the loopback port (dev mode, where the identifier *is*
        ``http://127.0.0.1:PORT`` and outside clients connect to it directly).
        """
        origin = identifier_origin(identifier)
        if self.mode == "socket":

            def switch(handle: ServerHandle) -> None:
                self._servers[origin] = handle
                self.routes[origin] = (handle.host, handle.port)

            start_server(
                app,
                origin,
                port=port,
                start_timeout=self.start_timeout,
                stop_timeout=self.stop_timeout,
                on_ready=switch,
                limits=self.limits,
            )
        else:
            lifespan = Lifespan(app, origin)
            self.loop_thread.run(lifespan.startup(self.start_timeout), timeout=self.start_timeout + 1.0)
            old = self._lifespans.get(origin)
            self._lifespans[origin] = lifespan
            self.routes[origin] = lifespan
            if old is not None:
                self.loop_thread.run(old.shutdown(self.stop_timeout), timeout=self.stop_timeout + 1.0)
        return origin

    def _remove(self, origin: str) -> None:
        self.routes.pop(origin, None)
        if origin in self._servers:
            self._servers.pop(origin).stop()
        if origin in self._lifespans:
            lifespan = self._lifespans.pop(origin)
            self.loop_thread.run(lifespan.shutdown(self.stop_timeout), timeout=self.stop_timeout + 1.0)

    def url_of(self, identifier: str) -> str:
        """The real ``http://127.0.0.1:PORT`` behind ``identifier`` (socket mode), e.g. for a browser."""
        origin = identifier_origin(identifier)
        if self.mode != "socket":
            raise UsageError("ASGI mode has no sockets, so there is no URL a browser could open")
        if origin not in self._servers:
            raise UsageError(f"no party is registered at {origin}")
        return self._servers[origin].url

    def transport(self) -> httpx.AsyncBaseTransport:
        """An async transport over these hosts (I/O runs on the kit's loop thread),
        behind :attr:`egress` admission when one is set."""
        transport = VirtualHostTransport(self.routes, loop_thread=self.loop_thread)
        return transport if self.egress is None else EgressTransport(transport, self.egress)

    def async_client(self, **kwargs) -> httpx.AsyncClient:
        """``httpx.AsyncClient`` on the virtual network; environment proxies are ignored."""
        kwargs.setdefault("trust_env", False)
        return httpx.AsyncClient(transport=self.transport(), **kwargs)

    def client(self, **kwargs) -> httpx.Client:
        """Sync ``httpx.Client`` on the virtual network; works in a cell whose thread runs a loop."""
        kwargs.setdefault("trust_env", False)
        return httpx.Client(transport=SyncBridgeTransport(self.transport(), self.loop_thread), **kwargs)

    def fetch(self):
        """``async def fetch(url) -> (status, headers, body)`` for a metadata resolver."""
        return make_fetch(self.transport())

    @property
    def serving(self) -> bool:
        """Every party added is still served: not stopped, and no socket server replaced
        by a newer one under the same identifier (a re-run ``Lab()`` cell)."""
        return bool(self.routes) and all(handle.running for handle in self._servers.values())

    def stop(self) -> None:
        """Stop every server and lifespan this object started; forget all routes."""
        for origin in list(self.routes):
            self._remove(origin)

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Hosts(mode={self.mode!r}, identifiers={sorted(self.routes)})"
