"""``aauth-kit probe``'s resource-side checks over loopback sockets: the kit's own resources
pass them (or are skipped with a reason, never a false FAIL), and a deliberately broken
resource fails each one (-11 "Resource Metadata", "AAuth-Requirement Header Structure",
"Requirement Values", "Resource Token Structure", "Resource Challenge Verification",
"Authorization Endpoint Request", "Authorization Endpoint Error Responses", "AAuth-Access
Response Header", "Resource-Managed Authorization", "Auth Token Verification").
"""

from __future__ import annotations

import json
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import probe, tokens
from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from aauth_kit.jwks import jwks
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key, jwk_thumbprint
from aauth_kit.lab import Lab
from aauth_kit.probe import FAIL, PASS, SKIP, with_checks
from aauth_kit.probe.agent_provider import loopback_port
from aauth_kit.runtime import Hosts

RESOURCE = {check.id for check in probe.RESOURCE_CHECKS}
SESSION = {"session-honoured", "session-other-key", "session-uncovered", "session-unsigned"}
BODIES = {
    "https://market-analysis.example/analyze": b'{"query":"laptops"}',
    "https://supplier.example/orders": b'{"part":"cpu","units":1}',
}


def outcomes(report) -> dict[str, str]:
    return {result.check.id: result.outcome for result in report.results}


def why(report, check_id: str) -> str:
    return next(result.why for result in report.results if result.check.id == check_id)


# -- the kit's own resources ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    with Lab() as lab:
        lab.probe_ap = probe.AgentProvider(lab.hosts, "https://probe-ap.example")
        lab.probe_as = probe.ProbeAccessServer(lab.hosts, "https://probe-as.example")
        yield lab
        lab.probe_ap.close()


def approve_at_the_resource(lab):
    """What a person does at the resource's interaction page: open the link, sign in there as the
    lab's person (the code alone decides nothing), press Approve."""
    browser = lab.hosts.client()

    def fields(page) -> dict:
        assert page.status_code == 200, page.text
        return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))

    def person(url: str, code: str) -> None:
        page = browser.get(f"{url}?code={code}")
        if 'name="password"' in page.text:
            signing_in = fields(page) | {"username": "mcp-user", "password": "user123"}
            browser.post(url.replace("/interaction", "/sign-in"), data=signing_in, follow_redirects=False)
            page = browser.get(f"{url}?code={code}")
        browser.post(url, data=fields(page) | {"decision": "approve"}, follow_redirects=False)

    return person


def probe_lab(lab, url: str, **options):
    options.setdefault("access_server", lab.probe_as)
    options.setdefault("checks", probe.RESOURCE_CHECKS)
    with lab.hosts.client() as client:
        return probe.probe(url, client=client, agent_provider=lab.probe_ap, **options)


@pytest.mark.parametrize(
    "method, url, skipped",
    [
        ("GET", "https://supply-chain.example/inventory", {"resource-token"} | SESSION),
        ("GET", "https://supply-chain.example/check", {"resource-token"} | SESSION),
        ("POST", "https://market-analysis.example/analyze", SESSION),
        ("GET", "https://catalog.example/parts", SESSION),
        ("POST", "https://supplier.example/orders", SESSION),
        ("GET", "https://supplier.example/account", SESSION),
    ],
)
def test_the_kit_resources_pass_the_resource_checks(lab, method, url, skipped):
    """Every check the probe can do against the resource passes; the others are skipped with
    the reason (no auth token asked for at that URL, no session token issued there).  The
    supplier's orders answer with a 202 (-11 "Deferred Delivery") and its account's resource
    token carries ``interaction`` (-11 "Resource-Initiated Interaction")."""
    report = probe_lab(lab, url, method=method, body=BODIES.get(url, b""))
    assert outcomes(report) == {c: SKIP if c in skipped else PASS for c in RESOURCE}, report.table()
    assert report.exit_code == 0
    got = {r.check.id: r.answer.describe() for r in report.results if r.answer}
    assert got["authorize-unknown-scope"] == "400 invalid_scope"
    assert got["untrusted-access-server"] == "401 invalid_jwt"


def test_resource_token_of_the_catalog_names_its_access_server(lab):
    """Four-party (-11 "Resource Token Structure"): the catalog's resource token is for its AS,
    which the probe finds by the AS's own metadata; the person token took it past person-token."""
    report = probe_lab(lab, "https://catalog.example/parts", checks=with_checks("resource-token"))
    assert outcomes(report) == {"resource-token": PASS}, report.table()
    assert "requirement=auth-token" in report.results[0].answer.requirement


def test_session_checks_against_the_supplier(lab):
    """The supplier asks the person on its own page, then honours its AAuth-Access token only when
    the signature covers it and comes from the key it was issued to (-11 "AAuth-Access Response
    Header", "Resource-Managed Authorization")."""
    report = probe_lab(lab, "https://supplier.example/quotes", person=approve_at_the_resource(lab))
    assert outcomes(report) == {c: SKIP if c == "resource-token" else PASS for c in RESOURCE}, report.table()
    got = {r.check.id: r.answer.describe() for r in report.results if r.answer}
    assert got["session-honoured"] == "200"
    assert got["session-other-key"].startswith("202 requirement=interaction")
    assert got["session-unsigned"] == "401 requirement=agent-token"


