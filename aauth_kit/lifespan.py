"""An ASGI app's lifespan (ASGI "Lifespan Protocol", spec 2.0), run the same way over
sockets and over ASGI, so an app starts up identically in both modes of the lab.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    """A server (or an ASGI app's lifespan) did not come up; the message says why."""


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
