"""Exercises for notebook 06 (user consent).

* ``q1`` — from the headers of a ``202 Accepted``, build the link the *person* opens
  (-11 "Deferred Responses" and "User Interaction": ``{url}?code={code}`` from
  ``AAuth-Requirement: requirement=interaction``), not the pending URL the *agent* polls.
* ``q2`` — write a consent policy (the seed's scopes and prefixes) that asks the person
  for every ``supply-chain:`` scope, keeps the seed's identity prefixes, and lets the
  market analysis through by policy.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ..errors import AAuthError
from ..headers import serialize_requirement
from ..http_client import httpx
from ..interaction import codes_equal, interaction_url
from . import Exercise, NotAttempted

# -- q1: the person's link ---------------------------------------------------------------------
#: (interaction url, code, pending URL, AAuth-Requirement as sent: canonical or with spaces)
_CASES = (
    ("https://ps.example/interaction", "1M8N-8SS3", "https://ps.example/pending/pending-0001", None),
    ("https://login.example/consent", "A1B2-C3D4", "https://login.example/pending/9f8e", None),
    (
        "https://ps.example/interaction",
        "7R6X-KPRP",
        "https://ps.example/pending/pending-0002",
        'requirement=interaction; url="https://ps.example/interaction"; code="7R6X-KPRP"',
    ),
)


def headers_202(url: str, code: str, pending: str, requirement: str | None = None) -> httpx.Headers:
    """The headers of a PS's ``202`` for a request that waits for the person."""
    return httpx.Headers(
        {
            "Location": pending,
            "Retry-After": "0",
            "Cache-Control": "no-store",
            "AAuth-Requirement": requirement or serialize_requirement("interaction", url=url, code=code),
            "Content-Type": "application/json",
        }
    )


def _grade_link(answer) -> str | None:
    for url, code, pending, requirement in _CASES:
        headers = headers_202(url, code, pending, requirement)
        try:
            link = answer(headers)
        except NotAttempted:
            raise
        except Exception as exc:  # say which 202 broke it: usually the one with spaces
            return (
                f"for AAuth-Requirement: {headers['AAuth-Requirement']} your function raised "
                f"{type(exc).__name__}: {exc}. It is a structured field: parse it, do not split it."
            )
        if link is None:
            raise NotAttempted
        if not isinstance(link, str):
            return f"return the link as a string, not {type(link).__name__}"
        parts = urlsplit(link)
        if link.startswith(pending) or parts.path.startswith("/pending/"):
            return (
                "that is the pending URL from Location: the agent polls it, signed. The person opens the "
                "interaction url with the code, both from AAuth-Requirement."
            )
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != url:
            return f"for a requirement naming url={url!r} the link should start with it, not {link!r}"
        given = parse_qs(parts.query).get("code", [])
        if len(given) != 1 or not codes_equal(given[0], code):
            return f"the link must carry the code as ?code=…; for code {code!r} yours was {link!r}"
    return None


q1 = Exercise(
    notebook="06",
    title="Q1 · the person's link",
    grade=_grade_link,
    hints=(
        "Two URLs arrive in a 202. One is for the agent (Location), one is for the person (in AAuth-Requirement).",
        "aauth_kit.headers.parse_requirement(headers['AAuth-Requirement']) gives .url and .code; the person opens "
        "url with ?code= added (aauth_kit.interaction.interaction_url does that).",
    ),
    reference=(
        "from aauth_kit.headers import parse_requirement\n"
        "from aauth_kit.interaction import interaction_url\n\n"
        "def link_for_person(headers):\n"
        "    requirement = parse_requirement(headers['AAuth-Requirement'])\n"
        "    return interaction_url(requirement.url, requirement.code)"
    ),
    success="the person opens the interaction url with the code; the agent keeps polling Location.",
)


def reference_link(headers) -> str:
    """The reference answer to ``q1`` (tests use it; the notebook shows it via ``q1.solution()``)."""
    from ..headers import parse_requirement

    requirement = parse_requirement(headers["AAuth-Requirement"])
    return interaction_url(requirement.url, requirement.code)


# -- q2: a consent policy ----------------------------------------------------------------------
#: scope -> must the person be asked?
POLICY_GOALS = {
    "supply-chain:optimize": True,
    "supply-chain:check": True,
    "supply-chain:forecast": True,  # a scope the supply-chain agent may add next year
    "user.email": True,
    "profile.name": True,
    "email.verified": True,
    "market-analysis:analyze": False,
    "openid": False,
}


def _grade_policy(answer) -> str | None:
    from aauth_kit.consent_policy import ConsentPolicy

    if not isinstance(answer, dict):
        return 'write the policy as {"scopes": [...], "prefixes": [...]}'
    policy = ConsentPolicy()
    try:
        policy.update(answer)
    except AAuthError as exc:
        return f"the PS would refuse this policy ({exc.code}): {exc.detail}"
    for scope, ask in POLICY_GOALS.items():
        if policy.needs_consent(scope) != ask:
            if ask:
                return f"{scope} would be granted without asking the person"
            return f"the person would be asked for {scope}, which the PS may grant by policy"
    return None


q2 = Exercise(
    notebook="06",
    title="Q2 · which scopes need consent",
    grade=_grade_policy,
    hints=(
        "Listing supply-chain:check and supply-chain:optimize is not enough: a scope added later must be asked too.",
        "A prefix matches every scope that starts with it. Keep user., profile. and email. in the prefixes.",
    ),
    reference='my_policy = {"scopes": [], "prefixes": ["supply-chain:", "user.", "profile.", "email."]}',
    success="every supply-chain scope, today's and tomorrow's, now waits for the person.",
)

REFERENCE_POLICY = {"scopes": [], "prefixes": ["supply-chain:", "user.", "profile.", "email."]}

__all__ = ["POLICY_GOALS", "REFERENCE_POLICY", "headers_202", "q1", "q2", "reference_link"]
