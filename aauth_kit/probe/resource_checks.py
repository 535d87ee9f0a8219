"""The resource-side battery, as data: what -11 asks of a resource beyond verifying a
signature — its metadata, its requirement headers and resource tokens, its authorization
endpoint, its session tokens and whose auth tokens it takes.

A :class:`ResourceCheck` names its section and what must hold (``expected``); ``judge``
(from :mod:`.resource_judging` or :mod:`.session_judging`) looks at the resource through a
:class:`~.target.Target` and returns ``(outcome, why, answer)``.  A check the probe cannot
do against a target (no Agent Provider, no person, nothing of the kind at that URL) is
``SKIP`` with the reason, never a ``FAIL``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import resource_judging as resource
from . import session_judging as session
from .target import Target


@dataclass(frozen=True)
class Stated:
    """What a resource-side check requires, in words (the ``expected`` column)."""

    text: str

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class ResourceCheck:
    """One resource-side check: its ``section`` of -11 and the ``judge`` that performs it."""

    id: str
    step: str  # the section, short, for the table
    title: str
    section: str
    expected: Stated
    judge: Callable[[Target], tuple]
    needs_agent_provider: bool = False


_METADATA = '-11 "Resource Metadata"'
_REQUIREMENT = '-11 "AAuth-Requirement Header Structure"; -11 "Requirement Values"'
_TOKEN = '-11 "Resource Token Structure"; -11 "Resource Challenge Verification"'
_AUTHORIZE = '-11 "Authorization Endpoint Request"'
_SESSION = '-11 "AAuth-Access Response Header"; -11 "Resource-Managed Authorization"'

#: The resource-side battery, run after the signature checks.
RESOURCE_CHECKS: tuple[ResourceCheck, ...] = (
    ResourceCheck(
        "metadata",
        "metadata",
        "the resource's metadata document",
        f'{_METADATA}; -11 "Metadata Documents"',
        Stated("issuer = its URL, members well formed, jwks_uri a JWKS"),
        resource.judge_metadata,
    ),
    ResourceCheck(
        "metadata-authorization-endpoint",
        "metadata",
        "authorization_endpoint, when published",
        f"{_METADATA}; {_AUTHORIZE}",
        Stated("an https endpoint on the resource's origin"),
        resource.judge_authorization_endpoint,
    ),
    ResourceCheck(
        "requirement-header",
        "requirement",
        "every AAuth-Requirement the probe met",
        _REQUIREMENT,
        Stated("requirement=<Token> + its parameters, on its status"),
        resource.judge_requirement_header,
    ),
    ResourceCheck(
        "resource-token",
        "resource token",
        "the resource token of requirement=auth-token",
        _TOKEN,
        Stated("typ, signature, iss, aud, agent_jkt, ps, sub, exp"),
        resource.judge_resource_token,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "authorize-without-person-token",
        "authorize",
        "POST authorization_endpoint with an agent token only",
        f'{_AUTHORIZE}; -11 "Person Token Required"',
        Stated("401 requirement=person-token"),
        session.judge_authorize_without_person_token,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "authorize-unknown-scope",
        "authorize",
        "POST authorization_endpoint with a scope nobody grants",
        '-11 "Authorization Endpoint Error Responses"',
        Stated("400 invalid_scope"),
        session.judge_authorize_unknown_scope,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "session-honoured",
        "session",
        "its AAuth-Access token, signed over by the key it was issued to",
        _SESSION,
        Stated("served"),
        session.judge_session_honoured,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "session-other-key",
        "session",
        "its AAuth-Access token, signed with another key",
        _SESSION,
        Stated("refused"),
        session.judge_session_other_key,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "session-uncovered",
        "session",
        "its AAuth-Access token, authorization not covered by the signature",
        _SESSION,
        Stated("refused"),
        session.judge_session_uncovered,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "session-unsigned",
        "session",
        "its AAuth-Access token as a bare bearer token",
        _SESSION,
        Stated("refused"),
        session.judge_session_unsigned,
        needs_agent_provider=True,
    ),
    ResourceCheck(
        "untrusted-access-server",
        "auth token",
        "an auth token from an Access Server the resource never named",
        '-11 "Auth Token Verification"; -11 "JWT Trust Verification"',
        Stated("refused"),
        session.judge_untrusted_access_server,
    ),
)
