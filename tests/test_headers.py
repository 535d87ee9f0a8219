"""AAuth headers: AAuth-Requirement (+ legacy forms), Signature-Error, Accept-Signature-*,
AAuth-Access / Authorization, AAuth-Capabilities, Prefer: wait, Retry-After.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

from datetime import UTC, datetime
from email.utils import format_datetime

import http_sfv
import pytest

from aauth_kit.deferred_headers import (
    DEFAULT_RETRY_AFTER,
    parse_prefer_wait,
    parse_retry_after,
    serialize_prefer_wait,
)
from aauth_kit.errors import AAuthError, SignatureError, UsageError
from aauth_kit.headers import (
    REQUIREMENT_PARAMS,
    HeaderError,
    Requirement,
    parse_aauth_access,
    parse_accept_signature_alg,
    parse_accept_signature_scheme,
    parse_authorization,
    parse_capabilities,
    parse_legacy_challenge,
    parse_requirement,
    parse_signature_error,
    serialize_aauth_access,
    serialize_accept_signature_alg,
    serialize_accept_signature_scheme,
    serialize_authorization,
    serialize_capabilities,
    serialize_requirement,
)

from .conftest import load_vector, seed_message

TOKEN = "eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"
PS_URL = "https://ps.example/interaction"


def assert_invalid_request(excinfo, field):
    err = excinfo.value
    assert isinstance(err, AAuthError) and isinstance(err, ValueError)
    assert (err.code, err.status, err.field) == ("invalid_request", 400, field)


# -- AAuth-Requirement: [N] "Requirement Responses" ------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        'requirement=auth-token;resource-token="eyJ..."',
        f'requirement=interaction;url="{PS_URL}";code="A1B2-C3D4"',
        "requirement=person-token",
    ],
)
def test_requirement_draft_examples_round_trip_exactly(header):
    """[N] "Requirement Responses" examples are the canonical form (no space after ';', RFC 8941's
    serialization)."""
    assert parse_requirement(header).header_value() == header


def test_requirement_serialize_canonical():
    """[N] "Requirement Responses": data are parameters of the requirement member, no spaces."""
    assert (
        serialize_requirement("auth-token", resource_token="eyJ...")
        == 'requirement=auth-token;resource-token="eyJ..."'
    )
    assert (
        serialize_requirement("interaction", url=PS_URL, code="A1B2-C3D4")
        == 'requirement=interaction;url="https://ps.example/interaction";code="A1B2-C3D4"'
    )


def test_requirement_properties():
    req = parse_requirement(f'requirement=interaction; url="{PS_URL}"; code="A1B2-C3D4"')
    assert (req.requirement, req.url, req.code, req.resource_token) == (
        "interaction",
        PS_URL,
        "A1B2-C3D4",
        None,
    )
    assert req.known and not req.legacy
    assert parse_requirement(f'requirement=auth-token;resource-token="{TOKEN}"').resource_token == TOKEN


def test_requirement_spacing_parses_identically():
    """RFC 8941 parsing: '; ' spacing (draft prose) and canonical ';' parse the same."""
    spaced = parse_requirement(f'requirement=interaction; url="{PS_URL}";  code="X"')
    tight = parse_requirement(f'requirement=interaction;url="{PS_URL}";code="X"')
    assert spaced == tight


@pytest.mark.parametrize("value", sorted(REQUIREMENT_PARAMS))
def test_every_requirement_value_round_trips(value):
    """[N] "Requirement Responses" table: agent-token … claims, with their required parameters."""
    params = {"resource_token": TOKEN, "url": PS_URL, "code": "A1B2-C3D4"}
    needed = {k: v for k, v in params.items() if k.replace("_", "-") in REQUIREMENT_PARAMS[value]}
    header = serialize_requirement(value, **needed)
    req = parse_requirement(header)
    assert req.requirement == value and req.known
    assert req.header_value() == header


def test_unknown_requirement_is_parsed_but_not_known():
    """[N]: an unknown requirement value must not be treated as satisfiable."""
    req = parse_requirement('requirement=payment-token;x="1"')
    assert req.requirement == "payment-token" and not req.known
    with pytest.raises(UsageError):
        req.header_value()


def test_unknown_params_and_members_are_kept_but_ignored():
    """[N] "Requirement Responses": unknown parameters and members are ignored."""
    req = parse_requirement('requirement=approval;future="x";n=3, other=?1')
    assert req.params == {"future": "x", "n": 3}
    assert req.header_value() == "requirement=approval"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "approval",
        'requirement="auth-token"',  # a String, not a Token
        "requirement=(agent-token)",  # an Inner List
        "requirement",  # boolean member
        "requirement=auth-token",  # resource-token missing
        "requirement=auth-token;resource-token=eyJ",  # a Token, not a String
        f'requirement=interaction;url="{PS_URL}"',  # code missing
        'requirement=interaction;code="A1B2"',  # url missing
        'requirement=interaction;url="x";code=7',  # code not a String
        'require=auth-token;resource-token="x"',  # the legacy key
        'requirement=auth-token; resource-token="unterminated',
        "requirement=approval,",
        "requirement=approval;;",
        "requirement=agent-token ü",
    ],
)
def test_requirement_malformed_is_invalid_request(header):
    """[N] "Requirement Responses" grammar; bad input is the kit's invalid_request, nothing else."""
    with pytest.raises(HeaderError) as excinfo:
        parse_requirement(header)
    assert_invalid_request(excinfo, "AAuth-Requirement")


