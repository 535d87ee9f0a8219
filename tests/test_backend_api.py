"""The backend's job API against cross-site requests (finding L11): a foreign page made a
visitor's browser start jobs with a ``text/plain`` POST, each one a consent request with the
attacker's text.  Now a start must be ``application/json`` (``415``), from the backend's own
origin when a browser says (``403 forbidden``), and unfinished jobs are capped (``429``);
the seed's API shape keeps working.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from aauth_kit.lab import Lab

EVIL = "https://evil.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(dev=True, data_dir=tmp_path) as lab:
        yield lab


def test_l11_a_start_that_is_not_json_is_415(lab):
    """``text/plain`` and form bodies (what a foreign page can send without a preflight) are
    refused before a job exists; no consent request reaches the PS."""
    start = f"{lab.identifiers['backend']}/optimization/start"
    with lab.hosts.client() as client:
        for content_type, body in (
            ("text/plain", b'{"custom_prompt": "approve me"}'),
            ("application/x-www-form-urlencoded", b"custom_prompt=approve+me"),
            ("multipart/form-data; boundary=x", b"--x--"),
            (None, b""),
        ):
            headers = {"Content-Type": content_type} if content_type else {}
            answer = client.post(start, content=body, headers=headers)
            assert answer.status_code == 415, content_type
            assert answer.json()["error"] == "invalid_request"
    assert lab.backend.jobs == {} and lab.ps.store.list_pending() == []


def test_l11_a_start_from_another_origin_is_403(lab):
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as client:
        for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            answer = client.post(f"{backend}/optimization/start", json={}, headers=headers)
            assert (answer.status_code, answer.json()["error"]) == (403, "forbidden"), headers
        own = client.post(f"{backend}/optimization/start", json={}, headers={"Origin": backend})
        assert own.status_code == 200 and own.json()["status"] == "started"
        seed = client.post(f"{backend}/optimization/start", json={"custom_prompt": "Optimize"})
        assert seed.status_code == 200  # the seed's clients send no Origin: still fine


def test_l11_a_rebound_host_name_is_not_the_backends_origin(lab):
    """DNS rebinding: a page at ``http://evil.test:PORT`` whose name now points at 127.0.0.1
    sends its own ``Host`` and ``Origin``.  The backend's origins come from its identifier and
    its listening socket, never from ``Host``: 403, no job.  Its real loopback origins pass."""
    backend = lab.identifiers["backend"]
    port = int(lab.hosts.url_of(backend).rsplit(":", 1)[1])
    with lab.hosts.client() as client:
        rebound = {"Host": f"evil.test:{port}", "Origin": f"http://evil.test:{port}"}
        answer = client.post(f"{backend}/optimization/start", json={}, headers=rebound)
        assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            own = client.post(f"{backend}/optimization/start", json={}, headers={"Origin": origin})
            assert own.status_code == 200, origin


def test_l11_cross_site_form_post_in_chromium_starts_nothing(browser_page, lab):
    """A hostile page on another loopback port submits a ``text/plain`` form (the classic way
    to post JSON-looking text cross-site) to the backend: 403 (its Origin), no job."""
    start = f"{lab.identifiers['backend']}/optimization/start"
    page = (
        f'<form id="f" method="post" enctype="text/plain" action="{start}">'
        '<input name=\'{"custom_prompt": "approve me", "x": "\' value=\'"}\'>'
        '<button id="go">go</button></form>'
    )
    lab.hosts.add(EVIL, Starlette(routes=[Route("/", lambda request: HTMLResponse(page))]))
    browser_page.goto(lab.hosts.url_of(EVIL) + "/")
    with browser_page.expect_response(start) as answered:
        browser_page.click("#go")
    assert (answered.value.status, answered.value.json()["error"]) == (403, "forbidden")
    assert lab.backend.jobs == {}


def test_l11_unfinished_jobs_are_capped(lab):
    """Anonymous starts cannot pile up consent requests: past ``max_live_jobs`` unfinished
    jobs the start is ``429 rate_limited`` with ``Retry-After``."""
    lab.backend.max_live_jobs = 2
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as client:
        for _ in range(2):
            assert client.post(f"{backend}/optimization/start", json={}).status_code == 200
        refused = client.post(f"{backend}/optimization/start", json={})
        assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
        assert int(refused.headers["retry-after"]) > 0
    assert len(lab.backend.jobs) == 2
