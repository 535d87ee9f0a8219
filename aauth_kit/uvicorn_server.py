"""uvicorn on the kit's loop thread: lab servers on loopback sockets.

uvicorn runs on the loop thread (:mod:`aauth_kit.loop`) on port 0 with bounded start
and stop; the app's lifespan runs through :class:`~aauth_kit.lifespan.Lifespan`;
re-running a cell replaces the old server registered under the same name; ``atexit``
stops every server.  Failures are :class:`~aauth_kit.lifespan.ServerStartError`, never
``SystemExit``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .connection_limits import ConnectionLimits, protocol_class
from .errors import UsageError
from .lifespan import Lifespan, ServerStartError
from .loop import LoopThread, get_loop_thread

log = logging.getLogger(__name__)

#: Seconds a lab server keeps an idle connection open.  Longer than httpx's own idle limit
#: (``keepalive_expiry``, 5 s), so the client always drops an idle connection first: with
#: equal limits a request can go out on a connection the server is closing that instant,
#: and fails with ``ReadError`` (seen with 200 agents at once in the concurrency benchmark).
KEEP_ALIVE_S = 30


@functools.cache
def _server_class():
    """A uvicorn ``Server`` that never touches signal handlers and reports readiness.

    uvicorn is imported lazily: the browser (Pyodide) has no uvicorn and no sockets.
    """
    import uvicorn

    class LabServer(uvicorn.Server):
        def __init__(self, config):
            super().__init__(config)
            self.ready = asyncio.Event()

        def capture_signals(self):
            # uvicorn saves and restores SIGINT handlers and, in a Jupyter kernel, leaves a
            # stale one behind; a lab server has no signals of its own.
            return contextlib.nullcontext()

        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            self.ready.set()

    return uvicorn, LabServer


def _bind(name: str, host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a clash is a clear error (not ``SystemExit``).

    The protocol is named (``IPPROTO_TCP``): asyncio turns Nagle's algorithm off only on
    sockets that say they are TCP, and without that every response written in two parts
    waits for the client's delayed ACK (about 40 ms on Linux) on a kept-alive connection.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerStartError(f"{name}: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


@dataclass(eq=False)
class ServerHandle:
    """A uvicorn server running on the kit's loop thread; ``stop()`` is bounded and idempotent."""

    name: str
    app: Any
    host: str
    port: int
    loop_thread: LoopThread = field(repr=False)
    stop_timeout: float = 10.0
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    lifespan: Lifespan | None = field(default=None, repr=False)
    _socket: socket.socket | None = field(default=None, repr=False)
    _server: Any = field(default=None, repr=False)
    _task: asyncio.Task | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _start(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        uvicorn, server_class = _server_class()
        self.lifespan = Lifespan(self.app, self.name)
        try:
            await self.lifespan.startup(timeout)
            config = uvicorn.Config(
                self.lifespan,
                lifespan="off",  # run by Lifespan above, the same way as in ASGI mode
                log_level="warning",
                log_config=None,  # leave the kernel's logging configuration alone
                proxy_headers=True,
                timeout_keep_alive=KEEP_ALIVE_S,
                forwarded_allow_ips="127.0.0.1",
                # socket and ASGI mode answer with the same headers, so a docs-mode
                # notebook shows the same bytes either way (docs mode is deterministic)
                server_header=False,
                date_header=False,
                # slow clients (:mod:`aauth_kit.connection_limits`)
                http=protocol_class(self.limits),
                h11_max_incomplete_event_size=self.limits.max_header_bytes,
            )
            self._server = server_class(config)
            self._task = asyncio.create_task(self._serve())
            ready = asyncio.ensure_future(self._server.ready.wait())
            await asyncio.wait(
                {ready, self._task},
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not ready.done():
                ready.cancel()
                raise self._start_failure(timeout)
        except BaseException:
            await self._stop(self.stop_timeout)
            raise

    def _start_failure(self, timeout: float) -> ServerStartError:
        if not self._task.done():
            return ServerStartError(f"{self.name}: uvicorn did not start within {timeout} s")
        error = None if self._task.cancelled() else self._task.exception()
        if isinstance(error, ServerStartError):
            return error
        return ServerStartError(f"{self.name}: uvicorn stopped before listening: {error!r}")

    async def _serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        except SystemExit as exc:
            # uvicorn reports startup failure with sys.exit(); inside a task that would
            # escape run_forever() and take the whole loop thread down.
            raise ServerStartError(f"{self.name}: uvicorn exited during startup (code {exc.code})") from None

    async def _stop(self, timeout: float) -> None:
        """Graceful (uvicorn cancels requests after 40 % of ``timeout``), then forced."""
        task = self._task
        if task is not None and not task.done():
            self._server.config.timeout_graceful_shutdown = timeout * 0.4
            self._server.should_exit = True
            await asyncio.wait({task}, timeout=timeout * 0.7)
            if not task.done():
                self._server.force_exit = True
                await asyncio.wait({task}, timeout=timeout * 0.1)
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=timeout * 0.1)
        error = task.exception() if task is not None and task.done() and not task.cancelled() else None
        if error is not None and not isinstance(error, ServerStartError):  # start errors are raised
            log.warning("%s: server task ended with %r", self.name, error)
        if self._server is not None:
            # A forced exit leaves connections and request tasks behind (uvicorn expects
            # the process to end); here the process lives on, so end them.
            for listener in getattr(self._server, "servers", []):
                listener.close()
            for connection in list(self._server.server_state.connections):
                connection.transport.close()
            leftovers = set(self._server.server_state.tasks)
            for request_task in leftovers:
                request_task.cancel()
            if leftovers:  # let them finish here, not while the caller runs on
                await asyncio.wait(leftovers, timeout=timeout * 0.1)
        self._socket.close()
        if self.lifespan is not None:
            await self.lifespan.shutdown(timeout * 0.1)

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving (graceful, then forced), run lifespan shutdown, free the port."""
        if self.loop_thread.is_current():
            raise UsageError(
                "ServerHandle.stop() waits for the loop thread; call it from a plain thread or a cell"
            )
        with _registry_lock:
            if _registry.get(self.name) is self:
                del _registry[self.name]
            if self._stopped:
                return
            self._stopped = True
        if not self.loop_thread.alive:  # the loop, and every server on it, is already gone
            self._socket.close()
            return
        timeout = self.stop_timeout if timeout is None else timeout
        self.loop_thread.run(self._stop(timeout), timeout=timeout + 1.0)


_registry: dict[str, ServerHandle] = {}
_registry_lock = threading.RLock()


def start_server(
    app,
    name: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    start_timeout: float = 10.0,
    stop_timeout: float = 10.0,
    on_ready: Callable[[ServerHandle], None] | None = None,
    limits: ConnectionLimits | None = None,
) -> ServerHandle:
    """Serve ``app`` with uvicorn on the kit's loop thread and return once it listens.

    ``port=0`` picks a free port (``handle.port`` is the real one).  A server already
    registered under ``name`` is replaced, so re-running a notebook cell is safe: on a
    free port the new server starts first, ``on_ready(handle)`` runs (a virtual host
    switches its route there) and only then the old one stops — no moment without a
    server; a fixed port must be released first.
    ``limits`` bounds connections, header size and header-read time (defaults:
    :class:`~aauth_kit.connection_limits.ConnectionLimits`).
    Raises :class:`ServerStartError` with the reason (port in use, lifespan failure,
    timeout) and never ``SystemExit``; must not be called on the loop thread.
    """
    loop_thread = get_loop_thread()
    if loop_thread.is_current():
        raise UsageError(
            "start_server() blocks until the server listens; call it from a plain thread or a cell"
        )
    with _registry_lock:
        old = _registry.get(name)
        if old is not None and port != 0:
            old.stop()
        sock = _bind(name, host, port)
        handle = ServerHandle(
            name,
            app,
            host,
            sock.getsockname()[1],
            loop_thread,
            stop_timeout,
            limits or ConnectionLimits(),
            _socket=sock,
        )
        try:
            loop_thread.run(handle._start(start_timeout), timeout=start_timeout + stop_timeout + 1.0)
        except TimeoutError as exc:
            raise ServerStartError(f"{name}: start and clean-up did not finish in time") from exc
        _registry[name] = handle
        if on_ready is not None:
            on_ready(handle)
        if old is not None and port == 0:
            old.stop()
    return handle


def servers() -> dict[str, ServerHandle]:
    """The running servers by name (a snapshot)."""
    return dict(_registry)


def stop_all(timeout: float = 10.0) -> None:
    """Stop every registered server."""
    for handle in list(_registry.values()):
        handle.stop(timeout)


@atexit.register
def _stop_servers() -> None:
    """Stop every server before the loop thread stops (atexit runs in reverse order)."""
    if _registry:
        stop_all(timeout=2.0)
