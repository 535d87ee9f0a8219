"""Well-known metadata documents, JWKS and key resolvers.

[N] = draft-hardt-oauth-aauth-protocol-11 "Metadata Documents" and "JWKS Discovery and
Caching"; [SK] = draft-hardt-httpbis-signature-key-09 "JWKS URI Discovery (jwks_uri)", "Key
Validation", "Signature-Error HTTP Response Header".
"""

import asyncio
import json

import pytest

from aauth_kit.errors import AAuthError, SignatureError, TokenError, UsageError
from aauth_kit.jwks import (
    MAX_TTL,
    HttpResolver,
    KeyResolver,
    StaticResolver,
    cache_ttl,
    issuer_key,
    jwks,
    select_key,
)
from aauth_kit.keys import Key
from aauth_kit.metadata import (
    ACCESS_DWK,
    AGENT_DWK,
    DWKS,
    PERSON_DWK,
    RESOURCE_DWK,
    access_metadata,
    agent_metadata,
    build_metadata,
    missing_members,
    person_metadata,
    resource_metadata,
    validate_metadata,
    well_known_url,
)

from .conftest import load_vector

PS = "https://ps.example"
PS_JWKS = "https://ps.example/.well-known/jwks.json"


def run(coro):
    return asyncio.run(coro)


def code_of(excinfo):
    return excinfo.value.code


# -- names and builders ------------------------------------------------------------------
def test_dwk_names():
    """[N] "Metadata Documents": the four well-known document names, with .json."""
    assert DWKS == ("aauth-agent.json", "aauth-person.json", "aauth-access.json", "aauth-resource.json")
    assert well_known_url(PS, PERSON_DWK) == "https://ps.example/.well-known/aauth-person.json"


def test_person_metadata_has_the_conformance_floor():
    """[N] PS metadata: issuer, jwks_uri, auth_token_endpoint, person_token_endpoint REQUIRED."""
    doc = person_metadata(
        PS, PS_JWKS, f"{PS}/token", f"{PS}/person-token", mission_endpoint=f"{PS}/mission", name="Example PS"
    )
    assert doc == {
        "issuer": PS,
        "jwks_uri": PS_JWKS,
        "auth_token_endpoint": f"{PS}/token",
        "person_token_endpoint": f"{PS}/person-token",
        "mission_endpoint": f"{PS}/mission",
        "name": "Example PS",
    }
    assert validate_metadata(doc, PS, PERSON_DWK, complete=True) is doc


def test_agent_access_resource_builders():
    """[N] "Metadata Documents": members per document; None members are omitted."""
    assert agent_metadata(
        "https://ap.example", "https://ap.example/jwks", localhost_callback_allowed=True
    ) == {
        "issuer": "https://ap.example",
        "jwks_uri": "https://ap.example/jwks",
        "localhost_callback_allowed": True,
    }
    assert (
        access_metadata("https://as.example", "https://as.example/jwks", "https://as.example/token")[
            "auth_token_endpoint"
        ]
        == "https://as.example/token"
    )
    doc = resource_metadata(
        "https://r.example",
        "https://r.example/jwks",
        access_mode="auth-token",
        scope_descriptions={"data.read": "Read **data**"},
        signature_window=30,
        additional_signature_components=["@query"],
        authorization_endpoint=None,
    )
    assert doc["access_mode"] == "auth-token" and doc["signature_window"] == 30
    assert "authorization_endpoint" not in doc
    assert resource_metadata("https://r.example") == {"issuer": "https://r.example"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: agent_metadata(
            "https://ap.example", "https://ap.example/jwks", token_endpoint="https://x.example"
        ),
        lambda: agent_metadata("https://ap.example/", "https://ap.example/jwks"),
        lambda: agent_metadata("https://ap.example", "https://ap.example/jwks?x=1"),
        lambda: resource_metadata("https://r.example", access_mode="aauth-access-token"),
        lambda: resource_metadata("https://r.example", signature_window=0),
        lambda: resource_metadata("https://r.example", scope_descriptions=["read"]),
        lambda: resource_metadata("https://r.example", additional_signature_components="@query"),
        lambda: build_metadata(PERSON_DWK, PS, jwks_uri=PS_JWKS),
        lambda: build_metadata("aauth-issuer.json", PS),
    ],
    ids=[
        "token_endpoint is not an agent member",
        "issuer with trailing slash",
        "endpoint with a query",
        "pre -11 access_mode spelling",
        "signature_window must be positive",
        "scope_descriptions is an object",
        "additional_signature_components is an array",
        "PS floor missing",
        "unknown document",
    ],
)
def test_builders_refuse_bad_documents(call):
    """The kit never publishes a document -11 would reject (UsageError: a programming mistake)."""
    with pytest.raises(UsageError):
        call()


