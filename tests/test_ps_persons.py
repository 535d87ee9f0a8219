"""The persons of the Person Server over real HTTP (servers/ps/persons.py): sign-in and
sign-out, the consent-policy admin endpoint and the audit log.
"""

from __future__ import annotations

import re

from .ps_world import (
    PS,
    RES,
    error_of,
    form_fields,
    world_fixture,
)

world = world_fixture()


# -- sessions --------------------------------------------------------------------------------------


def test_login_next_stays_on_the_ps(world):
    browser = world.hosts.client()
    assert browser.get(f"{PS}/").headers["location"] == "/interaction"
    csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        response = browser.post(
            f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": target, "csrf": csrf}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/interaction"), target


def test_logout_ends_the_session(world):
    person = world.person()
    assert person.get(f"{PS}/audit").status_code == 200
    assert person.post(f"{PS}/logout").status_code == 200
    assert person.get(f"{PS}/audit").status_code == 401


# -- admin -----------------------------------------------------------------------------------------


def test_admin_policy_endpoint_changes_the_policy_live(world):
    """GET/PUT /admin/consent-policy: the change applies to the very next request and is audited."""
    person = world.person()
    assert person.get(f"{PS}/admin/consent-policy").json() == {
        "scopes": ["files:delete"],
        "prefixes": ["user.", "profile.", "email."],
    }
    assert world.ask("files:delete")[0].status_code == 202
    changed = person.put(f"{PS}/admin/consent-policy", json={"scopes": []})
    assert changed.json() == {"scopes": [], "prefixes": ["user.", "profile.", "email."]}
    assert world.ps.policy.scopes == []
    assert world.ask("files:delete")[0].status_code == 200
    changed = person.put(f"{PS}/admin/consent-policy", json={"scopes": ["files:read"], "prefixes": []})
    assert world.ask("files:read")[0].status_code == 202
    for bad in ({"scopes": "files:delete"}, {"scopes": [1]}, {"scopes": ["a b"]}, {"other": []}, [1]):
        response = person.put(f"{PS}/admin/consent-policy", json=bad)
        assert (response.status_code, error_of(response)) == (400, "invalid_request"), bad
    plain = person.put(
        f"{PS}/admin/consent-policy", content=b'{"scopes": []}', headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 400
    assert (world.ps.policy.scopes, world.ps.policy.prefixes) == (["files:read"], [])
    entry = [e for e in person.get(f"{PS}/audit").json() if e["action"] == "consent_policy_changed"][-1]
    assert (entry["actor"], entry["details"]) == ("mcp-user", {"scopes": ["files:read"], "prefixes": []})


# -- audit -----------------------------------------------------------------------------------------


def test_audit_records_every_decision_and_issued_token(world):
    """The seed's story: "mcp-user authorized the backend agent to …" — the audit log holds the
    request, the decision and every token issued, with who did it."""
    url, code, _ = world.defer()
    world.approve(code)
    world.poll(url)
    entries = world.person().get(f"{PS}/audit").json()
    actions = [(e["actor"], e["action"], e["subject"]) for e in entries]
    agent = "aauth:backend@ps.example"
    expected = [
        ("mcp-user", "agent_token_issued", agent),
        (agent, "person_token_issued", RES),
        (agent, "auth_token_requested", RES),
        ("mcp-user", "auth_token_approved", RES),
        (agent, "auth_token_issued", RES),
    ]
    assert [a for a in actions if a[1] != "login"] == expected
    issued = next(e for e in entries if e["action"] == "auth_token_issued")
    assert issued["details"]["scope"] == "files:delete" and issued["details"]["jti"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", issued["at"])
    assert {t.typ for t in world.ps.store.list_tokens()} == {"aa-agent+jwt", "aa-person+jwt", "aa-auth+jwt"}
    person = world.person()
    assert len(person.get(f"{PS}/audit", params={"limit": 2}).json()) == 2
    assert error_of(person.get(f"{PS}/audit", params={"limit": "lots"})) == "invalid_request"
