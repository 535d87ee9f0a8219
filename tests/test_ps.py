"""The assembled Person Server (:class:`~aauth_kit.servers.ps.PersonServer`) over real HTTP:
its metadata documents, a restart on the same data directory, docs mode and ASGI mode.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aauth_kit.interaction import normalize_code
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, validate_metadata

from .ps_world import (
    HANG_GUARD,
    HELD,
    PS,
    RES,
    World,
    decoded,
    error_of,
    wait_until,
    world_fixture,
)

world = world_fixture()


# -- metadata --------------------------------------------------------------------------------------


def test_metadata_documents_validate_and_name_the_endpoints(world):
    """-11 "Metadata Documents": aauth-person.json holds the four required members;
    aauth-agent.json names the AP's JWKS (plus the kit's registration endpoint)."""
    person = world.client.get(f"{PS}/.well-known/aauth-person.json").json()
    validate_metadata(person, PS, PERSON_DWK, complete=True)
    assert person["person_token_endpoint"] == f"{PS}/person-token"
    assert person["auth_token_endpoint"] == f"{PS}/auth-token"
    assert person["jwks_uri"] == f"{PS}/.well-known/jwks.json"
    agent = world.client.get(f"{PS}/.well-known/aauth-agent.json").json()
    validate_metadata(agent, PS, AGENT_DWK, complete=True)
    assert agent["registration_endpoint"] == f"{PS}/agent/register"
    keys = world.client.get(f"{PS}/.well-known/jwks.json").json()["keys"]
    assert [(k["kid"], k["alg"], k["x"]) for k in keys] == [
        ("ps-1", "Ed25519", world.ps_key.public_jwk()["x"])
    ]


# -- restart ---------------------------------------------------------------------------------------


def test_restarted_ps_resumes_its_pending_requests(world):
    """State survives a restart: a new PersonServer on the same data directory carries on — the
    person (whose session survived) approves there and the agent's poll gets its token."""
    url, code, _ = world.defer()
    person = world.person()
    world.restart_ps()
    assert world.ps.pending_codes() == [code]
    world.approve(code, person=person)
    response = world.poll(url, wait=30)
    assert response.status_code == 200, response.text
    assert decoded(response.json()["auth_token"])["sub"] == world.ps.subject("mcp-user", RES)


# -- docs mode -------------------------------------------------------------------------------------


def test_docs_mode_ids_codes_and_jtis_are_injected(tmp_path):
    """Docs mode is deterministic: pending ids and codes come from the factories, token jtis are
    numbered; after a restart the factories may repeat, and the PS takes the next free value."""

    def factories():
        ids = iter(f"pending-{n:04d}" for n in range(1, 100))
        codes = iter(["ABCD-EFGH", "ABCD-EFGJ", "ABCD-EFGK", "ABCD-EFGM"])
        return {"id_factory": lambda: next(ids), "code_factory": lambda: next(codes)}

    w = World(tmp_path, **factories())
    try:
        assert decoded(w.agent_token)["jti"] == "agent-0001"
        url, code, _ = w.defer()
        assert (url, code) == (f"{PS}/pending/pending-0001", "ABCD-EFGH")
        w.restart_ps(**factories())
        url2, code2, _ = w.defer()
        assert (url2, code2) == (f"{PS}/pending/pending-0002", "ABCD-EFGJ")
        assert normalize_code(code2) == "ABCDEFGJ"
        assert decoded(w.person_token())["jti"] == "person-0004"
    finally:
        w.stop()


# -- ASGI mode -------------------------------------------------------------------------------------


def test_key_flow_in_asgi_mode(tmp_path):
    """The same consent flow with the apps called in process (no sockets): 202 → held poll →
    decision → 200; policy grant; denial."""
    w = World(tmp_path, mode="asgi")
    try:
        assert w.ask("files:read")[0].status_code == 200
        url, code, _ = w.defer()
        pending_id = url.rsplit("/", 1)[1]
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(w.poll, url, wait=HELD)
            wait_until(lambda: w.ps.waiters.held(pending_id) == 1)
            w.approve(code)
            assert held.result(timeout=HANG_GUARD).status_code == 200
        url, code, _ = w.defer()
        w.approve(code, approved=False)
        assert error_of(w.poll(url)) == "denied"
    finally:
        w.stop()
