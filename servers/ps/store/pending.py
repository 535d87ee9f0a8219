"""Pending requests of -11 "Deferred Responses", with the person's decision and the result
a later poll returns.

A pending request is *live* while its status is ``pending`` or ``interacting`` and its
``expires_at`` lies ahead; only a live request can be decided, abandoned or cancelled,
and only a live request answers to its interaction code (stored in canonical form,
unique among live requests; -11 "Interaction Code Format").  Reads never change state:
call :meth:`PendingStore.expire_due` to move overdue requests to ``expired``.  A request
that has given its final answer to a poll (token, ``denied``, ``expired``, …) is marked
*answered* exactly once (:meth:`PendingStore.claim_answer`); later polls get ``410``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aauth_kit.errors import AAuthError
from aauth_kit.interaction import normalize_code

from .schema import Database, check

PENDING_KINDS = (
    "person_token",
    "auth_token",
    "agent_approval",
    "mission",
    "mission_completion",
    "permission",
    "interaction",
    "federated_auth_token",
)
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
    "failed",  # a resource-initiated interaction's callback said server_error
    "at_access_server",  # -11 "AS Response": the agent's polls are passed on to the AS
)
LIVE = ("pending", "interacting")
#: A four-party request waiting for what its AS asked (an interaction, an approval); polls ask the AS.
AT_ACCESS_SERVER = "at_access_server"


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
    #: The Agent Provider of ``agent_id`` (the agent token's ``iss``; -11 "Agent-Person Binding").
    agent_iss: str = ""
    #: The person who redeemed the interaction code (-11 "Interaction Code Format": single use).
    opened_by: str | None = None


class PendingStore(Database):
    """The ``pending`` table."""

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
        agent_iss: str,
        agent_jkt: str,
        request: Any,
        expires_in: float = 600,
        resource: str | None = None,
        scope: str | None = None,
        justification: str | None = None,
        code: str | None = None,
        pending_id: str | None = None,
        status: str = "pending",
    ) -> Pending:
        """Store a new request, ``pending`` (or :data:`AT_ACCESS_SERVER`).  ``code`` (any accepted
        spelling) is kept canonical; ``conflict`` if a live request holds it already.
        ``pending_id`` defaults to a random URL-safe id."""
        check(kind, PENDING_KINDS, "pending request kind")
        check(status, ("pending", AT_ACCESS_SERVER), "new pending request status")
        code = normalize_code(code) if code is not None else None
        now = self._clock()
        pending_id = pending_id or secrets.token_urlsafe(16)
        row = (
            pending_id,
            kind,
            agent_id,
            agent_iss,
            agent_jkt,
            resource,
            scope,
            justification,
            code,
            json.dumps(request),
            status,
        )
        try:
            with self._tx() as db:
                db.execute(
                    "UPDATE pending SET status = 'expired' WHERE code = ? AND status IN ('pending', 'interacting')"
                    " AND expires_at <= ?",
                    (code, now),
                )
                db.execute(
                    "INSERT INTO pending (id, kind, agent_id, agent_iss, agent_jkt, resource, scope, justification,"
                    " code, request, status, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def live_pending(
        self, *, agent: tuple[str, str] | None = None, kind: str | None = None, client: str | None = None
    ) -> list[Pending]:
        """The live requests whose time has not run out, oldest first: of ``agent`` (its
        ``(iss, sub)``), of ``kind``, asked from the client address ``client`` (the request's
        ``client`` member), each when given."""
        agent_iss, agent_id = agent or (None, None)
        rows = self._read(
            "SELECT * FROM pending WHERE status IN ('pending', 'interacting') AND expires_at > ?1"
            " AND (?2 IS NULL OR agent_iss = ?2) AND (?3 IS NULL OR agent_id = ?3)"
            " AND (?4 IS NULL OR kind = ?4)"
            " AND (?5 IS NULL OR json_extract(request, '$.client') = ?5) ORDER BY expires_at, id",
            (self._clock(), agent_iss, agent_id, kind, client),
        )
        return [self._pending(r) for r in rows]

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

    def mark_interacting(self, pending_id: str, by: str) -> Pending:
        """The person ``by`` redeemed the interaction code: once (``conflict`` after)."""
        return self._transition(pending_id, "interacting", ("pending",), opened_by=by)

    def decide(self, pending_id: str, approved: bool, by: str) -> Pending:
        """Record the person's decision; a second decision raises ``conflict``."""
        return self._transition(
            pending_id, "approved" if approved else "denied", LIVE, decided_at=self._clock(), decided_by=by
        )

    def abandon(self, pending_id: str, by: str | None = None) -> Pending:
        """The person walked away (callback ``user_abandoned``; polling ``abandoned``)."""
        return self._transition(pending_id, "abandoned", LIVE, decided_at=self._clock(), decided_by=by)

    def end(self, pending_id: str, status: str) -> Pending:
        """End a live request with ``status`` (a resource-initiated interaction's callback error)."""
        return self._transition(pending_id, status, LIVE, decided_at=self._clock())

    def cancel(self, pending_id: str) -> Pending:
        """The agent withdrew the request (``DELETE`` on the pending URL)."""
        return self._transition(pending_id, "cancelled", (*LIVE, AT_ACCESS_SERVER))

    def wait_at_access_server(self, pending_id: str, request: Any, expires_at: float) -> Pending:
        """An approved four-party request (or one waiting at its AS already) now waits for what
        the AS asked: ``request`` keeps it; ``conflict`` if the request moved on."""
        return self._transition(
            pending_id,
            AT_ACCESS_SERVER,
            ("approved", AT_ACCESS_SERVER),
            request=json.dumps(request),
            expires_at=expires_at,
        )

    def settle_at_access_server(self, pending_id: str, status: str, result: Any) -> Pending | None:
        """The AS's final answer to a request waiting there, given to the poll that fetched it:
        ``status`` and ``result`` stored and the request answered at once; ``None`` when it is no
        longer waiting there (revoked, cancelled, or settled by another poll)."""
        check(status, PENDING_STATUSES, "pending request status")
        now = self._clock()
        with self._tx() as db:
            row = db.execute(
                "UPDATE pending SET status = ?, result = ?, decided_at = ?, answered_at = ?"
                " WHERE id = ? AND status = ? AND answered_at IS NULL RETURNING *",
                (status, json.dumps(result), now, now, pending_id, AT_ACCESS_SERVER),
            ).fetchone()
            return self._pending(row) if row is not None else None

    def at_access_server(self, agent: tuple[str, str]) -> list[Pending]:
        """The requests of ``agent`` (its ``(iss, sub)``) waiting at an AS, not yet expired."""
        rows = self._read(
            "SELECT * FROM pending WHERE status = ? AND agent_iss = ? AND agent_id = ? AND expires_at > ?",
            (AT_ACCESS_SERVER, *agent, self._clock()),
        )
        return [self._pending(r) for r in rows]

    def revise(self, pending_id: str, change: Callable[[Pending], dict]) -> Pending:
        """Change a live request atomically: ``change(pending)`` returns the new values of
        ``request``, ``scope``, ``justification`` or ``expires_at`` (or raises to refuse);
        ``not_found``, ``conflict`` (no longer live) or ``expired`` otherwise (-11
        "Clarification Chat": the question, the agent's answer, its updated request)."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM pending WHERE id = ?", (pending_id,)).fetchone()
            if row is None:
                raise AAuthError("not_found", f"no pending request {pending_id!r}")
            pending = self._pending(row)
            if pending.status not in LIVE:
                raise AAuthError("conflict", f"the pending request is already {pending.status}")
            if pending.expires_at <= self._clock():
                raise AAuthError("expired", "the pending request has expired")
            sets = change(pending)
            unknown = set(sets) - {"request", "scope", "justification", "expires_at"}
            if unknown:
                raise ValueError(f"cannot revise {sorted(unknown)}")
            if "request" in sets:
                sets["request"] = json.dumps(sets["request"])
            db.execute(
                f"UPDATE pending SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                (*sets.values(), pending_id),
            )
            return self._pending(db.execute("SELECT * FROM pending WHERE id = ?", (pending_id,)).fetchone())

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

    def forget_finished(self, before: float) -> int:
        """Delete the requests that are no longer live and whose ``expires_at`` lies before
        ``before`` (their final answer given or long past); return how many."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM pending WHERE status NOT IN ('pending', 'interacting') AND expires_at < ?",
                (before,),
            ).rowcount

    def revoke_pending(self, agent_id: str, *, agent_iss: str, agent_jkt: str | None = None) -> list[str]:
        """End every request of the agent ``(agent_iss, agent_id)`` (made with the key
        ``agent_jkt``, when given) that has not given its final answer yet — live, approved, waiting at an AS, or
        completed but not yet collected — with ``revoked`` (its agent token was revoked, -11
        "Token Revocation"; its poll answers ``403 revoked``).  Returns their ids."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE pending SET status = 'revoked', decided_at = coalesce(decided_at, ?)"
                " WHERE agent_id = ? AND agent_iss = ? AND (?4 IS NULL OR agent_jkt = ?4)"
                " AND answered_at IS NULL"
                " AND status IN ('pending', 'interacting', 'approved', 'completed', 'at_access_server')"
                " RETURNING id",
                (self._clock(), agent_id, agent_iss, agent_jkt),
            ).fetchall()
        return sorted(r["id"] for r in rows)
