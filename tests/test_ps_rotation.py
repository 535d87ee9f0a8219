"""Key rotation at the Agent Provider: ``POST /agent/rotate`` (servers/ps/agent_provider.py).

-11 "Agent Token Structure" says the agent identifier (``sub``) is stable across key
rotations; a rotation invalidates every token bound to the old key through ``cnf``, and how
an agent asks its AP for a new token is left to the AP.  The kit's answer: the request is
signed twice (Signature Keys -09 "Multiple Signatures") —
``sig`` by the current key presenting its agent token, ``new`` by the new key as ``hwk``.
Everything runs over real HTTP through the PS test world of tests/ps_world.py.
"""

from __future__ import annotations

import pytest

from aauth_kit import tokens
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.rotation import NEW_KEY_LABEL, sign_key_rotation
from aauth_kit.signature_key import hwk_key, jwt_key

from .ps_world import CHAIN, PS, RES, World, decoded, error_of, world_fixture

ROTATE = f"{PS}/agent/rotate"


world = world_fixture()


def rotate(world: World, new_key: Key, *, key: Key | None = None, token: str | None = None):
    """``POST /agent/rotate`` signed by ``key`` (default: the world's agent) and ``new_key``."""
    message = HttpMessage("POST", ROTATE)
    sign_key_rotation(
        message, key or world.agent_key, token or world.agent_token, new_key, created=int(world.clock())
    )
    return world.client.post(ROTATE, headers=message.headers)


def signature_error(response) -> str:
    assert response.status_code == 401, response.text
    return response.headers["signature-error"]


@pytest.mark.parametrize("mode", ["socket", "asgi"])
def test_rotation_keeps_the_identifier_and_the_person(tmp_path, mode):
    """-11 "Agent Token Structure": the new agent token has the same ``sub`` (and ``iss``, ``ps``) and
    binds the new key in ``cnf.jwk``; the agent stays bound to its person, so its person
    token for a resource carries the same pairwise ``sub`` as before."""
    world = World(tmp_path, mode=mode)
    try:
        before = decoded(world.person_token())
        new_key = Key.from_seed("agent backend, second key")
        response = rotate(world, new_key)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        new_token = response.json()["agent_token"]
        old, new = decoded(world.agent_token), decoded(new_token)
        assert (
            (new["iss"], new["sub"], new["ps"])
            == (old["iss"], old["sub"], old["ps"])
            == (PS, "aauth:backend@ps.example", PS)
        )
        assert new["jti"] != old["jti"]
        assert new["cnf"]["jwk"] == new_key.public_jwk(kid=False)
        assert response.json()["expires_in"] == new["exp"] - new["iat"]
        assert world.ps.store.get_agent(new["sub"], ap_issuer=PS).agent_jkt == new_key.thumbprint()
        after = decoded(world.person_token(key=new_key, token=new_token))
        assert after["sub"] == before["sub"] == world.ps.subject("mcp-user", RES)
        assert after["cnf"]["jwk"] == new_key.public_jwk(kid=False)
    finally:
        world.stop()


def test_the_old_token_is_revoked_and_does_not_bind_the_new_key(world):
    """After rotation the PS refuses the old agent token (Signature Keys -09 "Error Codes":
    ``revoked_jwt``); the old token with the new key fails the key binding: its ``cnf.jwk``
    is the old key, so the signature made by the new key does not verify
    (``invalid_signature``, -11 "Verification (Server)" step 7)."""
    new_key = Key.from_seed("agent backend, second key")
    new_token = rotate(world, new_key).json()["agent_token"]
    old_pair = world.send("POST", f"{PS}/person-token", body={"resource": RES})
    assert signature_error(old_pair) == "error=revoked_jwt"
    mixed = world.send("POST", f"{PS}/person-token", key=new_key, body={"resource": RES})
    assert signature_error(mixed) == "error=invalid_signature"
    again = rotate(world, Key.from_seed("third key"))  # the revoked token cannot rotate again
    assert signature_error(again) == "error=revoked_jwt"
    assert rotate(world, Key.from_seed("third key"), key=new_key, token=new_token).status_code == 200


