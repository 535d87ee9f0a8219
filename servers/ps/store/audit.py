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

    def mission_log(self, s256: str, *, action: str | None = None) -> list[AuditEntry]:
        """-11 "Mission Log": the entries naming mission ``s256`` (of ``action``, when given), in order."""
        rows = self._read(
            "SELECT * FROM audit WHERE json_extract(details, '$.mission_s256') = ?1"
            " AND (?2 IS NULL OR action = ?2) ORDER BY seq",
            (s256, action),
        )
        return [self._entry(r) for r in rows]

    def mission_log_size(self, s256: str) -> int:
        """How many entries name mission ``s256``."""
        rows = self._read(
            "SELECT count(*) FROM audit WHERE json_extract(details, '$.mission_s256') = ?", (s256,)
        )
        return rows[0][0]

    def audit_entry(self, action: str, pending_id: str) -> AuditEntry | None:
        """The latest ``action`` entry about the pending request ``pending_id``."""
        rows = self._read(
            "SELECT * FROM audit WHERE action = ? AND json_extract(details, '$.pending_id') = ?"
            " ORDER BY seq DESC LIMIT 1",
            (action, pending_id),
        )
        return self._entry(rows[0]) if rows else None

    def latest_audit(self, action: str, subject: str) -> AuditEntry | None:
        """The latest ``action`` entry about ``subject``."""
        rows = self._read(
            "SELECT * FROM audit WHERE action = ? AND subject = ? ORDER BY seq DESC LIMIT 1",
            (action, subject),
        )
        return self._entry(rows[0]) if rows else None

    def audit_times(self, action: str, person: str, since: float) -> list[float]:
        """When the ``action`` entries about ``person`` written after ``since`` were, oldest first."""
        rows = self._read(
            "SELECT ts FROM audit WHERE action = ? AND person = ? AND ts > ? ORDER BY seq",
            (action, person, since),
        )
        return [row[0] for row in rows]

    def presented_at(self, jti: str) -> list[str]:
        """The Access Servers this PS presented its token ``jti`` to and got an auth token from
        (-11 "PS-AS Federation"; the ``auth_token_delivered`` entries), each once."""
        rows = self._read(
            "SELECT DISTINCT json_extract(details, '$.access_server') FROM audit"
            " WHERE action = 'auth_token_delivered' AND json_extract(details, '$.presented') = ?",
            (jti,),
        )
        return [row[0] for row in rows]

    @staticmethod
    def _entry(row) -> AuditEntry:
        return AuditEntry(
            **{k: row[k] for k in row.keys() if k != "person"} | {"details": json.loads(row["details"])}
        )

    def audit_log(self, limit: int = 100, *, person: str | None = None) -> list[AuditEntry]:
        """The latest ``limit`` entries (about ``person`` only, when given), oldest first."""
        rows = self._read(
            "SELECT * FROM (SELECT * FROM audit WHERE ?2 IS NULL OR person = ?2 ORDER BY seq DESC LIMIT ?1)"
            " ORDER BY seq",
            (limit, person),
        )
        return [self._entry(r) for r in rows]
