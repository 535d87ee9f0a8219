"""Run every benchmark, print the table, write ``bench-results.json``.

``python -m benchmarks`` runs the full pass; ``BENCH_QUICK=1`` (or ``--pass quick``) the
reduced one; ``--pass tiny`` a few iterations of everything (what the test suite runs).
A benchmark that fails leaves its keys ``null`` and says why under ``notes``; the
others still run.  ``--table FILE`` prints the table of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from . import concurrency, consent, flow, notebooks, resource_overhead, sign_verify, token_mint
from .harness import PASSES, Settings, machine, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench-results.json"

#: The benchmarks in the order they run, each with the keys it must report.
BENCHMARKS = (
    (sign_verify, ("sign_verify_ops_per_s", "sign_verify_ratio_to_raw", "sign_verify_ratio_to_best_peer")),
    (token_mint, ("token_ratio_to_pyjwt",)),
    (
        consent,
        ("consent_to_token_p50_ms", "consent_to_token_p99_ms", "consent_to_token_speedup_vs_3s_polling"),
    ),
    (flow, ("flow_socket_p50_ms", "flow_asgi_p50_ms")),
    (resource_overhead, ("resource_overhead_ratio",)),
    (concurrency, ("concurrent_agents_completed", "concurrent_agents_lost", "concurrent_peak_rss_mb")),
    (notebooks, ("notebooks_total_s",)),
)
REQUIRED_KEYS = tuple(key for _, keys in BENCHMARKS for key in keys)

#: The targets: key → (comparison, bound); the agent count is the pass's own.
TARGETS = {
    "sign_verify_ratio_to_raw": (">=", 0.75),
    "sign_verify_ratio_to_best_peer": (">=", 1.5),
    "consent_to_token_p50_ms": ("<=", 20),
    "consent_to_token_speedup_vs_3s_polling": (">=", 100),
    "resource_overhead_ratio": (">=", 0.7),
    "concurrent_agents_completed": (">=", "agents"),
    "concurrent_agents_lost": ("<=", 0),
}

#: The table: (label, key, format).
ROWS = (
    ("Sign + verify, kit (ops/s)", "sign_verify_ops_per_s", "{:,.0f}"),
    ("Sign + verify, raw Ed25519 (ops/s)", "sign_verify_raw_ops_per_s", "{:,.0f}"),
    ("Sign + verify, aauth-signing (ops/s)", "sign_verify_aauth_signing_ops_per_s", "{:,.0f}"),
    (
        "Sign + verify, http-message-signatures (ops/s)",
        "sign_verify_http_message_signatures_ops_per_s",
        "{:,.0f}",
    ),
    ("Sign + verify, kit / raw", "sign_verify_ratio_to_raw", "{:.2f}"),
    ("Sign + verify, kit / faster peer", "sign_verify_ratio_to_best_peer", "{:.2f}"),
    ("aa-auth+jwt mint + verify, kit / pyjwt", "token_ratio_to_pyjwt", "{:.2f}"),
    ("Consent → token, Prefer: wait, p50 (ms)", "consent_to_token_p50_ms", "{:.1f}"),
    ("Consent → token, Prefer: wait, p99 (ms)", "consent_to_token_p99_ms", "{:.1f}"),
    ("Consent → token, 3 s polling, mean (ms)", "consent_to_token_3s_polling_mean_ms", "{:,.0f}"),
    ("Consent → token, speed-up over 3 s polling", "consent_to_token_speedup_vs_3s_polling", "{:,.0f}×"),
    ("Whole flow (policy), socket, p50 (ms)", "flow_socket_p50_ms", "{:.1f}"),
    ("Whole flow (policy), socket, p99 (ms)", "flow_socket_p99_ms", "{:.1f}"),
    ("Whole flow (policy), ASGI, p50 (ms)", "flow_asgi_p50_ms", "{:.1f}"),
    ("Whole flow (policy), ASGI, p99 (ms)", "flow_asgi_p99_ms", "{:.1f}"),
    ("Resource, AAuth-protected (req/s)", "resource_protected_rps", "{:,.0f}"),
    ("Resource, unprotected (req/s)", "resource_unprotected_rps", "{:,.0f}"),
    ("Resource, protected / unprotected", "resource_overhead_ratio", "{:.2f}"),
    ("Concurrent agents, completed", "concurrent_agents_completed", "{:d}"),
    ("Concurrent agents, lost", "concurrent_agents_lost", "{:d}"),
    ("Concurrent agents, peak RSS (MB)", "concurrent_peak_rss_mb", "{:.0f}"),
    ("Concurrent agents, wall time (s)", "concurrent_wall_s", "{:.1f}"),
    ("Notebooks, all executed (s)", "notebooks_total_s", "{:.1f}"),
)


def run(settings: Settings, *, log=None) -> dict:
    """Run the pass and return the results document."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    started = time.perf_counter()
    results: dict = {
        "pass": settings.name,
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    notes: dict = {}
    seconds: dict = {}
    for module, keys in BENCHMARKS:
        name = module.__name__.rsplit(".", 1)[1]
        log(f"… {name}")
        begun = time.perf_counter()
        try:
            figures = module.run(settings)
        except Exception as error:  # keep going: one broken benchmark must not hide the others
            traceback.print_exc()
            figures = dict.fromkeys(keys)
            notes[name] = f"failed: {type(error).__name__}: {error}"
        notes.update(figures.pop("notes", {}))
        results.update(figures)
        seconds[name] = round(time.perf_counter() - begun, 1)
    for key in REQUIRED_KEYS:
        results.setdefault(key, None)
    results["targets"] = {
        key: target_report(results[key], comparison, settings.agents if bound == "agents" else bound)
        for key, (comparison, bound) in TARGETS.items()
    }
    results["notes"] = notes
    results["seconds_per_benchmark"] = seconds
    results["duration_s"] = round(time.perf_counter() - started, 1)
    return results


def target_report(value, comparison: str, bound) -> dict:
    met = None if value is None else bool(value >= bound if comparison == ">=" else value <= bound)
    return {"target": f"{comparison} {bound}", "met": met}


def table(results: dict) -> str:
    """The figures as a Markdown table (it reads the same in a terminal)."""
    lines = ["| Figure | Value | Target |", "| --- | ---: | --- |"]
    for label, key, form in ROWS:
        value = results.get(key)
        shown = "—" if value is None else form.format(value)
        target = results.get("targets", {}).get(key)
        verdict = (
            ""
            if target is None
            else f"{target['target']} " + {True: "✓", False: "✗ missed", None: ""}[target["met"]]
        )
        lines.append(f"| {label} | {shown} | {verdict.strip()} |")
    box = results.get("machine", {})
    lines.append("")
    lines.append(
        f"{results.get('pass', '?')} pass, {results.get('date', '?')}: {box.get('cpu', '?')}, "
        f"{box.get('cores', '?')} cores, Python {box.get('python', '?')}, {results.get('duration_s', '?')} s"
    )
    for key, note in results.get("notes", {}).items():
        lines.append(f"* {key}: {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pass", dest="pass_name", choices=sorted(PASSES), help="default: full, or quick with BENCH_QUICK=1"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help="where the JSON goes (default: bench-results.json)"
    )
    parser.add_argument(
        "--table", type=Path, metavar="FILE", help="print the table of an earlier run and stop"
    )
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return 0
    settings = PASSES[args.pass_name] if args.pass_name else settings_from_env()
    results = run(settings)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {args.output}")
    return 0
