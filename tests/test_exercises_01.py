"""Notebook 01's exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that helps."""

from __future__ import annotations

from urllib.parse import urlsplit

from aauth_kit import httpsig
from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb01, stub
from aauth_kit.keys import Key

from .conftest import untouched


# -- q1: RFC 9421 §2.5 signature base ---------------------------------------------------------
def test_q1_stub_is_not_attempted():
    assert nb01.q1.check(untouched).status == NOT_ATTEMPTED
    assert nb01.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    result = nb01.q1.check(nb01.q1.reference_answer("my_signature_base"))
    assert result.status == CORRECT, result.message


def test_q1_reference_matches_what_the_kit_signs():
    """The base the learner builds is the one a signature over the example verifies with."""
    message, key = nb01.example_request(), Key.from_seed("test")
    signed = httpsig.sign(message, key, nb01.AAUTH_COMPONENTS, created=nb01.CREATED)
    assert (
        nb01.q1.reference_answer("my_signature_base")(message, nb01.AAUTH_COMPONENTS, nb01.CREATED)
        == signed.base
    )


def test_q1_netloc_as_authority_fails_on_the_default_port():
    """RFC 9421 §2.2.3: @authority is lower-cased and drops the scheme's default port."""
    right = nb01.q1.reference_answer("my_signature_base")

    def netloc(message, components, created):
        base = right(message, components, created)
        host = urlsplit(message.target_uri).netloc
        return "\n".join(
            f'"@authority": {host}' if line.startswith('"@authority"') else line for line in base.split("\n")
        )

    result = nb01.q1.check(netloc)
    assert result.status == INCORRECT
    assert "Supply-Chain.example:443/check" in result.message and '"@authority" line' in result.message


def test_q1_a_missing_signature_params_line_or_trailing_newline_is_named():
    right = nb01.q1.reference_answer("my_signature_base")
    short = nb01.q1.check(lambda m, c, t: right(m, c, t).rsplit("\n", 1)[0])
    assert short.status == INCORRECT and '"@signature-params"' in short.message
    newline = nb01.q1.check(lambda m, c, t: right(m, c, t) + "\n")
    assert newline.status == INCORRECT and "newline" in newline.message
    assert nb01.q1.check(lambda m, c, t: b"bytes").status == INCORRECT


# -- q2: RFC 9421 §1.4 / §3.2: a signature protects what it covers ----------------------------
def test_q2_stub_is_not_attempted():
    assert nb01.q2.check(untouched).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    result = nb01.q2.check(nb01.q2.reference_answer("changed_component"))
    assert result.status == CORRECT, result.message


def test_q2_cases_really_fail_verification_exactly_when_a_covered_part_changed():
    """Each tampered request fails RFC 9421 §3.2 verification iff a covered component changed."""
    for words, _original, tampered, expected in nb01.tamper_cases():
        sig = httpsig.read_signature(tampered)
        key = nb01._AGENT.public()
        try:
            httpsig.verify_signature(tampered, sig, key)
            verified = True
        except httpsig.SignatureError:
            verified = False
        assert verified == (expected is None), words


def test_q2_comparing_headers_only_fails():
    """Derived components (@method, @path, @authority) are not header fields."""

    def headers_only(original, tampered):
        for (name, old), (_, new) in zip(original.headers, tampered.headers):
            if old != new:
                return name.lower()
        return None

    result = nb01.q2.check(headers_only)
    assert result.status == INCORRECT and "case 1 of 8" in result.message


def test_q2_blaming_any_difference_fails_on_uncovered_changes():
    def any_difference(original, tampered):
        if original.method != tampered.method:
            return "@method"
        if original.url.netloc != tampered.url.netloc:
            return "@authority"
        if original.url.path != tampered.url.path:
            return "@path"
        for name in ("signature-key", "content-digest", "content-type", "accept", "x-forwarded-for"):
            if original.header(name) != tampered.header(name):
                return name
        return None

    result = nb01.q2.check(any_difference)
    assert result.status == INCORRECT and "the answer is None" in result.message
