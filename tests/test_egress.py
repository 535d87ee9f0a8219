"""Egress admission (-11 "JWKS Discovery and Caching": before fetching any issuer metadata
or ``jwks_uri``, verifiers MUST apply egress admission), mounted as attacks over loopback.

Finding M6: the PS fetched any URL a ``Signature-Key`` or a resource's metadata named,
told closed, open and AAuth ports apart in its errors, kept a 300 MiB JWKS and waited
for a trickled one per read.  Every target here is on 127.0.0.1; addresses outside
loopback are only ever judged by :meth:`Egress.admit`, never connected to.
"""

from __future__ import annotations

import asyncio
import socket
import time
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aauth_kit.egress import Egress, EgressRefused, EgressTransport, public_address
from aauth_kit.errors import AAuthError, SignatureError
from aauth_kit.headers import parse_signature_error
from aauth_kit.http_client import httpx, make_fetch
from aauth_kit.jwks import UNFETCHABLE, HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.metadata import AGENT_DWK, RESOURCE_DWK, agent_metadata, resource_metadata
from aauth_kit.revocation import UNAVAILABLE, Revoker, revoke_at
from aauth_kit.uvicorn_server import start_server

MIB = 1 << 20


class Listener:
    """A loopback port that takes connections into its backlog and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connected(self) -> bool:
        try:
            self.sock.accept()[0].close()
        except BlockingIOError:
            return False
        return True

    def close(self):
        self.sock.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def serve(app, name):
    return start_server(app, name)


def aauth_app(key: Key, issuer_box: dict):
    """An Agent Provider publishing its metadata and JWKS (issuer filled in once it listens)."""

    async def metadata(request):
        issuer = issuer_box["issuer"]
        return JSONResponse(agent_metadata(issuer, f"{issuer}/jwks.json", dev=True))

    async def keys(request):
        return JSONResponse(jwks([key]))

    return Starlette(routes=[Route(f"/.well-known/{AGENT_DWK}", metadata), Route("/jwks.json", keys)])


def fetch_now(coro):
    return get_loop_thread().run(coro, timeout=60)


# -- the PS, attacked -------------------------------------------------------------------------
def test_m6_jwks_uri_at_closed_open_and_aauth_ports_answer_alike(tmp_path):
    """``Signature-Key: sig=jwks_uri;id="http://127.0.0.1:PORT"`` at the PS: a closed port, a
    port that listens but is no AAuth server and a real Agent Provider outside the cast get
    the same 401 ``invalid_key`` with the same text, and nothing connects to them."""
    key = Key.generate(kid="hostile")
    box: dict = {}
    ap = serve(aauth_app(key, box), "hostile-ap")
    box["issuer"] = ap.url
    listener = Listener()
    answers = []
    try:
        with Lab(dev=True, data_dir=tmp_path) as lab, httpx.Client(trust_env=False) as client:
            for target in (closed_port_url(), listener.url, ap.url):
                message = Revoker(target, AGENT_DWK, key).request(f"{lab.identifiers['ps']}/revoke", "j1", 1)
                response = client.post(message.target_uri, headers=message.headers, content=message.body)
                body = response.json()
                answers.append(
                    (
                        response.status_code,
                        parse_signature_error(response.headers["signature-error"])[0],
                        body.get("error"),
                        body.get("detail"),
                    )
                )
        assert not listener.connected()
    finally:
        listener.close()
        ap.stop()
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (401, "invalid_key") and answers[0][3] == UNFETCHABLE


def test_m6_admitted_targets_fail_alike():
    """Even for admitted origins a failure reads the same: a closed port, a non-AAuth answer
    (404 HTML) and a non-JSON 200 are one ``invalid_key`` with one text."""

    async def html(request):
        return Response("<h1>admin console</h1>", status_code=404, media_type="text/html")

    async def text(request):
        return Response("SSH-2.0-OpenSSH", media_type="text/plain")

    web = serve(Starlette(routes=[Route("/nope/.well-known/aauth-agent.json", html)]), "not-aauth")
    plain = serve(Starlette(routes=[Route("/.well-known/aauth-agent.json", text)]), "plain")
    closed = closed_port_url()
    try:
        egress = Egress(dev=True, allow=[closed, web.url, plain.url])
        resolver = HttpResolver(make_fetch(EgressTransport(httpx.AsyncHTTPTransport(), egress)), dev=True)
        details = set()
        for issuer in (closed, web.url, plain.url):
            with pytest.raises(SignatureError) as caught:
                fetch_now(resolver.metadata(issuer, AGENT_DWK))
            details.add((caught.value.code, caught.value.detail))
    finally:
        web.stop()
        plain.stop()
    assert details == {("invalid_key", UNFETCHABLE)}


# -- size and time caps ----------------------------------------------------------------------------
def test_m6_300_mib_jwks_is_cut_at_the_cap():
    """A JWKS streamed without Content-Length: the fetch stops at 1 MiB, the server sends
    nowhere near 300 MiB, and the resolver answers ``invalid_key``."""
    sent = {"bytes": 0}

    async def huge(request):
        async def chunks():
            yield b'{"keys":["'
            for _ in range(300 * 16):
                if await request.is_disconnected():
                    return  # the reader hung up: stop producing
                sent["bytes"] += 64 * 1024
                yield b"A" * (64 * 1024)

        return StreamingResponse(chunks(), media_type="application/json")

    server = serve(Starlette(routes=[Route("/jwks.json", huge)]), "huge-jwks")
    try:
        fetch = make_fetch(httpx.AsyncHTTPTransport())
        with pytest.raises(ConnectionError, match="larger than 1048576 bytes"):
            fetch_now(fetch(f"{server.url}/jwks.json"))
        time.sleep(0.5)
        assert sent["bytes"] < 32 * MIB
        with pytest.raises(SignatureError) as caught:
            fetch_now(HttpResolver(fetch)._get_json(f"{server.url}/jwks.json"))
        assert (caught.value.code, caught.value.detail) == ("invalid_key", UNFETCHABLE)
    finally:
        server.stop()


def test_m6_declared_oversize_is_refused_before_reading():
    async def big(request):
        return Response(b"x" * (2 * MIB), media_type="application/json")

    server = serve(Starlette(routes=[Route("/jwks.json", big)]), "big-jwks")
    try:
        with pytest.raises(ConnectionError, match="larger than"):
            fetch_now(make_fetch(httpx.AsyncHTTPTransport())(f"{server.url}/jwks.json"))
    finally:
        server.stop()


def test_m6_trickled_jwks_is_cut_by_the_total_time_cap():
    """One byte every 0.3 s never trips a per-read timeout; the total cap (1 s here) ends it."""

    async def trickle(request):
        async def drip():
            for byte in b'{"keys":[]}' * 100:
                await asyncio.sleep(0.3)
                yield bytes([byte])

        return StreamingResponse(drip(), media_type="application/json")

    server = serve(Starlette(routes=[Route("/jwks.json", trickle)]), "trickle-jwks")
    try:
        fetch = make_fetch(httpx.AsyncHTTPTransport(), timeout=1.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            fetch_now(fetch(f"{server.url}/jwks.json"))
        assert time.monotonic() - started < 3.0
    finally:
        server.stop()


# -- the admission function --------------------------------------------------------------------------
async def never_resolve(host, port):
    raise AssertionError(f"resolved {host}")


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/jwks.json",
        "https://192.168.1.10/",
        "https://172.16.0.1/",
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[fd00::1]/",
        "https://224.0.0.1/",
    ],
)
def test_m6_private_addresses_are_refused_outside_dev_mode(url):
    """Judged without a lookup and without connecting (an IP literal)."""
    with pytest.raises(EgressRefused, match="not a public address"):
        asyncio.run(Egress(resolve=never_resolve).admit(url))


def test_m6_names_resolving_to_any_private_address_are_refused():
    async def resolve(host, port):
        return {"mixed.example": ["93.184.216.34", "10.1.2.3"], "public.example": ["93.184.216.34"]}[host]

    egress = Egress(resolve=resolve)
    with pytest.raises(EgressRefused):
        asyncio.run(egress.admit("https://mixed.example/jwks.json"))
    asyncio.run(egress.admit("https://public.example/jwks.json"))  # admitted; nothing is sent
    with pytest.raises(EgressRefused):
        asyncio.run(Egress().admit("https://localhost/"))  # the system resolver: loopback


def test_m6_schemes_and_dev_mode_allow_list():
    routes = {"http://127.0.0.1:8765": object()}
    with pytest.raises(EgressRefused):
        asyncio.run(Egress(resolve=never_resolve).admit("http://93.184.216.34/"))  # http outside dev
    with pytest.raises(EgressRefused):
        asyncio.run(Egress(dev=True).admit("file:///etc/passwd"))
    dev = Egress(dev=True, routes=routes, allow=["http://127.0.0.1:9000"], resolve=never_resolve)
    asyncio.run(dev.admit("http://127.0.0.1:8765/.well-known/jwks.json"))
    asyncio.run(dev.admit("http://127.0.0.1:9000/x"))
    for url in ("http://127.0.0.1:9001/", "http://localhost:8765/", "https://93.184.216.34/"):
        with pytest.raises(EgressRefused, match="not one of the cast's origins"):
            asyncio.run(dev.admit(url))
    assert public_address("93.184.216.34") and not public_address("100.64.0.1")


# -- the PS's revocation POST --------------------------------------------------------------------------
def test_m6_revocation_endpoint_elsewhere_is_refused(tmp_path):
    """A resource in the cast whose metadata names a ``revocation_endpoint`` on a port outside
    the cast: the PS does not send its signed POST there (``revocation_unavailable``)."""
    listener = Listener()
    try:
        with Lab(dev=True, data_dir=tmp_path) as lab:
            port = socket.socket()
            port.bind(("127.0.0.1", 0))
            number = port.getsockname()[1]
            port.close()
            resource = f"http://127.0.0.1:{number}"

            async def document(request):
                doc = resource_metadata(resource, revocation_endpoint=f"{listener.url}/revoke", dev=True)
                return JSONResponse(doc)

            app = Starlette(routes=[Route(f"/.well-known/{RESOURCE_DWK}", document)])
            lab.hosts.add(resource, app, port=number)
            token = SimpleNamespace(aud=resource, jti="j-1", exp=int(time.time()) + 600)
            ctx = lab.ps.context

            async def revoke():
                async with ctx.client_factory(timeout=5) as client:
                    return await revoke_at(
                        ctx.revoker,
                        client,
                        ctx.resolver,
                        token.aud,
                        RESOURCE_DWK,
                        token.jti,
                        token.exp,
                        dev=ctx.dev,
                    )

            assert fetch_now(revoke()) == (UNAVAILABLE, [])
        assert not listener.connected()
    finally:
        listener.close()


def test_m6_trickled_revocation_answer_is_cut_by_the_total_time_cap(monkeypatch):
    """The revoker's request is bounded in all, not per read: a recipient answering one byte
    every 0.3 s is ``revocation_unavailable`` (503) after the cap (1 s here)."""
    monkeypatch.setattr("aauth_kit.revocation.SEND_TIMEOUT", 1.0)

    async def trickle(request):
        async def drip():
            for _ in range(100):
                await asyncio.sleep(0.3)
                yield b" "

        return StreamingResponse(drip(), media_type="application/json")

    server = serve(Starlette(routes=[Route("/revoke", trickle, methods=["POST"])]), "trickle-revoke")
    revoker = Revoker("http://127.0.0.1:1", RESOURCE_DWK, Key.generate(kid="r"))

    async def revoke():
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            return await revoker.revoke(client, f"{server.url}/revoke", "j", int(time.time()) + 60)

    try:
        started = time.monotonic()
        with pytest.raises(AAuthError) as caught:
            fetch_now(revoke())
        assert (caught.value.code, caught.value.status) == (UNAVAILABLE, 503)
        assert time.monotonic() - started < 3.0
    finally:
        server.stop()
