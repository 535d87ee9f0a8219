"""The Person Server keeps a revocation of a token it never met a day at most (-11 "Token
Revocation" lets it forget one after ``exp``; -11 "Agent Token Structure": agent tokens SHOULD
NOT live longer than 24 hours), so it takes no token of another party that lives longer: else
an Agent Provider's revocation of a stolen 7-day agent token, sent before the thief used it,
would be forgotten a day later while the token still works.  Each attack over real loopback
sockets."""

from __future__ import annotations

import pytest
from aauth_kit.servers.ps.revocation import REVOCATION_RETENTION

from aauth_kit import tokens
from aauth_kit.keys import Key
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.revocation import SKEW, Revoker

from .ps_world import OTHER_AP, PS, RES, World, decoded, error_of, party_app

DAY = 24 * 3600


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.other_ap_key = Key.from_seed("other ap", kid="other-1")
    w.hosts.add(OTHER_AP, party_app(OTHER_AP, w.other_ap_key, "Other AP"))
    yield w
    w.stop()


def other_agent(world: World, lifetime: int, jti: str) -> tuple[Key, str]:
    """An agent of the other Agent Provider whose token lives ``lifetime`` seconds from now."""
    key, now = Key.from_seed(f"agent {jti}"), int(world.clock())
    token = tokens.mint_agent_token(
        world.other_ap_key,
        iss=OTHER_AP,
        sub=f"aauth:{jti}@other-ap.example",
        cnf=key,
        iat=now,
        exp=now + lifetime,
        jti=jti,
    )
    return key, token


def ap_revokes(world: World, jti: str, exp: int):
    """The other Agent Provider revokes its agent token ``jti`` at the PS."""
    message = Revoker(OTHER_AP, AGENT_DWK, world.other_ap_key, world.clock).request(f"{PS}/revoke", jti, exp)
    return world.client.request(
        message.method, message.target_uri, headers=message.headers, content=message.body
    )


def asks(world: World, key: Key, token: str):
    return world.send("POST", f"{PS}/person-token", body={"resource": RES}, key=key, token=token)


def signature_error(response) -> str:
    return response.headers.get("signature-error", "")


def test_token_revocation_a_revoked_7_day_agent_token_is_refused_after_a_day(world):
    """A stolen 7-day agent token, revoked by its Agent Provider before the thief used it: the
    PS refuses it at once and a day later too (when that revocation is forgotten): ``401`` with
    ``Signature-Error: error=invalid_jwt`` — it takes no agent token living longer than the day
    it keeps a revocation."""
    key, token = other_agent(world, 7 * DAY, "long-1")
    assert ap_revokes(world, "long-1", decoded(token)["exp"]).status_code == 200
    refused = asks(world, key, token)
    assert refused.status_code == 401 and "error=invalid_jwt" in signature_error(refused), refused.text
    world.clock.advance(REVOCATION_RETENTION + 2 * SKEW)
    assert ap_revokes(world, "other-jti", int(world.clock()) + 600).status_code == 200  # forgets old ones
    assert not world.ps.store.is_revoked(OTHER_AP, "long-1")
    refused = asks(world, key, token)
    assert refused.status_code == 401 and "error=invalid_jwt" in signature_error(refused), refused.text
    assert "lives" in refused.json()["detail"]


def test_token_revocation_a_day_long_agent_token_is_taken_and_its_revocation_outlives_it(world):
    """An agent token living exactly the day is taken; revoked before it was used, it stays
    refused ``401 revoked_jwt`` until its last minute, the revocation outliving the token."""
    key, token = other_agent(world, DAY, "day-1")
    assert "error=invalid_jwt" not in signature_error(asks(world, *other_agent(world, DAY, "day-2")))
    assert ap_revokes(world, "day-1", decoded(token)["exp"]).status_code == 200
    world.clock.advance(DAY - SKEW)
    assert ap_revokes(world, "other-jti", int(world.clock()) + 600).status_code == 200  # forgets old ones
    refused = asks(world, key, token)
    assert refused.status_code == 401 and "error=revoked_jwt" in signature_error(refused), refused.text


def test_token_revocation_a_resource_token_living_past_the_horizon_is_refused(world):
    """A resource token living two days (-11 "Resource Token Structure": SHOULD NOT exceed 5
    minutes): ``400 invalid_resource_token`` — a day later its resource's revocation would be
    forgotten; the same token living 5 minutes is taken."""
    presented = world.person_token()
    now = int(world.clock())
    body = {"presented_token": presented, "capabilities": ["interaction"]}
    long = world.resource_token(presented, exp=now + 2 * DAY)
    refused = world.send("POST", f"{PS}/auth-token", body=body | {"resource_token": long})
    assert (refused.status_code, error_of(refused)) == (400, "invalid_resource_token"), refused.text
    taken = world.send(
        "POST", f"{PS}/auth-token", body=body | {"resource_token": world.resource_token(presented)}
    )
    assert taken.status_code in (200, 202), taken.text
