"""The Person Server's SQLite state (servers/ps_store.py).

DESIGN §4 "State": pending requests, decisions, issued token ids, revocations and the
audit log survive a restart.  [N] = draft -11: deferred responses and polling errors,
"Interaction Code Format", revocation by (iss, jti).
"""

import sqlite3
import threading

import pytest
from aauth_kit.servers.ps import store as ps_store
from aauth_kit.servers.ps.store import SCHEMA_VERSION, PSStore, hash_password, verify_password

from aauth_kit.errors import AAuthError, UsageError

AGENT = "aauth:backend@backend.example"
JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
OTHER_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


class Clock:
    def __init__(self, now=1_770_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "ps.sqlite3"


@pytest.fixture
def store(path, clock):
    with PSStore(path, clock=clock) as s:
        yield s


def new_pending(store, code="A1B2-C3D4", **kw):
    args = dict(agent_id=AGENT, agent_jkt=JKT, request={"resource_token": "eyJ...", "scope": "data.read"})
    return store.create_pending("auth_token", code=code, **args | kw)


# -- schema -------------------------------------------------------------------------


def test_creates_the_file_wal_and_schema_version(path, store):
    """DESIGN §4: one SQLite file in a data directory (created), WAL, a schema version."""
    assert path.exists()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_schema_creation_is_idempotent(path, clock):
    for _ in range(2):
        with PSStore(path, clock=clock) as s:
            s.audit("ps", "started")
    with PSStore(path, clock=clock) as s:
        assert [e.action for e in s.audit_log()] == ["started", "started"]


def test_refuses_a_newer_schema(path):
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UsageError):
        PSStore(path)


