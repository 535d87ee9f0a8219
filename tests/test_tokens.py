"""AAuth tokens: minting and verifying aa-agent+jwt, aa-person+jwt, aa-resource+jwt, aa-auth+jwt.

[N] = draft-hardt-oauth-aauth-protocol-11: "JWT Trust Verification", "Agent Token Structure",
"Person Token Structure", "Person Token Verification", "Resource Token Structure", "Resource
Token Verification", "Auth Token Structure", "Auth Token Verification".  [SK] =
draft-hardt-httpbis-signature-key-09.
"""

import asyncio
import base64
import json

import pytest

from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from aauth_kit.errors import AAuthError, TokenError, UsageError
from aauth_kit.jwks import KeyResolver, StaticResolver
from aauth_kit.jws import decode_unverified, sign_compact
from aauth_kit.keys import Key, b64url, jwk_thumbprint
from aauth_kit.metadata import ACCESS_DWK, AGENT_DWK, PERSON_DWK, RESOURCE_DWK
from aauth_kit.signature_key import jwt_key
from aauth_kit.token_verification import VerifiedToken, check_presented_token, check_token
from aauth_kit.tokens import (
    confirmation_key,
    mint,
    mint_agent_token,
    mint_auth_token,
    mint_person_token,
    mint_resource_token,
    verify_token,
)

from .conftest import load_vector

NOW = 1_770_000_000
AP = "https://ap.example"
PS = "https://ps.example"
AS = "https://as.example"
RES = "https://resource.example"
AGENT_ID = "aauth:assistant@ap.example"
MISSION = b64url(b"\x01" * 32)
KID = "issuer-1"


@pytest.fixture(params=["Ed25519", "ES256"])
def alg(request):
    return request.param


@pytest.fixture
def issuer_key(alg):
    return Key.from_seed("issuer", alg, kid=KID)


@pytest.fixture
def agent_key(alg):
    return Key.from_seed("agent", alg)


ED_ISSUER = Key.from_seed("issuer", kid=KID)
ED_AGENT = Key.from_seed("agent")


# -- claim sets and raw signing (bypassing the minting rules) ---------------------------------
def claims_for(typ, agent=ED_AGENT, **changes):
    base = {"jti": "t-1", "iat": NOW - 10, "exp": NOW + 600}
    cnf = {"cnf": {"jwk": agent.public_jwk()}}
    if typ == AGENT_TYP:
        base |= {"iss": AP, "dwk": AGENT_DWK, "sub": AGENT_ID, **cnf}
    elif typ == PERSON_TYP:
        base |= {"iss": PS, "dwk": PERSON_DWK, "aud": RES, "sub": "pairwise-1", **cnf}
    elif typ == RESOURCE_TYP:
        base |= {
            "iss": RES,
            "dwk": RESOURCE_DWK,
            "aud": PS,
            "ps": PS,
            "sub": "pairwise-1",
            "presented_jti": "pt-1",
            "agent_jkt": agent.thumbprint(),
            "scope": "data.read",
        }
    else:
        base |= {
            "iss": PS,
            "dwk": PERSON_DWK,
            "aud": RES,
            "ps": PS,
            "sub": "pairwise-1",
            "scope": "data.read",
            **cnf,
        }
    for name, value in changes.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def raw(token_typ, claims=None, /, *, key=ED_ISSUER, **header):
    """Sign claims under a header, bypassing the minting rules (``None`` drops a member)."""
    h = {"alg": key.alg, "kid": KID, "typ": token_typ}
    for name, value in header.items():
        if value is None:
            h.pop(name)
        else:
            h[name] = value
    return sign_compact(h, claims if claims is not None else claims_for(token_typ), key)


def check(token, typ, key=ED_ISSUER, **options):
    options.setdefault("now", NOW)
    return check_token(token, typ=typ, key=key.public(), **options)


def rejects(token, typ, code, key=ED_ISSUER, **options):
    with pytest.raises(TokenError) as exc:
        check(token, typ, key, **options)
    assert exc.value.code == code, exc.value.detail
    assert exc.value.status == 401
    return exc.value


# -- round trips -------------------------------------------------------------------------
def mint_all(issuer_key, agent_key):
    return {
        AGENT_TYP: mint_agent_token(
            issuer_key, iss=AP, sub=AGENT_ID, cnf=agent_key, iat=NOW, jti="a-1", ps=PS
        ),
        PERSON_TYP: mint_person_token(
            issuer_key,
            iss=PS,
            aud=RES,
            sub="u-1",
            cnf=agent_key,
            iat=NOW,
            jti="p-1",
            mission_s256=MISSION,
            tenant="acme",
        ),
        RESOURCE_TYP: mint_resource_token(
            issuer_key,
            iss=RES,
            aud=PS,
            ps=PS,
            sub="u-1",
            presented_jti="p-1",
            agent_jkt=agent_key,
            scope="data.read",
            iat=NOW,
            jti="r-1",
            mission_s256=MISSION,
            tenant="acme",
        ),
        AUTH_TYP: mint_auth_token(
            issuer_key,
            iss=PS,
            aud=RES,
            ps=PS,
            sub="u-1",
            cnf=agent_key,
            iat=NOW,
            jti="z-1",
            scope="data.read",
            mission_s256=MISSION,
            tenant="acme",
            extra={"email": "a@b.example"},
        ),
    }