def test_requirement_missing_field_is_invalid_request():
    with pytest.raises(HeaderError):
        parse_requirement(None)


@pytest.mark.parametrize(
    "requirement, params",
    [
        ("auth-token", {}),
        ("auth-token", {"resource_token": ""}),
        ("interaction", {"url": PS_URL}),
        ("interaction", {"code": "A1B2"}),
        ("approval", {"code": "A1B2"}),  # approval takes no parameters
        ("auth-token", {"resource_token": TOKEN, "auth_server": "https://as.example"}),
        ("auth-token", {"resource_token": "caf\u00e9"}),  # not printable ASCII
        ("interaction", {"url": "http://ps.example/interaction", "code": "A"}),
        ("interaction", {"url": "https://ps.example/interaction?x=1", "code": "A"}),
        ("interaction", {"url": "https://ps.example/interaction?", "code": "A"}),
        ("interaction", {"url": "https://ps.example/interaction#top", "code": "A"}),
        ("interaction", {"url": "https:///interaction", "code": "A"}),
        ("interaction", {"url": "http://127.0.0.1:8765/interaction", "code": "A"}),  # needs dev=True
        ("unknown", {}),
        ("require", {}),
    ],
)
def test_requirement_emit_validation(requirement, params):
    """[N] "Requirement Responses": auth-token needs resource-token; interaction needs an https url
    (no query, no fragment) and a code; the kit emits only the defined values."""
    with pytest.raises(UsageError):
        serialize_requirement(requirement, **params)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/interaction", "http://localhost:3000/interaction"])
def test_requirement_dev_mode_allows_loopback_http(url):
    """Dev mode: `aauth-kit serve` identifiers are http://127.0.0.1:PORT."""
    header = serialize_requirement("interaction", url=url, code="A1B2", dev=True)
    assert parse_requirement(header).url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:8080/i",
        "http://127.0.0.1/i",
        "http://localhost/i",
        "http://127.0.0.1:99999/i",
        "ftp://127.0.0.1:21/i",
    ],
)
def test_requirement_dev_mode_allows_only_loopback_with_port(url):
    with pytest.raises(UsageError):
        serialize_requirement("interaction", url=url, code="A1B2", dev=True)


AAUTH_GO_REQUIREMENT = load_vector("aauth-go/requirement.json")["cases"]


