"""Pending requests in the Person Server's store (servers/ps/store/pending.py).  Draft
-11: "Deferred Responses", "Polling Error Codes", "Interaction Code Format".
"""

import threading

import pytest
from aauth_kit.servers.ps.store import PSStore

from aauth_kit.errors import AAuthError, UsageError

from .ps_store_helpers import AGENT, AP, JKT, OTHER_JKT, new_pending, store_fixtures

clock, path, store = store_fixtures()


# -- pending requests ------------------------------------------------------------------------------


def test_create_and_get_pending(store, clock):
    """-11 "Deferred Responses": the stored request keeps everything needed to finish it."""
    p = new_pending(
        store, resource="https://sca.example", scope="data.read", justification="optimize", expires_in=300
    )
    assert (p.kind, p.agent_id, p.agent_jkt, p.status) == ("auth_token", AGENT, JKT, "pending")
    assert (p.resource, p.scope, p.justification) == ("https://sca.example", "data.read", "optimize")
    assert p.code == "A1B2C3D4"  # canonical
    assert p.request == {"resource_token": "eyJ...", "scope": "data.read"}
    assert (p.created_at, p.expires_at) == (clock.now, clock.now + 300)
    assert (p.decided_at, p.decided_by, p.result, p.last_poll_at, p.poll_count) == (None, None, None, None, 0)
    assert len(p.id) >= 20 and all(c.isalnum() or c in "-_" for c in p.id)
    assert store.get_pending(p.id) == p
    assert store.get_pending("nope") is None


def test_pending_ids_and_codes_can_be_injected_or_absent(store):
    """Docs mode: the server may choose ids; an approval request may have no code."""
    p = store.create_pending(
        "agent_approval", agent_id=AGENT, agent_iss=AP, agent_jkt=JKT, request={}, pending_id="abc123"
    )
    assert (p.id, p.code) == ("abc123", None)
    with pytest.raises(AAuthError) as exc:
        store.create_pending(
            "agent_approval", agent_id=AGENT, agent_iss=AP, agent_jkt=JKT, request={}, pending_id="abc123"
        )
    assert exc.value.code == "conflict"


def test_create_pending_rejects_bad_kind_and_code(store):
    with pytest.raises(UsageError):
        store.create_pending("coffee", agent_id=AGENT, agent_iss=AP, agent_jkt=JKT, request={})
    with pytest.raises(AAuthError) as exc:
        new_pending(store, code="not a code!")
    assert exc.value.code == "invalid_code"


def test_pending_url_answers_only_to_its_agent_key(store):
    """-11 "Deferred Responses": only the agent key that created the request may poll it."""
    p = new_pending(store)
    assert store.get_pending(p.id, agent_jkt=JKT) == p
    assert store.get_pending(p.id, agent_jkt=OTHER_JKT) is None


def test_find_by_code_ignores_case_hyphens_and_look_alikes(store):
    """-11 "Interaction Code Format": hyphens stripped, case-insensitive, I/L→1, O→0."""
    p = new_pending(store, code="A1B0-C3D4")
    for typed in ("A1B0-C3D4", "a1b0c3d4", " albo-c3d4 ", "AIBO C3D4"):
        assert store.find_by_code(typed) == p
    assert store.find_by_code("A1B0-C3D5") is None
    assert store.find_by_code("junk!") is None


def test_find_by_code_only_live_requests(store, clock):
    """-11 "Interaction Code Format": a code expires with its pending request and is single use."""
    decided = new_pending(store, code="AAAA-AAAA")
    store.mark_interacting(decided.id, "mcp-user")
    assert store.find_by_code("AAAA-AAAA").status == "interacting"
    store.decide(decided.id, True, "mcp-user")
    assert store.find_by_code("AAAA-AAAA") is None
    new_pending(store, code="BBBB-BBBB", expires_in=10)
    clock.now += 10
    assert store.find_by_code("BBBB-BBBB") is None


