"""Deferred responses at the Person Server over real HTTP (servers/ps/deferred.py, pending_url.py): the
``202`` and its headers, held polls, final answers, ``slow_down``, cancel.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key

from .ps_world import (
    APP,
    HANG_GUARD,
    HELD,
    PS,
    RES,
    World,
    decoded,
    error_of,
    form_fields,
    logged_in_browser,
    wait_until,
    world_fixture,
)

world = world_fixture()


# -- deferred consent ------------------------------------------------------------------------------


def test_consent_needed_answers_202_with_every_header(world):
    """-11 "Deferred Responses", "Pending Response": 202, Location (the pending URL on the PS),
    Retry-After, Cache-Control: no-store, AAuth-Requirement interaction (url + code), body
    {"status": "pending"}.  Under Prefer: wait the agent may come back at once."""
    url, code, response = world.defer("files:delete", wait=30)
    assert response.headers["location"].startswith(f"{PS}/pending/")
    assert response.headers["retry-after"] == "0"
    assert response.headers["cache-control"] == "no-store"
    requirement = parse_requirement(response.headers["aauth-requirement"])
    assert (requirement.requirement, requirement.url) == ("interaction", f"{PS}/interaction")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", requirement.code)
    assert response.json() == {"status": "pending"}
    assert world.ps.pending_codes() == [requirement.code]
    without_wait, _ = world.ask("files:delete")
    assert without_wait.headers["retry-after"] == "5"  # no Prefer: wait → poll later


def test_consent_prefix_policy(world):
    """The seed's prefixes: "profile.email" needs consent by prefix, "files:read" does not."""
    response, _ = world.ask("files:read profile.email")
    assert response.status_code == 202


def test_approve_via_rest_then_poll(world):
    """The seed's consent REST API: GET /consent?code → context; POST decision → the next
    poll answers 200 with the auth token; the pending URL is then gone (410)."""
    url, code, _ = world.defer("files:delete", justification="Clean up the **old** drafts")
    person = world.person()
    context = person.get(f"{PS}/consent", params={"code": code.lower()})  # case-insensitive code
    assert context.status_code == 200
    body = context.json()
    assert body["kind"] == "auth_token" and body["status"] == "interacting"
    assert (body["agent"], body["agent_name"], body["resource"], body["resource_name"]) == (
        "aauth:backend@ps.example",
        "Backend",
        RES,
        "Files",
    )
    assert (body["scope"], body["justification"]) == ("files:delete", "Clean up the **old** drafts")
    assert body["expires_at"].endswith("Z") and body["pending_id"] == url.rsplit("/", 1)[1]
    world.clock.advance(5)  # the Retry-After of the first 202
    pending = world.poll(url)
    assert (pending.status_code, pending.json()) == (202, {"status": "interacting"})
    decision = person.post(f"{PS}/consent/{body['pending_id']}/decision", json={"approved": True})
    assert decision.json() == {"status": "approved"}
    done = world.poll(url)
    assert done.status_code == 200, done.text
    claims = decoded(done.json()["auth_token"])
    assert (claims["aud"], claims["scope"], claims["sub"]) == (
        RES,
        "files:delete",
        world.ps.subject("mcp-user", RES),
    )
    assert world.poll(url).status_code == 410


