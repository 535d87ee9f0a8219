"""The lab's loopback servers answer without Nagle's algorithm (uvicorn on the kit's
loop thread; a kept-alive request must not wait for a delayed ACK)."""

from __future__ import annotations

import http.client
import socket

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit.uvicorn_server import start_server


def test_accepted_connections_have_tcp_nodelay():
    async def hello(request):
        return JSONResponse({"hello": "world"})

    handle = start_server(Starlette(routes=[Route("/", hello)]), "nodelay-probe")
    connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=10)
    try:
        for _ in range(2):  # the second request rides the kept-alive connection
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200 and response.read() == b'{"hello":"world"}'
        accepted = [c.transport.get_extra_info("socket") for c in handle._server.server_state.connections]
        assert accepted and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted)
    finally:
        connection.close()
        handle.stop()


def test_servers_keep_idle_connections_longer_than_httpx_does():
    """A kept-alive connection is always dropped by the client first, never reused while the
    server closes it (200 concurrent agents lost requests to ReadError before)."""
    from aauth_kit.http_client import httpx

    async def hello(request):
        return JSONResponse({})

    handle = start_server(Starlette(routes=[Route("/", hello)]), "keepalive-probe")
    try:
        assert handle._server.config.timeout_keep_alive > httpx.Limits().keepalive_expiry
    finally:
        handle.stop()
