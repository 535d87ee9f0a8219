"""The Person Server's durable state in one SQLite file (DESIGN §4 "State").

What survives a restart: persons and their login sessions, agents bound to persons,
pending requests of draft -11 deferred responses (with the person's decision and the
result a later poll returns), approved missions (-11 §8: the exact blob bytes, keyed by
their ``s256``, with their state, and the exact bytes of each update), the ids of issued
tokens, the agent tokens it acted on (so a revoked agent token leads to its agent),
revocations by ``(iss, jti)`` (-11 §11.12 "Revocation") and an append-only audit log.

A pending request is *live* while its status is ``pending`` or ``interacting`` and its
``expires_at`` lies ahead; only a live request can be decided, abandoned or cancelled,
and only a live request answers to its interaction code (stored in canonical form,
unique among live requests; -11 "Interaction Code Format").  Reads never change state:
call :meth:`PSStore.expire_due` to move overdue requests to ``expired``.  A request
that has given its final answer to a poll (token, ``denied``, ``expired``, …) is marked
*answered* exactly once (:meth:`PSStore.claim_answer`); later polls get ``410``.

One connection serves the whole server (``check_same_thread=False``) behind a lock;
every write is one ``BEGIN IMMEDIATE`` transaction, so a check-then-update (a decision)
is atomic even against a second process on the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aauth_kit.audit import AuditEntry
from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.interaction import normalize_code
from aauth_kit.keys import b64url, b64url_decode

SCHEMA_VERSION = 5
PENDING_KINDS = ("person_token", "auth_token", "agent_approval", "mission")
PENDING_STATUSES = (
    "pending",
    "interacting",
    "approved",
    "denied",
    "abandoned",
    "expired",
    "cancelled",
    "completed",
    "revoked",
)
LIVE = ("pending", "interacting")
AGENT_STATUSES = ("pending_approval", "approved", "denied")
#: -11 §8 mission states and the reasons a mission is terminated (wire §4.5).
MISSION_STATUSES = ("active", "terminated")
TERMINATION_REASONS = ("completed", "revoked", "expired", "superseded", "administrative")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

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
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY, ap_issuer TEXT NOT NULL, username TEXT, status TEXT NOT NULL,
    agent_jkt TEXT NOT NULL, created_at REAL NOT NULL, name TEXT);
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, agent_id TEXT NOT NULL, agent_jkt TEXT NOT NULL,
    resource TEXT, scope TEXT, justification TEXT, code TEXT, request TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    decided_at REAL, decided_by TEXT, result TEXT, last_poll_at REAL,
    poll_count INTEGER NOT NULL DEFAULT 0, answered_at REAL);
CREATE UNIQUE INDEX IF NOT EXISTS pending_live_code ON pending (code)
    WHERE status IN ('pending', 'interacting');
CREATE TABLE IF NOT EXISTS tokens (
    iss TEXT NOT NULL, jti TEXT NOT NULL, typ TEXT NOT NULL, aud TEXT, sub TEXT, agent_id TEXT,
    scope TEXT, iat INTEGER NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS agent_tokens (
    iss TEXT NOT NULL, jti TEXT NOT NULL, sub TEXT NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS missions (
    s256 TEXT PRIMARY KEY, agent_id TEXT NOT NULL, username TEXT NOT NULL, blob BLOB NOT NULL,
    status TEXT NOT NULL, termination_reason TEXT, expires_at REAL, created_at REAL NOT NULL,
    terminated_at REAL, summary TEXT);
CREATE TABLE IF NOT EXISTS mission_updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mission_s256 TEXT NOT NULL, s256 TEXT NOT NULL, body BLOB NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (
    iss TEXT NOT NULL, jti TEXT NOT NULL, exp INTEGER NOT NULL, revoked_at REAL NOT NULL,
    PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str


@dataclass(frozen=True)
class Agent:
    agent_id: str
    ap_issuer: str
    username: str | None
    status: str
    agent_jkt: str
    created_at: float
    name: str | None = None


@dataclass(frozen=True)
class Pending:
    """A deferred request; ``request`` and ``result`` are the stored JSON values."""

    id: str
    kind: str
    agent_id: str
    agent_jkt: str
    resource: str | None
    scope: str | None
    justification: str | None
    code: str | None
    request: Any
    status: str
    created_at: float
    expires_at: float
    decided_at: float | None
    decided_by: str | None
    result: Any
    last_poll_at: float | None
    poll_count: int
    answered_at: float | None = None


@dataclass(frozen=True)
class IssuedToken:
    jti: str
    typ: str
    iss: str
    aud: str | None
    sub: str | None
    agent_id: str | None
    scope: str | None
    iat: int
    exp: int


@dataclass(frozen=True)
class Mission:
    """An approved mission (-11 §8): ``blob`` is the exact bytes whose SHA-256 is ``s256``."""

    s256: str
    agent_id: str
    username: str
    blob: bytes
    status: str
    termination_reason: str | None
    expires_at: float | None
    created_at: float
    terminated_at: float | None
    summary: str | None


@dataclass(frozen=True)
class MissionUpdate:
    """An agent's update of a mission (-11 §8.4): ``body`` the exact bytes persisted, ``s256``
    their SHA-256; the mission's blob and ``s256`` stay as they were."""

    seq: int
    mission_s256: str
    s256: str
    body: bytes
    created_at: float


