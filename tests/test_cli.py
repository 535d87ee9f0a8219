"""The ``aauth-kit`` command line: sign-http / verify-http contract."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aauth_kit.cli import main
from aauth_kit.keys import Key

from .conftest import VECTORS, load_vector

B26 = load_vector("rfc9421/B.2.6-ed25519.json")
REQUEST = VECTORS / "rfc9421/B.2-test-request.http"
JWK = VECTORS / "rfc9421/test-key-ed25519.jwk.json"
PUB_PEM = VECTORS / "rfc9421/test-key-ed25519.pub.pem"
B26_ARGS = [
    "--key",
    str(JWK),
    "--label",
    "sig-b26",
    "--created",
    "1618884473",
    "--keyid",
    "test-key-ed25519",
    "--signature-key",
    "none",
    "--components",
    '"date" "@method" "@path" "@authority" "content-type" "content-length"',
]


def run(argv, stdin=None):
    """The real console script, in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "aauth_kit.cli", *argv], input=stdin, capture_output=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def b26_signed():
    code, out, err = run(["sign-http", str(REQUEST), *B26_ARGS])
    assert code == 0, err
    return out


def test_sign_http_reproduces_b26(b26_signed):
    """RFC 9421 B.2.6 through the CLI: the request comes back with the RFC's exact two headers."""
    lines = b26_signed.decode().split("\n")
    assert f"Signature-Input: {B26['Signature-Input']}" in lines
    assert f"Signature: {B26['Signature']}" in lines
    assert b26_signed.startswith(REQUEST.read_bytes().split(b"\n\n")[0])
    assert b26_signed.endswith(b'\n\n{"hello": "world"}')
    assert b"Signature-Key" not in b26_signed  # --signature-key none: plain RFC 9421


def test_verify_http_accepts_b26(b26_signed, tmp_path):
    path = tmp_path / "signed.http"
    path.write_bytes(b26_signed)
    assert run(["verify-http", str(path), "--key", str(JWK)])[:2] == (0, b"valid\n")


def test_keyid_must_name_the_given_key(b26_signed, tmp_path):
    """With --key, a keyid must be the key's kid or RFC 7638 thumbprint; the PEM key has no kid."""
    path = tmp_path / "signed.http"
    path.write_bytes(b26_signed)
    code, out, _ = run(["verify-http", str(path), "--key", str(PUB_PEM)])
    assert code == 1 and out.startswith(b"unknown_key:")
    thumb = Key.from_jwk(json.loads(JWK.read_text())).thumbprint()
    resigned = run(["sign-http", str(REQUEST), *B26_ARGS[:7], thumb, *B26_ARGS[8:]])[1]
    path.write_bytes(resigned)
    assert run(["verify-http", str(path), "--key", str(PUB_PEM)])[:2] == (0, b"valid\n")


def _covered_spans(text: str):
    """(start, end) of every byte the B.2.6 signature covers, in the signed request text."""
    head = text.split("\n\n")[0]
    spans = []
    offset = 0
    for index, line in enumerate(head.split("\n")):
        name, _, value = line.partition(": ")
        if index == 0:
            method, target, _ = line.split(" ")
            spans.append((0, len(method)))
            path_end = len(method) + 1 + target.index("?")
            spans.append((len(method) + 1, path_end))
        elif name.lower() in (
            "host",
            "date",
            "content-type",
            "content-length",
            "signature-input",
            "signature",
        ):
            start = offset + len(name) + 2
            spans.append((start, start + len(value)))
        offset += len(line) + 1
    return spans


def test_verify_http_rejects_any_covered_byte_change(b26_signed, capsys):
    """Every byte of every covered component (and of the signature headers) matters."""
    text = b26_signed.decode()
    tried = 0
    for start, end in _covered_spans(text):
        for position in range(start, end):
            original = text[position]
            replacement = "Q" if original.lower() != "q" else "Z"  # not a case change: @authority folds case
            tampered = text[:position] + replacement + text[position + 1 :]
            code = _verify_text(tampered, capsys)
            assert code in (1, 2), (position, original, tampered.split("\n")[0])
            tried += 1
    assert tried > 280  # every covered value, both signature headers


def _verify_text(text, capsys, extra=()):
    import io

    stdin = io.TextIOWrapper(io.BytesIO(text.encode("latin-1")))
    old = sys.stdin
    sys.stdin = stdin
    try:
        code = main(["verify-http", "-", "--key", str(JWK), *extra])
    finally:
        sys.stdin = old
    capsys.readouterr()
    return code


