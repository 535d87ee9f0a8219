"""The lab runtime: one private loop thread, uvicorn servers on it, and virtual hosts.

Kernel safety: one private event loop on a daemon thread runs every
server and every async flow; uvicorn runs there on port 0 with bounded start and
stop; re-running a cell stops the old server first; ``atexit`` cleans up.  No
``nest_asyncio`` and no ``asyncio.run``: a Jupyter kernel's own loop is never touched.
Identifiers: :class:`Hosts` maps ``https://ps.example`` style identifiers
to those servers (socket mode) or straight to the ASGI apps (ASGI mode).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .http_client import httpx, identifier_origin, make_fetch
from .transport import SyncBridgeTransport, VirtualHostTransport

__all__ = [
    "LoopThread",
    "get_loop_thread",
    "Lifespan",
    "ServerHandle",
    "ServerStartError",
    "start_server",
    "servers",
    "stop_all",
    "Hosts",
]

log = logging.getLogger(__name__)

#: Seconds a lab server keeps an idle connection open.  Longer than httpx's own idle limit
#: (``keepalive_expiry``, 5 s), so the client always drops an idle connection first: with
#: equal limits a request can go out on a connection the server is closing that instant,
#: and fails with ``ReadError`` (seen with 200 agents at once in the concurrency benchmark).
KEEP_ALIVE_S = 30


class ServerStartError(RuntimeError):
    """A server (or an ASGI app's lifespan) did not come up; the message says why."""


# --------------------------------------------------------------------------- loop thread


class LoopThread:
    """One private asyncio event loop running on a daemon thread.

    ``submit`` schedules a coroutine from any thread; ``run`` also waits for its
    result, with a bound, and refuses to run on the loop thread itself (it would
    wait for itself forever).  The loop starts on first use.
    """

    def __init__(self, name: str = "aauth-kit-loop"):
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 5.0) -> LoopThread:
        with self._lock:
            if self.alive:
                return self
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(target=self._main, args=(loop, ready), name=self.name, daemon=True)
            thread.start()
            if not ready.wait(timeout):
                raise RuntimeError(f"the {self.name} thread did not start within {timeout} s")
            self.loop, self._thread = loop, thread
        return self

    @staticmethod
    def _main(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def is_current(self) -> bool:
        """True when called on this loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro) -> concurrent.futures.Future:
        """Schedule ``coro`` on the loop; returns a ``concurrent.futures.Future``."""
        if not asyncio.iscoroutine(coro):
            raise UsageError(f"submit() takes a coroutine, not {type(coro).__name__}")
        self.start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro, timeout: float = 60.0) -> Any:
        """Run ``coro`` on the loop and return its result; wait at most ``timeout`` s.

        Raises :class:`UsageError` on the loop thread (use ``await`` there) and
        ``TimeoutError`` (after cancelling the coroutine) when time runs out.
        """
        if self.is_current():
            if asyncio.iscoroutine(coro):
                coro.close()
            raise UsageError(
                "LoopThread.run() was called on the kit's loop thread and would wait for itself "
                "forever; `await` the coroutine there instead"
            )
        future = self.submit(coro)
        try:
            done, _ = concurrent.futures.wait([future], timeout=timeout)
        except BaseException:  # KeyboardInterrupt in a cell: stop the work, then re-raise
            future.cancel()
            raise
        if not done:
            future.cancel()
            raise TimeoutError(f"the coroutine did not finish within {timeout} s on the kit's loop thread")
        return future.result()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (pending tasks are cancelled) and join the thread."""
        with self._lock:
            if not self.alive:
                return
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)


_loop_thread = LoopThread()


def get_loop_thread() -> LoopThread:
    """The process-wide loop thread, started if needed."""
    return _loop_thread.start()


# --------------------------------------------------------------------------- ASGI lifespan


