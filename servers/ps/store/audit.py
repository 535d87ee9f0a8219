"""The Person Server's append-only audit log (SQLite triggers refuse updates and deletes)."""

from __future__ import annotations

import json
from typing import Any

from aauth_kit.audit import AuditEntry

from .schema import Database


class AuditStore(Database):
    """The ``audit`` table."""

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
