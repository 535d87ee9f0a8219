"""``aauth-kit decode TOKEN [--jwks FILE] [--now N] [--dev]``.

The command explains a token — ``typ`` in one line (-11 "JWT Type Registrations" and the four
token sections), header and payload pretty-printed, each claim, times in words, the RFC
7638 thumbprint of ``cnf.jwk`` — and with ``--jwks`` verifies it with
``check_token`` (-11 "JWT Trust Verification").  Exit 0 decoded (and valid),
1 invalid, 2 unusable input; never a traceback.
"""

import base64
import io
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aauth_kit import jws, tokens
from aauth_kit.cli import main
from aauth_kit.explain import duration_in_words, time_in_words
from aauth_kit.jwks import jwks
from aauth_kit.keys import Key

NOW = 1_770_000_000  # 2026-02-02 02:40:00 UTC
AP, PS, RES = "https://ap.example", "https://ps.example", "https://resource.example"
ap_key = Key.from_seed("ap", kid="ap-1")
ps_key = Key.from_seed("ps", kid="ps-1")
res_key = Key.from_seed("resource", kid="res-1")
agent_key = Key.from_seed("agent")


def agent_token(**overrides):
    claims = dict(
        iss=AP, sub="aauth:assistant@ap.example", cnf=agent_key, iat=NOW - 180, exp=NOW + 300, jti="agent-1"
    )
    claims.update(overrides)
    return tokens.mint_agent_token(ap_key, **claims)


def person_token(**overrides):
    claims = dict(iss=PS, aud=RES, sub="person-7", cnf=agent_key, iat=NOW - 180, exp=NOW + 300)
    claims.update(overrides)
    return tokens.mint_person_token(ps_key, **claims)


def resource_token():
    return tokens.mint_resource_token(
        res_key,
        iss=RES,
        aud=PS,
        ps=PS,
        sub="person-7",
        presented_jti="p-1",
        agent_jkt=agent_key,
        scope="data.read",
        iat=NOW,
        exp=NOW + 300,
    )


def auth_token():
    return tokens.mint_auth_token(
        ps_key,
        iss=PS,
        aud=RES,
        ps=PS,
        sub="person-7",
        cnf=agent_key,
        scope="data.read",
        iat=NOW,
        exp=NOW + 3600,
    )


def b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(header: dict, payload: dict) -> str:
    """A token with arbitrary members and a junk signature (decoding needs no signature)."""
    return f"{b64(header)}.{b64(payload)}.{b64(b'x' * 64)}"


@pytest.fixture(scope="module")
def keyfiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    files = {
        "jwks": jwks([ap_key, ps_key, res_key]),
        "ap_jwk": ap_key.public_jwk(),
        "ap_private": ap_key.private_jwk(),
        "no_alg": {k: v for k, v in ap_key.public_jwk().items() if k != "alg"},
        "other": Key.from_seed("other", kid="ap-1").public_jwk(),
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(content))
    for name, content in {"not_json": "{", "a_list": "[1, 2]", "a_string": '"keys"'}.items():
        paths[name] = folder / name
        paths[name].write_text(content)
    return {name: str(path) for name, path in paths.items()}


