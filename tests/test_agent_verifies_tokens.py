"""The agent verifies the signature of every person and auth token its PS hands out
(-11 "Auth Token Response Verification": the agent SHOULD verify the auth token's signature;
"JWKS Discovery and Caching":
``{iss}/.well-known/{dwk}`` → ``jwks_uri`` → the key its ``kid`` names, with ``alg``).

Against the hand-built PS of tests/test_agent.py over real loopback sockets, told to
misbehave one way at a time, and against the lab's PS.  The JWKS GET travels through
the agent's flow, so the trace counts it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from aauth_kit import jws
from aauth_kit.agent import Agent
from aauth_kit.claims import AUTH_TYP, PERSON_TYP
from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.runtime import Hosts
from aauth_kit.trace import Trace

from .test_agent import (
    AGENT_KEY,
    OTHER_KEY,
    PS,
    PS_KEY,
    PS_KEY_2,
    RES,
    WORLD,
    agent_token,
    presented,
    summaries,
)

JWKS_GET = "PS GET /.well-known/jwks.json → 200"


@pytest.fixture(scope="module")
def hosts():
    with Hosts("socket") as hosts:
        hosts.add(RES, WORLD.resource_app())
        hosts.add(PS, WORLD.ps_app())
        yield hosts


@pytest.fixture(autouse=True)
def world():
    WORLD.reset()
    return WORLD


class Moment:
    """The agent's clock: real time plus an offset the test moves."""

    def __init__(self):
        self.offset = 0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock():
    return Moment()


@pytest.fixture
def agent(clock, world):
    world.clock = clock  # the servers' clock moves with the agent's, signatures stay fresh
    return Agent(AGENT_KEY, agent_token(), clock=clock, sleep=lambda s: None)


@pytest.fixture
def trace():
    return Trace(names={PS: "PS", RES: "Resource"})


@pytest.fixture
def client(hosts, agent, trace):
    with hosts.client(auth=agent.auth(), event_hooks=trace.sync_event_hooks("Agent")) as client:
        yield client


def jwks_gets(trace: Trace) -> int:
    return sum(s.startswith("PS GET /.well-known/jwks.json") for s in summaries(trace))


def get_token(client, which: str):
    """Make the agent obtain a ``which`` ("person" or "auth") token from the PS.  For an auth
    token the person token is obtained first, before the PS starts to misbehave."""
    if which == "person":
        return client.get(f"{RES}/profile")
    return client.get(f"{RES}/optimize")


# -- the happy path ---------------------------------------------------------------------------
def test_one_jwks_exchange_verifies_every_token(client, agent, trace, world):
    """-11 "Auth Token Response Verification" + "JWT Trust Verification": the JWKS is fetched with the first token
    and kept (no Cache-Control: the resolver's default lifetime); the person token and two
    auth tokens later, still one GET."""
    assert client.get(f"{RES}/optimize").status_code == 200  # person token + auth token
    agent.forget()
    assert client.get(f"{RES}/optimize").status_code == 200  # two more
    assert summaries(trace)[:5] == [
        "Resource GET /optimize → 401 (requirement=person-token)",
        "PS GET /.well-known/aauth-person.json → 200",
        "PS POST /person-token → 200",
        JWKS_GET,
        "Resource GET /optimize → 401 (requirement=auth-token)",
    ]
    assert jwks_gets(trace) == 1
    assert sum("aauth-person.json" in s for s in summaries(trace)) == 1
    assert sum("POST /person-token" in s or "POST /auth-token" in s for s in summaries(trace)) == 4


def test_the_jwks_cache_control_is_respected(client, agent, clock, trace, world):
    """The JWKS is kept for its Cache-Control max-age (jwks.HttpResolver), by the agent's clock."""
    world.jwks_cache_control = "max-age=120"
    client.get(f"{RES}/profile")
    agent.forget()
    client.get(f"{RES}/profile")
    assert jwks_gets(trace) == 1
    clock.offset = 121
    agent.forget()
    client.get(f"{RES}/profile")
    assert jwks_gets(trace) == 2


def test_a_no_store_jwks_is_fetched_for_each_token(client, agent, trace, world):
    world.jwks_cache_control = "no-store"
    client.get(f"{RES}/profile")
    agent.forget()
    client.get(f"{RES}/profile")
    assert jwks_gets(trace) == 2


# -- tokens that fail -------------------------------------------------------------------------
BROKEN = {
    # signed by another key under the PS's kid: the signature does not verify
    "another key": (dict(signing_key=OTHER_KEY, token_header={"kid": "ps-1"}), "invalid_jwt"),
    # a kid the PS's JWKS does not hold (and the JWKS was just fetched: no refetch)
    "unknown kid": (dict(token_header={"kid": "ps-9"}), "unknown_key"),
    # the JWKS is not JSON / not a JWKS: no key can be established
    "JWKS not JSON": (dict(jwks_body=b"{not json"), "invalid_key"),
    "JWKS without keys": (dict(jwks_body=b'{"keys": 7}'), "invalid_key"),
    # the right key signed it, but the header claims ES256 for an Ed25519 key
    "alg mismatch": (dict(token_header={"alg": "ES256"}), "invalid_jwt"),
}


