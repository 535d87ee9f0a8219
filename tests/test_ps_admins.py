"""H2: persons and administrators at the Person Server, mounted over loopback sockets with a
second person (alice, no administrator) beside the demo administrator mcp-user.

The draft leaves the PS's own administration open; the kit follows OWASP ASVS level 2 (access
control): administrative functions for administrators only, each person's data for that
person only.
"""

from __future__ import annotations

import argparse

import pytest
from aauth_kit.servers.ps import persons as persons_module
from aauth_kit.servers.ps.store.persons import DEMO_PERSON, PersonAccount

from aauth_kit import serve

from .ps_world import PS, World, error_of, world_fixture

world = world_fixture()


def test_h2_a_person_cannot_turn_consent_off_for_everyone(world):
    """The attack of the finding: alice PUTs an empty consent policy — 403 forbidden, the policy
    unchanged, mcp-user's agent still asked; she cannot read it either."""
    alice = world.person("alice", "alice-pw")
    for response in (
        alice.put(f"{PS}/admin/consent-policy", json={"scopes": [], "prefixes": []}),
        alice.get(f"{PS}/admin/consent-policy"),
    ):
        assert (response.status_code, error_of(response)) == (403, "forbidden")
        assert response.headers["content-type"].startswith("application/problem+json")
    assert world.ps.policy.scopes == ["files:delete"]
    assert world.ask("files:delete")[0].status_code == 202
    assert world.person().get(f"{PS}/admin/consent-policy").status_code == 200  # the admin may


def test_h2_a_person_sees_only_their_own_audit_trail(world):
    """alice's GET /audit holds her own entries only; the administrator's the whole log."""
    url, code, _ = world.defer()
    world.approve(code)
    world.poll(url)
    alice = world.person("alice", "alice-pw")
    hers = alice.get(f"{PS}/audit").json()
    assert hers and {e["actor"] for e in hers} == {"alice"}
    everything = world.person().get(f"{PS}/audit").json()
    assert {"auth_token_issued", "auth_token_approved", "login"} <= {e["action"] for e in everything}
    assert not {e["action"] for e in hers} & {"auth_token_issued", "auth_token_approved"}


def test_h2_a_person_sees_only_their_own_tokens_missions_and_requests(world):
    """Lists are per person; another person's token or mission is 404 (as unknown), another
    person's request reached by its code or pending id 403 forbidden (servers/ps/persons.py)."""
    url, code, _ = world.defer()
    world.approve(code)
    world.poll(url)
    mcp_user, alice = world.person(), world.person("alice", "alice-pw")
    theirs = mcp_user.get(f"{PS}/tokens").json()
    assert theirs and alice.get(f"{PS}/tokens").json() == []
    revoke = alice.post(f"{PS}/tokens/{theirs[0]['jti']}/revoke")
    assert (revoke.status_code, error_of(revoke)) == (404, "not_found")
    mission = world.ps.store.add_mission(
        b'{"agent":"aauth:backend@ps.example","n":1}',
        agent_id="aauth:backend@ps.example",
        agent_iss=PS,
        username="mcp-user",
    )
    assert alice.get(f"{PS}/missions").json() == [] and len(mcp_user.get(f"{PS}/missions").json()) == 1
    ended = alice.post(f"{PS}/missions/{mission.s256}/revoke")
    assert (ended.status_code, error_of(ended)) == (404, "mission_not_found")
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    assert error_of(alice.get(f"{PS}/consent", params={"code": code})) == "forbidden"
    decision = alice.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert (decision.status_code, error_of(decision)) == (403, "forbidden")


def test_h2_the_admin_flag_follows_the_configuration(world):
    """A restart with alice as administrator makes her one; without, she is none again."""
    world.restart_ps(persons=[DEMO_PERSON, PersonAccount("alice", "alice-pw", admin=True)])
    assert world.person("alice", "alice-pw").get(f"{PS}/admin/consent-policy").status_code == 200
    world.restart_ps(persons=[DEMO_PERSON, PersonAccount("alice", "alice-pw")])
    assert world.person("alice", "alice-pw").get(f"{PS}/admin/consent-policy").status_code == 403


