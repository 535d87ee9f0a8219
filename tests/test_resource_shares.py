"""What one agent may hold at a resource, over loopback sockets: its requests count toward its
own share (a sub-agent's toward its parent's, -11 "Sub-Agents") inside its issuer's, so one
agent cannot lock the other agents of its Agent Provider or PS out; finished rows count toward
no share; polls that arrive together run a held invocation once (-11 "Deferred Responses"); a
resource-initiated interaction asked again reuses its row (-11 "Resource-Initiated
Interaction").  The sizes follow OWASP ASVS level 2 (V11.1.4), -11 is silent on them."""

from __future__ import annotations

import threading
import time

import pytest

from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key
from aauth_kit.resource_held import MAX_HELD_PER_AGENT
from aauth_kit.subagents import create_subagent

from .test_resource_authorization import person_token
from .test_resource_managed import SUP, Cast, send, signed_get


@pytest.fixture
def cast(tmp_path):
    cast = Cast(tmp_path)
    yield cast
    cast.close()


def _subagents(cast, parent, count: int) -> tuple[list, FlowError | None]:
    """Ask the PS for ``count`` sub-agents of ``parent``: those it gave, and its first refusal."""
    minted, refused = [], None
    with cast.hosts.client(timeout=60) as client:
        for n in range(count):
            try:
                minted.append(create_subagent(parent, client, f"s{n}", key=Key.from_seed(f"share sub {n}")))
            except FlowError as error:
                refused = refused or error
    return minted, refused


def _quotes(cast, token: str, key: Key):
    return send(cast, signed_get(f"{SUP}/quotes", token, key))


def test_sub_agents_one_agent_cannot_lock_its_providers_other_agents_out(tmp_path):
    """The attack: an agent mints 20 sub-agents (each a new key) and makes each hold 5 requests at
    the supplier, 100 rows, the share of its whole Agent Provider.  Now the PS gives it 10 sub-agent
    tokens (the 11th is 429 rate_limited + Retry-After), the supplier holds 10 requests for the
    agent with all its sub-agents (then 429 rate_limited + Retry-After), and another agent of the
    same Agent Provider is still held (202)."""
    cast = Cast(tmp_path)
    try:
        mallory = cast.agent(Key.from_seed("share mallory"))
        minted, refused = _subagents(cast, mallory, 20)
        assert len(minted) == 10 and (refused.status, refused.code) == (429, "rate_limited")
        assert int(refused.response.headers["retry-after"]) > 0
        answers = [_quotes(cast, sub.agent_token, sub.key) for sub in minted for _ in range(5)]
        codes = [a.status_code for a in answers]
        assert codes.count(202) == MAX_HELD_PER_AGENT and codes.count(429) == 50 - MAX_HELD_PER_AGENT
        refusal = next(a for a in answers if a.status_code == 429)
        assert refusal.json()["error"] == "rate_limited" and int(refusal.headers["retry-after"]) > 0
        alice_key = Key.from_seed("share alice")
        alice = _quotes(cast, cast.ps.issue_agent_token("alice-agent", alice_key), alice_key)
        assert alice.status_code == 202
    finally:
        cast.close()


def test_held_invocations_a_share_per_agent_inside_the_issuers(tmp_path):
    """With its issuer's share of 4 and an agent's of 2, an agent and its sub-agents get 2 rows held
    (the third is 429 rate_limited + Retry-After), whichever key asks; another agent of the same
    Agent Provider still gets its own."""
    cast = Cast(tmp_path, max_per_issuer=4, max_per_agent=2)
    try:
        mallory = cast.agent(Key.from_seed("share mallory"))
        subs, _ = _subagents(cast, mallory, 3)
        answers = [_quotes(cast, sub.agent_token, sub.key) for sub in subs]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        assert (answers[2].status_code, answers[2].json()["error"]) == (429, "rate_limited")
        assert int(answers[2].headers["retry-after"]) > 0
        other_key = Key.from_seed("share alice")
        assert (
            _quotes(cast, cast.ps.issue_agent_token("alice-agent", other_key), other_key).status_code == 202
        )
    finally:
        cast.close()