def test_aauth_profile_request_round_trip(tmp_path):
    """A request carrying Signature-Key is checked by the AAuth profile: default components, window."""
    raw = tmp_path / "req.http"
    raw.write_bytes(
        b'POST /person-token HTTP/1.1\nHost: ps.example\nContent-Type: application/json\n\n{"resource":"https://r.example"}\n'
    )
    code, out, err = run(["sign-http", str(raw), "--key", str(JWK), "--created", "1000"])
    assert code == 0, err
    text = out.decode()
    assert (
        'Signature-Input: sig=("@method" "@authority" "@path" "content-type" "content-digest" "signature-key");created=1000'
        in text
    )
    assert "Content-Digest: sha-256=:" in text
    assert (
        'Signature-Key: sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519"'
        in text
    )
    signed = tmp_path / "signed.http"
    signed.write_bytes(out)
    assert run(["verify-http", str(signed), "--now", "1030"])[:2] == (0, b"valid\n")
    code, out, _ = run(["verify-http", str(signed), "--now", "2000"])
    assert code == 1 and out.startswith(b"invalid_signature: created is 1000 s old")
    code, out, _ = run(["verify-http", str(signed), "--now", "900"])
    assert code == 1 and out.startswith(b"clock_skew:")
    assert run(["verify-http", str(signed), "--now", "2000", "--window", "5000"])[0] == 0
    signed.write_bytes(out_body_changed := signed.read_bytes().replace(b"r.example", b"x.example"))
    assert out_body_changed
    code, out, _ = run(["verify-http", str(signed), "--now", "1030"])
    assert code == 1 and b"Content-Digest" in out


def test_profile_requires_the_aauth_minimum(tmp_path):
    """-11 profile: with Signature-Key, @method @authority @path signature-key must be covered."""
    raw = tmp_path / "req.http"
    raw.write_bytes(b"GET /x HTTP/1.1\nHost: r.example\n\n")
    out = run(
        ["sign-http", str(raw), "--key", str(JWK), "--created", "1000", "--components", '"@method" "@path"']
    )[1]
    signed = tmp_path / "signed.http"
    signed.write_bytes(out)
    code, text, _ = run(["verify-http", str(signed), "--now", "1000"])
    assert code == 1 and text.startswith(b"invalid_input:")


def test_other_key_rejected_and_jwks_uri_needs_key(tmp_path):
    raw = tmp_path / "req.http"
    raw.write_bytes(b"GET /x HTTP/1.1\nHost: r.example\n\n")
    other = tmp_path / "other.jwk"
    other.write_text(json.dumps(Key.from_seed("other").public_jwk()))
    signed = tmp_path / "signed.http"
    signed.write_bytes(run(["sign-http", str(raw), "--key", str(JWK), "--created", "1000"])[1])
    code, out, _ = run(["verify-http", str(signed), "--now", "1000", "--key", str(other)])
    assert code == 1 and out.startswith(b"invalid_key:")
    signed.write_bytes(
        run(
            [
                "sign-http",
                str(raw),
                "--key",
                str(JWK),
                "--created",
                "1000",
                "--signature-key",
                "jwks_uri:https://ps.example,aauth-person.json,k1",
            ]
        )[1]
    )
    assert (
        b'Signature-Key: sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json";kid="k1"'
        in signed.read_bytes()
    )
    assert run(["verify-http", str(signed), "--now", "1000"])[0] == 2
    assert run(["verify-http", str(signed), "--now", "1000", "--key", str(JWK)])[:2] == (0, b"valid\n")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"GET / HTTP/1.1\n\n",
        b"GET /x HTTP/1.1\nHost: a\nSignature: sig=:AA==:\n\n",
        b"\xff\xfe\x00",
        b"GET /x HTTP/1.1\nHost: a:99999\n\n",
        b"POST /x HTTP/1.1\nHost: a\nContent-Length: 9\n\nab",
        "POST /x HTTP/1.1\nHost: a\nContent-Length: \u00b218\n\nab".encode(),
        "POST /x HTTP/1.1\nHost: a\nContent-Length: \u0661\u0662\n\nab".encode(),
    ],
)
def test_verify_http_unusable_or_invalid_never_traceback(content, tmp_path):
    path = tmp_path / "bad.http"
    path.write_bytes(content)
    code, out, err = run(["verify-http", str(path), "--key", str(JWK)])
    assert code in (1, 2)
    assert b"Traceback" not in err and b"Traceback" not in out


def test_missing_files_are_unusable(tmp_path):
    assert run(["verify-http", str(tmp_path / "nope")])[0] == 2
    assert run(["sign-http", str(REQUEST), "--key", str(tmp_path / "nope")])[0] == 2
    bad_key = tmp_path / "k.json"
    bad_key.write_text('{"kty":"oct","k":"AA"}')
    assert run(["sign-http", str(REQUEST), "--key", str(bad_key)])[0] == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_fuzz_verify_http_bytes(capsys, data):
    """Whatever the file holds, verify-http answers 0/1/2 and raises nothing."""
    import io

    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        assert main(["verify-http", "-", "--key", str(JWK)]) in (0, 1, 2)
    finally:
        sys.stdin = old
    capsys.readouterr()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_verify_http_mutations(capsys, b26_signed, data):
    """Random edits of a valid signed request: never a traceback, never valid when a covered byte changed."""
    text = b26_signed.decode()
    position = data.draw(st.integers(0, len(text) - 1))
    insert = data.draw(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=5))
    mutated = text[:position] + insert + text[position + data.draw(st.integers(0, 3)) :]
    assert _verify_text(mutated, capsys) in (0, 1, 2)
