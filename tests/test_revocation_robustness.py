"""A hostile recipient, and strangers signing revocations, against the Person Server's
revocation (-11 "Token Revocation"; where -11 is silent on limits the kit follows OWASP ASVS
level 2), each attack mounted over real loopback sockets:

* a recipient answering ``202`` with a ``Retry-After`` of 2^31 seconds, a ``Location`` that is
  no URL (``mailto:``) or a malformed ``Retry-After`` holds the revoker at most
  ``SEND_TIMEOUT`` and is recorded as ``revocation_unavailable`` / ``invalid_response`` (an
  error code of 50,000 characters is cut as a ``downstream`` report's strings are); the
  PS refuses every token of the cascade before it tells anyone, tells the other resources all
  the same, and answers the Agent Provider ``200`` (the person: ``200`` with the report);
* anyone publishing ``aauth-resource.json`` revoking made-up tokens leaves no audit row, an
  expired one not even a revocation, a far-future ``exp`` is kept a day at most, and the PS's
  revocations are capped across signers (``429 rate_limited`` with a sane ``Retry-After``),
  while a revocation of a token the PS met is always kept, and audited once.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aauth_kit.servers import access_server_revocation as as_revocation
from aauth_kit.servers.ps.context import Caps
from aauth_kit.servers.ps.revocation import REVOCATION_RETENTION
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import revocation as kit
from aauth_kit.errors import AAuthError
from aauth_kit.jwks import jwks
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.metadata import AGENT_DWK, RESOURCE_DWK, resource_metadata
from aauth_kit.resource import Resource
from aauth_kit.revocation import (
    INVALID_RESPONSE,
    MAX_PAUSE,
    MAX_REPORT_STRING,
    SKEW,
    UNAVAILABLE,
    Revoker,
    revoke_at,
)

from .ps_world import HANG_GUARD, PS, World, decoded, error_of, wait_until
from .test_four_party_revocation import AS, claims, federated, read_parts, revoke

EVIL = "https://evil-resource.example"
EVIL2 = "https://evil-resource-2.example"
GOOD = "https://good-resource.example"
NEVER = "2147483648"  # seconds: RFC 9111's largest delta-seconds

#: What the hostile recipient answers its revocation requests (POST and polls alike):
#: ``(status, headers, body)``, and the outcome the revoker records.
ANSWERS = {
    "stalls": ((202, {"Location": "/revoke/p/1", "Retry-After": NEVER}, {}), UNAVAILABLE),
    "mailto": ((202, {"Location": "mailto:x@y.example", "Retry-After": "0"}, {}), INVALID_RESPONSE),
    "bad-retry-after": ((202, {"Location": "/revoke/p/1", "Retry-After": "soon"}, {}), INVALID_RESPONSE),
    "long-error": ((400, {}, {"error": "x" * 50_000}), "x" * MAX_REPORT_STRING),
}


def hostile_resource(identifier: str, key: Key, answer: tuple, seen: list) -> Starlette:
    """A resource that publishes metadata, JWKS and a revocation endpoint answering ``answer``
    (``(status, headers, body)``) to every request."""
    document = resource_metadata(
        identifier, f"{identifier}/jwks.json", revocation_endpoint=f"{identifier}/revoke"
    )
    status, headers, body = answer

    async def endpoint(request):
        seen.append(request.method)
        return JSONResponse(body or {"status": "pending"}, status, headers)

    return Starlette(
        routes=[
            Route(f"/.well-known/{RESOURCE_DWK}", lambda request: JSONResponse(document)),
            Route("/jwks.json", lambda request: JSONResponse(jwks([key]))),
            Route("/revoke", endpoint, methods=["POST"]),
            Route("/revoke/p/1", endpoint, methods=["GET"]),
        ]
    )


@pytest.fixture
def world(tmp_path, request, monkeypatch):
    """The PS world with a hostile resource (its answer the test's parameter, else a stall)
    and a real resource that takes revocations; ``SEND_TIMEOUT`` 2 s, so a stall costs 2 s."""
    monkeypatch.setattr(kit, "SEND_TIMEOUT", 2.0)
    answer, _ = ANSWERS[getattr(request, "param", "stalls")]
    w = World(tmp_path)
    w.seen = []
    w.evil_key = Key.from_seed("evil resource")
    w.hosts.add(EVIL, hostile_resource(EVIL, w.evil_key, answer, w.seen))
    w.good = Resource(GOOD, key=Key.from_seed("good resource"), resolver=w.resolver, clock=w.clock)
    w.hosts.add(GOOD, w.good.app([]))
    w.ps.context.client_factory = lambda **options: w.hosts.async_client(**options)
    yield w
    w.stop()


def run(coro):
    return get_loop_thread().run(asyncio.wait_for(coro, HANG_GUARD), timeout=2 * HANG_GUARD)


def send(world: World, message):
    return world.client.request(
        message.method, message.target_uri, headers=message.headers, content=message.body
    )


def ap_revokes(world: World, agent_token: str):
    """The PS in its Agent Provider role revokes the agent token at ``POST /revoke``."""
    claims = decoded(agent_token)
    ap = Revoker(PS, AGENT_DWK, world.ps_key, world.clock)
    return send(world, ap.request(f"{PS}/revoke", claims["jti"], claims["exp"]))


def outcomes(world: World) -> dict:
    """Each recipient's outcome in the person's trail."""
    trail = world.ps.store.audit_log(person="mcp-user")
    return {e.subject: e.details["error"] for e in trail if e.action == "token_revoked"}


# -- the revoker: a recipient cannot hold it -----------------------------------------------------


@pytest.mark.parametrize("world", list(ANSWERS), indirect=True)
def test_token_revocation_a_hostile_recipient_ends_in_time_with_a_code(world, request):
    """``revoke_at`` (the PS's and the Access Server's cascades both use it) toward a recipient
    that stalls, points its ``Location`` at ``mailto:`` or sends a malformed ``Retry-After``:
    ``revocation_unavailable`` within ``SEND_TIMEOUT`` for the stall, ``invalid_response``
    for the others — never a hang, never an exception; an error code of 50,000 characters is
    cut at ``MAX_REPORT_STRING``."""
    expected = ANSWERS[request.node.callspec.params["world"]][1]
    ctx = world.ps.context

    async def revoke():
        async with ctx.client_factory(timeout=30) as client:
            return await revoke_at(
                ctx.revoker,
                client,
                ctx.resolver,
                EVIL,
                RESOURCE_DWK,
                "j-1",
                int(world.clock()) + 60,
                dev=False,
            )

    assert run(revoke()) == (expected, [])
    assert world.seen[0] == "POST"


def test_token_revocation_a_retry_after_of_2_31_seconds_is_paused_at_most_max_pause(world):
    """The revoker follows a ``202`` asking for 2^31 s between polls, pausing ``MAX_PAUSE``
    each time; still pending after the last poll it gives up ``503 revocation_unavailable``."""
    slept: list = []

    async def revoke():
        async with world.hosts.async_client(timeout=30) as client:
            revoker = world.ps.context.revoker
            return await revoker.revoke(
                client, f"{EVIL}/revoke", "j-1", int(world.clock()) + 60, sleep=slept.append, max_polls=3
            )

    with pytest.raises(AAuthError) as caught:
        run(revoke())
    assert (caught.value.code, caught.value.status) == (UNAVAILABLE, 503)
    assert slept == [MAX_PAUSE] * 3
    assert world.seen == ["POST", "GET", "GET", "GET"]


# -- the Person Server's cascade ----------------------------------------------------------------


def issue_evil_then_good(world: World) -> tuple[str, str]:
    """The agent's person tokens for the hostile resource (the older) and the good one."""
    evil = decoded(world.person_token(resource=EVIL))["jti"]
    good = decoded(world.person_token(resource=GOOD))["jti"]
    return evil, good


@pytest.mark.parametrize("world", list(ANSWERS), indirect=True)
def test_token_revocation_a_hostile_resource_does_not_stop_the_ps_cascade(world, request):
    """The Agent Provider revokes the agent token; the agent's oldest person token is for the
    hostile resource.  Every token is refused at the PS before any recipient is told (checked
    while the hostile one is being told), the good resource is told (it refuses the later
    token), the AP gets ``200`` with an empty body, and the person's trail records the
    hostile resource's outcome."""
    expected = ANSWERS[request.node.callspec.params["world"]][1]
    evil, good = issue_evil_then_good(world)
    answer = {}
    thread = threading.Thread(target=lambda: answer.update(response=ap_revokes(world, world.agent_token)))
    thread.start()
    wait_until(lambda: world.seen)
    assert world.ps.store.is_revoked(PS, evil) and world.ps.store.is_revoked(PS, good)
    thread.join(HANG_GUARD)
    response = answer["response"]
    assert (response.status_code, response.content) == (200, b"")
    assert (PS, good) in world.good.revocations.revoked
    assert outcomes(world) == {EVIL: expected, GOOD: None}


def test_token_revocation_a_stalling_recipient_is_not_asked_again_in_the_cascade(world):
    """The agent holds 12 person tokens for the stalling resource and one for the good one:
    the PS sends the stalling one ``MAX_IN_FLIGHT_PER_RECIPIENT`` revocations at once, and once they ran out
    of time records the rest ``revocation_unavailable`` without sending them; the good
    resource is told, every token is refused at the PS."""
    evil = [decoded(world.person_token(resource=EVIL))["jti"] for _ in range(12)]
    good = decoded(world.person_token(resource=GOOD))["jti"]
    response = ap_revokes(world, world.agent_token)
    assert (response.status_code, response.content) == (200, b"")
    assert world.seen == ["POST"] * kit.MAX_IN_FLIGHT_PER_RECIPIENT
    trail = [e for e in world.ps.store.audit_log(person="mcp-user") if e.action == "token_revoked"]
    assert sorted(e.details["jti"] for e in trail if e.subject == EVIL) == sorted(evil)
    assert {e.details["error"] for e in trail if e.subject == EVIL} == {UNAVAILABLE}
    assert (PS, good) in world.good.revocations.revoked
    assert all(world.ps.store.is_revoked(PS, jti) for jti in [*evil, good])


def slow_resource(identifier: str, key: Key, delay: float, seen: list) -> Starlette:
    """A resource answering every revocation ``400 invalid_request`` after ``delay`` seconds."""
    app = hostile_resource(identifier, key, ANSWERS["stalls"][0], seen)

    async def endpoint(request):
        seen.append(request.method)
        await asyncio.sleep(delay)
        return JSONResponse({"error": "invalid_request"}, 400)

    app.router.routes[2] = Route("/revoke", endpoint, methods=["POST"])
    return app


def test_token_revocation_a_slow_recipient_does_not_hold_up_the_cascade(world):
    """50 revocations for a resource answering each ``400 invalid_request`` just before
    ``SEND_TIMEOUT``, then one for the good resource: the good one is told at once (not after
    50 / ``MAX_IN_FLIGHT`` rounds of the slow one), the slow one gets at most
    ``MAX_IN_FLIGHT_PER_RECIPIENT`` requests at once and ``SEND_TIMEOUT`` in all, its later
    jobs recorded ``revocation_unavailable`` without a request."""
    slow, seen, told = "https://slow-resource.example", [], {}
    world.hosts.add(slow, slow_resource(slow, Key.from_seed("slow resource"), kit.SEND_TIMEOUT - 0.1, seen))
    ctx, exp = world.ps.context, int(world.clock()) + 600
    jobs = [(slow, RESOURCE_DWK, f"slow-{n}", exp) for n in range(50)] + [(GOOD, RESOURCE_DWK, "good-1", exp)]

    async def cascade():
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def watch():
            while (PS, "good-1") not in world.good.revocations.revoked:
                await asyncio.sleep(0.01)
            told["good"] = loop.time() - start

        watcher = asyncio.ensure_future(watch())
        async with ctx.client_factory(timeout=30) as client:
            out = await kit.revoke_each(ctx.revoker, client, ctx.resolver, jobs, dev=False)
        told["all"] = loop.time() - start
        await asyncio.wait_for(watcher, 1)
        return out

    out = run(cascade())
    assert out[-1] == (None, [])
    assert told["good"] < kit.SEND_TIMEOUT / 2, told
    assert told["all"] < 2 * kit.SEND_TIMEOUT, told
    errors = [error for error, _ in out[:-1]]
    assert set(errors) <= {"invalid_request", UNAVAILABLE}
    assert errors.count("invalid_request") == kit.MAX_IN_FLIGHT_PER_RECIPIENT
    assert len(seen) <= 2 * kit.MAX_IN_FLIGHT_PER_RECIPIENT


@pytest.mark.parametrize("world", ["mailto"], indirect=True)
def test_token_revocation_the_person_gets_invalid_response_not_a_500(world):
    """The person revokes their token for the hostile resource, whose ``202`` names
    ``Location: mailto:``: ``200`` with the report naming it ``invalid_response``."""
    evil, _ = issue_evil_then_good(world)
    person = world.person()
    response = person.post(f"{PS}/tokens/{evil}/revoke")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "jti": evil,
        "revoked": True,
        "downstream": [{"recipient": EVIL, "error": INVALID_RESPONSE}],
    }
    assert world.ps.store.is_revoked(PS, evil)