@pytest.mark.parametrize("typ", [AGENT_TYP, PERSON_TYP, RESOURCE_TYP, AUTH_TYP])
def test_round_trip(typ, issuer_key, agent_key):
    """[N] "JWT Type Registrations": each type mints and verifies with Ed25519 and ES256; header is
    {alg, kid, typ}; the token binds the agent key (cnf.jwk, or agent_jkt for resources)."""
    token = mint_all(issuer_key, agent_key)[typ]
    aud = {AGENT_TYP: None, RESOURCE_TYP: PS}.get(typ, RES)
    verified = check_token(
        token,
        typ=typ,
        key=issuer_key.public(),
        now=NOW + 1,
        expected_aud=aud,
        signing_key_jwk=agent_key.public_jwk(),
    )
    assert isinstance(verified, VerifiedToken)
    assert verified.header == {"alg": issuer_key.alg, "kid": KID, "typ": typ}
    assert (verified.typ, verified.alg, verified.kid, verified.iat) == (typ, issuer_key.alg, KID, NOW)
    assert verified.jkt == agent_key.thumbprint()
    assert verified.token == token
    if typ != AGENT_TYP:
        assert (verified.aud, verified.sub, verified.mission_s256, verified.tenant) == (
            aud,
            "u-1",
            MISSION,
            "acme",
        )
    if typ == RESOURCE_TYP:
        assert (
            verified.cnf_key is None and verified.presented_jti == "p-1" and verified["scope"] == "data.read"
        )
    else:
        assert verified.cnf_key.thumbprint() == agent_key.thumbprint()
    if typ == AUTH_TYP:
        assert verified.get("email") == "a@b.example" and verified.ps == PS and verified.dwk == PERSON_DWK


@pytest.mark.parametrize("typ", [AGENT_TYP, PERSON_TYP, RESOURCE_TYP, AUTH_TYP])
def test_verify_token_with_resolver(typ, issuer_key, agent_key):
    """[N] key discovery: iss + dwk + header kid select the issuer key, then every check runs."""
    resolver = StaticResolver()
    issuer = {AGENT_TYP: AP, RESOURCE_TYP: RES}.get(typ, PS)
    dwk = {AGENT_TYP: AGENT_DWK, RESOURCE_TYP: RESOURCE_DWK}.get(typ, PERSON_DWK)
    resolver.register_key(issuer, dwk, issuer_key)
    token = mint_all(issuer_key, agent_key)[typ]
    verified = asyncio.run(verify_token(token, typ=typ, resolver=resolver, now=NOW))
    assert verified.iss == issuer
    with pytest.raises(TokenError) as exc:
        asyncio.run(verify_token(token, typ=typ, resolver=resolver, now=NOW + 4000))
    assert exc.value.code == "expired_jwt"


def test_default_lifetimes_and_kid():
    """Kit defaults: agent/person/auth tokens live an hour, resource tokens 5 min ([N]
    "SHOULD ≤ 5 min"); kid is always emitted — the key's kid, else its thumbprint."""
    plain = Key.from_seed("no-kid")
    token = mint_agent_token(plain, iss=AP, sub=AGENT_ID, cnf=ED_AGENT, iat=NOW)
    decoded = decode_unverified(token)
    assert decoded.header["kid"] == plain.thumbprint()
    assert decoded.payload["exp"] - decoded.payload["iat"] == 3600
    assert len(decoded.payload["jti"]) >= 16
    rt = mint_resource_token(
        plain,
        iss=RES,
        aud=PS,
        ps=PS,
        sub="u",
        presented_jti="p",
        agent_jkt="x" * 43,
        scope="s",
        iat=NOW,
        kid="explicit",
    )
    d = decode_unverified(rt)
    assert d.payload["exp"] - d.payload["iat"] == 300 and d.header["kid"] == "explicit"
    assert (
        decode_unverified(
            mint_person_token(plain, iss=PS, aud=RES, sub="u", cnf=ED_AGENT, iat=NOW, exp=NOW + 60)
        ).payload["exp"]
        == NOW + 60
    )


# -- typ first ---------------------------------------------------------------------------
def test_person_token_is_not_an_auth_token():
    """[N] "Person Token Structure": a PS auth token and a person token differ only in typ — always reject
    aa-person+jwt where an auth token is required (invalid_jwt naming both)."""
    token = raw(PERSON_TYP, claims_for(AUTH_TYP))
    err = rejects(token, AUTH_TYP, "invalid_jwt", expected_aud=RES)
    assert "aa-auth+jwt" in err.detail and "aa-person+jwt" in err.detail


def test_typ_is_checked_before_anything_else():
    """[N] "JWT Trust Verification": typ first — a wrong typ wins over a forbidden alg and
    over a bad signature."""
    eddsa = raw(AGENT_TYP, alg="EdDSA")
    assert "typ" in rejects(eddsa, PERSON_TYP, "invalid_jwt").detail
    forged = raw(AGENT_TYP, key=Key.from_seed("attacker"))
    assert "typ" in rejects(forged, AUTH_TYP, "invalid_jwt").detail


@pytest.mark.parametrize("typ", [None, "", "JWT", "aa-agent", 7, "jkt-s256+jwt"])
def test_wrong_or_missing_typ(typ):
    """[N] "JWT Trust Verification": typ must be the expected aa-*+jwt."""
    rejects(raw(AGENT_TYP, typ=typ), AGENT_TYP, "invalid_jwt")


def test_typ_media_type_forms():
    """RFC 7515 §4.1.9: typ compares case-insensitively and may carry application/."""
    for typ in ("application/aa-agent+jwt", "AA-Agent+JWT"):
        assert check(raw(AGENT_TYP, typ=typ), AGENT_TYP).typ == AGENT_TYP


