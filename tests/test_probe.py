"""``aauth-kit probe``: the conformance probe against a conforming resource (the kit's
supply-chain agent in a Lab), against a deliberately broken one, and through the CLI.

Every expectation here is a rule of draft-hardt-oauth-aauth-protocol-11 "Verification
(Server)" or Signature Keys -09 "Signature-Error HTTP Response Header" (401 + ``Signature-Error`` for every signature
failure, never a 403, a 5xx or a hang).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import threading
import time

import http_sfv
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import probe
from aauth_kit.asgi import problem_response
from aauth_kit.cli import main
from aauth_kit.errors import SignatureError
from aauth_kit.jwks import HttpResolver
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.probe import FAIL, INFO, PASS, SKIP, Answer, judge, with_checks
from aauth_kit.resource import Resource
from aauth_kit.resource_challenge import Challenge
from aauth_kit.runtime import Hosts

HANG_GUARD = 3.0  # seconds per request in the hang test: a guard, never asserted on
ALL = {check.id for check in probe.CHECKS}
NEED_AP = {check.id for check in probe.CHECKS if check.needs_agent_provider}
SIGNATURE_FAILURES = {check.id for check in probe.CHECKS if check.expected.errors}


def outcomes(report) -> dict[str, str]:
    return {result.check.id: result.outcome for result in report.results}


def why(report, check_id: str) -> str:
    return next(result.why for result in report.results if result.check.id == check_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aauth_kit.cli", "probe", *args], capture_output=True, text=True, timeout=120
    )


# -- the kit's own resource: every check passes -------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def lab_ap(lab):
    """The probe's Agent Provider on the lab's network under an https identifier, which the
    lab's resources trust like any AP whose metadata they can fetch."""
    agent_provider = probe.AgentProvider(lab.hosts, "https://probe-ap.example")
    yield agent_provider
    agent_provider.close()


def test_the_kit_resource_passes_every_check(lab, lab_ap):
    """The supply-chain agent's agent-token route answers every check as -11 requires."""
    with lab.hosts.client() as client:
        report = probe.probe(
            "https://supply-chain.example/inventory",
            client=client,
            agent_provider=lab_ap,
            checks=probe.CHECKS,
        )
    assert outcomes(report) == {check_id: PASS for check_id in ALL}, report.table()
    assert report.exit_code == 0
    assert report.summary() == f"{len(ALL)} checks: {len(ALL)} PASS, 0 FAIL, 0 INFO, 0 SKIP"


def test_the_well_formed_request_may_meet_the_next_challenge(lab, lab_ap):
    """A person-token route answers a valid agent token with requirement=person-token: that
    is acceptance of the signature (-11 "Requirement Responses"), so PASS; a POST body is
    signed and tampered like any other."""
    with lab.hosts.client() as client:
        report = probe.probe(
            "https://supply-chain.example/check", client=client, agent_provider=lab_ap, checks=probe.CHECKS
        )
        post = probe.probe(
            "https://supply-chain.example/optimize",
            method="post",
            body=b'{"prompt":"x"}',
            client=client,
            agent_provider=lab_ap,
            checks=with_checks("well-formed", "body-tampered"),
        )
    assert set(outcomes(report).values()) == {PASS}, report.table()
    assert "requirement=person-token" in why(report, "well-formed")
    assert post.method == "POST" and outcomes(post) == {"well-formed": PASS, "body-tampered": PASS}
    assert "requirement=person-token" in why(post, "well-formed")  # the ladder starts again


def test_without_an_agent_provider(lab):
    """Steps 1-4 need no trust; the expired token stops at key discovery (a code the draft
    allows there: INFO) and the checks needing a trusted token are skipped."""
    with lab.hosts.client() as client:
        report = probe.probe("https://supply-chain.example/inventory", client=client, checks=probe.CHECKS)
    results = outcomes(report)
    assert {results[c] for c in NEED_AP} == {SKIP}
    assert results["jwt-expired"] == INFO and "allowed at this point" in why(report, "jwt-expired")
    assert {results[c] for c in ALL - NEED_AP - {"jwt-expired"}} == {PASS}
    assert report.exit_code == 0


