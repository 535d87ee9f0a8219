"""Every route of the cast, fed hostile input, answers without a 5xx (the kit's bar:
bad input gets the draft's error code and status — never a 500, a traceback or a hang).

The routes are read from the four servers' Starlette apps, so a route added later is
covered without touching this file.  Each one is called over real loopback HTTP three
ways — unsigned, signed by a registered agent with its agent token (-11 "HTTP Message
Signatures Profile": the body covered by ``content-digest``), and as a logged-in person
(the consent API's Bearer session) — with bodies that are not JSON, not an object, too
deep, of the wrong member types, or absurd, and path parameters that name nothing.
"""

from __future__ import annotations

import json

import pytest
from starlette.routing import Route

from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

SERVERS = ("ps", "supply_chain", "market_analysis", "backend", "access_server", "catalog")
#: What a path parameter is replaced with: a plain unknown id, and 2,000 characters.
PATH_VALUES = ("no-such-id", "a" * 2000)
BODIES = {
    "none": b"",
    "not utf-8": b"\xff\xfe\x00{",
    "not json": b"{'single': 'quotes'}",
    "array": b"[]",
    "too deep": b"[" * 50_000 + b"]" * 50_000,
    "huge number": b'{"exp": 1e999999, "jti": 123456789012345678901234567890}',
    "wrong types": json.dumps(
        {
            "resource": 5,
            "scope": ["a"],
            "resource_token": {},
            "presented_token": [],
            "upstream_token": 1,
            "code": None,
            "approved": "yes",
            "jti": ["x"],
            "exp": "soon",
            "prompt": {"a": 1},
            "username": 1,
            "password": [],
            "policy": "all",
            "consent_scopes": "x",
            "name": 7,
        }
    ).encode(),
}
#: Headers that look like AAuth but are broken (RFC 9651 parse errors, absurd numbers).
GARBLED = [
    ("Signature-Input", 'sig=("@method" "@authority";created=99999999999999999999'),
    ("Signature", "sig=:not base64!:"),
    ("Signature-Key", 'sig=jwt;jwt="a.b.c", other=hwk;kty="OKP"'),
    ("Authorization", "AAuth"),
    ("Prefer", "wait=99999999999999999999999"),
    ("AAuth-Capabilities", "(((("),
]


def routes(lab: Lab):
    """``(server, method, path template)`` for every route the cast serves."""
    for server in SERVERS:
        for route in getattr(lab, server).app.routes:
            if isinstance(route, Route):
                for method in sorted(route.methods - {"HEAD"}):
                    yield server, method, route.path


def concrete(path: str, value: str) -> str:
    """The template with every ``{param}`` replaced by ``value``."""
    parts = [value if part.startswith("{") and part.endswith("}") else part for part in path.split("/")]
    return "/".join(parts)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(mode="socket", data_dir=tmp_path_factory.mktemp("ps")) as lab:
        yield lab


@pytest.fixture(scope="module")
def person(lab):
    """The demo person's Bearer session at the PS."""
    with lab.hosts.client(timeout=30) as client:
        answer = client.post(
            f"{lab.identifiers['ps']}/login", json={"username": "mcp-user", "password": "user123"}
        )
        answer.raise_for_status()
        return answer.json()["session"]


def test_the_cast_has_the_routes_this_test_walks(lab):
    """The walk is not empty: the PS's token, revocation and consent routes are in it."""
    found = set(routes(lab))
    for expected in (
        ("ps", "POST", "/auth-token"),
        ("ps", "POST", "/revoke"),
        ("supply_chain", "POST", "/revoke"),
        ("ps", "POST", "/consent/{pending_id}/decision"),
        ("backend", "POST", "/optimization/start"),
    ):
        assert expected in found


@pytest.mark.parametrize("as_who", ["unsigned", "garbled", "agent", "person"])
def test_hostile_input_never_gets_a_5xx(lab, person, as_who):
    agent = lab.new_agent(f"hostile-{as_who}")
    failures = []
    with lab.hosts.client(timeout=30) as client:
        for server, method, template in routes(lab):
            origin = lab.identifiers[server]
            for value in PATH_VALUES if "{" in template else ("",):
                url = origin + concrete(template, value)
                for name, body in BODIES.items() if method in ("POST", "PUT", "DELETE") else (("none", b""),):
                    headers = [("Content-Type", "application/json")] if body else []
                    if as_who == "garbled":
                        headers += GARBLED
                    if as_who == "person":
                        headers.append(("Authorization", f"Bearer {person}"))
                    message = HttpMessage(method, url, headers, body)
                    if as_who == "agent":
                        sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
                    answer = client.request(method, url, headers=message.headers, content=body)
                    if answer.status_code >= 500:
                        failures.append(
                            f"{method} {template} ({name}, path {value[:12]!r}): "
                            f"{answer.status_code} {answer.text[:160]}"
                        )
    assert not failures, "\n".join(failures)
