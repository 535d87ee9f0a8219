"""Limits of the Person Server's revocation and federation, each attack mounted over real
loopback sockets (-11 "Token Revocation", "PS-AS Federation"; -11 is silent on these limits,
the kit follows OWASP ASVS level 2):

* one signer (an Agent Provider) cannot fill the PS's revocation table (``Caps``);
* a hostile Access Server's huge answer, to a revocation or a token request, is cut at the
  document cap; its ``downstream`` report of 10,000 entries reaches the person's audit trail
  capped;
* a PS built without an HTTP client of its own still admits every request it sends.
"""

from __future__ import annotations

import socket
import time

import pytest
from aauth_kit.servers.ps import PersonServer, federation
from aauth_kit.servers.ps.context import Caps
from aauth_kit.servers.ps.revocation import revoke_issued
from aauth_kit.servers.ps.store.tokens import IssuedToken
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from aauth_kit.claims import PERSON_TYP
from aauth_kit.egress import EgressRefused
from aauth_kit.errors import AAuthError
from aauth_kit.jwks import jwks
from aauth_kit.keys import Key
from aauth_kit.loop import get_loop_thread
from aauth_kit.metadata import ACCESS_DWK, AGENT_DWK, RESOURCE_DWK, access_metadata
from aauth_kit.revocation import MAX_DOWNSTREAM, MAX_REPORT_STRING, SKEW, UNAVAILABLE, Revoker, revoke_at

from .ps_world import OTHER_AP, PS, RES, World, error_of

HOSTILE = "https://hostile-as.example"
MIB = 1 << 20


def send(world: World, message):
    return world.client.request(
        message.method, message.target_uri, headers=message.headers, content=message.body
    )


def run(coro):
    return get_loop_thread().run(coro, timeout=120)


# -- revocations per signer ---------------------------------------------------------------------


def test_token_revocation_one_agent_provider_cannot_fill_the_ps(tmp_path):
    """An Agent Provider revokes token after token at the PS: past ``revocations_per_signer``
    (3 here) kept for it, a new one is ``429 rate_limited`` with ``Retry-After`` (when its first
    may be forgotten) and is not kept; the same revocation again is still ``200``, another
    signer is still served, and once the first ones pass their ``exp`` there is room again."""
    world = World(tmp_path, caps=Caps(revocations_per_signer=3))
    try:
        world.unclaimed_agent()  # OTHER_AP's metadata and JWKS on the network
        ap = Revoker(OTHER_AP, AGENT_DWK, Key.from_seed("other ap", kid="other-1"), world.clock)
        exp = int(world.clock()) + 600
        for n in range(3):
            assert send(world, ap.request(f"{PS}/revoke", f"j-{n}", exp)).status_code == 200
        refused = send(world, ap.request(f"{PS}/revoke", "j-3", exp))
        assert (refused.status_code, error_of(refused)) == (429, "rate_limited"), refused.text
        assert 600 < int(refused.headers["retry-after"]) <= 600 + SKEW
        assert not world.ps.store.is_revoked(OTHER_AP, "j-3")
        assert send(world, ap.request(f"{PS}/revoke", "j-0", exp)).status_code == 200
        resource = Revoker(RES, RESOURCE_DWK, world.res_key, world.clock)
        assert send(world, resource.request(f"{PS}/revoke", "rt-1", exp)).status_code == 200
        world.clock.advance(600 + SKEW + 1)
        later = int(world.clock()) + 600
        assert send(world, ap.request(f"{PS}/revoke", "j-3", later)).status_code == 200
    finally:
        world.stop()


# -- a hostile Access Server ----------------------------------------------------------------------


def hostile_access_server(sent: dict) -> Starlette:
    """An AS whose revocation endpoint answers a ``downstream`` report of 10,000 entries (one
    with a 50,000-character recipient) and whose token endpoint streams 64 MiB."""
    document = access_metadata(
        HOSTILE, f"{HOSTILE}/jwks.json", f"{HOSTILE}/token", revocation_endpoint=f"{HOSTILE}/revoke"
    )
    report = [
        {"recipient": f"https://r{n}.example", "error": "revocation_unavailable"} for n in range(10_000)
    ]
    report[0]["recipient"] = "https://" + "x" * 50_000

    async def huge(request):
        async def chunks():
            for _ in range(64 * 16):
                if await request.is_disconnected():
                    return
                sent["bytes"] += 64 * 1024
                yield b"A" * (64 * 1024)

        return StreamingResponse(chunks(), media_type="application/json")

    return Starlette(
        routes=[
            Route(f"/.well-known/{ACCESS_DWK}", lambda request: JSONResponse(document)),
            Route("/jwks.json", lambda request: JSONResponse(jwks([Key.from_seed("hostile")]))),
            Route("/revoke", lambda request: JSONResponse({"downstream": report}), methods=["POST"]),
            Route("/huge-revoke", huge, methods=["POST"]),
            Route("/token", huge, methods=["POST"]),
        ]
    )