def test_json_report_shape(lab, lab_ap):
    with lab.hosts.client() as client:
        report = probe.probe(
            "https://supply-chain.example/inventory",
            client=client,
            agent_provider=lab_ap,
            checks=with_checks("no-authority", "hwk-scheme"),
        )
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["exit_code"] == 0 and doc["summary"] == {"pass": 2, "fail": 0, "info": 0, "skip": 0}
    first = doc["results"][0]
    assert first["id"] == "no-authority" and first["section"].startswith('-11 "Verification (Server)" step 2')
    assert first["answer"]["status"] == 401 and "required_input" in first["answer"]["signature_error"]
    assert doc["results"][1]["answer"]["accept_signature_scheme"] == "jwt"


# -- a deliberately broken resource ----------------------------------------------------------------
def _future_created(request: Request) -> bool:
    match = re.search(r"created=(\d+)", request.headers.get("signature-input", ""))
    return match is not None and int(match.group(1)) > time.time() + 60


def broken_app(resource: Resource) -> Starlette:
    """The kit's resource with one defect per path: ``/crash`` lets a strict parse of
    ``Signature-Input`` escape (500), ``/forbidden`` answers signature failures 403,
    ``/forgetful`` answers them 401 without ``Signature-Error``, ``/hang`` never answers
    a request whose ``created`` lies in the future; ``/fine`` has no defect."""

    async def endpoint(request: Request):
        defect = request.path_params["defect"]
        if defect == "crash" and "signature-input" in request.headers:
            http_sfv.Dictionary().parse(request.headers["signature-input"].encode())
        if defect == "hang" and _future_created(request):
            await asyncio.sleep(3600)
        try:
            caller = await resource.verify(request)
        except Challenge as challenge:
            return challenge.response()
        except SignatureError as error:
            if defect == "forbidden":
                return JSONResponse({"error": "forbidden"}, status_code=403)
            if defect == "forgetful":
                return JSONResponse({"error": error.code}, status_code=401)
            return problem_response(error)
        return JSONResponse({"agent": caller.agent})

    return Starlette(routes=[Route("/{defect}", endpoint, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def broken():
    """The broken resource and the probe's Agent Provider on loopback, in dev mode, so the
    CLI in another process reaches both: ``(resource URL, agent provider, hosts)``."""
    with Hosts("socket", stop_timeout=2.0) as hosts:
        port = free_port()
        identifier = f"http://127.0.0.1:{port}"
        resource = Resource(
            identifier,
            key=Key.generate(kid="broken"),
            resolver=HttpResolver(hosts.fetch(), dev=True),
            dev=True,
        )
        hosts.add(identifier, broken_app(resource), port=port)
        agent_provider = probe.AgentProvider.on_loopback(hosts)
        yield identifier, agent_provider, hosts
        agent_provider.close()


def probe_broken(broken, defect: str, **options):
    url, agent_provider, _ = broken
    options.setdefault("checks", probe.CHECKS)
    return probe.probe(f"{url}/{defect}", dev=True, agent_provider=agent_provider, **options)


def test_the_broken_resource_without_defect_passes(broken):
    """The reference behaviour under the defects is conforming, so each defect below is
    the only thing the probe reports."""
    report = probe_broken(broken, "fine")
    assert set(outcomes(report).values()) == {PASS}, report.table()


def test_a_403_for_signature_failures_is_reported(broken):
    """Signature Keys -09 "Signature-Error HTTP Response Header" / -11: signature failures are 401; a 403 must never carry Signature-Error."""
    report = probe_broken(broken, "forbidden")
    results = outcomes(report)
    assert {results[c] for c in SIGNATURE_FAILURES} == {FAIL}
    assert {results[c] for c in ALL - SIGNATURE_FAILURES} == {PASS}
    assert "answered 403" in why(report, "created-too-old") and "AAuth pins 401" in why(
        report, "created-too-old"
    )
    assert report.exit_code == 1


def test_a_401_without_signature_error_is_reported(broken):
    """Signature Keys -09 "Signature-Error HTTP Response Header": the Signature-Error header is what tells the client which check failed."""
    report = probe_broken(broken, "forgetful")
    results = outcomes(report)
    assert {results[c] for c in SIGNATURE_FAILURES} == {FAIL}
    assert {results[c] for c in ALL - SIGNATURE_FAILURES} == {PASS}
    assert "without a Signature-Error header" in why(report, "jwt-garbage")
    assert report.exit_code == 1


def test_a_500_for_a_malformed_header_is_reported(broken):
    """-11 "Verification (Server)" step 1: a malformed Signature-Input is invalid_signature, never a 5xx."""
    report = probe_broken(broken, "crash")
    assert {c for c, outcome in outcomes(report).items() if outcome != PASS} == {
        "malformed-signature-input"
    }, report.table()
    assert "answered 500, a server error" in why(report, "malformed-signature-input")
    assert report.exit_code == 1


def test_a_hang_is_reported(broken):
    """-11 "Verification (Server)" step 3: a created in the future is clock_skew at once;
    no answer within the per-request timeout is a FAIL (the timeout is a guard only)."""
    report = probe_broken(
        broken, "hang", timeout=HANG_GUARD, checks=with_checks("created-too-old", "created-in-future")
    )
    assert outcomes(report) == {"created-too-old": PASS, "created-in-future": FAIL}
    assert why(report, "created-in-future").startswith(
        f"no answer within {HANG_GUARD:g} s: the resource hangs"
    )
    assert report.exit_code == 1


class DroppingServer:
    """A raw HTTP/1.1 server on loopback that answers ``401`` + ``invalid_signature`` on
    kept-alive connections but drops the connection, unanswered, at the requests whose
    numbers are in ``drop`` (counted from 1 across connections)."""

    ANSWER = (
        b"HTTP/1.1 401 Unauthorized\r\nSignature-Error: error=invalid_signature\r\nContent-Length: 0\r\n\r\n"
    )

    def __init__(self, drop: set[int]):
        self.drop, self.count = drop, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/x"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(connection,), daemon=True).start()

    def handle(self, connection):
        with connection:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                data = data.split(b"\r\n\r\n", 1)[1]  # the probe's requests here carry no body
                self.count += 1
                if self.count in self.drop:
                    return
                connection.sendall(self.ANSWER)

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("drop, second", [({2}, PASS), ({2, 3}, FAIL)])
def test_a_connection_dropped_once_is_tried_again(drop, second):
    """A server closing a kept-alive connection instead of answering costs the check one
    retry on a new connection; dropped twice, it is a FAIL naming the broken connection."""
    server = DroppingServer(drop)
    try:
        report = probe.probe(
            server.url, dev=True, timeout=30, checks=with_checks("no-signature-input", "no-signature")
        )
    finally:
        server.close()
    assert outcomes(report) == {"no-signature-input": PASS, "no-signature": second}
    if second == FAIL:
        assert why(report, "no-signature").startswith("the connection broke without an answer")


# -- judging answers the resources above do not give ------------------------------------------------
CHECK = {check.id: check for check in probe.CHECKS}


@pytest.mark.parametrize(
    "check_id, answer, outcome, because",
    [
        # Signature Keys -09 "Signature-Error HTTP Response Header" defaults to 400; AAuth pins 401
        ("created-too-old", Answer(400, "error=invalid_signature"), FAIL, "AAuth pins 401"),
        ("created-too-old", Answer(401, "error=(invalid)"), FAIL, "not a valid structured Dictionary"),
        ("created-too-old", Answer(200), FAIL, "accepted a request"),
        # published -11: created ahead is clock_skew (invalid_signature before -11)
        ("created-in-future", Answer(401, "error=invalid_signature"), FAIL, "before -11"),
        (
            "no-signature-key",
            Answer(401, "error=invalid_request"),
            FAIL,
            "invalid_request was the code before -11",
        ),
        (
            "no-signature",
            Answer(401, None, "requirement=agent-token"),
            FAIL,
            "as if the request were unsigned",
        ),
        # Signature Keys -09 "Signature-Error HTTP Response Header": invalid_input carries required_input listing the missing component
        ("no-authority", Answer(401, "error=invalid_input"), FAIL, "must carry required_input"),
        (
            "no-authority",
            Answer(401, 'error=invalid_input, required_input=("@method")'),
            FAIL,
            "does not list @authority",
        ),
        # Signature Keys -09 "Sending on Errors and on Challenges": Accept-Signature-Scheme SHOULD accompany unsupported_scheme
        (
            "hwk-scheme",
            Answer(401, "error=unsupported_scheme"),
            INFO,
            "SHOULD come with Accept-Signature-Scheme",
        ),
        (
            "hwk-scheme",
            Answer(401, "error=unsupported_scheme", accept_signature_scheme="(jwt)"),
            FAIL,
            "List of Tokens",
        ),
        # step 5: key discovery may stop a verifier before exp
        ("jwt-expired", Answer(401, "error=issuer_missing"), INFO, "allowed at this point"),
        ("jwt-wrong-typ", Answer(401, "error=unknown_key"), FAIL, "typ before anything else"),
        ("wrong-key", Answer(401, "error=invalid_key"), PASS, ""),
        ("jwt-garbage", Answer(502), FAIL, "answered 502, a server error"),
        # -11 "Requirement Responses"
        ("unsigned", Answer(200), FAIL, "not protected by AAuth"),
        ("unsigned", Answer(401), FAIL, "no AAuth-Requirement"),
        ("unsigned", Answer(401, requirement="requirement=auth-token"), FAIL, "malformed"),
        (
            "unsigned",
            Answer(401, requirement="requirement=person-token"),
            INFO,
            "requirement=person-token first",
        ),
        ("unsigned", Answer(401, requirement="requirement=tea"), FAIL, "no value the draft defines"),
        (
            "well-formed",
            Answer(401, "error=invalid_jwt", detail="unknown issuer"),
            FAIL,
            "refused with invalid_jwt: unknown issuer",
        ),
        ("well-formed", Answer(202, requirement="requirement=approval"), PASS, "next challenge"),
        ("well-formed", Answer(403), INFO, "access was denied"),
    ],
)
def test_judging(check_id, answer, outcome, because):
    got, reason = judge(CHECK[check_id], answer)
    assert got == outcome and because in reason


# -- usage errors and the CLI end to end ---------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["http://resource.example/api"], "not an https URL with a host"),
        ([f"http://127.0.0.1:{free_port()}/api"], "add --dev"),
        (["https://resource.example/api#frag"], "no fragment"),
        (["https://resource.example/api", "--method", "GE T"], "not an HTTP method"),
        (["https://resource.example/api", "--body", "{nope"], "--body is not JSON"),
        (["https://resource.example/api", "--agent-provider"], "add --dev"),
        (["https://resource.example/api", "--check", "nope"], "no such check: nope"),
        (["https://resource.example/api", "--timeout", "0"], "--timeout must be a positive"),
        ([f"http://127.0.0.1:{free_port()}/api", "--dev"], "cannot reach"),  # nobody listens there
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(["probe", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_cli_against_a_lab_in_dev_mode(tmp_path):
    """The real console script, its own Agent Provider on loopback, a Lab in dev mode (whose
    resources accept http://127.0.0.1:PORT issuers): every signature check passes, exit 0; of the
    resource-side checks, those an agent-token route gives nothing to (no resource token, no
    session token) are skipped.  The probe's Agent Provider is outside the cast, so the Lab
    names its origin (egress admission)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        ap_port = sock.getsockname()[1]
    with Lab(dev=True, data_dir=tmp_path, allow_origins=[f"http://127.0.0.1:{ap_port}"]) as lab:
        done = cli(
            f"{lab.identifiers['supply_chain']}/inventory",
            "--dev",
            "--agent-provider",
            "--ap-port",
            str(ap_port),
        )
    assert done.returncode == 0, done.stdout + done.stderr
    total = len(probe.ALL_CHECKS)
    assert f"{total} checks: {total - 5} PASS, 0 FAIL, 0 INFO, 5 SKIP" in done.stdout, done.stdout
    assert all(re.search(rf"^PASS\s+{check_id}\s", done.stdout, re.M) for check_id in ALL)
    assert re.search(
        r"^PASS\s+created-in-future\s+step 3\s+401 clock_skew\s+401 clock_skew$", done.stdout, re.M
    )


def test_cli_reports_a_defect_as_json_with_exit_1(broken):
    url, _, _ = broken
    done = cli(f"{url}/forgetful", "--dev", "--agent-provider", "--json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exit_code"] == 1 and doc["summary"]["fail"] == len(SIGNATURE_FAILURES)
    failed = {r["id"]: r for r in doc["results"] if r["result"] == FAIL}
    assert set(failed) == SIGNATURE_FAILURES
    assert failed["no-authority"]["got"] == "401 (no Signature-Error)"
    assert "without a Signature-Error header" in failed["no-authority"]["why"]


def test_cli_table_names_the_failure_and_its_section(broken, capsys):
    url, _, _ = broken
    assert (
        main(
            ["probe", f"{url}/crash", "--dev", "--check", "malformed-signature-input", "--check", "unsigned"]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert re.search(r"^FAIL\s+malformed-signature-input\s+step 1\s+401 invalid_signature\s+500$", out, re.M)
    assert (
        '[-11 "Verification (Server)" step 1; Signature Keys -09 "Signature-Error HTTP Response Header"]'
        in out
    )
    assert out.rstrip().endswith("2 checks: 1 PASS, 1 FAIL, 0 INFO, 0 SKIP")