def test_migrates_a_version_1_file(path, clock):
    """DESIGN §4 "State": a data directory from the previous schema keeps its rows and gains
    the new columns (agent display names, answered pending requests)."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, ap_issuer TEXT NOT NULL, username TEXT,"
        " status TEXT NOT NULL, agent_jkt TEXT NOT NULL, created_at REAL NOT NULL);"
        "CREATE TABLE pending (id TEXT PRIMARY KEY, kind TEXT NOT NULL, agent_id TEXT NOT NULL,"
        " agent_jkt TEXT NOT NULL, resource TEXT, scope TEXT, justification TEXT, code TEXT, request TEXT NOT NULL,"
        " status TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, decided_at REAL,"
        " decided_by TEXT, result TEXT, last_poll_at REAL, poll_count INTEGER NOT NULL DEFAULT 0);"
        f"INSERT INTO agents VALUES ('{AGENT}', 'https://ps.example', 'mcp-user', 'approved', '{JKT}', 1.0);"
        f"INSERT INTO pending (id, kind, agent_id, agent_jkt, request, status, created_at, expires_at)"
        f" VALUES ('p1', 'auth_token', '{AGENT}', '{JKT}', '{{}}', 'denied', 1.0, 2.0);"
        "PRAGMA user_version=1;"
    )
    db.close()
    with PSStore(path, clock=clock) as s:
        assert s.get_agent(AGENT).name is None
        assert (
            s.upsert_agent(AGENT, ap_issuer="https://ps.example", agent_jkt=JKT, name="Backend").name
            == "Backend"
        )
        assert s.claim_answer("p1").answered_at == clock.now
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()


# -- persons and sessions -----------------------------------------------------------


def test_users_and_passwords(store):
    user = store.add_user("mcp-user", "user123", "MCP User")
    assert (user.username, user.display_name) == ("mcp-user", "MCP User")
    assert store.get_user("mcp-user") == user
    assert store.check_password("mcp-user", "user123")
    assert not store.check_password("mcp-user", "user124")
    assert not store.check_password("nobody", "user123")
    assert store.get_user("nobody") is None


def test_unknown_user_costs_a_password_hash(store, monkeypatch):
    """No timing shortcut for unknown usernames: the same scrypt work is done."""
    calls = []
    monkeypatch.setattr(ps_store, "hash_password", lambda pw, **kw: calls.append(pw))
    assert not store.check_password("nobody", "guess")
    assert calls == ["guess"]


def test_display_name_defaults_to_username(store):
    assert store.add_user("alice", "pw").display_name == "alice"


def test_duplicate_user_is_a_conflict(store):
    store.add_user("alice", "pw")
    with pytest.raises(AAuthError) as exc:
        store.add_user("alice", "other")
    assert exc.value.code == "conflict"
    assert store.check_password("alice", "pw")


def test_passwords_are_salted_hashes(path, store):
    store.add_user("alice", "same")
    store.add_user("bob", "same")
    db = sqlite3.connect(path)
    hashes = [h for (h,) in db.execute("SELECT password_hash FROM users")]
    db.close()
    assert len(set(hashes)) == 2 and all(h.startswith("scrypt$") and "same" not in h for h in hashes)
    assert verify_password("same", hashes[0]) and not verify_password("Same", hashes[0])
    assert hash_password("x", salt=b"s" * 16) == hash_password("x", salt=b"s" * 16)


def test_sessions(path, store, clock):
    store.add_user("alice", "pw")
    token = store.create_session("alice", ttl=60)
    other = store.create_session("alice", ttl=60)
    assert token != other and len(token) >= 40
    assert store.session_user(token) == "alice"
    assert store.session_user("forged") is None
    store.delete_session(token)
    assert store.session_user(token) is None
    assert store.session_user(other) == "alice"
    clock.now += 60
    assert store.session_user(other) is None
    db = sqlite3.connect(path)
    assert token not in str(db.execute("SELECT * FROM sessions").fetchall())  # stored by hash
    fresh = store.create_session("alice")  # purges the expired session
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert store.session_user(fresh) == "alice"
    db.close()


def test_session_for_unknown_user(store):
    with pytest.raises(AAuthError) as exc:
        store.create_session("nobody")
    assert exc.value.code == "not_found"


# -- agents -------------------------------------------------------------------------


def test_agents(store, clock):
    agent = store.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=JKT, username="mcp-user")
    assert (agent.status, agent.username, agent.created_at) == ("pending_approval", "mcp-user", clock.now)
    assert store.get_agent(AGENT) == agent
    assert store.get_agent("aauth:other@backend.example") is None

    approved = store.set_agent_status(AGENT, "approved")
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


def test_list_users(store):
    store.add_user("mcp-user", "user123")
    store.add_user("alice", "pw", "Alice")
    assert [(u.username, u.display_name) for u in store.list_users()] == [
        ("alice", "Alice"),
        ("mcp-user", "mcp-user"),
    ]


def test_list_agents(store):
    ap = dict(ap_issuer="https://x.example", agent_jkt=JKT)
    store.upsert_agent("aauth:a@x.example", username="alice", **ap)
    store.upsert_agent("aauth:b@x.example", username="bob", status="approved", **ap)
    assert [a.agent_id for a in store.list_agents()] == ["aauth:a@x.example", "aauth:b@x.example"]
    assert [a.agent_id for a in store.list_agents(username="bob")] == ["aauth:b@x.example"]
    assert [a.agent_id for a in store.list_agents(status="pending_approval")] == ["aauth:a@x.example"]


def test_agent_status_errors(store):
    with pytest.raises(AAuthError) as exc:
        store.set_agent_status(AGENT, "approved")
    assert exc.value.code == "not_found"
    with pytest.raises(UsageError):
        store.set_agent_status(AGENT, "maybe")
    with pytest.raises(UsageError):
        store.upsert_agent(AGENT, ap_issuer="https://x.example", agent_jkt=JKT, status="maybe")


# -- pending requests ---------------------------------------------------------------


def test_create_and_get_pending(store, clock):
    """[N] deferred response: the stored request keeps everything needed to finish it."""
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
    """DESIGN §4 docs mode: the server may choose ids; an approval request may have no code."""
    p = store.create_pending("agent_approval", agent_id=AGENT, agent_jkt=JKT, request={}, pending_id="abc123")
    assert (p.id, p.code) == ("abc123", None)
    with pytest.raises(AAuthError) as exc:
        store.create_pending("agent_approval", agent_id=AGENT, agent_jkt=JKT, request={}, pending_id="abc123")
    assert exc.value.code == "conflict"


def test_create_pending_rejects_bad_kind_and_code(store):
    with pytest.raises(UsageError):
        store.create_pending("coffee", agent_id=AGENT, agent_jkt=JKT, request={})
    with pytest.raises(AAuthError) as exc:
        new_pending(store, code="not a code!")
    assert exc.value.code == "invalid_code"


def test_pending_url_answers_only_to_its_agent_key(store):
    """[N] deferred responses: only the agent key that created the request may poll it."""
    p = new_pending(store)
    assert store.get_pending(p.id, agent_jkt=JKT) == p
    assert store.get_pending(p.id, agent_jkt=OTHER_JKT) is None


def test_find_by_code_ignores_case_hyphens_and_look_alikes(store):
    """[N] "Interaction Code Format": hyphens stripped, case-insensitive, I/L→1, O→0."""
    p = new_pending(store, code="A1B0-C3D4")
    for typed in ("A1B0-C3D4", "a1b0c3d4", " albo-c3d4 ", "AIBO C3D4"):
        assert store.find_by_code(typed) == p
    assert store.find_by_code("A1B0-C3D5") is None
    assert store.find_by_code("junk!") is None


def test_find_by_code_only_live_requests(store, clock):
    """[N]: a code expires with its pending request and is single use."""
    decided = new_pending(store, code="AAAA-AAAA")
    store.mark_interacting(decided.id)
    assert store.find_by_code("AAAA-AAAA").status == "interacting"
    store.decide(decided.id, True, "mcp-user")
    assert store.find_by_code("AAAA-AAAA") is None
    new_pending(store, code="BBBB-BBBB", expires_in=10)
    clock.now += 10
    assert store.find_by_code("BBBB-BBBB") is None


def test_codes_are_unique_while_live(store, clock):
    """[N]: a live code identifies one request; after it is decided or overdue, it may be reused."""
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
    """[N] polling: the decision is what the next poll reports (200 / 403 denied)."""
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
    """aauth-wire §5.6: 202 polls report `interacting` once the person opened the page."""
    p = new_pending(store)
    assert store.mark_interacting(p.id).status == "interacting"
    assert store.mark_interacting(p.id).status == "interacting"  # a page reload
    assert store.decide(p.id, True, "mcp-user").status == "approved"
    with pytest.raises(AAuthError) as exc:
        store.mark_interacting(p.id)
    assert exc.value.code == "conflict"


def test_abandon(store, clock):
    """aauth-wire §5.6: callback user_abandoned → polling `abandoned`."""
    p = new_pending(store)
    gone = store.abandon(p.id, "mcp-user")
    assert (gone.status, gone.decided_at, gone.decided_by) == ("abandoned", clock.now, "mcp-user")
    with pytest.raises(AAuthError):
        store.decide(p.id, True, "mcp-user")


def test_cancel(store):
    """aauth-wire §5.7: DELETE on the pending URL cancels; a decided request cannot be cancelled."""
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
    """aauth-wire §5.6: the poll after approval returns the stored token response."""
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
    """[N] polling: a pending URL gives its final answer once, then answers 410; a live or
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
    """[N] polling: the previous poll's time lets the server answer 429 slow_down."""
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
    """[N] polling: an undecided request past its lifetime becomes `expired` (408)."""
    short = new_pending(store, code=None, expires_in=10, pending_id="short")
    interacting = new_pending(store, code=None, expires_in=10, pending_id="interacting")
    store.mark_interacting(interacting.id)
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