def test_rotation_is_audited(world):
    new_key = Key.from_seed("agent backend, second key")
    assert rotate(world, new_key).status_code == 200
    entry = [e for e in world.ps.store.audit_log(100) if e.action == "agent_key_rotated"][-1]
    assert (entry.actor, entry.subject) == ("aauth:backend@ps.example",) * 2
    assert entry.details["old_jkt"] == world.agent_key.thumbprint()
    assert entry.details["new_jkt"] == new_key.thumbprint()
    assert entry.details["revoked_jti"] == decoded(world.agent_token)["jti"]


def test_metadata_names_the_rotation_endpoint(world):
    document = world.client.get(f"{PS}/.well-known/aauth-agent.json").json()
    assert document["rotation_endpoint"] == ROTATE


def test_both_signatures_are_required(world):
    """Signature Keys -09 "Label Consistency": the verifier selects each member by label; a missing ``new``
    signature (or member) is ``invalid_signature``, a ``sig`` member that is no agent token
    is ``unsupported_scheme`` (the PS takes agent tokens only, -11 "Verification (Server)"
    step 4)."""
    only_old = world.send("POST", ROTATE)
    assert signature_error(only_old).startswith("error=invalid_signature")
    message = HttpMessage("POST", ROTATE)
    sign_request(message, Key.from_seed("new"), hwk_key(Key.from_seed("new")), created=int(world.clock()))
    only_new = world.client.post(ROTATE, headers=message.headers)
    assert signature_error(only_new).startswith("error=unsupported_scheme")


def test_each_signature_must_verify_with_its_own_key(world):
    """A ``new`` signature made by another key than the one in its ``hwk`` member fails
    (-11 "Verification (Server)" step 7: ``invalid_signature``)."""
    new_key, impostor = Key.from_seed("new"), Key.from_seed("impostor")
    message = HttpMessage("POST", ROTATE)
    message.set_header(
        "Signature-Key",
        f"{jwt_key(world.agent_token).to_member()}, {hwk_key(new_key, label=NEW_KEY_LABEL).to_member()}",
    )
    components = ["@method", "@authority", "@path", "signature-key"]
    now = int(world.clock())
    sign_request(message, world.agent_key, None, label="sig", components=components, created=now)
    sign_request(message, impostor, None, label=NEW_KEY_LABEL, components=components, created=now)
    response = world.client.post(ROTATE, headers=message.headers)
    assert signature_error(response) == "error=invalid_signature"
    assert (
        world.ps.store.get_agent("aauth:backend@ps.example", ap_issuer=PS).agent_jkt
        == world.agent_key.thumbprint()
    )


def test_the_new_signature_must_cover_signature_key(world):
    """-11 profile: every signature covers ``signature-key``, else ``invalid_input`` with
    ``required_input`` — otherwise the new key would not vouch for the agent token."""
    new_key = Key.from_seed("new")
    message = HttpMessage("POST", ROTATE)
    message.set_header(
        "Signature-Key",
        f"{jwt_key(world.agent_token).to_member()}, {hwk_key(new_key, label=NEW_KEY_LABEL).to_member()}",
    )
    now = int(world.clock())
    sign_request(
        message,
        world.agent_key,
        None,
        label="sig",
        components=["@method", "@authority", "@path", "signature-key"],
        created=now,
    )
    sign_request(
        message,
        new_key,
        None,
        label=NEW_KEY_LABEL,
        components=["@method", "@authority", "@path"],
        created=now,
    )
    response = world.client.post(ROTATE, headers=message.headers)
    assert signature_error(response).startswith("error=invalid_input")


def test_the_new_key_must_differ(world):
    response = rotate(world, world.agent_key)
    assert (response.status_code, error_of(response)) == (400, "invalid_request")