def test_several_accepted_types():
    """A presented/upstream token may be a person or an auth token ([N] "Resource Token Verification", "Call Chaining")."""
    for typ in (PERSON_TYP, AUTH_TYP):
        assert check(raw(typ, claims_for(typ)), (PERSON_TYP, AUTH_TYP)).typ == typ
    rejects(raw(AGENT_TYP), (PERSON_TYP, AUTH_TYP), "invalid_jwt")


def test_check_token_usage_errors():
    with pytest.raises(UsageError):
        check_token(raw(AGENT_TYP), typ="aa-session+jwt", key=ED_ISSUER, now=NOW)
    with pytest.raises(UsageError):
        check_token(raw(AGENT_TYP), typ=AGENT_TYP, key=ED_ISSUER.public_jwk(), now=NOW)


# -- alg ---------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["EdDSA", "none", "HS256", "RS256", "ed25519", None, ["Ed25519"]])
def test_header_alg_rules(alg):
    """[N] "Signature Algorithms" / [SK] "Key Validation": alg fully specified; EdDSA, none, unknown →
    unsupported_algorithm."""
    token = raw(AGENT_TYP, alg=alg)
    err = rejects(token, AGENT_TYP, "unsupported_algorithm")
    if alg != "EdDSA":
        assert err.accept_algs == ["Ed25519", "ES256"]


def test_alg_must_match_the_issuer_key():
    """RFC 8725 §3.1: the token's alg must be the algorithm of the key that verifies it."""
    token = raw(AGENT_TYP, alg="ES256")
    assert "ES256" in rejects(token, AGENT_TYP, "invalid_jwt").detail


def test_crit_is_rejected():
    """RFC 7515 §4.1.11: unknown critical extensions make the JWS invalid."""
    rejects(raw(AGENT_TYP, crit=["exp"]), AGENT_TYP, "invalid_jwt")


# -- dwk and signature -------------------------------------------------------------------
@pytest.mark.parametrize(
    "typ, dwk",
    [
        (AGENT_TYP, PERSON_DWK),
        (PERSON_TYP, ACCESS_DWK),
        (RESOURCE_TYP, AGENT_DWK),
        (AUTH_TYP, RESOURCE_DWK),
        (AGENT_TYP, None),
    ],
)
def test_dwk_must_match_the_type(typ, dwk):
    """[N] each "… Token Structure": agent → aauth-agent.json, person → aauth-person.json, resource →
    aauth-resource.json, auth → aauth-person.json or aauth-access.json."""
    rejects(raw(typ, claims_for(typ, dwk=dwk)), typ, "invalid_jwt")


def test_as_issued_auth_token():
    """[N] "Auth Token Structure": an AS-issued auth token names aauth-access.json; its ps is the person's PS."""
    token = raw(AUTH_TYP, claims_for(AUTH_TYP, iss=AS, dwk=ACCESS_DWK))
    assert check(token, AUTH_TYP).ps == PS


def test_ps_issued_auth_token_names_itself_in_ps():
    """[N] "Auth Token Structure": ps is the person's PS, which is iss when the PS issued the token."""
    rejects(raw(AUTH_TYP, claims_for(AUTH_TYP, ps="https://other-ps.example")), AUTH_TYP, "invalid_jwt")


def test_signature_must_verify():
    token = raw(AGENT_TYP)
    header, payload, signature = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["sub"] = "aauth:mallory@ap.example"
    forged = f"{header}.{b64url(json.dumps(tampered).encode())}.{signature}"
    assert "signature" in rejects(forged, AGENT_TYP, "invalid_jwt").detail
    rejects(raw(AGENT_TYP, key=Key.from_seed("other-issuer")), AGENT_TYP, "invalid_jwt")
    rejects(f"{header}.{payload}.", AGENT_TYP, "invalid_jwt")


# -- time rules --------------------------------------------------------------------------
def test_exp_has_no_tolerance():
    """[N]: exp strictly in the future with no skew tolerance."""
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, exp=NOW))
    rejects(token, AGENT_TYP, "expired_jwt")
    assert check(token, AGENT_TYP, now=NOW - 1)


@pytest.mark.parametrize("typ", [PERSON_TYP, AUTH_TYP])
def test_person_and_auth_tokens_live_at_most_an_hour(typ):
    """[N] "Person Token Structure" / "Auth Token Structure": exp − iat ≤ 3600 for person and auth tokens."""
    assert check(raw(typ, claims_for(typ, iat=NOW - 100, exp=NOW + 3500)), typ)
    rejects(raw(typ, claims_for(typ, iat=NOW - 100, exp=NOW + 3501)), typ, "invalid_jwt")


def test_agent_tokens_may_live_a_day():
    """[N] "Agent Token Structure": agent tokens SHOULD be ≤ 24 h — no one-hour cap."""
    assert check(raw(AGENT_TYP, claims_for(AGENT_TYP, exp=NOW + 86000)), AGENT_TYP)


def test_future_iat_is_clock_skew_only_when_asked():
    """[N]: iat is not a validity check; a verifier MAY refuse a future iat with clock_skew."""
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, iat=NOW + 120, exp=NOW + 600))
    assert check(token, AGENT_TYP)
    assert check(token, AGENT_TYP, iat_window=120)
    rejects(token, AGENT_TYP, "clock_skew", iat_window=60)