@pytest.mark.parametrize("case", AAUTH_GO_REQUIREMENT, ids=lambda c: c["header"])
def test_aauth_go_requirement_vectors(case):
    """aauth-go requirement.json ([N] "Requirement Responses", unchanged -09 → -11).

    aauth-go flags its '; ' spacing as canonical; the kit's canonical form has no
    space after ';' (RFC 8941 serialization), so the expected output is the header without it,
    minus unknown parameters, which the kit never re-emits.
    """
    req = parse_requirement(case["header"])
    parsed = case["parsed"]
    assert req.requirement == parsed["Requirement"]
    assert req.resource_token == parsed.get("ResourceToken")
    assert req.url == parsed.get("URL")
    assert req.code == parsed.get("Code")
    known = {name: value for name, value in req.params.items() if name in REQUIREMENT_PARAMS[req.requirement]}
    item = http_sfv.Item(http_sfv.Token(req.requirement))
    item.params.update(known)
    assert req.header_value() == f"requirement={item}"
    if case["canonical"] and known == req.params:
        assert req.header_value() == case["header"].replace("; ", ";")


# -- legacy AAuth / AAuth-Challenge (read only): older drafts' forms, never emitted ---------
def seed_401_aauth_header() -> str:
    """The `aauth` response header the original demo's backend logged for the resource's 401."""
    return seed_message("401 aauth header")


def test_seed_legacy_auth_token_challenge():
    """Seed step 3 (pre-rename draft): `AAuth: require=auth-token; resource-token=…; auth-server=…`."""
    req = parse_legacy_challenge(seed_401_aauth_header())
    assert req.legacy and req.known
    assert req.requirement == "auth-token"
    assert req.resource_token.startswith("eyJhbGciOiJFZERTQSIs")
    assert req.auth_server == "http://127.0.0.1:8765"


def test_seed_legacy_interaction_challenge():
    """Seed step 5: `AAuth: require=interaction; code="7R6XKPRP"` (no url in the old form)."""
    req = parse_legacy_challenge(seed_message("202 AAuth header"))
    assert (req.requirement, req.code, req.url, req.legacy) == ("interaction", "7R6XKPRP", None, True)


def test_legacy_aauth_challenge_form():
    """The pre-rename form: `AAuth-Challenge: require=auth-token; resource-token="…"; auth-server="https://auth.example"`."""
    req = parse_legacy_challenge(
        'require=auth-token; resource-token="eyJ.x.y"; auth-server="https://auth.example"'
    )
    assert (req.resource_token, req.auth_server) == ("eyJ.x.y", "https://auth.example")


def test_legacy_levels_are_not_known():
    """Pre-rename `require=pseudonym|identity` moved to Signature-Key; -11 does not know them."""
    assert not parse_legacy_challenge("require=pseudonym").known


def test_legacy_and_canonical_parsers_do_not_mix():
    with pytest.raises(HeaderError):
        parse_requirement(seed_401_aauth_header())
    with pytest.raises(HeaderError):
        parse_legacy_challenge("requirement=approval")
    with pytest.raises(HeaderError):
        parse_legacy_challenge('require="auth-token"')
    with pytest.raises(HeaderError):  # auth-server is a String when present
        parse_legacy_challenge("require=auth-token; auth-server=local")


def test_legacy_values_are_re_emitted_only_in_canonical_form():
    """Parsing old forms never makes the kit emit them; `auth-server` is dropped."""
    req = parse_legacy_challenge(seed_401_aauth_header())
    header = req.header_value()
    assert header.startswith("requirement=auth-token;resource-token=")
    assert "require=" not in header and "auth-server" not in header
    with pytest.raises(UsageError):  # the old interaction form has no url
        parse_legacy_challenge('require=interaction; code="7R6XKPRP"').header_value()


# -- Signature-Error: [SK] "Signature-Error HTTP Response Header" ------------------------------------------------------------
SIGNATURE_ERROR = load_vector("aauth-go/signature-error.json")["cases"]


@pytest.mark.parametrize("case", SIGNATURE_ERROR, ids=lambda c: c["header"])
def test_aauth_go_signature_error_vectors(case):
    """aauth-go signature-error.json ([SK] "Header Structure", "Error Codes"): code, required_input and extra members."""
    code, members = parse_signature_error(case["header"])
    assert code == case["code"]
    assert members.get("required_input") == case.get("required_input")
    for name, serialized in case.get("params", {}).items():
        expected = http_sfv.Item()
        expected.parse(serialized.encode())
        assert members[name] == expected.value


