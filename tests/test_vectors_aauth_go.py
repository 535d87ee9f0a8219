"""The aauth-go vectors not exercised elsewhere: ``http-signature.json`` and
``signature-key.json`` (``tests/vectors/aauth-go``; source, version, license and caveats in
``tests/vectors/README.md``).  The other seven files are exercised beside the code they check:
``signature-error.json`` and ``requirement.json`` in test_headers, the two identifier
files in test_identifiers, ``metadata.json`` in test_metadata, ``jwt.json`` and
``jwk-thumbprint.json`` in test_tokens — :func:`test_every_vector_file_is_exercised`
keeps that true.

Each case is one test id naming the draft rule it applies.  [N] =
draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
aauth-go tracks -09 with -11 parts; where a vector and -11 part ways the difference is
asserted and explained.
"""

import asyncio
from pathlib import Path

import pytest

from aauth_kit import httpsig
from aauth_kit.digest import content_digest
from aauth_kit.errors import SignatureError
from aauth_kit.jwks import StaticResolver
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import check_profile, verify_request, verify_with_key
from aauth_kit.signature_key import parse_signature_key

from .conftest import VECTORS, load_vector

HTTP_SIGNATURE = load_vector("aauth-go/http-signature.json")["cases"]
SIGNATURE_KEY = load_vector("aauth-go/signature-key.json")["cases"]
#: The vectors' pinned clock: every signature has ``created=1791275737``.
CREATED = 1791275737


def test_every_vector_file_is_exercised():
    """Each aauth-go file is named by at least one test module."""
    tests = Path(__file__).parent
    sources = "".join(path.read_text() for path in tests.glob("test_*.py"))
    for vector in sorted((VECTORS / "aauth-go").glob("*.json")):
        assert f"aauth-go/{vector.name}" in sources, vector.name


# -- http-signature.json ------------------------------------------------------------------
#: The draft rule each http-signature case applies.
HTTP_RULES = {
    "GET with agent token": "[N] profile: @method @authority @path signature-key covered, Ed25519",
    "POST with body covers content-digest": "RFC 9530 + [N] profile: the body is bound by content-digest",
    "POST with body, ES256 key": "RFC 9421 §3.3.4: ES256 signatures are raw r||s",
    "tampered path fails": "[N] verification step 7: a covered @path changed -> invalid_signature",
    "tampered body fails": "RFC 9530: the recomputed digest differs -> invalid_signature",
    "swapped Signature-Key fails": '[N] "Covered Components": signature-key is covered; changing it -> invalid_signature',
}


def vector_message(case: dict) -> HttpMessage:
    """The signed request of a case, with its tamper applied (empty strings mean unchanged)."""
    request, tamper = case["request"], case.get("tamper", {})
    method = tamper.get("method") or request["method"]
    url = tamper.get("url") or request["url"]
    body = (tamper.get("body") or request.get("body", "")).encode()
    headers = {**request["headers"], **case["signed"], **tamper.get("headers", {})}
    return HttpMessage(method, url, [("Host", url.split("/")[2]), *headers.items()], body)


def vector_key(case: dict) -> Key:
    return Key.from_jwk({name: value for name, value in case["signing_key"].items() if name != "d"})


@pytest.mark.parametrize("case", HTTP_SIGNATURE, ids=lambda c: f"{c['name']}: {HTTP_RULES[c['name']]}")
def test_http_signature_vectors(case):
    """Verified with the signing key at the pinned clock; accept cases are valid, tamper
    cases fail with ``invalid_signature``.  The vectors send ``keyid`` = the RFC 7638
    thumbprint, which [N] allows when it names the same key."""
    message = vector_message(case)
    key = vector_key(case)
    if "tamper" not in case:
        verified = verify_with_key(message, key, now=CREATED)
        assert verified.key.thumbprint() == case["signing_key"]["kid"]
    else:
        with pytest.raises(SignatureError) as info:
            verify_with_key(message, key, now=CREATED)
        assert info.value.code == "invalid_signature"


@pytest.mark.parametrize(
    "case",
    [c for c in HTTP_SIGNATURE if c["signing_key"]["alg"] == "Ed25519" and "tamper" not in c],
    ids=lambda c: f"{c['name']}: RFC 9421 §3.1 / RFC 8032, Ed25519 is deterministic",
)
def test_http_signature_vectors_reproduced_byte_for_byte(case):
    """The kit's signer, given the vector's request, components, created and keyid, writes
    the vector's Signature-Input and Signature exactly."""
    request, signed = case["request"], case["signed"]
    message = vector_message({**case, "signed": {k: v for k, v in signed.items() if k == "Content-Digest"}})
    params = httpsig.read_signature(vector_message(case)).params
    key = Key.from_jwk(case["signing_key"])
    out = httpsig.sign(message, key, list(params), created=CREATED, keyid=params.params["keyid"])
    assert out.signature_input == signed["Signature-Input"]
    assert out.signature_header == signed["Signature"]
    if request.get("body"):
        assert content_digest(message.body) == signed["Content-Digest"]


@pytest.mark.parametrize("case", [c for c in HTTP_SIGNATURE if "tamper" not in c], ids=lambda c: c["name"])
def test_http_signature_vectors_outside_the_window(case):
    """[N] verification step 3: 61 s after ``created`` the signature is stale
    (``invalid_signature``); 61 s before it, ``clock_skew``."""
    for now, code in ((CREATED + 61, "invalid_signature"), (CREATED - 61, "clock_skew")):
        with pytest.raises(SignatureError) as info:
            verify_with_key(vector_message(case), vector_key(case), now=now)
        assert info.value.code == code


