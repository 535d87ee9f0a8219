"""L9: interaction codes are single use and rate limited (-11 "Interaction Code Format"), and
a request that asks nobody yet is decided by the person who redeemed its code — over the
PS test world's loopback sockets.
"""

from __future__ import annotations

from aauth_kit import tokens
from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key

from .ps_world import CHAIN, PS, RES, error_of, world_fixture

world = world_fixture()


def test_l9_a_code_opens_once(world):
    """ "Once the user arrives at the interaction URL with a valid code and the code is consumed,
    the server MUST reject any later presentation of the same code, returning invalid_code":
    a second opening — the consent API or the page, the same person — is 410 invalid_code."""
    url, code, _ = world.defer()
    person = world.person()
    assert person.get(f"{PS}/consent", params={"code": code}).status_code == 200
    again = person.get(f"{PS}/consent", params={"code": code})
    assert (again.status_code, error_of(again)) == (410, "invalid_code")
    assert person.get(f"{PS}/interaction", params={"code": code}).status_code == 410
    pending_id = url.rsplit("/", 1)[1]
    decision = person.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert decision.status_code == 200  # the person who redeemed it still decides


def test_l9_wrong_codes_are_throttled(world):
    """ "the server MUST rate-limit code-validation attempts": after 5 wrong codes the person
    gets 429 rate_limited with Retry-After — even for a right code — until the window passes;
    another person is not affected."""
    _, code, _ = world.defer()
    person = world.person()
    for n in range(5):
        wrong = person.get(f"{PS}/consent", params={"code": f"ZZZZ-ZZZ{n}"})
        assert (wrong.status_code, error_of(wrong)) == (410, "invalid_code")
    refused = person.get(f"{PS}/consent", params={"code": code})
    assert (refused.status_code, error_of(refused)) == (429, "rate_limited")
    assert 0 < int(refused.headers["retry-after"]) <= 300
    alice = world.person("alice", "alice-pw")
    assert error_of(alice.get(f"{PS}/consent", params={"code": "ZZZZ-ZZZZ"})) == "invalid_code"
    world.clock.advance(301)
    assert person.get(f"{PS}/consent", params={"code": code}).status_code == 200


def _unclaimed(world):
    """A person-token request of an agent of another Agent Provider that nobody claimed yet."""
    key, now = Key.from_seed("chain agent"), int(world.clock())
    token = tokens.mint_agent_token(
        world.chain_key, iss=CHAIN, sub="aauth:chain@chain.example", cnf=key, iat=now, exp=now + 600
    )
    response = world.send(
        "POST",
        f"{PS}/person-token",
        key=key,
        token=token,
        body={"resource": RES, "capabilities": ["interaction"]},
    )
    assert response.status_code == 202, response.text
    code = parse_requirement(response.headers["aauth-requirement"]).code
    return response.headers["location"].rsplit("/", 1)[1], code


def test_l9_an_unclaimed_agent_is_decided_by_whoever_redeemed_its_code(world):
    """Before: any signed-in person holding the code (or the pending id) could decide.  Now the
    person who redeemed the code decides; nobody decides before the code is redeemed, and no
    other person after (403 forbidden; the code itself is used: 410)."""
    pending_id, code = _unclaimed(world)
    mcp_user, alice = world.person(), world.person("alice", "alice-pw")
    early = mcp_user.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert (early.status_code, error_of(early)) == (403, "forbidden")
    assert alice.get(f"{PS}/consent", params={"code": code}).status_code == 200
    late = mcp_user.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True})
    assert (late.status_code, error_of(late)) == (403, "forbidden")
    assert error_of(mcp_user.get(f"{PS}/consent", params={"code": code})) == "invalid_code"
    assert alice.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}).status_code == 200
    assert world.ps.store.get_agent("aauth:chain@chain.example", ap_issuer=CHAIN).username == "alice"
