"""The audit trail in words: the Person Server's audit log as sentences a person can read,
and, for a token, who decided that it should exist.

The kit keeps an append-only audit log at the PS (``PSStore.audit``) so that
every grant can be traced to whoever made it — the seed's "User Alice authorized
Backend Agent to optimize the supply chain at 4:56 PM".  Draft -11 names the parties
whose decisions count: the person (consent, "User Interaction"), the PS's own policy
(an auth token granted without asking, "PS Response") and the Agent Provider (agent tokens,
"Agent Token").  This module reads the log the PS wrote; it changes nothing.

* :func:`sentences` turns audit entries into sentences (``mcp-user authorized the
  backend agent to optimize the supply chain at 14:13 UTC.``);
* :func:`trail` does it for a running :class:`~aauth_kit.servers.ps.PersonServer`,
  naming the person behind each pairwise ``sub``;
* :func:`who_decided` says, for one token, who decided it should be issued.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import jws
from .claims import AGENT_TYP, AUTH_TYP, PERSON_TYP

#: What a scope of the cast lets the agent do, as the verb phrase of a sentence.
SCOPE_PHRASES = {
    "supply-chain:optimize": "optimize the supply chain",
    "supply-chain:check": "check the supply chain",
    "supply-chain:read": "read the supply-chain inventory",
    "market-analysis:analyze": "analyze the market",
}


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the Person Server's audit log: who (``actor``) did what (``action``) to
    whom (``subject``) at ``ts``, with the ``details`` the PS recorded."""

    seq: int
    ts: float
    actor: str
    action: str
    subject: str
    details: Any


#: ``person_of(sub, aud)``: the person (username) behind a pairwise ``sub`` at ``aud``.
PersonOf = Callable[[str, str], "str | None"]


def at(ts: float) -> str:
    """A moment as the sentences show it: ``14:13 UTC``."""
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return f"{moment:%H:%M} UTC"


def name_of(identifier: str | None, names: Mapping[str, str] | None = None) -> str:
    """A party in words: ``names[identifier]`` if given; an agent identifier
    ``aauth:backend@ps.example`` becomes "the backend agent"; a URL its host."""
    if not identifier:
        return "someone"
    if names and identifier in names:
        return names[identifier]
    if identifier.startswith("aauth:") and "@" in identifier:
        return f"the {identifier[len('aauth:') :].split('@', 1)[0]} agent"
    host = urlsplit(identifier).hostname
    return host or identifier


def action_words(scope: str | None, resource: str | None, names: Mapping[str, str] | None = None) -> str:
    """What ``scope`` lets the agent do: ``optimize the supply chain`` for the cast's
    scopes, ``use supply-chain:x at supply-chain.example`` for any other."""
    scopes = (scope or "").split()
    if scopes and all(s in SCOPE_PHRASES for s in scopes):
        return " and ".join(SCOPE_PHRASES[s] for s in scopes)
    where = f" at {name_of(resource, names)}" if resource else ""
    return f"use {scope or 'no scope'}{where}"


