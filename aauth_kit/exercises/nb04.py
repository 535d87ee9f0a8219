"""Exercises for notebook 04 (agent identity access).

* ``q1`` — ``admit(token)``: an allow-list of agent identifiers that an agent from a
  rogue Agent Provider cannot pass: the identifier's domain names its provider (-11
  "Agent Identifiers"), so the token's ``iss`` must be that provider.
* ``q2`` — 401 or 403: which status and which AAuth header a resource answers when the
  signature is missing (``requirement=agent-token``, -11 "Requirement Responses"), when it does not verify
  (``Signature-Error``, -11 "Verification (Server)"), and when a verified agent is
  refused by policy (``403``, which never carries ``Signature-Error``: Signature Keys -09 "Access Denied").

The graders mint and verify real agent tokens with seeded keys; they need no lab.
"""

from __future__ import annotations

from ..claims import AGENT_TYP
from ..keys import Key
from ..token_verification import check_token
from ..tokens import mint_agent_token
from . import Exercise, NotAttempted

ALLOWED = frozenset({"aauth:inventory-bot@ps.example", "aauth:analyst@partner.example"})
_IAT = 1_790_000_000


def verified_agent_token(iss: str, sub: str):
    """A real agent token from the provider ``iss`` for ``sub``, minted and verified."""
    provider = Key.from_seed(f"nb04 grader provider {iss}", kid="ap-1")
    token = mint_agent_token(
        provider,
        iss=iss,
        sub=sub,
        cnf=Key.from_seed(f"nb04 grader agent {sub}"),
        iat=_IAT,
        exp=_IAT + 3600,
        jti=f"grader-{sub}",
    )
    return check_token(token, typ=AGENT_TYP, key=provider, now=_IAT)


# -- q1: an allow-list that cannot be fooled -------------------------------------------------
_CASES = (
    (
        "the inventory bot from https://ps.example",
        "https://ps.example",
        "aauth:inventory-bot@ps.example",
        True,
    ),
    (
        "the analyst from https://partner.example",
        "https://partner.example",
        "aauth:analyst@partner.example",
        True,
    ),
    ("another agent of https://ps.example", "https://ps.example", "aauth:notebook@ps.example", False),
    (
        "a token from https://rogue.example claiming to be the inventory bot",
        "https://rogue.example",
        "aauth:inventory-bot@ps.example",
        False,
    ),
    (
        "a token from https://ps.example claiming to be the partner's analyst",
        "https://ps.example",
        "aauth:analyst@partner.example",
        False,
    ),
    (
        "the inventory bot spelt with a capital I (another agent: identifiers compare exactly)",
        "https://ps.example",
        "aauth:Inventory-bot@ps.example",
        False,
    ),
)


def _grade_admit(answer) -> str | None:
    for words, iss, sub, expected in _CASES:
        got = answer(verified_agent_token(iss, sub))
        if got is None:
            raise NotAttempted
        if not isinstance(got, bool):
            return f"return True or False, not {got!r}"
        if got != expected:
            why = (
                " The token verifies — its own provider signed it — so only your policy can notice that "
                "the provider is not the one the identifier names."
                if "claiming" in words
                else ""
            )
            return f"{words}: expected {expected}, your admit said {got}.{why}"
    return None


q1 = Exercise(
    notebook="04",
    title="Q1 · an allow-list that cannot be fooled",
    grade=_grade_admit,
    hints=(
        "Checking token.sub against ALLOWED is not enough: any Agent Provider can sign a token with any sub.",
        "The identifier is aauth:local@domain and domain is its provider's: require token.iss == 'https://' + domain "
        "(aauth_kit.identifiers.parse_agent_identifier splits it).",
    ),
    reference=(
        "from aauth_kit.exercises.nb04 import ALLOWED\n"
        "from aauth_kit.identifiers import parse_agent_identifier\n\n"
        "def admit_token(token):\n"
        "    local, domain = parse_agent_identifier(token.sub)\n"
        "    return token.sub in ALLOWED and token.iss == f'https://{domain}'"
    ),
    success="an identifier counts only with the provider it names behind it.",
)


# -- q2: 401 or 403 -----------------------------------------------------------------------------
EXPECTED = {
    "no signature at all": (401, "AAuth-Requirement"),
    "a signature that does not verify": (401, "Signature-Error"),
    "a valid agent token, but the policy says no": (403, None),
}
_WHY = {
    "no signature at all": "the resource challenges: 401 with AAuth-Requirement: requirement=agent-token (-11 'Requirement Responses').",
    "a signature that does not verify": "every signature failure is 401 with Signature-Error: error=<code> "
    "(-11 pins 401 for all of them).",
    "a valid agent token, but the policy says no": "the agent proved who it is, so this is not an authentication "
    "problem: 403, and a 403 never carries Signature-Error.",
}


def _grade_statuses(answers) -> str | None:
    if not isinstance(answers, dict):
        return "answers is a dict: situation → (status, header)"
    if all(answers.get(s) in (None, (None, None)) for s in EXPECTED):
        raise NotAttempted
    for situation, (status, header) in EXPECTED.items():
        given = answers.get(situation)
        if not (isinstance(given, tuple) and len(given) == 2):
            return f"for {situation!r} give a pair (status, header), e.g. (401, 'Signature-Error')"
        given_status, given_header = given
        name = given_header.lower() if isinstance(given_header, str) else given_header
        if given_status != status or name != (header.lower() if header else None):
            return f"{situation}: {_WHY[situation]}"
    return None


q2 = Exercise(
    notebook="04",
    title="Q2 · 401 or 403?",
    grade=_grade_statuses,
    hints=(
        "401 means: authenticate (differently). 403 means: I know who you are, and the answer is no.",
        "No signature → the resource says what it wants (AAuth-Requirement); a broken signature → it says what is "
        "wrong (Signature-Error); a policy refusal → 403, with neither.",
    ),
    reference=(
        "answers = {\n"
        "    'no signature at all': (401, 'AAuth-Requirement'),\n"
        "    'a signature that does not verify': (401, 'Signature-Error'),\n"
        "    'a valid agent token, but the policy says no': (403, None),\n"
        "}"
    ),
    success="401 asks for (better) credentials; 403 refuses a caller it has identified.",
)
