"""Approved missions (-11 "Mission"): the exact blob bytes, keyed by their ``s256``, with
their state, and the exact bytes of each update."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

from aauth_kit.errors import AAuthError
from aauth_kit.keys import b64url

from .schema import Database, check

#: -11 "Mission Management": a mission's states and the reasons it is terminated.
MISSION_STATUSES = ("active", "terminated")
TERMINATION_REASONS = ("completed", "revoked", "expired", "superseded", "administrative")


@dataclass(frozen=True)
class Mission:
    """An approved mission (-11 "Mission Approval"): ``blob`` is the exact bytes whose SHA-256 is ``s256``."""

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
    #: The Agent Provider of ``agent_id`` (-11 "Agent-Person Binding": an agent is ``(iss, sub)``).
    agent_iss: str = ""
    #: The ``capabilities`` of its approval response, kept for requests within it that declare
    #: none (-11 "Mission Approval", "Agent Token Request"); ``None`` when none were captured.
    capabilities: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MissionUpdate:
    """An agent's update of a mission (-11 "Mission Update"): ``body`` the exact bytes persisted, ``s256``
    their SHA-256; the mission's blob and ``s256`` stay as they were."""

    seq: int
    mission_s256: str
    s256: str
    body: bytes
    created_at: float


def mission_s256(blob: bytes) -> str:
    """-11 "Mission Identifier": base64url (no padding) SHA-256 of exactly the blob bytes."""
    return b64url(hashlib.sha256(blob).digest())


def _require_active_mission(db, s256: str) -> None:
    """Inside a transaction: mission ``s256`` exists (else ``not_found``) and is ``active``
    (else ``conflict``)."""
    row = db.execute("SELECT status FROM missions WHERE s256 = ?", (s256,)).fetchone()
    if row is None:
        raise AAuthError("not_found", f"no mission {s256!r}")
    if row["status"] != "active":
        raise AAuthError("conflict", f"mission {s256!r} is already {row['status']}")


class MissionsStore(Database):
    """The ``missions`` and ``mission_updates`` tables."""

    def add_mission(
        self,
        blob: bytes,
        *,
        agent_id: str,
        agent_iss: str,
        username: str,
        expires_at: float | None = None,
        capabilities: list[str] | None = None,
    ) -> Mission:
        """Store an approved mission's bytes verbatim as ``active``, with the ``capabilities``
        captured at its approval; ``conflict`` if a mission with the same bytes (so the same
        ``s256``) exists."""
        s256 = mission_s256(blob)
        captured = json.dumps(capabilities) if capabilities is not None else None
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO missions (s256, agent_id, agent_iss, username, blob, status, expires_at,"
                    " created_at, capabilities) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                    (s256, agent_id, agent_iss, username, bytes(blob), expires_at, self._clock(), captured),
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"mission {s256!r} exists") from None
        return self.get_mission(s256)

    @staticmethod
    def _mission(row: sqlite3.Row) -> Mission:
        captured = json.loads(row["capabilities"]) if row["capabilities"] is not None else None
        return Mission(
            **dict(row)
            | {"blob": bytes(row["blob"]), "capabilities": tuple(captured) if captured is not None else None}
        )

    def get_mission(
        self, s256: str, *, agent: tuple[str, str] | None = None, username: str | None = None
    ) -> Mission | None:
        """The mission, in any state; with ``agent`` (``(agent_iss, agent_id)``) only if that
        agent owns it, with ``username`` only if that person approved it."""
        agent_iss, agent_id = agent or (None, None)
        rows = self._read(
            "SELECT * FROM missions WHERE s256 = ?1 AND (?2 IS NULL OR agent_id = ?2)"
            " AND (?3 IS NULL OR agent_iss = ?3) AND (?4 IS NULL OR username = ?4)",
            (s256, agent_id, agent_iss, username),
        )
        return self._mission(rows[0]) if rows else None

    def list_missions(self, *, username: str | None = None) -> list[Mission]:
        """Missions (of the person ``username``, when given), oldest first."""
        rows = self._read(
            "SELECT * FROM missions WHERE ?1 IS NULL OR username = ?1 ORDER BY created_at, s256", (username,)
        )
        return [self._mission(r) for r in rows]

    def active_missions(self, *, agent: tuple[str, str]) -> list[Mission]:
        """The missions of ``agent`` (``(agent_iss, agent_id)``) that are active and not past
        their ``expires_at``, oldest first."""
        agent_iss, agent_id = agent
        rows = self._read(
            "SELECT * FROM missions WHERE agent_iss = ? AND agent_id = ? AND status = 'active'"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, s256",
            (agent_iss, agent_id, self._clock()),
        )
        return [self._mission(r) for r in rows]

    def terminate_mission(self, s256: str, reason: str, *, summary: str | None = None) -> Mission:
        """Move an ``active`` mission to ``terminated`` with ``reason``; ``not_found`` or
        ``conflict`` (already terminated) otherwise."""
        check(reason, TERMINATION_REASONS, "termination reason")
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
