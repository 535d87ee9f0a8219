"""The Person Server's sessions as an attacker on the same host meets them.

Finding: cookies ignore ports (RFC 6265 §8.5), so on a loopback dev host the PS's session
cookie reaches every server the person's browser visits there; and its value was accepted
as ``Authorization: Bearer``, so a hostile resource or Agent Provider on another port could
drive the PS's JSON API with it — approve consent, change the policy, revoke — without any
CSRF token.  Now a cookie session and a Bearer session are two credentials (OWASP ASVS
level 2 V3 "Session Management"; the draft leaves the PS's pages to the PS): the JSON API
takes Bearer only, the cookie serves the pages (their changes carry the CSRF form token)
and only on a navigation; over https the cookies are ``__Host-`` cookies; sessions end when
idle and when old.  Over loopback sockets (the PS under uvicorn), and once in headless
Chromium with a hostile site on another port.
"""

from __future__ import annotations

import pytest
from aauth_kit.servers.ps.persons import SESSION_COOKIE
from aauth_kit.servers.ps.store.persons import SESSION_IDLE, SESSION_LIFETIME
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from aauth_kit.lab import Lab

from .ps_world import HANG_GUARD, PS, World, error_of, form_fields, logged_in_browser, world_fixture
from .test_every_route import concrete, routes
from .test_web_security import interaction_link, sign_in

world = world_fixture()
HOSTILE = "https://hostile.example"
#: Every route of the PS's JSON API that wants a signed-in person (persons, consent, missions).
JSON_API = (
    ("GET", "/consent?code={code}", None),
    ("POST", "/consent/{pending_id}/decision", {"approved": True}),
    ("POST", "/consent/{pending_id}/abandon", {}),
    ("GET", "/consent/{pending_id}", None),
    ("POST", "/consent/{pending_id}/clarification", {"question": "Why?"}),
    ("GET", "/tokens", None),
    ("POST", "/tokens/{jti}/revoke", None),
    ("GET", "/admin/consent-policy", None),
    ("PUT", "/admin/consent-policy", {"scopes": [], "prefixes": []}),
    ("GET", "/audit", None),
    ("GET", "/missions", None),
    ("POST", "/missions/{s256}/revoke", None),
    ("GET", "/missions/{s256}/log", None),
    ("GET", "/inbox", None),
    ("POST", "/consent/{pending_id}/answer", {"answer": "yes"}),
    ("PUT", "/agents/person-server", {"agent": "aauth:assistant@ps.example", "ps": None}),
)


def cookie_of(client) -> str:
    """The session cookie's value in a signed-in browser's jar (over https: ``__Host-``)."""
    return client.cookies[f"__Host-{SESSION_COOKIE}"]


def issued_jti(world) -> str:
    """A token issued on mcp-user's behalf (an approved request), by its ``jti``."""
    url, code, _ = world.defer()
    world.approve(code)
    assert world.poll(url).status_code == 200
    return world.person().get(f"{PS}/tokens").json()[0]["jti"]


def consent_shown(client, code: str, **headers) -> bool:
    """Whether ``GET /interaction?code=`` showed the consent page (else: the login page)."""
    page = client.get(f"{PS}/interaction", params={"code": code}, headers=headers)
    assert page.status_code == 200, page.text
    return "pending_id" in form_fields(page.text)


def test_session_cookie_is_refused_by_the_json_api_as_bearer_and_as_cookie(world):
    """The hostile server holds the person's cookie.  Sent as ``Authorization: Bearer`` or
    replayed as a ``Cookie`` (no ``Origin``: not a browser) to every route of the JSON API,
    it is ``401 unauthorized``; nothing was decided, revoked or reconfigured."""
    jti = issued_jti(world)
    _, code, _ = world.defer()
    pending_id = world.ps.store.find_by_code(code).id
    stolen = cookie_of(logged_in_browser(world))
    policy = (list(world.ps.policy.scopes), list(world.ps.policy.prefixes))
    values = {"code": code, "pending_id": pending_id, "jti": jti, "s256": "x" * 43}
    replays = {
        "as Bearer": {"headers": {"Authorization": f"Bearer {stolen}"}},
        "as cookie": {"headers": {"Cookie": f"__Host-{SESSION_COOKIE}={stolen}"}},
    }
    hostile = world.hosts.client(timeout=HANG_GUARD)
    for how, credential in replays.items():
        for method, path, body in JSON_API:
            answer = hostile.request(method, PS + path.format(**values), json=body, **credential)
            assert (answer.status_code, error_of(answer)) == (401, "unauthorized"), (how, method, path)
    assert world.ps.store.get_pending(pending_id).status == "pending"
    assert (list(world.ps.policy.scopes), list(world.ps.policy.prefixes)) == policy
    assert not any(t["revoked"] for t in world.person().get(f"{PS}/tokens").json())