@pytest.fixture
def hostile(tmp_path):
    world = World(tmp_path)
    world.sent = {"bytes": 0}
    world.hosts.add(HOSTILE, hostile_access_server(world.sent))
    world.ps.context.client_factory = lambda **options: world.hosts.async_client(**options)
    yield world
    world.stop()


def test_token_revocation_a_downstream_report_of_10000_entries_is_capped(hostile):
    """The PS revokes a person token it presented to the hostile AS, which answers with 10,000
    ``downstream`` entries: the person's audit trail, and the PS's own report, keep at most
    ``MAX_DOWNSTREAM`` entries, each string cut at ``MAX_REPORT_STRING`` characters."""
    ctx, now = hostile.ps.context, int(hostile.clock())
    token = IssuedToken(
        "pt-1", PERSON_TYP, PS, RES, "sub-1", "aauth:backend@ps.example", None, now, now + 600
    )
    details = {"access_server": HOSTILE, "presented": "pt-1"}
    ctx.store.audit("aauth:backend@ps.example", "auth_token_delivered", RES, details, person="mcp-user")
    failed = run(revoke_issued(ctx, [token], actor="mcp-user"))
    assert len(failed) <= MAX_DOWNSTREAM + 2  # the resource, the AS's report
    (entry,) = [
        e
        for e in ctx.store.audit_log(person="mcp-user")
        if e.action == "token_revoked" and e.subject == HOSTILE
    ]
    report = entry.details["downstream"]
    assert len(report) == MAX_DOWNSTREAM
    assert all(len(value) <= MAX_REPORT_STRING for item in report for value in item.values())


def test_token_revocation_a_huge_answer_is_cut_at_the_document_cap(hostile, monkeypatch):
    """The hostile AS answers the PS's revocation with 64 MiB: the PS stops reading at the
    document cap (1 MiB) and records ``revocation_unavailable``."""
    ctx = hostile.ps.context
    document = access_metadata(
        HOSTILE, f"{HOSTILE}/jwks.json", f"{HOSTILE}/token", revocation_endpoint=f"{HOSTILE}/huge-revoke"
    )

    async def metadata(issuer, dwk):
        return document

    monkeypatch.setattr(ctx.resolver, "metadata", metadata)

    async def revoke():
        async with ctx.client_factory(timeout=30) as client:
            return await revoke_at(
                ctx.revoker,
                client,
                ctx.resolver,
                HOSTILE,
                ACCESS_DWK,
                "pt-1",
                int(time.time()) + 60,
                dev=False,
            )

    assert run(revoke()) == (UNAVAILABLE, [])
    time.sleep(0.5)
    assert hostile.sent["bytes"] < 16 * MIB


def test_ps_as_federation_a_huge_as_answer_is_cut_at_the_document_cap(hostile):
    """The hostile AS answers the PS's token request with 64 MiB: the PS stops reading at the
    document cap and the agent gets ``502 as_unreachable``."""
    federation_request = {"access_server": HOSTILE, "request": {"resource_token": "x"}}
    with pytest.raises(AAuthError) as caught:
        run(
            federation.federate(
                hostile.ps.context, federation_request, "mcp-user", (PS, "a"), consented=False
            )
        )
    assert (caught.value.code, caught.value.status) == ("as_unreachable", 502)
    time.sleep(0.5)
    assert hostile.sent["bytes"] < 16 * MIB


# -- the default client -------------------------------------------------------------------------


def test_egress_a_person_server_built_without_a_client_admits_what_it_sends(tmp_path):
    """A PS built without ``client_factory`` (outside dev mode): its revocations and federation
    requests go through egress admission, so a name resolving to loopback is refused before any
    connection (``EgressRefused``) and the listener there sees nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    ps = PersonServer(PS, key=Key.from_seed("default ps"), resolver=None, data_dir=tmp_path)

    async def post():
        async with ps.context.client_factory(timeout=2) as client:
            return await client.post(f"https://localhost:{port}/revoke", content=b"{}")

    try:
        with pytest.raises(EgressRefused):
            run(post())
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
        ps.close()
