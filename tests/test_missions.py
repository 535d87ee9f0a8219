"""Missions (draft -11 "Mission" and its subsections; ``mission_s256`` in the token structure
sections) over real HTTP in a socket-mode Lab: the PS's
``mission_endpoint``, the person's approval, the blob and its ``s256``, the claim in person,
resource and auth tokens, update, completion, the person's revocation, and every mission error
with its status and members."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3

import pytest
from aauth_kit.servers.ps.store import PSStore
from aauth_kit.servers.ps.store.schema import SCHEMA_VERSION

from aauth_kit import jws, tokens
from aauth_kit.agent import Agent
from aauth_kit.flow import FlowError
from aauth_kit.keys import b64url
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.mission_client import Mission
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

PS = "https://ps.example"
SCA = "https://supply-chain.example"
MAA = "https://market-analysis.example"
DESCRIPTION = "# Optimize the supply chain\n\nUse the market analysis; report the plan."
TOOLS = [{"name": "optimize", "description": "Run the supply-chain optimizer"}]


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", data_dir=tmp_path, consent_scopes=[]) as lab:
        yield lab


@pytest.fixture
def person(lab):
    """The seed's person, logged in at the PS (the consent REST API)."""
    client = lab.hosts.client()
    response = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    client.headers["Authorization"] = f"Bearer {response.json()['session']}"
    yield client
    client.close()


def answer(person, code: str, approved: bool = True) -> dict:
    """The person opens the request by its code and decides; returns what the consent API showed."""
    context = person.get(f"{PS}/consent", params={"code": code}).json()
    decision = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": approved})
    assert decision.status_code == 200, decision.text
    return context


def approving_agent(lab, person, local: str = "notebook", seen: list | None = None, **options):
    def on_interaction(interaction):
        context = answer(person, interaction.code)
        if seen is not None:
            seen.append(context)

    return lab.new_agent(local, on_interaction=on_interaction, **options)


def start(lab, agent, **options) -> Mission:
    with lab.client(agent) as client:
        return agent.start_mission(client, DESCRIPTION, **options)


def signed_post(lab, agent, url: str, body) -> tuple[int, dict]:
    """A hand-signed JSON POST with the agent's key and agent token (no agent logic)."""
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], json.dumps(body).encode())
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    response = lab.send(message).response
    return response.status, json.loads(response.body)


def claims(token: str) -> dict:
    return jws.decode_unverified(token).payload


def ps_tokens(lab, endpoint: str, source: str | None = None) -> list[str]:
    """Every token the PS handed out at ``endpoint`` (its 200 bodies in the trace)."""
    member = {"person-token": "person_token", "auth-token": "auth_token"}[endpoint]
    return [
        json.loads(e.response.body)[member]
        for e in lab.trace.exchanges
        if e.request.target_uri == f"{PS}/{endpoint}" and e.status == 200 and source in (None, e.source)
    ]


# -- the whole story ------------------------------------------------------------------------------------------------