def test_session_bearer_token_is_not_a_cookie(world):
    """The token of a JSON sign-in, set as the session cookie, signs nobody in on the pages:
    the interaction page shows the login form and the code stays unredeemed; as Bearer it
    still opens the page."""
    _, code, _ = world.defer()
    bearer = world.person().headers["Authorization"].removeprefix("Bearer ")
    browser = world.hosts.client(timeout=HANG_GUARD)
    for name in (f"__Host-{SESSION_COOKIE}", SESSION_COOKIE):  # under either name the PS might read
        browser.cookies.set(name, bearer)
    assert not consent_shown(browser, code)
    assert world.ps.store.find_by_code(code).status == "pending"
    assert consent_shown(world.hosts.client(timeout=HANG_GUARD), code, Authorization=f"Bearer {bearer}")


def test_session_cookie_rides_only_on_navigations(world):
    """A page on another port of the host can make the browser request the interaction URL
    as an image or a frame (the cookie goes along: same site).  Such an embedded request
    (``Sec-Fetch-Dest`` other than ``document``) is not signed in, so it cannot redeem the
    code for the person; the person's own navigation is."""
    browser = logged_in_browser(world)
    _, code, _ = world.defer()
    for destination in ("image", "iframe", "script", "empty"):
        assert not consent_shown(browser, code, **{"Sec-Fetch-Dest": destination}), destination
    assert world.ps.store.find_by_code(code).status == "pending"
    assert consent_shown(browser, code, **{"Sec-Fetch-Dest": "document"})


def test_session_logout_by_cookie_needs_the_own_origin_and_ends_only_that_session(world):
    """``POST /logout`` with the cookie from another origin is ``403 forbidden``; from the
    PS's own page it ends the cookie session (the Bearer session of the same person lives on)."""
    browser = logged_in_browser(world)
    api = world.person()
    _, code, _ = world.defer()
    refused = browser.post(f"{PS}/logout", headers={"Origin": HOSTILE})
    assert (refused.status_code, error_of(refused)) == (403, "forbidden")
    assert browser.post(f"{PS}/logout", headers={"Origin": PS}).json() == {"status": "signed_out"}
    browser.cookies.clear()
    assert not consent_shown(browser, code)
    assert api.get(f"{PS}/tokens").status_code == 200


def test_session_cookies_are_host_prefixed_over_https_and_a_plain_one_is_not_read(tmp_path):
    """Over https the cookies are ``__Host-`` cookies (``Secure``, ``Path=/``, no ``Domain``):
    a sibling host cannot set or overwrite them.  A cookie by the plain name — what a sibling
    could set for the whole domain — is not read, even with a live session's value."""
    world = World(tmp_path, mode="asgi")
    try:
        browser = world.hosts.client(follow_redirects=False)
        page = browser.get(f"{PS}/interaction")
        login = browser.post(
            f"{PS}/login",
            data={
                "username": "mcp-user",
                "password": "user123",
                "next": "/",
                "csrf": form_fields(page.text)["csrf"],
            },
        )
        for cookie in (page.headers["set-cookie"], login.headers["set-cookie"]):
            name, *flags = (part.strip().lower() for part in cookie.split(";"))
            assert name.startswith("__host-aauth_") and "secure" in flags and "path=/" in flags, cookie
            assert not any(flag.startswith("domain") for flag in flags), cookie
        _, code, _ = world.defer()
        assert consent_shown(browser, code)  # the prefixed cookie signs the person in
        planted = world.hosts.client()
        planted.cookies.set(SESSION_COOKIE, cookie_of(browser))
        _, other, _ = world.defer()
        assert not consent_shown(planted, other)
    finally:
        world.stop()