@pytest.mark.parametrize("case", [c for c in SIGNATURE_ERROR if "params" not in c], ids=lambda c: c["header"])
def test_signature_error_header_value_is_canonical(case):
    """[SK] "Signature-Error HTTP Response Header": errors.SignatureError.header_value() emits the canonical form the vectors show."""
    emitted = SignatureError(case["code"], required_input=case.get("required_input")).header_value()
    if case["canonical"]:
        assert emitted == case["header"]
    assert parse_signature_error(emitted) == parse_signature_error(case["header"])


def test_signature_error_unknown_code_is_returned():
    """[SK] "Error Codes": new codes may appear; the parser returns them for the caller to judge."""
    assert parse_signature_error("error=brand_new_code") == ("brand_new_code", {})


@pytest.mark.parametrize(
    "header",
    [
        "",
        'required_input=("@method")',
        'error="invalid_signature"',
        "error=(invalid_signature)",
        "error",
        'error=invalid_input, required_input="@method"',
        "error=invalid_input, required_input=(@method)",
        "error=invalid_input, required_input=(method)",
        'error=invalid_input, required_input=("@method"',
        "Error=invalid_signature",
    ],
)
def test_signature_error_malformed(header):
    """[SK] "Header Structure": a Dictionary whose `error` is a Token; required_input an Inner List of Strings."""
    with pytest.raises(HeaderError) as excinfo:
        parse_signature_error(header)
    assert_invalid_request(excinfo, "Signature-Error")


# -- Accept-Signature-Scheme / -Alg: [N] "Verification (Server)" --------------------------------------------
def test_accept_signature_alg_preserves_case_and_order():
    """[N] "Verification (Server)": Lists of Tokens in server preference order; JOSE names are case-sensitive."""
    assert parse_accept_signature_alg("Ed25519, ES256") == ["Ed25519", "ES256"]
    assert parse_accept_signature_alg("ES256,Ed25519") == ["ES256", "Ed25519"]
    assert serialize_accept_signature_alg(["Ed25519", "ES256"]) == "Ed25519, ES256"


def test_accept_signature_scheme_round_trip():
    """[N] "Signature-Key Scheme Rejection": scheme names verbatim (`jwks_uri`, `jkt-jwt`)."""
    header = serialize_accept_signature_scheme(["jwt", "jwks_uri", "jkt-jwt"])
    assert header == "jwt, jwks_uri, jkt-jwt"
    assert parse_accept_signature_scheme(header) == ["jwt", "jwks_uri", "jkt-jwt"]


def test_accept_headers_from_signature_error_response_parse_back():
    """[N] "Verification (Server)": accompanies unsupported_scheme / unsupported_algorithm (errors.SignatureError)."""
    err = SignatureError("unsupported_algorithm", accept_schemes=["jwt"], accept_algs=["Ed25519", "ES256"])
    headers = dict(err.response_headers())
    assert parse_accept_signature_scheme(headers["accept-signature-scheme"]) == ["jwt"]
    assert parse_accept_signature_alg(headers["accept-signature-alg"]) == ["Ed25519", "ES256"]


def test_accept_headers_absent_or_empty_mean_nothing():
    assert parse_accept_signature_scheme(None) == [] and parse_accept_signature_alg(" ") == []


def test_accept_headers_ignore_parameters():
    """[N] "Verification (Server)": clients ignore what they do not understand, parameters included."""
    assert parse_accept_signature_alg("Ed25519;q=1, ES256") == ["Ed25519", "ES256"]


@pytest.mark.parametrize(
    "header", ['"Ed25519"', "Ed25519,", "(Ed25519 ES256)", "1alg", "Ed25519 ES256", "Ed25519;"]
)
def test_accept_signature_alg_malformed(header):
    with pytest.raises(HeaderError) as excinfo:
        parse_accept_signature_alg(header)
    assert_invalid_request(excinfo, "Accept-Signature-Alg")


