"""A compressed answer cannot defeat the kit's 1 MiB cap on what it reads from a stranger
(OWASP ASVS level 2, resource limits on server-side requests; -11 is silent): every capped
read asks for ``Accept-Encoding: identity`` and refuses an answer with any other content
coding before decoding a byte of it — the metadata/JWKS fetch, the servers' capped requests
(revocation, federation), the cast's own clients in the lab and the probe's own client.  Each attack is a real loopback socket
answering a "gzip, gzip" bomb (64 MiB of zeros in a few hundred bytes); the test counts the
bytes zlib decodes in this process.
"""

from __future__ import annotations

import asyncio
import zlib

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from aauth_kit.http_client import httpx, make_fetch, request_capped
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.probe.checks import CHECKS
from aauth_kit.probe.runner import probe

MIB = 1 << 20


def gzipped(chunks) -> bytes:
    coder = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([*(coder.compress(chunk) for chunk in chunks), coder.flush()])


BOMB = gzipped([gzipped(bytes(MIB) for _ in range(64))])


class Bomber:
    """A loopback HTTP/1.1 server answering every request with :data:`BOMB`, ``Content-Encoding:
    gzip, gzip``; it keeps the request heads it read."""

    def __init__(self):
        self.heads: list[bytes] = []
        self.server = get_loop_thread().run(asyncio.start_server(self.handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader, writer):
        try:
            self.heads.append((await reader.readuntil(b"\r\n\r\n")).lower())
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip, gzip\r\n"
            writer.write(f"{head}Content-Length: {len(BOMB)}\r\nConnection: close\r\n\r\n".encode() + BOMB)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def stop(self):
        self.server.close()


@pytest.fixture
def bomber():
    server = Bomber()
    yield server
    server.stop()


@pytest.fixture
def decoded(monkeypatch) -> dict:
    """``{"bytes": n}``: what every zlib decompressor made in this process (httpx decodes gzip
    with ``zlib.decompressobj``)."""
    count = {"bytes": 0}
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args, **kwargs):
            self.inner = real(*args, **kwargs)

        def decompress(self, data, *args, **kwargs):
            out = self.inner.decompress(data, *args, **kwargs)
            count["bytes"] += len(out)
            return out

        def flush(self, *args):
            out = self.inner.flush(*args)
            count["bytes"] += len(out)
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    return count


def test_jwks_discovery_and_caching_a_gzip_bomb_is_refused_undecoded(bomber, decoded):
    """-11 "JWKS Discovery and Caching" (egress admission): the metadata/JWKS fetch asks for
    ``identity`` and fails on the bomb (``ConnectionError``) with nothing decoded."""
    fetch = make_fetch(httpx.AsyncHTTPTransport())
    with pytest.raises(ConnectionError, match="content-coded"):
        get_loop_thread().run(fetch(f"{bomber.url}/jwks.json"))
    assert b"accept-encoding: identity\r\n" in bomber.heads[0]
    assert decoded["bytes"] < 2 * MIB


def test_token_revocation_a_gzip_bomb_answer_is_refused_undecoded(bomber, decoded):
    """The servers' capped requests (revocation, federation) through a client that would ask
    for gzip: ``identity`` is sent, the bomb is an ``httpx.HTTPError`` with nothing decoded."""

    async def post():
        async with httpx.AsyncClient(trust_env=False) as client:
            return await request_capped(client, "POST", f"{bomber.url}/revoke", content=b"{}")

    with pytest.raises(httpx.HTTPError, match="content-coded"):
        get_loop_thread().run(post())
    assert b"accept-encoding: identity\r\n" in bomber.heads[0]
    assert decoded["bytes"] < 2 * MIB


def test_probe_a_gzip_bomb_from_the_resource_is_refused_undecoded(bomber, decoded):
    """The probe's own client asks the resource for ``identity``; the bomb is a failed check
    (the answer is refused), never decoded."""
    report = probe(f"{bomber.url}/parts", dev=True, checks=CHECKS[:1], timeout=5)
    (result,) = report.results
    assert "content-coded" in result.answer.failure
    assert all(b"accept-encoding: identity\r\n" in head for head in bomber.heads)
    assert decoded["bytes"] < 2 * MIB


def test_token_revocation_the_lab_servers_refuse_a_gzip_bomb_before_the_trace_reads_it(tmp_path, decoded):
    """The cast's own clients (the AS's, the PS's, the resources') record every answer in the
    lab's trace, which reads the body: the compressed answer is refused before that, unread."""
    bomb = Starlette(
        routes=[
            Route(
                "/revoke",
                lambda request: Response(BOMB, headers={"Content-Encoding": "gzip, gzip"}),
                methods=["POST"],
            )
        ]
    )
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        lab.hosts.add("https://bomb.example", bomb)

        async def post():
            async with lab.access_server.client_factory(timeout=10) as client:
                return await request_capped(client, "POST", "https://bomb.example/revoke", content=b"{}")

        with pytest.raises(httpx.HTTPError, match="content-coded"):
            get_loop_thread().run(post())
    assert decoded["bytes"] < 2 * MIB
