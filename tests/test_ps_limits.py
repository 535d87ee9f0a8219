"""Caps at the Person Server and the sweep of expired rows (servers/ps/context.py ``Caps``,
servers/ps/sweep.py), each attack mounted over loopback sockets: one agent leaving requests,
held polls or missions without end, anonymous registrations filling the consent queue, rows
that never expire, and the consent page's throttle without ``Retry-After``."""

from __future__ import annotations

import argparse
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
from aauth_kit.servers.ps.context import Caps
from aauth_kit.servers.ps.store.persons import BEARER, SESSION_IDLE
from aauth_kit.servers.ps.sweep import sweep

from aauth_kit import serve
from aauth_kit.headers import parse_requirement
from aauth_kit.http_client import httpx
from aauth_kit.keys import Key

from .ps_world import (
    HANG_GUARD,
    HELD,
    PS,
    World,
    error_of,
    logged_in_browser,
    wait_until,
    world_fixture,
)

world = world_fixture()
CAPS = Caps()
AGENT = (PS, "aauth:backend@ps.example")


def _refused(response) -> int:
    """A refusal at a cap: ``429 rate_limited`` with a ``Retry-After`` of whole seconds."""
    assert (response.status_code, error_of(response)) == (429, "rate_limited"), response.text
    return int(response.headers["retry-after"])


# -- pending requests per agent -----------------------------------------------------------------


def test_l10_an_agent_cannot_leave_more_than_its_cap_of_pending_requests(world):
    """One agent asks again and again for something that needs the person: the first
    ``pending_per_agent`` (20) wait, the next is ``429 rate_limited`` with ``Retry-After``
    (when its oldest request expires), and nothing more is stored.  Another agent is still
    served, and a cancelled request frees a place."""
    urls = [world.defer()[0] for _ in range(CAPS.pending_per_agent)]
    response, _ = world.ask("files:delete")
    assert 0 < _refused(response) <= 600  # the oldest request expires within the pending ttl
    assert len(world.ps.store.live_pending(agent=AGENT)) == CAPS.pending_per_agent
    other_key = Key.from_seed("another agent")
    other_token = world.ps.issue_agent_token("other", other_key, name="Other")
    presented = world.person_token(key=other_key, token=other_token)
    body = {
        "resource_token": world.resource_token(presented, "files:delete", agent_key=other_key),
        "presented_token": presented,
        "capabilities": ["interaction"],
    }
    other = world.send("POST", f"{PS}/auth-token", key=other_key, token=other_token, body=body)
    assert other.status_code == 202, other.text
    assert world.send("DELETE", urls[0]).status_code == 204
    assert world.ask("files:delete")[0].status_code == 202


def test_l10_pending_requests_sent_together_meet_the_cap(tmp_path):
    """Twelve requests of one agent sent at once against a cap of five: exactly five wait, the
    other seven are refused (the cap is checked where the request is stored)."""
    w = World(tmp_path, caps=Caps(pending_per_agent=5))
    try:
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda _: w.ask("files:delete")[0].status_code, range(12)))
        assert sorted(answers) == [202] * 5 + [429] * 7
        assert len(w.ps.store.live_pending(agent=AGENT)) == 5
    finally:
        w.stop()


# -- held polls per agent -------------------------------------------------------------------------


def test_l10_an_agent_cannot_hold_more_than_its_cap_of_polls(world):
    """Over real sockets, one agent holds ``held_polls_per_agent`` (4) polls open under
    ``Prefer: wait``; its next poll is not held: ``202`` at once with the poll interval as
    ``Retry-After`` (RFC 7240: a preference the server may decline), and polling again before
    that interval is the draft's ``429 slow_down``.  The held ones still wake on the decision."""
    deferred = [world.defer(wait=HELD) for _ in range(CAPS.held_polls_per_agent + 1)]  # Retry-After: 0
    with ThreadPoolExecutor(CAPS.held_polls_per_agent) as pool:
        held = [pool.submit(world.poll, url, wait=HELD) for url, _, _ in deferred[:-1]]
        wait_until(lambda: world.ps.waiters.holding(AGENT) == CAPS.held_polls_per_agent)
        url = deferred[-1][0]
        answered = world.poll(url, wait=HELD)  # held, it would outlast the client's timeout
        assert answered.status_code == 202, answered.text
        assert answered.headers["retry-after"] == str(world.ps.poll_interval)
        assert world.ps.waiters.held(url.rsplit("/", 1)[1]) == 0
        again = world.poll(url, wait=HELD)
        assert (again.status_code, error_of(again)) == (429, "slow_down")
        for _, code, _ in deferred[:-1]:
            world.ps.decide(code, True)
        assert [h.result(timeout=HANG_GUARD).status_code for h in held] == [200] * len(held)
    assert world.ps.waiters.holding(AGENT) == 0


