"""The battery: one check per step of -11 "Verification (Server)", as data.

A :class:`Check` says what to send (``build``, from a :class:`~.prober.Prober`) and what
must come back (:class:`Expected`): a ``Signature-Error`` code and its members
(Signature Keys -09 "Signature-Error HTTP Response Header"), or for an unsigned request
the ``AAuth-Requirement`` of -11 "Requirement Responses".  :data:`CHECKS` lists them in
the order of the draft's verification steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http_client import httpx
from ..message import HttpMessage
from ..signature_key import SignatureKey, hwk_key, jwt_key

if TYPE_CHECKING:
    from .prober import Prober

VERIFY = '-11 "Verification (Server)"'
#: How far ``created`` is moved for the clock checks: well past the default 60 s window.
SKEW = 600
#: The body a body-tampering check signs when the probed request has none.
DEFAULT_BODY = b'{"probe":"aauth-kit"}'
#: Codes a verifier may answer in step 5 before it gets to a token's ``exp``: key
#: discovery for an issuer it cannot or will not fetch.
DISCOVERY_CODES = ("invalid_jwt", "invalid_key", "unknown_key", "issuer_missing", "issuer_mismatch")


@dataclass(frozen=True)
class Expected:
    """What the drafts require of the answer to one check.

    ``errors`` are the ``Signature-Error`` codes that pass (the first is the draft's
    answer); ``also`` are codes the draft allows at that point for a resource that
    could not get as far as the check aims (``INFO``).  ``required_input`` is a
    component the ``invalid_input`` error must list; ``accept_scheme`` asks for the
    ``Accept-Signature-Scheme`` header that SHOULD accompany ``unsupported_scheme``.
    ``requirement`` (an unsigned request) and ``accepted`` (a well-formed one) replace
    the ``Signature-Error`` expectations.
    """

    errors: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    required_input: str | None = None
    accept_scheme: bool = False
    requirement: str | None = None
    accepted: bool = False

    def describe(self) -> str:
        if self.requirement:
            return f"401 requirement={self.requirement}"
        if self.accepted:
            return "2xx or the next challenge"
        text = "401 " + " | ".join(self.errors)
        if self.required_input:
            text += f" + required_input ∋ {self.required_input}"
        if self.accept_scheme:
            text += " + Accept-Signature-Scheme"
        return text


@dataclass(frozen=True)
class Check:
    """One probe: what to send (``build``) and what must come back (``expected``).

    ``hint`` explains a wrong ``Signature-Error`` code in plain words (often: which
    older draft answered that way).  ``needs_agent_provider`` checks are skipped
    unless the probe runs an Agent Provider the resource trusts.
    """

    id: str
    step: str  # the verification step, short, for the table
    title: str
    section: str
    expected: Expected
    build: Callable[[Prober], HttpMessage]
    hint: str = ""
    needs_agent_provider: bool = False


def _without(name: str) -> Callable[[Prober], HttpMessage]:
    def build(prober: Prober) -> HttpMessage:
        message = prober.signed()
        message.remove_header(name)
        return message

    return build


def _malformed(name: str, value: str) -> Callable[[Prober], HttpMessage]:
    def build(prober: Prober) -> HttpMessage:
        message = prober.signed()
        message.set_header(name, value)
        return message

    return build


def _signed_for_another_resource(prober: Prober) -> HttpMessage:
    """Signed for ``https://other-resource.example`` (another ``@authority``), sent here."""
    path = httpx.URL(prober.url).raw_path.decode("ascii")
    message = prober.signed(url=f"https://other-resource.example{path}")
    message.target_uri = prober.url
    return message


def _body_tampered(prober: Prober) -> HttpMessage:
    """Signed over one body (``content-digest`` covered), sent with another."""
    body = prober.body or DEFAULT_BODY
    message = prober.signed(
        body=body,
        components=["@method", "@authority", "@path", "content-type", "content-digest", "signature-key"],
    )
    message.body = body.replace(b"}", b',"tampered":true}', 1) if body.endswith(b"}") else body + b" "
    return message


_STEP1 = f'{VERIFY} step 1; Signature Keys -09 "Signature-Error HTTP Response Header"'
_STEP2 = f'{VERIFY} step 2; -11 "HTTP Message Signatures Profile"'
_TOKEN = f'{VERIFY} step 5; -11 "JWT Trust Verification"'
_PRE_11_MISSING = "invalid_request was the code before -11"

