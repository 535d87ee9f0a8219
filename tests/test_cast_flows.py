"""The seed's story end to end through the Lab: backend job API → supply-chain agent →
PS consent → market analysis through the call chain (-11 "PS Authorization Access
(Three-Party)", "User Interaction", "Call Chaining").

These are the seed's four consent tests made strict, plus the flows around them.  The
person's consent arrives through the PS's REST API exactly as the seed's tests send it.
"""

from __future__ import annotations

import time

import pytest

from aauth_kit.lab import Lab

POLL_LIMIT = 60  # seconds: a hang guard only, never a latency assertion


def wait_for(client, url: str, statuses: set[str]) -> dict:
    deadline = time.monotonic() + POLL_LIMIT
    while time.monotonic() < deadline:
        progress = client.get(url).json()
        if progress["status"] in statuses:
            return progress
        time.sleep(0.05)
    raise AssertionError(f"{url} never reached {statuses}; last: {progress}")


@pytest.fixture(params=["socket", "asgi"])
def lab(request, tmp_path):
    with Lab(mode=request.param, data_dir=tmp_path, pending_ttl=600) as lab:
        yield lab


@pytest.fixture
def person(lab):
    """A client logged in at the PS as the seed's person."""
    client = lab.hosts.client()
    response = client.post(
        f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": "user123"}
    )
    assert response.status_code == 200
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    yield client
    client.close()


def start(lab, client, **body) -> str:
    response = client.post(f"{lab.identifiers['backend']}/optimization/start", json=body)
    assert response.status_code == 200
    assert response.json()["status"] == "started"
    return response.json()["request_id"]


def decide(lab, person, code: str, approved: bool) -> None:
    consent = person.get(f"{lab.identifiers['ps']}/consent", params={"code": code})
    assert consent.status_code == 200, consent.text
    context = consent.json()
    assert context["scope"] == "supply-chain:optimize"
    assert context["resource"] == lab.identifiers["supply_chain"]
    answer = person.post(
        f"{lab.identifiers['ps']}/consent/{context['pending_id']}/decision", json={"approved": approved}
    )
    assert answer.status_code == 200, answer.text


def test_user_consent_full_flow(lab, person):
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as ui:
        request_id = start(lab, ui)
        progress = wait_for(
            ui, f"{backend}/optimization/progress/{request_id}", {"interaction_required", "failed"}
        )
        assert progress["status"] == "interaction_required", progress
        # links a browser opens: the loopback sockets in socket mode, the identifiers in ASGI mode
        assert progress["interaction_url"].startswith(
            lab.browser_url(f"{lab.identifiers['ps']}/interaction?code=")
        )
        assert progress["callback_url"].startswith(lab.browser_url(f"{backend}/callback"))
        assert (lab.hosts.mode == "socket") == progress["callback_url"].startswith("http://127.0.0.1:")
        decide(lab, person, progress["interaction_code"], True)
        done = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"completed", "failed"})
        assert done["status"] == "completed", done
        results = ui.get(f"{backend}/optimization/results/{request_id}").json()
    assert results["summary"] and results["recommendations"]
    assert "market_analysis" not in results
    (authorization,) = results["authorizations"]
    claims = authorization["claims"]
    # -11 "Auth Token Structure": the auth token names the person (sub), is bound to the backend's key, for the SCA
    assert authorization["resource"] == lab.identifiers["supply_chain"]
    assert authorization["header"]["typ"] == "aa-auth+jwt"
    assert claims["sub"] and claims["aud"] == lab.identifiers["supply_chain"]
    assert claims["iss"] == claims["ps"] == lab.identifiers["ps"]
    assert claims["cnf"]["jwk"]["x"] == lab.keys["backend"].public_jwk()["x"]
    assert claims["scope"] == "supply-chain:optimize"
    assert all("." not in str(value) or key != "token" for key, value in authorization.items())


def test_user_consent_denial(lab, person):
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as ui:
        request_id = start(lab, ui)
        progress = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"interaction_required"})
        decide(lab, person, progress["interaction_code"], False)
        failed = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"completed", "failed"})
        assert failed["status"] == "failed" and failed["error"] == "denied"
        assert ui.get(f"{backend}/optimization/results/{request_id}").status_code == 409


def test_market_analysis_with_consent(lab, person):
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as ui:
        request_id = start(lab, ui, custom_prompt="Optimize laptop supply chain with market analysis")
        progress = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"interaction_required"})
        decide(lab, person, progress["interaction_code"], True)
        done = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"completed", "failed"})
        assert done["status"] == "completed", done
        results = ui.get(f"{backend}/optimization/results/{request_id}").json()
    assert results["market_analysis"]["summary"].startswith("Demand grows fastest")
    sca, maa = results["authorizations"]
    assert sca["resource"] == lab.identifiers["supply_chain"]
    assert maa["resource"] == lab.identifiers["market_analysis"]
    # -11 "Call Chaining": the downstream token is bound to the SCA's own key, for the same person's PS
    assert maa["claims"]["aud"] == lab.identifiers["market_analysis"]
    assert maa["claims"]["scope"] == "market-analysis:analyze"
    assert maa["claims"]["cnf"]["jwk"]["x"] == lab.keys["supply_chain_agent"].public_jwk()["x"]
    assert maa["claims"]["iss"] == lab.identifiers["ps"]
    # the person behind both is the same: the MAA saw the call on behalf of the SCA token's person
    assert results["market_analysis"]["on_behalf_of"]["iss"] == lab.identifiers["ps"]


def test_consent_timeout(tmp_path):
    with Lab(mode="asgi", data_dir=tmp_path, pending_ttl=1) as lab, lab.hosts.client() as ui:
        backend = lab.identifiers["backend"]
        request_id = start(lab, ui)
        progress = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"interaction_required"})
        assert progress["interaction_code"] and progress["interaction_url"]
        failed = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"completed", "failed"})
        assert failed["status"] == "failed" and failed["error"] == "expired"


def test_start_rejects_unknown_fields(lab):
    with lab.hosts.client() as ui:
        response = ui.post(f"{lab.identifiers['backend']}/optimization/start", json={"prompt": "x"})
    assert response.status_code == 422
    assert "custom_prompt" in response.json()["detail"] and "optimization_type" in response.json()["detail"]


def test_unknown_request_ids_are_404(lab):
    with lab.hosts.client() as ui:
        backend = lab.identifiers["backend"]
        assert ui.get(f"{backend}/optimization/progress/nope").status_code == 404
        assert ui.get(f"{backend}/optimization/results/nope").status_code == 404


def test_policy_granted_authorization_without_asking(tmp_path):
    # the PS grants by policy (-11 "PS Response"): nothing needs consent
    with (
        Lab(mode="asgi", data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab,
        lab.hosts.client() as ui,
    ):
        backend = lab.identifiers["backend"]
        request_id = start(lab, ui)
        done = wait_for(
            ui,
            f"{backend}/optimization/progress/{request_id}",
            {"completed", "failed", "interaction_required"},
        )
        assert done["status"] == "completed", done
        assert lab.ps.pending_codes() == []
