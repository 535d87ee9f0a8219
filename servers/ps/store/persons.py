"""Persons and their login sessions: scrypt password hashes, sessions kept by hash, each a
cookie's or a Bearer token's and ending when idle or old; a person may be an administrator
(the consent policy and the whole audit log are theirs to see)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass

from aauth_kit.errors import AAuthError
from aauth_kit.keys import b64url, b64url_decode

from .schema import Database, check

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    admin: bool = False


#: A person's name: it never looks like an agent or a server identifier.
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class PersonAccount:
    """A person the PS starts with: ``NAME:PASSWORD``, or ``NAME:PASSWORD:admin`` for an
    administrator (the password is everything between the first colon and a final ``:admin``)."""

    username: str
    password: str
    admin: bool = False

    def __post_init__(self):
        if not isinstance(self.username, str) or not USERNAME.fullmatch(self.username):
            raise ValueError(f"{self.username!r} is not a person's name (a-z, 0-9, '.', '_', '-')")
        if not isinstance(self.password, str) or not self.password:
            raise ValueError(f"{self.username}: the password must not be empty")

    @classmethod
    def parse(cls, text: str) -> PersonAccount:
        """``NAME:PASSWORD[:admin]`` (the form of ``aauth-kit serve --person``)."""
        username, colon, password = text.partition(":")
        if not colon:
            raise ValueError(f"{text!r}: write NAME:PASSWORD or NAME:PASSWORD:admin")
        admin = password.endswith(":admin")
        return cls(username, password.removesuffix(":admin") if admin else password, admin)


#: The seed's demo person, an administrator.
DEMO_PERSON = PersonAccount("mcp-user", "user123", admin=True)


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


_USER = "username, display_name, admin"


def _user(row: sqlite3.Row) -> User:
    return User(row["username"], row["display_name"], bool(row["admin"]))


#: A browser's session is carried by its cookie, a program's by ``Authorization: Bearer``:
#: two credentials, neither accepted as the other.
COOKIE, BEARER = "cookie", "bearer"
SESSION_KINDS = (COOKIE, BEARER)
#: OWASP ASVS level 2 V3.3.2: a session ends after 30 minutes unused or 12 hours in all.
SESSION_IDLE, SESSION_LIFETIME = 30 * 60.0, 12 * 3600.0


def _session_hash(token: str) -> str:
    """Sessions are stored by hash, so the database file holds no live session token."""
    return hashlib.sha256(token.encode()).hexdigest()


class PersonsStore(Database):
    """The ``users`` and ``sessions`` tables."""

    def add_user(
        self, username: str, password: str, display_name: str | None = None, *, admin: bool = False
    ) -> User:
        """Add a person; ``conflict`` if the username is taken."""
        row = (username, hash_password(password), display_name or username, int(admin))
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO users (username, password_hash, display_name, admin) VALUES (?, ?, ?, ?)",
                    row,
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"user {username!r} exists") from None
        return User(username, row[2], admin)

    def set_admin(self, username: str, admin: bool) -> None:
        """Make a person an administrator, or no longer one."""
        with self._tx() as db:
            if not db.execute(
                "UPDATE users SET admin = ? WHERE username = ?", (int(admin), username)
            ).rowcount:
                raise AAuthError("not_found", f"no user {username!r}")

    def set_password(self, username: str, password: str) -> bool:
        """Give a person ``password`` unless it is theirs already; a change ends their
        sessions (OWASP ASVS level 2, V3.3.3).  True when it changed."""
        if self.check_password(username, password):
            return False
        with self._tx() as db:
            db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (hash_password(password), username)
            )
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
        return True

    def get_user(self, username: str) -> User | None:
        rows = self._read(f"SELECT {_USER} FROM users WHERE username = ?", (username,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        rows = self._read(f"SELECT {_USER} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def check_password(self, username: str, password: str) -> bool:
        """True only for a known user with this password (unknown users cost the same time)."""
        rows = self._read("SELECT password_hash FROM users WHERE username = ?", (username,))
        if not rows:
            hash_password(password, salt=bytes(16))  # the same work, so timing does not reveal the user
            return False
        return verify_password(password, rows[0]["password_hash"])

    def create_session(self, username: str, kind: str = BEARER, *, lifetime: float = SESSION_LIFETIME) -> str:
        """A fresh opaque session token of ``kind`` (:data:`SESSION_KINDS`; by default a
        program's, for ``Authorization: Bearer``) for a known user, good for ``lifetime``
        seconds at most (sessions that have ended are purged)."""
        check(kind, SESSION_KINDS, "session kind")
        token, now = secrets.token_urlsafe(32), self._clock()
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise AAuthError("not_found", f"no user {username!r}")
            db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR last_used <= ?", (now, now - SESSION_IDLE)
            )
            db.execute(
                "INSERT INTO sessions (token_hash, username, expires_at, kind, last_used) VALUES (?, ?, ?, ?, ?)",
                (_session_hash(token), username, now + lifetime, kind, now),
            )
        return token

    def session_user(self, token: str, kind: str) -> str | None:
        """The username a live session token of ``kind`` belongs to, and its idle time starts
        again; ``None`` if unknown, of the other kind, unused for :data:`SESSION_IDLE` seconds
        or past its lifetime."""
        now, key = self._clock(), _session_hash(token)
        with self._tx() as db:
            row = db.execute(
                "SELECT username FROM sessions WHERE token_hash = ? AND kind = ? AND expires_at > ?"
                " AND last_used > ?",
                (key, kind, now, now - SESSION_IDLE),
            ).fetchone()
            if row is not None:
                db.execute("UPDATE sessions SET last_used = ? WHERE token_hash = ?", (now, key))
        return row["username"] if row else None

    def has_session(self, username: str) -> bool:
        """Does ``username`` hold a live session (of either kind) — is the person at the PS now?"""
        now = self._clock()
        rows = self._read(
            "SELECT 1 FROM sessions WHERE username = ? AND expires_at > ? AND last_used > ? LIMIT 1",
            (username, now, now - SESSION_IDLE),
        )
        return bool(rows)

    def delete_session(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_session_hash(token),))

    def forget_sessions(self) -> int:
        """Delete the sessions that have ended, too old or unused too long; return how many."""
        now = self._clock()
        with self._tx() as db:
            return db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR last_used <= ?", (now, now - SESSION_IDLE)
            ).rowcount