@pytest.mark.parametrize("answer", ["stalls", "mailto"])
def test_token_revocation_a_hostile_resource_does_not_stop_the_as_cascade(tmp_path, monkeypatch, answer):
    """The Access Server's cascade (it revokes with the same ``revoke_at``) meets first the
    hostile resource: the PS's revocation there is answered ``200`` with the ``downstream``
    report naming it (``revocation_unavailable`` / ``invalid_response``), and the catalog is
    still told (the agent's auth token is refused there)."""
    monkeypatch.setattr(kit, "SEND_TIMEOUT", 2.0)  # under the AS's 5 s before it answers 202
    hostile, expected = ANSWERS[answer]
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        lab.hosts.add(EVIL, hostile_resource(EVIL, Key.from_seed("evil resource"), hostile, []))
        agent, auth_token, sent = federated(lab)
        presented = claims(sent["presented_token"])
        key = (lab.identifiers["ps"], presented["jti"])
        evil = as_revocation.IssuedAuthToken(
            EVIL, "evil-1", claims(auth_token)["exp"], key[0], (EVIL, "rt-1"), "t"
        )
        lab.access_server.revocations.note_issued(key, evil)
        response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
        assert response.status == 200, response.body
        assert json.loads(response.body) == {"downstream": [{"recipient": EVIL, "error": expected}]}
        assert (AS, claims(auth_token)["jti"]) in lab.catalog.resource.revocations.revoked
        refused = read_parts(lab, agent, auth_token)
        assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")


