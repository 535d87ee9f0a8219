"""Benchmark 4: the whole flow without the person.

The policy grants every scope (``Lab(consent_scopes=[], consent_prefixes=[])``: the PS
grants by policy, -11 "PS Response"), so one flow is everything an agent does from a
cold start to the answer: ``POST /check`` on the supply-chain agent → ``401
requirement=person-token`` → PS discovery → person token → retry → ``401
requirement=auth-token`` with a resource token → auth token (granted at once) → retry
→ ``200``.  Each flow is a new agent (bootstrapped at the PS before the clock starts)
with a new client, so nothing is cached on the agent's side; the resource and the PS
keep their key caches, as servers do.  Socket mode sends real HTTP over loopback;
ASGI mode calls the apps in process.
"""

from __future__ import annotations

import tempfile
import time

from aauth_kit.lab import Lab

from .harness import Settings, percentile

HANG_GUARD_S = 60


def flow_times(lab: Lab, runs: int) -> list[float]:
    """Milliseconds per whole flow, ``runs`` times (after one warm-up flow)."""
    url = f"{lab.identifiers['supply_chain']}/check"
    samples = []
    for index in range(runs + 1):
        agent = lab.new_agent(f"flow-{index}")
        with lab.hosts.client(auth=agent.auth(), timeout=HANG_GUARD_S) as client:
            started = time.perf_counter()
            response = client.post(url, json={})
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"flow {index} ended with {response.status_code}: {response.text[:200]}")
        if index:  # the first flow warms discovery and connections up
            samples.append(elapsed * 1000)
    return samples


def run(settings: Settings) -> dict:
    results = {}
    for mode in ("socket", "asgi"):
        with (
            tempfile.TemporaryDirectory(prefix="aauth-bench-") as data_dir,
            Lab(mode=mode, data_dir=data_dir, consent_scopes=[], consent_prefixes=[]) as lab,
        ):
            samples = flow_times(lab, settings.flow_runs)
        results[f"flow_{mode}_p50_ms"] = percentile(samples, 50)
        results[f"flow_{mode}_p99_ms"] = percentile(samples, 99)
    return results