def test_without_a_person_the_session_checks_are_skipped(lab):
    report = probe_lab(lab, "https://supplier.example/quotes", checks=with_checks(*SESSION))
    assert set(outcomes(report).values()) == {SKIP}
    assert "needs a person to approve" in why(report, "session-honoured")


def test_without_agent_provider_or_access_server(lab):
    """What needs no trust still runs; the rest is SKIP with its reason, never FAIL."""
    with lab.hosts.client() as client:
        report = probe.probe("https://catalog.example/parts", client=client, checks=probe.RESOURCE_CHECKS)
    results = outcomes(report)
    assert {results[c] for c in ("metadata", "metadata-authorization-endpoint", "requirement-header")} == {
        PASS
    }
    assert {
        results[c] for c in RESOURCE - {"metadata", "metadata-authorization-endpoint", "requirement-header"}
    } == {SKIP}
    assert "Access Server" in why(report, "untrusted-access-server")


# -- a deliberately broken resource -----------------------------------------------------------------
def _presented(request: Request) -> tuple[str | None, dict]:
    """``(typ, claims)`` of the JWT in ``Signature-Key``, unverified: this resource checks nothing."""
    match = re.search(r'jwt="([^"]+)"', request.headers.get("signature-key", ""))
    if match is None:
        return None, {}
    decoded = decode_unverified(match.group(1))
    return decoded.header.get("typ"), decoded.payload


def _requirement(status: int, value: str, **headers) -> Response:
    return Response(status_code=status, headers={"aauth-requirement": value, **headers})


#: Resource tokens wrong in one way: bound to another key, or asking the person to an http page.
RESOURCE_TOKEN_DEFECTS = {
    "wrong-agent-jkt": None,
    "http-interaction": {"interaction": {"url": "http://elsewhere.example/interaction", "code": "ABCD-EFGH"}},
}


def broken_app(identifier: str, key: Key, state: dict) -> Starlette:
    """A resource that checks nothing, with the defect ``state["defect"]`` names:
    ``foreign-authorize`` publishes an authorization endpoint elsewhere; ``string-requirement``
    sends ``requirement`` as a String; ``interaction-401`` puts an interaction requirement on a
    401; ``wrong-agent-jkt`` binds its resource token to another key, ``http-interaction``
    sends the person to an http page; ``authorize-anyone`` grants at its authorization
    endpoint whatever it is asked; ``bearer-session`` honours its session token from anyone;
    ``any-issuer`` takes any auth token; ``crash`` answers every signed request 500."""

    def metadata_endpoint(request: Request) -> JSONResponse:
        elsewhere = state["defect"] == "foreign-authorize"
        endpoint = "https://elsewhere.example/authorize" if elsewhere else f"{identifier}/authorize"
        return JSONResponse(
            {"issuer": identifier, "jwks_uri": f"{identifier}/jwks", "authorization_endpoint": endpoint}
        )

    def authorize(request: Request) -> Response:
        if state["defect"] == "authorize-anyone":
            return JSONResponse({"resource_token": "granted"})
        if _presented(request)[0] == AGENT_TYP:
            return _requirement(401, "requirement=person-token")
        return JSONResponse({"error": "invalid_scope"}, status_code=400)

    def pending(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"aauth-access": "s3ss10n-t0ken"})

    def api(request: Request) -> Response:
        defect, (typ, claims) = state["defect"], _presented(request)
        if not claims:
            if defect == "bearer-session" and "authorization" in request.headers:
                return JSONResponse({"ok": True})
            value = (
                'requirement="agent-token"' if defect == "string-requirement" else "requirement=agent-token"
            )
            return _requirement(401, value)
        if defect == "crash":
            return JSONResponse({"error": "server_error"}, status_code=500)
        if defect == "bearer-session":
            if "authorization" in request.headers:
                return JSONResponse({"ok": True})
            url = f'url="{identifier}/interaction";code="ABCD-EFGH"'
            return _requirement(202, f"requirement=interaction;{url}", location="/pending/1")
        if defect == "interaction-401":
            return _requirement(401, f'requirement=interaction;url="{identifier}/i";code="ABCD-EFGH"')
        if defect in RESOURCE_TOKEN_DEFECTS and typ == PERSON_TYP:
            token = tokens.mint_resource_token(
                key,
                iss=identifier,
                aud=claims["iss"],
                ps=claims["iss"],
                sub=claims["sub"],
                presented_jti=claims["jti"],
                agent_jkt=Key.generate()
                if defect == "wrong-agent-jkt"
                else jwk_thumbprint(claims["cnf"]["jwk"]),
                scope="data.read",
                lifetime=300,
                extra=RESOURCE_TOKEN_DEFECTS[defect],
                dev=True,
            )
            return _requirement(401, f'requirement=auth-token;resource-token="{token}"')
        if defect in RESOURCE_TOKEN_DEFECTS:
            return _requirement(401, "requirement=person-token")
        if typ == AUTH_TYP and defect != "any-issuer":
            return JSONResponse(
                {"error": "invalid_jwt"}, status_code=401, headers={"signature-error": "error=invalid_jwt"}
            )
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/.well-known/aauth-resource.json", metadata_endpoint),
            Route("/jwks", lambda request: JSONResponse(jwks([key]))),
            Route("/authorize", authorize, methods=["POST"]),
            Route("/pending/1", pending),
            Route("/api", api),
        ]
    )


