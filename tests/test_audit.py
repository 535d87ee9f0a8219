"""The audit trail in words (aauth_kit.audit) over a real Person Server's log.

Every exchange is traced, down to the audit sentences: each grant at the PS can be
traced to who decided it — the person (-11 "User Interaction"), the PS's own policy
(-11 "PS Response", an auth token without asking) or the Agent Provider (-11 "Agent Token").
"""

from __future__ import annotations

import threading

import pytest

from aauth_kit import audit
from aauth_kit.audit import AuditEntry
from aauth_kit.flow import FlowError
from aauth_kit.lab import Lab
from aauth_kit.waiting import held_poll

SCA = "https://supply-chain.example"
T0 = 1_790_000_000  # 14:13:20 UTC


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="asgi", docs=True, data_dir=tmp_path) as lab:
        yield lab


def consent_flow(lab, agent, approved: bool):
    """POST /optimize in the background; the person decides once the poll is held."""
    outcome = {}

    def run():
        try:
            with lab.client(agent) as client:
                outcome["response"] = client.post(f"{SCA}/optimize", json={"prompt": "Optimize"})
        except FlowError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        code = None
        while code is None:
            code = agent.last_interaction.code if agent.last_interaction else None
            thread.join(0.01)
        held_poll(lab.ps, code)
        lab.ps.decide(code, approved)
    finally:
        thread.join(60)
    return outcome


def test_consent_is_told_as_the_person_authorizing_the_agent(lab):
    # -11 "User Interaction": the person approves; the auth token follows from that approval
    agent = lab.new_agent("backend-two")
    assert consent_flow(lab, agent, True)["response"].status_code == 200
    trail = audit.trail(lab.ps, names={SCA: "the supply-chain agent"})
    assert "mcp-user authorized the backend-two agent to optimize the supply chain at 14:13 UTC." in trail
    assert (
        "The Person Server issued the backend-two agent an auth token to optimize the supply chain "
        "for mcp-user, as mcp-user had approved, at 14:13 UTC."
    ) in trail
    assert (
        "The Person Server let the backend-two agent act for mcp-user at the supply-chain agent "
        "(a person token) at 14:13 UTC."
    ) in trail
    assert (
        "The Agent Provider issued the backend-two agent its agent token for mcp-user at 14:13 UTC." in trail
    )
    assert "The backend-two agent asked for permission to optimize the supply chain at 14:13 UTC." in trail


def test_policy_grant_names_nobody_as_approver(tmp_path):
    # -11 "PS Response": no consent needed -> the PS issues at once; the trail says nobody was asked
    with Lab(mode="asgi", docs=True, data_dir=tmp_path, consent_scopes=[], consent_prefixes=[]) as lab:
        agent = lab.new_agent("notebook")
        with lab.client(agent) as client:
            assert client.post(f"{SCA}/optimize", json={}).status_code == 200
        trail = audit.trail(lab.ps)
        assert (
            "The Person Server's policy let the notebook agent optimize the supply chain for mcp-user "
            "without asking anyone, at 14:13 UTC."
        ) in trail
        assert not any("authorized" in s for s in trail)
        assert audit.who_decided(lab.ps, agent.auth_token_for(SCA)) == (
            "the Person Server's consent policy (nobody was asked)"
        )


def test_denial_and_expiry_are_told(lab):
    agent = lab.new_agent("notebook")
    assert consent_flow(lab, agent, False)["error"].code == "denied"
    # -11 "Deferred Responses": a request nobody answers expires (408 expired on the poll)
    late = lab.new_agent("late", on_interaction=lambda i: lab.clock.advance(lab.pending_ttl + 1))
    with lab.client(late) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert info.value.code == "expired"
    trail = audit.trail(lab.ps)
    assert "mcp-user refused to let the notebook agent optimize the supply chain at 14:13 UTC." in trail
    assert (
        "Nobody answered the late agent's request to optimize the supply chain; it expired at 14:23 UTC."
        in trail
    )


def test_who_decided_each_kind_of_token(lab):
    agent = lab.new_agent("notebook")
    assert consent_flow(lab, agent, True)["response"].status_code == 200
    assert audit.who_decided(lab.ps, agent.auth_token_for(SCA)) == "mcp-user (consent at 14:13 UTC)"
    assert (
        audit.who_decided(lab.ps, agent.person_token_for(SCA))
        == "the Person Server (the agent acts for mcp-user)"
    )
    assert (
        audit.who_decided(lab.ps, agent.agent_token)
        == "the Agent Provider (it set the agent up for mcp-user)"
    )


def test_who_decided_a_token_from_elsewhere(lab, tmp_path):
    with Lab(mode="asgi", docs=False, data_dir=tmp_path / "other") as other:
        foreign = other.new_agent("notebook").agent_token  # random jti, another PS key
    assert audit.who_decided(lab.ps, foreign) == "not issued by this Person Server"