@pytest.mark.parametrize("values", [[], "Ed25519", ["Ed 25519"], ["1alg"], [""], [None], ["caf\u00e9"]])
def test_accept_signature_serialize_rejects_non_tokens(values):
    with pytest.raises(UsageError):
        serialize_accept_signature_alg(values)


# -- AAuth-Capabilities: [N] "AAuth-Capabilities Request Header" ---------------------------
def test_capabilities_round_trip():
    """[N]: a List of Tokens, e.g. `interaction, clarification, payment`."""
    header = serialize_capabilities(["interaction", "clarification", "payment"])
    assert header == "interaction, clarification, payment"
    assert parse_capabilities(header) == ["interaction", "clarification", "payment"]


def test_capabilities_unknown_values_kept_params_ignored():
    """[N]: unknown values and parameters are ignored by the resource, so parsing keeps going."""
    assert parse_capabilities("interaction;v=2, teleport") == ["interaction", "teleport"]


def test_capabilities_absent_means_nothing():
    """[N]: no header ⇒ assume no capabilities."""
    assert parse_capabilities(None) == []


def test_capabilities_malformed():
    with pytest.raises(HeaderError) as excinfo:
        parse_capabilities('interaction, "payment"')
    assert_invalid_request(excinfo, "AAuth-Capabilities")


# -- AAuth-Access / Authorization: AAuth: [N] "AAuth-Access Response Header", RFC 9110 §11----
@pytest.mark.parametrize("token", ["abc", "a.b-c_d~e+f/g", "dGVzdA==", "A1", "x="])
def test_aauth_access_token68_round_trip(token):
    """[N] -06+: AAuth-Access is an RFC 9110 token68."""
    assert parse_aauth_access(serialize_aauth_access(token)) == token
    assert parse_authorization(serialize_authorization(token)) == token


def test_aauth_access_surrounding_whitespace_is_not_part_of_the_value():
    """RFC 9110 §5.5: leading and trailing OWS are not part of a field value."""
    assert parse_aauth_access("  abc==\t") == "abc=="


def test_aauth_access_absent():
    assert parse_aauth_access(None) is None


@pytest.mark.parametrize(
    "value", ["", "   ", "a b", "a\tb", "a,b", "a, b", "a\x00b", "a\nb", "=abc", "abc=d", "ab\u00e9", '"abc"']
)
def test_aauth_access_rejects_non_token68(value):
    """[N] "AAuth-Access Response Header" (token68): reject empty, embedded whitespace or controls, more than one credential."""
    with pytest.raises(HeaderError) as excinfo:
        parse_aauth_access(value)
    assert_invalid_request(excinfo, "AAuth-Access")
    with pytest.raises(UsageError):
        serialize_aauth_access(value.strip())


@pytest.mark.parametrize("value", ["AAuth tok", "aauth tok", "AAUTH tok", "AAuth   tok", " AAuth tok "])
def test_authorization_scheme_is_case_insensitive(value):
    """RFC 9110 §11.1: auth-scheme names are case-insensitive; 1*SP before the token68."""
    assert parse_authorization(value) == "tok"


def test_authorization_build():
    """[N]: the agent presents the session token as `Authorization: AAuth <session-token>`."""
    assert serialize_authorization("s3ss10n==") == "AAuth s3ss10n=="


@pytest.mark.parametrize("value", [None, "Bearer tok", "Basic dXNlcjpwYXNz", "AAuthX tok", "DPoP tok"])
def test_authorization_other_schemes_are_not_ours(value):
    assert parse_authorization(value) is None


@pytest.mark.parametrize(
    "value",
    ["", "AAuth", "AAuth ", "AAuth a b", "AAuth a, Bearer b", "AAuth\ttok", "A(uth tok", 'AAuth realm="x"'],
)
def test_authorization_malformed(value):
    with pytest.raises(HeaderError) as excinfo:
        parse_authorization(value)
    assert_invalid_request(excinfo, "Authorization")


