"""The PS's side of -11 "Resource-Initiated Interaction" over loopback sockets: a resource token
carrying ``interaction`` makes the PS show an interstitial, send the person to
``{url}?code=…&callback={per-flow URL}``, map a callback error to the polling error (-11
"Interaction Callback Errors"), and only then run its own consent.  The resource's part is
played by the test (it follows the link's callback); the parts supplier plays it for real in
the last test.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from aauth_kit.egress import Egress, no_network

from .ps_world import (
    CAPABILITIES,
    HELD,
    PS,
    RES,
    error_of,
    form_fields,
    logged_in_browser,
    world_fixture,
)

world = world_fixture()
INTERACTION = {"url": f"{RES}/connect", "code": "RSRC-0001"}


def ask_with_interaction(world, interaction=INTERACTION, scope="files:read"):
    """POST /auth-token with a resource token that carries ``interaction``."""
    presented = world.person_token()
    body = {
        "resource_token": world.resource_token(presented, scope, extra={"interaction": interaction}),
        "presented_token": presented,
        "capabilities": list(CAPABILITIES),
    }
    return world.send("POST", f"{PS}/auth-token", body=body)


def start(world):
    """The 202, the person at the PS's interstitial; returns (pending URL, browser, resource link)."""
    response = ask_with_interaction(world)
    assert response.status_code == 202, response.text
    code = re.search(r'code="([^"]+)"', response.headers["aauth-requirement"]).group(1)
    browser = logged_in_browser(world)
    page = browser.get(f"{PS}/interaction", params={"code": code})
    assert page.status_code == 200 and "needs your permission first" in page.text
    link = unescape(re.search(r'<a href="([^"]+)">Continue', page.text).group(1))
    return response.headers["location"], browser, link


def test_resource_initiated_interaction_chains_the_resource_then_the_ps_consent(world):
    """Even a scope the policy grants at once waits: the resource asks first.  The link is
    ``{interaction.url}?code={interaction.code}&callback={ps_callback_url}``; back at the callback
    the PS shows its own consent; the approval issues the auth token."""
    pending_url, browser, link = start(world)
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == INTERACTION["url"]
    assert query["code"] == [INTERACTION["code"]]
    callback = query["callback"][0]
    assert callback.startswith(f"{PS}/interaction/resource/")
    consent = browser.get(callback)  # the resource's flow completed: plain callback
    assert consent.status_code == 200 and 'name="decision"' in consent.text
    fields = form_fields(consent.text)
    done = browser.post(f"{PS}/interaction", data={**fields, "decision": "approve"})
    assert done.status_code == 200, done.text
    answer = world.poll(pending_url, wait=HELD)
    assert answer.status_code == 200 and "auth_token" in answer.json()
    assert browser.get(callback).status_code == 400  # the per-flow URL is spent


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("access_denied", 403, "denied"),
        ("user_abandoned", 403, "abandoned"),
        ("interaction_expired", 408, "expired"),
        ("server_error", 500, "server_error"),
        ("temporarily_unavailable", 500, "server_error"),
    ],
)
def test_interaction_callback_errors_map_to_polling_errors(world, error, status, code):
    """-11 "Interaction Callback Errors": the PS abandons the authorization and returns the mapped
    polling error to the agent."""
    pending_url, browser, link = start(world)
    callback = parse_qs(urlsplit(link).query)["callback"][0]
    ended = browser.get(callback, params={"error": error})
    assert ended.status_code == 200 and "has ended" in ended.text
    answer = world.poll(pending_url, wait=HELD)
    assert (answer.status_code, error_of(answer)) == (status, code)


def test_resource_initiated_interaction_cannot_be_approved_before_the_resource(world):
    """The PS resolves the resource interaction before its own consent: a decision through the
    consent API before the callback is 403."""
    pending_url, _, _ = start(world)
    pending_id = pending_url.rsplit("/", 1)[1]
    person = world.person()
    refused = person.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert (refused.status_code, error_of(refused)) == (403, "forbidden")


def test_resource_initiated_interaction_callback_is_the_persons_own(world):
    """The per-flow callback works only in the session that opened the request's code."""
    _, _, link = start(world)
    callback = parse_qs(urlsplit(link).query)["callback"][0]
    stranger = world.hosts.client(timeout=30)
    assert stranger.get(callback).status_code in (400, 401, 403)
    assert stranger.get(f"{PS}/interaction/resource/no-such-flow").status_code in (400, 401, 403)


def test_resource_initiated_interaction_url_must_be_https(world):
    """ "The interaction.url MUST be an HTTPS URL": an http one is ``invalid_resource_token``."""
    response = ask_with_interaction(world, {"url": "http://files.example/connect", "code": "X"})
    assert (response.status_code, error_of(response)) == (400, "invalid_resource_token")


def test_resource_initiated_interaction_url_passes_egress_admission(world):
    """ "MUST apply its egress admission policy to the URL": an origin egress refuses is refused."""
    world.ps.context.egress = Egress(routes=world.hosts.routes, resolve=no_network)
    response = ask_with_interaction(world, {"url": "https://10.0.0.1/connect", "code": "X"})
    assert (response.status_code, error_of(response)) == (400, "invalid_resource_token")
    assert ask_with_interaction(world).status_code == 202  # the resource's own origin is admitted


def test_resource_initiated_interaction_with_the_supplier_and_the_kits_agent(tmp_path):
    """End to end: the supplier's ``GET /account`` challenges with a resource token carrying
    ``interaction``; the person goes PS interstitial → supplier page (sign in, approve) → PS consent
    (approve); the agent's poll gets the auth token and the call succeeds."""
    from .test_resource_managed import SUP, Cast, hidden_fields

    cast = Cast(tmp_path)
    try:
        browser = logged_in_browser(cast)

        def person(interaction):
            page = browser.get(interaction.link())
            link = unescape(re.search(r'<a href="([^"]+)">Continue', page.text).group(1))
            assert link.startswith(f"{SUP}/interaction?code=")
            assert parse_qs(urlsplit(link).query)["callback"][0].startswith(f"{PS}/interaction/resource/")
            at_supplier = cast.open_page(link, browser=browser)  # the person signs in at the supplier
            form = {**hidden_fields(at_supplier.text), "decision": "approve"}
            consent = browser.post(f"{SUP}/interaction", data=form)  # 303 → the PS's consent page
            assert 'name="decision"' in consent.text
            browser.post(f"{PS}/interaction", data={**form_fields(consent.text), "decision": "approve"})

        agent = cast.agent(on_interaction=person)
        with cast.client(agent) as client:
            response = client.get(f"{SUP}/account")
        assert response.status_code == 200 and response.json()["orders"] == 0
        rt = [e for e in cast.trace.exchanges if "requirement=auth-token" in e.summary()]
        assert rt, [e.summary() for e in cast.trace.exchanges]
    finally:
        cast.close()
