"""Issued tokens, revocations and the audit log in the Person Server's store
(servers/ps/store/tokens.py, audit.py).  -11 "Token Revocation".
"""

import sqlite3

import pytest

from aauth_kit.errors import AAuthError

from .ps_store_helpers import AGENT, AP, store_fixtures

clock, path, store = store_fixtures()


# -- issued tokens and revocation ------------------------------------------------------------------


def test_record_and_list_tokens(store):
    claims = dict(
        typ="aa-auth+jwt", iss="https://ps.example", aud="https://sca.example", sub="u1", scope="data.read"
    )
    t1 = store.record_token(jti="j1", agent_id=AGENT, agent_iss=AP, iat=100, exp=3700, **claims)
    t2 = store.record_token(
        jti="j2", agent_id="aauth:other@x.example", agent_iss="https://x.example", iat=200, exp=3800, **claims
    )
    assert (t1.jti, t1.typ, t1.agent_id, t1.exp) == ("j1", "aa-auth+jwt", AGENT, 3700)
    assert store.list_tokens() == [t1, t2]
    assert store.list_tokens(agent_id=AGENT) == [t1]
    with pytest.raises(AAuthError) as exc:
        store.record_token(jti="j1", agent_id=AGENT, agent_iss=AP, iat=100, exp=3700, **claims)
    assert exc.value.code == "conflict"


def test_revocation_by_iss_and_jti(store):
    """-11 "Token Revocation": tokens are revoked by (iss, jti); the same jti from another issuer is untouched."""
    assert not store.is_revoked("https://ps.example", "j1")
    assert store.revoke("https://ps.example", "j1", exp=3700) is True
    assert store.revoke("https://ps.example", "j1", exp=3700) is False
    assert store.is_revoked("https://ps.example", "j1")
    assert not store.is_revoked("https://as.example", "j1")


# -- audit log -------------------------------------------------------------------------------------


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