@pytest.mark.parametrize(
    "claim, value", [("iat", None), ("exp", None), ("iat", "1"), ("exp", 1.5e9), ("exp", True)]
)
def test_numeric_dates_are_required_integers(claim, value):
    """[N] each "… Token Structure": iat and exp REQUIRED (kit decision: integers only)."""
    rejects(raw(AGENT_TYP, claims_for(AGENT_TYP, **{claim: value})), AGENT_TYP, "invalid_jwt")


# -- iss, aud, ps ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "iss",
    ["https://AP.example", "https://ap.example/", "http://ap.example", "ap.example", "http://127.0.0.1:9000"],
)
def test_iss_must_be_a_server_identifier(iss):
    """[N] "Server Identifiers": iss is https + lowercase host only."""
    rejects(raw(AGENT_TYP, claims_for(AGENT_TYP, iss=iss)), AGENT_TYP, "invalid_jwt")


def test_dev_mode_accepts_loopback_issuers():
    """Kit dev mode (kit decision): `aauth-kit serve` identifiers are http://127.0.0.1:PORT."""
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, iss="http://127.0.0.1:9000", ps="http://localhost:9001"))
    assert check(token, AGENT_TYP, dev=True).iss == "http://127.0.0.1:9000"


def test_aud_is_compared_exactly():
    """[N] "Person Token Verification" / "Auth Token Verification": aud == the verifier's own identifier."""
    token = raw(PERSON_TYP, claims_for(PERSON_TYP))
    assert check(token, PERSON_TYP, expected_aud=RES).aud == RES
    rejects(token, PERSON_TYP, "invalid_jwt", expected_aud="https://other.example")
    rejects(token, PERSON_TYP, "invalid_jwt", expected_aud=RES + "/")


@pytest.mark.parametrize(
    "aud, ok",
    [
        ([RES], True),
        ([RES, "https://other.example"], False),
        ([], False),
        ("", False),
        (5, False),
        (None, False),
    ],
)
def test_aud_shape(aud, ok):
    """[N]: aud is one resource, a string.  Kit decision: a one-element array is
    the same audience (RFC 7519 §4.1.3) and is accepted; anything else is invalid_jwt."""
    token = raw(PERSON_TYP, claims_for(PERSON_TYP, aud=aud))
    if ok:
        assert check(token, PERSON_TYP, expected_aud=RES).aud == RES
    else:
        rejects(token, PERSON_TYP, "invalid_jwt", expected_aud=RES)


def test_expected_ps():
    """[N] "Resource Token Verification": the PS checks the resource token's ps names itself."""
    token = raw(RESOURCE_TYP, claims_for(RESOURCE_TYP))
    assert check(token, RESOURCE_TYP, expected_aud=PS, expected_ps=PS)
    rejects(token, RESOURCE_TYP, "invalid_jwt", expected_ps="https://ps2.example")


# -- cnf and key binding -----------------------------------------------------------------
@pytest.mark.parametrize(
    "cnf, code",
    [
        (None, "invalid_jwt"),
        ("jwk", "invalid_jwt"),
        ({"jkt": "abc"}, "invalid_jwt"),
        ({"jwk": {k: v for k, v in ED_AGENT.public_jwk().items() if k != "alg"}}, "unsupported_algorithm"),
        ({"jwk": {**ED_AGENT.public_jwk(), "alg": "EdDSA"}}, "unsupported_algorithm"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "alg": "Ed25519"}}, "invalid_key"),
        ({"jwk": {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}}, "invalid_key"),
        ({"jwk": {**ED_AGENT.public_jwk(), "crv": "P-256"}}, "invalid_key"),
        ({"jwk": {"kty": ["OKP"], "alg": "Ed25519"}}, "invalid_key"),
        ({"jwk": ED_AGENT.private_jwk()}, "invalid_key"),
    ],
    ids=[
        "absent",
        "not an object",
        "no jwk",
        "no alg",
        "EdDSA",
        "no x",
        "oct",
        "crv/alg disagree",
        "kty not a string",
        "private part",
    ],
)
def test_cnf_jwk_rules(cnf, code):
    """[SK] "Key Validation": cnf.jwk complete, with a fully-specified alg that agrees with kty/crv."""
    rejects(raw(AGENT_TYP, claims_for(AGENT_TYP, cnf=cnf)), AGENT_TYP, code)


def test_cnf_must_be_the_request_signing_key():
    """[N] "Agent Token Structure" / "Auth Token Verification": cnf.jwk matches the key that signed the request (RFC 7638
    thumbprints, so alg/kid do not matter).  Kit code: invalid_key — the token names
    another key than the one used."""
    token = raw(AGENT_TYP)
    assert check(token, AGENT_TYP, signing_key_jwk=ED_AGENT)
    assert check(token, AGENT_TYP, signing_key_jwk={**ED_AGENT.public_jwk(), "kid": "x", "alg": "Ed25519"})
    rejects(token, AGENT_TYP, "invalid_key", signing_key_jwk=Key.from_seed("someone-else"))


def test_resource_token_binds_agent_jkt():
    """[N] "Resource Token Verification": agent_jkt == thumbprint of the request signing key."""
    token = raw(RESOURCE_TYP, claims_for(RESOURCE_TYP))
    assert check(token, RESOURCE_TYP, signing_key_jwk=ED_AGENT).jkt == ED_AGENT.thumbprint()
    rejects(token, RESOURCE_TYP, "invalid_key", signing_key_jwk=Key.from_seed("someone-else"))


