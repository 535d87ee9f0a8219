"""The Person Server's append-only audit log (SQLite triggers refuse updates and deletes).

Each entry may name the ``person`` it concerns — given, or else the actor when the actor is a
person of this PS — so a person can be shown their own trail and an administrator all of it.
"""

from __future__ import annotations

import json
from typing import Any

from aauth_kit.audit import AuditEntry

from .schema import Database


class AuditStore(Database):
    """The ``audit`` table."""

    def audit(
        self, actor: str, action: str, subject: str = "", details: Any = None, *, person: str | None = None
    ) -> int:
        """Append an entry about ``person`` (default: the actor, if a person); its sequence number."""
        with self._tx() as db:
            if person is None and db.execute("SELECT 1 FROM users WHERE username = ?", (actor,)).fetchone():
                person = actor
            return db.execute(
                "INSERT INTO audit (ts, actor, action, subject, details, person) VALUES (?, ?, ?, ?, ?, ?)",
                (self._clock(), actor, action, subject, json.dumps(details), person),
            ).lastrowid

    def audit_log(self, limit: int = 100, *, person: str | None = None) -> list[AuditEntry]:
        """The latest ``limit`` entries (about ``person`` only, when given), oldest first."""
        rows = self._read(
            "SELECT * FROM (SELECT * FROM audit WHERE ?2 IS NULL OR person = ?2 ORDER BY seq DESC LIMIT ?1)"
            " ORDER BY seq",
            (limit, person),
        )
        return [
            AuditEntry(**{k: r[k] for k in r.keys() if k != "person"} | {"details": json.loads(r["details"])})
            for r in rows
        ]