def test_mission_story_end_to_end(lab, person):
    """-11 "Mission Creation", "Mission Approval": the agent asks for a mission, the person approves it on the consent API
    (which shows the description), the agent gets ``{s256, mission}`` with s256 = SHA-256 of the
    decoded bytes ("Mission Identifier"), the PS keeps those exact bytes; person and auth tokens
    carry mission_s256 ("Person Token Structure", "Auth Token Structure"), the SCA's resource
    token copies it ("Resource Token Structure") and so does the call chain ("Call Chaining");
    completion ("Mission Completion") terminates it and the next token request is ``403
    mission_terminated`` ("Mission Status Errors")."""
    assert (
        lab.hosts.client().get(f"{lab.url('ps')}/.well-known/aauth-person.json").json()["mission_endpoint"]
        == f"{PS}/mission"
    )  # -11 "Person Server Metadata": mission_endpoint (OPTIONAL)
    seen: list = []
    agent = approving_agent(lab, person, seen=seen)
    mission = start(lab, agent, tools=TOOLS, resources=[SCA])

    assert seen[0]["kind"] == "mission"
    assert seen[0]["mission"] == {"description": DESCRIPTION, "tools": TOOLS, "resources": [SCA]}
    assert mission.s256 == b64url(hashlib.sha256(mission.blob).digest())
    assert (
        json.loads(mission.blob)
        == mission.document
        == {
            "agent": "aauth:notebook@ps.example",
            "approved_at": mission.document["approved_at"],
            "description": DESCRIPTION,
            "approved_tools": TOOLS,
            "approved_resources": [SCA],
        }
    )
    assert mission.document["approved_at"].endswith("Z")  # ISO 8601
    assert agent.mission == mission
    assert mission.capabilities == ("interaction", "payment")  # the person has a session at the PS
    assert list(mission.person_tokens) == [SCA]  # the proposal named SCA: its person token came along
    assert agent.person_token_for(SCA) == mission.person_tokens[SCA]
    stored = lab.ps.store.get_mission(mission.s256)
    assert (stored.blob, stored.status, stored.agent_id) == (
        mission.blob,
        "active",
        "aauth:notebook@ps.example",
    )

    with lab.client(agent) as client:
        response = client.post(f"{SCA}/optimize", json={"prompt": "with market analysis"})
    assert response.status_code == 200, response.text
    person_token, auth_token = agent.person_token_for(SCA), agent.auth_token_for(SCA)
    assert person_token == mission.person_tokens[SCA]  # no person token request for SCA
    assert claims(person_token)["mission_s256"] == claims(auth_token)["mission_s256"] == mission.s256
    requests = [
        json.loads(e.request.body) for e in lab.trace.exchanges if e.request.target_uri == f"{PS}/auth-token"
    ]
    resource_tokens = {claims(r["resource_token"])["iss"]: claims(r["resource_token"]) for r in requests}
    assert (
        resource_tokens[SCA]["mission_s256"] == mission.s256
    )  # the SCA copied it (-11 "Resource Token Structure")
    assert resource_tokens[MAA]["mission_s256"] == mission.s256  # and the call chain carried it on
    issued = ps_tokens(lab, "person-token") + ps_tokens(lab, "auth-token") + [person_token]
    assert len(issued) == 4 and {claims(t)["mission_s256"] for t in issued} == {mission.s256}

    with lab.client(agent) as client:
        assert agent.complete_mission(client, "Done: the plan is in the report.") == {
            "mission_status": "terminated",
            "termination_reason": "completed",
        }
    assert agent.mission is None and agent.person_token_for(SCA) is None
    stored = lab.ps.store.get_mission(mission.s256)
    assert (stored.status, stored.termination_reason, stored.summary) == (
        "terminated",
        "completed",
        "Done: the plan is in the report.",
    )

    # a stale agent still on the mission: its person token request is refused
    agent.mission = mission
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert (info.value.code, info.value.status) == ("mission_terminated", 403)
    assert info.value.response.json()["mission_status"] == "terminated"
    assert info.value.response.json()["termination_reason"] == "completed"
    assert info.value.response.headers["content-type"] == "application/problem+json"

    # and so is an auth token request presenting a still-valid person token of the mission
    # (-11 "Resource Token Verification")
    agent.mission = None
    agent.tokens[SCA] = {"person_token": person_token}
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert (info.value.code, info.value.status) == ("mission_terminated", 403)
    assert info.value.response.request.url == f"{PS}/auth-token"


def test_without_a_mission_tokens_carry_no_claim(lab):
    """-11 token structure sections: mission_s256 is optional; an agent without a mission gets none."""
    agent = lab.new_agent("plain")
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert all(
        "mission_s256" not in claims(t) for t in ps_tokens(lab, "person-token") + ps_tokens(lab, "auth-token")
    )


def test_consent_page_shows_the_mission(lab, person):
    """-11 "Mission Creation": the person sees the mission's description (escaped) before approving it."""
    agent = lab.new_agent("pager")
    status, body = signed_post(
        lab, agent, f"{PS}/mission", {"description": "Plan <b>Japan</b>", "tools": TOOLS}
    )
    assert (status, body) == (202, {"status": "pending"})
    code = lab.ps.pending_codes()[-1]
    page = person.get(f"{PS}/interaction", params={"code": code}).text
    assert "Plan &lt;b&gt;Japan&lt;/b&gt;" in page and "approve a mission" in page and "optimize" in page


def test_denied_mission(lab, person):
    """-11 "Mission Approval" via "Deferred Responses": the person denies → the poll answers ``403 denied``."""
    agent = lab.new_agent("denied", on_interaction=lambda i: answer(person, i.code, approved=False))
    with pytest.raises(FlowError) as info:
        start(lab, agent)
    assert (info.value.code, info.value.status) == ("denied", 403)
    assert agent.mission is None


def test_async_twins(lab):
    """-11 "Mission Approval", "Mission Completion" through an ``httpx.AsyncClient``: astart_mission, acomplete_mission."""
    agent = lab.new_agent("async", on_interaction=lambda i: lab.ps.decide(i.code, True))

    async def run():
        async with lab.async_client(agent) as client:
            mission = await agent.astart_mission(client, DESCRIPTION)
            done = await agent.acomplete_mission(client, "done")
        return mission, done

    mission, done = asyncio.run(run())
    assert mission.document["description"] == DESCRIPTION and done["termination_reason"] == "completed"
    assert lab.ps.store.get_mission(mission.s256).status == "terminated"


# -- errors (-11 "Mission Endpoint Errors", "Mission Status Errors", "Person Token Endpoint") -----------------------


