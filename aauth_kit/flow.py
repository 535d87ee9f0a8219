"""How an agent flow runs: one generator, sent over a sync or an async HTTP client.

An agent flow (:meth:`agent.AAuthFlow.auth_flow`, the mission calls) is a generator that
yields requests and gets their responses sent back in, and yields a :class:`Pause` where
it must wait before polling again (-11 "Polling with GET": ``Retry-After``,
``slow_down``).  A :class:`Driver` walks it — the one sync driver :meth:`Driver.steps`
and the one async driver :meth:`Driver.asteps` — sleeping through every Pause and
handing every request to its caller, who sends it and sets :attr:`Driver.reply`.

Key discovery runs inside a flow too: :func:`through_flow` turns each GET a resolver
coroutine awaits into a request the flow yields, so it travels over the client's own
transport and shows in the trace.  A flow that cannot finish raises :class:`FlowError`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass

from .errors import AAuthError
from .http_client import httpx


class FlowError(AAuthError):
    """The flow cannot finish; ``code`` is the draft's (``denied``, ``expired``, …).

    ``response`` is the HTTP response that ended it, when there was one.
    """

    def __init__(self, code: str, detail: str = "", *, status: int | None = None, response=None, **members):
        super().__init__(code, detail, status=status, **members)
        self.response = response


@dataclass(frozen=True)
class Pause:
    """Yielded by a flow instead of a request: wait ``seconds`` before the next poll."""

    seconds: float


class Driver:
    """Runs ``flow``: ``for request in driver.steps(): driver.reply = send(request)``
    (``async for`` over :meth:`asteps` with an async client); :attr:`result` is what the
    flow returned.  ``sleep`` waits out a :class:`Pause` and may return an awaitable."""

    def __init__(self, flow, sleep):
        self.flow = flow
        self.sleep = sleep
        self.reply = None
        self.result = None

    def steps(self):
        """The sync driver: yields each request; its response is read before the flow sees it."""
        while (step := self._advance()) is not None:
            if isinstance(step, Pause):
                self.sleep(step.seconds)
            else:
                yield step
                self.reply.read()

    async def asteps(self):
        """The async driver: as :meth:`steps`, awaiting the sleep and the body."""
        while (step := self._advance()) is not None:
            if isinstance(step, Pause):
                slept = self.sleep(step.seconds)
                if inspect.isawaitable(slept):
                    await slept
            else:
                yield step
                await self.reply.aread()

    def _advance(self):
        """The flow's next step (``None`` once it returned), given the last reply."""
        reply, self.reply = self.reply, None
        try:
            return self.flow.send(reply)
        except StopIteration as done:
            self.result = done.value
            return None


def send_flow(client, sleep, flow):
    """Run ``flow`` over the sync ``client``, each request sent as it is (already signed:
    ``auth=None``), a :class:`Pause` waited out with ``sleep`` (``None``: ``time.sleep``);
    what the flow returns."""
    driver = Driver(flow, sleep or time.sleep)
    for request in driver.steps():
        driver.reply = client.send(request, auth=None)
    return driver.result


async def asend_flow(client, sleep, flow):
    """:func:`send_flow` over an async ``client``."""
    driver = Driver(flow, sleep or asyncio.sleep)
    async for request in driver.asteps():
        driver.reply = await client.send(request, auth=None)
    return driver.result


def timeout(wait: int) -> dict:
    """httpx timeouts for a request the server may hold ``wait`` seconds."""
    return httpx.Timeout(10.0, read=wait + 10.0).as_dict()


# -- discovery inside the flow ---------------------------------------------------------------
class _Get:
    """What :func:`fetch_through_flow` awaits: a GET of ``url`` for the flow to send."""

    def __init__(self, url: str):
        self.url = url

    def __await__(self):
        response = yield self
        return response


async def fetch_through_flow(url: str):
    """The ``fetch`` of an agent's :class:`jwks.HttpResolver` (``jwks.Fetch``): the
    GET is handed to :func:`through_flow`, which yields it from the flow like any PS call."""
    response = await _Get(url)
    return response.status_code, dict(response.headers), response.content


def through_flow(coroutine):
    """Run a resolver coroutine inside the flow generator (``yield from``): each GET it
    awaits is yielded as a request and the response is sent back in.  Returns what the
    coroutine returns; raises what it raises."""
    reply = None
    try:
        while True:
            try:
                get = coroutine.send(reply)
            except StopIteration as done:
                return done.value
            reply = yield httpx.Request("GET", get.url, extensions={"timeout": timeout(0)})
    finally:
        coroutine.close()
