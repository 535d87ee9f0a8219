"""The Person Server's SQLite file: its schema, the migrations from older versions, and
the one connection every area store works through.

One connection serves the whole server (``check_same_thread=False``) behind a lock; every
write is one ``BEGIN IMMEDIATE`` transaction, so a check-then-update (a decision) is atomic
even against a second process on the same file.  A new file gets the current schema; an
older one is brought up step by step (``PRAGMA user_version``); a newer one is refused.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from aauth_kit.errors import UsageError
from aauth_kit.key_files import FILE_MODE, private_directory, restrict

SCHEMA_VERSION = 10

#: Schema version → the statements that bring a file of the version before up to it.
_MIGRATIONS = {
    2: ("ALTER TABLE agents ADD COLUMN name TEXT", "ALTER TABLE pending ADD COLUMN answered_at REAL"),
    3: (
        "CREATE TABLE IF NOT EXISTS agent_tokens (iss TEXT NOT NULL, jti TEXT NOT NULL, sub TEXT NOT NULL,"
        " exp INTEGER NOT NULL, PRIMARY KEY (iss, jti))",
    ),
    4: (
        "CREATE TABLE IF NOT EXISTS missions (s256 TEXT PRIMARY KEY, agent_id TEXT NOT NULL,"
        " username TEXT NOT NULL, blob BLOB NOT NULL, status TEXT NOT NULL, termination_reason TEXT,"
        " expires_at REAL, created_at REAL NOT NULL, terminated_at REAL, summary TEXT)",
    ),
    5: (
        "CREATE TABLE IF NOT EXISTS mission_updates (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " mission_s256 TEXT NOT NULL, s256 TEXT NOT NULL, body BLOB NOT NULL, created_at REAL NOT NULL)",
    ),
    # -11 "Agent-Person Binding": an agent is (agent_token.iss, agent_token.sub); the rows keep
    # their agent's issuer, found from the agent row they name (unique by sub before)
    6: (
        ("pending", "agent_iss TEXT NOT NULL DEFAULT ''"),
        "UPDATE pending SET agent_iss = coalesce(json_extract(request, '$.agent_ap'),"
        " (SELECT ap_issuer FROM agents WHERE agents.agent_id = pending.agent_id), '')"
        " WHERE agent_iss = ''",
        ("tokens", "agent_iss TEXT"),
        "UPDATE tokens SET agent_iss = CASE WHEN typ = 'aa-agent+jwt' THEN iss"
        " ELSE (SELECT ap_issuer FROM agents WHERE agents.agent_id = tokens.agent_id) END"
        " WHERE agent_iss IS NULL",
        ("missions", "agent_iss TEXT NOT NULL DEFAULT ''"),
        "UPDATE missions SET agent_iss ="
        " coalesce((SELECT ap_issuer FROM agents WHERE agents.agent_id = missions.agent_id), '')"
        " WHERE agent_iss = ''",
        "CREATE TABLE agents_by_issuer (agent_id TEXT NOT NULL, ap_issuer TEXT NOT NULL, username TEXT,"
        " status TEXT NOT NULL, agent_jkt TEXT NOT NULL, created_at REAL NOT NULL, name TEXT,"
        " PRIMARY KEY (ap_issuer, agent_id))",
        "INSERT INTO agents_by_issuer SELECT agent_id, ap_issuer, username, status, agent_jkt, created_at, name"
        " FROM agents",
        "DROP TABLE agents",
        "ALTER TABLE agents_by_issuer RENAME TO agents",
    ),
    # administrators, and whose audit entries are whose (a person sees their own)
    7: (("users", "admin INTEGER NOT NULL DEFAULT 0"), ("audit", "person TEXT")),
    # -11 "Interaction Code Format": a code is single use; who redeemed it
    8: (("pending", "opened_by TEXT"),),
    # a session is a cookie's or a Bearer token's, never both, and ends when unused (OWASP ASVS
    # level 2 V3.3.2); the sessions of an older file, good as both, match neither kind: void
    9: (("sessions", "kind TEXT NOT NULL DEFAULT ''"), ("sessions", "last_used REAL NOT NULL DEFAULT 0")),
    # -11 "Agent Token Request": within a mission the PS uses the capabilities captured at its
    # approval when a request declares none (a mission of an older file captured none)
    10: (("missions", "capabilities TEXT"),),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT '', last_used REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT NOT NULL, ap_issuer TEXT NOT NULL, username TEXT, status TEXT NOT NULL,
    agent_jkt TEXT NOT NULL, created_at REAL NOT NULL, name TEXT, PRIMARY KEY (ap_issuer, agent_id));
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, agent_id TEXT NOT NULL, agent_jkt TEXT NOT NULL,
    resource TEXT, scope TEXT, justification TEXT, code TEXT, request TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    decided_at REAL, decided_by TEXT, result TEXT, last_poll_at REAL,
    poll_count INTEGER NOT NULL DEFAULT 0, answered_at REAL, agent_iss TEXT NOT NULL DEFAULT '',
    opened_by TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS pending_live_code ON pending (code)
    WHERE status IN ('pending', 'interacting');
CREATE TABLE IF NOT EXISTS tokens (
    iss TEXT NOT NULL, jti TEXT NOT NULL, typ TEXT NOT NULL, aud TEXT, sub TEXT, agent_id TEXT,
    scope TEXT, iat INTEGER NOT NULL, exp INTEGER NOT NULL, agent_iss TEXT, PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS agent_tokens (
    iss TEXT NOT NULL, jti TEXT NOT NULL, sub TEXT NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS missions (
    s256 TEXT PRIMARY KEY, agent_id TEXT NOT NULL, username TEXT NOT NULL, blob BLOB NOT NULL,
    status TEXT NOT NULL, termination_reason TEXT, expires_at REAL, created_at REAL NOT NULL,
    terminated_at REAL, summary TEXT, agent_iss TEXT NOT NULL DEFAULT '', capabilities TEXT);
CREATE TABLE IF NOT EXISTS mission_updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mission_s256 TEXT NOT NULL, s256 TEXT NOT NULL, body BLOB NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (
    iss TEXT NOT NULL, jti TEXT NOT NULL, exp INTEGER NOT NULL, revoked_at REAL NOT NULL,
    PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL, person TEXT);
CREATE INDEX IF NOT EXISTS audit_mission ON audit (json_extract(details, '$.mission_s256'));
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def _missing_table(db: sqlite3.Connection, statement: str) -> bool:
    """An ``UPDATE`` of a table the file does not have yet (it is created whole afterwards)."""
    if not statement.startswith("UPDATE "):
        return False
    table = statement.split()[1]
    return not db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()


def check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UsageError(f"{value!r} is not a {what} (one of {', '.join(allowed)})")
    return value


class Database:
    """The SQLite file at ``path`` (created if missing, migrated if older), one connection
    behind a lock; the area stores below add their tables' operations."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        private_directory(Path(path).parent)
        if not Path(path).exists():  # created owner-only; SQLite gives its -wal and -shm the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        for kept in (path, f"{path}-wal", f"{path}-shm"):  # an older file is tightened
            restrict(kept)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise UsageError(f"{path} has schema version {version}; this kit knows {SCHEMA_VERSION}")
        self._db.execute("PRAGMA journal_mode=WAL")
        if version == 0:  # a new file: create the current schema
            self._db.executescript(_SCHEMA)
        if version:  # an older file: bring it up step by step, then add the tables it lacks
            self._migrate(version)
            self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self, version: int) -> None:
        """All steps after ``version`` in one transaction.  A step is SQL, or ``(table, column
        definition)``: add the column if the table exists without it (a table the file never
        had is created whole afterwards)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    if isinstance(statement, tuple):
                        table, column = statement
                        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                        if have and column.split()[0] not in have:
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                    elif not _missing_table(db, statement):
                        db.execute(statement)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _tx(self):
        """One write transaction, holding the lock and SQLite's write lock throughout."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()