def test_builders_in_dev_mode():
    """Dev mode (kit decision): loopback http identifiers and endpoints."""
    doc = agent_metadata("http://127.0.0.1:8765", "http://127.0.0.1:8765/jwks", dev=True)
    assert validate_metadata(doc, "http://127.0.0.1:8765", AGENT_DWK, dev=True, complete=True) is doc
    with pytest.raises(UsageError):
        agent_metadata("http://127.0.0.1:8765", "http://127.0.0.1:8765/jwks")


def test_jwks_every_key_has_alg_and_kid():
    """[N] key discovery: every key AAuth selects carries alg; kid defaults to the RFC 7638 thumbprint."""
    ed, es = Key.from_seed("ps-1"), Key.from_seed("ps-2", "ES256", kid="es-key")
    doc = jwks([ed, es])
    assert [k["alg"] for k in doc["keys"]] == ["Ed25519", "ES256"]
    assert [k["kid"] for k in doc["keys"]] == [ed.thumbprint(), "es-key"]
    assert all("d" not in k for k in doc["keys"])
    with pytest.raises(UsageError):
        jwks([ed, Key.from_seed("ps-1")])


# -- validation --------------------------------------------------------------------------
def test_issuer_missing():
    """[SK] "JWKS URI Discovery (jwks_uri)", [N] "Metadata Documents": a document without issuer → issuer_missing."""
    with pytest.raises(SignatureError) as exc:
        validate_metadata({"jwks_uri": PS_JWKS}, PS, PERSON_DWK)
    assert code_of(exc) == "issuer_missing" and exc.value.status == 401


@pytest.mark.parametrize(
    "issuer", ["https://ps.example/", "https://PS.example", "https://other.example", "", 1]
)
def test_issuer_mismatch_is_byte_equality(issuer):
    """[SK] "JWKS URI Discovery (jwks_uri)": issuer MUST byte-equal the identifier fetched under → issuer_mismatch."""
    with pytest.raises(SignatureError) as exc:
        validate_metadata({"issuer": issuer, "jwks_uri": PS_JWKS}, PS, PERSON_DWK)
    assert code_of(exc) == "issuer_mismatch"


@pytest.mark.parametrize("doc", [[], "x", None, {"issuer": PS, "jwks_uri": "http://ps.example/jwks"}])
def test_unusable_document_is_invalid_key(doc):
    """Kit choice: a document from which no key can be found → invalid_key ([SK] "Signature-Error HTTP Response Header")."""
    with pytest.raises(SignatureError) as exc:
        validate_metadata(doc, PS, PERSON_DWK)
    assert code_of(exc) == "invalid_key"


def test_key_discovery_ignores_other_members():
    """Key discovery needs only issuer + jwks_uri; a bad logo_uri does not break it,
    but complete=True reports it."""
    doc = {
        "issuer": PS,
        "jwks_uri": PS_JWKS,
        "auth_token_endpoint": f"{PS}/t",
        "person_token_endpoint": f"{PS}/p",
        "logo_uri": 5,
    }
    assert validate_metadata(doc, PS, PERSON_DWK) is doc
    with pytest.raises(AAuthError) as exc:
        validate_metadata(doc, PS, PERSON_DWK, complete=True)
    assert code_of(exc) == "invalid_metadata"


def test_unknown_members_are_allowed():
    """[N] extensibility: unknown members are ignored."""
    doc = {
        "issuer": PS,
        "jwks_uri": PS_JWKS,
        "auth_token_endpoint": f"{PS}/t",
        "person_token_endpoint": f"{PS}/p",
        "x-new": [1],
    }
    assert validate_metadata(doc, PS, PERSON_DWK, complete=True) is doc


METADATA_VECTORS = load_vector("aauth-go/metadata.json")["cases"]