# -- per-type rules ----------------------------------------------------------------------
@pytest.mark.parametrize("claim", ["scope", "account"])
def test_person_token_must_not_carry_scope_or_account(claim):
    """[N] "Person Token Structure": a person token MUST NOT contain scope or account."""
    rejects(raw(PERSON_TYP, claims_for(PERSON_TYP, **{claim: "x"})), PERSON_TYP, "invalid_jwt")


@pytest.mark.parametrize(
    "typ, claim",
    [
        (AGENT_TYP, "sub"),
        (AGENT_TYP, "cnf"),
        (AGENT_TYP, "jti"),
        (AGENT_TYP, "iss"),
        (AGENT_TYP, "dwk"),
        (PERSON_TYP, "aud"),
        (PERSON_TYP, "sub"),
        (PERSON_TYP, "cnf"),
        (RESOURCE_TYP, "ps"),
        (RESOURCE_TYP, "sub"),
        (RESOURCE_TYP, "presented_jti"),
        (RESOURCE_TYP, "agent_jkt"),
        (RESOURCE_TYP, "scope"),
        (RESOURCE_TYP, "aud"),
        (AUTH_TYP, "sub"),
        (AUTH_TYP, "ps"),
        (AUTH_TYP, "cnf"),
        (AUTH_TYP, "aud"),
    ],
)
def test_required_claims(typ, claim):
    """[N] "Agent Token Structure", "Person Token Structure", "Resource Token Structure",
    "Auth Token Structure": the REQUIRED claims of each type (auth tokens:
    sub REQUIRED, replacing -10's "sub or scope")."""
    rejects(raw(typ, claims_for(typ, **{claim: None})), typ, "invalid_jwt")


def test_resource_token_has_no_cnf():
    """[N] "Resource Token Structure": resource tokens carry agent_jkt instead of cnf."""
    rejects(
        raw(RESOURCE_TYP, claims_for(RESOURCE_TYP, cnf={"jwk": ED_AGENT.public_jwk()})),
        RESOURCE_TYP,
        "invalid_jwt",
    )


def test_person_token_jti_is_read_as_presented_jti():
    """The intermediate -11 SDK emits person_token_jti; accepting
    it as presented_jti is harmless and tested here."""
    token = raw(RESOURCE_TYP, claims_for(RESOURCE_TYP, presented_jti=None, person_token_jti="pt-9"))
    assert check(token, RESOURCE_TYP).presented_jti == "pt-9"


@pytest.mark.parametrize(
    "claim, value",
    [
        ("agent_jkt", "short"),
        ("mission_s256", "not+base64url/at-all-and-long-enough-to-be-43c"),
        ("scope", ["a"]),
        ("sub", ""),
        ("jti", 7),
        ("tenant", 1),
        ("interaction", {"url": "https://r.example/i"}),
    ],
)
def test_resource_token_claim_types(claim, value):
    """[N] "Resource Token Structure": agent_jkt / mission_s256 are base64url SHA-256; other claims strings;
    interaction is {url, code}."""
    rejects(raw(RESOURCE_TYP, claims_for(RESOURCE_TYP, **{claim: value})), RESOURCE_TYP, "invalid_jwt")


def test_resource_token_optional_claims():
    token = raw(
        RESOURCE_TYP,
        claims_for(
            RESOURCE_TYP,
            interaction={"url": "https://r.example/i", "code": "AB12"},
            login_hint="alice",
            account="acct-1",
            scope="",
        ),
    )
    assert check(token, RESOURCE_TYP).account == "acct-1"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "assistant@ap.example"},
        {"sub": "aauth:Assistant@AP.example"},
        {"sub": "aauth:assistant+worker@ap.example"},  # '+' without parent_agent: top-level
        {"sub": "aauth:a+worker@ap.example", "parent_agent": "aauth:a+b@ap.example"},  # nested sub-agent
        {"ps": "http://ps.example"},
    ],
    ids=[
        "not aauth:",
        "uppercase domain",
        "top-level with +",
        "parent is a sub-agent",
        "ps not a server identifier",
    ],
)
def test_agent_token_identifier_rules(changes):
    """[N] "Agent Identifiers" / "Agent Token Structure": sub is an agent identifier, top-level ones without '+';
    parent_agent is a top-level agent; ps is a server identifier."""
    rejects(raw(AGENT_TYP, claims_for(AGENT_TYP, **changes)), AGENT_TYP, "invalid_jwt")


def test_subagent_token():
    """[N] "Sub-Agents": a sub-agent token carries parent_agent; its sub may use '+'."""
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, sub="aauth:assistant+w1@ap.example", parent_agent=AGENT_ID))
    assert check(token, AGENT_TYP).parent_agent == AGENT_ID


def test_unknown_claims_are_ignored():
    """[N] extensibility: unknown claims are ignored (even ones other types define)."""
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, scope=5, aud=["x", "y"], future={"a": 1}))
    assert check(token, AGENT_TYP).get("future") == {"a": 1}


def test_token_errors_map_to_parameter_errors():
    """[N] "Token Endpoint Error Codes": the same failure as a body parameter reads
    <invalid|expired>_<param>_token."""
    err = rejects(raw(PERSON_TYP, claims_for(PERSON_TYP, exp=NOW - 1)), PERSON_TYP, "expired_jwt")
    assert err.as_parameter_error("presented").code == "expired_presented_token"
    err = rejects(raw(AGENT_TYP), PERSON_TYP, "invalid_jwt")
    assert err.as_parameter_error("upstream").code == "invalid_upstream_token"
    assert ("signature-error", "error=invalid_jwt") in err.response_headers()