def test_only_the_current_key_of_an_agent_of_this_ap_rotates(world):
    """The PS is the AP of its own agents only: a self-issued agent token (another AP, as in
    a -11 "Call Chaining" call chain) is ``403``; so is an older token of an agent whose record has
    moved to another key since."""
    chain_agent = Key.from_seed("chain agent")
    foreign = tokens.mint_agent_token(
        world.chain_key,
        iss=CHAIN,
        sub="aauth:chain@chain.example",
        cnf=chain_agent,
        iat=int(world.clock()),
        exp=int(world.clock()) + 600,
    )
    response = rotate(world, Key.from_seed("new"), key=chain_agent, token=foreign)
    assert (response.status_code, error_of(response)) == (403, "forbidden")
    stale_key = world.agent_key
    stale_token = world.agent_token
    world.ps.issue_agent_token("backend", Key.from_seed("reissued"))  # the record moves on
    response = rotate(world, Key.from_seed("new"), key=stale_key, token=stale_token)
    assert (response.status_code, error_of(response)) == (403, "forbidden")


def test_a_pending_agent_cannot_rotate(world):
    """An agent whose registration a person has not approved holds no agent token to
    rotate with; even a token minted for it out of band is refused while it is pending."""
    key = Key.from_seed("waiting agent")
    response = world.send("POST", f"{PS}/agent/register", key=key, hwk=True, body={"local": "waiting"})
    assert response.status_code == 202
    now = int(world.clock())
    token = tokens.mint_agent_token(
        world.ps_key, iss=PS, sub="aauth:waiting@ps.example", cnf=key, iat=now, exp=now + 600, kid="ps-1"
    )
    response = rotate(world, Key.from_seed("new"), key=key, token=token)
    assert (response.status_code, error_of(response)) == (403, "forbidden")


def test_l12_the_old_key_cannot_collect_a_request_made_before_the_rotation(world):
    """The attack of the finding: a request left pending by the old key, approved after the
    rotation, is collected by nobody — the old key's agent token is revoked (401 revoked_jwt),
    its bare key (``hwk``) is no agent (404 not_found), and the request itself ended with the
    rotation (the new key's token is another binding: 404; -11 "Pending URL Security")."""
    url, code, _ = world.defer()
    new_key = Key.from_seed("agent backend, rotated")
    rotated = rotate(world, new_key)
    assert rotated.status_code == 200, rotated.text
    assert signature_error(world.poll(url)) == "error=revoked_jwt"
    bare = world.poll(url, hwk=True)
    assert (bare.status_code, error_of(bare)) == (404, "not_found")
    new_token = world.poll(url, key=new_key, token=rotated.json()["agent_token"])
    assert (new_token.status_code, error_of(new_token)) == (404, "not_found")
    pending_id = url.rsplit("/", 1)[1]
    assert world.ps.store.get_pending(pending_id).status == "revoked"
    context = world.person().get(f"{PS}/consent", params={"code": code})
    assert (context.status_code, error_of(context)) == (410, "invalid_code")


def test_l12_a_bare_key_never_polls_an_agent_token_request(world):
    """Even without a rotation, a request asked with an agent token is polled with one: the
    same key as ``hwk`` is 404 (the agent's identity is verified on every poll)."""
    url, _, _ = world.defer()
    bare = world.poll(url, hwk=True)
    assert (bare.status_code, error_of(bare)) == (404, "not_found")
    assert world.poll(url, wait=1).status_code == 202


def test_l12_a_second_agent_token_for_the_old_key_ends_with_the_rotation(world):
    """The agent held two agent tokens for its old key (it registered again before rotating).
    Rotating with one revokes both: the old key signing with the other is ``401 revoked_jwt``
    at the person and auth token endpoints and at the mission endpoint."""
    second = world.ps.issue_agent_token("backend", world.agent_key, name="Backend")
    assert decoded(second)["sub"] == decoded(world.agent_token)["sub"]
    assert rotate(world, Key.from_seed("agent backend, after the theft")).status_code == 200
    for path, body in (
        ("/person-token", {"resource": RES}),
        ("/auth-token", {"resource_token": "x", "presented_token": "y"}),
        ("/mission", {"description": "keep going"}),
    ):
        answer = world.send("POST", f"{PS}{path}", token=second, body=body)
        assert signature_error(answer) == "error=revoked_jwt", path
