"""Exercises for notebook 03 (agent tokens).

* ``q1`` — ``is_bound_to(agent_token, key)``: does the agent token bind this key?  Keys
  are compared by their RFC 7638 thumbprints (-11 "Agent Token Verification" step 5), not as JSON objects: the same
  key may come with its members in another order, with ``alg`` or a ``kid``.
* ``q2`` — ``is_top_level_agent(identifier)``: the -11 "Agent Identifiers" syntax
  (``aauth:local@domain``; capitals allowed since -11; ``+`` only for sub-agents).

The graders mint their own tokens with seeded keys, so they need no lab.
"""

from __future__ import annotations

from ..errors import AAuthError
from ..identifiers import check_agent_identifier
from ..keys import Key
from ..tokens import mint_agent_token
from . import Exercise, NotAttempted

_AP = "https://ap.example"
_IAT = 1_790_000_000


def _agent_token(cnf: dict, sub: str = "aauth:grader@ap.example") -> str:
    provider = Key.from_seed("nb03 grader provider", kid="ap-1")
    return mint_agent_token(provider, iss=_AP, sub=sub, cnf=cnf, iat=_IAT, exp=_IAT + 3600)


def _call(answer, *args):
    result = answer(*args)
    if result is None:
        raise NotAttempted
    return result


# -- q1: is the token bound to this key? ----------------------------------------------------
def _grade_binding(answer) -> str | None:
    mine = Key.from_seed("nb03 grader agent", kid="laptop-key")
    other = Key.from_seed("nb03 grader other agent")
    jwk = mine.public_jwk(kid=False)
    reordered = {"x": jwk["x"], "alg": jwk["alg"], "crv": jwk["crv"], "kty": jwk["kty"], "kid": "as-issued"}
    cases = [
        ("a token whose cnf.jwk is your key", _agent_token(jwk), mine, True),
        ("a token bound to another agent's key", _agent_token(other.public_jwk(kid=False)), mine, False),
        ("the same token, asked about the other key", _agent_token(jwk), other, False),
        (
            "a token whose cnf.jwk lists the same key in another member order, with a kid",
            _agent_token(reordered),
            mine,
            True,
        ),
        (
            "an ES256 token and an Ed25519 key",
            _agent_token(Key.from_seed("nb03 p256", "ES256").public_jwk(kid=False)),
            mine,
            False,
        ),
    ]
    for words, token, key, expected in cases:
        got = _call(answer, token, key)
        if not isinstance(got, bool):
            return f"return True or False, not {got!r}"
        if got != expected:
            hint = (
                " Two JWKs for one key can differ in member order, alg and kid: compare RFC 7638 thumbprints."
                if expected
                else ""
            )
            return f"for {words} the answer is {expected}, yours was {got}.{hint}"
    return None


q1 = Exercise(
    notebook="03",
    title="Q1 · bound to this key?",
    grade=_grade_binding,
    hints=(
        "The bound key is in the payload: claims['cnf']['jwk']. jws.decode_unverified(token).payload gives the claims.",
        "Comparing JWK dicts fails when the members differ in order or a kid is present. "
        "aauth_kit.keys.jwk_thumbprint(jwk) and key.thumbprint() give the RFC 7638 thumbprints: compare those.",
    ),
    reference=(
        "from aauth_kit import jws\n"
        "from aauth_kit.keys import jwk_thumbprint\n\n"
        "def is_bound_to(agent_token, key):\n"
        "    claims = jws.decode_unverified(agent_token).payload\n"
        "    return jwk_thumbprint(claims['cnf']['jwk']) == key.thumbprint()"
    ),
    success="a token binds a key, whatever way its JWK is written: that is why AAuth compares thumbprints.",
)


# -- q2: a top-level agent identifier ---------------------------------------------------------
_IDENTIFIERS = (
    "aauth:notebook@ps.example",
    "aauth:Notebook@ps.example",
    "aauth:report.v2_beta-1@agents.example.com",
    "aauth:" + "a" * 255 + "@ps.example",
    "aauth:" + "a" * 256 + "@ps.example",
    "aauth:@ps.example",
    "aauth:notebook+search@ps.example",
    "aauth:note book@ps.example",
    "aauth:notebook@PS.example",
    "aauth:notebook@ps.example:8443",
    "aauth:notebook@",
    "notebook@ps.example",
    "aauth:notebook",
    "aauth:né@ps.example",
)


def _valid(identifier: str) -> bool:
    try:
        check_agent_identifier(identifier, top_level=True)
    except AAuthError:
        return False
    return True


def _grade_identifier(answer) -> str | None:
    for identifier in _IDENTIFIERS:
        got = _call(answer, identifier)
        if not isinstance(got, bool):
            return f"return True or False, not {got!r}"
        expected = _valid(identifier)
        if got != expected:
            shown = (
                identifier
                if len(identifier) < 60
                else f"{identifier[:20]}…{identifier[-16:]} ({len(identifier)} chars)"
            )
            return f"{shown!r} is {'a valid' if expected else 'not a valid'} top-level agent identifier, you said {got}."
    return None


q2 = Exercise(
    notebook="03",
    title="Q2 · a top-level agent identifier",
    grade=_grade_identifier,
    hints=(
        "aauth: + local + @ + domain. local: 1-255 characters of A-Z a-z 0-9 - _ . (and + for sub-agents only). "
        "domain: a lowercase host without a port.",
        "A regular expression does it: r'aauth:[A-Za-z0-9._-]{1,255}@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?' with "
        "re.fullmatch. Capitals are allowed in local since -11, never in the domain.",
    ),
    reference=(
        "import re\n\n"
        "LABEL = r'[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'\n"
        "TOP_LEVEL = re.compile(rf'aauth:[A-Za-z0-9._-]{{1,255}}@{LABEL}(?:\\.{LABEL})*')\n\n"
        "def is_top_level_agent(identifier):\n"
        "    return TOP_LEVEL.fullmatch(identifier) is not None"
    ),
    success="aauth:local@domain, capitals in local, + kept for sub-agents, compared exactly.",
)
