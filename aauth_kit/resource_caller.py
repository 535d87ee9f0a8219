"""Who called a resource, after -11 "Verification (Server)": the :class:`Caller` a protected
endpoint finds in ``request.state.caller``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from .profile import VerifiedRequest
from .resource_sessions import Session
from .token_verification import VerifiedToken


@dataclass(frozen=True)
class Caller:
    """Who called, after -11 verification: ``request.state.caller`` in a protected endpoint."""

    verified: VerifiedRequest
    token: VerifiedToken  # the token in Signature-Key
    agent: str | None  # agent identifier (agent token ``sub``) when an agent token was presented
    person: tuple[str, str] | None  # ``(iss, sub)`` of a person or auth token
    scopes: frozenset[str]  # the auth token's ``scope``
    jkt: str  # RFC 7638 thumbprint of the key that signed the request
    account: str | None = None  # the auth token's ``account`` (-11 "Account Binding")
    session: Session | None = (
        None  # the AAuth-Access session it presented (-11 "AAuth-Access Response Header")
    )

    @property
    def session_agent(self) -> tuple[str, str]:
        """``(iss, sub)`` of the token presented: whom a session issued now belongs to."""
        return (self.token.iss, self.token.sub)

    def with_session(self, session: Session) -> Caller:
        return replace(self, session=session, scopes=session.scope)

    @classmethod
    def of(cls, verified: VerifiedRequest) -> Caller:
        token = verified.token
        return cls(
            verified=verified,
            token=token,
            agent=token.sub if token.typ == AGENT_TYP else None,
            person=(token.iss, token.sub) if token.typ in (PERSON_TYP, AUTH_TYP) else None,
            scopes=frozenset((token.scope or "").split()) if token.typ == AUTH_TYP else frozenset(),
            jkt=verified.key.thumbprint(),
            account=token.account if token.typ == AUTH_TYP else None,
        )