# -- minting rules -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda: mint("aa-session+jwt", ED_ISSUER, claims_for(AGENT_TYP)),
        lambda: mint(AGENT_TYP, ED_ISSUER, [("iss", AP)]),
        lambda: mint(AGENT_TYP, ED_ISSUER.public(), claims_for(AGENT_TYP)),
        lambda: mint(AGENT_TYP, ED_ISSUER, claims_for(AGENT_TYP, dwk=PERSON_DWK)),
        lambda: mint(AGENT_TYP, ED_ISSUER, claims_for(AGENT_TYP, jti=None)),
        lambda: mint_agent_token(ED_ISSUER, iss="https://AP.example", sub=AGENT_ID, cnf=ED_AGENT),
        lambda: mint_agent_token(ED_ISSUER, iss=AP, sub="aauth:a+b@ap.example", cnf=ED_AGENT),
        lambda: mint_agent_token(
            ED_ISSUER,
            iss=AP,
            sub=AGENT_ID,
            cnf={"kty": "OKP", "crv": "Ed25519", "x": ED_AGENT.public_jwk()["x"]},
        ),
        lambda: mint_agent_token(ED_ISSUER, iss=AP, sub=AGENT_ID, cnf=ED_AGENT.private_jwk()),
        lambda: mint_person_token(ED_ISSUER, iss=PS, aud=RES, sub="u", cnf=ED_AGENT, lifetime=3601),
        lambda: mint_person_token(ED_ISSUER, iss=PS, aud=RES, sub="u", cnf=ED_AGENT, extra={"scope": "x"}),
        lambda: mint(PERSON_TYP, ED_ISSUER, claims_for(PERSON_TYP, aud=[RES])),
        lambda: mint_auth_token(ED_ISSUER, iss=PS, aud=RES, ps=PS, sub="u", cnf=ED_AGENT, dwk=AGENT_DWK),
        lambda: mint_auth_token(ED_ISSUER, iss=PS, aud=RES, ps=AS, sub="u", cnf=ED_AGENT),
        lambda: mint_resource_token(
            ED_ISSUER, iss=RES, aud=PS, ps=PS, sub="u", presented_jti="p", agent_jkt="bad", scope="s"
        ),
    ],
    ids=[
        "unknown typ",
        "claims not a dict",
        "public key",
        "dwk of another type",
        "no jti",
        "iss not lowercase",
        "top-level agent with +",
        "cnf.jwk without alg",
        "cnf.jwk with private part",
        "person token over an hour",
        "person token with scope",
        "aud as an array",
        "auth token with agent dwk",
        "PS auth token with foreign ps",
        "malformed agent_jkt",
    ],
)
def test_mint_refuses_what_a_verifier_would_reject(call):
    """Minting applies the verifier's -11 claim rules (UsageError: the caller's mistake).
    The kit emits aud as a string only."""
    with pytest.raises(UsageError):
        call()


def test_mint_never_emits_eddsa():
    """[N] "Signature Algorithms": the kit signs with Ed25519/ES256 only (Key refuses others)."""
    with pytest.raises(UsageError):
        Key.generate("EdDSA")
    assert (
        decode_unverified(mint_agent_token(ED_ISSUER, iss=AP, sub=AGENT_ID, cnf=ED_AGENT)).header["alg"]
        == "Ed25519"
    )


# -- verify_token ------------------------------------------------------------------------
class CountingResolver(KeyResolver):
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    async def metadata(self, issuer, dwk):
        return await self.inner.metadata(issuer, dwk)

    async def key(self, issuer, dwk, kid):
        self.calls.append((issuer, dwk, kid))
        return await self.inner.key(issuer, dwk, kid)


@pytest.fixture
def resolver():
    inner = StaticResolver()
    inner.register_key(AP, AGENT_DWK, ED_ISSUER)
    inner.register_key(PS, PERSON_DWK, ED_ISSUER)
    return CountingResolver(inner)


def verify(token, typ, resolver, **checks):
    return asyncio.run(verify_token(token, typ=typ, resolver=resolver, now=NOW, **checks))


def test_verify_token_selects_by_iss_dwk_kid(resolver):
    assert verify(raw(AGENT_TYP), AGENT_TYP, resolver).sub == AGENT_ID
    assert resolver.calls == [(AP, AGENT_DWK, KID)]


@pytest.mark.parametrize(
    "token, typ",
    [
        (raw(AGENT_TYP), PERSON_TYP),
        (raw(AGENT_TYP, alg="EdDSA"), AGENT_TYP),
        (raw(AGENT_TYP, claims_for(AGENT_TYP, dwk=PERSON_DWK)), AGENT_TYP),
        (raw(AGENT_TYP, claims_for(AGENT_TYP, iss="https://169.254.169.254/x")), AGENT_TYP),
        (raw(AGENT_TYP, claims_for(AGENT_TYP, iss=None)), AGENT_TYP),
        (raw(AGENT_TYP, kid=None), AGENT_TYP),
        (raw(AGENT_TYP, kid=5), AGENT_TYP),
    ],
    ids=["typ", "alg", "dwk", "iss not a server identifier", "no iss", "no kid", "kid not a string"],
)
def test_verify_token_checks_before_fetching(resolver, token, typ):
    """typ, alg, dwk, iss and kid are checked before any key is looked up, so a bad token
    never makes the verifier fetch anything."""
    with pytest.raises(TokenError) as exc:
        verify(token, typ, resolver)
    assert exc.value.code in ("invalid_jwt", "unsupported_algorithm")
    assert resolver.calls == []