# -- strangers' revocations at the PS -----------------------------------------------------------


def revocation_rows(world: World, signer: str | None = None) -> int:
    return world.ps.store.revocations_of(signer)[0]


def audit_rows(world: World) -> int:
    return len(world.ps.store.audit_log(100_000))


@pytest.fixture
def capped(tmp_path):
    """The PS world with small caps (5 per signer, 8 in all) and two strangers' resources."""
    w = World(tmp_path, caps=Caps(revocations_per_signer=5, revocations=8))
    w.signers = {}
    for identifier in (EVIL, EVIL2):
        key = Key.from_seed(identifier)
        w.hosts.add(identifier, hostile_resource(identifier, key, ANSWERS["stalls"][0], []))
        w.signers[identifier] = Revoker(identifier, RESOURCE_DWK, key, w.clock)
    yield w
    w.stop()


def test_token_revocation_an_expired_token_writes_nothing(capped):
    """A stranger revokes 50 made-up tokens whose ``exp`` passed an hour ago: each ``200`` (an
    expired token is refused already), no revocation kept, no audit row."""
    audit = audit_rows(capped)
    for n in range(50):
        message = capped.signers[EVIL].request(f"{PS}/revoke", f"junk-{n}", int(capped.clock()) - 3600)
        response = send(capped, message)
        assert (response.status_code, response.content) == (200, b"")
    assert revocation_rows(capped, EVIL) == 0
    assert audit_rows(capped) == audit


