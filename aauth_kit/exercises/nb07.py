"""Exercises for notebook 07 (the supply-chain demo), graded against the live lab:
``ex = nb07.bind(lab)``.

* ``ex.q1`` — which key must sign a request that presents the market-analysis auth
  token?  The RFC 7638 thumbprint of its ``cnf.jwk``: the supply-chain agent's own key,
  because in a call chain (-11 "Call Chaining") the intermediary asks for the token itself.
* ``ex.q2`` — ``approvals(entries)``: from the PS's audit log, the consents a person
  gave — ``(person, agent, scope)`` — and not the grants the PS's policy made alone.
"""

from __future__ import annotations

from ..keys import jwk_thumbprint
from . import Exercise, NotAttempted
from .base import binding

BACKEND = "aauth:backend@ps.example"
SCA_AGENT = "aauth:supply-chain@supply-chain.example"


# -- q1: the key behind the market-analysis token ------------------------------------------------
def _grade_key(lab):
    def grade(answer) -> str | None:
        if not isinstance(answer, str):
            return "answer with the thumbprint as a string (aauth_kit.keys.jwk_thumbprint gives one)"
        expected = lab.keys["supply_chain_agent"].thumbprint()
        if answer == expected:
            return None
        if answer == lab.keys["backend"].thumbprint():
            return (
                "that is the backend's key: it holds the supply-chain token, but the backend never calls "
                "the market analyst. Who signs the call to /analyze?"
            )
        if answer == lab.keys["supply_chain"].thumbprint():
            return (
                "that is the key the supply-chain agent signs its resource tokens with; as an agent it "
                "signs requests with another key (its agent token's cnf)"
            )
        if answer in {lab.keys[name].public_jwk()["x"] for name in lab.keys}:
            return "that is the key's x coordinate; the thumbprint is the RFC 7638 hash of the whole JWK"
        return "that is not the thumbprint of the key the market-analysis auth token names in cnf.jwk"

    return grade


def _q1(lab) -> Exercise:
    return Exercise(
        notebook="07",
        title="Q1 · the key behind the market-analysis token",
        grade=_grade_key(lab),
        hints=(
            "The results list two authorizations. The second is for the market-analysis agent; look at its cnf.",
            "jwk_thumbprint(results['authorizations'][1]['claims']['cnf']['jwk']) — "
            "from aauth_kit.keys import jwk_thumbprint.",
        ),
        reference=(
            "from aauth_kit.keys import jwk_thumbprint\n\n"
            "answer = jwk_thumbprint(market['claims']['cnf']['jwk'])"
        ),
        success='the market-analysis token is bound to the supply-chain agent\'s own key (-11 "Call Chaining").',
    )


# -- q2: consents from the audit log -------------------------------------------------------------
def _entry(seq, action, actor, subject, details):
    from aauth_kit.audit import AuditEntry

    return AuditEntry(
        seq=seq, ts=1_790_000_000 + seq, actor=actor, action=action, subject=subject, details=details
    )


def _sample_log() -> list:
    """A log with one consent, one refusal and one grant by policy."""
    sca, maa = "https://supply-chain.example", "https://market-analysis.example"
    return [
        _entry(
            1, "auth_token_requested", BACKEND, sca, {"pending_id": "p1", "scope": "supply-chain:optimize"}
        ),
        _entry(
            2,
            "auth_token_approved",
            "alice",
            sca,
            {"pending_id": "p1", "agent": BACKEND, "scope": "supply-chain:optimize"},
        ),
        _entry(
            3,
            "auth_token_issued",
            BACKEND,
            sca,
            {"jti": "a1", "sub": "s1", "aud": sca, "scope": "supply-chain:optimize"},
        ),
        _entry(
            4,
            "auth_token_issued",
            SCA_AGENT,
            maa,
            {"jti": "a2", "sub": "s2", "aud": maa, "scope": "market-analysis:analyze"},
        ),
        _entry(
            5, "auth_token_requested", BACKEND, sca, {"pending_id": "p2", "scope": "supply-chain:optimize"}
        ),
        _entry(
            6,
            "auth_token_denied",
            "bob",
            sca,
            {"pending_id": "p2", "agent": BACKEND, "scope": "supply-chain:optimize"},
        ),
    ]


def _consents(ps) -> list[tuple]:
    """What the PS's pending table says the persons approved (an independent record)."""
    return [
        (p.decided_by, p.agent_id, p.scope)
        for p in ps.store.list_pending()
        if p.kind == "auth_token" and p.status in ("approved", "completed")
    ]


def _grade_approvals(lab):
    def grade(answer) -> str | None:
        found = answer(_sample_log())
        if found is None:
            raise NotAttempted
        found = [tuple(item) for item in found]
        if found == [("alice", BACKEND, "supply-chain:optimize")]:
            live = [tuple(item) for item in answer(lab.ps.store.audit_log(100_000))]
            expected = _consents(lab.ps)
            if sorted(live) != sorted(expected):
                return f"on this lab's own log your function found {live}, but the PS recorded {expected}"
            return None
        if ("bob", BACKEND, "supply-chain:optimize") in found:
            return "bob refused (auth_token_denied): a refusal is not a consent"
        if any(item[1:] == (SCA_AGENT, "market-analysis:analyze") for item in found):
            return (
                "market-analysis:analyze was granted by the PS's policy (auth_token_issued with no approval "
                "before it): nobody consented to it"
            )
        if any(item[0] == BACKEND for item in found):
            return "the first item is the person who decided (the entry's actor), not the agent that asked"
        return (
            "on a log where alice approved the backend agent's supply-chain:optimize, expected "
            f"[('alice', '{BACKEND}', 'supply-chain:optimize')], got {found}"
        )

    return grade


def _q2(lab) -> Exercise:
    return Exercise(
        notebook="07",
        title="Q2 · who consented to what",
        grade=_grade_approvals(lab),
        hints=(
            "Each entry has .action, .actor, .subject and .details. Print a few of lab.ps.store.audit_log().",
            "A consent is an entry with action 'auth_token_approved': actor is the person, details has agent and scope.",
        ),
        reference=(
            "def approvals(entries):\n"
            "    return [(e.actor, e.details['agent'], e.details['scope'])\n"
            "            for e in entries if e.action == 'auth_token_approved']"
        ),
        success="only the person's approvals count; the PS's policy grants are told apart.",
        lab=lab,
    )


bind = binding(_q1, _q2)


def reference_approvals(entries) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.details["agent"], e.details["scope"])
        for e in entries
        if e.action == "auth_token_approved"
    ]


def reference_key(results: dict) -> str:
    """The reference answer to ``q1`` from the backend's job results."""
    market = next(a for a in results["authorizations"] if a["resource"] == "https://market-analysis.example")
    return jwk_thumbprint(market["claims"]["cnf"]["jwk"])


__all__ = ["bind", "reference_approvals", "reference_key"]