def test_codes_are_unique_while_live(store, clock):
    """-11 "Interaction Code Format": a live code identifies one request; after it is decided or overdue, it may be reused."""
    first = new_pending(store, expires_in=10)
    with pytest.raises(AAuthError) as exc:
        new_pending(store, code="a1b2c3d4")
    assert exc.value.code == "conflict"
    store.decide(first.id, False, "mcp-user")
    second = new_pending(store, expires_in=10)
    clock.now += 10
    third = new_pending(store)  # the overdue holder is expired on the way
    assert store.get_pending(second.id).status == "expired"
    assert store.find_by_code("A1B2-C3D4") == third


def test_decide_approve_and_deny(store, clock):
    """-11 "Polling Error Codes": the decision is what the next poll reports (200 / 403 denied)."""
    a, d = new_pending(store, code=None), new_pending(store, code=None)
    clock.now += 5
    approved = store.decide(a.id, True, "mcp-user")
    assert (approved.status, approved.decided_at, approved.decided_by) == ("approved", clock.now, "mcp-user")
    assert store.decide(d.id, False, "mcp-user").status == "denied"


def test_second_decision_is_refused(store):
    p = new_pending(store)
    store.decide(p.id, True, "mcp-user")
    with pytest.raises(AAuthError) as exc:
        store.decide(p.id, False, "mallory")
    assert (exc.value.code, exc.value.status) == ("conflict", 409)
    assert store.get_pending(p.id).status == "approved"
    assert store.get_pending(p.id).decided_by == "mcp-user"


def test_decide_unknown_or_overdue(store, clock):
    with pytest.raises(AAuthError) as exc:
        store.decide("nope", True, "mcp-user")
    assert exc.value.code == "not_found"
    p = new_pending(store, expires_in=10)
    clock.now += 10
    with pytest.raises(AAuthError) as exc:
        store.decide(p.id, True, "mcp-user")
    assert exc.value.code == "expired"
    assert store.get_pending(p.id).status == "pending"  # reads and refusals do not change state


def test_mark_interacting(store):
    """-11 "Deferred Response State Machine": 202 polls report `interacting` once the person opened the page;
    -11 "Interaction Code Format": the code is redeemed once (a second opening, even a reload, is conflict)."""
    p = new_pending(store)
    opened = store.mark_interacting(p.id, "mcp-user")
    assert (opened.status, opened.opened_by) == ("interacting", "mcp-user")
    with pytest.raises(AAuthError) as exc:
        store.mark_interacting(p.id, "mcp-user")
    assert exc.value.code == "conflict"
    assert store.decide(p.id, True, "mcp-user").status == "approved"
    with pytest.raises(AAuthError) as exc:
        store.mark_interacting(p.id, "mcp-user")
    assert exc.value.code == "conflict"


def test_abandon(store, clock):
    """-11 "Interaction Callback Errors": callback user_abandoned → polling `abandoned`."""
    p = new_pending(store)
    gone = store.abandon(p.id, "mcp-user")
    assert (gone.status, gone.decided_at, gone.decided_by) == ("abandoned", clock.now, "mcp-user")
    with pytest.raises(AAuthError):
        store.decide(p.id, True, "mcp-user")


def test_cancel(store):
    """-11 "Cancel Request": DELETE on the pending URL cancels; a decided request cannot be cancelled."""
    p = new_pending(store)
    assert store.cancel(p.id).status == "cancelled"
    with pytest.raises(AAuthError) as exc:
        store.decide(p.id, True, "mcp-user")
    assert exc.value.code == "conflict"
    q = new_pending(store)
    store.decide(q.id, False, "mcp-user")
    with pytest.raises(AAuthError) as exc:
        store.cancel(q.id)
    assert exc.value.code == "conflict"


def test_set_result_only_after_approval(store):
    """-11 "Deferred Responses": the poll after approval returns the stored token response."""
    p = new_pending(store)
    with pytest.raises(AAuthError) as exc:
        store.set_result(p.id, {"auth_token": "eyJ..."})
    assert exc.value.code == "conflict"
    store.decide(p.id, True, "mcp-user")
    done = store.set_result(p.id, {"auth_token": "eyJ...", "expires_in": 3600})
    assert (done.status, done.result) == ("completed", {"auth_token": "eyJ...", "expires_in": 3600})
    with pytest.raises(AAuthError):
        store.set_result(p.id, {"auth_token": "other"})