def test_held_poll_wakes_when_the_person_decides(world):
    """Deferred responses are event-driven: a held poll returns 200 as soon as the
    decision lands (a missed wake would hold it past the hang guard)."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(world.poll, url, wait=HELD)
        wait_until(lambda: world.ps.waiters.held(pending_id) == 1)
        world.approve(code)
        response = held.result(timeout=HANG_GUARD)
    assert response.status_code == 200, response.text
    assert "auth_token" in response.json()


@pytest.mark.parametrize("route", ["python", "html"])
def test_held_poll_wakes_on_decisions_from_other_routes(world, route):
    """The wake works whichever way the decision arrives: PersonServer.decide from another
    thread, or the HTML consent page."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(world.poll, url, wait=HELD)
        wait_until(lambda: world.ps.waiters.held(pending_id) == 1)
        if route == "python":
            threading.Thread(target=world.ps.decide, args=(code, True)).start()
        else:
            browser = logged_in_browser(world)
            page = browser.get(f"{PS}/interaction", params={"code": code})
            answer = browser.post(f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"})
            assert "You approved" in answer.text
        response = held.result(timeout=HANG_GUARD)
    assert response.status_code == 200, response.text


def test_denial_is_403_denied_then_410(world):
    """-11 "Polling Error Codes": a denied request answers 403 denied once, then 410."""
    url, code, _ = world.defer()
    world.approve(code, approved=False)
    response = world.poll(url, wait=30)
    assert (response.status_code, error_of(response)) == (403, "denied")
    assert "signature-error" not in response.headers  # a 403 never carries Signature-Error
    assert world.poll(url, wait=30).status_code == 410


def test_abandoned_is_403_abandoned_then_410(world):
    """-11 "Polling Error Codes", "Interaction Callback Errors": the person walked away → 403 abandoned; the callback gets user_abandoned."""
    url, code, _ = world.defer()
    person = world.person()
    pending_id = person.get(f"{PS}/consent", params={"code": code}).json()["pending_id"]
    answer = person.post(f"{PS}/consent/{pending_id}/abandon", json={"callback": f"{APP}/done?job=1"})
    assert answer.json() == {"status": "abandoned", "redirect_url": f"{APP}/done?job=1&error=user_abandoned"}
    response = world.poll(url)
    assert (response.status_code, error_of(response)) == (403, "abandoned")
    assert world.poll(url).status_code == 410


def test_expiry_is_408_then_410(world):
    """-11 "Polling Error Codes": a request nobody answered within pending_ttl ends 408 expired, then 410."""
    url, code, _ = world.defer()
    world.clock.advance(601)
    response = world.poll(url)
    assert (response.status_code, error_of(response)) == (408, "expired")
    assert world.poll(url).status_code == 410
    assert world.ps.pending_codes() == []
    person = world.person()
    assert error_of(person.get(f"{PS}/consent", params={"code": code})) == "invalid_code"


def test_a_held_poll_ends_when_the_request_expires(tmp_path):
    """A held poll is bounded by the request's lifetime: 408 when it runs out, not after the
    whole wait (which would outlast the hang guard)."""
    w = World(tmp_path, pending_ttl=1)
    try:
        url, _, _ = w.defer()
        response = w.poll(url, wait=HELD)
        assert (response.status_code, error_of(response)) == (408, "expired")
    finally:
        w.stop()


def test_polling_too_fast_is_429_slow_down(world):
    """-11 "Polling Error Codes": faster than Retry-After without Prefer: wait → 429 slow_down (with
    Retry-After); a poll that waits its turn, or asks to be held, is fine."""
    url, _, response = world.defer()
    assert response.headers["retry-after"] == "5"
    fast = world.poll(url)
    assert (fast.status_code, error_of(fast)) == (429, "slow_down")
    assert 0 < int(fast.headers["retry-after"]) <= 5
    world.clock.advance(5)
    assert world.poll(url).status_code == 202
    assert world.poll(url, wait=1).status_code == 202  # held polls are never too fast


def test_the_poll_interval_is_the_202s_retry_after(world):
    """-11 "Deferred Responses": the PS's poll interval (3 s here, the seed's backend's
    rhythm) is the Retry-After it sends and the pace it holds the agent to."""
    world.ps.poll_interval = 3
    url, _, response = world.defer()
    assert response.headers["retry-after"] == "3"
    world.clock.advance(2)
    early = world.poll(url)
    assert (early.status_code, error_of(early), early.headers["retry-after"]) == (429, "slow_down", "1")
    world.clock.advance(1)
    assert world.poll(url).status_code == 202


def test_delete_cancels(world):
    """-11 "Cancel Request": DELETE on the pending URL cancels (204); afterwards 410, and the code is spent."""
    url, code, _ = world.defer()
    assert world.send("DELETE", url).status_code == 204
    assert world.poll(url).status_code == 410
    assert world.send("DELETE", url).status_code == 410
    assert error_of(world.person().get(f"{PS}/consent", params={"code": code})) == "invalid_code"


def test_pending_url_answers_only_to_the_agent_key_that_created_it(world):
    """The pending URL is bound to the creating agent key's thumbprint: another agent (even
    one of the same person) gets 404 and cannot cancel it."""
    url, code, _ = world.defer()
    other_key = Key.from_seed("agent other")
    other_token = world.ps.issue_agent_token("other", other_key)
    assert (world.poll(url, key=other_key, token=other_token).status_code) == 404
    assert world.send("DELETE", url, key=other_key, token=other_token).status_code == 404
    assert world.poll(url, key=other_key, hwk=True).status_code == 404
    world.approve(code)
    assert world.poll(url).status_code == 200


def test_concurrent_polls_get_the_token_once(world):
    """The final answer is given once: of two polls racing after the approval, one gets the
    token and the other 410."""
    url, code, _ = world.defer()
    world.approve(code)
    world.clock.advance(5)
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: world.poll(url, wait=5), range(2)))
    assert statuses == [200, 410]
    assert [t.typ for t in world.ps.store.list_tokens()].count("aa-auth+jwt") == 1


def test_unknown_pending_url_is_404(world):
    response = world.poll(f"{PS}/pending/nothing-here")
    assert (response.status_code, error_of(response)) == (404, "not_found")