def mission_s256(blob: bytes) -> str:
    """-11 §8.2: base64url (no padding) SHA-256 of exactly the blob bytes."""
    return b64url(hashlib.sha256(blob).digest())


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt per user."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "$".join(["scrypt", *(str(_SCRYPT[k]) for k in "nrp"), b64url(salt), b64url(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Recompute with the stored parameters and compare in constant time."""
    _, n, r, p, salt, digest = stored.split("$")
    expected = b64url_decode(digest)
    actual = hashlib.scrypt(password.encode(), salt=b64url_decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(actual, expected)


def _session_hash(token: str) -> str:
    """Sessions are stored by hash, so the database file holds no live session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UsageError(f"{value!r} is not a {what} (one of {', '.join(allowed)})")
    return value


def _require_active_mission(db, s256: str) -> None:
    """Inside a transaction: mission ``s256`` exists (else ``not_found``) and is ``active``
    (else ``conflict``)."""
    row = db.execute("SELECT status FROM missions WHERE s256 = ?", (s256,)).fetchone()
    if row is None:
        raise AAuthError("not_found", f"no mission {s256!r}")
    if row["status"] != "active":
        raise AAuthError("conflict", f"mission {s256!r} is already {row['status']}")


class PSStore:
    """The Person Server's state in the SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise UsageError(f"{path} has schema version {version}; this kit knows {SCHEMA_VERSION}")
        self._db.execute("PRAGMA journal_mode=WAL")
        if version == 0:  # a new file: create the current schema
            self._db.executescript(_SCHEMA)
        for step in range(version + 1, SCHEMA_VERSION + 1) if version else ():
            for statement in _MIGRATIONS[step]:
                self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PSStore:
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

    # -- persons and sessions ------------------------------------------------------

    def add_user(self, username: str, password: str, display_name: str | None = None) -> User:
        """Add a person; ``conflict`` if the username is taken."""
        row = (username, hash_password(password), display_name or username)
        try:
            with self._tx() as db:
                db.execute("INSERT INTO users VALUES (?, ?, ?)", row)
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"user {username!r} exists") from None
        return User(username, row[2])

    def get_user(self, username: str) -> User | None:
        rows = self._read("SELECT username, display_name FROM users WHERE username = ?", (username,))
        return User(**rows[0]) if rows else None

    def list_users(self) -> list[User]:
        rows = self._read("SELECT username, display_name FROM users ORDER BY username")
        return [User(**r) for r in rows]

    def check_password(self, username: str, password: str) -> bool:
        """True only for a known user with this password (unknown users cost the same time)."""
        rows = self._read("SELECT password_hash FROM users WHERE username = ?", (username,))
        if not rows:
            hash_password(password, salt=bytes(16))  # the same work, so timing does not reveal the user
            return False
        return verify_password(password, rows[0]["password_hash"])

    def create_session(self, username: str, *, ttl: float = 8 * 3600) -> str:
        """A fresh opaque session token for a known user, valid ``ttl`` seconds (expired ones are purged)."""
        token, now = secrets.token_urlsafe(32), self._clock()
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise AAuthError("not_found", f"no user {username!r}")
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (_session_hash(token), username, now + ttl))
        return token

    def session_user(self, token: str) -> str | None:
        """The username a live session token belongs to; ``None`` if unknown or expired."""
        rows = self._read(
            "SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?",
            (_session_hash(token), self._clock()),
        )
        return rows[0]["username"] if rows else None

    def delete_session(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_session_hash(token),))

    # -- agents --------------------------------------------------------------------

    def upsert_agent(
        self,
        agent_id: str,
        *,
        ap_issuer: str,
        agent_jkt: str,
        username: str | None = None,
        status: str | None = None,
        name: str | None = None,
    ) -> Agent:
        """Record an agent, or update its AP, key, person and display name; ``status``,
        ``username`` and ``name`` change only when given (a new agent starts ``pending_approval``)."""
        if status is not None:
            _check(status, AGENT_STATUSES, "agent status")
        with self._tx() as db:
            db.execute(
                "INSERT INTO agents (agent_id, ap_issuer, username, status, agent_jkt, created_at, name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET"
                " ap_issuer = excluded.ap_issuer, agent_jkt = excluded.agent_jkt,"
                " username = coalesce(excluded.username, username),"
                " name = coalesce(excluded.name, name),"
                " status = coalesce(?, status)",
                (
                    agent_id,
                    ap_issuer,
                    username,
                    status or "pending_approval",
                    agent_jkt,
                    self._clock(),
                    name,
                    status,
                ),
            )
            return Agent(**db.execute("SELECT * FROM agents WHERE agent_id = ?", (agent_id,)).fetchone())

    def get_agent(self, agent_id: str) -> Agent | None:
        rows = self._read("SELECT * FROM agents WHERE agent_id = ?", (agent_id,))
        return Agent(**rows[0]) if rows else None

    def list_agents(self, *, username: str | None = None, status: str | None = None) -> list[Agent]:
        rows = self._read(
            "SELECT * FROM agents WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR status = ?2)"
            " ORDER BY created_at, agent_id",
            (username, status),
        )
        return [Agent(**r) for r in rows]

    def set_agent_status(self, agent_id: str, status: str) -> Agent:
        _check(status, AGENT_STATUSES, "agent status")
        with self._tx() as db:
            if not db.execute("UPDATE agents SET status = ? WHERE agent_id = ?", (status, agent_id)).rowcount:
                raise AAuthError("not_found", f"no agent {agent_id!r}")
            return Agent(**db.execute("SELECT * FROM agents WHERE agent_id = ?", (agent_id,)).fetchone())

    # -- pending requests (deferred responses) -------------------------------------

    @staticmethod
    def _pending(row: sqlite3.Row) -> Pending:
        d = dict(row)
        result = json.loads(d["result"]) if d["result"] is not None else None
        return Pending(**d | {"request": json.loads(d["request"]), "result": result})

    def create_pending(
        self,
        kind: str,
        *,
        agent_id: str,
        agent_jkt: str,
        request: Any,
        expires_in: float = 600,
        resource: str | None = None,
        scope: str | None = None,
        justification: str | None = None,
        code: str | None = None,
        pending_id: str | None = None,
    ) -> Pending:
        """Store a new ``pending`` request.  ``code`` (any accepted spelling) is kept canonical;
        ``conflict`` if a live request holds it already.  ``pending_id`` defaults to a random
        URL-safe id."""
        _check(kind, PENDING_KINDS, "pending request kind")
        code = normalize_code(code) if code is not None else None
        now = self._clock()
        pending_id = pending_id or secrets.token_urlsafe(16)
        row = (
            pending_id,
            kind,
            agent_id,
            agent_jkt,
            resource,
            scope,
            justification,
            code,
            json.dumps(request),
        )
        try:
            with self._tx() as db:
                db.execute(
                    "UPDATE pending SET status = 'expired' WHERE code = ? AND status IN ('pending', 'interacting')"
                    " AND expires_at <= ?",
                    (code, now),
                )
                db.execute(
                    "INSERT INTO pending (id, kind, agent_id, agent_jkt, resource, scope, justification, code,"
                    " request, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (*row, now, now + expires_in),
                )
                return self._pending(
                    db.execute("SELECT * FROM pending WHERE id = ?", (pending_id,)).fetchone()
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", "pending id or interaction code already in use") from None

    def get_pending(self, pending_id: str, *, agent_jkt: str | None = None) -> Pending | None:
        """The request, in any status; with ``agent_jkt`` only if that agent key created it
        (a pending URL answers only to its own agent)."""
        rows = self._read(
            "SELECT * FROM pending WHERE id = ?1 AND (?2 IS NULL OR agent_jkt = ?2)", (pending_id, agent_jkt)
        )
        return self._pending(rows[0]) if rows else None

    def find_by_code(self, code: str) -> Pending | None:
        """The live request holding ``code`` (hyphens, case and look-alikes ignored); ``None``
        when no live request holds it or the text cannot be a code."""
        try:
            canonical = normalize_code(code)
        except AAuthError:
            return None
        rows = self._read(
            "SELECT * FROM pending WHERE code = ? AND status IN ('pending', 'interacting') AND expires_at > ?",
            (canonical, self._clock()),
        )
        return self._pending(rows[0]) if rows else None

    def list_pending(self, status: str | None = None) -> list[Pending]:
        rows = self._read(
            "SELECT * FROM pending WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, id", (status,)
        )
        return [self._pending(r) for r in rows]

    def _transition(self, pending_id: str, to: str, allowed: tuple[str, ...], **columns) -> Pending:
        """Move a request to ``to`` if its status is in ``allowed`` (and, if live, not overdue):
        ``not_found``, ``conflict`` (already moved on) or ``expired`` otherwise."""
        with self._tx() as db:
            row = db.execute("SELECT status, expires_at FROM pending WHERE id = ?", (pending_id,)).fetchone()
            if row is None:
                raise AAuthError("not_found", f"no pending request {pending_id!r}")
            if row["status"] not in allowed:
                raise AAuthError("conflict", f"the pending request is already {row['status']}")
            if row["status"] in LIVE and row["expires_at"] <= self._clock():
                raise AAuthError("expired", "the pending request has expired")
            sets = {"status": to, **columns}
            db.execute(
                f"UPDATE pending SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                (*sets.values(), pending_id),
            )
            return self._pending(db.execute("SELECT * FROM pending WHERE id = ?", (pending_id,)).fetchone())

    def mark_interacting(self, pending_id: str) -> Pending:
        """The person opened the interaction page."""
        return self._transition(pending_id, "interacting", LIVE)

    def decide(self, pending_id: str, approved: bool, by: str) -> Pending:
        """Record the person's decision; a second decision raises ``conflict``."""
        return self._transition(
            pending_id, "approved" if approved else "denied", LIVE, decided_at=self._clock(), decided_by=by
        )

    def abandon(self, pending_id: str, by: str | None = None) -> Pending:
        """The person walked away (callback ``user_abandoned``; polling ``abandoned``)."""
        return self._transition(pending_id, "abandoned", LIVE, decided_at=self._clock(), decided_by=by)

    def cancel(self, pending_id: str) -> Pending:
        """The agent withdrew the request (``DELETE`` on the pending URL)."""
        return self._transition(pending_id, "cancelled", LIVE)

    def set_result(self, pending_id: str, result: Any) -> Pending:
        """Store what the next poll returns (e.g. the token response) for an approved request."""
        return self._transition(pending_id, "completed", ("approved",), result=json.dumps(result))

    def claim_answer(self, pending_id: str) -> Pending | None:
        """Mark a request that has reached a final status as answered, once: the caller that
        gets the request back gives the final answer to the poll; every later caller (and a
        concurrent one) gets ``None`` — the pending URL is gone (``410``)."""
        final = tuple(s for s in PENDING_STATUSES if s not in LIVE + ("approved",))
        with self._tx() as db:
            row = db.execute(
                f"UPDATE pending SET answered_at = ? WHERE id = ? AND answered_at IS NULL"
                f" AND status IN ({', '.join('?' * len(final))}) RETURNING *",
                (self._clock(), pending_id, *final),
            ).fetchone()
            return self._pending(row) if row is not None else None

    def record_poll(self, pending_id: str) -> float | None:
        """Count a poll; return the previous poll's time (``None`` for the first) for ``slow_down``."""
        with self._tx() as db:
            row = db.execute("SELECT last_poll_at FROM pending WHERE id = ?", (pending_id,)).fetchone()
            if row is None:
                raise AAuthError("not_found", f"no pending request {pending_id!r}")
            db.execute(
                "UPDATE pending SET last_poll_at = ?, poll_count = poll_count + 1 WHERE id = ?",
                (self._clock(), pending_id),
            )
            return row["last_poll_at"]

    def expire_due(self, now: float | None = None) -> list[str]:
        """Move live requests whose ``expires_at`` has passed to ``expired``; return their ids."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE pending SET status = 'expired' WHERE status IN ('pending', 'interacting')"
                " AND expires_at <= ? RETURNING id",
                (self._clock() if now is None else now,),
            ).fetchall()
        return sorted(r["id"] for r in rows)

    # -- issued tokens and revocation ----------------------------------------------

    def record_token(
        self,
        *,
        jti: str,
        typ: str,
        iss: str,
        aud: str | None,
        sub: str | None,
        agent_id: str | None,
        scope: str | None,
        iat: int,
        exp: int,
    ) -> IssuedToken:
        """Remember an issued token; ``conflict`` if ``(iss, jti)`` was issued before."""
        token = IssuedToken(jti, typ, iss, aud, sub, agent_id, scope, iat, exp)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO tokens (jti, typ, iss, aud, sub, agent_id, scope, iat, exp)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (jti, typ, iss, aud, sub, agent_id, scope, iat, exp),
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"token {jti!r} from {iss!r} already recorded") from None
        return token

    def list_tokens(self, *, agent_id: str | None = None) -> list[IssuedToken]:
        rows = self._read(
            "SELECT jti, typ, iss, aud, sub, agent_id, scope, iat, exp FROM tokens"
            " WHERE ?1 IS NULL OR agent_id = ?1 ORDER BY iat, jti",
            (agent_id,),
        )
        return [IssuedToken(**r) for r in rows]

    def revoke(self, iss: str, jti: str, exp: int) -> bool:
        """Revoke by ``(iss, jti)``; ``exp`` tells how long the entry matters.  True if new."""
        with self._tx() as db:
            return bool(
                db.execute(
                    "INSERT OR IGNORE INTO revocations VALUES (?, ?, ?, ?)", (iss, jti, exp, self._clock())
                ).rowcount
            )

    def is_revoked(self, iss: str, jti: str) -> bool:
        return bool(self._read("SELECT 1 FROM revocations WHERE iss = ? AND jti = ?", (iss, jti)))

    def forget_expired(self, before: float) -> int:
        """Drop revocations and noted agent tokens whose ``exp`` lies before ``before``
        (-11 §11.12: a recipient may forget a revocation after ``exp`` + skew)."""
        with self._tx() as db:
            gone = db.execute("DELETE FROM revocations WHERE exp < ?", (before,)).rowcount
            db.execute("DELETE FROM agent_tokens WHERE exp < ?", (before,))
        return gone

    def get_token(self, iss: str, jti: str) -> IssuedToken | None:
        rows = self._read(
            "SELECT jti, typ, iss, aud, sub, agent_id, scope, iat, exp FROM tokens WHERE iss = ? AND jti = ?",
            (iss, jti),
        )
        return IssuedToken(**rows[0]) if rows else None

    def note_agent_token(self, iss: str, jti: str, sub: str, exp: int) -> None:
        """Remember that the agent ``sub`` acted here with the agent token ``(iss, jti)``, so
        that its Agent Provider's revocation, which names only the ``jti``, finds the agent."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO agent_tokens VALUES (?, ?, ?, ?)", (iss, jti, sub, exp))

    def agent_of(self, iss: str, jti: str) -> str | None:
        """The agent an agent token ``(iss, jti)`` belongs to: one this PS issued as AP, or one
        it noted; ``None`` if it never met the token."""
        rows = self._read(
            "SELECT sub FROM agent_tokens WHERE iss = ?1 AND jti = ?2"
            " UNION ALL SELECT agent_id FROM tokens WHERE iss = ?1 AND jti = ?2 AND typ = 'aa-agent+jwt'",
            (iss, jti),
        )
        return rows[0][0] if rows else None

    def revoke_pending(self, agent_id: str) -> list[str]:
        """End every request of ``agent_id`` that has not given its final answer yet — live,
        approved, or completed but not yet collected — with ``revoked`` (-11 §11.12: its poll
        answers ``403 revoked``).  Returns their ids."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE pending SET status = 'revoked', decided_at = coalesce(decided_at, ?)"
                " WHERE agent_id = ? AND answered_at IS NULL"
                " AND status IN ('pending', 'interacting', 'approved', 'completed') RETURNING id",
                (self._clock(), agent_id),
            ).fetchall()
        return sorted(r["id"] for r in rows)

    # -- missions (-11 §8) ---------------------------------------------------------

    def add_mission(
        self, blob: bytes, *, agent_id: str, username: str, expires_at: float | None = None
    ) -> Mission:
        """Store an approved mission's bytes verbatim as ``active``; ``conflict`` if a mission
        with the same bytes (so the same ``s256``) exists."""
        s256 = mission_s256(blob)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO missions (s256, agent_id, username, blob, status, expires_at, created_at)"
                    " VALUES (?, ?, ?, ?, 'active', ?, ?)",
                    (s256, agent_id, username, bytes(blob), expires_at, self._clock()),
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"mission {s256!r} exists") from None
        return self.get_mission(s256)

    @staticmethod
    def _mission(row: sqlite3.Row) -> Mission:
        return Mission(**dict(row) | {"blob": bytes(row["blob"])})

    def get_mission(
        self, s256: str, *, agent_id: str | None = None, username: str | None = None
    ) -> Mission | None:
        """The mission, in any state; with ``agent_id`` only if that agent owns it, with
        ``username`` only if that person approved it."""
        rows = self._read(
            "SELECT * FROM missions WHERE s256 = ?1 AND (?2 IS NULL OR agent_id = ?2)"
            " AND (?3 IS NULL OR username = ?3)",
            (s256, agent_id, username),
        )
        return self._mission(rows[0]) if rows else None

    def list_missions(self, *, username: str | None = None) -> list[Mission]:
        """Missions (of the person ``username``, when given), oldest first."""
        rows = self._read(
            "SELECT * FROM missions WHERE ?1 IS NULL OR username = ?1 ORDER BY created_at, s256", (username,)
        )
        return [self._mission(r) for r in rows]

    def terminate_mission(self, s256: str, reason: str, *, summary: str | None = None) -> Mission:
        """Move an ``active`` mission to ``terminated`` with ``reason``; ``not_found`` or
        ``conflict`` (already terminated) otherwise."""
        _check(reason, TERMINATION_REASONS, "termination reason")
        with self._tx() as db:
            _require_active_mission(db, s256)
            db.execute(
                "UPDATE missions SET status = 'terminated', termination_reason = ?, terminated_at = ?, summary = ?"
                " WHERE s256 = ?",
                (reason, self._clock(), summary, s256),
            )
        return self.get_mission(s256)

    def add_mission_update(self, s256: str, body: bytes) -> MissionUpdate:
        """Persist an update's exact ``body`` bytes for the ``active`` mission ``s256`` (its blob
        stays as it is); ``not_found`` or ``conflict`` (terminated) otherwise."""
        with self._tx() as db:
            _require_active_mission(db, s256)
            row = db.execute(
                "INSERT INTO mission_updates (mission_s256, s256, body, created_at) VALUES (?, ?, ?, ?) RETURNING *",
                (s256, mission_s256(body), bytes(body), self._clock()),
            ).fetchone()
        return MissionUpdate(**dict(row) | {"body": bytes(row["body"])})

    def list_mission_updates(self, s256: str) -> list[MissionUpdate]:
        """The updates of mission ``s256``, oldest first."""
        rows = self._read("SELECT * FROM mission_updates WHERE mission_s256 = ? ORDER BY seq", (s256,))
        return [MissionUpdate(**dict(r) | {"body": bytes(r["body"])}) for r in rows]

    # -- audit log -----------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str = "", details: Any = None) -> int:
        """Append an entry; returns its sequence number."""
        with self._tx() as db:
            return db.execute(
                "INSERT INTO audit (ts, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
                (self._clock(), actor, action, subject, json.dumps(details)),
            ).lastrowid

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest ``limit`` entries, oldest first."""
        rows = self._read(
            "SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq", (limit,)
        )
        return [AuditEntry(**dict(r) | {"details": json.loads(r["details"])}) for r in rows]
