"""Agents and the persons they are bound to (the Agent Provider's registrations and the
agents of other providers a person claimed).

An agent is ``(ap_issuer, agent_id)`` — its agent token's ``(iss, sub)`` (-11 "Agent-Person
Binding": the PS recognizes a returning agent by that pair): the same ``sub`` from another
Agent Provider is another agent.  Once bound, an agent stays with its person: binding it to
another is ``conflict`` (the binding must be revoked first).
"""

from __future__ import annotations

from dataclasses import dataclass

from aauth_kit.errors import AAuthError

from .schema import Database, check

AGENT_STATUSES = ("pending_approval", "approved", "denied")
_ONE = "SELECT * FROM agents WHERE ap_issuer = ? AND agent_id = ?"


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
        """Record the agent ``(ap_issuer, agent_id)``, or update its key, person and display
        name; ``status``, ``username`` and ``name`` change only when given (a new agent starts
        ``pending_approval``).  ``conflict`` if it is bound to another person."""
        if status is not None:
            check(status, AGENT_STATUSES, "agent status")
        with self._tx() as db:
            bound = db.execute(
                "SELECT username FROM agents WHERE ap_issuer = ? AND agent_id = ?", (ap_issuer, agent_id)
            ).fetchone()
            if username is not None and bound is not None and bound["username"] not in (None, username):
                raise AAuthError("conflict", f"{agent_id} from {ap_issuer} is bound to another person")
            db.execute(
                "INSERT INTO agents (agent_id, ap_issuer, username, status, agent_jkt, created_at, name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ap_issuer, agent_id) DO UPDATE SET"
                " agent_jkt = excluded.agent_jkt,"
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
            return Agent(**db.execute(_ONE, (ap_issuer, agent_id)).fetchone())

    def get_agent(self, agent_id: str, *, ap_issuer: str) -> Agent | None:
        """The agent ``agent_id`` of the Agent Provider ``ap_issuer`` (``None`` if unknown)."""
        rows = self._read(_ONE, (ap_issuer, agent_id))
        return Agent(**rows[0]) if rows else None

    def list_agents(self, *, username: str | None = None, status: str | None = None) -> list[Agent]:
        rows = self._read(
            "SELECT * FROM agents WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR status = ?2)"
            " ORDER BY created_at, agent_id",
            (username, status),
        )
        return [Agent(**r) for r in rows]

    def set_agent_status(self, agent_id: str, status: str, *, ap_issuer: str) -> Agent:
        check(status, AGENT_STATUSES, "agent status")
        with self._tx() as db:
            if not db.execute(
                "UPDATE agents SET status = ? WHERE ap_issuer = ? AND agent_id = ?",
                (status, ap_issuer, agent_id),
            ).rowcount:
                raise AAuthError("not_found", f"no agent {agent_id!r} from {ap_issuer!r}")
            return Agent(**db.execute(_ONE, (ap_issuer, agent_id)).fetchone())

    def forget_unapproved(self, before: float) -> int:
        """Delete the registrations never approved (no person bound, not ``approved``) made
        before ``before`` that no live request waits for; return how many."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM agents WHERE status != 'approved' AND username IS NULL AND created_at < ?1"
                " AND NOT EXISTS (SELECT 1 FROM pending WHERE pending.agent_id = agents.agent_id"
                " AND pending.agent_iss = agents.ap_issuer AND pending.status IN ('pending', 'interacting')"
                " AND pending.expires_at > ?2)",
                (before, self._clock()),
            ).rowcount