def test_token_revocation_strangers_cannot_fill_the_ps(capped):
    """Made-up tokens with ``exp`` 2^62: each kept a day at most and unaudited; past 5 for one
    signer, and past 8 for all signers together, ``429 rate_limited`` with a ``Retry-After``
    of a day at most; another signer is served until the total is reached."""
    audit, url = audit_rows(capped), f"{PS}/revoke"
    evil, evil2 = capped.signers[EVIL], capped.signers[EVIL2]
    for n in range(5):
        assert send(capped, evil.request(url, f"forever-{n}", 2**62)).status_code == 200
    refused = send(capped, evil.request(url, "forever-5", 2**62))
    assert (refused.status_code, error_of(refused)) == (429, "rate_limited"), refused.text
    assert 0 < int(refused.headers["retry-after"]) <= REVOCATION_RETENTION + SKEW
    for n in range(3):
        assert send(capped, evil2.request(url, f"forever-{n}", 2**62)).status_code == 200
    refused = send(capped, evil2.request(url, "forever-3", 2**62))
    assert (refused.status_code, error_of(refused)) == (429, "rate_limited"), refused.text
    assert 0 < int(refused.headers["retry-after"]) <= REVOCATION_RETENTION + SKEW
    assert revocation_rows(capped) == 8 and audit_rows(capped) == audit
    _, first = capped.ps.store.revocations_of(None)
    assert first <= capped.clock() + REVOCATION_RETENTION
    # a day later every one of them is forgotten, and there is room again
    capped.clock.advance(REVOCATION_RETENTION + SKEW + 1)
    assert send(capped, evil.request(url, "forever-5", 2**62)).status_code == 200
    assert revocation_rows(capped) == 1


