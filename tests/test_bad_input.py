"""The bad-input suite: for every Signature-Error code and every token error code the kit
emits, one specific malformed input that produces exactly that code.

Signature errors go through the whole server verification, ``profile.verify_request``
with a ``jwks.StaticResolver`` ([N] "Verification (Server)" steps 1-7); each must be a
401 carrying ``Signature-Error: error=<code>``.  Token errors go through
``check_token`` / ``verify_token`` ([N] "Agent Token Verification" and the other token verification sections), and as body
parameters through ``TokenError.as_parameter_error`` ([N] "Token Endpoint Error Codes").

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

import asyncio

import pytest

from aauth_kit import jws, tokens
from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from aauth_kit.errors import SIGNATURE_ERROR_CODES, SignatureError, TokenError
from aauth_kit.headers import parse_signature_error
from aauth_kit.jwks import StaticResolver
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK
from aauth_kit.profile import sign_request, verify_request
from aauth_kit.signature_key import SignatureKey, jwt_key
from aauth_kit.token_verification import check_token

NOW = 1_770_000_000
AP, PS, RES = "https://ap.example", "https://ps.example", "https://resource.example"
AGENT = "aauth:assistant@ap.example"
ap_key = Key.from_seed("bad-input-ap", kid="ap-1")
ps_key = Key.from_seed("bad-input-ps", kid="ps-1")
agent_key = Key.from_seed("bad-input-agent")
other_key = Key.from_seed("bad-input-other")
AGENT_JWK = agent_key.public_jwk()


def resolver(ap_metadata: dict | None = None) -> StaticResolver:
    """The AP's and the PS's keys; ``ap_metadata`` replaces the AP's well-known document."""
    found = StaticResolver()
    if ap_metadata is not None:
        found.register(AP, AGENT_DWK, metadata=ap_metadata)
    found.register_key(AP, AGENT_DWK, ap_key)
    found.register_key(PS, PERSON_DWK, ps_key)
    return found


def agent_claims(**overrides) -> dict:
    claims = {
        "iss": AP,
        "dwk": AGENT_DWK,
        "jti": "a-1",
        "iat": NOW - 10,
        "exp": NOW + 600,
        "sub": AGENT,
        "cnf": {"jwk": AGENT_JWK},
    }
    return {**claims, **overrides}


def agent_token(header: dict | None = None, **overrides) -> str:
    """An agent token signed by the AP, with any header or claims (no mint-time checks)."""
    return jws.sign_compact(
        {"alg": "Ed25519", "kid": "ap-1", "typ": AGENT_TYP, **(header or {})},
        agent_claims(**overrides),
        ap_key,
    )


def request(
    signature_key: SignatureKey, *, key: Key = agent_key, created: int = NOW, components=None
) -> HttpMessage:
    message = HttpMessage("GET", f"{RES}/data", [("Host", "resource.example")])
    sign_request(message, key, signature_key, created=created, components=components)
    return message