#: The battery, in the order of the draft's verification steps.
CHECKS: tuple[Check, ...] = (
    Check(
        "unsigned",
        "challenge",
        "no signature at all",
        '-11 "Requirement Responses" (agent identity)',
        Expected(requirement="agent-token"),
        lambda p: p.message(),
    ),
    Check(
        "no-signature-input",
        "step 1",
        "Signature and Signature-Key, no Signature-Input",
        _STEP1,
        Expected(("invalid_signature",)),
        _without("Signature-Input"),
        _PRE_11_MISSING,
    ),
    Check(
        "no-signature",
        "step 1",
        "Signature-Input and Signature-Key, no Signature",
        _STEP1,
        Expected(("invalid_signature",)),
        _without("Signature"),
        _PRE_11_MISSING,
    ),
    Check(
        "no-signature-key",
        "step 1",
        "Signature and Signature-Input, no Signature-Key",
        _STEP1,
        Expected(("invalid_signature",)),
        _without("Signature-Key"),
        _PRE_11_MISSING,
    ),
    Check(
        "malformed-signature-input",
        "step 1",
        "Signature-Input is not a structured Dictionary",
        _STEP1,
        Expected(("invalid_signature",)),
        _malformed("Signature-Input", 'sig=("@method" "@authority"'),
    ),
    Check(
        "malformed-signature",
        "step 1",
        "Signature holds no valid Byte Sequence",
        _STEP1,
        Expected(("invalid_signature",)),
        _malformed("Signature", "sig=:%%% not base64 %%%:"),
    ),
    Check(
        "malformed-signature-key",
        "step 1",
        "Signature-Key is not a structured Dictionary",
        _STEP1,
        Expected(("invalid_signature",)),
        _malformed("Signature-Key", 'sig=jwt;jwt="unterminated'),
    ),
    Check(
        "no-authority",
        "step 2",
        '"@authority" not covered',
        _STEP2,
        Expected(("invalid_input",), required_input="@authority"),
        lambda p: p.signed(components=["@method", "@path", "signature-key"]),
    ),
    Check(
        "no-signature-key-component",
        "step 2",
        '"signature-key" not covered',
        _STEP2,
        Expected(("invalid_input",), required_input="signature-key"),
        lambda p: p.signed(components=["@method", "@authority", "@path"]),
    ),
    Check(
        "created-too-old",
        "step 3",
        f"created {SKEW // 60} minutes ago",
        f"{VERIFY} step 3",
        Expected(("invalid_signature",)),
        lambda p: p.signed(created=p.now() - SKEW),
    ),
    Check(
        "created-in-future",
        "step 3",
        f"created {SKEW // 60} minutes ahead",
        f"{VERIFY} step 3",
        Expected(("clock_skew",)),
        lambda p: p.signed(created=p.now() + SKEW),
        "invalid_signature was the answer before -11; -11 answers a created in the future with clock_skew",
    ),
    Check(
        "hwk-scheme",
        "step 4",
        "signed with hwk (a bare key), which AAuth agents do not use",
        f'{VERIFY} step 4; Signature Keys -09 "Sending on Errors and on Challenges"',
        Expected(("unsupported_scheme",), accept_scheme=True),
        lambda p: p.signed(signature_key=hwk_key(p.key)),
    ),
    Check(
        "unknown-scheme",
        "step 4",
        "a Signature-Key scheme nobody defines",
        f'{VERIFY} step 4; Signature Keys -09 "Signature-Key HTTP Request Header"',
        Expected(("unsupported_scheme",), accept_scheme=True),
        lambda p: p.signed(signature_key=SignatureKey("sig", "x-aauth-kit-probe", {"id": "probe"})),
    ),
    Check(
        "jwt-garbage",
        "step 5",
        "Signature-Key jwt is not a JWT",
        _TOKEN,
        Expected(("invalid_jwt",)),
        lambda p: p.signed(signature_key=jwt_key("not-a.jwt")),
    ),
    Check(
        "jwt-wrong-typ",
        "step 5",
        "a JWT typed aa-resource+jwt, which never signs a request",
        _TOKEN,
        Expected(("invalid_jwt",)),
        lambda p: p.signed(signature_key=jwt_key(p.resigned(header={"typ": "aa-resource+jwt"}))),
        "the draft checks typ before anything else, so no key discovery is needed to refuse it",
    ),
    Check(
        "jwt-expired",
        "step 5",
        "an agent token that expired an hour ago",
        f"{_TOKEN} (exp: no skew tolerance)",
        Expected(("expired_jwt",), also=DISCOVERY_CODES),
        lambda p: p.signed(signature_key=jwt_key(p.resigned(iat=p.now() - 7200, exp=p.now() - 3600))),
    ),
    Check(
        "well-formed",
        "steps 1-7",
        "a well-formed request with a valid agent token",
        VERIFY,
        Expected(accepted=True),
        lambda p: p.signed(),
        needs_agent_provider=True,
    ),
    Check(
        "signed-for-other-resource",
        "step 7",
        "a signature made for another @authority, replayed here",
        f"{VERIFY} step 7",
        Expected(("invalid_signature",)),
        _signed_for_another_resource,
        needs_agent_provider=True,
    ),
    Check(
        "body-tampered",
        "step 7",
        "content-digest covered, body changed after signing",
        f"{VERIFY} step 7; RFC 9530",
        Expected(("invalid_signature",)),
        _body_tampered,
        needs_agent_provider=True,
    ),
    Check(
        "wrong-key",
        "steps 5-7",
        "signed with a key other than the token's cnf.jwk",
        f'{VERIFY} steps 5-7; -11 "Agent Token Structure" (cnf.jwk)',
        Expected(("invalid_signature", "invalid_key")),
        lambda p: p.signed(key=p.other_key),
        needs_agent_provider=True,
    ),
)
