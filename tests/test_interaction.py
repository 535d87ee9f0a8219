"""Interaction codes, interaction URLs and callback errors.

[N] = draft-hardt-oauth-aauth-protocol-11 "Interaction Code Format", "User Interaction" and
"Interaction Callback Errors".
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.interaction import (
    ALPHABET,
    CALLBACK_ERRORS,
    callback_error_for,
    codes_equal,
    format_code,
    interaction_url,
    new_code,
    normalize_code,
    polling_code_for,
)


def test_alphabet_is_crockford_base32():
    """[N] "Interaction Code Format": 32 symbols, no I L O U."""
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32


def test_new_code_default_shape():
    """[N]: at least 40 bits = 8 symbols; the kit shows XXXX-XXXX."""
    code = new_code()
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set(ALPHABET)


def test_new_code_uses_all_40_bits():
    """[N] ≥ 40 bits: 8 symbols consume exactly 5 random bytes, every bit lands in the code."""
    asked = []

    def source(n):
        asked.append(n)
        return bytes(n)

    assert new_code(random_bytes=source) == "0000-0000"
    assert asked == [5]
    assert new_code(random_bytes=lambda n: b"\xff" * n) == "ZZZZ-ZZZZ"
    # each of the 40 bits changes the code
    codes = {new_code(random_bytes=lambda n, bit=bit: (1 << bit).to_bytes(n, "big")) for bit in range(40)}
    assert len(codes) == 40


def test_new_code_is_deterministic_with_an_injected_source():
    """Docs mode (deterministic): a fixed byte source gives a fixed code."""
    fixed = lambda n: bytes(range(1, n + 1))  # noqa: E731
    assert new_code(random_bytes=fixed) == new_code(random_bytes=fixed)


def test_new_code_longer_lengths():
    code = new_code(10)
    assert len(normalize_code(code)) == 10
    assert code.count("-") == 2


def test_new_code_refuses_fewer_than_40_bits():
    """[N]: at least 40 bits of entropy."""
    with pytest.raises(UsageError):
        new_code(7)


def test_new_codes_differ():
    """[N]: CSPRNG — 200 default codes do not collide."""
    assert len({new_code() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("A1B2-C3D4", "A1B2C3D4"),
        ("a1b2-c3d4", "A1B2C3D4"),
        (" a1b2 c3d4\n", "A1B2C3D4"),
        ("A-1-B-2-C-3-D-4", "A1B2C3D4"),
        ("IiLl-OoAB", "111100AB"),
    ],
)
def test_normalize_code(text, canonical):
    """[N]: hyphens stripped, case-insensitive, I/L → 1 and O → 0."""
    assert normalize_code(text) == canonical


@pytest.mark.parametrize(
    "text", ["", "-", " - ", "A1B2-C3D4U", "A1B2_C3D4", "ÄBCD", "ß", "ı", "１２３４", None, 12345678]
)
def test_normalize_code_rejects(text):
    """[N]: only Crockford symbols (U excluded), hyphens and whitespace; non-ASCII look-alikes refused."""
    with pytest.raises(AAuthError) as exc:
        normalize_code(text)
    assert exc.value.code == "invalid_code"


def test_format_code_groups_in_fours():
    assert format_code("A1B2C3D4") == "A1B2-C3D4"
    assert format_code("a1b2c3d4ef") == "A1B2-C3D4-EF"
    assert format_code("il0o-abcd") == "1100-ABCD"


def test_codes_equal():
    """[N]: comparison after normalization; malformed codes never match."""
    assert codes_equal("A1B2-C3D4", "a1b2c3d4")
    assert codes_equal("0I1L-ABCD", "O1li abcd")
    assert not codes_equal("A1B2-C3D4", "A1B2-C3D5")
    assert not codes_equal("A1B2-C3D4", "A1B2-C3D4U")
    assert not codes_equal("", "")


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalize_arbitrary_text_raises_only_invalid_code(text):
    """Bad input: arbitrary text either normalizes into the alphabet or raises invalid_code."""
    try:
        canonical = normalize_code(text)
    except AAuthError as exc:
        assert exc.code == "invalid_code"
    else:
        assert canonical and set(canonical) <= set(ALPHABET)
        assert normalize_code(format_code(canonical)) == canonical


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=8), st.integers(min_value=8, max_value=12))
def test_generated_codes_round_trip(seed, length):
    """[N]: a generated code survives normalize → format, and lower-casing or regrouping."""
    code = new_code(length, random_bytes=lambda n: (seed * 2)[:n])
    canonical = normalize_code(code)
    assert len(canonical) == length
    assert format_code(canonical) == code
    assert codes_equal(code.lower(), " ".join(canonical))


@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8))
def test_alias_folding(canonical):
    """[N]: typing I/L for 1 and O for 0 reaches the same code."""
    typed = canonical.replace("1", "l").replace("0", "O")
    assert normalize_code(typed) == canonical


def test_interaction_url():
    """-11 "User Interaction": {url}?code={code}[&callback={callback}], percent-encoded."""
    plain = interaction_url("https://ps.example/interaction", "A1B2-C3D4")
    assert plain == "https://ps.example/interaction?code=A1B2-C3D4"
    cb = "https://backend.example/auth-callback?request_id=a b&x=1"
    url = interaction_url("https://ps.example/interaction", "A1B2-C3D4", callback=cb)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "ps.example", "/interaction")
    assert parse_qs(parts.query) == {"code": ["A1B2-C3D4"], "callback": [cb]}
    assert "&x=1" not in url  # the callback's own query stays inside the parameter


def test_interaction_url_keeps_an_existing_query():
    url = interaction_url("http://127.0.0.1:8765/consent?lang=en", "A1B2-C3D4")
    assert url == "http://127.0.0.1:8765/consent?lang=en&code=A1B2-C3D4"


def test_callback_errors_map_to_polling_codes():
    """-11 "Interaction Callback Errors": access_denied|user_abandoned|server_error|temporarily_unavailable|interaction_expired
    → denied|abandoned|server_error|server_error|expired."""
    assert CALLBACK_ERRORS == {
        "access_denied": "denied",
        "user_abandoned": "abandoned",
        "server_error": "server_error",
        "temporarily_unavailable": "server_error",
        "interaction_expired": "expired",
    }
    assert [polling_code_for(e) for e in CALLBACK_ERRORS] == list(CALLBACK_ERRORS.values())
    assert polling_code_for("something_new") == "server_error"


def test_polling_codes_map_to_callback_errors():
    """-11 "Interaction Callback Errors", the other way: every mapped polling code goes back to a callback error
    that maps to it again; other failures are server_error."""
    for polling in ("denied", "abandoned", "server_error", "expired"):
        assert polling_code_for(callback_error_for(polling)) == polling
    assert callback_error_for("denied") == "access_denied"
    assert callback_error_for("abandoned") == "user_abandoned"
    assert callback_error_for("expired") == "interaction_expired"
    assert callback_error_for("as_unreachable") == "server_error"
