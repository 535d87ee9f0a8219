"""The agent's ``login_hint`` and ``tenant`` at the PS over loopback sockets (-11 "Agent Token
Request"): checked (``400 invalid_request``), kept with the waiting request, the login page
pre-filled with the hint (the code not redeemed by it), the consent shows the tenant."""

from __future__ import annotations

import re

import pytest

from .ps_world import CAPABILITIES, PS, error_of, logged_in_browser, world_fixture

world = world_fixture()


def ask(world, scope="files:delete", **hints):
    presented = world.person_token()
    body = {
        "resource_token": world.resource_token(presented, scope),
        "presented_token": presented,
        "capabilities": list(CAPABILITIES),
        **hints,
    }
    return world.send("POST", f"{PS}/auth-token", body=body)


@pytest.mark.parametrize(
    "hints",
    [
        {"login_hint": 5},
        {"login_hint": ""},
        {"login_hint": "a" * 257},
        {"tenant": ["corp"]},
        {"tenant": "corp\nevil"},
    ],
)
def test_agent_token_request_hints_are_checked(world, hints):
    response = ask(world, **hints)
    assert (response.status_code, error_of(response)) == (400, "invalid_request")


def test_agent_token_request_login_hint_prefills_the_login_page(world):
    response = ask(world, login_hint="mcp-user", tenant="corp")
    assert response.status_code == 202, response.text
    code = re.search(r'code="([^"]+)"', response.headers["aauth-requirement"]).group(1)
    signed_out = world.hosts.client(timeout=30)
    login = signed_out.get(f"{PS}/interaction", params={"code": code})
    assert 'name="username" value="mcp-user"' in login.text
    browser = logged_in_browser(world)  # the code was not redeemed by the lookup
    consent = browser.get(f"{PS}/interaction", params={"code": code})
    assert consent.status_code == 200 and "<code>corp</code>" in consent.text


def test_agent_token_request_without_hints_leaves_the_login_page_empty(world):
    response = ask(world)
    code = re.search(r'code="([^"]+)"', response.headers["aauth-requirement"]).group(1)
    login = world.hosts.client(timeout=30).get(f"{PS}/interaction", params={"code": code})
    assert 'name="username" value=""' in login.text