@pytest.fixture(scope="module")
def broken():
    """The broken resource, the probe's Agent Provider and Access Server, all on loopback."""
    with Hosts("socket", stop_timeout=2.0) as hosts:
        port = loopback_port()
        identifier = f"http://127.0.0.1:{port}"
        state = {"defect": None}
        hosts.add(identifier, broken_app(identifier, Key.generate(kid="broken"), state), port=port)
        agent_provider = probe.AgentProvider.on_loopback(hosts)
        access_server = probe.ProbeAccessServer.on_loopback(hosts)
        yield identifier, state, agent_provider, access_server
        agent_provider.close()


def probe_defect(broken, defect: str | None, checks):
    """Probe the broken resource with ``defect`` on; its "person" does nothing (it needs none)."""
    identifier, state, agent_provider, access_server = broken
    state["defect"] = defect
    return probe.probe(
        f"{identifier}/api",
        dev=True,
        agent_provider=agent_provider,
        access_server=access_server,
        person=lambda url, code: None,
        checks=checks,
    )


@pytest.mark.parametrize(
    "defect, check_id, because",
    [
        ("foreign-authorize", "metadata-authorization-endpoint", "not on the resource's origin"),
        ("string-requirement", "requirement-header", "must be a Token"),
        ("interaction-401", "requirement-header", "requirement=interaction comes with 202, not 401"),
        ("wrong-agent-jkt", "resource-token", "agent_jkt is not the thumbprint"),
        ("http-interaction", "resource-token", "http://elsewhere.example/interaction"),
        ("authorize-anyone", "authorize-without-person-token", "without asking for a person token"),
        ("authorize-anyone", "authorize-unknown-scope", "granted the unknown scope"),
        ("bearer-session", "session-other-key", "signed with a key other than"),
        ("bearer-session", "session-uncovered", "the signature does not cover"),
        ("bearer-session", "session-unsigned", "sent with no signature at all"),
        ("any-issuer", "untrusted-access-server", "an AS it never named"),
        ("crash", "resource-token", "a server error"),
        ("crash", "session-honoured", "a server error"),
    ],
)
def test_each_check_fails_against_its_defect(broken, defect, check_id, because):
    report = probe_defect(broken, defect, with_checks(check_id))
    assert outcomes(report) == {check_id: FAIL}, report.table()
    assert because in why(report, check_id)
    assert report.exit_code == 1


def test_the_broken_resource_without_defect_passes(broken):
    """Without a defect the broken resource passes the same checks, so each FAIL above is its defect."""
    report = probe_defect(broken, None, probe.RESOURCE_CHECKS)
    assert FAIL not in outcomes(report).values(), report.table()
    assert {outcomes(report)[c] for c in ("metadata", "requirement-header", "untrusted-access-server")} == {
        PASS
    }


def test_cli_json_names_the_resource_side_failure(broken, capsys):
    from aauth_kit.cli import main

    identifier, state, _, _ = broken
    state["defect"] = "foreign-authorize"
    assert (
        main(["probe", f"{identifier}/api", "--dev", "--check", "metadata-authorization-endpoint", "--json"])
        == 1
    )
    doc = json.loads(capsys.readouterr().out)
    (result,) = doc["results"]
    assert result["result"] == FAIL and result["section"].startswith('-11 "Resource Metadata"')


def test_cli_interactive_asks_the_person_and_runs_the_session_checks(tmp_path, monkeypatch, capsys):
    """``--interactive``: the probe says where the person must go (here a stand-in approves at
    once) and polls; with ``--agent-provider`` the session checks then run against the
    supplier of a Lab in dev mode."""
    from aauth_kit import cli

    ap_port = loopback_port()
    told = []
    with Lab(dev=True, data_dir=tmp_path, allow_origins=[f"http://127.0.0.1:{ap_port}"]) as lab:
        person = approve_at_the_resource(lab)
        monkeypatch.setattr(cli, "_ask_the_person", lambda url, code: (told.append(url), person(url, code)))
        argv = ["probe", f"{lab.identifiers['supplier']}/quotes", "--dev", "--agent-provider"]
        argv += ["--ap-port", str(ap_port), "--interactive", "--json"]
        for check_id in sorted(SESSION):
            argv += ["--check", check_id]
        assert cli.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["result"] for r in doc["results"]} == dict.fromkeys(SESSION, PASS)
    assert told == [f"{lab.identifiers['supplier']}/interaction"]


def test_cli_interactive_says_where_to_go(capsys):
    from aauth_kit.cli import _ask_the_person

    _ask_the_person("https://resource.example/interaction", "ABCD-EFGH")
    assert "open https://resource.example/interaction and enter ABCD-EFGH" in capsys.readouterr().err
