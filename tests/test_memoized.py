"""The memoized paths give exactly the answers of the full ones (the caches that
make signing and verifying fast must never change a result).

[N] = draft-hardt-oauth-aauth-protocol-11 token verification ("Agent Token Verification" …); RFC 9421 §2.5
(signature base), RFC 9651 (structured fields), RFC 9530 §2 (Content-Digest).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import http_sfv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth_kit import httpsig, structured, tokens
from aauth_kit.claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from aauth_kit.components import component, component_value
from aauth_kit.digest import check_content_digest, content_digest
from aauth_kit.errors import SignatureError, TokenError
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key, jwk_thumbprint
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, well_known_url
from aauth_kit.token_verification import check_token

NOW = 1_770_000_000
AP = "https://ap.example"
AP_JWKS = f"{AP}/jwks.json"
AGENT_ID = "aauth:assistant@ap.example"
ISSUER = Key.from_seed("memo-issuer", kid="i1")
AGENT = Key.from_seed("memo-agent")


def run(coro):
    return asyncio.run(coro)


# -- structured fields (RFC 9651) -------------------------------------------------------------
@pytest.mark.parametrize(
    "value", [1, True, False, "a", http_sfv.Token("a"), b"\x00\xff", Decimal("1.5"), "@method"]
)
def test_item_text_is_http_sfv_serialization_and_keeps_types_apart(value):
    """RFC 9651 §4.1.3: 1 and ?1, "a" and the token a serialize differently, cached or not."""
    item = http_sfv.Item(value)
    item.params["p"] = value
    assert structured.item_text(item) == str(item)
    assert structured.item_text(item) == str(item)  # the second answer comes from the cache


@pytest.mark.parametrize("data", [b"", b"\x00", bytes(range(256)), b"\xff" * 64])
def test_byteseq_text_is_http_sfv_serialization(data):
    """RFC 9651 §4.1.8: a Byte Sequence is ``:`` base64 ``:``, the same as an Item's."""
    assert structured.byteseq_text(data) == str(http_sfv.Item(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_byteseq_text_is_http_sfv_serialization_for_any_bytes(data):
    assert structured.byteseq_text(data) == str(http_sfv.Item(data))


@pytest.mark.parametrize(
    "components",
    [
        ["@method", "content-type", "x-multi"],
        ["x-multi", "@path", "content-type"],
    ],
)
def test_plain_fields_take_the_same_value_as_component_value(components):
    """RFC 9421 §2.1: the base's fast path for parameter-less fields gives exactly
    :func:`components.component_value`'s line (trimmed, several lines joined by ", ")."""
    message = HttpMessage(
        "POST",
        "https://r.example/p",
        [("Content-Type", " application/json "), ("X-Multi", "a"), ("x-multi", " b ")],
        b"{}",
    )
    items = [component(name) for name in components]
    covered = httpsig.Covered.of(items)
    assert all(covered.plain[i] == (not name.startswith("@")) for i, name in enumerate(components))
    base = httpsig._signature_base(message, covered, covered.text)
    expected = [f"{structured.item_text(item)}: {component_value(message, item)}" for item in items]
    assert base.split("\n")[:-1] == expected


def test_a_repeated_component_is_found_once_per_list():
    """RFC 9421 §2.5: a list covering an identifier twice is refused, whatever the message."""
    covered = httpsig.Covered.of([component("@method"), component("@path"), component("@method")])
    assert covered.repeated == '"@method"'
    with pytest.raises(SignatureError) as caught:
        httpsig._signature_base(HttpMessage("GET", "https://r.example/"), covered, covered.text)
    assert caught.value.code == "invalid_input"
    sf = httpsig.Covered.of([component("content-type"), component("content-type", sf=True)])
    assert sf.repeated is None and sf.plain == (True, False)  # ;sf names another component


def test_params_text_is_http_sfv_serialization_in_order():
    params = {"created": 1, "alg": "ed25519", "flag": True, "keyid": "k"}
    expected = http_sfv.InnerList()
    expected.params.update(params)
    assert structured.params_text(params) == str(expected.params) == ';created=1;alg="ed25519";flag;keyid="k"'
    assert structured.params_text({}) == ""


def test_a_malformed_value_fails_every_time():
    """A parse error is never cached as a value."""
    for _ in range(2):
        with pytest.raises(ValueError):
            structured.parse(http_sfv.Dictionary, "sig=(")
    with pytest.raises(ValueError):
        structured.member_text("Bad Label", "(1)")  # RFC 9651 §4.1.1.3: keys are lower case


# -- signing and verifying (RFC 9421) ------------------------------------------------------------
def request(body=b'{"a":1}') -> HttpMessage:
    return HttpMessage("POST", "https://res.example/x?y=1", [("Content-Type", "application/json")], body)


def test_names_and_items_sign_the_same_base():
    """RFC 9421 §2.5: the base is the same whether the components come as names (cached) or items."""
    names = ["@method", "@authority", "@path", "@query", "content-type"]
    by_name = httpsig.sign(request(), AGENT, names, created=NOW)
    by_item = httpsig.sign(request(), AGENT, [component(n) for n in names], created=NOW)
    assert by_name.base == by_item.base and by_name.signature_input == by_item.signature_input
    params = httpsig.signature_params([component(n) for n in names], {"created": NOW})
    assert by_name.signature_input == f"sig={params}"
    assert by_name.base.endswith(f'"@signature-params": {params}')


def test_a_repeated_signature_input_is_checked_every_time():
    """RFC 9421 §3.2: a Signature-Input whose member is bad is refused on every request, cached or not."""
    message = request()
    httpsig.attach(message, httpsig.sign(message, AGENT, ["@method", "@path"], created=NOW))
    message.set_header("Signature-Input", 'sig=("@method" 1);created=1')
    for _ in range(2):
        with pytest.raises(SignatureError) as exc:
            httpsig.read_signature(message)
        assert exc.value.code == "invalid_signature"


BODY = b'{"a":1}'


@pytest.mark.parametrize(
    "value, ok",
    [
        (content_digest(BODY), True),  # the canonical form: no parse needed
        (content_digest(b"{}", "sha-512"), False),
        (content_digest(BODY) + ",  unknown=:AA==:", True),  # not canonical: parsed
        (content_digest(BODY, "sha-512") + ", " + content_digest(BODY), True),
        ("sha-256=:AAAA:", False),
    ],
)
def test_content_digest_fast_path_agrees_with_the_parse(value, ok):
    """RFC 9530 §2: the value that equals the kit's own serialization is accepted without a
    parse; everything else is parsed and checked as before."""
    if ok:
        check_content_digest(value, BODY)
    else:
        with pytest.raises(SignatureError):
            check_content_digest(value, BODY)


# -- tokens: a verified token is remembered, the clock is not --------------------------------------
def agent_token(**changes) -> str:
    claims = {"iss": AP, "sub": AGENT_ID, "cnf": AGENT, "iat": NOW - 10, "exp": NOW + 600, **changes}
    return tokens.mint_agent_token(ISSUER, **claims)


def test_a_token_checked_again_is_the_same_verified_token():
    token = agent_token(jti="memo-1")
    first = check_token(token, typ=AGENT_TYP, key=ISSUER.public(), now=NOW)
    again = check_token(token, typ=AGENT_TYP, key=ISSUER.public(), now=NOW + 1)
    assert again is first
    assert again.cnf_key is first.cnf_key  # the confirmation key is built once


def test_a_remembered_token_still_expires():
    """[N] "Person Token Verification" step 3: exp is checked on every presentation, no tolerance."""
    token = agent_token(jti="memo-2")
    check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW)
    with pytest.raises(TokenError) as exc:
        check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW + 600)
    assert exc.value.code == "expired_jwt"


