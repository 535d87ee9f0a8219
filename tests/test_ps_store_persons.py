"""Persons and sessions in the Person Server's store (servers/ps/store/persons.py)."""

import sqlite3

import pytest
from aauth_kit.servers.ps.store import persons as person_store
from aauth_kit.servers.ps.store.persons import hash_password, verify_password

from aauth_kit.errors import AAuthError

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
    token = store.create_session("alice", ttl=60)
    other = store.create_session("alice", ttl=60)
    assert token != other and len(token) >= 40
    assert store.session_user(token) == "alice"
    assert store.session_user("forged") is None
    store.delete_session(token)
    assert store.session_user(token) is None
    assert store.session_user(other) == "alice"
    clock.now += 60
    assert store.session_user(other) is None
    db = sqlite3.connect(path)
    assert token not in str(db.execute("SELECT * FROM sessions").fetchall())  # stored by hash
    fresh = store.create_session("alice")  # purges the expired session
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert store.session_user(fresh) == "alice"
    db.close()


def test_session_for_unknown_user(store):
    with pytest.raises(AAuthError) as exc:
        store.create_session("nobody")
    assert exc.value.code == "not_found"


def test_list_users(store):
    store.add_user("mcp-user", "user123")
    store.add_user("alice", "pw", "Alice")
    assert [(u.username, u.display_name) for u in store.list_users()] == [
        ("alice", "Alice"),
        ("mcp-user", "mcp-user"),
    ]
