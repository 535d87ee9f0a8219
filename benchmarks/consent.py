"""Benchmark 3: consent to token.

How long after the person decides does the agent hold its auth token?  The seed's
backend polled every 3 seconds; the kit's agent sends ``Prefer: wait`` and the PS holds
the poll on an event that the decision sets (-11 "Deferred Responses").

One sample, against the lab in socket mode (real loopback HTTP): a fresh agent calls
``POST /optimize`` on the supply-chain agent (the seed's consent scope), follows the
challenges to the PS and is told the interaction code; once its poll is held at the
PS, the person opens the code and approves through the consent REST API.  The clock
starts just before the approving request is sent and stops when the ``200`` carrying
the auth token reaches the agent's client (its response hook).

The seed's poller is run too: an agent that sends no ``Prefer: wait`` (``wait=0``) against
the same PS told to ask for a poll every 3 seconds (``Retry-After: 3``), the person
approving at a random moment of the 3 s after the agent was told the code (seeded, so
a decision lands anywhere between two polls, as it would for a real person).  Its clock
is the same: from the approving request to the ``200`` at the agent.  Each such sample
costs 1.5 s on average, so a pass runs fewer of them.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time

from aauth_kit.lab import Lab

from .harness import Settings, percentile

POLL_INTERVAL_S = 3  # the seed's backend polled every 3 s
PROMPT = {"prompt": "Optimize the laptop supply chain"}
HANG_GUARD_S = 60


def person_client(lab: Lab):
    """A client signed in at the PS as the seed's person (Bearer session)."""
    client = lab.hosts.client(timeout=HANG_GUARD_S)
    response = client.post(
        f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": "user123"}
    )
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    return client


def open_consent(lab: Lab, person, code: str) -> str:
    """The person opens the request by its code (the seed's consent API); returns its pending id."""
    context = person.get(f"{lab.identifiers['ps']}/consent", params={"code": code})
    context.raise_for_status()
    return context.json()["pending_id"]


def one_sample(lab: Lab, person, index: int, *, wait: int = 30, decide_after: float = 0.0) -> float:
    """Milliseconds from the approving request to the auth token at the agent.

    ``wait`` is the agent's ``Prefer: wait`` (0: none, it polls on ``Retry-After``).
    With ``wait`` the person decides once the poll is held at the PS; without, it
    decides ``decide_after`` seconds after the agent was told the code.
    """
    told = threading.Event()
    interaction = {}

    def on_interaction(details) -> None:
        interaction["value"] = details
        told.set()

    arrived = {}

    async def token_arrived(response) -> None:
        if response.request.url.path.startswith("/pending/") and response.status_code == 200:
            arrived.setdefault("at", time.perf_counter())

    agent = lab.new_agent(f"consent-{wait}-{index}", on_interaction=on_interaction, wait=wait)

    async def call():
        async with lab.hosts.async_client(
            auth=agent.auth(), timeout=HANG_GUARD_S, event_hooks={"response": [token_arrived]}
        ) as client:
            return await client.post(f"{lab.identifiers['supply_chain']}/optimize", json=PROMPT)

    future = lab.hosts.loop_thread.submit(call())
    if not told.wait(HANG_GUARD_S):
        raise RuntimeError(f"agent {index} was never asked for consent: {future}")
    told_at = time.monotonic()
    pending_id = interaction["value"].pending_url.rsplit("/", 1)[1]
    if wait:
        deadline = told_at + HANG_GUARD_S
        while lab.ps.waiters.held(pending_id) == 0:  # the poll is at the PS, waiting
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent {index} never held a poll")
            time.sleep(0.001)
    opened = open_consent(lab, person, interaction["value"].code)
    time.sleep(max(0.0, told_at + decide_after - time.monotonic()))
    started = time.perf_counter()
    answer = person.post(f"{lab.identifiers['ps']}/consent/{opened}/decision", json={"approved": True})
    answer.raise_for_status()
    response = future.result(HANG_GUARD_S)
    if response.status_code != 200 or "at" not in arrived:
        raise RuntimeError(f"agent {index} ended with {response.status_code}: {response.text[:200]}")
    return (arrived["at"] - started) * 1000


def run(settings: Settings) -> dict:
    moments = random.Random(3)  # when each polling sample's person decides: the same every pass
    with (
        tempfile.TemporaryDirectory(prefix="aauth-bench-") as data_dir,
        Lab(mode="socket", data_dir=data_dir) as lab,
    ):
        person = person_client(lab)
        try:
            one_sample(lab, person, -1)  # warm up: discovery, connections
            samples = [one_sample(lab, person, i) for i in range(settings.consent_runs)]
            lab.ps.poll_interval = POLL_INTERVAL_S
            polled = [
                one_sample(lab, person, i, wait=0, decide_after=moments.uniform(0, POLL_INTERVAL_S))
                for i in range(settings.polling_runs)
            ]
        finally:
            person.close()
    p50, polling_mean = percentile(samples, 50), sum(polled) / len(polled)
    return {
        "consent_to_token_p50_ms": p50,
        "consent_to_token_p99_ms": percentile(samples, 99),
        "consent_to_token_samples": len(samples),
        "consent_to_token_3s_polling_mean_ms": polling_mean,
        "consent_to_token_3s_polling_max_ms": max(polled),
        "consent_to_token_3s_polling_samples": len(polled),
        "consent_to_token_speedup_vs_3s_polling": polling_mean / p50,
    }
