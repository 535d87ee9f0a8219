"""The one sync and the one async driver of an agent flow (aauth_kit.flow.Driver)."""

import asyncio

from aauth_kit.flow import Driver, Pause


class Reply:
    """A response stand-in that records being read."""

    def __init__(self, value):
        self.value, self.read_by = value, None

    def read(self):
        self.read_by = "sync"

    async def aread(self):
        self.read_by = "async"


def flow():
    first = yield "GET /a"
    yield Pause(2)
    second = yield "GET /b"
    return (first.value, second.value, first.read_by)


def test_the_sync_driver_sleeps_through_pauses_and_returns_the_result():
    slept = []
    driver = Driver(flow(), slept.append)
    sent = []
    for request in driver.steps():
        sent.append(request)
        driver.reply = Reply(request.upper())
    assert sent == ["GET /a", "GET /b"] and slept == [2]
    assert driver.result == ("GET /A", "GET /B", "sync")


def test_the_async_driver_awaits_its_sleep_and_reads_the_body():
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    async def run():
        driver = Driver(flow(), sleep)
        async for request in driver.asteps():
            driver.reply = Reply(request.lower())
        return driver.result

    assert asyncio.run(run()) == ("get /a", "get /b", "async") and slept == [2]