# -- missions per agent ---------------------------------------------------------------------------


def _propose(world, n: int):
    return world.send("POST", f"{PS}/mission", body={"description": f"# Mission {n}\n\nDo task {n}."})


def test_l10_an_agent_cannot_hold_more_than_its_cap_of_missions(world):
    """One agent proposes mission after mission: active and proposed missions together stop at
    ``missions_per_agent`` (20); the next proposal is ``429 rate_limited`` with ``Retry-After``
    (two missions active and 18 proposed: the pending cap is not what refuses it).  When the
    person revokes a mission, a place is free again."""
    active = []
    for n in range(2):
        response = _propose(world, n)
        world.approve(parse_requirement(response.headers["aauth-requirement"]).code)
        done = world.poll(response.headers["location"])
        assert done.status_code == 200, done.text
        active.append(done.json()["s256"])
    for n in range(2, CAPS.missions_per_agent):
        assert _propose(world, n).status_code == 202
    refused = _propose(world, 99)
    assert _refused(refused) > 0
    assert "missions" in refused.json()["detail"]
    assert len(world.ps.store.live_pending(agent=AGENT, kind="mission")) == CAPS.missions_per_agent - 2
    person = world.person()
    assert person.post(f"{PS}/missions/{active[0]}/revoke").status_code == 200
    assert _propose(world, 100).status_code == 202


# -- registrations per client -----------------------------------------------------------------------


def _from_address(world, address: str) -> httpx.Client:
    """A client whose connections to the PS come from the loopback ``address``."""
    real = httpx.URL(world.hosts.url_of(PS))

    class FromAddress(httpx.HTTPTransport):
        def handle_request(self, request):
            request.url = request.url.copy_with(scheme="http", host=real.host, port=real.port)
            return super().handle_request(request)

    return httpx.Client(transport=FromAddress(local_address=address), trust_env=False, timeout=HANG_GUARD)


def _register(world, n: int, client=None):
    key = Key.from_seed(f"anonymous {n}")
    body = {"local": f"anon-{n}", "name": f"Anon {n}"}
    return world.send("POST", f"{PS}/agent/register", key=key, hwk=True, body=body, client=client)


def test_l10_registrations_waiting_for_approval_are_capped_per_client(world):
    """Anonymous ``POST /agent/register`` calls from one address: ``registrations_per_client``
    (10) wait for a person, the next is ``429 rate_limited`` with ``Retry-After`` and leaves
    no agent behind; a client at another address still registers."""
    for n in range(CAPS.registrations_per_client):
        assert _register(world, n).status_code == 202
    assert _refused(_register(world, 99)) > 0
    assert world.ps.store.get_agent("aauth:anon-99@ps.example", ap_issuer=PS) is None
    with _from_address(world, "127.0.0.2") as elsewhere:
        assert _register(world, 100, client=elsewhere).status_code == 202


def test_l10_registrations_waiting_for_approval_are_capped_in_all(tmp_path):
    """Past ``pending_registrations`` waiting from all addresses together, every address is
    refused ``429`` until one ends."""
    w = World(tmp_path, caps=Caps(registrations_per_client=3, pending_registrations=5))
    try:
        for n in range(3):
            assert _register(w, n).status_code == 202
        with _from_address(w, "127.0.0.2") as second, _from_address(w, "127.0.0.3") as third:
            assert [_register(w, n, client=second).status_code for n in (3, 4)] == [202, 202]
            assert _refused(_register(w, 5, client=third)) > 0
    finally:
        w.stop()


# -- the consent page's throttle ----------------------------------------------------------------------


def test_l10_the_consent_pages_throttle_says_when_to_try_again(world):
    """Wrong codes typed on the HTML interaction page: after five, the page is ``429`` and,
    like its problem+json twin, carries ``Retry-After`` (RFC 6585 §4)."""
    browser = logged_in_browser(world)
    for n in range(5):
        assert browser.get(f"{PS}/interaction", params={"code": f"ZZZZ-ZZZ{n}"}).status_code == 410
    page = browser.get(f"{PS}/interaction", params={"code": "ZZZZ-ZZZZ"})
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) > 0
    assert "Too many attempts" in page.text


# -- expired rows ---------------------------------------------------------------------------------------


