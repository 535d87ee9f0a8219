"""Notebook 02's exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that helps."""

from __future__ import annotations

import base64
import hashlib
import json

from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb02, stub
from aauth_kit.keys import jwk_thumbprint

from .conftest import untouched


# -- q1: RFC 7638 §3 thumbprints ------------------------------------------------------------
def test_q1_stub_is_not_attempted():
    assert nb02.q1.check(untouched).status == NOT_ATTEMPTED
    assert nb02.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    result = nb02.q1.check(nb02.q1.reference_answer("my_thumbprint"))
    assert result.status == CORRECT, result.message


def test_q1_the_rfc_examples_are_the_published_values():
    """RFC 8037 Appendix A.3 and RFC 7638 §3.1 print these thumbprints."""
    assert jwk_thumbprint(nb02.RFC_8037_A3) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert jwk_thumbprint(nb02.RFC_7638_RSA) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def hashed(members: dict, *, pad: bool = False, standard: bool = False) -> str:
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    text = (base64.b64encode if standard else base64.urlsafe_b64encode)(digest).decode()
    return text if pad else text.rstrip("=")


def test_q1_hashing_the_whole_jwk_fails():
    """RFC 7638 §3.2: only the required members; alg and kid change nothing."""
    result = nb02.q1.check(lambda jwk: hashed(jwk))
    assert result.status == INCORRECT and "agent key with alg and kid" in result.message


def test_q1_padding_and_standard_base64_are_named():
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}

    def padded(jwk):
        return hashed({m: jwk[m] for m in required[jwk["kty"]]}, pad=True)

    assert "padding" in nb02.q1.check(padded).message
    standard = nb02.q1.check(
        lambda jwk: hashed({m: jwk[m] for m in required[jwk["kty"]]}, standard=True, pad=True)
    )
    assert standard.status == INCORRECT


def test_q1_forgetting_to_drop_d_fails():
    def keep_d(jwk):
        return hashed({m: v for m, v in jwk.items() if m not in ("alg", "kid", "use")})

    result = nb02.q1.check(keep_d)
    assert result.status == INCORRECT and "private JWK" in result.message


# -- q2: Signature Keys -09 "Signature-Key HTTP Request Header" schemes; -11 agents use jwt ------------------------------------------------
STUB = {letter: ... for letter in nb02.SCENARIOS}


def test_q2_stub_is_not_attempted():
    assert nb02.q2.check(dict(STUB)).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    namespace: dict = {}
    exec(nb02.q2.reference, namespace)
    result = nb02.q2.check(namespace["answer"])
    assert result.status == CORRECT, result.message


def test_q2_jwt_everywhere_fails_with_a_nudge():
    result = nb02.q2.check({letter: "jwt" for letter in nb02.SCENARIOS})
    assert result.status == INCORRECT and result.message.endswith(
        "b: not jwt — the PS signs as a server with published keys, not as an agent."
    )


def test_q2_half_answered_and_unknown_schemes_are_named():
    partial = {**STUB, "a": "jwt"}
    assert "still open: b, c, d, e, f" in nb02.q2.check(partial).message
    unknown = {letter: "x509" for letter in nb02.SCENARIOS}
    assert "'x509' is not one of hwk, jwks_uri, jwt" in nb02.q2.check(unknown).message
    assert nb02.q2.check(["jwt"]).status == INCORRECT


def test_q2_scenarios_print_one_per_line():
    assert nb02.scenarios().splitlines()[0].startswith("a) The backend agent")
    assert len(nb02.scenarios().splitlines()) == len(nb02.SCENARIOS)
