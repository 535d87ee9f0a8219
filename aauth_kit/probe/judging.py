"""Judging an answer: does it say what -11 "Verification (Server)" requires?

A signature failure is ``401`` + ``Signature-Error`` with the draft's code and members
(Signature Keys -09 "Signature-Error HTTP Response Header"); an unsigned request is
``401`` + ``AAuth-Requirement`` (-11 "Requirement Responses"); a well-formed request is
accepted or answered with the next challenge.  A ``5xx`` is always a ``FAIL``.
"""

from __future__ import annotations

from .. import headers
from ..errors import AAuthError
from .checks import Check, Expected
from .report import FAIL, INFO, PASS, Answer


def judge(check: Check, answer: Answer) -> tuple[str, str]:
    """``(outcome, why)`` for ``answer`` to ``check``."""
    if answer.failure:
        return FAIL, answer.failure
    if answer.status >= 500:
        return FAIL, (
            f"the resource answered {answer.status}, a server error: a bad request must get a "
            "4xx answer naming what is wrong, never a 5xx"
        )
    expected = check.expected
    if expected.requirement:
        return _judge_requirement(expected, answer)
    if expected.accepted:
        return _judge_accepted(answer)
    return _judge_signature_error(check, answer)


def _parsed_error(answer: Answer) -> tuple[str, dict]:
    return headers.parse_signature_error(answer.signature_error)


def _judge_requirement(expected: Expected, answer: Answer) -> tuple[str, str]:
    """-11 "Requirement Responses": an unsigned request gets ``401`` + ``AAuth-Requirement``."""
    if answer.status != 401:
        if 200 <= answer.status < 300:
            return (
                FAIL,
                f"an unsigned request was answered {answer.status}: this path is not protected by AAuth",
            )
        return FAIL, f"an unsigned request must get 401 + AAuth-Requirement, not {answer.status}"
    if answer.requirement is None:
        return FAIL, "the 401 carries no AAuth-Requirement header, so an agent cannot tell what to bring"
    try:
        requirement = headers.parse_requirement(answer.requirement)
    except AAuthError as exc:
        return FAIL, f"AAuth-Requirement is malformed: {exc.detail}"
    if requirement.requirement == expected.requirement:
        return PASS, ""
    if not requirement.known:
        return FAIL, f"requirement={requirement.requirement} is no value the draft defines"
    return INFO, (
        f"the resource asks for requirement={requirement.requirement} first; the draft's baseline for "
        f"an unsigned request is {expected.requirement}"
    )


def _judge_accepted(answer: Answer) -> tuple[str, str]:
    """A well-formed request: a ``2xx``, or the next challenge — no ``Signature-Error``."""
    if answer.signature_error is not None:
        try:
            code, _ = _parsed_error(answer)
        except AAuthError:
            code = answer.signature_error
        because = f": {answer.detail}" if answer.detail else ""
        return FAIL, (
            f"a well-formed request signed with a valid agent token was refused with {code}{because} "
            "(does the resource trust the probe's Agent Provider?)"
        )
    if answer.requirement is not None and answer.status in (401, 202, 402):
        return PASS, f"answered the next challenge ({answer.requirement})"
    if 200 <= answer.status < 300:
        return PASS, ""
    if answer.status == 403:
        return INFO, "the signature was accepted but access was denied (403)"
    return INFO, f"answered {answer.status} without Signature-Error or AAuth-Requirement"


def _judge_signature_error(check: Check, answer: Answer) -> tuple[str, str]:
    """A signature failure: ``401`` + ``Signature-Error`` with the draft's code and members."""
    expected = check.expected
    wanted = expected.errors[0]
    if 200 <= answer.status < 300:
        return FAIL, f"the resource accepted a request the draft requires it to refuse with {wanted}"
    if answer.status == 403:
        return FAIL, (
            "answered 403: a signature failure is 401 (AAuth pins 401 for every Signature-Error), "
            "and a 403 must never carry Signature-Error"
        )
    if answer.signature_error is None:
        if answer.status == 401 and answer.requirement is not None:
            return FAIL, (
                f"answered 401 with {answer.requirement} but no Signature-Error, as if the request "
                f"were unsigned: a signature failure must say {wanted} in Signature-Error"
            )
        return FAIL, (
            f"answered {answer.status} without a Signature-Error header: a signature failure is 401 + "
            f"Signature-Error: error={wanted}, so the client can tell what to fix"
        )
    try:
        code, members = _parsed_error(answer)
    except AAuthError as exc:
        return FAIL, f"Signature-Error is not a valid structured Dictionary with a Token error: {exc.detail}"
    if answer.status != 401:
        return FAIL, (
            f"answered {answer.status} + {code}: Signature Keys' default is 400, but AAuth pins 401 "
            "for every signature failure"
        )
    if code in expected.errors:
        return _judge_members(expected, code, members, answer)
    if code in expected.also:
        return INFO, (
            f"{code} is also allowed at this point, before {wanted} can be checked: a resource that "
            "cannot fetch the token issuer's keys stops there (see --agent-provider)"
        )
    hint = f"; {check.hint}" if check.hint else ""
    return FAIL, f"expected {' or '.join(expected.errors)}, got {code}{hint}"


def _judge_members(expected: Expected, code: str, members: dict, answer: Answer) -> tuple[str, str]:
    if expected.required_input:
        required = members.get("required_input")
        if required is None:
            return (
                FAIL,
                "invalid_input must carry required_input, the components the signature must cover "
                '(Signature Keys -09 "Signature-Error HTTP Response Header")',
            )
        if expected.required_input not in required:
            return (
                FAIL,
                f"required_input {required} does not list {expected.required_input}, the missing component",
            )
    if expected.accept_scheme:
        if answer.accept_signature_scheme is None:
            return (
                INFO,
                "unsupported_scheme SHOULD come with Accept-Signature-Scheme naming the accepted schemes "
                '(Signature Keys -09 "Sending on Errors and on Challenges")',
            )
        try:
            headers.parse_accept_signature_scheme(answer.accept_signature_scheme)
        except AAuthError as exc:
            return FAIL, f"Accept-Signature-Scheme is not a List of Tokens: {exc.detail}"
    return PASS, ""
