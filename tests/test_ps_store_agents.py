"""Agents in the Person Server's store (servers/ps/store/agents.py)."""

import pytest

from aauth_kit.errors import AAuthError, UsageError

from .ps_store_helpers import AGENT, JKT, OTHER_JKT, store_fixtures

clock, path, store = store_fixtures()


# -- agents ----------------------------------------------------------------------------------------


def test_agents(store, clock):
    agent = store.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=JKT, username="mcp-user")
    assert (agent.status, agent.username, agent.created_at) == ("pending_approval", "mcp-user", clock.now)
    assert store.get_agent(AGENT, ap_issuer="https://backend.example") == agent
    assert store.get_agent("aauth:other@backend.example", ap_issuer="https://backend.example") is None

    approved = store.set_agent_status(AGENT, "approved", ap_issuer="https://backend.example")
    assert approved.status == "approved"
    clock.now += 10
    rekeyed = store.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=OTHER_JKT)
    assert (rekeyed.agent_jkt, rekeyed.status, rekeyed.username, rekeyed.created_at) == (
        OTHER_JKT,
        "approved",
        "mcp-user",
        agent.created_at,
    )
    denied = store.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=JKT, status="denied")
    assert denied.status == "denied"


def test_agent_names_change_only_when_given(store):
    ap = dict(ap_issuer="https://ps.example", agent_jkt=JKT)
    assert store.upsert_agent(AGENT, name="Backend", **ap).name == "Backend"
    assert store.upsert_agent(AGENT, **ap).name == "Backend"
    assert store.upsert_agent(AGENT, name="Job runner", **ap).name == "Job runner"


def test_list_agents(store):
    ap = dict(ap_issuer="https://x.example", agent_jkt=JKT)
    store.upsert_agent("aauth:a@x.example", username="alice", **ap)
    store.upsert_agent("aauth:b@x.example", username="bob", status="approved", **ap)
    assert [a.agent_id for a in store.list_agents()] == ["aauth:a@x.example", "aauth:b@x.example"]
    assert [a.agent_id for a in store.list_agents(username="bob")] == ["aauth:b@x.example"]
    assert [a.agent_id for a in store.list_agents(status="pending_approval")] == ["aauth:a@x.example"]


def test_agent_status_errors(store):
    with pytest.raises(AAuthError) as exc:
        store.set_agent_status(AGENT, "approved", ap_issuer="https://backend.example")
    assert exc.value.code == "not_found"
    with pytest.raises(UsageError):
        store.set_agent_status(AGENT, "maybe", ap_issuer="https://backend.example")
    with pytest.raises(UsageError):
        store.upsert_agent(AGENT, ap_issuer="https://x.example", agent_jkt=JKT, status="maybe")