@pytest.mark.parametrize("case", METADATA_VECTORS, ids=lambda c: c["document"])
def test_aauth_go_metadata_vectors(case):
    """aauth-go metadata.json.  Every document passes key discovery (issuer + jwks_uri).
    Its PS document uses -10's `token_endpoint`; under [N] the PS floor is issuer,
    jwks_uri, auth_token_endpoint and person_token_endpoint, so the -11 completeness
    check reports both missing and names token_endpoint as the pre -11 spelling."""
    doc, dwk = case["json"], case["document"]
    assert validate_metadata(doc, doc["issuer"], dwk) is doc
    if dwk == PERSON_DWK:
        assert missing_members(doc, dwk) == ["auth_token_endpoint", "person_token_endpoint"]
        with pytest.raises(AAuthError) as exc:
            validate_metadata(doc, doc["issuer"], dwk, complete=True)
        assert code_of(exc) == "invalid_metadata"
        assert (
            "auth_token_endpoint" in exc.value.detail
            and "token_endpoint (the pre -11 name" in exc.value.detail
        )
    else:
        assert validate_metadata(doc, doc["issuer"], dwk, complete=True) is doc


# -- selecting a key from a JWKS ---------------------------------------------------------
def _jwks_with(*entries):
    return {"keys": list(entries)}


def test_select_key_by_kid():
    key = Key.from_seed("k", kid="k1")
    other = {"kty": "OKP", "crv": "X25519", "x": "abc", "kid": "other"}  # unusable, never selected
    got = select_key(_jwks_with(other, key.public_jwk()), "k1")
    assert got.thumbprint() == key.thumbprint() and not got.has_private


@pytest.mark.parametrize(
    "jwks_doc, code",
    [
        (_jwks_with(Key.from_seed("k", kid="k2").public_jwk()), "unknown_key"),
        (_jwks_with({**Key.from_seed("k", kid="k1").public_jwk(), "alg": "EdDSA"}), "unsupported_algorithm"),
        (
            _jwks_with({k: v for k, v in Key.from_seed("k", kid="k1").public_jwk().items() if k != "alg"}),
            "unsupported_algorithm",
        ),
        (_jwks_with(Key.from_seed("k", kid="k1").private_jwk()), "invalid_key"),
        (
            _jwks_with(Key.from_seed("a", kid="k1").public_jwk(), Key.from_seed("b", kid="k1").public_jwk()),
            "invalid_key",
        ),
        (_jwks_with({"kty": ["OKP"], "kid": "k1"}), "invalid_key"),
        (
            _jwks_with({"kty": "OKP", "crv": "Ed25519", "x": "!!", "alg": "Ed25519", "kid": "k1"}),
            "invalid_key",
        ),
        ({"keys": "nope"}, "invalid_key"),
        ([], "invalid_key"),
    ],
    ids=[
        "unknown kid",
        "EdDSA",
        "no alg",
        "private key published",
        "duplicate kid",
        "non-string kty",
        "bad x",
        "keys not a list",
        "not an object",
    ],
)
def test_select_key_failures(jwks_doc, code):
    """[N]/[SK] "Key Validation": the kid-selected key must exist (unknown_key) and carry a fully
    specified alg (unsupported_algorithm); anything else unusable → invalid_key."""
    with pytest.raises(SignatureError) as exc:
        select_key(jwks_doc, "k1")
    assert code_of(exc) == code


def test_issuer_key_picks_the_key_that_signed_a_token():
    """The key a token names: the kid-selected JWKS member, or the only key there is."""
    one, two = Key.from_seed("a", kid="k1"), Key.from_seed("b", kid="k2")
    keys = [one.public_jwk(), two.public_jwk()]
    assert issuer_key(keys, False, "k2").thumbprint() == two.thumbprint()
    assert issuer_key([one.public_jwk()], False, None).thumbprint() == one.thumbprint()
    assert issuer_key([two.public_jwk()], True, "k1").thumbprint() == two.thumbprint()  # a single JWK
    with pytest.raises(SignatureError) as exc:
        issuer_key(keys, False, None)
    assert code_of(exc) == "unknown_key"
    with pytest.raises(TokenError) as exc:
        issuer_key(keys, False, 7)
    assert code_of(exc) == "invalid_jwt"


def test_the_library_never_imports_the_command_line():
    """The CLI is built on the library, never the other way round."""
    import ast
    from pathlib import Path

    import aauth_kit

    root = Path(aauth_kit.__file__).parent
    importers = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "cli":
                importers.append(str(path.relative_to(root)))
    assert importers == []


