"""Benchmark 5: what AAuth verification costs a resource.

Requests per second on the supply-chain agent's ``POST /check`` (an auth-token route,
scope ``supply-chain:check``) with every request verified — the seven steps, the auth
token against the PS's JWKS (already discovered: keys cached), the revocation check —
against the very same endpoint served with ``access="open"`` on a twin app (same
Starlette, same uvicorn, same loop thread).  Both receive the same signed requests,
generated in advance and replayed by a second process (:mod:`benchmarks.load`) over
kept-alive loopback connections, so the client costs almost nothing.  Every request is
signed separately (its own body and signature).  Runs alternate open / protected and
each route's best run counts.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.resource import Resource
from aauth_kit.signature_key import jwt_key
from aauth_kit.uvicorn_server import start_server

from .harness import Settings

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD_S = 600


def auth_token(lab: Lab, agent) -> str:
    """Run the flow once (policy-granted) and return the agent's auth token for the SCA."""
    with lab.hosts.client(auth=agent.auth(), timeout=60) as client:
        response = client.post(f"{lab.identifiers['supply_chain']}/check", json={})
    if response.status_code != 200:
        raise RuntimeError(f"could not get an auth token: {response.status_code} {response.text[:200]}")
    return agent.auth_token_for(lab.identifiers["supply_chain"])


def signed_requests(lab: Lab, agent, token: str, count: int) -> list[str]:
    """``count`` signed ``POST /check`` requests as raw HTTP/1.1, base64 for the load process."""
    identifier = lab.identifiers["supply_chain"]
    host = identifier.split("://", 1)[1]
    presented = jwt_key(token)
    out = []
    for index in range(count):
        body = json.dumps({"request": index}).encode()
        message = HttpMessage(
            "POST", f"{identifier}/check", [("Host", host), ("Content-Type", "application/json")], body
        )
        sign_request(message, agent.key, presented)
        lines = ["POST /check HTTP/1.1", "X-Forwarded-Proto: https", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in message.headers]
        out.append(base64.b64encode(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body).decode())
    return out


def load(port: int, requests: list[str], connections: int) -> dict:
    """Replay ``requests`` against ``port`` from a second process; returns its report."""
    spec = json.dumps({"port": port, "connections": connections, "requests": requests})
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load"],
        input=spec,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG_GUARD_S,
        check=True,
    )
    return json.loads(done.stdout)


def open_twin(lab: Lab):
    """The SCA's ``POST /check`` endpoint again, ``access="open"``, on its own loopback server."""
    sca = lab.supply_chain
    twin = Resource(sca.identifier, key=lab.keys["supply_chain"], resolver=lab.resolver, clock=lab.clock)
    app = twin.app([twin.route("/check", sca.post_check, methods=("POST",), access="open")])
    return start_server(app, "bench-open-check")


def run(settings: Settings) -> dict:
    best = {"protected": 0.0, "open": 0.0}
    failures = []
    with (
        tempfile.TemporaryDirectory(prefix="aauth-bench-") as data_dir,
        Lab(mode="socket", data_dir=data_dir, consent_scopes=[], consent_prefixes=[]) as lab,
    ):
        agent = lab.new_agent("load")
        token = auth_token(lab, agent)
        twin = open_twin(lab)
        try:
            ports = {"protected": lab.hosts._servers[lab.identifiers["supply_chain"]].port, "open": twin.port}
            for _ in range(max(2, settings.rounds // 2)):
                for route in ("open", "protected"):
                    requests = signed_requests(lab, agent, token, settings.load_requests)
                    report = load(ports[route], requests, settings.load_connections)
                    if report["statuses"] != {"200": len(requests)}:
                        failures.append(f"{route}: {report['statuses']}")
                    best[route] = max(best[route], report["requests"] / report["seconds"])
        finally:
            twin.stop()
    if failures:
        raise RuntimeError(f"not every request was answered 200: {failures}")
    return {
        "resource_protected_rps": best["protected"],
        "resource_unprotected_rps": best["open"],
        "resource_overhead_ratio": best["protected"] / best["open"],
    }