def test_mission_request_errors(lab):
    """-11 "Mission Creation": a mission request needs a Markdown description; tools and resources, when
    sent, are ``[{name, description}]`` and resource identifiers — else ``400 invalid_request``."""
    agent = lab.new_agent("bad")
    for body in (
        {},
        {"description": ""},
        {"description": 7},
        {"description": "x", "tools": [{"name": "t"}]},
        {"description": "x", "tools": "optimize"},
        {"description": "x", "resources": ["http://x.example"]},
        {"description": "x", "resources": SCA},
    ):
        status, problem = signed_post(lab, agent, f"{PS}/mission", body)
        assert (status, problem["error"]) == (400, "invalid_request"), body


def test_mission_action_errors(lab, person):
    """-11 "Mission Endpoint Errors": bad ``{mission_s256}`` segment or action → ``400 invalid_request``; an
    unknown mission and another agent's answer the same ``404 mission_not_found``; completing
    a terminated mission → ``403 mission_terminated``."""
    agent = approving_agent(lab, person, "owner")
    mission = start(lab, agent)
    other = lab.new_agent("other")
    url = f"{PS}/mission/{mission.s256}"
    for path, body in (
        (f"{PS}/mission/short", {"action": "completion", "summary": "s"}),
        (f"{PS}/mission/{'!' * 43}", {"action": "completion", "summary": "s"}),
        (url, {"action": "launch"}),
        (url, {}),
        (url, {"action": "completion"}),
        (url, {"action": "completion", "summary": ""}),
    ):
        status, problem = signed_post(lab, agent, path, body)
        assert (status, problem["error"]) == (400, "invalid_request"), (path, body)

    completion = {"action": "completion", "summary": "done"}
    unknown = signed_post(lab, agent, f"{PS}/mission/{'A' * 43}", completion)
    not_owned = signed_post(lab, other, url, completion)
    assert unknown == not_owned and unknown[0] == 404 and unknown[1]["error"] == "mission_not_found"

    # the completion waits for the person's review; their acceptance ends the mission
    assert signed_post(lab, agent, url, completion)[0] == 202
    answer(person, lab.ps.pending_codes()[-1])
    status, problem = signed_post(lab, agent, url, completion)
    assert (status, problem["error"], problem["mission_status"], problem["termination_reason"]) == (
        403,
        "mission_terminated",
        "terminated",
        "completed",
    )


def test_token_request_mission_errors(lab, person):
    """-11 "Person Token Endpoint", "Mission Status Errors": ``mission_s256`` in a person token request must name an active
    mission of the signing agent: malformed → ``400 invalid_request``; unknown or another
    agent's → the same ``404 mission_not_found``; terminated → ``403 mission_terminated``."""
    agent = approving_agent(lab, person, "asker")
    mission = start(lab, agent)
    other = lab.new_agent("stranger")
    endpoint = f"{PS}/person-token"
    status, problem = signed_post(lab, agent, endpoint, {"resource": SCA, "mission_s256": "nope"})
    assert (status, problem["error"]) == (400, "invalid_request")
    unknown = signed_post(lab, agent, endpoint, {"resource": SCA, "mission_s256": "B" * 43})
    not_owned = signed_post(lab, other, endpoint, {"resource": SCA, "mission_s256": mission.s256})
    assert unknown == not_owned and unknown[0] == 404 and unknown[1]["error"] == "mission_not_found"
    status, body = signed_post(lab, agent, endpoint, {"resource": SCA, "mission_s256": mission.s256})
    assert status == 200 and claims(body["person_token"])["mission_s256"] == mission.s256
    lab.ps.store.terminate_mission(mission.s256, "revoked")
    status, problem = signed_post(lab, agent, endpoint, {"resource": SCA, "mission_s256": mission.s256})
    assert (status, problem["error"], problem["mission_status"], problem["termination_reason"]) == (
        403,
        "mission_terminated",
        "terminated",
        "revoked",
    )


def test_mission_expires_at_caps_tokens_then_ends_the_mission(lab, person):
    """-11 "Mission Approval" ``expires_at`` and the token lifetimes ("Person Token Structure",
    "Auth Token Structure"): person and auth tokens end no later than
    the mission; past it, a token request is ``403 mission_terminated`` with reason ``expired``."""
    lab.ps.mission_lifetime = 600
    agent = approving_agent(lab, person, "timed")
    mission = start(lab, agent)
    assert "expires_at" in mission.document
    expires_at = lab.ps.store.get_mission(mission.s256).expires_at
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert (
        claims(agent.person_token_for(SCA))["exp"]
        == claims(agent.auth_token_for(SCA))["exp"]
        == int(expires_at)
    )
    lab.clock.advance(601)
    status, problem = signed_post(
        lab, agent, f"{PS}/person-token", {"resource": SCA, "mission_s256": mission.s256}
    )
    assert (status, problem["error"], problem["termination_reason"]) == (403, "mission_terminated", "expired")


