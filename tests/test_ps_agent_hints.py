"""The agent's hints at the PS over loopback sockets (-11 "Agent Token Request"): ``login_hint``,
``tenant``, ``domain_hint``, ``prompt``, ``platform`` and ``device`` checked (``400
invalid_request``), kept with the waiting request, the login page
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
        {"domain_hint": ""},
        {"domain_hint": 7},
        {"prompt": "always"},
        {"prompt": "none consent"},
        {"prompt": "login login"},
        {"prompt": ["login"]},
        {"platform": "toaster"},
        {"platform": "Web"},
        {"device": "d" * 65},
        {"device": "Pixel\t8"},
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


def test_agent_token_request_every_hint_is_kept_with_the_waiting_request(world):
    """-11 "Agent Token Request": ``domain_hint``, ``prompt`` (defined values, space-delimited),
    ``platform`` (-11 "AAuth Platform Value Registry") and ``device`` (printable, at most 64
    characters) are taken and kept with the request the person decides, beside the others."""
    hints = {
        "login_hint": "mcp-user",
        "tenant": "corp",
        "domain_hint": "corp.example",
        "prompt": "login consent",
        "platform": "self-hosted",
        "device": "Chrome on macOS — ünïcode " + "x" * 38,
    }
    assert len(hints["device"]) == 64
    response = ask(world, **hints)
    assert response.status_code == 202, response.text
    code = re.search(r'code="([^"]+)"', response.headers["aauth-requirement"]).group(1)
    kept = world.ps.store.find_by_code(code).request
    assert {name: kept.get(name) for name in hints} == hints


def test_person_token_endpoint_checks_the_hints_too(world):
    """-11 "Person Token Endpoint" takes the same hints as the auth token endpoint."""
    response = world.send(
        "POST", f"{PS}/person-token", body={"resource": "https://r.example", "platform": "tv"}
    )
    assert (response.status_code, error_of(response)) == (400, "invalid_request")
