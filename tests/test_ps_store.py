"""The Person Server's SQLite file (servers/ps/store/schema.py): creation, schema version,
migrations, and everything surviving a restart.
"""

import sqlite3

import pytest
from aauth_kit.servers.ps.store import PSStore
from aauth_kit.servers.ps.store.persons import BEARER, COOKIE
from aauth_kit.servers.ps.store.schema import SCHEMA_VERSION

from aauth_kit.errors import AAuthError, UsageError

from .ps_store_helpers import AGENT, JKT, new_pending, store_fixtures

clock, path, store = store_fixtures()


# -- schema ----------------------------------------------------------------------------------------


def test_creates_the_file_wal_and_schema_version(path, store):
    """One SQLite file in a data directory (created), WAL, a schema version."""
    assert path.exists()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_schema_creation_is_idempotent(path, clock):
    for _ in range(2):
        with PSStore(path, clock=clock) as s:
            s.audit("ps", "started")
    with PSStore(path, clock=clock) as s:
        assert [e.action for e in s.audit_log()] == ["started", "started"]


def test_refuses_a_newer_schema(path):
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UsageError):
        PSStore(path)


def test_migrates_a_version_1_file(path, clock):
    """A data directory from the previous schema keeps its rows and gains
    the new columns (agent display names, answered pending requests)."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, ap_issuer TEXT NOT NULL, username TEXT,"
        " status TEXT NOT NULL, agent_jkt TEXT NOT NULL, created_at REAL NOT NULL);"
        "CREATE TABLE pending (id TEXT PRIMARY KEY, kind TEXT NOT NULL, agent_id TEXT NOT NULL,"
        " agent_jkt TEXT NOT NULL, resource TEXT, scope TEXT, justification TEXT, code TEXT, request TEXT NOT NULL,"
        " status TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, decided_at REAL,"
        " decided_by TEXT, result TEXT, last_poll_at REAL, poll_count INTEGER NOT NULL DEFAULT 0);"
        f"INSERT INTO agents VALUES ('{AGENT}', 'https://ps.example', 'mcp-user', 'approved', '{JKT}', 1.0);"
        f"INSERT INTO pending (id, kind, agent_id, agent_jkt, request, status, created_at, expires_at)"
        f" VALUES ('p1', 'auth_token', '{AGENT}', '{JKT}', '{{}}', 'denied', 1.0, 2.0);"
        "PRAGMA user_version=1;"
    )
    db.close()
    with PSStore(path, clock=clock) as s:
        assert s.get_agent(AGENT, ap_issuer="https://ps.example").name is None
        assert (
            s.upsert_agent(AGENT, ap_issuer="https://ps.example", agent_jkt=JKT, name="Backend").name
            == "Backend"
        )
        assert s.claim_answer("p1").answered_at == clock.now
        # -11 "Agent-Person Binding": the pending row learns its agent's issuer from the agent row
        assert s.get_pending("p1").agent_iss == "https://ps.example"
        assert s.get_agent(AGENT, ap_issuer="https://other.example") is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_session_of_a_version_8_file_is_neither_kind(path, clock):
    """Before version 9 one session token was good as a cookie and as a Bearer token; the
    migration cannot tell which it was meant for, so such a session is void: its person signs
    in again."""
    with PSStore(path, clock=clock) as s:
        s.add_user("mcp-user", "user123")
        token = s.create_session("mcp-user", BEARER)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE old_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,"
        " expires_at REAL NOT NULL);"
        "INSERT INTO old_sessions SELECT token_hash, username, expires_at FROM sessions;"
        "DROP TABLE sessions; ALTER TABLE old_sessions RENAME TO sessions; PRAGMA user_version=8;"
    )
    db.close()
    with PSStore(path, clock=clock) as s:
        assert (s.session_user(token, BEARER), s.session_user(token, COOKIE)) == (None, None)
        assert s.session_user(s.create_session("mcp-user", COOKIE), COOKIE) == "mcp-user"


# -- restart ---------------------------------------------------------------------------------------


def test_restart_keeps_everything(path, clock):
    """Nothing is lost when the server restarts."""
    with PSStore(path, clock=clock) as s:
        s.add_user("mcp-user", "user123", "MCP User")
        session = s.create_session("mcp-user", BEARER)
        s.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=JKT, username="mcp-user")
        waiting = new_pending(s, code="WAIT-0001")
        approved = new_pending(s, code="DONE-0001")
        s.decide(approved.id, True, "mcp-user")
        s.set_result(approved.id, {"auth_token": "eyJ...", "expires_in": 3600})
        denied = new_pending(s, code=None)
        s.decide(denied.id, False, "mcp-user")
        s.record_poll(waiting.id)
        claims = dict(
            typ="aa-auth+jwt", iss="https://ps.example", aud="https://sca.example", sub="u1", scope="s"
        )
        s.record_token(jti="j1", agent_id=AGENT, agent_iss="https://backend.example", iat=1, exp=2, **claims)
        s.revoke("https://ps.example", "j1", 2)
        s.audit("mcp-user", "approved", approved.id, {"scope": "data.read"})
        before = (s.list_pending(), s.list_agents(), s.list_tokens(), s.audit_log())

    with PSStore(path, clock=clock) as s:
        assert (s.list_pending(), s.list_agents(), s.list_tokens(), s.audit_log()) == before
        assert s.check_password("mcp-user", "user123")
        assert s.session_user(session, BEARER) == "mcp-user"
        assert s.find_by_code("wait-0001").id == waiting.id
        assert s.get_pending(approved.id).result == {"auth_token": "eyJ...", "expires_in": 3600}
        assert s.get_pending(denied.id).status == "denied"
        assert s.is_revoked("https://ps.example", "j1")
        with pytest.raises(AAuthError) as exc:
            s.decide(approved.id, False, "mallory")  # a decision survives a restart, still final
        assert exc.value.code == "conflict"
        assert s.decide(waiting.id, True, "mcp-user").status == "approved"