# -- durability and integrity ---------------------------------------------------------------------------------------


def test_missions_survive_a_ps_restart(lab, person):
    """The blob bytes and the mission's state live in SQLite; a restarted PS
    still issues tokens within the mission and accepts its completion (-11 "Mission Completion")."""
    agent = approving_agent(lab, person, "durable")
    mission = start(lab, agent)
    lab.restart_ps()
    assert lab.ps.store.get_mission(mission.s256).blob == mission.blob
    status, body = signed_post(
        lab, agent, f"{PS}/person-token", {"resource": SCA, "mission_s256": mission.s256}
    )
    assert status == 200 and claims(body["person_token"])["mission_s256"] == mission.s256
    with lab.client(agent) as client:
        agent.complete_mission(client, "done")
    lab.restart_ps()
    assert lab.ps.store.get_mission(mission.s256).termination_reason == "completed"


def test_a_tampered_blob_is_caught(lab, person, monkeypatch):
    """-11 "Mission Approval": the agent checks s256 against the decoded bytes — a PS answer
    whose blob was altered is ``invalid_response``; and a mission_s256 of altered bytes names no
    mission at the PS (``404 mission_not_found``)."""
    approve = lab.ps.context.completions["mission"]

    def tampered(context, pending):
        result = approve(context, pending)
        blob = json.dumps(
            {**json.loads(lab.ps.store.get_mission(result["s256"]).blob), "description": "Buy a yacht"}
        )
        return {**result, "mission": b64url(blob.encode())}

    monkeypatch.setitem(lab.ps.context.completions, "mission", tampered)
    agent = approving_agent(lab, person, "victim")
    with pytest.raises(FlowError) as info:
        start(lab, agent)
    assert (info.value.code, agent.mission) == ("invalid_response", None)
    assert "SHA-256" in info.value.detail

    monkeypatch.undo()
    honest = approving_agent(lab, person, "tamperer")
    mission = start(lab, honest)
    forged = json.dumps({**mission.document, "approved_tools": TOOLS}, separators=(",", ":")).encode()
    honest.mission = Mission(b64url(hashlib.sha256(forged).digest()), forged, json.loads(forged))
    with lab.client(honest) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert (info.value.code, info.value.status) == ("mission_not_found", 404)


@pytest.mark.parametrize("member", ["agent", "approved_at", "description"])
def test_mission_approval_blob_lacking_a_required_member_is_refused(lab, person, monkeypatch, member):
    """-11 "Mission Approval": the blob MUST include ``agent``, ``approved_at`` and
    ``description`` (published -11 no longer has ``approver``); an approval whose blob lacks
    one — its ``s256`` honest over those bytes — is ``invalid_response`` and no mission is kept."""
    approve = lab.ps.context.completions["mission"]

    def lacking(context, pending):
        result = approve(context, pending)
        document = json.loads(lab.ps.store.get_mission(result["s256"]).blob)
        blob = json.dumps({k: v for k, v in document.items() if k != member}).encode()
        return {**result, "s256": b64url(hashlib.sha256(blob).digest()), "mission": b64url(blob)}

    monkeypatch.setitem(lab.ps.context.completions, "mission", lacking)
    agent = approving_agent(lab, person, "victim")
    with pytest.raises(FlowError) as info:
        start(lab, agent)
    assert (info.value.code, agent.mission) == ("invalid_response", None)
    assert member in info.value.detail