# -- Signature-Error codes through profile.verify_request ------------------------------------
#: code -> (the draft rule, a builder of (message, resolver)).
SIGNATURE_CASES = {
    "unsupported_algorithm": (
        '[N] "Signature Algorithms": cnf.jwk alg EdDSA is polymorphic and forbidden',
        lambda: (request(jwt_key(agent_token(cnf={"jwk": {**AGENT_JWK, "alg": "EdDSA"}}))), resolver()),
    ),
    "unsupported_scheme": (
        '[N] "Signature-Key Scheme Rejection": x509 is not a scheme an AAuth agent-facing endpoint accepts',
        lambda: (request(SignatureKey("sig", "x509", {"x5u": "https://ap.example/chain.pem"})), resolver()),
    ),
    "invalid_signature": (
        "[N] step 7: the request is signed by a key other than the token's cnf.jwk",
        lambda: (request(jwt_key(agent_token()), key=other_key), resolver()),
    ),
    "invalid_input": (
        "[N] step 2: signature-key is not among the covered components",
        lambda: (request(jwt_key(agent_token()), components=["@method", "@authority", "@path"]), resolver()),
    ),
    "invalid_key": (
        '[N] "Signature Algorithms": cnf.jwk crv X25519 disagrees with alg Ed25519',
        lambda: (request(jwt_key(agent_token(cnf={"jwk": {**AGENT_JWK, "crv": "X25519"}}))), resolver()),
    ),
    "unknown_key": (
        '[N] "JWKS Discovery and Caching": the header kid is not in the issuer\'s JWKS',
        lambda: (request(jwt_key(agent_token({"kid": "ap-9"}))), resolver()),
    ),
    "issuer_missing": (
        '[N] "Metadata Documents" / [SK] "JWT Confirmation Key (jwt)": the AP document has no issuer',
        lambda: (request(jwt_key(agent_token())), resolver({"jwks_uri": f"{AP}/.well-known/jwks.json"})),
    ),
    "issuer_mismatch": (
        '[N] "Metadata Documents" / [SK] "JWT Confirmation Key (jwt)": the AP document names another issuer',
        lambda: (
            request(jwt_key(agent_token())),
            resolver({"issuer": "https://evil.example", "jwks_uri": f"{AP}/.well-known/jwks.json"}),
        ),
    ),
    "invalid_jwt": (
        '[SK] "JWT Confirmation Key (jwt)" step 1: the jwt parameter is not a compact JWS',
        lambda: (request(jwt_key("not-a-jwt")), resolver()),
    ),
    "expired_jwt": (
        '[N] "Agent Token Verification" step 3: exp equal to now is expired (no tolerance)',
        lambda: (request(jwt_key(agent_token(exp=NOW))), resolver()),
    ),
    "clock_skew": (
        "[N] step 3: created is 61 s ahead of the verifier's clock (window 60 s)",
        lambda: (request(jwt_key(agent_token()), created=NOW + 61), resolver()),
    ),
}

#: Signature-Error codes ([SK] "Error Codes") that ``profile.verify_request`` never produces, and why.
NOT_FROM_VERIFY_REQUEST = {
    "invalid_request": "[N] answers missing signature headers with invalid_signature (invalid_request was [H] / -10); "
    "the kit never sends it as a Signature-Error",
    "revoked_jwt": "verify_request and check_token have no revocation hook; the resource role (resource.Resource) "
    "checks revocation after verify_request and answers revoked_jwt (tested in test_resource)",
    "cache_miss": "the kit does not implement the cached scheme; it answers unsupported_scheme",
}


def test_every_signature_error_code_is_covered_or_explained():
    assert set(SIGNATURE_CASES) | set(NOT_FROM_VERIFY_REQUEST) == SIGNATURE_ERROR_CODES
    assert not set(SIGNATURE_CASES) & set(NOT_FROM_VERIFY_REQUEST)


@pytest.mark.parametrize(
    "code", SIGNATURE_CASES, ids=[f"{c}: {rule}" for c, (rule, _) in SIGNATURE_CASES.items()]
)
def test_signature_error_code(code):
    rule, build = SIGNATURE_CASES[code]
    message, keys = build()
    with pytest.raises(SignatureError) as info:
        asyncio.run(verify_request(message, resolver=keys, now=NOW))
    error = info.value
    assert error.code == code, error.detail
    assert error.status == 401  # [N]: every signature failure is a 401
    headers = dict(error.response_headers())
    assert parse_signature_error(headers["signature-error"])[0] == code
    if code == "invalid_input":
        assert error.required_input == ["@method", "@authority", "@path", "signature-key"]
    if code == "unsupported_scheme":
        assert headers["accept-signature-scheme"] == "jwt"  # [N] "Signature-Key Scheme Rejection"


