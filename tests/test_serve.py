"""``aauth-kit serve`` and ``aauth-kit demo`` as real processes: the
seed's consent story with nothing but plain HTTP against the printed URLs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from aauth_kit.http_client import httpx

LIMIT = 60  # hang guard only


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "aauth_kit.cli", *args]


def start_serve(tmp_path, *extra: str):
    ps, backend, sca, maa = free_ports(4)
    process = subprocess.Popen(
        cli(
            "serve",
            "--ps-port",
            str(ps),
            "--backend-port",
            str(backend),
            "--sca-port",
            str(sca),
            "--maa-port",
            str(maa),
            "--data-dir",
            str(tmp_path),
            "--consent-scopes",
            "supply-chain:optimize",
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            break
    banner = "".join(lines)
    assert "Ctrl-C" in banner, banner + process.stderr.read()
    return process, banner, {"ps": f"http://127.0.0.1:{ps}", "backend": f"http://127.0.0.1:{backend}"}


@pytest.fixture
def served(tmp_path):
    process, banner, urls = start_serve(tmp_path)
    yield process, banner, urls
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serve_prints_the_cast_and_credentials(served):
    _, banner, urls = served
    assert urls["ps"] in banner and urls["backend"] in banner
    assert "mcp-user / user123" in banner
    assert "dev mode" in banner
    assert "supply-chain:optimize" in banner


def progress_until(http, urls, request_id, statuses) -> dict:
    deadline = time.monotonic() + LIMIT
    while (progress := http.get(f"{urls['backend']}/optimization/progress/{request_id}").json())[
        "status"
    ] not in statuses:
        assert time.monotonic() < deadline, progress
        time.sleep(0.05)
    return progress


def consent_story(urls, *, approve: bool | None, prompt: str = "") -> tuple[dict, dict | None]:
    """The seed's test loop with plain HTTP: start, wait for consent, decide (or not), finish."""
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.get(f"{urls['ps']}/.well-known/aauth-person.json").json()["issuer"] == urls["ps"]
        request_id = http.post(
            f"{urls['backend']}/optimization/start", json={"custom_prompt": prompt} if prompt else {}
        ).json()["request_id"]
        progress = progress_until(http, urls, request_id, ("interaction_required", "failed", "completed"))
        assert progress["status"] == "interaction_required", progress
        assert progress["interaction_url"].startswith(f"{urls['ps']}/interaction?code=")
        if approve is not None:
            session = http.post(
                f"{urls['ps']}/login", json={"username": "mcp-user", "password": "user123"}
            ).json()["session"]
            bearer = {"Authorization": f"Bearer {session}"}
            pending = http.get(
                f"{urls['ps']}/consent", params={"code": progress["interaction_code"]}, headers=bearer
            ).json()
            http.post(
                f"{urls['ps']}/consent/{pending['pending_id']}/decision",
                json={"approved": approve},
                headers=bearer,
            )
        progress = progress_until(http, urls, request_id, ("failed", "completed"))
        results = None
        if progress["status"] == "completed":
            results = http.get(f"{urls['backend']}/optimization/results/{request_id}").json()
        return progress, results


def test_seed_consent_story_over_plain_http(served):
    process, _, urls = served
    progress, results = consent_story(urls, approve=True)
    assert progress["status"] == "completed", progress
    (authorization,) = results["authorizations"]
    assert authorization["claims"]["iss"] == urls["ps"] and authorization["claims"]["sub"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=LIMIT) == 0
    assert "stopped" in process.stdout.read()


def test_denial_over_plain_http(served):
    progress, _ = consent_story(served[2], approve=False)
    assert (progress["status"], progress["error"]) == ("failed", "denied")


def test_market_analysis_over_plain_http(served):
    progress, results = consent_story(served[2], approve=True, prompt="Optimize with market analysis")
    assert progress["status"] == "completed", progress
    assert [a["claims"]["scope"] for a in results["authorizations"]] == [
        "supply-chain:optimize",
        "market-analysis:analyze",
    ]
    assert results["market_analysis"]["summary"]


def test_timeout_over_plain_http(tmp_path):
    process, _, urls = start_serve(tmp_path, "--pending-ttl", "1")
    try:
        progress, _ = consent_story(urls, approve=None)
        assert (progress["status"], progress["error"]) == ("failed", "expired")
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("decision, code", [("--approve", 0), ("--deny", 1)])
def test_demo_plays_the_story_in_the_terminal(decision, code, tmp_path):
    result = subprocess.run(
        cli("demo", decision, "--data-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=LIMIT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == code, result.stdout + result.stderr
    out = result.stdout
    assert "requirement=person-token" in out and "requirement=auth-token" in out
    assert "HTTP/1.1 202" in out and re.search(r"code \w{4}-\w{4}", out, re.IGNORECASE)
    if decision == "--approve":
        assert '"typ": "aa-auth+jwt"' in out and "Result (200)" in out
    else:
        assert "denied" in out
    assert "Traceback" not in out + result.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path):
    """A taken port is a usage problem, not a crash: one line naming the port, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            cli("serve", "--ps-port", str(port), "--data-dir", str(tmp_path)),
            capture_output=True, text=True, timeout=LIMIT,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"aauth-kit serve: cannot start: http://127.0.0.1:{port}: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    ]
    assert "Traceback" not in result.stderr + result.stdout