def test_schema_4_adds_missions_to_a_version_3_file(tmp_path):
    """ps_store migration 4: a version-3 file gains the missions table, other data untouched."""
    path = tmp_path / "ps.sqlite3"
    PSStore(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE missions; PRAGMA user_version=3;")
    db.close()
    with PSStore(path) as store:
        mission = store.add_mission(
            b'{"agent":"aauth:a@ps.example"}',
            agent_id="aauth:a@ps.example",
            agent_iss="https://ps.example",
            username="u",
        )
        assert store.get_mission(mission.s256).blob == b'{"agent":"aauth:a@ps.example"}'
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_schema_5_adds_mission_updates_to_a_version_4_file(tmp_path):
    """ps_store migration 5: a version-4 file gains the mission_updates table, its missions untouched."""
    path = tmp_path / "ps.sqlite3"
    with PSStore(path) as store:
        mission = store.add_mission(
            b'{"agent":"aauth:a@ps.example"}',
            agent_id="aauth:a@ps.example",
            agent_iss="https://ps.example",
            username="u",
        )
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE mission_updates; PRAGMA user_version=4;")
    db.close()
    with PSStore(path) as store:
        update = store.add_mission_update(mission.s256, b'{"action":"update","description":"more"}')
        assert [u.body for u in store.list_mission_updates(mission.s256)] == [update.body]
        assert update.body == b'{"action":"update","description":"more"}'
        assert update.s256 == b64url(hashlib.sha256(update.body).digest())
        assert store.get_mission(mission.s256) == mission
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_only_the_agents_person_approves_its_mission(lab, person):
    """-11 "Mission Creation": the mission is approved by the person the agent acts for; another person
    signed in at the PS gets ``403 forbidden`` and the request stays open."""
    lab.ps.store.add_user("someone-else", "pw")
    other = lab.hosts.client()
    session = other.post(f"{PS}/login", json={"username": "someone-else", "password": "pw"}).json()["session"]
    other.headers["Authorization"] = f"Bearer {session}"
    agent = lab.new_agent("mine")
    assert signed_post(lab, agent, f"{PS}/mission", {"description": DESCRIPTION})[0] == 202
    code = lab.ps.pending_codes()[-1]
    assert other.get(f"{PS}/consent", params={"code": code}).status_code == 403
    other.close()
    assert answer(person, code)["kind"] == "mission"


def test_call_chain_carries_the_mission_while_it_is_active(lab, person):
    """-11 "Call Chaining": the SCA's person token for the market analysis copies the
    upstream token's ``mission_s256`` — and, the mission terminated, is ``403 mission_terminated``."""
    agent = approving_agent(lab, person, "chained")
    mission = start(lab, agent)
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    upstream = agent.auth_token_for(SCA)
    sca = Agent(lab.keys["supply_chain_agent"], lab.supply_chain.agent_token(), ps=PS, clock=lab.clock)
    body = {"resource": MAA, "upstream_token": upstream}
    status, issued = signed_post(lab, sca, f"{PS}/person-token", body)
    assert status == 200 and claims(issued["person_token"])["mission_s256"] == mission.s256
    lab.ps.store.terminate_mission(mission.s256, "administrative")
    status, problem = signed_post(lab, sca, f"{PS}/person-token", body)
    assert (status, problem["error"], problem["termination_reason"]) == (
        403,
        "mission_terminated",
        "administrative",
    )


def test_resource_and_presented_token_name_the_same_mission(lab, person):
    """-11 "Resource Token Verification" (at the PS token endpoint): the resource token's ``mission_s256`` equals the
    presented token's, absence included — a stripped or swapped mission is
    ``invalid_presented_token``; the same one gives an auth token carrying it ("Auth Token Structure")."""
    agent = approving_agent(lab, person, "strict")
    mission = start(lab, agent)
    status, body = signed_post(
        lab, agent, f"{PS}/person-token", {"resource": SCA, "mission_s256": mission.s256}
    )
    person_token = body["person_token"]
    presented, now = claims(person_token), int(lab.clock())

    def resource_token(mission_s256):
        return tokens.mint_resource_token(
            lab.keys["supply_chain"],
            iss=SCA,
            aud=PS,
            ps=PS,
            sub=presented["sub"],
            presented_jti=presented["jti"],
            agent_jkt=agent.jkt,
            scope="supply-chain:optimize",
            iat=now,
            exp=now + 300,
            mission_s256=mission_s256,
        )

    for stripped_or_swapped in (None, "C" * 43):
        status, problem = signed_post(
            lab,
            agent,
            f"{PS}/auth-token",
            {"resource_token": resource_token(stripped_or_swapped), "presented_token": person_token},
        )
        assert (status, problem["error"]) == (400, "invalid_presented_token")
    status, body = signed_post(
        lab,
        agent,
        f"{PS}/auth-token",
        {"resource_token": resource_token(mission.s256), "presented_token": person_token},
    )
    assert status == 200 and claims(body["auth_token"])["mission_s256"] == mission.s256


# -- update (-11 "Mission Update") ----------------------------------------------------------------------------------


def test_mission_update(lab, person):
    """-11 "Mission Update": ``{"action": "update", "description"}`` → ``200 {"s256"}``, the SHA-256
    of the update bytes the PS persisted (here: the request body, verbatim); the blob and
    ``mission_s256`` stay unchanged, and tokens go on being issued under the same mission."""
    agent = approving_agent(lab, person, "updater")
    mission = start(lab, agent)
    new_description = "# Optimize the supply chain\n\nAlso check the Q3 forecast."
    with lab.client(agent) as client:
        s256 = agent.update_mission(client, new_description)
    sent = [
        e.request.body for e in lab.trace.exchanges if e.request.target_uri == f"{PS}/mission/{mission.s256}"
    ]
    assert json.loads(sent[-1]) == {"action": "update", "description": new_description}
    assert s256 == b64url(hashlib.sha256(sent[-1]).digest())
    [update] = lab.ps.store.list_mission_updates(mission.s256)
    assert (update.body, update.s256) == (sent[-1], s256)
    stored = lab.ps.store.get_mission(mission.s256)
    assert (stored.blob, stored.status) == (mission.blob, "active") and agent.mission == mission
    entry = lab.ps.store.audit_log()[-1]
    assert (entry.action, entry.details) == (
        "mission_updated",
        {"mission_s256": mission.s256, "update_s256": s256},
    )
    status, body = signed_post(
        lab, agent, f"{PS}/person-token", {"resource": SCA, "mission_s256": mission.s256}
    )
    assert status == 200 and claims(body["person_token"])["mission_s256"] == mission.s256


def test_mission_update_async_twin(lab):
    """-11 "Mission Update" through an ``httpx.AsyncClient``: aupdate_mission."""
    agent = lab.new_agent("aupdater", on_interaction=lambda i: lab.ps.decide(i.code, True))

    async def run():
        async with lab.async_client(agent) as client:
            mission = await agent.astart_mission(client, DESCRIPTION)
            return mission, await agent.aupdate_mission(client, "more")

    mission, s256 = asyncio.run(run())
    assert [u.s256 for u in lab.ps.store.list_mission_updates(mission.s256)] == [s256]


def test_mission_update_errors(lab, person):
    """-11 "Mission Update": an update needs a Markdown ``description`` (else ``400 invalid_request``); an
    unknown mission and another agent's answer the identical ``404 mission_not_found``; a
    terminated mission ``403 mission_terminated`` with its members; nothing is stored."""
    agent = approving_agent(lab, person, "upd-owner")
    mission = start(lab, agent)
    other = lab.new_agent("upd-other")
    url = f"{PS}/mission/{mission.s256}"
    for description in (None, 7, "", "  ", ["x"], {"text": "x"}, "x" * 20_001):
        body = {"action": "update"} | ({} if description is None else {"description": description})
        status, problem = signed_post(lab, agent, url, body)
        assert (status, problem["error"]) == (400, "invalid_request"), description

    update = {"action": "update", "description": "more"}
    unknown = signed_post(lab, agent, f"{PS}/mission/{'A' * 43}", update)
    not_owned = signed_post(lab, other, url, update)
    assert unknown == not_owned and unknown[0] == 404 and unknown[1]["error"] == "mission_not_found"

    lab.ps.store.terminate_mission(mission.s256, "completed")
    status, problem = signed_post(lab, agent, url, update)
    assert (status, problem["error"], problem["mission_status"], problem["termination_reason"]) == (
        403,
        "mission_terminated",
        "terminated",
        "completed",
    )
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        agent.update_mission(client, "more")
    assert (info.value.code, info.value.status) == ("mission_terminated", 403)
    assert lab.ps.store.list_mission_updates(mission.s256) == []


# -- the person ends a mission (-11 "Mission Management", reason ``revoked``) ---------------------------------------


def test_person_lists_and_revokes_a_mission(lab, person):
    """-11 "Mission Management": the person lists their missions (``GET /missions``, with state) and revokes one
    (``POST /missions/{s256}/revoke``): terminated with ``termination_reason`` ``revoked``, audited,
    and the agent's next token request under it is ``403 mission_terminated`` ("Mission Status Errors")."""
    agent = approving_agent(lab, person, "revoked")
    mission = start(lab, agent)
    with lab.client(agent) as client:
        update_s256 = agent.update_mission(client, "more")
    [listed] = person.get(f"{PS}/missions").json()
    assert listed | {"approved_at": None} == {
        "s256": mission.s256,
        "agent": "aauth:revoked@ps.example",
        "description": DESCRIPTION,
        "approved_at": None,
        "status": "active",
        "termination_reason": None,
        "expires_at": None,
        "terminated_at": None,
        "updates": [{"s256": update_s256, "at": listed["updates"][0]["at"], "description": "more"}],
    }
    assert listed["approved_at"] == mission.document["approved_at"]

    response = person.post(f"{PS}/missions/{mission.s256}/revoke")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["termination_reason"]) == ("terminated", "revoked")
    [listed] = person.get(f"{PS}/missions").json()
    assert (listed["status"], listed["termination_reason"]) == ("terminated", "revoked")
    entry = lab.ps.store.audit_log()[-1]
    assert (entry.actor, entry.action, entry.subject, entry.details) == (
        "mcp-user",
        "mission_revoked",
        "aauth:revoked@ps.example",
        {"mission_s256": mission.s256},
    )

    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        client.post(f"{SCA}/optimize", json={})
    assert (info.value.code, info.value.status) == ("mission_terminated", 403)
    assert info.value.response.json()["termination_reason"] == "revoked"
    assert info.value.response.request.url == f"{PS}/person-token"

    again = person.post(f"{PS}/missions/{mission.s256}/revoke")
    assert (again.status_code, again.json()["error"], again.json()["termination_reason"]) == (
        403,
        "mission_terminated",
        "revoked",
    )


