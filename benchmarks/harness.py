"""Timing helpers shared by the benchmarks: settings per pass, best-of-rounds rates,
percentiles, the machine description and peak memory."""

from __future__ import annotations

import gc
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """How much work each benchmark does in one pass."""

    name: str
    sign_verify_batch: int  # operations per timed batch
    token_batch: int
    rounds: int  # interleaved rounds; each contender's best round counts
    consent_runs: int  # consent-to-token samples (Prefer: wait)
    polling_runs: int  # consent-to-token samples of the 3 s poller (~1.5 s each)
    flow_runs: int  # whole flows per mode
    load_requests: int  # requests per load-generator run (each route)
    load_connections: int
    agents: int  # concurrent agents through the consent flow
    notebooks: bool


FULL = Settings("full", 2000, 1000, 7, 100, 12, 200, 6000, 8, 200, True)
QUICK = Settings("quick", 600, 300, 5, 30, 6, 40, 2500, 8, 200, False)
#: For the test suite: every code path, a few iterations each.
TINY = Settings("tiny", 20, 20, 2, 3, 1, 3, 60, 2, 5, False)
PASSES = {s.name: s for s in (FULL, QUICK, TINY)}


def settings_from_env(environ=os.environ) -> Settings:
    """``BENCH_QUICK=1`` selects the quick pass, ``BENCH_PASS=tiny|quick|full`` any pass."""
    if environ.get("BENCH_PASS"):
        return PASSES[environ["BENCH_PASS"]]
    return QUICK if environ.get("BENCH_QUICK") == "1" else FULL


def best_rates(contenders: dict[str, Callable[[int], None]], batch: int, rounds: int) -> dict[str, float]:
    """Operations per second of each contender: ``fn(batch)`` timed ``rounds`` times,
    the contenders interleaved round by round so load from elsewhere hits all of them
    alike; each contender's fastest round counts (the least disturbed one)."""
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, run in contenders.items():
            gc.collect()
            start = time.perf_counter()
            run(batch)
            elapsed = time.perf_counter() - start
            best[name] = max(best[name], batch / elapsed)
    return best


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated linearly between closest ranks."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the figures were measured on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "system": f"{platform.system()} {platform.release()}",
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (``getrusage``; KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
