"""What the Person Server issued and what it revoked: issued tokens by ``(iss, jti)``, the
agent tokens it acted on (so a revoked agent token leads to its agent) and revocations by
``(iss, jti)`` (-11 "Token Revocation")."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from aauth_kit.errors import AAuthError

from .schema import Database

_COLUMNS = "jti, typ, iss, aud, sub, agent_id, scope, iat, exp, agent_iss"


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
    #: The Agent Provider of ``agent_id`` (-11 "Agent-Person Binding": an agent is ``(iss, sub)``).
    agent_iss: str | None = None


class TokensStore(Database):
    """The ``tokens``, ``agent_tokens`` and ``revocations`` tables."""

    def record_token(
        self,
        *,
        jti: str,
        typ: str,
        iss: str,
        aud: str | None,
        sub: str | None,
        agent_id: str | None,
        agent_iss: str | None,
        scope: str | None,
        iat: int,
        exp: int,
    ) -> IssuedToken:
        """Remember an issued token; ``conflict`` if ``(iss, jti)`` was issued before."""
        token = IssuedToken(jti, typ, iss, aud, sub, agent_id, scope, iat, exp, agent_iss)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO tokens (jti, typ, iss, aud, sub, agent_id, scope, iat, exp, agent_iss)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (jti, typ, iss, aud, sub, agent_id, scope, iat, exp, agent_iss),
                )
        except sqlite3.IntegrityError:
            raise AAuthError("conflict", f"token {jti!r} from {iss!r} already recorded") from None
        return token

    def list_tokens(self, *, agent_id: str | None = None, agent_iss: str | None = None) -> list[IssuedToken]:
        """Issued tokens, oldest first; with ``agent_id`` and ``agent_iss`` those of that agent."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM tokens WHERE (?1 IS NULL OR agent_id = ?1)"
            " AND (?2 IS NULL OR agent_iss = ?2) ORDER BY iat, jti",
            (agent_id, agent_iss),
        )
        return [IssuedToken(**r) for r in rows]

    def live_subagent_tokens(self, iss: str, prefix: str, suffix: str, now: float) -> list[int]:
        """The ``exp`` of each unexpired, unrevoked agent token ``iss`` issued to an agent named
        ``{prefix}…{suffix}`` (the sub-agents of one parent)."""
        rows = self._read(
            "SELECT exp FROM tokens WHERE typ = 'aa-agent+jwt' AND iss = ?1 AND exp > ?4"
            " AND substr(agent_id, 1, length(?2)) = ?2 AND substr(agent_id, -length(?3)) = ?3"
            " AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.iss = tokens.iss AND r.jti = tokens.jti)",
            (iss, prefix, suffix, now),
        )
        return [row["exp"] for row in rows]

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

    def revocations_of(self, iss: str | None) -> tuple[int, int | None]:
        """How many revocations are kept for the signer ``iss`` (``None``: for all signers), and
        the earliest ``exp`` among them."""
        query = "SELECT COUNT(*) AS n, MIN(exp) AS first FROM revocations"
        (row,) = self._read(query, ()) if iss is None else self._read(f"{query} WHERE iss = ?", (iss,))
        return row["n"], row["first"]

    def forget_expired(self, before: float) -> int:
        """Drop revocations and noted agent tokens whose ``exp`` lies before ``before``
        (a revocation matters only until the token's ``exp``, plus clock skew)."""
        with self._tx() as db:
            gone = db.execute("DELETE FROM revocations WHERE exp < ?", (before,)).rowcount
            db.execute("DELETE FROM agent_tokens WHERE exp < ?", (before,))
        return gone

    def forget_tokens(self, before: float) -> int:
        """Drop the records of issued tokens whose ``exp`` lies before ``before``; return how many."""
        with self._tx() as db:
            return db.execute("DELETE FROM tokens WHERE exp < ?", (before,)).rowcount

    def get_token(self, iss: str, jti: str) -> IssuedToken | None:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM tokens WHERE iss = ? AND jti = ?",
            (iss, jti),
        )
        return IssuedToken(**rows[0]) if rows else None

    def note_agent_token(self, iss: str, jti: str, sub: str, exp: int) -> None:
        """Remember that the agent ``sub`` acted here with the agent token ``(iss, jti)``, so
        that its Agent Provider's revocation, which names only the ``jti``, finds the agent."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO agent_tokens VALUES (?, ?, ?, ?)", (iss, jti, sub, exp))

    def agent_token_exp(self, iss: str, jti: str) -> int | None:
        """The ``exp`` of the agent token ``(iss, jti)`` if this PS issued or noted it, else ``None``."""
        rows = self._read(
            "SELECT exp FROM agent_tokens WHERE iss = ?1 AND jti = ?2"
            " UNION ALL SELECT exp FROM tokens WHERE iss = ?1 AND jti = ?2 AND typ = 'aa-agent+jwt'",
            (iss, jti),
        )
        return rows[0][0] if rows else None

    def agent_of(self, iss: str, jti: str) -> str | None:
        """The agent (``sub``; its Agent Provider is ``iss``) an agent token ``(iss, jti)``
        belongs to: one this PS issued as AP, or one it noted; ``None`` if it never met the token."""
        rows = self._read(
            "SELECT sub FROM agent_tokens WHERE iss = ?1 AND jti = ?2"
            " UNION ALL SELECT agent_id FROM tokens WHERE iss = ?1 AND jti = ?2 AND typ = 'aa-agent+jwt'",
            (iss, jti),
        )
        return rows[0][0] if rows else None