def test_h2_a_restart_with_a_new_password_replaces_the_old_one(world):
    """``--person mcp-user:NEW:admin`` on the same data dir: the demo password no longer
    signs in, the new one does, and sessions opened with the old one are over."""
    old_session = world.person("mcp-user", "user123")
    assert old_session.get(f"{PS}/audit").status_code == 200
    world.restart_ps(persons=[PersonAccount("mcp-user", "Str0nger-pw", admin=True)])
    refused = world.hosts.client().post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    assert (refused.status_code, error_of(refused)) == (401, "unauthorized")
    assert world.person("mcp-user", "Str0nger-pw").get(f"{PS}/admin/consent-policy").status_code == 200
    assert old_session.get(f"{PS}/audit").status_code == 401


def test_h2_person_accounts_parse():
    """``--person NAME:PASSWORD[:admin]``: the password is all between the first colon and a final ``:admin``."""
    assert PersonAccount.parse("bob:pw") == PersonAccount("bob", "pw")
    assert PersonAccount.parse("bob:a:b:admin") == PersonAccount("bob", "a:b", admin=True)
    for bad in ("bob", "bob:", "Bob:pw", "a b:pw", "x@y:pw", ":pw", "bob::admin"):
        with pytest.raises(ValueError):
            PersonAccount.parse(bad)


def test_h2_serve_takes_persons():
    """``aauth-kit serve --person`` (repeatable) documented in ``serve --help``."""
    parser = argparse.ArgumentParser()
    serve.add_cast_options(parser, seed_ports=True)
    args = parser.parse_args(["--person", "alice:pw", "--person", "root:secret:admin"])
    assert args.persons == [PersonAccount("alice", "pw"), PersonAccount("root", "secret", admin=True)]
    assert "NAME:PASSWORD[:admin]" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--person", "no-colon"])


def test_h2_lab_takes_persons_beside_the_demo_admin(tmp_path):
    """``Lab(persons=...)``: mcp-user stays the demo administrator, the others are added."""
    from aauth_kit.lab import Lab

    with Lab(mode="asgi", data_dir=tmp_path, persons=[PersonAccount("bob", "bob-pw")]) as lab:
        users = {u.username: u.admin for u in lab.ps.store.list_users()}
        assert users == {"mcp-user": True, "bob": False}
        assert lab.ps.store.check_password("bob", "bob-pw")


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A1%D9%A2", "0", "10001", "-1", "1e3"])
def test_audit_limit_takes_ascii_digits_only(world, limit):
    """``GET /audit?limit=`` with a superscript two or Arabic-Indic digits (``str.isdigit`` says
    yes, ``int`` refuses or reads them) or a number out of range: ``400 invalid_request``."""
    response = world.person().get(f"{PS}/audit?limit={limit}")
    assert (response.status_code, error_of(response)) == (400, "invalid_request")
    assert world.person().get(f"{PS}/audit?limit=3").status_code == 200


def test_a_person_cannot_make_the_ps_an_amplifier_of_revocations(tmp_path, monkeypatch, request):
    """Each ``POST /tokens/{jti}/revoke`` sends revocations to resources: past
    ``REVOCATIONS_PER_PERSON`` calls in the window the person gets ``429 rate_limited`` with
    ``Retry-After``; another person is still served."""
    monkeypatch.setattr(persons_module, "REVOCATIONS_PER_PERSON", 3)  # before the routes are built
    world = World(tmp_path)
    request.addfinalizer(world.stop)
    url, code, _ = world.defer()
    world.approve(code)
    world.poll(url)
    mcp_user = world.person()
    jti = mcp_user.get(f"{PS}/tokens").json()[0]["jti"]
    answers = [mcp_user.post(f"{PS}/tokens/{jti}/revoke") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert (answers[3].status_code, error_of(answers[3])) == (429, "rate_limited")
    assert int(answers[3].headers["retry-after"]) > 0
    alice = world.person("alice", "alice-pw")
    assert (alice.post(f"{PS}/tokens/{jti}/revoke").status_code, "alice") == (404, "alice")