def _cap(text: str) -> str:
    """The first letter upper case, the rest untouched (unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


def _details(entry) -> dict:
    return entry.details if isinstance(entry.details, dict) else {}


class _Reader:
    """Reads the log in order, remembering what earlier entries said (which request a
    pending id was, which grants a person approved) to word the later ones."""

    def __init__(self, person_of: PersonOf | None, names: Mapping[str, str] | None):
        self.person_of = person_of
        self.names = names
        self.requests: dict[str, dict] = {}  # pending id -> {agent, resource, scope}
        self.approved: dict[tuple, str] = {}  # (agent, resource, scope) -> the person who approved

    def name(self, identifier: str | None) -> str:
        return name_of(identifier, self.names)

    def person(self, details: dict) -> str:
        sub, aud = details.get("sub"), details.get("aud")
        found = (
            self.person_of(sub, aud)
            if self.person_of and isinstance(sub, str) and isinstance(aud, str)
            else None
        )
        return found or "a person"

    def sentence(self, entry) -> str:
        details, when = _details(entry), at(entry.ts)
        action, actor, subject = entry.action, entry.actor, entry.subject
        if action == "login":
            return f"{actor} signed in at the Person Server at {when}."
        if action == "logout":
            return f"{actor} signed out of the Person Server at {when}."
        if action == "agent_token_issued":
            bound = f" for {actor}" if not actor.startswith(("http://", "https://")) else ""
            return f"The Agent Provider issued {self.name(subject)} its agent token{bound} at {when}."
        if action == "person_token_issued":
            return (
                f"The Person Server let {self.name(actor)} act for {self.person(details)} "
                f"at {self.name(subject)} (a person token) at {when}."
            )
        if action.startswith("auth_token_"):
            return self._auth_token(entry, action.removeprefix("auth_token_"), details, when)
        if action == "pending_expired":
            request = self.requests.get(subject)
            if request:
                return (
                    f"Nobody answered {self.name(request['agent'])}'s request to "
                    f"{action_words(request['scope'], request['resource'], self.names)}; it expired at {when}."
                )
            return f"Pending request {subject} expired unanswered at {when}."
        if action == "pending_cancelled":
            return f"{_cap(self.name(actor))} withdrew its request {details.get('pending_id', subject)} at {when}."
        if action == "consent_policy_changed":
            scopes = ", ".join(details.get("scopes") or []) or "none"
            prefixes = ", ".join(details.get("prefixes") or []) or "none"
            return (
                f"{actor} changed the consent policy at {when}: the person is asked for the scopes "
                f"{scopes} and the prefixes {prefixes}."
            )
        if action.startswith(("person_token_", "agent_approval_")):
            return self._binding(action, actor, subject, details, when)
        return f"{actor}: {action.replace('_', ' ')} {subject} at {when}."

    def _auth_token(self, entry, outcome: str, details: dict, when: str) -> str:
        actor, resource = entry.actor, entry.subject
        if outcome == "requested":
            self.requests[details.get("pending_id")] = {
                "agent": actor,
                "resource": resource,
                "scope": details.get("scope"),
            }
            what = action_words(details.get("scope"), resource, self.names)
            return f"{_cap(self.name(actor))} asked for permission to {what} at {when}."
        if outcome in ("approved", "denied", "abandoned"):
            agent, scope = details.get("agent"), details.get("scope")
            what = action_words(scope, resource, self.names)
            if outcome == "approved":
                self.approved[(agent, resource, scope)] = actor
                return f"{actor} authorized {self.name(agent)} to {what} at {when}."
            if outcome == "denied":
                return f"{actor} refused to let {self.name(agent)} {what} at {when}."
            return f"{actor} left without deciding whether {self.name(agent)} may {what}, at {when}."
        if outcome == "issued":
            scope = details.get("scope")
            what = action_words(scope, resource, self.names)
            person = self.person(details)
            approver = self.approved.pop((actor, resource, scope), None)
            if approver is not None:
                return (
                    f"The Person Server issued {self.name(actor)} an auth token to {what} "
                    f"for {person}, as {approver} had approved, at {when}."
                )
            return (
                f"The Person Server's policy let {self.name(actor)} {what} for {person} "
                f"without asking anyone, at {when}."
            )
        return f"{actor}: auth token {outcome} for {self.name(resource)} at {when}."

    def _binding(self, action: str, actor: str, subject: str, details: dict, when: str) -> str:
        if action == "person_token_requested":
            return f"{_cap(self.name(actor))}, bound to no person yet, asked to act at {self.name(subject)} at {when}."
        if action == "person_token_approved":
            return f"{actor} took on {self.name(details.get('agent'))} as their agent at {when}."
        if action == "agent_approval_requested":
            return f"{_cap(self.name(actor))} asked to become a person's agent at {when}."
        if action == "agent_approval_approved":
            return f"{actor} approved {self.name(details.get('agent'))} as their new agent at {when}."
        verb = action.rsplit("_", 1)[1]
        return f"{actor} {verb} {self.name(details.get('agent') or subject)}'s request at {when}."


def sentences(
    entries: Iterable, *, person_of: PersonOf | None = None, names: Mapping[str, str] | None = None
) -> list[str]:
    """One sentence per audit entry (``PSStore.audit_log()`` order, oldest first).

    ``person_of(sub, aud)`` names the person behind a pairwise subject (without it:
    "a person"); ``names`` maps identifiers to words ("the supply-chain agent").
    An auth token issued after the person approved says so; one issued with no
    approval before it was granted by the PS's policy.
    """
    reader = _Reader(person_of, names)
    return [reader.sentence(entry) for entry in entries]


def persons(ps) -> PersonOf:
    """``person_of`` for a :class:`PersonServer`: the user whose pairwise subject at
    ``aud`` is ``sub`` (the PS is the only party that can work this out)."""

    def person_of(sub: str, aud: str) -> str | None:
        return next((u.username for u in ps.store.list_users() if ps.subject(u.username, aud) == sub), None)

    return person_of


def trail(ps, *, names: Mapping[str, str] | None = None, limit: int = 1000) -> list[str]:
    """The PS's last ``limit`` audit entries as sentences (see :func:`sentences`)."""
    return sentences(ps.store.audit_log(limit), person_of=persons(ps), names=names)


def who_decided(ps, token: str) -> str:
    """Who decided that ``token`` (issued by ``ps``) should exist, in words.

    * an auth token the person approved: ``mcp-user (consent at 14:13 UTC)``;
    * an auth token issued with no consent asked: the PS's consent policy;
    * a person token: the PS, because the agent is bound to that person;
    * an agent token: the Agent Provider, for the person it was set up for.
    """
    decoded = jws.decode_unverified(token)
    typ, jti = decoded.header.get("typ"), decoded.payload.get("jti")
    issued = next(
        (
            e
            for e in ps.store.audit_log(100_000)
            if e.action.endswith("_token_issued") and _details(e).get("jti") == jti
        ),
        None,
    )
    if issued is None or decoded.payload.get("iss") != ps.identifier:
        return "not issued by this Person Server"
    if typ == AUTH_TYP:
        for pending in ps.store.list_pending("completed"):
            result = pending.result if isinstance(pending.result, dict) else {}
            if pending.kind == "auth_token" and result.get("auth_token") == token:
                return f"{pending.decided_by} (consent at {at(pending.decided_at)})"
        return "the Person Server's consent policy (nobody was asked)"
    if typ == PERSON_TYP:
        person = persons(ps)(decoded.payload.get("sub"), decoded.payload.get("aud"))
        return f"the Person Server (the agent acts for {person or 'a person'})"
    if typ == AGENT_TYP:
        return f"the Agent Provider (it set the agent up for {issued.actor})"
    return "the Person Server"


__all__ = [
    "SCOPE_PHRASES",
    "AuditEntry",
    "action_words",
    "at",
    "name_of",
    "persons",
    "sentences",
    "trail",
    "who_decided",
]