def test_token_revocation_a_token_the_ps_met_is_always_kept_and_audited_once(capped):
    """With the PS's revocations full of strangers', its Agent Provider's revocation of an
    agent token the PS issued is still kept (``200``, refused from now on) and audited; the
    same revocation again writes no second audit row."""
    url = f"{PS}/revoke"
    for n in range(5):
        assert send(capped, capped.signers[EVIL].request(url, f"x-{n}", 2**62)).status_code == 200
    for n in range(3):
        assert send(capped, capped.signers[EVIL2].request(url, f"x-{n}", 2**62)).status_code == 200
    jti = decoded(capped.agent_token)["jti"]
    for _ in range(3):
        response = ap_revokes(capped, capped.agent_token)
        assert (response.status_code, response.content) == (200, b"")
    assert capped.ps.store.is_revoked(PS, jti)
    entries = [
        e for e in capped.ps.store.audit_log(100_000) if e.action == "token_revoked" and e.subject == PS
    ]
    assert [e.details["jti"] for e in entries] == [jti]


def test_token_revocation_the_as_refuses_every_token_before_it_tells_a_resource(tmp_path, monkeypatch):
    """The Access Server's cascade marks the whole tree revoked before any resource is told,
    then tells them concurrently: when the stalling resource (first in the AS's records) is
    asked, the catalog's auth token is already refused at the AS, and the catalog is told
    although the stall has not ended."""
    monkeypatch.setattr(kit, "SEND_TIMEOUT", 2.0)
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        agent, auth_token, sent = federated(lab)
        catalog_jti = claims(auth_token)["jti"]
        witnessed = []

        async def witness(request):
            witnessed.append(lab.access_server.revocations.is_revoked(AS, catalog_jti))
            return JSONResponse({"status": "pending"}, 202, {"Location": "/revoke/p/1", "Retry-After": NEVER})

        app = hostile_resource(EVIL, Key.from_seed("evil resource"), ANSWERS["stalls"][0], [])
        app.router.routes[2] = Route("/revoke", witness, methods=["POST"])
        lab.hosts.add(EVIL, app)
        key = (lab.identifiers["ps"], claims(sent["presented_token"])["jti"])
        evil = as_revocation.IssuedAuthToken(
            EVIL, "evil-1", claims(auth_token)["exp"], key[0], (EVIL, "rt-1"), "t"
        )
        revocations = lab.access_server.revocations
        revocations.note_issued(key, evil)
        records = revocations.issued[key]
        records.insert(0, records.pop())  # the stalling resource's token first
        response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
        assert response.status == 200, response.body
        assert witnessed == [True]
        assert (AS, catalog_jti) in lab.catalog.resource.revocations.revoked
