"""What a browser and a web attacker meet at the cast: pages that cannot be framed
(RFC 9700 §4.16), a content security policy on every page, and forms a foreign page cannot
submit (CSRF, login CSRF included; OWASP ASVS level 2 V4.2.2).

The attacks run as the issue found them: a page on another loopback origin, in real
headless Chromium, frames the consent page or posts a form to the Person Server.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from aauth_kit.lab import Lab

from .ps_world import PS, World, error_of, form_fields, logged_in_browser, world_fixture
from .test_cast_flows import start, wait_for
from .test_every_route import concrete, routes

EVIL = "https://evil.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(dev=True, data_dir=tmp_path) as lab:
        yield lab


def hostile_site(lab: Lab, pages: dict[str, str]) -> str:
    """A site on another loopback port serving ``pages`` (path → HTML); its base URL."""
    routes_ = [Route(path, lambda request, html=html: HTMLResponse(html)) for path, html in pages.items()]
    lab.hosts.add(EVIL, Starlette(routes=routes_))
    return lab.hosts.url_of(EVIL)


def interaction_link(lab: Lab) -> str:
    """A live consent request: the backend starts a job and the PS asks the person."""
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as ui:
        request_id = start(lab, ui)
        progress = wait_for(ui, f"{backend}/optimization/progress/{request_id}", {"interaction_required"})
    return progress["interaction_url"]


def sign_in(page, link: str) -> None:
    """The person opens the link top-level and signs in: the consent page shows."""
    page.goto(link)
    page.fill("#username", "mcp-user")
    page.fill("#password", "user123")
    page.click("button[type=submit]")
    page.wait_for_selector("button[value=approve]")


# -- H3: clickjacking --------------------------------------------------------------------------------


def test_h3_consent_page_cannot_be_framed_by_another_origin(browser_page, lab):
    """The issue's attack: a page on another loopback port frames the consent page of a
    signed-in person at 5 % opacity.  Chromium now refuses to render it (``frame-ancestors
    'none'``, ``X-Frame-Options: DENY``); the hostile site's own page frames fine (control)."""
    link = interaction_link(lab)
    sign_in(browser_page, link)
    evil = hostile_site(
        lab,
        {
            "/": f'<iframe id="victim" src="{link}" style="opacity:.05"></iframe>'
            f'<iframe id="control" src="/inner"></iframe>',
            "/inner": "<p id='inner'>framed</p>",
        },
    )
    refused = []
    browser_page.on("console", lambda message: refused.append(message.text))
    browser_page.goto(evil + "/", wait_until="load")
    control = browser_page.frame_locator("#control")
    assert control.locator("#inner").text_content() == "framed"
    victim = next(f for f in browser_page.frames if f.parent_frame and "inner" not in f.url)
    assert not victim.url.startswith(lab.identifiers["ps"])  # Chromium's error page instead
    assert victim.locator("button[value=approve]").count() == 0
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refused), refused


def test_h3_every_html_route_sends_the_page_security_headers(lab):
    """Every HTML page of the four servers (every route walked, signed out and signed in)
    answers with ``X-Frame-Options: DENY``, ``nosniff``, ``Referrer-Policy: same-origin`` and
    a CSP with ``frame-ancestors 'none'`` that confines it to its own origin and allows no
    inline code but its own (by hash)."""
    html_routes = set()
    with lab.hosts.client(timeout=30) as client:
        session = client.post(
            f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": "user123"}
        ).json()["session"]
        for server, method, template in routes(lab):
            url = lab.identifiers[server] + concrete(template, "no-such-id")
            for headers in ({}, {"Authorization": f"Bearer {session}"}):
                answer = client.request(method, url, headers=headers)
                if not answer.headers.get("content-type", "").startswith("text/html"):
                    continue
                where = f"{method} {template} -> {answer.status_code}"
                html_routes.add((server, template))
                assert answer.headers["x-frame-options"] == "DENY", where
                assert answer.headers["x-content-type-options"] == "nosniff", where
                assert answer.headers["referrer-policy"] == "same-origin", where
                policy = answer.headers["content-security-policy"]
                assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, where
                assert "unsafe-inline" not in policy, where
                if "<script" in answer.text:
                    assert "script-src 'self' 'sha256-" in policy, where
    assert {("ps", "/interaction"), ("backend", "/"), ("backend", "/callback")} <= html_routes