@pytest.mark.parametrize("which", ["person", "auth"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_token_that_does_not_verify_is_refused(client, agent, trace, world, case, which):
    """-11 "Auth Token Response Verification" (SHOULD verify the signature): a person or auth token
    whose signature or key cannot be verified ends the flow with the Signature-Error code,
    status 502; it is neither cached nor presented to the resource."""
    misbehaviour, code = BROKEN[case]
    if which == "auth":
        world.jwks_cache_control = "no-store"  # so the auth token's check fetches the JWKS again
        client.get(f"{RES}/profile")  # a good person token first
    for name, value in misbehaviour.items():
        setattr(world, name, value)
    with pytest.raises(FlowError) as caught:
        get_token(client, which)
    assert (caught.value.code, caught.value.status) == (code, 502)
    assert agent.auth_token_for(RES) is None
    if which == "person":
        assert agent.person_token_for(RES) is None
    typ = PERSON_TYP if which == "person" else AUTH_TYP
    assert summaries(trace)[-1].startswith(("PS GET /.well-known/jwks.json", f"PS POST /{which}-token"))
    assert not any(presented(m)["typ"] == typ for m in world.requests_to("/optimize"))
    if which == "person":
        assert not any(presented(m)["typ"] == typ for m in world.requests_to("/profile"))


def test_an_async_client_refuses_the_same_way(hosts, world):
    """The JWKS GET is yielded by the flow, so httpx.AsyncClient sends it too (-11 "Auth Token Response Verification")."""
    world.token_header = {"kid": "ps-9"}
    agent = Agent(AGENT_KEY, agent_token())
    trace = Trace(names={PS: "PS", RES: "Resource"})

    async def run():
        async with hosts.async_client(auth=agent.auth(), event_hooks=trace.event_hooks("Agent")) as client:
            await client.get(f"{RES}/profile")

    with pytest.raises(FlowError) as caught:
        asyncio.run(run())
    assert caught.value.code == "unknown_key"
    assert jwks_gets(trace) == 1 and agent.person_token_for(RES) is None


# -- key rotation at the PS -------------------------------------------------------------------
def test_a_new_kid_at_the_ps_triggers_one_refetch(client, agent, clock, trace, world):
    """-11 "JWT Trust Verification": an unknown kid may mean the issuer rotated its key;
    the JWKS is fetched again, at most once a minute per issuer."""
    client.get(f"{RES}/profile")
    world.jwks_keys, world.signing_key = [PS_KEY, PS_KEY_2], PS_KEY_2
    clock.offset = 61
    agent.forget()
    assert client.get(f"{RES}/profile").status_code == 200
    assert jwks_gets(trace) == 2
    assert jws.decode_unverified(agent.person_token_for(RES)).header["kid"] == "ps-2"
    agent.forget()
    client.get(f"{RES}/profile")  # the refetched JWKS is kept
    assert jwks_gets(trace) == 2


def test_a_new_kid_within_the_minute_is_not_refetched(client, agent, trace, world):
    """-11 "JWT Trust Verification": no more than one JWKS fetch a minute per issuer, so a
    kid that appears seconds after the last fetch stays unknown."""
    client.get(f"{RES}/profile")
    world.jwks_keys, world.signing_key = [PS_KEY, PS_KEY_2], PS_KEY_2
    agent.forget()
    with pytest.raises(FlowError) as caught:
        client.get(f"{RES}/profile")
    assert caught.value.code == "unknown_key"
    assert jwks_gets(trace) == 1


# -- the switch for teaching ------------------------------------------------------------------
def test_signature_checks_can_be_turned_off(hosts, world):
    """verify_token_signatures=False: the SHOULD of -11 "Auth Token Response Verification" skipped (no JWKS GET,
    a token signed by another key is taken); the MUST claim checks still run."""
    world.signing_key, world.token_header = OTHER_KEY, {"kid": "ps-1"}
    agent = Agent(AGENT_KEY, agent_token(), verify_token_signatures=False)
    trace = Trace(names={PS: "PS", RES: "Resource"})
    with hosts.client(auth=agent.auth(), event_hooks=trace.sync_event_hooks("Agent")) as client:
        response = client.get(f"{RES}/profile")
    assert jwks_gets(trace) == 0
    assert agent.person_token_for(RES) is not None  # kept, and presented:
    assert response.status_code == 401  # the resource, which does verify, refuses it
    assert response.headers["signature-error"].startswith("error=invalid_jwt")
    world.reset()
    world.auth_token_claims = {"aud": "https://other.example"}
    agent.forget()
    with hosts.client(auth=agent.auth()) as client, pytest.raises(FlowError) as caught:
        client.get(f"{RES}/optimize")
    assert caught.value.code == "invalid_auth_token"


# -- the lab ----------------------------------------------------------------------------------
def test_the_lab_agent_fetches_the_ps_jwks_once(tmp_path):
    """In the lab (real sockets), the agent's first token costs one GET of the PS's JWKS,
    shown in the lab's trace; the flow's later tokens reuse it (-11 "Auth Token Response Verification")."""
    with Lab(docs=True, data_dir=tmp_path, consent_scopes=[]) as lab:
        agent = lab.new_agent("notebook")
        with lab.client(agent) as client:
            assert client.post("https://supply-chain.example/optimize", json={}).status_code == 200
        steps = [(e.source, e.target, e.request.method, e.request.target_uri) for e in lab.trace.exchanges]
    jwks = [s for s in steps if s[3] == "https://ps.example/.well-known/jwks.json"]
    assert jwks == [("Agent", "PS", "GET", "https://ps.example/.well-known/jwks.json")]
    assert steps.index(jwks[0]) == steps.index(("Agent", "PS", "POST", "https://ps.example/person-token")) + 1
