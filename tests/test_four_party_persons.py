"""Who the person is at a resource behind an Access Server, over real sockets (-11 "Directed
Identifiers", "Auth Token Structure"): the AS copies ``sub`` from the resource token and names
the PS that asked as ``ps``; the resource knows the person as ``(ps, sub)``, so the persons of two
PSes the AS trusts are two persons even when their ``sub``s compare equal.
"""

from __future__ import annotations

import json
import time
import types

import pytest
from aauth_kit.servers import access_server_issuing
from aauth_kit.servers.access_server import TokenRequest

from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

CATALOG = "https://catalog.example"
PS = "https://ps.example"
HOSTILE_PS = "https://ps.hostile.example"
SUB = "person-7f3a"  # a directed sub is no secret (the supplier's /account shows it)


@pytest.fixture
def lab(tmp_path):
    from aauth_kit.lab import Lab

    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        yield lab


def auth_token_from_the_as(lab, ps: str, key: Key) -> str:
    """The auth token the lab's AS issues when ``ps`` asks with a resource token naming ``SUB``
    (-11 "PS-to-AS Token Request")."""
    now = int(lab.clock())
    resource_token = types.SimpleNamespace(
        iss=CATALOG,
        jti=f"rt-{ps}",
        sub=SUB,
        scope="catalog:order",
        account=None,
        mission_s256=None,
        tenant=None,
    )
    pending = TokenRequest(
        f"rq-{ps}", ps, resource_token, (ps, f"pt-{ps}"), key.public_jwk(), now + 3600, None, time.time() + 60
    )
    return access_server_issuing.issue(lab.access_server, pending)["auth_token"]


def order_for(lab, ps: str, seed: str) -> dict:
    key = Key.from_seed(seed)
    body = json.dumps({"part": "battery-56wh", "quantity": 1}).encode()
    message = HttpMessage("POST", f"{CATALOG}/orders", [("Content-Type", "application/json")], body)
    sign_request(message, key, jwt_key(auth_token_from_the_as(lab, ps, key)), created=int(lab.clock()))
    response = lab.send(message).response
    assert response.status == 201, response.body
    return json.loads(response.body)["for"]


def test_directed_identifiers_the_persons_of_two_ps_with_one_sub_are_two_persons(lab):
    """Another PS the AS trusts asks for its person with the victim's ``sub``: the catalog books
    that order for ``(hostile PS, sub)``, never for the victim ``(PS, sub)`` — the person a
    person token of the victim's PS names there."""
    assert order_for(lab, PS, "victim-agent") == {"iss": PS, "sub": SUB}
    assert order_for(lab, HOSTILE_PS, "hostile-agent") == {"iss": HOSTILE_PS, "sub": SUB}
