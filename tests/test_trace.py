"""The trace (every exchange is traced): httpx event hooks record each
request and response between named parties, in order, over real HTTP."""

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit.loop import get_loop_thread
from aauth_kit.message import HttpMessage
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


def traced(trace: Trace, source: str, method: str, url: str, status: int | None) -> None:
    exchange = trace.begin(source, HttpMessage(method=method, target_uri=url))
    if status is not None:
        trace.finish(exchange, HttpMessage(status=status, request=exchange.request))


@pytest.fixture
def consent_trace() -> Trace:
    """The start of a consent flow, its start run twice (a cell run again): two polls."""
    trace = Trace(names={"https://ps.example": "PS", "https://sca.example": "Supply chain"})
    for pending in ("pending-0001", "pending-0002"):
        traced(trace, "Agent", "POST", "https://sca.example/optimize", 401)
        traced(trace, "Agent", "POST", "https://ps.example/token", 202)
        traced(trace, "Agent", "GET", f"https://ps.example/pending/{pending}?x=1", None)
    return trace


def test_queries_find_exchanges_by_what_they_are(consent_trace):
    trace = consent_trace
    assert [e.index for e in trace.find(method="post")] == [0, 1, 3, 4]
    assert [e.index for e in trace.find(path="/pending/*")] == [2, 5]
    assert [e.index for e in trace.find(url="https://ps.example/pending/pending-0001")] == [2]
    assert [e.index for e in trace.find(party="PS", status=202)] == [1, 4]
    assert [e.index for e in trace.find(source="Agent", target="Supply chain")] == [0, 3]
    assert trace.last(method="GET", path="/pending/*").index == 5  # the last poll
    assert trace.first(path="/optimize").index == 0


def test_since_a_mark_or_an_exchange_finds_only_what_came_later(consent_trace):
    trace = consent_trace
    mark = trace.mark()
    assert mark == 6 and trace.find(since=mark) == []
    traced(trace, "Agent", "POST", "https://sca.example/optimize", 200)
    assert [e.index for e in trace.find(path="/optimize", since=mark)] == [6]
    second_start = trace.first(path="/optimize", status=401, since=1)
    assert [e.index for e in trace.find(since=second_start)] == [3, 4, 5, 6]  # itself included


def test_a_query_that_finds_nothing_says_what_it_wanted(consent_trace):
    missing = consent_trace.last(path="/pending/*", status=200, since=3)
    assert not missing and missing.response is None and missing.request is None and missing.status is None
    assert repr(missing) == "<no exchange: path='/pending/*' status=200 since step 4>"
    found = consent_trace.find(method="DELETE")
    assert found == [] and found.wanted == "method='DELETE'"