def test_mission_revocation_errors(lab, person):
    """-11 "Mission Endpoint Errors": another person's mission is the same ``404 mission_not_found`` as an
    unknown one (and not listed for them); a malformed segment is ``400 invalid_request``;
    without a session ``401 unauthorized``; the mission stays active throughout."""
    agent = approving_agent(lab, person, "kept")
    mission = start(lab, agent)
    lab.ps.store.add_user("someone-else", "pw")
    other = lab.hosts.client()
    session = other.post(f"{PS}/login", json={"username": "someone-else", "password": "pw"}).json()["session"]
    other.headers["Authorization"] = f"Bearer {session}"
    try:
        assert other.get(f"{PS}/missions").json() == []
        foreign = other.post(f"{PS}/missions/{mission.s256}/revoke")
        unknown = person.post(f"{PS}/missions/{'A' * 43}/revoke")
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json() and foreign.json()["error"] == "mission_not_found"
        malformed = person.post(f"{PS}/missions/short/revoke")
        assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_request")
        with lab.hosts.client() as anonymous:
            assert anonymous.get(f"{PS}/missions").status_code == 401
            assert anonymous.post(f"{PS}/missions/{mission.s256}/revoke").status_code == 401
    finally:
        other.close()
    assert lab.ps.store.get_mission(mission.s256).status == "active"


