"""Exercises for notebook 02 (Signature-Key schemes, HTTP Signature Keys -09).

* ``q1`` — ``my_thumbprint(jwk)``: the RFC 7638 SHA-256 thumbprint of a public or
  private JWK, computed by hand (the stable pseudonym of an ``hwk`` key, and what
  ``agent_jkt`` holds).  Checked on the RFC 8037 A.3 and RFC 7638 §3.1 examples and on
  kit keys carrying ``alg``, ``kid`` and a private ``d``.
* ``q2`` — ``answer = {"a": "jwt", ...}``: pick the scheme (``hwk``, ``jwks_uri``,
  ``jwt``) for each scenario (Signature Keys -09 "Signature-Key HTTP Request
  Header"; -11 "HTTP Message Signatures Profile").
"""

from __future__ import annotations

from ..keys import Key, jwk_thumbprint
from . import Exercise, NotAttempted

# RFC 8037 Appendix A.3 (Ed25519 public key) and RFC 7638 §3.1 (RSA example) — RFC text.
RFC_8037_A3 = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC_7638_RSA = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHz"
    "u6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8a"
    "wapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def _thumbprint_cases() -> list[tuple[str, dict]]:
    agent = Key.from_seed("nb02 grader agent", kid="laptop-1")
    ec = Key.from_seed("nb02 grader p256", "ES256", kid="p256-1")
    return [
        ("the RFC 8037 A.3 Ed25519 key", dict(RFC_8037_A3)),
        ("an Ed25519 agent key with alg and kid", agent.public_jwk()),
        ("the same key as a private JWK (with d)", agent.private_jwk()),
        ("the same key with its members in another order", dict(reversed(list(agent.public_jwk().items())))),
        ("an ES256 (P-256) key with alg, kid and use", {**ec.public_jwk(), "use": "sig"}),
        ("the RFC 7638 §3.1 RSA key", dict(RFC_7638_RSA)),
    ]


def _grade_thumbprint(answer) -> str | None:
    cases = _thumbprint_cases()
    first = answer(dict(cases[0][1]))
    if first is None:
        raise NotAttempted
    for words, jwk in cases:
        got = answer(dict(jwk))
        if not isinstance(got, str):
            return f"return the thumbprint as a str (base64url), not {type(got).__name__}"
        expected = jwk_thumbprint(jwk)
        if got != expected:
            why = ""
            if got.endswith("="):
                why = " base64url in JOSE has no '=' padding."
            elif "+" in got or "/" in got:
                why = " Use base64url (- and _), not standard base64 (+ and /)."
            return f"for {words} your thumbprint {got!r} is not the RFC 7638 one.{why} Try q1.hint()."
    return None


q1 = Exercise(
    notebook="02",
    title="Q1 · a JWK thumbprint",
    grade=_grade_thumbprint,
    hints=(
        "RFC 7638 §3: take only the REQUIRED members of the key type — OKP: crv, kty, x; EC: crv, kty, x, y; "
        "RSA: e, kty, n — and nothing else (no alg, kid, use or d).",
        "Serialize them as JSON with the member names sorted and no whitespace: "
        "json.dumps(members, separators=(',', ':'), sort_keys=True).",
        "Hash the UTF-8 bytes with SHA-256 and encode the 32 bytes as base64url without padding: "
        "base64.urlsafe_b64encode(digest).rstrip(b'=').decode().",
    ),
    reference=(
        "import base64, hashlib, json\n\n"
        "REQUIRED = {'OKP': ('crv', 'kty', 'x'), 'EC': ('crv', 'kty', 'x', 'y'), 'RSA': ('e', 'kty', 'n')}\n\n"
        "def my_thumbprint(jwk):\n"
        "    members = {name: jwk[name] for name in REQUIRED[jwk['kty']]}\n"
        "    canonical = json.dumps(members, separators=(',', ':'), sort_keys=True)\n"
        "    digest = hashlib.sha256(canonical.encode()).digest()\n"
        "    return base64.urlsafe_b64encode(digest).rstrip(b'=').decode()"
    ),
    success="one key, one thumbprint — however its JWK is written. That is the pseudonym hwk gives a server.",
)


# -- q2: which scheme? ----------------------------------------------------------------------
SCHEMES = ("hwk", "jwks_uri", "jwt")
#: Scenario letter → (the scenario, the scheme, a nudge for a wrong answer).
SCENARIOS = {
    "a": (
        "The backend agent calls GET /inventory on the supply-chain agent.",
        "jwt",
        "AAuth agents present a token that names their key.",
    ),
    "b": (
        "The Person Server sends a signed revocation request to a resource, in its own name.",
        "jwks_uri",
        "the PS signs as a server with published keys, not as an agent.",
    ),
    "c": (
        "A brand-new agent, with no agent token yet, asks the kit's Agent Provider to register its key "
        "(POST /agent/register).",
        "hwk",
        "there is no token yet and no published key: only the bare key can travel.",
    ),
    "d": (
        "Outside AAuth, a client wants a site to recognise it on every visit without saying who it is.",
        "hwk",
        "recognised but anonymous: the key's thumbprint is a pseudonym.",
    ),
    "e": (
        "The supply-chain agent calls the market-analysis agent in a call chain.",
        "jwt",
        "in a call chain the resource acts as an agent, with a self-issued agent token.",
    ),
    "f": (
        "The Person Server sends a token request to an Access Server (four-party).",
        "jwks_uri",
        "server to server: the AS discovers the PS's keys from its identifier.",
    ),
}


def scenarios() -> str:
    """The scenarios as the notebook prints them."""
    return "\n".join(f"{letter}) {words}" for letter, (words, _scheme, _why) in SCENARIOS.items())


def _grade_schemes(answer) -> str | None:
    if not isinstance(answer, dict):
        return 'answer with a dict: {"a": "jwt", "b": ..., ...}'
    if all(value is Ellipsis or value is None for value in answer.values()):
        raise NotAttempted
    missing = [letter for letter in SCENARIOS if answer.get(letter) in (None, Ellipsis)]
    if missing:
        return f"pick a scheme for every scenario; still open: {', '.join(missing)}"
    for letter, (_words, scheme, why) in SCENARIOS.items():
        got = answer[letter]
        if got not in SCHEMES:
            return f"{letter}: {got!r} is not one of {', '.join(SCHEMES)}"
        if got != scheme:
            return f"{letter}: not {got} — {why}"
    return None


q2 = Exercise(
    notebook="02",
    title="Q2 · pick the scheme",
    grade=_grade_schemes,
    hints=(
        "jwt: an agent presenting a token (agent, person or auth token) whose cnf.jwk is its key. "
        "jwks_uri: a server signing in its own right, found by its identifier. hwk: a bare key, no identity.",
        "In AAuth, agents MUST use jwt; servers talking to servers use jwks_uri; hwk appears only where no "
        "token exists yet (in the kit: the Agent Provider's registration, which the draft leaves to the AP).",
    ),
    reference='answer = {"a": "jwt", "b": "jwks_uri", "c": "hwk", "d": "hwk", "e": "jwt", "f": "jwks_uri"}',
    success="agents: jwt; servers in their own name: jwks_uri; a bare key: hwk.",
)