def test_claim_answer_once_per_final_status(store, clock):
    """-11 "Polling Error Codes": a pending URL gives its final answer once, then answers 410; a live or
    merely approved (no result yet) request has nothing to claim."""
    p = new_pending(store)
    assert store.claim_answer(p.id) is None  # live
    store.decide(p.id, True, "mcp-user")
    assert store.claim_answer(p.id) is None  # approved, the token is not minted yet
    store.set_result(p.id, {"auth_token": "eyJ..."})
    clock.now += 1
    claimed = store.claim_answer(p.id)
    assert (claimed.status, claimed.result, claimed.answered_at) == (
        "completed",
        {"auth_token": "eyJ..."},
        clock.now,
    )
    assert store.claim_answer(p.id) is None
    assert store.claim_answer("nope") is None
    for final in ("denied", "expired"):
        q = new_pending(store, code=None)
        if final == "denied":
            store.decide(q.id, False, "mcp-user")
        else:
            clock.now += 10_000
            store.expire_due()
        assert store.claim_answer(q.id).status == final
        assert store.claim_answer(q.id) is None


def test_concurrent_claims_exactly_one_wins(store):
    p = new_pending(store)
    store.decide(p.id, False, "mcp-user")
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.claim_answer(p.id))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_record_poll(store, clock):
    """-11 "Polling Error Codes": the previous poll's time lets the server answer 429 slow_down."""
    p = new_pending(store)
    assert store.record_poll(p.id) is None
    first = clock.now
    clock.now += 2
    assert store.record_poll(p.id) == first
    assert (store.get_pending(p.id).poll_count, store.get_pending(p.id).last_poll_at) == (2, clock.now)
    with pytest.raises(AAuthError) as exc:
        store.record_poll("nope")
    assert exc.value.code == "not_found"


def test_expire_due(store, clock):
    """-11 "Polling Error Codes": an undecided request past its lifetime becomes `expired` (408)."""
    short = new_pending(store, code=None, expires_in=10, pending_id="short")
    interacting = new_pending(store, code=None, expires_in=10, pending_id="interacting")
    store.mark_interacting(interacting.id, "mcp-user")
    decided = new_pending(store, code=None, expires_in=10)
    store.decide(decided.id, True, "mcp-user")
    long = new_pending(store, code=None, expires_in=100)
    assert store.expire_due() == []
    clock.now += 10
    assert store.expire_due() == ["interacting", "short"]
    assert store.expire_due() == []
    assert store.get_pending(short.id).status == "expired"
    assert store.get_pending(decided.id).status == "approved"
    assert store.expire_due(now=clock.now + 1000) == [long.id]


def test_list_pending(store):
    a, b = new_pending(store, code=None, pending_id="a"), new_pending(store, code=None, pending_id="b")
    store.decide(b.id, False, "mcp-user")
    assert [p.id for p in store.list_pending()] == ["a", "b"]
    assert store.list_pending(status="pending") == [a]
    assert [p.id for p in store.list_pending(status="denied")] == ["b"]


# -- concurrent decisions --------------------------------------------------------------------------


def _race(decide, ids, threads=16):
    """Run ``decide`` from many threads at once; return (wins, conflicts)."""
    barrier, wins, conflicts = threading.Barrier(threads), [], []

    def worker(i):
        barrier.wait()
        try:
            wins.append(decide(i, ids[i % len(ids)]))
        except AAuthError as exc:
            conflicts.append(exc.code)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return wins, conflicts


def test_concurrent_decisions_exactly_one_wins(store):
    p = new_pending(store)
    wins, conflicts = _race(lambda i, pid: store.decide(pid, i % 2 == 0, f"user{i}"), [p.id])
    assert len(wins) == 1 and conflicts == ["conflict"] * 15
    final = store.get_pending(p.id)
    assert (final.status, final.decided_by) == (wins[0].status, wins[0].decided_by)


def test_concurrent_decisions_across_two_stores_on_one_file(path, clock):
    """BEGIN IMMEDIATE makes the check-then-update atomic across connections too."""
    with PSStore(path, clock=clock) as one, PSStore(path, clock=clock) as two:
        p = new_pending(one)
        wins, conflicts = _race(lambda i, pid: (one, two)[i % 2].decide(pid, True, f"user{i}"), [p.id])
    assert len(wins) == 1 and conflicts == ["conflict"] * 15
