"""A conformance probe for someone else's resource: draft-hardt-oauth-aauth-protocol-11
"Verification (Server)" and the ``Signature-Error`` rules of Signature Keys -09 "Signature-Error HTTP Response Header".

The probe sends a battery of AAuth-signed requests to one URL — each wrong in exactly
one way, plus well-formed ones — and compares every answer with what the drafts
require: the status (AAuth pins ``401`` for every signature failure), the
``Signature-Error`` code and its members (``required_input``), ``Accept-Signature-Scheme``
and, for an unsigned request, ``AAuth-Requirement``.  The checks are data
(:data:`CHECKS`), named after the verification step they exercise:

0. an unsigned request → ``401`` + ``AAuth-Requirement: requirement=agent-token``
1. a signature header missing or not a valid structured field → ``invalid_signature``
2. ``@authority`` or ``signature-key`` not covered → ``invalid_input`` + ``required_input``
3. ``created`` ten minutes old → ``invalid_signature``; ten minutes ahead → ``clock_skew``
4. a scheme the resource refuses (``hwk``, an unknown one) → ``unsupported_scheme``
5. a garbage, wrongly typed or expired JWT → ``invalid_jwt`` / ``expired_jwt``
5-7. (with an Agent Provider the resource trusts) a well-formed request is accepted; one
     signed for another resource, one whose body was changed, one signed with a key other
     than ``cnf.jwk`` are refused.

Then the resource-side checks (:data:`RESOURCE_CHECKS`): its metadata (-11 "Resource
Metadata"), its ``AAuth-Requirement`` headers and resource tokens (-11 "Requirement
Values", "Resource Challenge Verification"), its authorization endpoint (-11
"Authorization Endpoint Error Responses"), its ``AAuth-Access`` session tokens (-11
"AAuth-Access Response Header") and an auth token from an Access Server it never named
(-11 "Auth Token Verification").  What the probe cannot do against a target is ``SKIP``.

Steps 0-4 need no trust between the probe and the resource.  The others need the
resource to look at the token: without the probe's :class:`AgentProvider` it cannot
verify one, so a key-discovery code there is reported ``INFO``, not ``FAIL``.  Any
``5xx``, a hang (no answer within the per-request timeout), a ``403`` or a ``401``
without ``Signature-Error`` for a signature failure is a ``FAIL``.

The package: :mod:`.checks` (the battery, as data), :mod:`.prober` (the requests it
signs), :mod:`.agent_provider` (the in-process Agent Provider), :mod:`.judging` (an
answer against the drafts), :mod:`.report` (answers, results, table and JSON) and
:mod:`.runner` (:func:`probe`); for the resource side :mod:`.resource_checks` (as
data), :mod:`.target` (the resource as the checks see it), :mod:`.resource_judging`,
:mod:`.session_judging` and :mod:`.access_server` (the Access Server nobody trusts).
"""

from .access_server import ProbeAccessServer
from .agent_provider import AgentProvider
from .checks import CHECKS, DEFAULT_BODY, DISCOVERY_CODES, SKEW, VERIFY, Check, Expected
from .judging import judge
from .prober import UNTRUSTED_ISSUER, Prober
from .report import FAIL, INFO, PASS, SKIP, Answer, Report, Result
from .resource_checks import RESOURCE_CHECKS, ResourceCheck
from .runner import ALL_CHECKS, ProbeError, check_method, check_target, parse_body, probe, send, with_checks

__all__ = [
    "ALL_CHECKS",
    "AgentProvider",
    "Answer",
    "CHECKS",
    "Check",
    "DEFAULT_BODY",
    "DISCOVERY_CODES",
    "Expected",
    "FAIL",
    "INFO",
    "PASS",
    "ProbeAccessServer",
    "ProbeError",
    "Prober",
    "RESOURCE_CHECKS",
    "Report",
    "Result",
    "ResourceCheck",
    "SKEW",
    "SKIP",
    "UNTRUSTED_ISSUER",
    "VERIFY",
    "check_method",
    "check_target",
    "judge",
    "parse_body",
    "probe",
    "send",
    "with_checks",
]