# -- completion, reviewed by the person (-11 "Mission Completion") --------------------------------------------------


def second_person(lab):
    """Another person signed in at the PS (the consent REST API)."""
    lab.ps.store.add_user("someone-else", "pw")
    other = lab.hosts.client()
    session = other.post(f"{PS}/login", json={"username": "someone-else", "password": "pw"}).json()["session"]
    other.headers["Authorization"] = f"Bearer {session}"
    return other


def signed_get(lab, agent, url: str, *, wait: int = 1):
    """A signed poll of a pending URL with the agent token, held at most ``wait`` seconds."""
    message = HttpMessage("GET", url, [("Prefer", f"wait={wait}")])
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    return lab.send(message).response


def test_c4_completion_is_pending_until_the_person_accepts(lab, person):
    """C4: "The PS presents the summary to the person, returning a deferred response while they
    review.  The person either accepts — the PS terminates the mission with reason completed and
    returns 200 OK — …"; "Only the person's acceptance terminates the mission."  The proposal is
    ``202`` with ``Location`` and ``requirement=interaction``; a poll is ``202`` again and the
    mission stays active (tokens are issued under it) until the person accepts; then the poll is
    ``200`` and the mission terminated, audited as the person's act."""
    agent = approving_agent(lab, person, "finisher")
    mission = start(lab, agent)
    message = HttpMessage(
        "POST",
        f"{PS}/mission/{mission.s256}",
        [("Content-Type", "application/json")],
        json.dumps({"action": "completion", "summary": "Raw proposal"}).encode(),
    )
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    response = lab.send(message).response
    assert (response.status, json.loads(response.body)) == (202, {"status": "pending"})
    location = response.header("location")
    assert location.startswith(f"{PS}/pending/")
    assert response.header("aauth-requirement").startswith("requirement=interaction")

    assert signed_get(lab, agent, location).status == 202
    assert lab.ps.store.get_mission(mission.s256).status == "active"
    under = {"resource": SCA, "mission_s256": mission.s256}
    status, body = signed_post(lab, agent, f"{PS}/person-token", under)
    assert status == 200 and claims(body["person_token"])["mission_s256"] == mission.s256

    answer(person, lab.ps.pending_codes()[-1])
    final = signed_get(lab, agent, location)
    assert (final.status, json.loads(final.body)) == (
        200,
        {"mission_status": "terminated", "termination_reason": "completed"},
    )
    stored = lab.ps.store.get_mission(mission.s256)
    assert (stored.status, stored.termination_reason, stored.summary) == (
        "terminated",
        "completed",
        "Raw proposal",
    )
    completed = [e for e in lab.ps.store.audit_log() if e.action == "mission_completed"]
    assert [(e.actor, e.details["mission_s256"]) for e in completed] == [("mcp-user", mission.s256)]
    status, problem = signed_post(lab, agent, f"{PS}/person-token", under)
    assert (status, problem["error"], problem["termination_reason"]) == (
        403,
        "mission_terminated",
        "completed",
    )