def entry(seq, action, actor="mcp-user", subject="", details=None, ts=T0):
    return AuditEntry(seq=seq, ts=ts, actor=actor, action=action, subject=subject, details=details)


def test_every_logged_action_reads_as_a_sentence():
    log = [
        entry(1, "login", subject="mcp-user"),
        entry(
            2,
            "consent_policy_changed",
            subject="consent-policy",
            details={"scopes": ["supply-chain:check"], "prefixes": []},
        ),
        entry(3, "agent_token_issued", actor="https://ps.example", subject="aauth:tool@ps.example"),
        entry(
            4,
            "auth_token_requested",
            actor="aauth:tool@ps.example",
            subject=SCA,
            details={"pending_id": "p1", "scope": "supply-chain:x", "justification": None},
        ),
        entry(
            5,
            "auth_token_abandoned",
            subject=SCA,
            details={"pending_id": "p1", "agent": "aauth:tool@ps.example", "scope": "supply-chain:x"},
        ),
        entry(
            6, "pending_cancelled", actor="aauth:tool@ps.example", subject=SCA, details={"pending_id": "p2"}
        ),
        entry(7, "pending_expired", actor="https://ps.example", subject="p9", ts=T0 + 3600),
        entry(8, "person_token_requested", actor="aauth:new@ap.example", subject=SCA),
        entry(9, "person_token_approved", subject=SCA, details={"agent": "aauth:new@ap.example"}),
        entry(
            10, "agent_approval_requested", actor="aauth:fresh@ps.example", subject="aauth:fresh@ps.example"
        ),
        entry(
            11,
            "agent_approval_denied",
            subject="aauth:fresh@ps.example",
            details={"agent": "aauth:fresh@ps.example"},
        ),
        entry(12, "logout", subject="mcp-user"),
        entry(13, "something_new", subject="x"),
    ]
    assert audit.sentences(log, names={SCA: "the supply-chain agent"}) == [
        "mcp-user signed in at the Person Server at 14:13 UTC.",
        "mcp-user changed the consent policy at 14:13 UTC: the person is asked for the scopes "
        "supply-chain:check and the prefixes none.",
        "The Agent Provider issued the tool agent its agent token at 14:13 UTC.",
        "The tool agent asked for permission to use supply-chain:x at the supply-chain agent at 14:13 UTC.",
        "mcp-user left without deciding whether the tool agent may use supply-chain:x at the supply-chain agent, "
        "at 14:13 UTC.",
        "The tool agent withdrew its request p2 at 14:13 UTC.",
        "Pending request p9 expired unanswered at 15:13 UTC.",
        "The new agent, bound to no person yet, asked to act at the supply-chain agent at 14:13 UTC.",
        "mcp-user took on the new agent as their agent at 14:13 UTC.",
        "The fresh agent asked to become a person's agent at 14:13 UTC.",
        "mcp-user denied the fresh agent's request at 14:13 UTC.",
        "mcp-user signed out of the Person Server at 14:13 UTC.",
        "mcp-user: something new x at 14:13 UTC.",
    ]


def test_an_approval_covers_one_issue_only():
    # the second token for the same grant, with no new approval, came from the policy
    grant = {"agent": "aauth:b@ps.example", "scope": "supply-chain:optimize", "pending_id": "p1"}
    issued = {"jti": "auth-1", "aud": SCA, "sub": "s", "scope": "supply-chain:optimize"}
    log = [
        entry(1, "auth_token_approved", subject=SCA, details=grant),
        entry(2, "auth_token_issued", actor="aauth:b@ps.example", subject=SCA, details=issued),
        entry(3, "auth_token_issued", actor="aauth:b@ps.example", subject=SCA, details=issued),
    ]
    first, second, third = audit.sentences(log, person_of=lambda sub, aud: "alice" if sub == "s" else None)
    assert first == "mcp-user authorized the b agent to optimize the supply chain at 14:13 UTC."
    assert "as mcp-user had approved" in second and "for alice" in second
    assert "policy" in third and "without asking anyone" in third


def test_names_and_phrases():
    assert audit.name_of("aauth:supply-chain@supply-chain.example") == "the supply-chain agent"
    assert audit.name_of("https://api.example") == "api.example"
    assert audit.name_of("https://api.example", {"https://api.example": "the API"}) == "the API"
    assert audit.name_of(None) == "someone"
    assert audit.action_words("supply-chain:check supply-chain:optimize", SCA) == (
        "check the supply chain and optimize the supply chain"
    )
    assert audit.action_words("data.read", "https://api.example") == "use data.read at api.example"
    assert audit.at(T0) == "14:13 UTC"
