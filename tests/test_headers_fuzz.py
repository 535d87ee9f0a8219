"""Property tests for aauth_kit.headers: every parser either parses or raises the kit's
AAuthError, and canonical values survive serialize → parse → serialize unchanged.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

import string
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth_kit.deferred_headers import parse_prefer_wait, parse_retry_after, serialize_prefer_wait
from aauth_kit.errors import SIGNATURE_ERROR_CODES, AAuthError, SignatureError, UsageError
from aauth_kit.headers import (
    REQUIREMENT_PARAMS,
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
    serialize_authorization,
    serialize_capabilities,
    serialize_requirement,
)

FUZZ = settings(max_examples=300, deadline=None)
NOW = 1_770_483_396

PARSERS = {
    "AAuth-Requirement": parse_requirement,
    "AAuth-Challenge": parse_legacy_challenge,
    "Signature-Error": parse_signature_error,
    "Accept-Signature-Scheme": parse_accept_signature_scheme,
    "Accept-Signature-Alg": parse_accept_signature_alg,
    "AAuth-Capabilities": parse_capabilities,
    "AAuth-Access": parse_aauth_access,
    "Authorization": parse_authorization,
    "Prefer": parse_prefer_wait,
    "Retry-After": lambda value: parse_retry_after(value, now=NOW),
}

#: Characters that structured fields, token68 and RFC 7240 give meaning to, plus a few that break them.
HEADERISH = string.ascii_letters + string.digits + " \t=;,\"()\\:*?@%-_./+~!#$&'^`|<>[]{}\x00\x7f\u00e9"
FRAGMENTS = [
    "requirement=",
    "require=",
    "error=",
    "required_input=",
    "auth-token",
    "interaction",
    ";resource-token=",
    ";url=",
    ";code=",
    '"https://ps.example/i"',
    '"A1B2"',
    "AAuth ",
    "aauth ",
    "wait=",
    "respond-async",
    ", ",
    "; ",
    "(",
    ")",
    '"',
    "\\",
    "=",
    ":YWJj:",
    "?1",
    "@1",
    '%"x"',
    "1.5",
    "-",
    "9" * 30,
    "GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Ed25519",
    "jwt",
]
header_text = st.one_of(
    st.text(),
    st.text(alphabet=HEADERISH),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=HEADERISH, max_size=4))).map("".join),
)


@pytest.mark.parametrize("field", sorted(PARSERS))
@FUZZ
@given(value=header_text)
def test_parsers_raise_only_aauth_errors(field, value):
    """Bad input: any text either parses or raises invalid_request, never anything else."""
    try:
        PARSERS[field](value)
    except AAuthError as err:
        assert (err.code, err.status) == ("invalid_request", 400)


# -- round trips of generated valid values --------------------------------------------------
printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
path = st.text(alphabet=string.ascii_letters + string.digits + "-._~/", max_size=20)
host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
sf_token = st.from_regex(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]{0,15}", fullmatch=True)
token68 = st.from_regex(r"[A-Za-z0-9._~+/-]{1,40}={0,2}", fullmatch=True)


@st.composite
def requirements(draw):
    value = draw(st.sampled_from(sorted(REQUIREMENT_PARAMS)))
    params = {
        "resource_token": draw(printable),
        "url": f"https://{draw(host)}/{draw(path)}",
        "code": draw(printable),
    }
    return value, {k: v for k, v in params.items() if k.replace("_", "-") in REQUIREMENT_PARAMS[value]}


@FUZZ
@given(requirements())
def test_requirement_round_trip(generated):
    """[N] "Requirement Responses": canonical values parse back to the same data and bytes."""
    value, params = generated
    header = serialize_requirement(value, **params)
    req = parse_requirement(header)
    assert req.requirement == value
    assert req.params == {k.replace("_", "-"): v for k, v in params.items()}
    assert req.header_value() == header


@FUZZ
@given(header_text)
def test_requirement_reserialization_is_stable(value):
    """Whatever parses and can be emitted re-emits identically (canonical form is a fixed point)."""
    try:
        header = parse_requirement(value).header_value()
    except (AAuthError, UsageError):
        return
    assert parse_requirement(header).header_value() == header


@FUZZ
@given(st.sampled_from(sorted(SIGNATURE_ERROR_CODES)), st.none() | st.lists(printable, max_size=6))
def test_signature_error_round_trip(code, required_input):
    """[SK] "Header Structure": errors.SignatureError.header_value() output parses back to its code and members."""
    header = SignatureError(code, required_input=required_input).header_value()
    expected = {} if required_input is None else {"required_input": required_input}
    assert parse_signature_error(header) == (code, expected)


@pytest.mark.parametrize(
    "parse, serialize",
    [
        (parse_accept_signature_alg, serialize_accept_signature_alg),
        (parse_capabilities, serialize_capabilities),
    ],
)
@FUZZ
@given(tokens=st.lists(sf_token, min_size=1, max_size=6))
def test_token_lists_round_trip(parse, serialize, tokens):
    """[N] "Verification (Server)" (Accept-Signature-*), "AAuth-Capabilities Request Header": Lists of Tokens keep order and case."""
    header = serialize(tokens)
    assert parse(header) == tokens
    assert serialize(parse(header)) == header


@FUZZ
@given(token68)
def test_token68_round_trip(token):
    """[N] Resource-Managed Access: AAuth-Access and Authorization: AAuth carry a token68."""
    assert parse_aauth_access(serialize_aauth_access(token)) == token
    assert parse_authorization(serialize_authorization(token)) == token


@FUZZ
@given(
    st.integers(min_value=0, max_value=2**31),
    st.sampled_from(["", "respond-async, ", 'return=minimal;x="a,b", ']),
)
def test_prefer_wait_round_trip(seconds, before):
    """RFC 7240 §4.3, [N] "Deferred Responses"."""
    assert parse_prefer_wait(before + serialize_prefer_wait(seconds)) == seconds


@FUZZ
@given(st.integers(min_value=0, max_value=2**31))
def test_retry_after_seconds_round_trip(seconds):
    """RFC 9110 §10.2.3 delay-seconds, [N] "Deferred Responses"."""
    assert parse_retry_after(str(seconds)) == seconds


@FUZZ
@given(st.integers(min_value=-(10**6), max_value=10**7))
def test_retry_after_http_date(offset):
    """RFC 9110 §10.2.3: an HTTP-date counts from `now`; past dates clamp to 0."""
    date = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=offset)
    assert parse_retry_after(format_datetime(date, usegmt=True), now=NOW) == max(0, offset)