def test_verify_token_keeps_discovery_codes(resolver):
    """[SK] "Signature-Error HTTP Response Header": unknown_key / issuer_mismatch from discovery stay those codes, as TokenError."""
    with pytest.raises(TokenError) as exc:
        verify(raw(AGENT_TYP, kid="rotated-away"), AGENT_TYP, resolver)
    assert exc.value.code == "unknown_key"
    resolver.inner.register(RES, RESOURCE_DWK, {"issuer": "https://evil.example", "jwks_uri": RES + "/jwks"})
    with pytest.raises(TokenError) as exc:
        verify(raw(RESOURCE_TYP), RESOURCE_TYP, resolver)
    assert exc.value.code == "issuer_mismatch"
    assert exc.value.as_parameter_error("resource").code == "invalid_resource_token"


def test_verify_token_passes_the_checks_through(resolver):
    with pytest.raises(TokenError) as exc:
        verify(
            raw(PERSON_TYP, claims_for(PERSON_TYP)), PERSON_TYP, resolver, expected_aud="https://x.example"
        )
    assert exc.value.code == "invalid_jwt"


# -- presented token cross-checks --------------------------------------------------------
def _pair(rt_changes=None, presented_typ=PERSON_TYP, presented_changes=None):
    presented_claims = claims_for(presented_typ, jti="pt-1", **(presented_changes or {}))
    presented = check(raw(presented_typ, presented_claims), presented_typ)
    resource_token = check(raw(RESOURCE_TYP, claims_for(RESOURCE_TYP, **(rt_changes or {}))), RESOURCE_TYP)
    return resource_token, presented


def test_presented_person_token_matches():
    """[N] "Resource Token Verification": the PS checks the presented token against the resource token."""
    assert check_presented_token(*_pair()) is None
    both = {"mission_s256": MISSION, "tenant": "acme"}
    assert check_presented_token(*_pair(both, presented_changes=both)) is None


def test_presented_auth_token_step_up():
    """[N] "Deferred Delivery" step-up: the presented token is an auth token; its ps (not iss) names the PS."""
    rt, presented = _pair(presented_typ=AUTH_TYP, presented_changes={"iss": AS, "dwk": ACCESS_DWK})
    assert check_presented_token(rt, presented) is None


@pytest.mark.parametrize(
    "rt_changes, presented_changes",
    [
        ({"presented_jti": "pt-2"}, {}),
        ({"ps": "https://ps2.example"}, {}),
        ({}, {"aud": "https://other.example"}),
        ({"sub": "pairwise-2"}, {}),
        ({}, {"mission_s256": MISSION}),  # mission stripped by the resource
        ({"mission_s256": MISSION}, {}),  # mission added by the resource
        ({"mission_s256": MISSION}, {"mission_s256": b64url(b"\x02" * 32)}),
        ({}, {"tenant": "acme"}),
        ({"agent_jkt": Key.from_seed("other-agent").thumbprint()}, {}),
    ],
    ids=[
        "jti",
        "ps",
        "aud",
        "sub",
        "mission stripped",
        "mission added",
        "mission differs",
        "tenant stripped",
        "agent_jkt",
    ],
)
def test_presented_token_mismatches(rt_changes, presented_changes):
    """[N] "Resource Token Verification": jti == presented_jti; iss/ps == ps; aud == resource iss; sub,
    mission_s256, tenant equal with absence counting; cnf thumbprint == agent_jkt."""
    with pytest.raises(AAuthError) as exc:
        check_presented_token(*_pair(rt_changes, presented_changes=presented_changes))
    assert exc.value.code == "invalid_presented_token" and exc.value.status == 400


def test_presented_token_must_be_person_or_auth():
    rt = check(raw(RESOURCE_TYP), RESOURCE_TYP)
    agent = check(raw(AGENT_TYP, claims_for(AGENT_TYP, jti="pt-1")), AGENT_TYP)
    with pytest.raises(AAuthError) as exc:
        check_presented_token(rt, agent)
    assert exc.value.code == "invalid_presented_token"