# -- token error codes through check_token / verify_token -----------------------------
def person_token(**overrides) -> str:
    claims = dict(iss=PS, aud=RES, sub="person-1", cnf=agent_key, iat=NOW - 10, exp=NOW + 600)
    claims.update(overrides)
    return tokens.mint_person_token(ps_key, **claims)


def check(token: str, typ: str = PERSON_TYP, **checks):
    return check_token(token, typ=typ, key=ps_key, now=NOW, **checks)


def verify(token: str, keys: StaticResolver):
    return asyncio.run(tokens.verify_token(token, typ=AGENT_TYP, resolver=keys, now=NOW))


#: code -> (the draft rule, a call that must fail with it).
TOKEN_CASES = {
    "invalid_jwt": (
        '[N] "Auth Token Verification": a person token never passes where an auth token is required (typ first)',
        lambda: check(person_token(), typ=AUTH_TYP),
    ),
    "expired_jwt": (
        '[N] "Person Token Verification" step 3: exp equal to now is expired (no tolerance)',
        lambda: check(person_token(exp=NOW)),
    ),
    "invalid_key": (
        '[N] "Person Token Verification": cnf.jwk is not the key that signed the request',
        lambda: check(person_token(), signing_key_jwk=other_key),
    ),
    "unsupported_algorithm": (
        '[N] "Signature Algorithms": header alg EdDSA is forbidden since -10',
        lambda: check(
            jws.sign_compact(
                {"alg": "EdDSA", "kid": "ps-1", "typ": PERSON_TYP},
                jws.decode_unverified(person_token()).payload,
                ps_key,
            )
        ),
    ),
    "clock_skew": (
        '[N] "Person Token Verification" step 3: iat in the future (beyond iat_window)',
        lambda: check(person_token(iat=NOW + 120, exp=NOW + 600), iat_window=60),
    ),
    "unknown_key": (
        "[N] key discovery: the header kid is not in the issuer's JWKS",
        lambda: verify(agent_token({"kid": "ap-9"}), resolver()),
    ),
    "issuer_missing": (
        "[N] key discovery: the issuer's document has no issuer",
        lambda: verify(agent_token(), resolver({"jwks_uri": f"{AP}/.well-known/jwks.json"})),
    ),
    "issuer_mismatch": (
        "[N] key discovery: the issuer's document names another issuer",
        lambda: verify(agent_token(), resolver({"issuer": "https://evil.example"})),
    ),
}


@pytest.mark.parametrize("code", TOKEN_CASES, ids=[f"{c}: {rule}" for c, (rule, _) in TOKEN_CASES.items()])
def test_token_error_code(code):
    rule, call = TOKEN_CASES[code]
    with pytest.raises(TokenError) as info:
        call()
    assert info.value.code == code, info.value.detail
    assert info.value.status == 401  # in Signature-Key a bad token is a Signature-Error


# -- the same failures as token endpoint body parameters ------------------------------------
PARAMETERS = ("resource", "presented", "upstream", "subagent")


@pytest.mark.parametrize("param", PARAMETERS)
@pytest.mark.parametrize(
    "code, call, expected",
    [
        ("invalid_jwt", TOKEN_CASES["invalid_jwt"][1], "invalid_{param}_token"),
        ("expired_jwt", TOKEN_CASES["expired_jwt"][1], "expired_{param}_token"),
        ("clock_skew", TOKEN_CASES["clock_skew"][1], "clock_skew"),
    ],
    ids=["invalid", "expired", "clock_skew"],
)
def test_token_parameter_error_codes(param, code, call, expected):
    """[N] "Token Endpoint Error Codes": a bad token in a body parameter is
    ``<invalid|expired>_<param>_token`` (400); a future ``iat`` is ``clock_skew`` (400)."""
    with pytest.raises(TokenError) as info:
        call()
    assert info.value.code == code
    error = info.value.as_parameter_error(param)
    assert (error.code, error.status) == (expected.format(param=param), 400)
    assert error.problem()["error"] == error.code
    assert "signature-error" not in dict(error.response_headers())