def test_a_remembered_token_is_checked_for_iat_skew():
    token = agent_token(jti="memo-3", iat=NOW + 30, exp=NOW + 600)
    check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW)
    with pytest.raises(TokenError) as exc:
        check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW, iat_window=5)
    assert exc.value.code == "clock_skew"


def test_a_remembered_token_is_not_taken_for_other_expectations():
    """Another audience, PS, type or issuer key is a different question: asked in full."""
    person = tokens.mint_person_token(
        ISSUER,
        iss="https://ps.example",
        aud="https://res.example",
        sub="p",
        cnf=AGENT,
        iat=NOW,
        exp=NOW + 60,
        jti="memo-4",
    )
    check_token(person, typ=PERSON_TYP, key=ISSUER, now=NOW, expected_aud="https://res.example")
    with pytest.raises(TokenError) as exc:
        check_token(person, typ=PERSON_TYP, key=ISSUER, now=NOW, expected_aud="https://other.example")
    assert exc.value.code == "invalid_jwt"
    with pytest.raises(TokenError):
        check_token(person, typ=AUTH_TYP, key=ISSUER, now=NOW)
    with pytest.raises(TokenError) as exc:
        check_token(person, typ=PERSON_TYP, key=Key.from_seed("someone else"), now=NOW)
    assert exc.value.code == "invalid_jwt"