def test_c4_the_agent_follows_the_review(lab, person):
    """C4, the agent's side: ``complete_mission`` follows the ``202`` like any deferred request —
    the interaction is handed to ``on_interaction``, the held poll wakes on the person's
    acceptance with ``200`` — and only then drops the mission.  The consent API shows the
    person the mission's description and the summary."""
    agent = approving_agent(lab, person, "follower")
    mission = start(lab, agent)
    seen = []

    def review(interaction):
        assert agent.mission == mission and lab.ps.store.get_mission(mission.s256).status == "active"
        seen.append(answer(person, interaction.code))

    agent.on_interaction = review
    with lab.client(agent) as client:
        done = agent.complete_mission(client, "Done: **40** laptops <left>.")
    assert done == {"mission_status": "terminated", "termination_reason": "completed"}
    assert seen[0]["kind"] == "mission_completion"
    assert seen[0]["completion"] == {
        "mission_s256": mission.s256,
        "description": DESCRIPTION,
        "summary": "Done: **40** laptops <left>.",
    }
    assert agent.mission is None
    assert lab.ps.store.get_mission(mission.s256).summary == "Done: **40** laptops <left>."


def test_c4_consent_page_shows_the_summary(lab, person):
    """C4: the person reviews the summary on the consent page (escaped), next to the mission's description."""
    agent = approving_agent(lab, person, "summarizer")
    mission = start(lab, agent)
    status, _ = signed_post(
        lab, agent, f"{PS}/mission/{mission.s256}", {"action": "completion", "summary": "All <b>done</b>"}
    )
    assert status == 202
    page = person.get(f"{PS}/interaction", params={"code": lab.ps.pending_codes()[-1]}).text
    assert "reports its mission complete" in page and "All &lt;b&gt;done&lt;/b&gt;" in page
    assert "Optimize the supply chain" in page


@pytest.mark.parametrize("decision, code", [(False, "denied"), (None, "abandoned")])
def test_c4_a_declined_completion_leaves_the_mission_active(lab, person, decision, code):
    """C4: a person who does not accept — Deny, or Not now — leaves the mission active (-11
    "Mission Completion": the other outcome is follow-up questions "leaving the mission
    active"); the agent's poll gets ``403 denied`` / ``403 abandoned`` (-11 "Polling Error
    Codes"), keeps its mission and goes on working under it."""
    agent = approving_agent(lab, person, f"declined-{code}")
    mission = start(lab, agent)

    def decline(interaction):
        context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
        if decision is None:
            person.post(f"{PS}/consent/{context['pending_id']}/abandon", json={})
        else:
            person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": decision})

    agent.on_interaction = decline
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        agent.complete_mission(client, "I think I am done")
    assert (info.value.code, info.value.status) == (code, 403)
    assert agent.mission == mission
    assert lab.ps.store.get_mission(mission.s256).status == "active"
    with lab.client(agent) as client:
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert claims(agent.auth_token_for(SCA))["mission_s256"] == mission.s256


def test_c4_another_person_cannot_review_the_completion(lab, person):
    """C4: only the person the mission belongs to reviews its completion: another signed-in
    person holding the code gets ``403 forbidden`` at the code and at the decision, and the
    mission stays active until its own person accepts."""
    agent = approving_agent(lab, person, "guarded")
    mission = start(lab, agent)
    other = second_person(lab)
    try:
        status, _ = signed_post(
            lab, agent, f"{PS}/mission/{mission.s256}", {"action": "completion", "summary": "done"}
        )
        assert status == 202
        code = lab.ps.pending_codes()[-1]
        refused = other.get(f"{PS}/consent", params={"code": code})
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        pending_id = lab.ps.store.find_by_code(code).id
        refused = other.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        assert other.get(f"{PS}/interaction", params={"code": code}).status_code == 403
        assert lab.ps.store.get_mission(mission.s256).status == "active"
    finally:
        other.close()
    answer(person, code)
    assert lab.ps.store.get_mission(mission.s256).termination_reason == "completed"


def test_c4_a_mission_revoked_during_the_review_is_not_completed(lab, person):
    """C4 with -11 "Mission Management" ("A terminated mission MUST NOT return to active"): the
    person revokes the mission while its completion waits; accepting the completion afterwards
    changes nothing, and the agent's poll is ``403 mission_terminated`` with reason ``revoked``."""
    agent = approving_agent(lab, person, "overtaken")
    mission = start(lab, agent)

    def revoke_then_accept(interaction):
        assert person.post(f"{PS}/missions/{mission.s256}/revoke").status_code == 200
        answer(person, interaction.code)

    agent.on_interaction = revoke_then_accept
    with lab.client(agent) as client, pytest.raises(FlowError) as info:
        agent.complete_mission(client, "done")
    assert (info.value.code, info.value.status) == ("mission_terminated", 403)
    assert info.value.response.json()["termination_reason"] == "revoked"
    stored = lab.ps.store.get_mission(mission.s256)
    assert (stored.status, stored.termination_reason) == ("terminated", "revoked")
