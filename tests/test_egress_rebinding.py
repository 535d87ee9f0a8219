"""Egress admission holds against DNS rebinding.

Finding: admission resolved a host and checked every address, but the HTTP client resolved
the name again when it connected, so a name that answered a public address first and a
private one a moment later got the kit's request — metadata fetch, JWKS fetch, signed
revocation POST — delivered to the private address.  Now the connection goes to the address
admission checked (:class:`~aauth_kit.http_client.PinnedTransport`), with ``Host``, TLS SNI
and the certificate check still the name's.

The resolver is the process's own (``socket.getaddrinfo``, which the kit's admission and
the HTTP client both call), answering as the attacker's DNS would; every connection is real,
over TLS, to loopback: ``127.0.0.2`` plays the public address (the policy is told so) and
``127.0.0.1`` the private service.  The name is under ``.test`` (RFC 6761), never looked up.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aauth_kit import egress as egress_module
from aauth_kit.egress import Egress, EgressTransport
from aauth_kit.errors import SignatureError
from aauth_kit.http_client import PinnedTransport, httpx, make_fetch
from aauth_kit.jwks import UNFETCHABLE, HttpResolver
from aauth_kit.loop import get_loop_thread
from aauth_kit.metadata import AGENT_DWK, agent_metadata

NAME = "rebind.test"
ISSUER = f"https://{NAME}"
PUBLIC, PRIVATE = "127.0.0.2", "127.0.0.1"


def certificate(tmp_path) -> tuple[str, str, str]:
    """A self-signed certificate for :data:`NAME`: (cert file, key file, PEM to trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (tmp_path / "cert.pem").write_text(pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"), pem


class TLSServer:
    """An https server on ``address:port`` answering every GET with ``document`` as JSON; it
    records the SNI name and the request head of every connection it got."""

    def __init__(self, address: str, port: int, files: tuple[str, str, str], document: dict):
        self.address, self.port, self.document = address, port, document
        self.names: list[str | None] = []
        self.heads: list[bytes] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files[0], files[1])
        context.sni_callback = lambda sslobj, name, ctx: self.names.append(name)
        self.context = context
        self.server = get_loop_thread().run(
            asyncio.start_server(self._answer, address, port, ssl=context), timeout=10
        )

    async def _answer(self, reader, writer):
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            body = json.dumps(self.document).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        finally:
            writer.close()

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()

        get_loop_thread().run(stop(), timeout=10)


def free_port() -> int:
    """A port free on both loopback addresses (the attacker's name answers with either)."""
    for _ in range(20):
        with socket.socket() as one, socket.socket() as other:
            one.bind((PUBLIC, 0))
            port = one.getsockname()[1]
            try:
                other.bind((PRIVATE, port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free on both addresses")


@pytest.fixture
def dns(monkeypatch):
    """The attacker's DNS: ``answers`` are given for :data:`NAME` in turn (the last one
    again after that); ``asked`` counts the lookups.  Other names resolve as always.  The
    admission policy counts :data:`PUBLIC` as a public address."""
    real_lookup, real_public = socket.getaddrinfo, egress_module.public_address
    state = {"answers": [PUBLIC], "asked": 0}

    def lookup(host, port, *args, **kwargs):
        if host in (NAME, NAME.encode()):
            state["asked"] += 1
            answers = state["answers"]
            return real_lookup(answers[min(state["asked"], len(answers)) - 1], port, *args, **kwargs)
        return real_lookup(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(egress_module, "public_address", lambda a: a == PUBLIC or real_public(a))
    return state


def verifier(pem: str, port: int, inner=None) -> tuple:
    """The kit's fetch stack outside dev mode — egress admission over the system resolver,
    then the pinned transport — and an :class:`HttpResolver` on it.  ``port`` stands in for
    443 (binding 443 needs privileges): the resolver's URLs are sent to it unchanged but for
    the port."""
    trusted = ssl.create_default_context(cadata=pem)
    transport = EgressTransport(inner or PinnedTransport(verify=trusted), Egress())
    fetch = make_fetch(transport)

    async def at_port(url: str):
        return await fetch(url.replace(f"{ISSUER}/", f"{ISSUER}:{port}/"))

    return fetch, HttpResolver(at_port)


def resolve_metadata(resolver):
    return get_loop_thread().run(resolver.metadata(ISSUER, AGENT_DWK), timeout=30)


def test_m6_dns_rebinding_never_reaches_the_private_address(tmp_path, dns):
    """The name answers the public address to admission and the private one after.  The
    private service (which would answer) is never connected to: the request goes to the
    checked public address, where nothing listens, and the verifier reads the one text it
    gives for every unfetchable document; the name was looked up once."""
    files = certificate(tmp_path)
    port = free_port()
    dns["answers"] = [PUBLIC, PRIVATE]
    private = TLSServer(PRIVATE, port, files, agent_metadata(ISSUER, f"{ISSUER}/jwks.json"))
    try:
        _, resolver = verifier(files[2], port)
        with pytest.raises(SignatureError) as refused:
            resolve_metadata(resolver)
    finally:
        private.close()
    assert (refused.value.code, refused.value.detail) == ("invalid_key", UNFETCHABLE)
    assert (private.heads, private.names, dns["asked"]) == ([], [], 1)


def test_m6_pinned_connection_keeps_the_name_for_host_sni_and_certificate(tmp_path, dns):
    """Held to the checked address, the connection still speaks to the name: TLS SNI is the
    name, the certificate is checked against it, ``Host`` carries it; the document is read."""
    files = certificate(tmp_path)
    port = free_port()
    document = agent_metadata(ISSUER, f"{ISSUER}/jwks.json")
    public = TLSServer(PUBLIC, port, files, document)
    try:
        _, resolver = verifier(files[2], port)
        assert resolve_metadata(resolver) == document
    finally:
        public.close()
    assert public.names == [NAME]
    assert f"host: {NAME}:{port}\r\n".encode() in public.heads[0].lower()


def test_m6_admission_refuses_a_transport_that_would_resolve_again(tmp_path, dns):
    """An inner transport that would look the name up again (plain httpx) is not sent a
    request whose host admission resolved: refused like every refusal, nothing connected."""
    files = certificate(tmp_path)
    port = free_port()
    public = TLSServer(PUBLIC, port, files, {})
    try:
        plain = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cadata=files[2]))
        fetch, resolver = verifier(files[2], port, inner=plain)
        with pytest.raises(SignatureError) as refused:
            resolve_metadata(resolver)
        with pytest.raises(ConnectionError, match="egress refused"):
            get_loop_thread().run(fetch(f"{ISSUER}:{port}/"), timeout=30)
    finally:
        public.close()
    assert (refused.value.code, refused.value.detail) == ("invalid_key", UNFETCHABLE)
    assert public.heads == []