# -- StaticResolver ----------------------------------------------------------------------
def test_static_resolver():
    resolver = StaticResolver()
    assert isinstance(resolver, KeyResolver)
    key = Key.from_seed("ps")
    kid = resolver.register_key(PS, PERSON_DWK, key)
    assert run(resolver.key(PS, PERSON_DWK, kid)).thumbprint() == key.thumbprint()
    assert run(resolver.metadata(PS, PERSON_DWK))["issuer"] == PS
    with pytest.raises(SignatureError) as exc:
        run(resolver.key(PS, PERSON_DWK, "nope"))
    assert code_of(exc) == "unknown_key"
    with pytest.raises(SignatureError) as exc:
        run(resolver.key("https://unknown.example", PERSON_DWK, kid))
    assert code_of(exc) == "invalid_key"


def test_static_resolver_applies_the_issuer_check():
    """[SK] "JWKS URI Discovery (jwks_uri)": even in-process documents must name the issuer they are served for."""
    resolver = StaticResolver()
    resolver.register(
        PS,
        PERSON_DWK,
        {"issuer": "https://evil.example", "jwks_uri": PS_JWKS},
        jwks([Key.from_seed("x", kid="k")]),
    )
    with pytest.raises(SignatureError) as exc:
        run(resolver.key(PS, PERSON_DWK, "k"))
    assert code_of(exc) == "issuer_mismatch"


# -- HttpResolver ------------------------------------------------------------------------
class FakeWeb:
    """An in-memory fetch: url → (status, headers, body); counts every call."""

    def __init__(self):
        self.routes = {}
        self.calls = []
        self.now = 1000.0

    def serve(self, url, value, *, status=200, headers=None):
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.routes[url] = (status, headers or {}, body)

    async def fetch(self, url):
        self.calls.append(url)
        if url not in self.routes:
            raise OSError(f"connection refused: {url}")
        return self.routes[url]

    def clock(self):
        return self.now

    def resolver(self, **options):
        return HttpResolver(self.fetch, clock=self.clock, **options)


@pytest.fixture
def web():
    w = FakeWeb()
    w.key = Key.from_seed("ps-key", kid="k1")
    w.serve(well_known_url(PS, PERSON_DWK), {"issuer": PS, "jwks_uri": PS_JWKS})
    w.serve(PS_JWKS, jwks([w.key]))
    return w


def test_http_resolver_discovers_and_caches(web):
    """[N] key discovery: GET {iss}/.well-known/{dwk} → issuer check → GET jwks_uri → kid;
    both responses are cached (no max-age: the kit's default of an hour)."""
    resolver = web.resolver()
    assert run(resolver.key(PS, PERSON_DWK, "k1")).thumbprint() == web.key.thumbprint()
    assert web.calls == [well_known_url(PS, PERSON_DWK), PS_JWKS]
    run(resolver.key(PS, PERSON_DWK, "k1"))
    assert len(web.calls) == 2
    web.now += 3601
    run(resolver.key(PS, PERSON_DWK, "k1"))
    assert len(web.calls) == 4


def test_http_resolver_honours_max_age_and_caps_at_24h(web):
    """[N] "Metadata Documents": respect Cache-Control, never cache longer than 24 h."""
    web.serve(PS_JWKS, jwks([web.key]), headers={"Cache-Control": "public, max-age=10"})
    web.serve(
        well_known_url(PS, PERSON_DWK),
        {"issuer": PS, "jwks_uri": PS_JWKS},
        headers={"cache-control": "max-age=999999"},
    )
    resolver = web.resolver()
    run(resolver.key(PS, PERSON_DWK, "k1"))
    web.now += 11
    run(resolver.key(PS, PERSON_DWK, "k1"))
    assert web.calls[2:] == [PS_JWKS]  # JWKS expired, metadata did not
    web.now += MAX_TTL
    run(resolver.key(PS, PERSON_DWK, "k1"))
    assert web.calls[3:] == [well_known_url(PS, PERSON_DWK), PS_JWKS]


def test_http_resolver_no_store_is_not_cached(web):
    web.serve(PS_JWKS, jwks([web.key]), headers={"Cache-Control": "no-store"})
    resolver = web.resolver()
    run(resolver.key(PS, PERSON_DWK, "k1"))
    run(resolver.key(PS, PERSON_DWK, "k1"))
    assert web.calls.count(PS_JWKS) == 2


