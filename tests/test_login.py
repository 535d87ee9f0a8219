"""Signing in at the Person Server under attack (finding M7): guessing is throttled (``429
rate_limited`` with ``Retry-After``, OWASP ASVS level 2 V2.2.1), scrypt runs off the event loop
the cast shares, and an over-long password is refused before any hashing (ASVS V2.1.2).

Over real loopback sockets: the throttle keys on the client address the socket shows.
"""

from __future__ import annotations

import hashlib
import threading

from aauth_kit.servers.ps import persons

from aauth_kit.lab import Lab

from .ps_world import HANG_GUARD, PS, World, error_of, form_fields, world_fixture

world = world_fixture()


def login(client, username="mcp-user", password="wrong"):
    return client.post(f"{PS}/login", json={"username": username, "password": password})


def test_m7_guessing_a_password_gets_429_and_a_lockout(world):
    """Five wrong passwords for one person, then even the right one is ``429 rate_limited``
    with ``Retry-After`` for the lockout window; another person is not locked."""
    client = world.hosts.client(timeout=HANG_GUARD)
    for _ in range(persons.LOGIN_FAILURES):
        answer = login(client)
        assert (answer.status_code, error_of(answer)) == (401, "unauthorized")
    locked = login(client, password="user123")
    assert (locked.status_code, error_of(locked)) == (429, "rate_limited")
    assert 0 < int(locked.headers["retry-after"]) <= persons.LOGIN_WINDOW
    assert locked.json()["retry_after"] == int(locked.headers["retry-after"])
    assert login(client, "alice", "alice-pw").status_code == 200
    browser = world.hosts.client(timeout=HANG_GUARD)
    csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]
    form = {"username": "mcp-user", "password": "user123", "next": "/interaction", "csrf": csrf}
    page = browser.post(f"{PS}/login", data=form)
    assert page.status_code == 429 and "Too many attempts" in page.text
    assert page.headers["retry-after"] == locked.headers["retry-after"]


def test_m7_the_lockout_runs_on_the_ps_clock(world):
    """The lockout is measured on the PS's clock (a lab's frozen clock in a docs-mode
    notebook: the same ``Retry-After`` on every run); once the window has passed on that
    clock, the person signs in again."""
    client = world.hosts.client(timeout=HANG_GUARD)
    for _ in range(persons.LOGIN_FAILURES):
        login(client)
    locked = login(client, password="user123")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) == persons.LOGIN_WINDOW
    world.clock.advance(persons.LOGIN_WINDOW + 1)
    assert login(client, password="user123").status_code == 200


def test_m7_guessing_many_usernames_from_one_address_gets_429(tmp_path, monkeypatch):
    """The per-address throttle: failures over many usernames from one address add up."""
    monkeypatch.setattr(persons, "LOGIN_FAILURES_PER_ADDRESS", 3)
    world = World(tmp_path)
    try:
        client = world.hosts.client(timeout=HANG_GUARD)
        for name in ("a", "b", "c"):
            assert login(client, name).status_code == 401
        locked = login(client, "d")
        assert (locked.status_code, error_of(locked)) == (429, "rate_limited")
        assert int(locked.headers["retry-after"]) > 0
    finally:
        world.stop()


def test_m7_other_servers_answer_while_logins_hash(tmp_path, monkeypatch):
    """The cast shares one event loop.  Logins are held inside scrypt (a gate the test opens);
    meanwhile the backend's ``/health`` answers: the hashing is off the loop.  Ordering, not
    time: the GET completes while every login is still inside scrypt."""
    with Lab(mode="socket", data_dir=tmp_path) as lab:
        inside, release, real = threading.Semaphore(0), threading.Event(), hashlib.scrypt

        def gated(*args, **kwargs):
            inside.release()
            release.wait(10)  # on the event loop this would hold every server: the guard ends it
            return real(*args, **kwargs)

        monkeypatch.setattr(hashlib, "scrypt", gated)
        order: list[str] = []

        def guess():
            with lab.hosts.client(timeout=HANG_GUARD) as client:
                client.post(
                    f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": "guess"}
                )
            order.append("login")

        logins = [threading.Thread(target=guess) for _ in range(3)]
        for thread in logins:
            thread.start()
        assert inside.acquire(timeout=HANG_GUARD)  # a login is hashing now
        with lab.hosts.client(timeout=HANG_GUARD) as client:
            assert client.get(f"{lab.identifiers['backend']}/health").status_code == 200
        order.append("health")
        release.set()
        for thread in logins:
            thread.join(HANG_GUARD)
        assert order == ["health", "login", "login", "login"]


def test_m7_guesses_sent_at_once_meet_the_limit_too(tmp_path, monkeypatch):
    """Twenty guesses in flight together, the right password among them: each is counted
    before its hash is awaited, so all past the limit are ``429`` and none signs in
    (counted after the hash, every guess passed the check while the others were hashing)."""
    with Lab(mode="socket", data_dir=tmp_path) as lab:
        inside, release, real = threading.Semaphore(0), threading.Event(), hashlib.scrypt

        def gated(*args, **kwargs):
            inside.release()
            release.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(hashlib, "scrypt", gated)
        statuses: list[int] = []

        def guess(password):
            with lab.hosts.client(timeout=HANG_GUARD) as client:
                answer = client.post(
                    f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": password}
                )
            statuses.append(answer.status_code)

        passwords = [f"guess-{n}" for n in range(19)] + ["user123"]
        guesses = [threading.Thread(target=guess, args=(p,)) for p in passwords]
        for thread in guesses[:-1]:
            thread.start()
        for _ in range(persons.LOGIN_FAILURES):
            assert inside.acquire(timeout=HANG_GUARD)  # the first five are hashing
        guesses[-1].start()  # the right password, while the wrong ones are still in scrypt
        guesses[-1].join(HANG_GUARD)
        release.set()
        for thread in guesses:
            thread.join(HANG_GUARD)
    assert sorted(statuses) == [401] * persons.LOGIN_FAILURES + [429] * (20 - persons.LOGIN_FAILURES)


def test_m7_a_huge_password_is_refused_before_hashing(world, monkeypatch):
    """A password over :data:`persons.MAX_PASSWORD` characters is ``400 invalid_request``
    and scrypt never runs; one at the limit is hashed and checked as usual."""
    hashed = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: hashed.append(1) or real(*a, **k))
    client = world.hosts.client(timeout=HANG_GUARD)
    for size in (persons.MAX_PASSWORD + 1, 1_000_000):
        answer = login(client, password="x" * size)
        assert (answer.status_code, error_of(answer)) == (400, "invalid_request"), size
    assert hashed == []
    assert login(client, password="x" * persons.MAX_PASSWORD).status_code == 401
    assert hashed == [1]