def run(argv, stdin=None):
    """The real console script, in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "aauth_kit.cli", *argv], input=stdin, capture_output=True)
    assert b"Traceback" not in proc.stderr and b"Traceback" not in proc.stdout
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def decode(capsys, *argv, stdin: bytes | None = None):
    """``main(["decode", ...])`` in process: (exit code, stdout, stderr)."""
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(["decode", *argv])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


# -- the real command ---------------------------------------------------------------------
def test_subprocess_decode_and_verify(keyfiles):
    code, out, err = run(["decode", agent_token(), "--jwks", keyfiles["jwks"], "--now", str(NOW)])
    assert code == 0, err
    assert out.startswith("aa-agent+jwt is an agent token")
    assert '  "typ": "aa-agent+jwt"' in out and '  "sub": "aauth:assistant@ap.example"' in out
    assert f"cnf.jwk thumbprint (RFC 7638, SHA-256): {agent_key.thumbprint()}" in out
    assert out.rstrip("\n").endswith("\nvalid")


def test_subprocess_reads_the_token_from_stdin():
    code, out, _ = run(["decode", "-", "--now", str(NOW)], stdin=(person_token() + "\n").encode())
    assert code == 0 and out.startswith("aa-person+jwt is a person token")


def test_subprocess_expired_token_is_invalid(keyfiles):
    # -11 "JWT Trust Verification": exp with no tolerance
    code, out, _ = run(["decode", agent_token(exp=NOW), "--jwks", keyfiles["jwks"], "--now", str(NOW)])
    assert code == 1 and out.rstrip("\n").splitlines()[-1].startswith("expired_jwt: ")


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "a.b.c", "\u00e9\u00e9.x.y", "e30.W10.", "-"])
def test_subprocess_unusable_token_exits_2(token):
    code, out, err = run(["decode", "--now", str(NOW), "--", token], stdin=b"")
    assert code == 2 and out == "" and err.startswith("error: ")


# -- what decode explains -------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, first_line, signer",
    [
        (agent_token, "aa-agent+jwt is an agent token", "the Agent Provider (AP) in iss signs it"),
        (person_token, "aa-person+jwt is a person token", "the Person Server (PS) in iss signs it"),
        (resource_token, "aa-resource+jwt is a resource token", "the resource in iss signs it"),
        (auth_token, "aa-auth+jwt is an auth token", "or AS (aauth-access.json) in iss signs it"),
    ],
)
def test_typ_explained_in_one_line(capsys, make, first_line, signer):
    """-11 "JWT Type Registrations": the four types, who signs each and what it is for."""
    code, out, _ = decode(capsys, make(), "--now", str(NOW))
    assert code == 0
    line = out.splitlines()[0]
    assert line.startswith(first_line) and signer in line


@pytest.mark.parametrize(
    "typ, says",
    [
        ("application/AA-AGENT+JWT", "aa-agent+jwt is an agent token"),  # RFC 7515 §4.1.9: case, prefix
        ("agent+jwt", "pre -oauth drafts' agent token type"),
        ("jkt-s256+jwt", 'jkt-jwt (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)")'),
        ("JWT", "is not one of the four AAuth token types"),
        (None, "typ is missing or not a string"),
    ],
)
def test_other_typs_explained(capsys, typ, says):
    header = {"alg": "Ed25519"} if typ is None else {"alg": "Ed25519", "typ": typ}
    code, out, _ = decode(capsys, unsigned(header, {"iss": AP}), "--now", str(NOW))
    assert code == 0 and says in out.splitlines()[0]


def test_header_and_payload_pretty_printed(capsys):
    token = agent_token()
    code, out, _ = decode(capsys, token, "--now", str(NOW))
    decoded = jws.decode_unverified(token)
    assert json.dumps(decoded.header, indent=2) in out
    assert json.dumps(decoded.payload, indent=2) in out


def test_times_in_words_relative_to_now(capsys):
    code, out, _ = decode(capsys, agent_token(), "--now", str(NOW))
    assert f"  iat: {NOW - 180} = 2026-02-02 02:37:00 UTC (3 minutes ago)" in out
    assert f"  exp: {NOW + 300} = 2026-02-02 02:45:00 UTC (in 5 minutes)" in out
    assert "  lifetime (exp - iat): 8 minutes" in out


def test_words_for_durations():
    assert duration_in_words(1) == "1 second"
    assert duration_in_words(0) == "0 seconds"
    assert duration_in_words(3600) == "1 hour"
    assert duration_in_words(3720) == "1 hour 2 minutes"
    assert duration_in_words(3650) == "1 hour"  # the largest unit and the next, rounded down
    assert duration_in_words(-90061) == "1 day 1 hour"
    assert duration_in_words(2 * 365 * 86400) == "2 years"
    assert time_in_words(NOW, NOW).endswith("(now)")
    assert time_in_words("soon", NOW) == '"soon" (not an integer NumericDate)'
    assert "out of the range of dates" in time_in_words(10**20, NOW)


def test_every_known_claim_is_explained(capsys):
    code, out, _ = decode(capsys, agent_token(ps=PS), "--now", str(NOW))
    claims = {
        line.split(":")[0].strip(): line
        for line in out.splitlines()
        if line.startswith("  ") and ": " in line
    }
    assert "issuer: the Agent Provider that signed this token" in claims["iss"]
    assert f"{AP}/.well-known/aauth-agent.json -> jwks_uri" in claims["dwk"]
    assert "the agent identifier (aauth:local@domain)" in claims["sub"]
    assert "token id" in claims["jti"]
    assert "Person Server hint" in claims["ps"]
    assert "every request presenting this token must be signed by cnf.jwk" in claims["cnf"]
    assert agent_key.thumbprint() in claims["cnf"]


def test_resource_token_claims(capsys):
    """-11 "Resource Token Structure": agent_jkt instead of cnf; aud is the PS or AS."""
    code, out, _ = decode(capsys, resource_token(), "--now", str(NOW))
    assert f'  agent_jkt: "{agent_key.thumbprint()}" — agent key thumbprint (RFC 7638)' in out
    assert '  presented_jti: "p-1" — jti of the person or auth token the agent presented' in out
    assert '  aud: "https://ps.example" — audience: the PS (three-party) or AS (four-party)' in out
    assert "scope: the access the agent asks for" in out
    assert "cnf.jwk thumbprint" not in out


def test_forbidden_unknown_and_undefined_claims_are_flagged(capsys):
    # -11 "Person Token Structure": a person token MUST NOT contain scope; unknown claims are ignored
    payload = jws.decode_unverified(person_token()).payload | {
        "scope": "all",
        "email": "a@b.example",
        "agent_jkt": "x",
    }
    code, out, _ = decode(
        capsys, unsigned({"alg": "Ed25519", "typ": "aa-person+jwt"}, payload), "--now", str(NOW)
    )
    assert "(an aa-person+jwt must not contain it)" in out
    assert '  email: "a@b.example" — not an AAuth claim; verifiers ignore it' in out
    assert "(not defined for an aa-person+jwt; ignored)" in out


def test_person_token_lifetime_limit_is_shown(capsys):
    # -11 "Person Token Structure": exp - iat at most one hour
    payload = jws.decode_unverified(person_token()).payload | {"exp": NOW + 7200}
    code, out, _ = decode(
        capsys, unsigned({"alg": "Ed25519", "typ": "aa-person+jwt"}, payload), "--now", str(NOW)
    )
    assert (
        "lifetime (exp - iat): 2 hours 3 minutes (exceeds the -11 limit of 1 hour for an aa-person+jwt)"
        in out
    )


@pytest.mark.parametrize(
    "alg, says",
    [
        ("EdDSA", "forbidden since draft -10"),
        ("none", "never accepted"),
        ("HS256", "not accepted"),
        ("Ed25519", "fully specified, accepted"),
    ],
)
def test_alg_explained(capsys, alg, says):
    code, out, _ = decode(capsys, unsigned({"alg": alg, "typ": "aa-agent+jwt"}, {}), "--now", str(NOW))
    assert code == 0 and f'  alg: "{alg}" — signature algorithm' in out and says in out


def test_incomplete_cnf_jwk_has_no_thumbprint(capsys):
    payload = {"cnf": {"jwk": {"kty": "OKP", "crv": "Ed25519"}}}
    code, out, _ = decode(
        capsys, unsigned({"alg": "Ed25519", "typ": "aa-agent+jwt"}, payload), "--now", str(NOW)
    )
    assert code == 0 and "cnf.jwk thumbprint: none (cannot take a thumbprint" in out


# -- verification with --jwks ---------------------------------------------------------------
def test_valid_with_jwks_selects_by_kid(capsys, keyfiles):
    for token in (agent_token(), person_token(), resource_token(), auth_token()):
        code, out, _ = decode(capsys, token, "--jwks", keyfiles["jwks"], "--now", str(NOW))
        assert (code, out.splitlines()[-1]) == (0, "valid")


def test_single_jwk_and_private_jwk_files_are_the_key(capsys, keyfiles):
    """A single JWK is the key whatever the token's kid; a private JWK's d is ignored."""
    for name in ("ap_jwk", "ap_private"):
        code, out, _ = decode(capsys, agent_token(), "--jwks", keyfiles[name], "--now", str(NOW))
        assert (code, out.splitlines()[-1]) == (0, "valid")


@pytest.mark.parametrize(
    "make_token, keyfile, extra, code_prefix",
    [
        # -11 "JWT Trust Verification": exp strictly after now, no tolerance
        (lambda: agent_token(exp=NOW), "jwks", [], "expired_jwt: "),
        # the signature must verify with the issuer's key
        (lambda: agent_token(), "other", [], "invalid_jwt: "),
        # the kid selects the key; a JWKS without it cannot verify the token
        (
            lambda: tokens.mint_agent_token(
                Key.from_seed("x", kid="x-9"),
                iss=AP,
                sub="aauth:a@ap.example",
                cnf=agent_key,
                iat=NOW,
                exp=NOW + 60,
            ),
            "jwks",
            [],
            "unknown_key: ",
        ),
        # Signature Keys -09 "Key Validation": the issuer key must carry a fully-specified alg
        (lambda: agent_token(), "no_alg", [], "unsupported_algorithm: "),
        # -10+: EdDSA is polymorphic and refused
        (
            lambda: unsigned({"alg": "EdDSA", "typ": "aa-agent+jwt", "kid": "ap-1"}, {}),
            "jwks",
            [],
            "unsupported_algorithm: ",
        ),
        # "Server Identifiers": https only, unless the named dev mode is on
        (lambda: agent_token(iss="http://127.0.0.1:8000", dev=True), "ap_jwk", [], "invalid_jwt: claim iss"),
        # a JWT of another kind is not an AAuth token: typ first
        (
            lambda: unsigned({"alg": "Ed25519", "typ": "JWT", "kid": "ap-1"}, {}),
            "jwks",
            [],
            "invalid_jwt: expected typ",
        ),
    ],
)
def test_invalid_tokens_exit_1_with_the_code(capsys, keyfiles, make_token, keyfile, extra, code_prefix):
    code, out, _ = decode(capsys, make_token(), "--jwks", keyfiles[keyfile], "--now", str(NOW), *extra)
    assert code == 1
    assert out.splitlines()[-1].startswith(code_prefix)


def test_dev_mode_accepts_a_loopback_issuer(capsys, keyfiles):
    token = agent_token(iss="http://127.0.0.1:8000", dev=True)
    code, out, _ = decode(capsys, token, "--jwks", keyfiles["ap_jwk"], "--now", str(NOW), "--dev")
    assert (code, out.splitlines()[-1]) == (0, "valid")


def test_without_kid_the_only_key_of_a_jwks_is_used(capsys, tmp_path):
    token = jws.sign_compact(
        {"alg": "Ed25519", "typ": "aa-agent+jwt"}, jws.decode_unverified(agent_token()).payload, ap_key
    )
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps(jwks([ap_key])))
    two.write_text(json.dumps(jwks([ap_key, ps_key])))
    assert decode(capsys, token, "--jwks", str(one), "--now", str(NOW))[1].splitlines()[-1] == "valid"
    code, out, _ = decode(capsys, token, "--jwks", str(two), "--now", str(NOW))
    assert code == 1 and out.splitlines()[-1].startswith("unknown_key: the token names no kid")


# -- unusable input ------------------------------------------------------------------------
@pytest.mark.parametrize("keyfile", ["not_json", "a_list", "a_string", "missing"])
def test_unusable_jwks_exits_2(capsys, keyfiles, keyfile):
    path = keyfiles.get(keyfile, "/nonexistent/keys.json")
    code, out, err = decode(capsys, agent_token(), "--jwks", path, "--now", str(NOW))
    assert code == 2 and out == "" and err.startswith("error: ")


def test_stdin_that_is_not_utf8_exits_2(capsys):
    assert decode(capsys, "-", stdin=b"\xff\xfe")[0] == 2


@pytest.mark.parametrize(
    "payload",
    [
        {
            "sub": "\ud800 lone surrogate",
            "\u0007bell\n": "\x1b[31mred",
        },  # nothing printable breaks the output
        {"exp": 10**30, "iat": -(10**30)},  # out of the range of dates
        {"exp": 1.5, "iat": True, "nbf": "tomorrow"},  # not NumericDates
        {"cnf": "not an object", "aud": [1, 2]},
        {"deep": json.loads("[" * 400 + "]" * 400)},
    ],
)
def test_hostile_payloads_decode_without_error(capsys, keyfiles, payload):
    token = f"{b64({'alg': 'Ed25519', 'typ': 'aa-agent+jwt', 'kid': 'ap-1'})}.{b64(json.dumps(payload).encode())}.AA"
    assert decode(capsys, token, "--now", str(NOW))[0] == 0
    assert decode(capsys, token, "--jwks", keyfiles["jwks"], "--now", str(NOW))[0] == 1


def test_hostile_payload_in_a_subprocess_with_an_ascii_terminal():
    """Characters the terminal cannot encode are escaped, never a crash."""
    token = unsigned({"alg": "Ed25519", "typ": "aa-agent+jwt"}, {"sub": "\u00e9\ud800\u2603"})
    proc = subprocess.run(
        [sys.executable, "-m", "aauth_kit.cli", "decode", token],
        capture_output=True,
        env={"PYTHONIOENCODING": "ascii", "PATH": ""},
    )
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert b"\\u2603" in proc.stdout


# -- fuzzing ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_fuzz_arbitrary_strings(capsys, keyfiles, text):
    """Whatever the string, decode --jwks answers 1 or 2 and raises nothing."""
    assume(text != "-")
    code, _, _ = decode(capsys, "--jwks", keyfiles["jwks"], "--now", str(NOW), "--", text)
    assert code in (1, 2)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_names = st.sampled_from(
    [
        "alg",
        "typ",
        "kid",
        "crit",
        "iss",
        "sub",
        "aud",
        "dwk",
        "jti",
        "iat",
        "exp",
        "cnf",
        "ps",
        "agent_jkt",
        "presented_jti",
        "scope",
        "nbf",
    ]
) | st.text(max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(_names, _json, max_size=6),
    st.dictionaries(_names, _json, max_size=8),
    st.binary(max_size=70),
)
def test_fuzz_arbitrary_json_tokens(capsys, keyfiles, header, payload, signature):
    """Any JSON header and payload decode (exit 0) and never verify (exit 1)."""
    token = f"{b64(header)}.{b64(payload)}.{b64(signature)}"
    assert decode(capsys, token, "--now", str(NOW))[0] == 0
    assert decode(capsys, token, "--jwks", keyfiles["jwks"], "--now", str(NOW))[0] == 1
