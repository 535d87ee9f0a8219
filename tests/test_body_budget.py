"""Request bodies share one budget across connections and servers.

Finding: each body was capped (1 MiB, 30 s) but nothing capped their sum, so 1,000
connections each holding a body under the cap held 1 GiB.  Now the bytes buffered in flight
by all the servers of the process are capped (:data:`aauth_kit.asgi.MAX_BUFFERED`,
``aauth-kit serve --max-buffered-bytes``); a body that does not fit is ``503
temporarily_unavailable`` with ``Retry-After`` before any of it is read.  Over raw loopback
sockets to the cast ``aauth-kit serve`` starts, so the test controls every byte sent.
"""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import urlsplit

import pytest

from aauth_kit import serve
from aauth_kit.asgi import BUFFERED, BUSY_RETRY_AFTER, MAX_BODY

from .test_body_limit import ROUTES, connect, read_response

BUDGET = 2 * MAX_BODY
PARTIAL = 16  # connections, each declaring BUDGET / PARTIAL bytes and sending only a little
HANG_GUARD = 30


@pytest.fixture
def cast(tmp_path, monkeypatch):
    """The cast as ``aauth-kit serve --max-buffered-bytes`` starts it (loopback, any free ports)."""
    monkeypatch.setattr(BUFFERED, "limit", BUFFERED.limit)  # restored afterwards
    parser = argparse.ArgumentParser()
    serve.add_cast_options(parser, seed_ports=False)
    args = parser.parse_args(["--max-buffered-bytes", str(BUDGET), "--data-dir", str(tmp_path)])
    lab = serve.lab_from(args)
    try:
        yield lab
    finally:
        lab.stop()


def held_until(condition) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"the budget holds {BUFFERED.used} bytes"
        time.sleep(0.01)


def start_body(lab, server: str, head: str, first: bytes = b""):
    """A POST to ``server`` whose headers say ``head``; ``first`` bytes of its body sent."""
    url = lab.identifiers[server] + ROUTES[server]
    parts = urlsplit(url)
    conn = connect(url)
    conn.sendall(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"{head}\r\n\r\n".encode()
        + first
    )
    return conn


def test_budget_concurrent_partial_bodies_fill_it_and_the_next_body_is_503_unread(cast):
    """16 connections across the four servers each declare 128 KiB and send 1 KiB: together
    they hold the whole 2 MiB budget.  One more body — 1 KiB declared, or chunked — is
    ``503 temporarily_unavailable`` with ``Retry-After`` and ``Connection: close`` before a
    byte of it is sent.  When one sender goes away its room is free again and a body is read
    as always; when all are gone the budget is back to nothing."""
    servers = sorted(ROUTES)
    size = BUDGET // PARTIAL
    partial = [
        start_body(cast, servers[i % len(servers)], f"Content-Length: {size}", b" " * 1024)
        for i in range(PARTIAL)
    ]
    try:
        held_until(lambda: BUFFERED.used == BUDGET)
        for head in ("Content-Length: 1024", "Transfer-Encoding: chunked"):
            first = b"400\r\n" + b" " * 1024 + b"\r\n" if "chunked" in head else b""
            refused = start_body(cast, "ps", head, first)
            status, headers, body = read_response(refused)
            refused.close()
            assert (status, json.loads(body)["error"]) == (503, "temporarily_unavailable"), head
            assert (headers["retry-after"], headers["connection"]) == (str(BUSY_RETRY_AFTER), "close")
        partial.pop().close()
        held_until(lambda: BUFFERED.used <= BUDGET - size)
        judged = start_body(cast, "ps", "Content-Length: 2", b"{}")
        assert read_response(judged)[0] == 401  # read and judged: unsigned
        judged.close()
    finally:
        for conn in partial:
            conn.close()
    held_until(lambda: BUFFERED.used == 0)