def test_session_cookies_keep_plain_names_over_http(tmp_path):
    """Over http (dev mode) browsers refuse ``__Host-`` (it needs ``Secure``): plain names."""
    with Lab(dev=True, data_dir=tmp_path) as lab:
        ps = lab.identifiers["ps"]
        with lab.hosts.client(timeout=HANG_GUARD) as browser:
            page = browser.get(f"{ps}/interaction")
            assert page.headers["set-cookie"].startswith("aauth_pre_session=")
            assert "secure" not in page.headers["set-cookie"].lower()


def test_session_ends_after_30_minutes_unused_and_after_12_hours(world):
    """OWASP ASVS level 2 V3.3.2: a Bearer session unused for 30 minutes is ``401``, a cookie
    session shows the login page again; a session used every quarter hour still ends 12 hours
    after sign-in."""
    browser, api = logged_in_browser(world), world.person()
    world.clock.advance(SESSION_IDLE + 1)
    answer = api.get(f"{PS}/tokens")
    assert (answer.status_code, error_of(answer)) == (401, "unauthorized")
    _, code, _ = world.defer()
    assert not consent_shown(browser, code)
    busy, started = world.person(), world.clock()
    while world.clock() + SESSION_IDLE / 2 < started + SESSION_LIFETIME:
        world.clock.advance(SESSION_IDLE / 2)
        assert busy.get(f"{PS}/tokens").status_code == 200
    world.clock.advance(SESSION_IDLE / 2)
    answer = busy.get(f"{PS}/tokens")
    assert (answer.status_code, error_of(answer)) == (401, "unauthorized")


@pytest.fixture
def lab(tmp_path):
    with Lab(dev=True, data_dir=tmp_path) as lab:
        yield lab


def test_session_cookie_a_hostile_loopback_server_receives_cannot_drive_the_ps(browser_page, lab):
    """The finding as it happened, in Chromium: the person signs in at the PS (dev mode,
    loopback) and then visits a hostile site on another loopback port.  The browser hands
    it the PS's session cookie (cookies ignore ports).  The hostile server's calls to the
    PS's JSON API with it — as Bearer, as a cookie — are ``401 unauthorized`` and the
    person's consent request stays undecided."""
    received = {}

    async def home(request):
        received.update(request.cookies)
        return HTMLResponse("<p>nothing to see</p>")

    lab.hosts.add(HOSTILE, Starlette(routes=[Route("/", home)]))
    sign_in(browser_page, interaction_link(lab))
    pending_id = browser_page.input_value("input[name=pending_id]")
    browser_page.goto(lab.hosts.url_of(HOSTILE) + "/")
    stolen = received[SESSION_COOKIE]  # the premise: the hostile port got the cookie
    ps = lab.identifiers["ps"]
    with lab.hosts.client(timeout=HANG_GUARD) as hostile:
        for headers in ({"Authorization": f"Bearer {stolen}"}, {"Cookie": f"{SESSION_COOKIE}={stolen}"}):
            answer = hostile.post(
                f"{ps}/consent/{pending_id}/decision", json={"approved": True}, headers=headers
            )
            assert (answer.status_code, error_of(answer)) == (401, "unauthorized"), headers
            answer = hostile.put(
                f"{ps}/admin/consent-policy", json={"scopes": [], "prefixes": []}, headers=headers
            )
            assert (answer.status_code, error_of(answer)) == (401, "unauthorized"), headers
    assert lab.ps.store.get_pending(pending_id).status == "interacting"  # undecided


def test_session_every_ps_route_that_wants_a_person_is_one_of_the_json_api(lab):
    """Every route of the PS, called without any credential: those that answer ``401
    unauthorized`` (they ask for a signed-in person) are exactly the JSON API above, whose
    credential is Bearer only — a route added later that asks for a person must be placed
    (and tested) here."""

    def template(path: str) -> str:
        return "/".join("{}" if p.startswith("{") else p for p in path.split("?")[0].split("/"))

    wanting = set()
    with lab.hosts.client(timeout=HANG_GUARD) as anonymous:
        for server, method, path in routes(lab):
            if server != "ps":
                continue
            answer = anonymous.request(method, lab.identifiers["ps"] + concrete(path, "no-such-id"))
            if answer.headers.get("content-type", "").startswith("application/problem+json"):
                if (answer.status_code, answer.json()["error"]) == (401, "unauthorized"):
                    wanting.add((method, template(path)))
    assert wanting == {(method, template(path)) for method, path, _ in JSON_API}