def _counts(world) -> dict[str, int]:
    db = world.ps.store._db
    tables = ("pending", "tokens", "sessions", "agents", "revocations", "agent_tokens", "audit")
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_l10_the_sweep_deletes_expired_rows_and_keeps_live_ones_and_the_audit_log(world):
    """Rows a week and a day old — a denied request, one nobody answered, issued tokens and a
    revocation, a login session, a registration never approved — are gone after a sweep;
    what is live now stays, and the audit log only grows (it is the record)."""
    _, code, _ = world.defer()
    world.ps.decide(code, False)  # finished
    old_url, _, _ = world.defer()  # never answered
    world.person()  # a session (12 hours at most, 30 minutes unused)
    world.ps.store.create_session("alice", lifetime=30 * 24 * 3600)  # long, but it ends unused too
    assert _register(world, 1).status_code == 202  # a registration nobody approves
    old_token = world.ps.store.list_tokens()[-1]
    world.ps.store.revoke(old_token.iss, old_token.jti, old_token.exp)
    before = _counts(world)
    assert before["pending"] == 3 and before["revocations"] == 1

    world.clock.advance(CAPS.retention + 24 * 3600)
    world.agent_token = world.ps.issue_agent_token("backend", world.agent_key, name="Backend")
    live_url, _, _ = world.defer()
    done = sweep(world.ps.context)

    assert done["pending_expired"] == 2  # the registration and the unanswered request
    assert done["pending"] == 3 and done["revocations"] == 1 and done["registrations"] == 1
    assert done["sessions"] == 2 and done["tokens"] == before["tokens"]
    after = _counts(world)
    assert after["pending"] == 1 and after["sessions"] == 0 and after["revocations"] == 0
    assert {p.id for p in world.ps.store.list_pending()} == {live_url.rsplit("/", 1)[1]}
    assert world.ps.store.get_agent("aauth:anon-1@ps.example", ap_issuer=PS) is None
    assert world.ps.store.get_agent(AGENT[1], ap_issuer=PS).status == "approved"  # approved agents stay
    assert after["audit"] > before["audit"]
    assert world.poll(old_url).status_code == 404  # gone with its row


def test_l10_the_sweep_keeps_sessions_in_use(world):
    """A session used within its idle time outlives a sweep and still signs its person in;
    left unused past it, the next sweep deletes it."""
    session = world.ps.store.create_session("alice")
    world.clock.advance(SESSION_IDLE - 60)
    assert world.ps.store.session_user(session, BEARER) == "alice"
    assert sweep(world.ps.context)["sessions"] == 0
    alice = world.hosts.client(headers={"Authorization": f"Bearer {session}"}, timeout=HANG_GUARD)
    assert alice.get(f"{PS}/tokens").status_code == 200
    alice.close()
    world.clock.advance(SESSION_IDLE + 1)
    assert sweep(world.ps.context)["sessions"] == 1


def test_l10_the_ps_sweeps_on_its_own(tmp_path):
    """The sweep runs from the PS app's lifespan every ``sweep_interval``: a request whose
    time ran out becomes ``expired`` with nobody polling it."""
    w = World(tmp_path, caps=Caps(sweep_interval=0.05), pending_ttl=60)
    try:
        url, _, _ = w.defer()
        pending_id = url.rsplit("/", 1)[1]
        w.clock.advance(61)
        wait_until(lambda: w.ps.store.get_pending(pending_id).status == "expired")
    finally:
        w.stop()


# -- configuration ---------------------------------------------------------------------------------------


def test_l10_serve_takes_the_caps():
    """``aauth-kit serve`` sets each cap a class operator may change, documented in ``--help``."""
    parser = argparse.ArgumentParser()
    serve.add_cast_options(parser, seed_ports=True)
    flags = {
        "--max-pending-per-agent": "pending_per_agent",
        "--max-held-polls-per-agent": "held_polls_per_agent",
        "--max-missions-per-agent": "missions_per_agent",
        "--max-registrations-per-client": "registrations_per_client",
        "--max-pending-registrations": "pending_registrations",
        "--max-log-per-mission": "log_per_mission",
    }
    defaults = parser.parse_args([])
    for flag, field in flags.items():
        assert flag in parser.format_help()
        assert getattr(defaults, flag[2:].replace("-", "_")) == getattr(CAPS, field)
        assert getattr(parser.parse_args([flag, "7"]), flag[2:].replace("-", "_")) == 7
        with pytest.raises(SystemExit):
            parser.parse_args([flag, "0"])
    assert {f.name for f in dataclasses.fields(Caps)} >= set(flags.values())
    # and the PS gets what was given
    given = parser.parse_args([arg for n, flag in enumerate(flags) for arg in (flag, str(n + 2))])
    caps = serve.caps_from(given)
    assert {field: getattr(caps, field) for field in flags.values()} == {
        field: n + 2 for n, field in enumerate(flags.values())
    }


def test_l10_lab_hands_its_caps_to_the_ps(tmp_path):
    from aauth_kit.lab import Lab

    with Lab(mode="asgi", data_dir=tmp_path, caps=Caps(pending_per_agent=3)) as lab:
        assert lab.ps.caps.pending_per_agent == 3
