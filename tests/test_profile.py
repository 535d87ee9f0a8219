"""The AAuth signing profile end to end: -11 "Verification (Server)" steps 1-7 with key
resolution (step 5) for every Signature-Key scheme the kit implements.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

import asyncio
import base64

import pytest

from aauth_kit import httpsig, structured
from aauth_kit.claims import AGENT_TYP, AUTH_TYP
from aauth_kit.errors import SignatureError
from aauth_kit.jwks import StaticResolver
from aauth_kit.jws import sign_compact
from aauth_kit.keys import Key, b64url, jwk_thumbprint
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK
from aauth_kit.profile import sign_request, verify_request
from aauth_kit.signature_key import hwk_key, jkt_jwt_key, jwks_uri_key, jwt_key
from aauth_kit.tokens import mint_agent_token, mint_auth_token

NOW = 1_770_000_000
AP = "https://ap.example"
PS = "https://ps.example"
RES = "https://resource.example"

ap_key = Key.from_seed("ap", kid="ap-1")
ps_key = Key.from_seed("ps", kid="ps-1")
agent_key = Key.from_seed("agent")
other_key = Key.from_seed("other")


def _resolver():
    resolver = StaticResolver()
    resolver.register_key(AP, AGENT_DWK, ap_key)
    resolver.register_key(PS, PERSON_DWK, ps_key)
    return resolver


def _agent_token(**overrides):
    args = dict(iss=AP, sub="aauth:assistant@ap.example", cnf=agent_key, iat=NOW - 10, exp=NOW + 3600)
    args.update(overrides)
    return mint_agent_token(ap_key, **args)


def _request(signature_key, key=agent_key, *, created=NOW, body=b""):
    message = HttpMessage(
        "POST" if body else "GET", "https://resource.example/data", [("Host", "resource.example")], body
    )
    sign_request(message, key, signature_key, created=created)
    return message


def _verify(message, **options):
    options.setdefault("resolver", _resolver())
    options.setdefault("now", NOW)
    return asyncio.run(verify_request(message, **options))


def _code(message, **options):
    with pytest.raises(SignatureError) as info:
        _verify(message, **options)
    return info.value.code


def test_agent_token_request_verifies_and_names_the_agent():
    # [N] "Verification (Server)" step 5: the jwt scheme's key is the token's cnf.jwk
    verified = _verify(_request(jwt_key(_agent_token())))
    assert verified.scheme == "jwt"
    assert verified.token.typ == AGENT_TYP
    assert verified.token.sub == "aauth:assistant@ap.example"
    assert verified.key.thumbprint() == agent_key.thumbprint()


def test_request_signed_by_a_key_other_than_cnf_is_invalid_signature():
    # [N] step 7: the signature must verify with cnf.jwk
    assert _code(_request(jwt_key(_agent_token()), key=other_key)) == "invalid_signature"


def test_expired_agent_token_is_expired_jwt():
    # [N] "Agent Token Verification": exp with no tolerance
    token = _agent_token(iat=NOW - 3600, exp=NOW)
    assert _code(_request(jwt_key(token))) == "expired_jwt"


def test_token_from_an_unknown_issuer_is_invalid_key():
    token = mint_agent_token(
        other_key,
        iss="https://rogue.example",
        sub="aauth:x@rogue.example",
        cnf=agent_key,
        iat=NOW,
        exp=NOW + 60,
        kid="r",
    )
    assert _code(_request(jwt_key(token))) == "invalid_key"


def test_token_signed_with_a_substituted_key_is_invalid_jwt():
    # same iss and kid, but the AP's published key did not sign it
    token = mint_agent_token(
        other_key, iss=AP, sub="aauth:assistant@ap.example", cnf=agent_key, iat=NOW, exp=NOW + 60, kid="ap-1"
    )
    assert _code(_request(jwt_key(token))) == "invalid_jwt"


def test_token_types_limit_what_an_endpoint_accepts():
    # a resource that wants an auth token refuses the agent token before fetching keys
    message = _request(jwt_key(_agent_token()))
    assert _code(message, token_types=(AUTH_TYP,)) == "invalid_jwt"


def test_auth_token_audience_is_checked():
    # [N] "Auth Token Verification": aud == the resource's own identifier
    token = mint_auth_token(
        ps_key, iss=PS, aud=RES, ps=PS, sub="person-1", cnf=agent_key, iat=NOW, exp=NOW + 600
    )
    assert _verify(_request(jwt_key(token)), expected_aud=RES).token.aud == RES
    assert _code(_request(jwt_key(token)), expected_aud="https://elsewhere.example") == "invalid_jwt"


def test_jwks_uri_scheme_uses_the_servers_published_key():
    # [SK] "JWKS URI Discovery (jwks_uri)": servers signing in their own right
    message = _request(jwks_uri_key(PS, PERSON_DWK, "ps-1"), key=ps_key)
    verified = _verify(message, accept_schemes=("jwks_uri",))
    assert verified.scheme == "jwks_uri" and verified.token is None
    assert (
        _code(_request(jwks_uri_key(PS, PERSON_DWK, "nope"), key=ps_key), accept_schemes=("jwks_uri",))
        == "unknown_key"
    )


def test_jwks_uri_with_a_non_server_identifier_is_invalid_key():
    message = _request(jwks_uri_key("http://ps.example/", PERSON_DWK, "ps-1"), key=ps_key)
    assert _code(message, accept_schemes=("jwks_uri",)) == "invalid_key"


def test_hwk_is_refused_by_default_and_names_the_accepted_scheme():
    # [N] "Signature-Key Scheme Rejection": AAuth itself does not accept hwk
    with pytest.raises(SignatureError) as info:
        _verify(_request(hwk_key(agent_key)))
    assert info.value.code == "unsupported_scheme"
    assert info.value.accept_schemes == ["jwt"]
    assert _verify(_request(hwk_key(agent_key)), accept_schemes=("hwk",)).scheme == "hwk"


def _jkt_jwt(enclave: Key, ephemeral: Key, *, exp=NOW + 300, iss=None, typ="jkt-s256+jwt"):
    header = {"typ": typ, "alg": enclave.alg, "jwk": enclave.public_jwk(kid=False)}
    payload = {
        "iss": iss or f"urn:jkt:sha-256:{jwk_thumbprint(enclave.public_jwk(kid=False))}",
        "iat": NOW,
        "exp": exp,
        "cnf": {"jwk": ephemeral.public_jwk(kid=False)},
    }
    return sign_compact(header, payload, enclave)


def test_jkt_jwt_binds_an_ephemeral_key_to_an_enclave_key():
    # [SK] "JKT JWT Self-Issued Key Delegation (jkt-jwt)": iss is the thumbprint of the header jwk; the request key is cnf.jwk
    enclave = Key.from_seed("enclave")
    verified = _verify(_request(jkt_jwt_key(_jkt_jwt(enclave, agent_key))), accept_schemes=("jkt-jwt",))
    assert verified.key.thumbprint() == agent_key.thumbprint()
    assert verified.token["iss"].startswith("urn:jkt:sha-256:")


@pytest.mark.parametrize(
    "tamper, code",
    [
        (dict(iss="urn:jkt:sha-256:AAAA"), "invalid_jwt"),
        (dict(exp=NOW), "expired_jwt"),
        (dict(typ="jwt"), "invalid_jwt"),
    ],
)
def test_jkt_jwt_rejections(tamper, code):
    token = _jkt_jwt(Key.from_seed("enclave"), agent_key, **tamper)
    assert _code(_request(jkt_jwt_key(token)), accept_schemes=("jkt-jwt",)) == code


def test_jkt_jwt_signed_by_another_key_than_its_header_jwk():
    enclave, impostor = Key.from_seed("enclave"), Key.from_seed("impostor")
    token = _jkt_jwt(enclave, agent_key)
    head, payload, _ = token.split(".")
    forged = f"{head}.{payload}.{b64url(impostor.sign(f'{head}.{payload}'.encode()))}"
    assert _code(_request(jkt_jwt_key(forged)), accept_schemes=("jkt-jwt",)) == "invalid_jwt"


def test_old_created_is_refused_before_any_key_is_fetched():
    class Exploding(StaticResolver):
        async def key(self, *args):
            raise AssertionError("step 3 must fail before step 5 resolves keys")

    message = _request(jwt_key(_agent_token()), created=NOW - 61)
    assert _code(message, resolver=Exploding()) == "invalid_signature"


def test_body_to_a_ps_endpoint_must_cover_content_digest():
    # [N] profile: a body sent to a PS covers content-type and content-digest
    message = HttpMessage("POST", "https://ps.example/token", [("Host", "ps.example")], b'{"a":1}')
    sign_request(message, agent_key, jwt_key(_agent_token()), created=NOW, cover_body=False)
    with pytest.raises(SignatureError) as info:
        _verify(message, body_required=True)
    assert info.value.code == "invalid_input"
    assert "content-digest" in info.value.required_input
    signed = _request(jwt_key(_agent_token()), body=b'{"a":1}')
    assert _verify(signed, body_required=True).scheme == "jwt"


def test_tampered_body_fails_the_digest_check():
    message = _request(jwt_key(_agent_token()), body=b'{"scope":"read"}')
    message.body = b'{"scope":"admin"}'
    assert _code(message, body_required=True) == "invalid_signature"


def _with_alg_parameter(message, alg, key=agent_key):
    """Re-sign ``message`` with an ``alg`` signature parameter the kit's signer never sends."""
    covered = httpsig.read_signature(message).params.data
    params = {"created": NOW, "alg": alg}
    raw = key.sign(httpsig.signature_base(message, httpsig.signature_params(covered, params)).encode())
    inner = httpsig.Covered.of(covered).text + structured.params_text(params)
    message.set_header("Signature-Input", f"sig={inner}")
    message.set_header("Signature", f"sig=:{base64.b64encode(raw).decode()}:")
    return message