# -- confirmation_key (offline inspection for the CLI) ----------------------------------
def test_confirmation_key():
    assert confirmation_key(jwt_key(raw(AGENT_TYP))).thumbprint() == ED_AGENT.thumbprint()
    with pytest.raises(TokenError):
        confirmation_key(jwt_key("not.a.jwt"))
    no_alg = raw(
        AGENT_TYP,
        claims_for(AGENT_TYP, cnf={"jwk": {"kty": "OKP", "crv": "Ed25519", "x": ED_AGENT.public_jwk()["x"]}}),
    )
    with pytest.raises(TokenError) as exc:
        confirmation_key(jwt_key(no_alg))
    assert exc.value.code == "unsupported_algorithm"
    bad_x = raw(
        AGENT_TYP,
        claims_for(AGENT_TYP, cnf={"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "alg": "Ed25519"}}),
    )
    with pytest.raises(TokenError) as exc:
        confirmation_key(jwt_key(bad_x))
    assert exc.value.code == "invalid_key"


# -- aauth-go vectors --------------------------------------------------------------------
JWT_VECTORS = {case["name"]: case for case in load_vector("aauth-go/jwt.json")["cases"]}
GO_NOW = 1_767_225_700  # after the agent/resource tokens' iat 1767225600
PERSON_NOW = 1_730_219_000  # inside the person token's iat 1730217600 .. exp 1730221200
AUTH_NOW = 4_102_443_100  # inside the auth token's iat 4102443000 .. exp 4102446600


def go_case(name):
    case = JWT_VECTORS[name]
    return case, Key.from_jwk(case["signing_key"]).public()


@pytest.mark.parametrize(
    "name", ["agent token", "sub-agent token", "resource token", "auth token", "person token"]
)
def test_go_ed25519_tokens_are_byte_exact(name):
    """Ed25519 is deterministic: signing the vector's header and claims reproduces the
    token byte for byte (the kit's header order alg, kid, typ is aauth-go's)."""
    case = JWT_VECTORS[name]
    key = Key.from_jwk(case["signing_key"])
    header = {"alg": "Ed25519", "kid": case["kid"], "typ": case["typ"]}
    assert sign_compact(header, case["claims"], key) == case["token"]
    if case["typ"] == AGENT_TYP:  # -11-shaped, so the rule-checking minter agrees too
        assert mint(AGENT_TYP, key, case["claims"], kid=case["kid"]) == case["token"]


@pytest.mark.parametrize("name", ["agent token", "sub-agent token", "agent token (ES256)"])
def test_go_agent_tokens_verify(name):
    """aauth-go agent tokens are -11 shaped ([N] "Agent Token Structure"): accepted."""
    case, key = go_case(name)
    verified = check_token(case["token"], typ=AGENT_TYP, key=key, now=GO_NOW)
    assert verified.sub == case["claims"]["sub"]
    assert verified.jkt == jwk_thumbprint(case["claims"]["cnf"]["jwk"]) == case["kid"]


def test_go_person_token_verifies_at_pinned_time():
    """aauth-go person token: -11 shaped except aud is a one-element array, which the kit
    accepts (RFC 7519 §4.1.3).  Valid inside iat..exp, expired_jwt at exp."""
    case, key = go_case("person token")
    verified = check_token(
        case["token"], typ=PERSON_TYP, key=key, now=PERSON_NOW, expected_aud=case["audience"]
    )
    assert (verified.aud, verified.mission_s256) == (case["audience"], case["claims"]["mission_s256"])
    with pytest.raises(TokenError) as exc:
        check_token(case["token"], typ=PERSON_TYP, key=key, now=case["claims"]["exp"])
    assert exc.value.code == "expired_jwt"


@pytest.mark.parametrize(
    "name, typ, now", [("resource token", RESOURCE_TYP, GO_NOW), ("auth token", AUTH_TYP, AUTH_NOW)]
)
def test_go_resource_and_auth_tokens_are_09_shaped(name, typ, now):
    """aauth-go's resource and auth tokens are -09 shaped: an `agent` claim and no `ps`.
    Their signatures verify, but [N] "Resource Token Structure" / "Auth Token Structure" REQUIRE `ps` (and for resource tokens
    `sub` and `presented_jti`); -11 removed `agent`.  So -11 rejects them: invalid_jwt."""
    case, key = go_case(name)
    decoded = decode_unverified(case["token"])
    assert key.verify(decoded.signature, decoded.signing_input)
    with pytest.raises(TokenError) as exc:
        check_token(case["token"], typ=typ, key=key, now=now, expected_aud=case.get("audience"))
    assert exc.value.code == "invalid_jwt" and "requires the claim ps" in exc.value.detail


GO_REJECTS = {
    "JWS alg EdDSA is rejected": (
        "unsupported_algorithm",
        "[N] 'Signature Algorithms': EdDSA is polymorphic, forbidden since -10",
    ),
    "JWS alg none is rejected": (
        "unsupported_algorithm",
        "RFC 8725 §3.1 / [N]: unsigned tokens are never accepted",
    ),
    "cnf.jwk without alg is rejected": (
        "unsupported_algorithm",
        "[SK] 'Key Validation': a conveyed JWK without alg",
    ),
    "cnf.jwk crv disagreeing with alg is rejected": (
        "invalid_key",
        "[SK] 'Key Validation': kty/crv must agree with alg",
    ),
    "iat absent is rejected": ("invalid_jwt", "[N] 'Agent Token Structure': iat REQUIRED"),
    "iss not a server identifier is rejected": ("invalid_jwt", "[N] 'Server Identifiers': lowercase host"),
    "person token carrying scope is rejected": (
        "invalid_jwt",
        "[N] 'Person Token Structure': no scope/account in person tokens",
    ),
}


@pytest.mark.parametrize("name", sorted(GO_REJECTS), ids=lambda n: f"{n}: {GO_REJECTS[n][1]}")
def test_go_reject_vectors(name):
    """aauth-go reject cases: -11 rejects each one too, with the Signature-Error code the
    kit assigns (the Go reason is stated per case in the vector)."""
    case, key = go_case(name)
    now = PERSON_NOW if case["typ"] == PERSON_TYP else GO_NOW
    with pytest.raises(TokenError) as exc:
        check_token(case["token"], typ=case["typ"], key=key, now=now, expected_aud=case.get("audience"))
    assert exc.value.code == GO_REJECTS[name][0], exc.value.detail


@pytest.mark.parametrize(
    "case", load_vector("aauth-go/jwk-thumbprint.json")["cases"], ids=lambda c: c["name"]
)
def test_go_thumbprints(case):
    """RFC 7638: thumbprints cover required members only (alg, kid, use excluded),
    which is what agent_jkt and cnf binding compare."""
    assert jwk_thumbprint(case["jwk"]) == case["thumbprint"]
    token = raw(AGENT_TYP, claims_for(AGENT_TYP, cnf={"jwk": {**case["jwk"], "alg": "Ed25519"}}))
    assert check(token, AGENT_TYP).jkt == case["thumbprint"]
