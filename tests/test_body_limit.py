"""Bodies are capped before they are read (finding M5): an unsigned 400 MiB ``POST
/auth-token`` used to be read whole before its 401.  Now every server of the cast answers
``413`` (``invalid_request``) to a body over :data:`aauth_kit.asgi.MAX_BODY` — from
``Content-Length`` before reading any of it, or as soon as a chunked body passes the cap —
and closes the connection.  Over a raw loopback socket, so the test controls every byte sent.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from aauth_kit.asgi import MAX_BODY
from aauth_kit.lab import Lab

FIFTY_MIB = 50 * 1024 * 1024
CHUNK = 64 * 1024
ROUTES = {
    "ps": "/auth-token",
    "supply_chain": "/optimize",
    "market_analysis": "/revoke",
    "backend": "/optimization/start",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(dev=True, data_dir=tmp_path_factory.mktemp("ps")) as lab:
        yield lab


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=30)  # a hang guard
    return conn


def read_response(conn: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers.get("content-length", 0)):
        body += conn.recv(65536)
    return int(lines[0].split()[1]), headers, body


def send_until_answered(conn: socket.socket, chunks, limit: int) -> int:
    """Send ``chunks`` until the server answers or closes; the bytes sent by then."""
    sent = 0
    conn.setblocking(False)
    try:
        for chunk in chunks:
            if sent >= limit:
                break
            try:
                conn.sendall(chunk)
            except BlockingIOError:
                break  # the server stopped reading: its buffers are full
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            try:
                if conn.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
    finally:
        conn.setblocking(True)
    return sent


@pytest.mark.parametrize("server", sorted(ROUTES))
def test_m5_declared_50_mib_body_is_413_before_reading(lab, server):
    """``Content-Length: 50 MiB``, unsigned: ``413`` after at most a few chunks were sent."""
    url = lab.identifiers[server] + ROUTES[server]
    conn = connect(url)
    parts = urlsplit(url)
    conn.sendall(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {FIFTY_MIB}\r\n\r\n".encode()
    )
    sent = send_until_answered(conn, (b"x" * CHUNK for _ in range(FIFTY_MIB // CHUNK)), FIFTY_MIB)
    status, headers, body = read_response(conn)
    conn.close()
    assert (status, json.loads(body)["error"]) == (413, "invalid_request")
    assert headers["connection"] == "close"
    assert sent < FIFTY_MIB  # answered long before the body was all there


def test_m5_chunked_body_is_cut_off_past_the_cap(lab):
    """No ``Content-Length`` (chunked): the PS counts and answers ``413`` once the cap is
    passed, without waiting for the rest."""
    url = lab.identifiers["ps"] + "/auth-token"
    conn = connect(url)
    parts = urlsplit(url)
    conn.sendall(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = send_until_answered(conn, (chunk for _ in range(FIFTY_MIB // CHUNK)), FIFTY_MIB)
    status, _, body = read_response(conn)
    conn.close()
    assert (status, json.loads(body)["error"]) == (413, "invalid_request")
    assert sent < FIFTY_MIB


def test_m5_a_body_under_the_cap_is_read_as_before(lab):
    """Just under the cap the body is read and judged as always (here: unsigned → 401)."""
    with lab.hosts.client(timeout=30) as client:
        answer = client.post(
            lab.identifiers["ps"] + "/auth-token",
            content=b" " * (MAX_BODY - 2) + b"{}",
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 401


def test_m5_a_body_that_trickles_is_cut_by_the_body_time_limit():
    """Many slow bodies under the cap used to be held (and buffered) as long as their senders
    liked.  A body not complete ``body_timeout`` seconds after the app asks for it is ``408``
    (RFC 9110 §15.5.9) and the connection is closed; a prompt body is read as before."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from aauth_kit.asgi import exception_handlers, middleware
    from aauth_kit.uvicorn_server import start_server

    async def echo(request):
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(
        routes=[Route("/", echo, methods=["POST"])],
        exception_handlers=exception_handlers(),
        middleware=middleware(body_timeout=1.0),
    )
    handle = start_server(app, "body-timeout")
    try:
        url = f"http://{handle.host}:{handle.port}/"
        conn = connect(url)
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        status, headers, body = read_response(conn)  # no more bytes are ever sent
        assert (status, json.loads(body)["error"], headers["connection"]) == (408, "invalid_request", "close")
        conn.close()
        prompt = connect(url)
        prompt.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        assert read_response(prompt)[::2] == (200, b"3")
        prompt.close()
    finally:
        handle.stop()