# -- issued tokens and revocation -------------------------------------------------


def test_record_and_list_tokens(store):
    claims = dict(
        typ="aa-auth+jwt", iss="https://ps.example", aud="https://sca.example", sub="u1", scope="data.read"
    )
    t1 = store.record_token(jti="j1", agent_id=AGENT, iat=100, exp=3700, **claims)
    t2 = store.record_token(jti="j2", agent_id="aauth:other@x.example", iat=200, exp=3800, **claims)
    assert (t1.jti, t1.typ, t1.agent_id, t1.exp) == ("j1", "aa-auth+jwt", AGENT, 3700)
    assert store.list_tokens() == [t1, t2]
    assert store.list_tokens(agent_id=AGENT) == [t1]
    with pytest.raises(AAuthError) as exc:
        store.record_token(jti="j1", agent_id=AGENT, iat=100, exp=3700, **claims)
    assert exc.value.code == "conflict"


def test_revocation_by_iss_and_jti(store):
    """[N] "Revocation": tokens are revoked by (iss, jti); the same jti from another issuer is untouched."""
    assert not store.is_revoked("https://ps.example", "j1")
    assert store.revoke("https://ps.example", "j1", exp=3700) is True
    assert store.revoke("https://ps.example", "j1", exp=3700) is False
    assert store.is_revoked("https://ps.example", "j1")
    assert not store.is_revoked("https://as.example", "j1")