def test_a_remembered_token_still_checks_the_key_binding():
    """[N]: the request must be signed by cnf.jwk, whoever presents the remembered token."""
    token = agent_token(jti="memo-5")
    check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW, signing_key_jwk=AGENT)
    with pytest.raises(TokenError) as exc:
        check_token(token, typ=AGENT_TYP, key=ISSUER, now=NOW, signing_key_jwk=ISSUER)
    assert exc.value.code == "invalid_key"


def test_hostile_token_values_are_invalid_jwt_not_type_errors():
    for value in (None, 7, ["a.b.c"], {"jwt": 1}):
        with pytest.raises(TokenError) as exc:
            check_token(value, typ=AGENT_TYP, key=ISSUER, now=NOW)
        assert exc.value.code == "invalid_jwt"


# -- keys: discovery caches Key objects, not stale ones ------------------------------------------------
class Web:
    def __init__(self):
        self.now = 0.0
        self.routes = {}

    def serve(self, url, value, max_age=60):
        self.routes[url] = (200, {"cache-control": f"max-age={max_age}"}, json.dumps(value).encode())

    async def fetch(self, url):
        return self.routes[url]


def test_discovered_keys_are_reused_until_the_jwks_is_fetched_again():
    web = Web()
    web.serve(well_known_url(AP, AGENT_DWK), {"issuer": AP, "jwks_uri": AP_JWKS})
    web.serve(AP_JWKS, jwks([ISSUER]))
    resolver = HttpResolver(web.fetch, clock=lambda: web.now)
    first = run(resolver.key(AP, AGENT_DWK, "i1"))
    assert run(resolver.key(AP, AGENT_DWK, "i1")) is first
    assert first.thumbprint() == jwk_thumbprint(ISSUER.public_jwk(kid=False))
    rotated = Key.from_seed("rotated", kid="i1")
    web.serve(AP_JWKS, jwks([rotated]))
    web.now += 61  # both cached documents expire: the new JWKS is read and its key used
    assert run(resolver.key(AP, AGENT_DWK, "i1")).thumbprint() == rotated.thumbprint()


def test_a_refetched_document_is_validated_again():
    """[N] "Metadata Documents": issuer must equal the identifier, on every fetch."""
    web = Web()
    web.serve(well_known_url(AP, AGENT_DWK), {"issuer": AP, "jwks_uri": AP_JWKS})
    web.serve(AP_JWKS, jwks([ISSUER]))
    resolver = HttpResolver(web.fetch, clock=lambda: web.now)
    run(resolver.key(AP, AGENT_DWK, "i1"))
    web.serve(well_known_url(AP, AGENT_DWK), {"issuer": "https://evil.example", "jwks_uri": AP_JWKS})
    web.now += 61
    with pytest.raises(SignatureError) as exc:
        run(resolver.key(AP, AGENT_DWK, "i1"))
    assert exc.value.code == "issuer_mismatch"


@pytest.mark.parametrize(
    "params", [{"jwt": "a.b.c"}, {"jwt": "a.b.c", "cache": True}, {"kty": "OKP", "crv": "Ed25519", "x": "AA"}]
)
def test_signature_key_member_is_http_sfv_serialization_cached_or_not(params):
    """Signature Keys -09 "Signature-Key HTTP Request Header": a member is ``label=scheme;params`` — the memoized
    serialization is exactly http-sfv's, and a boolean stays ``;cache`` (never ``=1``)."""
    from aauth_kit.signature_key import SignatureKey, parse_signature_key

    key = SignatureKey("sig", "jwt" if "jwt" in params else "hwk", dict(params))
    item = http_sfv.Item(http_sfv.Token(key.scheme))
    item.params.update(params)
    expected = f"sig={item}"
    assert key.to_member() == key.to_member() == expected
    assert parse_signature_key(key.to_member(), "sig") == key
    assert (
        SignatureKey("sig", "hwk", {"cache": 1}).to_member()
        != SignatureKey("sig", "hwk", {"cache": True}).to_member()
    )
