"""The Person Server a person chooses for their agent at the lab's Agent Provider
(servers/ps/chosen_ps.py), over loopback sockets: -11 "Agent Token Structure" (``ps``:
"Configured per agent instance"), -11 "Bootstrapping" ("chosen by the person deploying the
agent"), -11 "Server Identifiers".  A second kit Person Server, ``https://ps2.example``, is the
PS chosen; the agent's whole flow at a chosen PS runs in tests/test_interop_three_party.py.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from aauth_kit.servers.ps import PersonServer
from aauth_kit.servers.ps.store.persons import PersonAccount
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit.agent import Agent
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import PERSON_DWK, person_metadata

from .ap_choice import choose, register, session

PS2 = "https://ps2.example"
ALICE, BOB = PersonAccount("alice", "alice-password"), PersonAccount("bob", "bob-password")
AGENT = "aauth:helper@ps.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path / "lab", persons=[ALICE, BOB]) as lab:
        other = PersonServer(
            PS2, key=Key.from_seed("ps2", kid="ps2"), resolver=lab.resolver, data_dir=tmp_path / "ps2"
        )
        lab.hosts.add(PS2, other.app)
        lab.helper = lab.new_agent("helper", person="alice")
        yield lab
        other.close()


def ps_claim(token: str) -> str:
    return decode_unverified(token).payload["ps"]


def test_chosen_ps_is_named_in_every_agent_token_the_ap_issues(lab):
    """The person's choice lands in ``ps`` of the agent's next token — registration, rotation
    and the in-process bootstrap alike — and the agent takes its person tokens there."""
    assert ps_claim(lab.helper.agent_token) == lab.identifiers["ps"]
    alice = session(lab, "alice", "alice-password")
    assert choose(lab, alice, AGENT, PS2) == (200, {"agent": AGENT, "ps": PS2})
    token = register(lab, lab.helper.key, "helper")
    assert ps_claim(token) == PS2
    assert Agent(lab.helper.key, token).ps == PS2
    assert ps_claim(lab.ps.issue_agent_token("helper", lab.helper.key, person="alice")) == PS2
    (entry,) = [e for e in lab.ps.store.audit_log(person="alice") if e.action == "agent_ps_chosen"]
    assert (entry.actor, entry.subject, entry.details) == ("alice", AGENT, {"ps": PS2})
    # choosing it again adds no entry; null goes back to the Agent Provider's own PS
    assert choose(lab, alice, AGENT, PS2)[0] == 200
    assert choose(lab, alice, AGENT, None) == (200, {"agent": AGENT, "ps": lab.identifiers["ps"]})
    assert ps_claim(register(lab, lab.helper.key, "helper")) == lab.identifiers["ps"]
    assert len([e for e in lab.ps.store.audit_log(person="alice") if e.action == "agent_ps_chosen"]) == 2


def test_chosen_ps_survives_a_restart_of_the_ps(lab):
    alice = session(lab, "alice", "alice-password")
    assert choose(lab, alice, AGENT, PS2)[0] == 200
    lab.restart_ps()
    assert ps_claim(register(lab, lab.helper.key, "helper")) == PS2


@pytest.mark.parametrize(
    "choice",
    [
        "http://ps2.example",  # -11 "Server Identifiers": MUST use the https scheme
        "https://PS2.example",  # MUST be lowercase
        "https://ps2.example/",  # MUST NOT include a trailing slash
        "https://ps2.example:8443",  # only scheme and host
        "https://ps2.example/v1",
        42,
        "https://nowhere.example",  # egress admission refuses it: no metadata to fetch
        "https://supplier.example",  # a resource: no aauth-person.json
    ],
)
def test_chosen_ps_invalid_choice_is_invalid_request(lab, choice):
    """A choice that is no Person Server's identifier is ``400 invalid_request`` (-11 "Token
    Endpoint Error Codes": malformed fields); the agent's tokens keep naming the old PS."""
    status, problem = choose(lab, session(lab, "alice", "alice-password"), AGENT, choice)
    assert (status, problem["error"]) == (400, "invalid_request") and problem["detail"].startswith("ps: ")
    assert ps_claim(register(lab, lab.helper.key, "helper")) == lab.identifiers["ps"]


def test_chosen_ps_a_stranger_cannot_change_another_persons_choice(lab):
    """Bob's session gets ``404 not_found`` for alice's agent (as for an unknown one); no session
    is ``401 unauthorized``; alice's choice stands."""
    alice = session(lab, "alice", "alice-password")
    assert choose(lab, alice, AGENT, PS2)[0] == 200
    status, problem = choose(lab, session(lab, "bob", "bob-password"), AGENT, lab.identifiers["ps"])
    assert (status, problem["error"]) == (404, "not_found")
    assert choose(lab, None, AGENT, lab.identifiers["ps"])[1]["error"] == "unauthorized"
    assert choose(lab, alice, "aauth:nobody@ps.example", PS2)[0] == 404
    assert ps_claim(register(lab, lab.helper.key, "helper")) == PS2