def test_held_invocations_finished_rows_count_toward_no_share(tmp_path):
    """Rows that expired (kept a while to answer their poll 408 expired) or that the person denied
    fill no share: the issuer's next agent is held; and at the table's size a finished row makes
    room, while a table of open rows is 429 rate_limited."""
    cast = Cast(tmp_path, max_per_issuer=2)
    try:
        held = cast.supplier.resource.held
        key = Key.from_seed("share first")
        token = cast.ps.issue_agent_token("first", key)
        first, second = (_quotes(cast, token, key) for _ in range(2))
        assert (first.status_code, second.status_code) == (202, 202)
        late, denied = (held.rows[r.headers["location"].rsplit("/", 1)[1]] for r in (first, second))
        late.expires_at = time.time() - 1
        denied.approved = False
        other_key = Key.from_seed("share second")
        other = _quotes(cast, cast.ps.issue_agent_token("second", other_key), other_key)
        assert other.status_code == 202
        expired = send(cast, signed_get(f"{SUP}{first.headers['location']}", token, key))
        assert (expired.status_code, expired.json()["error"]) == (408, "expired")
        held.max_held = 2  # one finished row (the denial) and one open: the denial makes room
        assert _quotes(cast, token, key).status_code == 202 and denied.id not in held.rows
        third_key = Key.from_seed("share third")
        full = _quotes(cast, cast.ps.issue_agent_token("third", third_key), third_key)
        assert (full.status_code, full.json()["error"]) == (429, "rate_limited")
        assert int(full.headers["retry-after"]) > 0
    finally:
        cast.close()


def test_sessions_an_agent_with_its_sub_agents_keeps_its_share(tmp_path):
    """Each sub-agent holds its own session tokens, but together with its parent at most their
    share: past it, their own oldest session ends (nobody else's)."""
    cast = Cast(tmp_path)
    try:
        sessions, held = cast.supplier.resource.sessions, cast.supplier.resource.held
        sessions.max_per_share = 2
        subs, _ = _subagents(cast, cast.agent(Key.from_seed("share mallory")), 3)
        issued = []
        for sub in subs:
            pending = _quotes(cast, sub.agent_token, sub.key)
            held.decide(held.by_code(parse_requirement(pending.headers["aauth-requirement"]).code), True)
            polled = send(cast, signed_get(f"{SUP}{pending.headers['location']}", sub.agent_token, sub.key))
            assert polled.status_code == 200
            issued.append(polled.headers["aauth-access"])
        assert issued[0] not in sessions.rows and all(s in sessions.rows for s in issued[1:])
    finally:
        cast.close()


def test_deferred_responses_waiting_polls_woken_together_run_the_invocation_once(cast):
    """Two polls of one row held open under ``Prefer: wait`` when the person approves: the held
    invocation runs once, one session token is issued, and both polls get the same answer."""
    token = cast.ps.issue_agent_token("buyer", Key.from_seed("managed agent"))
    pending = _quotes(cast, token, Key.from_seed("managed agent"))
    url = f"{SUP}{pending.headers['location']}"
    requirement = parse_requirement(pending.headers["aauth-requirement"])
    row = cast.supplier.resource.held.rows[url.rsplit("/", 1)[1]]
    runs, run = [], row.run

    async def counted(caller):
        runs.append(caller)
        return await run(caller)

    row.run = counted
    answers = []

    def poll():
        message = signed_get(url, token, Key.from_seed("managed agent"), [("prefer", "wait=20")])
        with cast.hosts.client(timeout=60) as client:
            answers.append(client.request("GET", url, headers=message.headers))

    polls = [threading.Thread(target=poll) for _ in range(2)]
    for thread in polls:
        thread.start()
    time.sleep(1)  # both polls wait at the supplier
    assert cast.answer(f"{requirement.url}?code={requirement.code}", "approve").status_code == 200
    for thread in polls:
        thread.join(60)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].headers["aauth-access"] == answers[1].headers["aauth-access"]
    assert len(runs) == 1 and len(cast.supplier.resource.sessions.rows) == 1


def test_resource_initiated_interaction_asked_again_reuses_its_row(cast):
    """An agent challenged six times in a row at a route whose resource token carries the
    resource's interaction (GET /account) gets six resource tokens, all with the same code, and the
    supplier keeps one row: no 429 from rows nobody polls."""
    agent_key = Key.from_seed("managed agent")
    token = person_token(cast)
    answers = [send(cast, signed_get(f"{SUP}/account", token, agent_key)) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 6
    requirements = [parse_requirement(a.headers["aauth-requirement"]) for a in answers]
    assert {r.requirement for r in requirements} == {"auth-token"}
    interactions = [decode_unverified(r.resource_token).payload["interaction"] for r in requirements]
    assert len({i["code"] for i in interactions}) == 1
    assert len(cast.supplier.resource.held.rows) == 1