def test_h3_the_pages_still_work_under_their_policy(browser_page, lab):
    """The policy breaks nothing: the backend page's script runs (its hash is allowed), the
    consent page shows styled, and no CSP violation is reported on either."""
    violations = []
    browser_page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
    browser_page.goto(f"{lab.url('backend')}/")
    browser_page.click("#optimize")
    browser_page.wait_for_selector("#consent:not([hidden])")
    consent = browser_page.context.new_page()
    consent.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
    sign_in(consent, browser_page.get_attribute("#consent-link", "href"))
    assert consent.eval_on_selector("body", "b => getComputedStyle(b).fontFamily").startswith("system-ui")
    assert violations == []


# -- CSRF ------------------------------------------------------------------------------------------


def cross_site_form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return f'<form id="f" method="post" action="{action}">{inputs}<button id="go">go</button></form>'


def test_csrf_login_form_posted_from_another_origin_is_403(browser_page, lab):
    """Login CSRF: a hostile page posts the login form with the attacker's credentials (and a
    token it fetched itself).  The PS answers ``403 forbidden`` before checking the password:
    no session, no audit entry."""
    ps = lab.identifiers["ps"]
    with lab.hosts.client() as attacker:
        stolen = form_fields(attacker.get(f"{ps}/interaction").text)["csrf"]
    evil = hostile_site(
        lab,
        {
            "/": cross_site_form(
                f"{ps}/login",
                {"username": "mcp-user", "password": "user123", "next": "/interaction", "csrf": stolen},
            )
        },
    )
    browser_page.goto(evil + "/")
    with browser_page.expect_response(f"{ps}/login") as answered:
        browser_page.click("#go")
    response = answered.value
    assert response.status == 403 and response.json()["error"] == "forbidden"
    assert "aauth_session" not in {c["name"] for c in browser_page.context.cookies()}
    assert [e for e in lab.ps.store.audit_log(100) if e.action == "login"] == []


def test_csrf_consent_form_posted_from_another_origin_is_403(browser_page, lab):
    """The signed-in person's browser is made to post Approve from a hostile page (the
    session cookie goes along: loopback ports are one site).  ``403 forbidden``; the request
    stays pending."""
    link = interaction_link(lab)
    sign_in(browser_page, link)
    fields = {"pending_id": browser_page.input_value("input[name=pending_id]"), "decision": "approve"}
    evil = hostile_site(lab, {"/": cross_site_form(f"{lab.identifiers['ps']}/interaction", fields)})
    browser_page.goto(evil + "/")
    with browser_page.expect_response(f"{lab.identifiers['ps']}/interaction") as answered:
        browser_page.click("#go")
    assert answered.value.status == 403 and answered.value.json()["error"] == "forbidden"
    assert lab.ps.store.get_pending(fields["pending_id"]).status == "interacting"  # undecided


world = world_fixture()


