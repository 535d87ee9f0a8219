"""Compact JWS (RFC 7515 §7.1): taking a token apart and signing one, no claim rules."""

import json

import pytest

from aauth_kit.claims import AGENT_TYP
from aauth_kit.errors import TokenError, UsageError
from aauth_kit.jws import decode_unverified, sign_compact
from aauth_kit.keys import Key, b64url

KID = "issuer-1"
AGENT_ID = "aauth:assistant@ap.example"
ED_ISSUER = Key.from_seed("issuer", kid=KID)


# -- decode_unverified -------------------------------------------------------------------
def _seg(value):
    return b64url(value if isinstance(value, bytes) else json.dumps(value).encode())


GOOD = sign_compact(
    {"alg": "Ed25519", "kid": KID, "typ": AGENT_TYP},
    {"iss": "https://ap.example", "sub": AGENT_ID},
    ED_ISSUER,
)


@pytest.mark.parametrize(
    "token",
    [
        None,
        b"a.b.c",
        "",
        "abc",
        "a.b",
        GOOD + ".x",
        f".{_seg({})}.c2ln",
        f"{_seg({})}..c2ln",
        f"{_seg({})}.{_seg({})}.c2l+",
        f"{_seg({})}.{_seg({})}.c2ln=",
        f"{_seg(b'not json')}.{_seg({})}.c2ln",
        f"{_seg([1])}.{_seg({})}.c2ln",
        _seg({}) + "." + _seg(b'{"a":1,"a":2}') + ".c2ln",
        _seg({}) + "." + _seg(b'{"exp":NaN}') + ".c2ln",
        _seg({}) + "." + _seg(b'{"exp":1e400}') + ".c2ln",
        _seg({}) + "." + _seg(b"\xff") + ".c2ln",
        _seg({}) + "." + _seg(b"[" * 5000 + b"]" * 5000) + ".c2ln",
        f"{_seg({})}.{_seg({})}.a",
        "é.é.é",
    ],
)
def test_decode_unverified_rejects_malformed_jwts(token):
    """RFC 7515 §7.1 compact serialization; RFC 7519 §7.2 (JSON objects, no duplicate
    members); anything malformed is invalid_jwt."""
    with pytest.raises(TokenError) as exc:
        decode_unverified(token)
    assert exc.value.code == "invalid_jwt"


def test_decode_unverified_parts():
    decoded = decode_unverified(GOOD)
    header, payload, signing_input, signature = decoded
    assert header["typ"] == AGENT_TYP and payload["sub"] == AGENT_ID
    assert signing_input == GOOD.rsplit(".", 1)[0].encode()
    assert ED_ISSUER.verify(signature, signing_input)


def test_sign_compact_needs_a_private_key():
    with pytest.raises(UsageError):
        sign_compact({"alg": "Ed25519", "typ": AGENT_TYP}, {}, ED_ISSUER.public())
