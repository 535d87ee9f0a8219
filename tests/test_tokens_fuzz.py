"""Property tests for aauth_kit.tokens: whatever arrives, decode_unverified and
check_token either succeed or raise the kit's own errors (TokenError / AAuthError) —
never an unexpected exception type: bad input gets a precise AAuth error.

Three layers of input: arbitrary strings; arbitrary JSON header/payload objects
assembled into JWTs; and validly signed tokens whose claims are replaced by arbitrary
JSON values, so the claim rules behind the signature check are exercised too.
"""

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from aauth_kit.claims import AGENT_TYP, RESOURCE_TYP, TYPES
from aauth_kit.errors import AAuthError
from aauth_kit.jwks import StaticResolver
from aauth_kit.jws import decode_unverified, sign_compact
from aauth_kit.keys import Key, b64url
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, RESOURCE_DWK
from aauth_kit.token_verification import VerifiedToken, check_token
from aauth_kit.tokens import verify_token

FUZZ = settings(max_examples=300, deadline=None)
NOW = 1_770_000_000
ISSUER = Key.from_seed("fuzz-issuer", kid="k1")
AGENT = Key.from_seed("fuzz-agent")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=8)

CLAIM_NAMES = [
    "iss",
    "dwk",
    "sub",
    "aud",
    "jti",
    "iat",
    "exp",
    "cnf",
    "ps",
    "scope",
    "account",
    "agent_jkt",
    "presented_jti",
    "person_token_jti",
    "mission_s256",
    "tenant",
    "parent_agent",
    "interaction",
    "login_hint",
]
HEADER_NAMES = ["alg", "typ", "kid", "crit"]


def base_claims(typ):
    claims = {"jti": "j", "iat": NOW - 5, "exp": NOW + 300, "sub": "aauth:a@ap.example"}
    cnf = {"cnf": {"jwk": AGENT.public_jwk()}}
    if typ == AGENT_TYP:
        return claims | {"iss": "https://ap.example", "dwk": AGENT_DWK, **cnf}
    if typ == RESOURCE_TYP:
        return claims | {
            "iss": "https://r.example",
            "dwk": RESOURCE_DWK,
            "aud": "https://ps.example",
            "ps": "https://ps.example",
            "presented_jti": "p",
            "agent_jkt": AGENT.thumbprint(),
            "scope": "s",
        }
    return claims | {
        "iss": "https://ps.example",
        "dwk": PERSON_DWK,
        "aud": "https://r.example",
        "ps": "https://ps.example",
        **cnf,
    }


def attempt(token, typ, **options):
    """Run both entry points; return the outcome or the kit error, never anything else."""
    try:
        decode_unverified(token)
        return check_token(token, typ=typ, key=ISSUER.public(), now=NOW, **options)
    except AAuthError as exc:
        return exc


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=50) | st.integers() | st.none())
def test_arbitrary_strings(token):
    assert isinstance(attempt(token, AGENT_TYP), AAuthError)


@FUZZ
@given(st.text(alphabet="ABCDEFabcdef0123456789-_.", max_size=200))
def test_arbitrary_base64url_shapes(token):
    assert isinstance(attempt(token, AGENT_TYP), AAuthError)


@FUZZ
@given(json_objects, json_objects, st.binary(max_size=80), st.sampled_from(TYPES))
def test_arbitrary_json_header_and_payload(header, payload, signature, typ):
    """Arbitrary JSON objects assembled into a compact JWS with an arbitrary signature."""
    token = ".".join(b64url(part) for part in (_json(header), _json(payload), signature))
    outcome = attempt(token, typ)
    assert isinstance(outcome, AAuthError)


@FUZZ
@given(
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(CLAIM_NAMES), json_values | st.just(None), max_size=5),
    st.dictionaries(st.sampled_from(HEADER_NAMES), json_values | st.just(None), max_size=2),
    st.sampled_from([None, "https://r.example", "https://ps.example"]),
)
def test_signed_tokens_with_fuzzed_claims(typ, claim_changes, header_changes, expected_aud):
    """Validly signed tokens whose claims/header members are replaced (None = removed):
    every claim rule runs on hostile values and answers with a kit error or succeeds."""
    claims = base_claims(typ)
    header = {"alg": ISSUER.alg, "kid": "k1", "typ": typ}
    for target, changes in ((claims, claim_changes), (header, header_changes)):
        for name, value in changes.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
    token = sign_compact(header, claims, ISSUER)
    outcome = attempt(
        token, typ, expected_aud=expected_aud, signing_key_jwk=AGENT.public_jwk(), iat_window=60
    )
    assert isinstance(outcome, (AAuthError, VerifiedToken))
    if isinstance(outcome, VerifiedToken):
        # whatever passed is usable: the common claims read back without surprises
        assert outcome.typ == typ and isinstance(outcome.iss, str) and outcome.exp > NOW
        assert outcome.jkt == AGENT.thumbprint()


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(CLAIM_NAMES + ["kid"]), json_values | st.just(None), max_size=4),
)
def test_verify_token_with_hostile_claims(typ, changes):
    """The async path (key lookup by iss/dwk/kid) also answers only with kit errors."""
    resolver = StaticResolver()
    for issuer in ("https://ap.example", "https://r.example", "https://ps.example"):
        for dwk in (AGENT_DWK, RESOURCE_DWK, PERSON_DWK):
            resolver.register_key(issuer, dwk, ISSUER)
    claims = base_claims(typ)
    header = {"alg": ISSUER.alg, "kid": "k1", "typ": typ}
    for name, value in changes.items():
        target = header if name == "kid" else claims
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    token = sign_compact(header, claims, ISSUER)
    try:
        outcome = asyncio.run(verify_token(token, typ=typ, resolver=resolver, now=NOW))
    except AAuthError as exc:
        outcome = exc
    assert isinstance(outcome, (AAuthError, VerifiedToken))


def _json(value):
    return json.dumps(value).encode()


def test_base_claims_verify():
    """The fuzz baseline is itself valid, so fuzzed failures come from the changes."""
    for typ in TYPES:
        token = sign_compact({"alg": ISSUER.alg, "kid": "k1", "typ": typ}, base_claims(typ), ISSUER)
        assert check_token(token, typ=typ, key=ISSUER, now=NOW, signing_key_jwk=AGENT).typ == typ