# -- audit log ---------------------------------------------------------------------


def test_audit_log(store, clock):
    seqs = []
    for i in range(5):
        clock.now += 1
        seqs.append(store.audit("mcp-user", "approved", f"pending-{i}", {"scope": "data.read", "n": i}))
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    log = store.audit_log(limit=2)
    assert [e.subject for e in log] == ["pending-3", "pending-4"]  # latest two, oldest first
    newest = (log[1].ts, log[1].actor, log[1].action, log[1].details)
    assert newest == (clock.now, "mcp-user", "approved", {"scope": "data.read", "n": 4})
    assert store.audit_log()[0].subject == "pending-0"
    assert store.audit("ps", "started") > seqs[-1]
    assert store.audit_log()[-1].details is None


def test_audit_log_is_append_only(path, store):
    store.audit("ps", "started")
    db = sqlite3.connect(path)
    for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    db.close()
    assert [e.actor for e in store.audit_log()] == ["ps"]


# -- restart -----------------------------------------------------------------------


def test_restart_keeps_everything(path, clock):
    """DESIGN §4 "State": nothing is lost when the server restarts."""
    with PSStore(path, clock=clock) as s:
        s.add_user("mcp-user", "user123", "MCP User")
        session = s.create_session("mcp-user")
        s.upsert_agent(AGENT, ap_issuer="https://backend.example", agent_jkt=JKT, username="mcp-user")
        waiting = new_pending(s, code="WAIT-0001")
        approved = new_pending(s, code="DONE-0001")
        s.decide(approved.id, True, "mcp-user")
        s.set_result(approved.id, {"auth_token": "eyJ...", "expires_in": 3600})
        denied = new_pending(s, code=None)
        s.decide(denied.id, False, "mcp-user")
        s.record_poll(waiting.id)
        claims = dict(
            typ="aa-auth+jwt", iss="https://ps.example", aud="https://sca.example", sub="u1", scope="s"
        )
        s.record_token(jti="j1", agent_id=AGENT, iat=1, exp=2, **claims)
        s.revoke("https://ps.example", "j1", 2)
        s.audit("mcp-user", "approved", approved.id, {"scope": "data.read"})
        before = (s.list_pending(), s.list_agents(), s.list_tokens(), s.audit_log())

    with PSStore(path, clock=clock) as s:
        assert (s.list_pending(), s.list_agents(), s.list_tokens(), s.audit_log()) == before
        assert s.check_password("mcp-user", "user123")
        assert s.session_user(session) == "mcp-user"
        assert s.find_by_code("wait-0001").id == waiting.id
        assert s.get_pending(approved.id).result == {"auth_token": "eyJ...", "expires_in": 3600}
        assert s.get_pending(denied.id).status == "denied"
        assert s.is_revoked("https://ps.example", "j1")
        with pytest.raises(AAuthError) as exc:
            s.decide(approved.id, False, "mallory")  # a decision survives a restart, still final
        assert exc.value.code == "conflict"
        assert s.decide(waiting.id, True, "mcp-user").status == "approved"
