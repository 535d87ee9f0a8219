"""The Person Server's durable state in one SQLite file, one store per area.

What survives a restart: persons and their login sessions (:mod:`.persons`), agents bound to
persons (:mod:`.agents`), pending requests of deferred responses (:mod:`.pending`), approved
missions (:mod:`.missions`), issued tokens, the agent tokens the PS acted on and revocations
(:mod:`.tokens`), and an append-only audit log (:mod:`.audit`); :mod:`.schema` holds the
file, its schema and migrations.
"""

from __future__ import annotations

from .agents import AgentsStore
from .audit import AuditStore
from .missions import MissionsStore
from .pending import PendingStore
from .persons import PersonsStore
from .tokens import TokensStore


class PSStore(PersonsStore, AgentsStore, PendingStore, TokensStore, MissionsStore, AuditStore):
    """The Person Server's state in the SQLite file at ``path`` (created if missing)."""
