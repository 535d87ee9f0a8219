"""The fast ``Signature`` reader (RFC 9421 §4.2) equals http-sfv on every input it accepts
and leaves every other input to http-sfv: valid fields in the usual form, valid fields in
other forms (parameters, inner lists, tokens, Booleans, odd whitespace), and broken ones."""

import base64
import string

import http_sfv
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aauth_kit.errors import SignatureError
from aauth_kit.signature_field import fast_byte_sequences, signature_members

FUZZ = settings(max_examples=600, deadline=None)

KEY_START = string.ascii_lowercase + "*"
KEY_REST = string.ascii_lowercase + string.digits + "_-.*"
B64 = string.ascii_letters + string.digits + "+/="
#: What a Signature field is made of, a few characters that break it, and non-ASCII.
FIELDISH = B64 + ' \t:,;()"*-_.?!\\\x00\x7f\u00e9'

keys = st.builds(lambda a, b: a + b, st.sampled_from(KEY_START), st.text(KEY_REST, max_size=6))
#: A key as a sloppy signer might write it (upper case, digit first, empty).
any_keys = st.one_of(keys, st.text(string.ascii_letters + string.digits + "_-.*", max_size=5))
byte_values = st.binary(max_size=80).map(lambda b: ":" + base64.b64encode(b).decode() + ":")
#: Base64 text that may be unpadded, over-padded or padded in the middle.
b64_text = st.text(B64, max_size=20).map(lambda t: f":{t}:")
other_values = st.sampled_from(['"text"', "tok", "?1", "?0", "42", "-1.5", "(:AAAA: :BBBB:)", "()", ""])
params = st.sampled_from(["", "", "", ";a", ";a=1", ";key=:AAAA:", "; a", ";A=1"])
ows = st.sampled_from(["", "", " ", "\t", "  ", " \t"])


@st.composite
def fields(draw):
    """A Dictionary-like text: half of them in the usual form (with odd whitespace), the rest
    well formed in other forms or broken, one deviation or many."""
    sloppy = draw(st.booleans())

    def pick(usual, unusual):
        return draw(st.one_of(usual, unusual) if sloppy and draw(st.integers(0, 3)) == 0 else usual)

    count = draw(st.integers(1, 4))
    members = []
    for _ in range(count):
        key = pick(keys, any_keys)
        value = pick(byte_values, st.one_of(b64_text, other_values))
        member = key if value == "" else f"{key}={value}"
        members.append(member + pick(st.just(""), params))
    text = members[0]
    for member in members[1:]:
        text += draw(ows) + pick(st.just(","), st.sampled_from([";", "", ",,"])) + draw(ows) + member
    edges = st.sampled_from(["", " ", "\t", ","])
    return pick(st.just(""), edges) + text + pick(st.just(""), edges)


def by_http_sfv(text: str):
    """What http-sfv makes of ``text``: ``label → bytes`` when every member is a bare Byte
    Sequence, ``"other"`` for another valid form, ``"invalid"`` when it refuses."""
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return "invalid"
    if all(
        isinstance(m, http_sfv.Item) and isinstance(m.value, bytes) and not m.params for m in parsed.values()
    ):
        return {label: member.value for label, member in parsed.items()}
    return "other"


def check_equal(text: str) -> None:
    fast = fast_byte_sequences(text)
    reference = by_http_sfv(text)
    if fast is not None:
        assert fast == reference
        assert list(fast) == list(reference)  # same order of labels


@FUZZ
@given(fields())
@example("sig=:AAAA:, sig=:BBBB:, a=:CCCC:")  # a repeated key keeps its first place, its last value
@example("sig=:QQ==QQ==:")  # padding in the middle
@example("sig=:QR==:")  # stray bits after the last full byte
@example("sig=:Q:")  # too short to decode
@example("sig=:AAAA:,")  # trailing comma
@example("sig=:AAAA:\t")
@example("Sig=:AAAA:")
def test_the_fast_path_equals_http_sfv_on_structured_inputs(text):
    check_equal(text)


@FUZZ
@given(st.text(FIELDISH, max_size=60))
def test_the_fast_path_equals_http_sfv_on_any_text(text):
    check_equal(text)


@FUZZ
@given(st.text(max_size=40))
def test_the_fast_path_equals_http_sfv_on_unicode(text):
    check_equal(text)


@FUZZ
@given(st.lists(st.tuples(keys, st.binary(max_size=96)), min_size=1, max_size=4), ows, ows)
def test_the_usual_form_takes_the_fast_path(members, before, after):
    text = f"{before},{after}".join(f"{k}=:{base64.b64encode(v).decode()}:" for k, v in members)
    assert fast_byte_sequences(text) == dict(members)
    assert by_http_sfv(text) == dict(members)


@FUZZ
@given(fields())
def test_signature_members_answers_as_http_sfv_does(text):
    """Through either path: the same bytes, ``None`` for a member that is not a Byte Sequence,
    and ``invalid_signature`` exactly when http-sfv refuses the field."""
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        with pytest.raises(SignatureError) as refused:
            signature_members(text)
        assert refused.value.code == "invalid_signature"
        return
    expected = {
        label: m.value if isinstance(m, http_sfv.Item) and isinstance(m.value, bytes) else None
        for label, m in parsed.items()
    }
    assert signature_members(text) == expected
