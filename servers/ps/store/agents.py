"""Agents and the persons they are bound to (the Agent Provider's registrations and the
agents of other providers a person claimed)."""

from __future__ import annotations

from dataclasses import dataclass

from aauth_kit.errors import AAuthError

from .schema import Database, check

AGENT_STATUSES = ("pending_approval", "approved", "denied")


@dataclass(frozen=True)
class Agent:
    agent_id: str
    ap_issuer: str
    username: str | None
    status: str
    agent_jkt: str
    created_at: float
    name: str | None = None


class AgentsStore(Database):
    """The ``agents`` table."""

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
            check(status, AGENT_STATUSES, "agent status")
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
        check(status, AGENT_STATUSES, "agent status")
        with self._tx() as db:
            if not db.execute("UPDATE agents SET status = ? WHERE agent_id = ?", (status, agent_id)).rowcount:
                raise AAuthError("not_found", f"no agent {agent_id!r}")
            return Agent(**db.execute("SELECT * FROM agents WHERE agent_id = ?", (agent_id,)).fetchone())
