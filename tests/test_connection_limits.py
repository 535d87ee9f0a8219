"""Slow clients against the cast's uvicorn servers, over real loopback sockets.

Finding M4: ~20,000 connections each trickling a header byte every 10 s exhausted the
file descriptors and every server stopped answering.  Now each server closes a
connection that has not sent complete headers in time, caps header size and concurrent
connections (evicting idle ones first), and logs nothing per byte.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from aauth_kit.connection_limits import ConnectionLimits
from aauth_kit.http_client import httpx
from aauth_kit.uvicorn_server import start_server


async def hello(request):
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/", hello)])


@pytest.fixture
def server(request):
    handle = start_server(APP, f"limits-{request.node.name}", limits=request.param)
    yield handle
    handle.stop()


def raw(handle) -> socket.socket:
    sock = socket.create_connection((handle.host, handle.port), timeout=5)
    return sock


def trickle_until_closed(sock: socket.socket, data: bytes, every: float, give_up: float) -> float | None:
    """Send ``data`` a byte every ``every`` s; seconds until the server closed, or None."""
    started = time.monotonic()
    sock.settimeout(every)
    for byte in data:
        try:
            sock.send(bytes([byte]))
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:  # reset or broken pipe: closed
            return time.monotonic() - started
        if time.monotonic() - started > give_up:
            return None
    return None


def server_logs(caplog) -> list:
    """What the server side logged at INFO or above (the test's own client logs are left out)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name.split(".")[0] in ("uvicorn", "aauth_kit", "asyncio")
    ]


def get(handle) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return client.get(f"{handle.url}/")


@pytest.mark.parametrize("server", [ConnectionLimits(header_timeout=1.5)], indirect=True)
def test_m4_header_trickle_is_disconnected_while_others_are_served(server, caplog):
    caplog.set_level(logging.DEBUG)
    slow = raw(server)
    slow.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert get(server).text == "hello"  # another client is served meanwhile
    closed_after = trickle_until_closed(slow, b"X-Slow: " + b"a" * 100, every=0.4, give_up=6)
    slow.close()
    assert closed_after is not None and closed_after < 4.0
    assert get(server).status_code == 200
    assert not server_logs(caplog)  # nothing per byte


@pytest.mark.parametrize("server", [ConnectionLimits(header_timeout=1.5)], indirect=True)
def test_m4_trickle_on_a_kept_alive_connection_is_disconnected(server):
    sock = raw(server)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"hello"):
        answer += sock.recv(4096)
    closed_after = trickle_until_closed(
        sock, b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100, every=0.4, give_up=6
    )
    sock.close()
    assert closed_after is not None and closed_after < 4.0


@pytest.mark.parametrize("server", [ConnectionLimits(header_timeout=1.0)], indirect=True)
def test_m4_a_silent_connection_is_closed_after_the_header_limit(server):
    sock = raw(server)
    sock.settimeout(4)
    started = time.monotonic()
    assert sock.recv(1) == b""
    assert time.monotonic() - started < 3.0
    sock.close()


@pytest.mark.parametrize("server", [ConnectionLimits(max_connections=20, header_timeout=60)], indirect=True)
def test_m4_idle_connections_over_the_cap_do_not_stop_a_request(server, caplog):
    """60 idle connections against a cap of 20 (the header limit far away): the server holds
    at most 20 and a well-behaved request is answered at once."""
    caplog.set_level(logging.INFO)
    idle = [raw(server) for _ in range(60)]
    try:
        started = time.monotonic()
        assert get(server).text == "hello"
        assert time.monotonic() - started < 2.0
        time.sleep(0.2)  # the evicted connections' connection_lost runs on the loop
        assert len(server._server.server_state.connections) <= 20
    finally:
        for sock in idle:
            sock.close()
    assert not server_logs(caplog)


@pytest.mark.parametrize("server", [ConnectionLimits(max_header_bytes=4096)], indirect=True)
def test_m4_oversized_headers_are_refused_with_431(server):
    with httpx.Client(trust_env=False, timeout=5) as client:
        response = client.get(f"{server.url}/", headers={"X-Big": "a" * 8000})
    assert response.status_code == 431
    assert get(server).status_code == 200


def test_m4_the_default_cap_is_a_share_of_the_descriptor_limit(monkeypatch):
    """Four servers share one process: each gets a quarter of its file-descriptor limit less
    a reserve, so a flood meets the cap before the process runs out of descriptors (and 200
    concurrent agents are not cut off where the limit allows more)."""
    from aauth_kit import connection_limits

    for soft, cap in ((1024, 192), (20_000, 4_936)):
        monkeypatch.setattr(connection_limits.resource, "getrlimit", lambda _which, soft=soft: (soft, soft))
        assert ConnectionLimits().max_connections == cap
        assert cap * connection_limits.SERVERS_PER_PROCESS + connection_limits.RESERVED_DESCRIPTORS <= soft