def test_unknown_kid_refetches_at_most_once_per_floor(web):
    """[N]: refetch the JWKS on an unknown kid, but at most once a minute per issuer."""
    resolver = web.resolver(refetch_floor=60)
    run(resolver.key(PS, PERSON_DWK, "k1"))
    rotated = Key.from_seed("ps-key-2", kid="k2")
    web.serve(PS_JWKS, jwks([web.key, rotated]))
    # fetched just now: within the floor, no refetch
    with pytest.raises(SignatureError) as exc:
        run(resolver.key(PS, PERSON_DWK, "k2"))
    assert code_of(exc) == "unknown_key"
    assert web.calls.count(PS_JWKS) == 1
    web.now += 61
    assert run(resolver.key(PS, PERSON_DWK, "k2")).thumbprint() == rotated.thumbprint()
    assert web.calls.count(PS_JWKS) == 2
    # a kid that never appears: one refetch per floor, then unknown_key from cache
    web.now += 61
    for _ in range(5):
        with pytest.raises(SignatureError) as exc:
            run(resolver.key(PS, PERSON_DWK, "k9"))
        assert code_of(exc) == "unknown_key"
    assert web.calls.count(PS_JWKS) == 3


@pytest.mark.parametrize(
    "route, code",
    [
        ({"status": 404, "value": {"issuer": PS}}, "invalid_key"),
        ({"status": 200, "value": b"<html>"}, "invalid_key"),
        ({"status": 200, "value": b"\xff\xfe"}, "invalid_key"),
        ({"status": 200, "value": {"jwks_uri": PS_JWKS}}, "issuer_missing"),
        ({"status": 200, "value": {"issuer": "https://ps.example/", "jwks_uri": PS_JWKS}}, "issuer_mismatch"),
        ({"status": 200, "value": {"issuer": PS}}, "invalid_key"),
    ],
    ids=["404", "not JSON", "not UTF-8", "issuer missing", "issuer mismatch", "no jwks_uri"],
)
def test_http_resolver_metadata_failures(web, route, code):
    """[SK] "JWKS URI Discovery (jwks_uri)", "Signature-Error HTTP Response Header": issuer_missing, issuer_mismatch; an unusable document → invalid_key."""
    web.serve(well_known_url(PS, PERSON_DWK), route["value"], status=route["status"])
    with pytest.raises(SignatureError) as exc:
        run(web.resolver().key(PS, PERSON_DWK, "k1"))
    assert code_of(exc) == code


def test_http_resolver_fetch_errors_are_invalid_key(web):
    """Kit choice: a network failure means no key can be established → invalid_key."""
    with pytest.raises(SignatureError) as exc:
        run(web.resolver().key("https://down.example", PERSON_DWK, "k1"))
    assert code_of(exc) == "invalid_key"

    async def timeout(url):
        raise TimeoutError

    with pytest.raises(SignatureError) as exc:
        run(HttpResolver(timeout).key(PS, PERSON_DWK, "k1"))
    assert code_of(exc) == "invalid_key"


def test_http_resolver_never_fetches_a_bad_issuer(web):
    """Only server identifiers are fetched ([N] "Server Identifiers"; egress is the transport's)."""
    for issuer in ("http://ps.example", "https://ps.example/x", "https://127.0.0.1:8080"):
        with pytest.raises(SignatureError) as exc:
            run(web.resolver().key(issuer, PERSON_DWK, "k1"))
        assert code_of(exc) == "invalid_key"
    with pytest.raises(SignatureError):
        run(web.resolver().key(PS, "aauth-issuer.json", "k1"))
    assert web.calls == []