@pytest.mark.parametrize(
    "alg", ["ecdsa-p256-sha256", "rsa-pss-sha512", "hmac-sha256", "not-an-alg", "ed25519"]
)
def test_c1_alg_signature_parameter_is_ignored(alg):
    # [N] "Signature Parameters": verifiers MUST ignore an alg parameter (RFC 9421 §3.3.7); the
    # algorithm is the key's alg ([N] "Signature Algorithms", Signature Keys -09 "Algorithm Determination")
    message = _with_alg_parameter(_request(jwt_key(_agent_token())), alg)
    assert f'alg="{alg}"' in message.header("Signature-Input")
    verified = _verify(message)
    assert verified.key.thumbprint() == agent_key.thumbprint()
    assert f'alg="{alg}"' in verified.base


def test_c1_alg_parameter_does_not_rescue_a_wrong_key():
    # the key decides: an alg naming the forger's algorithm changes nothing
    message = _with_alg_parameter(_request(jwt_key(_agent_token())), "ecdsa-p256-sha256", key=other_key)
    assert _code(message) == "invalid_signature"


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": ["OKP"], "crv": "Ed25519", "x": "AA"},
        {"kty": {"a": 1}},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "alg": ["Ed25519"]},
    ],
)
def test_jwk_members_of_the_wrong_json_type_are_kit_errors(jwk):
    # [N] "Signature Algorithms": a malformed conveyed key is invalid_key / unsupported_algorithm, never a TypeError
    from aauth_kit.keys import check_jwk

    with pytest.raises(SignatureError) as info:
        check_jwk(jwk)
    assert info.value.code in ("invalid_key", "unsupported_algorithm")