# -- Prefer: wait — RFC 7240 §2, §4.3; [N] "Deferred Responses" ----------------------------
@pytest.mark.parametrize(
    "value, wait",
    [
        ("wait=10", 10),
        ("wait=0", 0),
        ("respond-async, wait=10", 10),
        ("respond-async,wait=45", 45),
        ("Wait=3", 3),  # names are case-insensitive (RFC 7240 §2)
        ('wait="12"', 12),  # word = token / quoted-string
        ("wait = 5", 5),  # BWS around "="
        ("wait=5, wait=10", 5),  # only the first instance counts
        ('return=minimal; foo="a, wait=1", wait=7', 7),  # commas inside a quoted-string
        ('handling=lenient;x;y="z", wait=8;p=1', 8),
        (",, wait=1 ,", 1),  # empty list elements (RFC 9110 §5.6.1)
        ("wait=99999999999999999999", 2**31),
        ("wait=000000000000000000004", 4),  # RFC 9111 §1.2.2 cap
        ("respond-async", None),
        ("", None),
        ("return=representation", None),
    ],
)
def test_prefer_wait(value, wait):
    assert parse_prefer_wait(value) == wait


def test_prefer_absent():
    assert parse_prefer_wait(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "wait",
        "wait=",
        'wait=""',
        "wait=abc",
        "wait=-1",
        "wait=1.5",
        "wait=5 x",
        "=5",
        'wait="5',
        "wait=\u0665",
        "a;=b",
    ],
)
def test_prefer_malformed(value):
    """RFC 7240 §4.3: wait = delta-seconds; anything else is malformed (servers may catch and ignore)."""
    with pytest.raises(HeaderError) as excinfo:
        parse_prefer_wait(value)
    assert_invalid_request(excinfo, "Prefer")


def test_prefer_build():
    """[N] "Deferred Responses": the agent sends `Prefer: wait=N`."""
    assert serialize_prefer_wait(45) == "wait=45"
    assert parse_prefer_wait("respond-async, " + serialize_prefer_wait(0)) == 0


@pytest.mark.parametrize("seconds", [-1, 1.5, True, "45", None])
def test_prefer_build_rejects_non_seconds(seconds):
    with pytest.raises(UsageError):
        serialize_prefer_wait(seconds)


# -- Retry-After — RFC 9110 §10.2.3; [N] "Deferred Responses" ----------------------------------
NOW = 1_770_483_396  # 2026-02-07 16:56:36 UTC


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + seconds_from_now, UTC), usegmt=True)


def test_retry_after_default_is_five_seconds():
    """[N] "Deferred Responses": absent Retry-After ⇒ wait 5 s."""
    assert parse_retry_after(None) == DEFAULT_RETRY_AFTER == 5
    assert parse_retry_after(None, default=2) == 2


@pytest.mark.parametrize(
    "value, seconds",
    [("0", 0), ("30", 30), (" 7 ", 7), ("007", 7), ("0" * 20 + "9", 9), ("-3", 0), ("99999999999999", 2**31)],
)
def test_retry_after_seconds(value, seconds):
    """[N]: integer seconds, `0` = poll now; negatives clamp to 0."""
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date_relative_to_now():
    """RFC 9110 §10.2.3: Retry-After may be an HTTP-date."""
    assert parse_retry_after(http_date(42), now=NOW) == 42
    assert parse_retry_after(http_date(-42), now=NOW) == 0
    assert parse_retry_after(http_date(10), now=NOW + 0.5) == 10  # partial seconds round up


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_retry_after_all_three_date_formats(value):
    """RFC 9110 §5.6.7: recipients accept IMF-fixdate, rfc850-date and asctime-date."""
    assert parse_retry_after(value, now=784111777 - 60) == 60


@pytest.mark.parametrize("value", ["", "soon", "1.5", "5s", "- 5", "Sun, 32 Nov 1994 08:49:37 GMT", "\u0665"])
def test_retry_after_malformed(value):
    with pytest.raises(HeaderError) as excinfo:
        parse_retry_after(value, now=NOW)
    assert_invalid_request(excinfo, "Retry-After")


def test_requirement_dataclass_defaults():
    assert Requirement("approval") == Requirement("approval", {}, False)