def test_http_signature_vector_keyid_must_name_the_key():
    """[N] profile: ``keyid`` SHOULD NOT be sent and, if sent, must denote the key that
    Signature-Key names; another key is ``unknown_key``."""
    case = HTTP_SIGNATURE[0]
    with pytest.raises(SignatureError) as info:
        verify_with_key(vector_message(case), Key.from_seed("another key"), now=CREATED)
    assert info.value.code == "unknown_key"


def test_http_signature_vector_dummy_jwt_fails_full_verification():
    """The vectors' JWT is a placeholder (no ``typ``, no ``cnf``), so only raw-key
    verification applies; the full [N] step 5 rejects it as ``invalid_jwt``."""
    case = HTTP_SIGNATURE[0]
    with pytest.raises(SignatureError) as info:
        asyncio.run(verify_request(vector_message(case), resolver=StaticResolver(), now=CREATED))
    assert info.value.code == "invalid_jwt"


@pytest.mark.parametrize(
    "case",
    [c for c in HTTP_SIGNATURE if c["request"].get("body") and "tamper" not in c],
    ids=lambda c: c["name"],
)
def test_difference_post_to_a_ps_without_content_type(case):
    """Documented difference: the vectors POST a body to ``https://ps.example/token`` and
    cover ``content-digest`` but not ``content-type``.  [N] "HTTP Message Signatures
    Profile": a body sent to a PS or AS endpoint covers both.  The signature itself is
    sound (accepted where body coverage is not required), but a -11 PS endpoint answers
    ``invalid_input`` naming the full ``required_input``."""
    message = vector_message(case)
    assert verify_with_key(message, vector_key(case), now=CREATED)
    with pytest.raises(SignatureError) as info:
        verify_with_key(message, vector_key(case), now=CREATED, body_required=True)
    assert info.value.code == "invalid_input"
    assert info.value.required_input == [
        "@method",
        "@authority",
        "@path",
        "signature-key",
        "content-type",
        "content-digest",
    ]


# -- signature-key.json -------------------------------------------------------------------
#: The draft rule each signature-key case applies, by position in the file.
SIGNATURE_KEY_RULES = [
    '[SK] "JWT Confirmation Key (jwt)": sig=jwt;jwt=String, the AAuth agent form',
    "[SK] \"Signature-Key HTTP Request Header\" / RFC 8941: a space after ';' parses the same",
    '[SK] "Label Consistency": the member for the verified label is selected, others ignored; cache is a Boolean',
    "[N]: agent-facing endpoints accept only jwt, so jwks_uri is unsupported_scheme",
    '[N] "HTTP Message Signatures Profile": AAuth agents sign with jwt; hwk -> unsupported_scheme',
    '[N] "Signature-Key Scheme Rejection": an unknown scheme is unsupported_scheme, never a crash',
    '[SK] "Label Consistency": no member for the label -> invalid_signature',
    '[SK] "Signature-Key HTTP Request Header": the scheme must be a Token, not a String -> invalid_signature',
    '[SK] "JWT Confirmation Key (jwt)": the jwt parameter is required -> invalid_signature',
]
SIGNATURE_KEY_CASES = list(zip(SIGNATURE_KEY, SIGNATURE_KEY_RULES, strict=True))


def signed_with_signature_key(header: str) -> HttpMessage:
    """A request signed over the AAuth minimum that carries ``header`` as Signature-Key,
    so that verification gets as far as the Signature-Key checks."""
    message = HttpMessage(
        "GET", "https://resource.example/api", [("Host", "resource.example"), ("Signature-Key", header)]
    )
    signed = httpsig.sign(
        message,
        Key.from_seed("vector signer"),
        ["@method", "@authority", "@path", "signature-key"],
        created=CREATED,
    )
    httpsig.attach(message, signed)
    return message


@pytest.mark.parametrize(
    "case, rule", SIGNATURE_KEY_CASES, ids=[f"{i}: {r}" for i, (_, r) in enumerate(SIGNATURE_KEY_CASES)]
)
def test_signature_key_vectors(case, rule):
    """Parse accept cases to the stated scheme and parameters; reject cases give the stated
    Signature-Error code at an AAuth agent-facing verifier (``accept_schemes=("jwt",)``).
    The kit's parser applies the required ``jwt`` parameter of [SK] "JWT Confirmation Key
    (jwt)" while parsing, so the last case fails there rather than after parsing, with the same code."""
    if "scheme" in case and case.get("error") != "invalid_signature":
        parsed = parse_signature_key(case["header"], "sig")
        strings = {name: value for name, value in parsed.params.items() if isinstance(value, str)}
        assert (parsed.scheme, strings) == (case["scheme"], case["params"])
        if ";cache" in case["header"]:
            assert parsed.params["cache"] is True
    if "error" not in case:
        return
    with pytest.raises(SignatureError) as info:
        check_profile(signed_with_signature_key(case["header"]), now=CREATED, accept_schemes=("jwt",))
    assert info.value.code == case["error"]
    if case["error"] == "unsupported_scheme":
        assert info.value.accept_schemes == [
            "jwt"
        ]  # [N] "Signature-Key Scheme Rejection": Accept-Signature-Scheme: jwt
    if case["error"] == "invalid_signature":
        with pytest.raises(SignatureError) as parse_info:
            parse_signature_key(case["header"], "sig")
        assert parse_info.value.code == "invalid_signature"


def test_jwks_uri_vector_is_accepted_where_servers_sign():
    """[N]: servers signing in their own right use jwks_uri (PS→AS, revocation), so an
    endpoint that accepts it passes the scheme check with the vector's member."""
    case = SIGNATURE_KEY[3]
    _, signature_key = check_profile(
        signed_with_signature_key(case["header"]), now=CREATED, accept_schemes=("jwks_uri",)
    )
    assert (signature_key.scheme, signature_key.params) == ("jwks_uri", case["params"])
