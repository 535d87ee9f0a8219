"""The trace (every exchange is traced): httpx event hooks record each
request and response between named parties, in order, over real HTTP."""

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.loop import get_loop_thread
from aauth_kit.runtime import Hosts
from aauth_kit.trace import Trace


async def data(request):
    body = await request.body()
    if not body:
        return Response(status_code=401, headers={"AAuth-Requirement": "requirement=agent-token"})
    return JSONResponse({"echo": body.decode()})


APP = Starlette(routes=[Route("/data", data, methods=["POST"])])


@pytest.fixture(params=["socket", "asgi"])
def hosts(request):
    with Hosts(request.param) as hosts:
        hosts.add("https://resource.example", APP)
        yield hosts


def test_sync_client_exchanges_are_recorded_in_order(hosts):
    trace = Trace(names={"https://resource.example": "Resource"}, clock=iter(range(100)).__next__)
    seen = []
    trace.subscribe(seen.append)
    with hosts.client(event_hooks=trace.sync_event_hooks("Agent")) as client:
        client.post("https://resource.example/data")
        client.post("https://resource.example/data", content=b"hello")
    first, second = trace.exchanges
    assert [first.index, second.index] == [0, 1]
    assert (first.source, first.target, first.status) == ("Agent", "Resource", 401)
    assert first.summary() == "POST /data → 401 (requirement=agent-token)"
    assert second.request.body == b"hello" and second.response.body == b'{"echo":"hello"}'
    assert second.response.request is second.request
    assert first.elapsed_ms == 1000.0  # the injected clock ticks one second per reading
    assert seen == [first, second]
    assert trace.parties() == ["Agent", "Resource"]


def test_async_client_hooks_record_too(hosts):
    trace = Trace()

    async def run():
        async with hosts.async_client(event_hooks=trace.event_hooks("Backend")) as client:
            return await client.post("https://resource.example/data", content=b"x")

    response = get_loop_thread().run(run(), timeout=10)
    assert response.status_code == 200
    (exchange,) = trace.exchanges
    # an origin without a name is shown by its host
    assert (exchange.source, exchange.target, exchange.status) == ("Backend", "resource.example", 200)
    trace.clear()
    assert trace.exchanges == [] and trace.parties() == []


def test_unsubscribed_listeners_are_no_longer_called(hosts):
    trace = Trace()
    kept, dropped = [], []
    trace.subscribe(kept.append)
    trace.subscribe(dropped.append)
    trace.unsubscribe(dropped.append)
    trace.unsubscribe(print)  # never subscribed: ignored
    with hosts.client(event_hooks=trace.sync_event_hooks("Agent")) as client:
        client.post("https://resource.example/data")
    assert kept == trace.exchanges and dropped == []