def test_chosen_ps_is_named_in_the_subagent_tokens_too(lab):
    """-11 "Sub-Agent Identity": a sub-agent's token carries ``ps`` like its parent's; the
    parent's person chose PS2, so the sub-agent's token names PS2 as well."""
    from aauth_kit.subagents import create_subagent

    alice = session(lab, "alice", "alice-password")
    assert choose(lab, alice, AGENT, PS2)[0] == 200
    parent = Agent(lab.helper.key, register(lab, lab.helper.key, "helper"), clock=lab.clock, dev=True)
    with lab.client() as client:
        sub = create_subagent(parent, client, "search1", key=Key.from_seed("sub-search1"))
    claims = decode_unverified(sub.agent_token).payload
    assert (claims["parent_agent"], claims["ps"]) == (AGENT, PS2)


def test_chosen_ps_a_subagent_created_after_the_choice_names_the_chosen_ps(lab):
    """The person chooses PS2 while the parent still holds its old agent token (naming this
    PS): a sub-agent created with that token names PS2, the choice as of its creation, not the
    parent token's stale ``ps``."""
    from aauth_kit.subagents import create_subagent

    assert ps_claim(lab.helper.agent_token) == lab.identifiers["ps"]
    assert choose(lab, session(lab, "alice", "alice-password"), AGENT, PS2)[0] == 200
    with lab.client() as client:
        sub = create_subagent(lab.helper, client, "search2", key=Key.from_seed("sub-search2"))
    assert ps_claim(lab.helper.agent_token) == lab.identifiers["ps"]  # not rotated
    claims = decode_unverified(sub.agent_token).payload
    assert (claims["parent_agent"], claims["ps"]) == (AGENT, PS2)


def choose_response(lab, session_token: str, agent_id: str, ps):
    """``PUT /agents/person-server`` with the person's session: the whole answer."""
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {session_token}")]
    body = json.dumps({"agent": agent_id, "ps": ps}).encode()
    message = HttpMessage("PUT", f"{lab.identifiers['ps']}/agents/person-server", headers, body)
    return lab.send(message, source="Person").response


def test_chosen_ps_changes_are_rate_limited_per_person(lab):
    """-11 is silent; OWASP ASVS level 2 (V11.1.4): each change is an append-only audit row, so
    a person may change their agents' Person Server ``Caps.ps_changes_per_person`` times an
    hour (3 here); the next is ``429 rate_limited`` with ``Retry-After`` until the oldest change
    leaves the hour, and the choice stands.  A choice made again writes nothing and counts for
    nothing; another person is not held; an hour after the first change alice may again."""
    lab.ps.caps = replace(lab.ps.caps, ps_changes_per_person=3)
    lab.new_agent("bobs", person="bob")
    alice = session(lab, "alice", "alice-password")
    for ps in (PS2, PS2, None, PS2):
        assert choose_response(lab, alice, AGENT, ps).status == 200
        lab.clock.advance(10)
    refused = choose_response(lab, alice, AGENT, None)
    assert (refused.status, json.loads(refused.body)["error"]) == (429, "rate_limited")
    assert refused.header("retry-after") == str(3600 - 40)
    chosen = [e for e in lab.ps.store.audit_log(person="alice") if e.action == "agent_ps_chosen"]
    assert [e.details["ps"] for e in chosen] == [PS2, None, PS2]
    assert ps_claim(register(lab, lab.helper.key, "helper")) == PS2
    bob = session(lab, "bob", "bob-password")
    assert choose_response(lab, bob, "aauth:bobs@ps.example", PS2).status == 200
    lab.clock.advance(3600 - 40)
    alice = session(lab, "alice", "alice-password")
    assert choose(lab, alice, AGENT, None) == (200, {"agent": AGENT, "ps": lab.identifiers["ps"]})


def slow_person_server(lab, identifier: str, delay: float) -> None:
    """A Person Server whose ``aauth-person.json`` takes ``delay`` seconds to arrive."""
    document = person_metadata(
        identifier, f"{identifier}/jwks.json", f"{identifier}/auth-token", f"{identifier}/person-token"
    )

    async def metadata(request):
        await asyncio.sleep(delay)
        return JSONResponse(document)

    lab.hosts.add(identifier, Starlette(routes=[Route(f"/.well-known/{PERSON_DWK}", metadata)]))


def test_chosen_ps_concurrent_changes_cannot_pass_the_cap_together(lab):
    """Eight changes sent at once, each naming a Person Server whose metadata takes a while:
    each change holds a place from the cap's check to its audit row, so 3 (the cap here) pass
    and the others are ``429 rate_limited`` at once — not all eight written while the first
    ones are still fetching."""
    lab.ps.caps = replace(lab.ps.caps, ps_changes_per_person=3)
    choices = [f"https://slow-ps-{n}.example" for n in range(8)]
    for identifier in choices:
        slow_person_server(lab, identifier, 0.5)
    alice = session(lab, "alice", "alice-password")
    with ThreadPoolExecutor(len(choices)) as pool:
        answers = list(pool.map(lambda ps: choose_response(lab, alice, AGENT, ps), choices))
    statuses = sorted(a.status for a in answers)
    assert statuses == [200] * 3 + [429] * 5, [a.body for a in answers]
    refused = [json.loads(a.body)["error"] for a in answers if a.status == 429]
    assert refused == ["rate_limited"] * 5
    chosen = [e for e in lab.ps.store.audit_log(person="alice") if e.action == "agent_ps_chosen"]
    assert len(chosen) == 3
