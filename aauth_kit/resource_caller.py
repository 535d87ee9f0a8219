"""Who called a resource, after -11 "Verification (Server)": the :class:`Caller` a protected
endpoint finds in ``request.state.caller``.

The person is ``(ps, sub)``: the PS that minted the directed ``sub`` and the ``sub``.  A person
token's ``ps`` is its ``iss``, a PS-issued auth token's too (-11 "Auth Token Structure": ``ps``
"Equal to iss when a PS issued the token"), so there nothing changes from -11's ``(iss, sub)``.
An Access Server does not mint the ``sub``: it copies it "from the resource token", which the
resource copied from the PS's person token, and -11 "Directed Identifiers" wants that same value
in the person token and "every auth token issued for that resource".  So ``(AS, sub)`` would make
the persons of two PSes the AS trusts one person whenever their ``sub``s compare equal (a ``sub``
is no secret); ``(ps, sub)`` is the identifier the PS made unique, the same person whether they
came with a person token or an AS's auth token.  An AS re-deriving the ``sub`` per PS would break
"copied from the resource token"; one refusing a ``sub`` another PS used first would let a PS
take a victim's ``sub`` before them."""

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
    person: tuple[str, str] | None  # ``(ps, sub)`` of a person or auth token (see the module doc)
    scopes: frozenset[str]  # the auth token's ``scope``
    jkt: str  # RFC 7638 thumbprint of the key that signed the request
    account: str | None = None  # the auth token's ``account`` (-11 "Account Binding")
    session: Session | None = (
        None  # the AAuth-Access session it presented (-11 "AAuth-Access Response Header")
    )

    @property
    def session_agent(self) -> tuple[str, str]:
        """Whom a session issued now belongs to: the person of a person or auth token, else the
        agent token's ``(iss, sub)``."""
        return self.person or (self.token.iss, self.token.sub)

    def with_session(self, session: Session) -> Caller:
        return replace(self, session=session, scopes=session.scope)

    @classmethod
    def of(cls, verified: VerifiedRequest) -> Caller:
        token = verified.token
        return cls(
            verified=verified,
            token=token,
            agent=token.sub if token.typ == AGENT_TYP else None,
            person=_person(token),
            scopes=frozenset((token.scope or "").split()) if token.typ == AUTH_TYP else frozenset(),
            jkt=verified.key.thumbprint(),
            account=token.account if token.typ == AUTH_TYP else None,
        )


def _person(token: VerifiedToken) -> tuple[str, str] | None:
    """``(ps, sub)`` of a person or auth token (``ps`` is ``iss`` when a PS issued it)."""
    if token.typ == PERSON_TYP:
        return (token.iss, token.sub)
    if token.typ == AUTH_TYP:
        return (token.ps, token.sub)
    return None