def test_csrf_login_form_needs_its_token_and_cookie(world):
    """Plain HTTP: the login form without a token, with a wrong one, or without the
    pre-session cookie its token is bound to is ``403 forbidden``; a foreign ``Origin`` too,
    even with everything else right, and so is the JSON login from a foreign origin."""
    good = {"username": "mcp-user", "password": "user123", "next": "/interaction"}
    browser = world.hosts.client(timeout=30)
    csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]
    for fields in (good, {**good, "csrf": "x"}):
        answer = browser.post(f"{PS}/login", data=fields)
        assert (answer.status_code, error_of(answer)) == (403, "forbidden")
    cookieless = world.hosts.client(timeout=30)
    answer = cookieless.post(f"{PS}/login", data={**good, "csrf": csrf})
    assert (answer.status_code, error_of(answer)) == (403, "forbidden")
    for origin in (EVIL, "null", "http://127.0.0.1:1"):
        answer = browser.post(f"{PS}/login", data={**good, "csrf": csrf}, headers={"Origin": origin})
        assert (answer.status_code, error_of(answer)) == (403, "forbidden"), origin
    answer = browser.post(f"{PS}/login", json=good, headers={"Sec-Fetch-Site": "same-site"})
    assert (answer.status_code, error_of(answer)) == (403, "forbidden")
    signed_in = browser.post(f"{PS}/login", data={**good, "csrf": csrf}, headers={"Origin": PS})
    assert signed_in.status_code == 303


def test_csrf_cookie_authenticated_changes_need_the_own_origin(world):
    """A state-changing request carried by the session cookie (the browser adds it by itself)
    from a foreign origin is ``403``: logout, the consent API, token revocation.  A Bearer
    session is not a browser's ambient credential and is not checked."""
    browser = logged_in_browser(world)
    _, code, _ = world.defer()
    pending_id = form_fields(browser.get(f"{PS}/interaction", params={"code": code}).text)["pending_id"]
    foreign = {"Origin": EVIL}
    for method, path, kwargs in (
        ("POST", f"/consent/{pending_id}/decision", {"json": {"approved": True}}),
        ("POST", "/tokens/x/revoke", {}),
        ("POST", "/logout", {}),
    ):
        answer = browser.request(method, PS + path, headers=foreign, **kwargs)
        assert (answer.status_code, error_of(answer)) == (403, "forbidden"), path
    assert world.ps.store.get_pending(pending_id).status == "interacting"  # undecided
    bearer = world.person()
    answer = bearer.post(f"{PS}/consent/{pending_id}/decision", json={"approved": False}, headers=foreign)
    assert answer.status_code == 200


def test_csrf_cookies_are_httponly_strict_and_secure_over_https(tmp_path):
    """Over https (ASGI mode, the identifiers' scheme) both cookies are ``Secure``; always
    ``HttpOnly`` and ``SameSite=Strict``."""
    world = World(tmp_path, mode="asgi")
    try:
        browser = world.hosts.client(follow_redirects=False)
        page = browser.get(f"{PS}/interaction")
        pre_session = page.headers["set-cookie"]
        csrf = form_fields(page.text)["csrf"]
        login = browser.post(
            f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": "/", "csrf": csrf}
        )
        for cookie in (pre_session, login.headers["set-cookie"]):
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"httponly", "samesite=strict", "secure", "path=/"} <= flags, cookie
    finally:
        world.stop()


def test_csrf_consent_form_token_is_bound_to_session_and_request(world):
    """The consent form's token is the one issued for this session and this pending request."""
    browser = logged_in_browser(world)
    _, first, _ = world.defer()
    _, second, _ = world.defer()
    one = form_fields(browser.get(f"{PS}/interaction", params={"code": first}).text)
    two = form_fields(browser.get(f"{PS}/interaction", params={"code": second}).text)
    swapped = browser.post(f"{PS}/interaction", data={**one, "csrf": two["csrf"], "decision": "approve"})
    assert (swapped.status_code, error_of(swapped)) == (403, "forbidden")
    other = logged_in_browser(world)
    assert other.get(f"{PS}/interaction", params={"code": first}).status_code == 410  # single use
    _, third, _ = world.defer()
    other_token = form_fields(other.get(f"{PS}/interaction", params={"code": third}).text)["csrf"]
    stolen = browser.post(f"{PS}/interaction", data={**one, "csrf": other_token, "decision": "approve"})
    assert (stolen.status_code, error_of(stolen)) == (403, "forbidden")  # another session's token
    answer = browser.post(f"{PS}/interaction", data={**one, "decision": "approve"}, headers={"Origin": PS})
    assert answer.status_code == 200 and "You approved" in answer.text