def test_http_resolver_dev_mode(web):
    issuer = "http://127.0.0.1:8765"
    web.serve(well_known_url(issuer, AGENT_DWK), {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"})
    web.serve(f"{issuer}/jwks", jwks([web.key]))
    assert run(web.resolver(dev=True).key(issuer, AGENT_DWK, "k1")).thumbprint() == web.key.thumbprint()


@pytest.mark.parametrize(
    "headers, ttl",
    [
        ({}, 3600),
        ({"Cache-Control": "max-age=60"}, 60),
        ({"Cache-Control": "Max-Age=60, Public"}, 60),
        ({"Cache-Control": "no-cache"}, 0),
        ({"Cache-Control": "max-age=100000"}, MAX_TTL),
        ({"Cache-Control": "max-age=-1"}, 3600),
        ({"Cache-Control": 'max-age="60"'}, 3600),
        ({"Cache-Control": "@@@"}, 3600),
        ({"Cache-Control": "max-age=(1 2)"}, 3600),
        ({"Cache-Control": "max-age=1.5"}, 3600),
    ],
)
def test_cache_ttl(headers, ttl):
    """[N] JWKS caching: respect Cache-Control max-age, cap 24 h; junk counts as absent."""
    assert cache_ttl(headers) == ttl


def test_access_and_resource_documents_resolve(web):
    """Every dwk resolves the same way (auth tokens from an AS use aauth-access.json)."""
    for dwk in (ACCESS_DWK, RESOURCE_DWK):
        web.serve(well_known_url(PS, dwk), {"issuer": PS, "jwks_uri": PS_JWKS})
        assert run(web.resolver().key(PS, dwk, "k1")).alg == "Ed25519"


def test_refetch_floor_is_per_issuer(web):
    """[N]: the once-a-minute refetch bound is kept per issuer, so one issuer's unknown
    kids do not stop another issuer's rotation from being seen."""
    other = "https://ps2.example"
    web.serve(well_known_url(other, PERSON_DWK), {"issuer": other, "jwks_uri": f"{other}/jwks"})
    web.serve(f"{other}/jwks", jwks([web.key]))
    resolver = web.resolver(refetch_floor=60)
    run(resolver.key(PS, PERSON_DWK, "k1"))
    web.now += 30
    run(resolver.key(other, PERSON_DWK, "k1"))
    web.now += 31  # 61 s after PS's fetch, 31 s after ps2's
    for issuer in (PS, other):
        with pytest.raises(SignatureError):
            run(resolver.key(issuer, PERSON_DWK, "k-new"))
    assert web.calls.count(PS_JWKS) == 2 and web.calls.count(f"{other}/jwks") == 1


def test_fetch_raising_a_kit_error_is_invalid_key():
    """The transport may report an egress refusal as an AAuthError; discovery answers invalid_key."""

    async def refuse(url):
        raise AAuthError("invalid_request", "egress to this host is not allowed")

    with pytest.raises(SignatureError) as exc:
        run(HttpResolver(refuse).key(PS, PERSON_DWK, "k1"))
    assert code_of(exc) == "invalid_key"


def test_static_resolver_dev_mode():
    """Dev mode (kit decision): loopback http issuers are accepted only when asked for."""
    issuer = "http://127.0.0.1:8765"
    key = Key.from_seed("dev", kid="d1")
    for dev in (True, False):
        resolver = StaticResolver(dev=dev)
        resolver.register(issuer, AGENT_DWK, {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}, jwks([key]))
        if dev:
            assert run(resolver.key(issuer, AGENT_DWK, "d1")).thumbprint() == key.thumbprint()
        else:
            with pytest.raises(SignatureError) as exc:
                run(resolver.key(issuer, AGENT_DWK, "d1"))
            assert code_of(exc) == "invalid_key"


def test_a_key_replaced_under_the_same_kid_is_refetched_once_per_floor(web):
    """[N] "JWKS Discovery and Caching": refetch the JWKS on a same-kid
    verification failure too, but at most once a minute per issuer."""
    from aauth_kit.errors import TokenError
    from aauth_kit.tokens import mint_person_token, verify_token

    resolver = web.resolver(refetch_floor=60)
    agent = Key.from_seed("agent")
    run(resolver.key(PS, PERSON_DWK, "k1"))  # the old key is cached
    replacement = Key.from_seed("ps-key-replaced", kid="k1")
    web.serve(PS_JWKS, jwks([replacement]))
    token = mint_person_token(
        replacement, iss=PS, aud="https://resource.example", sub="p", cnf=agent, iat=1000, exp=2000, kid="k1"
    )
    # within the floor: no refetch, the signature fails against the cached key
    with pytest.raises(TokenError) as exc:
        run(verify_token(token, typ="aa-person+jwt", resolver=resolver, now=1001))
    assert exc.value.code == "invalid_jwt" and web.calls.count(PS_JWKS) == 1
    web.now += 61
    verified = run(verify_token(token, typ="aa-person+jwt", resolver=resolver, now=1001))
    assert verified.sub == "p" and web.calls.count(PS_JWKS) == 2
    # a forged token under the same kid: one refetch per floor, then the cached answer
    forged = mint_person_token(
        Key.from_seed("forger", kid="k1"),
        iss=PS,
        aud="https://resource.example",
        sub="p",
        cnf=agent,
        iat=1000,
        exp=2000,
        kid="k1",
    )
    for _ in range(3):
        with pytest.raises(TokenError):
            run(verify_token(forged, typ="aa-person+jwt", resolver=resolver, now=1001))
    assert web.calls.count(PS_JWKS) == 2
