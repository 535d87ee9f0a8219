"""Benchmark 6: many agents through the consent flow at once, against one PS.

In a process of its own (so its peak memory is the lab's and the crowd's alone), a
socket-mode lab with the default consent policy starts; N agents, each bootstrapped at
the PS with its own key and client, all call ``POST /optimize`` on the supply-chain
agent at the same moment.  Each one gets a person token, is challenged for an auth
token, asks the PS and is deferred (``202``, interaction code, held poll).  The person
approves every code through the consent REST API as the codes come in (a few approvers
working in parallel), and the held polls return the auth tokens.  Completed = agents
whose call ended ``200``; lost = everyone else (an error, a wrong status, a hang
caught by the guard).  Peak memory is the process's peak resident set size.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aauth_kit.lab import Lab

from .harness import Settings, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
APPROVERS = 8
HANG_GUARD_S = 300
PROMPT = {"prompt": "Optimize the laptop supply chain"}


async def crowd(lab: Lab, count: int) -> dict:
    codes: asyncio.Queue = asyncio.Queue()
    agents = [
        lab.new_agent(f"crowd-{i}", on_interaction=lambda interaction: codes.put_nowait(interaction.code))
        for i in range(count)
    ]
    ps, sca = lab.identifiers["ps"], lab.identifiers["supply_chain"]

    async def one(agent) -> str:
        try:
            async with lab.hosts.async_client(auth=agent.auth(), timeout=HANG_GUARD_S) as client:
                response = await client.post(f"{sca}/optimize", json=PROMPT)
            return str(response.status_code)
        except Exception as error:  # counted as lost, by kind
            return type(error).__name__

    async def approver(session: str) -> int:
        approved = 0
        async with lab.hosts.async_client(
            timeout=60, headers={"Authorization": f"Bearer {session}"}
        ) as person:
            while (code := await codes.get()) is not None:
                context = (await person.get(f"{ps}/consent", params={"code": code})).json()
                answer = await person.post(
                    f"{ps}/consent/{context['pending_id']}/decision", json={"approved": True}
                )
                approved += answer.status_code == 200
        return approved

    async with lab.hosts.async_client(timeout=60) as client:
        session = (
            await client.post(f"{ps}/login", json={"username": "mcp-user", "password": "user123"})
        ).json()["session"]
    approvers = [asyncio.create_task(approver(session)) for _ in range(APPROVERS)]
    started = time.perf_counter()
    outcomes = await asyncio.wait_for(asyncio.gather(*(one(agent) for agent in agents)), HANG_GUARD_S)
    seconds = time.perf_counter() - started
    for _ in approvers:
        codes.put_nowait(None)
    approved = sum(await asyncio.gather(*approvers))
    return {"outcomes": dict(Counter(outcomes)), "approved": approved, "seconds": seconds}


def main(count: int) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # two sockets per agent and server
    with (
        tempfile.TemporaryDirectory(prefix="aauth-bench-") as data_dir,
        Lab(mode="socket", data_dir=data_dir) as lab,
    ):
        report = lab.hosts.loop_thread.run(crowd(lab, count), timeout=HANG_GUARD_S + 10)
    completed = report["outcomes"].get("200", 0)
    return {
        "agents": count,
        "completed": completed,
        "lost": count - completed,
        "approved": report["approved"],
        "outcomes": report["outcomes"],
        "seconds": report["seconds"],
        "peak_rss_mb": peak_rss_mb(),
    }


def run(settings: Settings) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.concurrency", str(settings.agents)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG_GUARD_S + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the concurrency run failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "concurrent_agents": report["agents"],
        "concurrent_agents_completed": report["completed"],
        "concurrent_agents_lost": report["lost"],
        "concurrent_peak_rss_mb": report["peak_rss_mb"],
        "concurrent_wall_s": report["seconds"],
        "notes": {} if report["lost"] == 0 else {"concurrent_agents": f"outcomes: {report['outcomes']}"},
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
