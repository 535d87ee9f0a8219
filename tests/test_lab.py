"""The Lab: the whole cast in one call, docs mode determinism, the
movable clock, and a restarted PS that keeps its pending requests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.lab_clock import DOCS_EPOCH, LabClock


def wire(lab: Lab) -> list:
    return [
        (
            e.source,
            e.target,
            e.request.method,
            e.request.target_uri,
            e.request.headers,
            e.request.body,
            e.response.status,
            e.response.headers,
            e.response.body,
        )
        for e in lab.trace.exchanges
    ]


def run_market_flow(tmp_path, mode: str) -> list:
    with Lab(docs=True, mode=mode, data_dir=tmp_path, consent_scopes=[]) as lab:
        agent = lab.new_agent("notebook")
        with lab.client(agent) as client:
            response = client.post(
                "https://supply-chain.example/optimize", json={"prompt": "with market analysis"}
            )
        assert response.status_code == 200
        return wire(lab)


@pytest.mark.parametrize("mode", ["asgi", "socket"])
def test_docs_mode_replays_byte_for_byte(tmp_path, mode):
    # docs mode: every header, token and body is the same on every run
    first = run_market_flow(tmp_path / "a", mode)
    second = run_market_flow(tmp_path / "b", mode)
    # 7 exchanges agent→SCA/PS, 7 more for the SCA→MAA call chain; each has one GET of the PS's
    # JWKS (-11 "Auth Token Response Verification": the agent verifies the tokens it receives)
    assert len(first) == 14
    assert first == second


def test_docs_clock_is_frozen_and_movable():
    clock = LabClock(DOCS_EPOCH)
    assert clock() == clock() == DOCS_EPOCH
    clock.advance(600)
    assert clock() == DOCS_EPOCH + 600


def test_lab_names_every_party_and_serves_real_sockets(tmp_path):
    with Lab(data_dir=tmp_path) as lab:
        assert set(lab.identifiers.values()) == {
            "https://ps.example",
            "https://backend.example",
            "https://supply-chain.example",
            "https://market-analysis.example",
            "https://as.example",
            "https://catalog.example",
            "https://supplier.example",
        }
        assert lab.url("backend").startswith("http://127.0.0.1:")
        with lab.hosts.client() as client:
            assert (
                client.get(f"{lab.url('ps')}/.well-known/aauth-person.json").json()["issuer"]
                == "https://ps.example"
            )
        assert "PS=https://ps.example" in repr(lab)


def test_advancing_the_clock_expires_a_pending_consent(tmp_path):
    with Lab(docs=True, mode="asgi", data_dir=tmp_path, pending_ttl=300) as lab:
        codes = []
        agent = lab.new_agent(
            "notebook", on_interaction=lambda i: (codes.append(i.code), lab.clock.advance(301))
        )
        with lab.client(agent) as client, pytest.raises(FlowError) as info:
            client.post("https://supply-chain.example/optimize", json={})
        assert codes and info.value.code == "expired"


def test_restarted_ps_completes_a_pending_flow(tmp_path):
    # the PS keeps its state on disk: it restarts while the person has not yet answered; the
    # agent keeps polling the same pending URL and gets its token after the approval
    with Lab(data_dir=tmp_path) as lab:
        asked = threading.Event()
        agent = lab.new_agent("notebook", on_interaction=lambda i: asked.set(), wait=1)
        outcome = {}

        def run():
            with lab.client(agent) as client:
                outcome["response"] = client.post("https://supply-chain.example/optimize", json={})

        flow = threading.Thread(target=run)
        flow.start()
        assert asked.wait(30)
        lab.restart_ps()
        (code,) = lab.ps.pending_codes()
        lab.ps.decide(code, True)
        flow.join(60)
        assert outcome["response"].status_code == 200


def test_send_delivers_a_hand_signed_message_as_it_is(tmp_path):
    from aauth_kit.message import HttpMessage
    from aauth_kit.profile import sign_request
    from aauth_kit.signature_key import jwt_key

    with Lab(docs=True, mode="asgi", data_dir=tmp_path) as lab:
        agent = lab.new_agent("hand")
        message = HttpMessage(
            "GET", "https://supply-chain.example/inventory", [("Host", "supply-chain.example")]
        )
        sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
        exchange = lab.send(message, source="Hand")
        assert exchange.source == "Hand" and exchange.status == 200
        assert exchange.request.header("signature") == message.header("signature")


def test_send_returns_its_own_exchange_while_others_run(tmp_path):
    """Another request that starts while the hand-built one is in flight (a background flow)
    is not what :meth:`Lab.send` answers with."""
    from aauth_kit.message import HttpMessage

    with Lab(docs=True, mode="asgi", data_dir=tmp_path) as lab:
        begin = lab.trace.begin

        def begin_and_another(source, request):
            mine = begin(source, request)
            begin("Other", HttpMessage("GET", "https://ps.example/elsewhere"))  # still in flight
            return mine

        lab.trace.begin = begin_and_another
        exchange = lab.send(HttpMessage("GET", "https://ps.example/.well-known/jwks.json"), source="Hand")
        assert exchange.source == "Hand" and exchange.status == 200


def test_a_lab_knows_when_it_is_stopped(tmp_path):
    with Lab(docs=True, data_dir=tmp_path / "one") as first:
        assert not first.stopped
        with Lab(docs=True, data_dir=tmp_path / "two") as second:  # a re-run `lab = Lab()` cell
            assert first.stopped and not second.stopped  # its servers were taken over
    assert second.stopped


EXITS_WITHOUT_STOP = """
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.waiting import held_poll, wait_until

lab = Lab(docs=True)
agent = lab.new_agent("notebook")


async def optimize():
    async with lab.async_client(agent) as client:
        return await client.post(f"{lab.identifiers['supply_chain']}/optimize", json={"prompt": "x"})


flow = get_loop_thread().submit(optimize())
interaction = wait_until(lambda: agent.last_interaction, flow=flow, what="the interaction code")
held_poll(lab.ps, interaction.code, flow=flow)
print("held", flush=True)
"""


def test_a_process_that_never_stops_its_lab_exits_promptly():
    """Notebooks leave the lab running (their graders need it): the kernel's exit ends it,
    even with a poll held open at the PS."""
    process = subprocess.Popen(
        [sys.executable, "-c", EXITS_WITHOUT_STOP], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "held\n"  # the script's last line ran: now it exits
        ended = time.monotonic()
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert time.monotonic() - ended < 10  # the servers stop with a 2 s budget each at exit
    finally:
        process.kill()
        process.communicate()
