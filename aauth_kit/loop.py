"""One private asyncio event loop on a daemon thread: the kit's loop thread.

Kernel safety: every lab server and every async flow runs on this one loop, never on
a Jupyter kernel's own (no ``nest_asyncio``, no ``asyncio.run``).  Any thread may
schedule a coroutine on it; the loop starts on first use and stops at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from typing import Any

from .errors import UsageError


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


@atexit.register
def _stop() -> None:
    _loop_thread.stop(timeout=2.0)
