"""Persons and sessions in the Person Server's store (servers/ps/store/persons.py)."""

import sqlite3

import pytest
from aauth_kit.servers.ps.store import persons as person_store
from aauth_kit.servers.ps.store.persons import (
    BEARER,
    COOKIE,
    SESSION_IDLE,
    SESSION_LIFETIME,
    hash_password,
    verify_password,
)

from aauth_kit.errors import AAuthError, UsageError

from .ps_store_helpers import store_fixtures

clock, path, store = store_fixtures()


# -- persons and sessions --------------------------------------------------------------------------


def test_users_and_passwords(store):
    user = store.add_user("mcp-user", "user123", "MCP User")
    assert (user.username, user.display_name) == ("mcp-user", "MCP User")
    assert store.get_user("mcp-user") == user
    assert store.check_password("mcp-user", "user123")
    assert not store.check_password("mcp-user", "user124")
    assert not store.check_password("nobody", "user123")
    assert store.get_user("nobody") is None


def test_unknown_user_costs_a_password_hash(store, monkeypatch):
    """No timing shortcut for unknown usernames: the same scrypt work is done."""
    calls = []
    monkeypatch.setattr(person_store, "hash_password", lambda pw, **kw: calls.append(pw))
    assert not store.check_password("nobody", "guess")
    assert calls == ["guess"]


def test_display_name_defaults_to_username(store):
    assert store.add_user("alice", "pw").display_name == "alice"


def test_duplicate_user_is_a_conflict(store):
    store.add_user("alice", "pw")
    with pytest.raises(AAuthError) as exc:
        store.add_user("alice", "other")
    assert exc.value.code == "conflict"
    assert store.check_password("alice", "pw")


def test_passwords_are_salted_hashes(path, store):
    store.add_user("alice", "same")
    store.add_user("bob", "same")
    db = sqlite3.connect(path)
    hashes = [h for (h,) in db.execute("SELECT password_hash FROM users")]
    db.close()
    assert len(set(hashes)) == 2 and all(h.startswith("scrypt$") and "same" not in h for h in hashes)
    assert verify_password("same", hashes[0]) and not verify_password("Same", hashes[0])
    assert hash_password("x", salt=b"s" * 16) == hash_password("x", salt=b"s" * 16)


def test_sessions(path, store, clock):
    store.add_user("alice", "pw")
    token = store.create_session("alice", BEARER, lifetime=60)
    other = store.create_session("alice", BEARER, lifetime=60)
    assert token != other and len(token) >= 40
    assert store.session_user(token, BEARER) == "alice"
    assert store.session_user("forged", BEARER) is None
    store.delete_session(token)
    assert store.session_user(token, BEARER) is None
    assert store.session_user(other, BEARER) == "alice"
    clock.now += 60
    assert store.session_user(other, BEARER) is None
    db = sqlite3.connect(path)
    assert token not in str(db.execute("SELECT * FROM sessions").fetchall())  # stored by hash
    fresh = store.create_session("alice", COOKIE)  # purges the expired session
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert store.session_user(fresh, COOKIE) == "alice"
    db.close()


def test_session_cookie_and_bearer_sessions_are_different_credentials(store):
    """A cookie session's token is never a Bearer session and the other way round."""
    store.add_user("alice", "pw")
    cookie, bearer = store.create_session("alice", COOKIE), store.create_session("alice", BEARER)
    assert (store.session_user(cookie, COOKIE), store.session_user(bearer, BEARER)) == ("alice", "alice")
    assert (store.session_user(cookie, BEARER), store.session_user(bearer, COOKIE)) == (None, None)
    with pytest.raises(UsageError):
        store.create_session("alice", "both")


def test_session_ends_when_idle_and_when_old(path, store, clock):
    """OWASP ASVS level 2 V3.3.2: unused for 30 minutes, or 12 hours after sign-in, a session
    is over, however often it was used; each use restarts the idle time.  Ended sessions are
    purged at the next sign-in."""
    store.add_user("alice", "pw")
    signed_in = clock.now
    idle = store.create_session("alice", COOKIE)
    busy = store.create_session("alice", BEARER)
    clock.now += SESSION_IDLE - 1
    assert store.session_user(busy, BEARER) == "alice"
    clock.now += 2  # idle: SESSION_IDLE + 1 since sign-in; busy: 2 s since its last use
    assert store.session_user(idle, COOKIE) is None
    assert store.session_user(busy, BEARER) == "alice"
    while clock.now + SESSION_IDLE / 2 < signed_in + SESSION_LIFETIME:
        clock.now += SESSION_IDLE / 2
        assert store.session_user(busy, BEARER) == "alice"
    clock.now += SESSION_IDLE / 2  # past the lifetime, though used a moment ago
    assert store.session_user(busy, BEARER) is None
    store.create_session("alice", COOKIE)
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    db.close()


def test_session_for_unknown_user(store):
    with pytest.raises(AAuthError) as exc:
        store.create_session("nobody", COOKIE)
    assert exc.value.code == "not_found"


def test_list_users(store):
    store.add_user("mcp-user", "user123")
    store.add_user("alice", "pw", "Alice")
    assert [(u.username, u.display_name) for u in store.list_users()] == [
        ("alice", "Alice"),
        ("mcp-user", "mcp-user"),
    ]