class Lifespan:
    """Runs an ASGI app's lifespan protocol and hands its state to every request.

    ASGI "Lifespan Protocol" (spec 2.0): ``startup`` sends ``lifespan.startup`` and
    waits for ``.complete`` or ``.failed``; an app that raises before answering does
    not speak lifespan and is served anyway (uvicorn's "auto").  The same wrapper
    serves both modes, so an app starts up identically over sockets and over ASGI.
    """

    def __init__(self, app, name: str = "app"):
        self.app = app
        self.name = name
        self.state: dict[str, Any] = {}
        self.supported = True
        self.started = False
        self._inbox: asyncio.Queue | None = None
        self._outbox: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._answered = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": self.state.copy()}
        await self.app(scope, receive, send)

    async def startup(self, timeout: float) -> None:
        """Raise :class:`ServerStartError` if the app fails or does not answer in time."""
        self._inbox, self._outbox = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.create_task(self.app(scope, self._inbox.get, self._outbox.put))
        # The app's own exception is reported through lifespan.*.failed or ServerStartError.
        self._task.add_done_callback(lambda task: task.cancelled() or task.exception())
        await self._exchange("startup", timeout)
        self.started = self.supported

    async def shutdown(self, timeout: float) -> None:
        """Send ``lifespan.shutdown``; a failure is logged, never raised (stop must finish)."""
        if self._task is None or self._task.done():
            return
        try:
            if self.started:
                await self._exchange("shutdown", timeout)
        except ServerStartError as exc:
            log.warning("%s", exc)
        finally:
            if not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=timeout)

    async def _exchange(self, phase: str, timeout: float) -> None:
        await self._inbox.put({"type": f"lifespan.{phase}"})
        reply = asyncio.ensure_future(self._outbox.get())
        try:
            await asyncio.wait({reply, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not reply.done():
                reply.cancel()
        if reply.done() and not reply.cancelled():
            self._answered = True
            message = reply.result()
            if message["type"] == f"lifespan.{phase}.complete":
                return
            raise ServerStartError(
                f"{self.name}: lifespan {phase} failed: {message.get('message') or message['type']}"
            )
        if self._task.done():
            error = None if self._task.cancelled() else self._task.exception()
            if not self._answered:  # the app does not speak lifespan: serve it anyway
                self.supported = False
                return
            raise ServerStartError(f"{self.name}: the app's lifespan ended during {phase}: {error!r}")
        raise ServerStartError(f"{self.name}: lifespan {phase} did not complete within {timeout} s")


# --------------------------------------------------------------------------- servers


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
) -> ServerHandle:
    """Serve ``app`` with uvicorn on the kit's loop thread and return once it listens.

    ``port=0`` picks a free port (``handle.port`` is the real one).  A server already
    registered under ``name`` is replaced, so re-running a notebook cell is safe: on a
    free port the new server starts first, ``on_ready(handle)`` runs (a virtual host
    switches its route there) and only then the old one stops — no moment without a
    server; a fixed port must be released first.
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
        handle = ServerHandle(name, app, host, sock.getsockname()[1], loop_thread, stop_timeout, _socket=sock)
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
def _cleanup() -> None:
    if _loop_thread.alive:
        stop_all(timeout=2.0)
        _loop_thread.stop(timeout=2.0)


# --------------------------------------------------------------------------- virtual hosts


class Hosts:
    """The lab's parties: identifier → socket server (``mode="socket"``) or ASGI app (``"asgi"``).

    ``mode="auto"`` picks ASGI in the browser (no sockets there) and sockets elsewhere.
    A socket server is registered under its identifier, so one identifier has one
    server per process: adding it again (re-running a cell) replaces the old one.
    """

    def __init__(
        self,
        mode: str = "socket",
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ):
        if mode == "auto":
            mode = "asgi" if sys.platform == "emscripten" else "socket"
        if mode not in ("socket", "asgi"):
            raise UsageError(f"mode must be 'socket', 'asgi' or 'auto', not {mode!r}")
        self.mode = mode
        self.loop_thread = get_loop_thread()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
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

    def transport(self) -> VirtualHostTransport:
        """An async transport over these hosts (I/O runs on the kit's loop thread)."""
        return VirtualHostTransport(self.routes, loop_thread=self.loop_thread)

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
