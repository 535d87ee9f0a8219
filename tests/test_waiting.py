"""Waiting for a background flow to reach a point (aauth_kit.waiting): the held poll of
-11 "Deferred Responses" is found, and every wait is bounded (a notebook cell never hangs)."""

from __future__ import annotations

import concurrent.futures

import pytest

from aauth_kit.errors import UsageError
from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.waiting import StuckError, held_poll, wait_until

SCA = "https://supply-chain.example"


def test_wait_until_returns_the_first_truthy_value():
    values = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(values)) == "ready"


def test_wait_until_is_bounded():
    with pytest.raises(StuckError, match="the sky falling did not happen"):
        wait_until(lambda: False, timeout=0.05, what="the sky falling")
    with pytest.raises(UsageError):
        wait_until(lambda: True, timeout=0)


def test_a_flow_that_fails_first_raises_its_own_error():
    failed = concurrent.futures.Future()
    failed.set_exception(FlowError("denied", "no"))
    with pytest.raises(FlowError) as info:
        wait_until(lambda: False, flow=failed)
    assert info.value.code == "denied"
    finished = concurrent.futures.Future()
    finished.set_result("done")
    with pytest.raises(StuckError, match="ended before"):
        wait_until(lambda: False, flow=finished, what="the code")


@pytest.mark.parametrize("mode", ["socket", "asgi"])
def test_held_poll_finds_the_agents_poll_waiting_at_the_ps(tmp_path, mode):
    # -11 "Deferred Responses": after the 202 the agent polls with Prefer: wait; the PS holds it
    with Lab(mode=mode, docs=True, data_dir=tmp_path) as lab:
        agent = lab.new_agent("notebook")

        async def flow():
            async with lab.async_client(agent) as client:
                return await client.post(f"{SCA}/optimize", json={})

        future = get_loop_thread().submit(flow())
        interaction = wait_until(lambda: agent.last_interaction, flow=future, what="the interaction")
        pending = held_poll(lab.ps, interaction.code, flow=future)
        assert lab.ps.waiters.held(pending.id) == 1
        assert pending.status == "pending" and pending.scope == "supply-chain:optimize"
        lab.ps.decide(interaction.code, True)
        assert future.result(60).status_code == 200


def test_held_poll_gives_up_when_no_request_has_the_code(tmp_path):
    with (
        Lab(mode="asgi", docs=True, data_dir=tmp_path) as lab,
        pytest.raises(StuckError, match="code ABCD-EFGH"),
    ):
        held_poll(lab.ps, "ABCD-EFGH", timeout=0.05)
