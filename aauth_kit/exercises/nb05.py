"""Exercises for notebook 05 (PS authorization).

* ``q1`` — ``accept(resource_token, presented, my_jkt, resource, now)``: the checks an
  agent makes on a resource token before taking it to its PS (-11 "Resource Challenge
  Verification"): ``iss`` is the resource it called, ``agent_jkt`` its
  own key, ``presented_jti``, ``sub`` and ``ps`` those of the token it presented, ``exp``
  in the future.
* ``q2`` — which error code each tampering earns: a stolen auth token signed with
  another key (``invalid_signature``, -11 "Verification (Server)" step 7), an auth token
  past its ``exp`` (``expired_jwt``, no tolerance), a resource token taken to the PS by
  another agent (``invalid_resource_token``, -11 "Token Endpoint Error Codes").

Claims are plain dicts here; the graders need no lab.
"""

from __future__ import annotations

from . import Exercise, NotAttempted

_NOW = 1_790_000_000
_RESOURCE = "https://supply-chain.example"
_PS = "https://ps.example"
_MY_JKT = "fdAjZryvGScO2sJXC8JD7P3YarQvILE-iekZcwyBtYY"
_OTHER_JKT = "gNslHQ1BOGP-sbwTLORMtlAycMQ1bqJDVjEKwPpRdv8"

PRESENTED = {  # the person token the agent presented
    "iss": _PS,
    "dwk": "aauth-person.json",
    "aud": _RESOURCE,
    "sub": "k3Jb0pXl8dPq2VfZr6uNwA",
    "jti": "person-0004",
    "iat": _NOW,
    "exp": _NOW + 3600,
    "cnf": {
        "jwk": {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "ZmFrZSBwdWJsaWMga2V5IGZvciB0aGUgZ3JhZGVy",
            "alg": "Ed25519",
        }
    },
}
GENUINE = {  # the resource token of the challenge to that request
    "iss": _RESOURCE,
    "dwk": "aauth-resource.json",
    "aud": _PS,
    "ps": _PS,
    "sub": PRESENTED["sub"],
    "presented_jti": PRESENTED["jti"],
    "agent_jkt": _MY_JKT,
    "scope": "supply-chain:check",
    "jti": "sca-0001",
    "iat": _NOW,
    "exp": _NOW + 300,
}
_CASES = (
    ("the genuine challenge", {}, True),
    ("a challenge for another agent's key (agent_jkt)", {"agent_jkt": _OTHER_JKT}, False),
    (
        "a challenge from another resource than the one called (iss)",
        {"iss": "https://market-analysis.example"},
        False,
    ),
    (
        "a challenge pointing at another presented token (presented_jti)",
        {"presented_jti": "person-0001"},
        False,
    ),
    ("a challenge for another person (sub)", {"sub": "another-person-at-this-resource"}, False),
    ("a challenge naming another Person Server (ps)", {"ps": "https://evil-ps.example"}, False),
    ("a challenge that expired a second ago (exp)", {"exp": _NOW - 1}, False),
    ("a challenge that expires exactly now (exp)", {"exp": _NOW}, False),
)


def _grade_accept(answer) -> str | None:
    for words, change, expected in _CASES:
        claims = {**GENUINE, **change}
        got = answer(dict(claims), dict(PRESENTED), _MY_JKT, _RESOURCE, _NOW)
        if got is None:
            raise NotAttempted
        if not isinstance(got, bool):
            return f"return True or False, not {got!r}"
        if got != expected:
            return f"{words}: expected {expected}, your accept said {got}."
    return None


q1 = Exercise(
    notebook="05",
    title="Q1 · check the challenge",
    grade=_grade_accept,
    hints=(
        "Six comparisons: iss with the resource you called, agent_jkt with your key, presented_jti/sub/ps with "
        "the jti/sub/iss of the token you presented, and exp with now.",
        "A person token's PS is its iss. exp must be strictly after now (-11 allows no tolerance).",
    ),
    reference=(
        "def accept(resource_token, presented, my_jkt, resource, now):\n"
        "    return (resource_token['iss'] == resource\n"
        "            and resource_token['agent_jkt'] == my_jkt\n"
        "            and resource_token['presented_jti'] == presented['jti']\n"
        "            and resource_token['sub'] == presented['sub']\n"
        "            and resource_token['ps'] == presented['iss']\n"
        "            and resource_token['exp'] > now)"
    ),
    success="the challenge is about your request, your key and your person: safe to take to your PS.",
)


# -- q2: which code? ----------------------------------------------------------------------------
EXPECTED = {
    "an auth token presented with a key other than its cnf.jwk": "invalid_signature",
    "an auth token used one second after its exp": "expired_jwt",
    "a resource token taken to the PS by an agent it did not challenge": "invalid_resource_token",
}
_WHY = {
    "invalid_signature": "the resource verifies the signature with the key the token binds (cnf.jwk); another key's "
    "signature does not verify: Signature-Error invalid_signature.",
    "expired_jwt": "a token in Signature-Key past its exp is Signature-Error expired_jwt.",
    "invalid_resource_token": "a token sent as a body member fails as <invalid|expired|revoked>_<member>_token; "
    "agent_jkt names another key, so the resource_token is invalid.",
}


def _grade_codes(codes) -> str | None:
    if not isinstance(codes, dict):
        return "codes is a dict: situation → error code"
    if all(codes.get(s) is None for s in EXPECTED):
        raise NotAttempted
    for situation, code in EXPECTED.items():
        given = codes.get(situation)
        if not isinstance(given, str):
            return f"for {situation!r} give the error code as a string, e.g. 'invalid_jwt'"
        if given.strip() != code:
            return f"{situation}: not {given!r} — {_WHY[code]}"
    return None


q2 = Exercise(
    notebook="05",
    title="Q2 · which code?",
    grade=_grade_codes,
    hints=(
        "Two of them are Signature-Error codes (a token in Signature-Key); one is a token endpoint code "
        "(a token in the request body).",
        "Signature-Error: invalid_signature, expired_jwt. Token endpoint: <invalid|expired|revoked>_<member>_token.",
    ),
    reference=(
        "codes = {\n"
        "    'an auth token presented with a key other than its cnf.jwk': 'invalid_signature',\n"
        "    'an auth token used one second after its exp': 'expired_jwt',\n"
        "    'a resource token taken to the PS by an agent it did not challenge': 'invalid_resource_token',\n"
        "}"
    ),
    success="every binding — key, time, challenge — fails with its own code.",
)
