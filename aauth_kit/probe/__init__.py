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

Steps 0-4 need no trust between the probe and the resource.  The others need the
resource to look at the token: without the probe's :class:`AgentProvider` it cannot
verify one, so a key-discovery code there is reported ``INFO``, not ``FAIL``.  Any
``5xx``, a hang (no answer within the per-request timeout), a ``403`` or a ``401``
without ``Signature-Error`` for a signature failure is a ``FAIL``.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import headers, jws, tokens
from ..errors import AAuthError, UsageError
from ..http_client import httpx
from ..identifiers import DEV_HOSTS, check_url, is_dev_url
from ..keys import Key
from ..message import HttpMessage
from ..profile import sign_request
from ..signature_key import SignatureKey, hwk_key, jwt_key

PASS, FAIL, INFO, SKIP = "PASS", "FAIL", "INFO", "SKIP"
VERIFY = '-11 "Verification (Server)"'
#: Where a probe-made agent token says it comes from when no Agent Provider runs:
#: a name that never resolves (RFC 2606), so no resource can fetch its keys.
UNTRUSTED_ISSUER = "https://agent-provider.invalid"
#: How far ``created`` is moved for the clock checks: well past the default 60 s window.
SKEW = 600
#: The body a body-tampering check signs when the probed request has none.
DEFAULT_BODY = b'{"probe":"aauth-kit"}'
#: Codes a verifier may answer in step 5 before it gets to a token's ``exp``: key
#: discovery for an issuer it cannot or will not fetch.
DISCOVERY_CODES = ("invalid_jwt", "invalid_key", "unknown_key", "issuer_missing", "issuer_mismatch")
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ProbeError(UsageError):
    """The probe cannot run at all: a bad URL or an unreachable host (CLI exit 2)."""


# -- what the draft requires ------------------------------------------------------------
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


# -- what came back ----------------------------------------------------------------------
@dataclass
class Answer:
    """The parts of a response the checks judge; ``failure`` when there was none."""

    status: int | None = None
    signature_error: str | None = None
    requirement: str | None = None
    accept_signature_scheme: str | None = None
    detail: str | None = None
    failure: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        detail = None
        try:
            body = response.json()
            if isinstance(body, dict):
                detail = body.get("detail") or body.get("error_description")
        except ValueError:
            pass
        return cls(
            status=response.status_code,
            signature_error=response.headers.get("signature-error"),
            requirement=response.headers.get("aauth-requirement"),
            accept_signature_scheme=response.headers.get("accept-signature-scheme"),
            detail=detail if isinstance(detail, str) else None,
        )

    def describe(self) -> str:
        if self.failure:
            return self.failure
        parts = [str(self.status)]
        if self.signature_error is not None:
            parts.append(self.signature_error.replace("error=", "", 1))
        if self.requirement is not None:
            parts.append(self.requirement)
        if self.accept_signature_scheme is not None:
            parts.append(f"Accept-Signature-Scheme: {self.accept_signature_scheme}")
        if self.status == 401 and self.signature_error is None and self.requirement is None:
            parts.append("(no Signature-Error)")
        return " ".join(parts)

    def to_json(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if value is not None}


@dataclass
class Result:
    """The verdict on one check."""

    check: Check
    outcome: str
    why: str = ""
    answer: Answer | None = None

    def to_json(self) -> dict:
        return {
            "id": self.check.id,
            "title": self.check.title,
            "section": self.check.section,
            "expected": self.check.expected.describe(),
            "got": self.answer.describe() if self.answer else None,
            "answer": self.answer.to_json() if self.answer else None,
            "result": self.outcome,
            "why": self.why,
        }


@dataclass
class Report:
    """Every check's :class:`Result`; :attr:`exit_code` is 1 when any check failed."""

    method: str
    url: str
    results: list[Result] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(result.outcome == outcome for result in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(FAIL) else 0

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in (PASS, FAIL, INFO, SKIP))
        return f"{len(self.results)} checks: {counts}"

    def table(self) -> str:
        """The human form: one row per check, the reason under each FAIL, INFO and SKIP."""
        titles = ("result", "check", "draft", "expected", "got")
        rows = [
            (
                r.outcome,
                r.check.id,
                r.check.step,
                r.check.expected.describe(),
                r.answer.describe() if r.answer else "-",
            )
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in [titles, *rows]) for i in range(4)]
        lines = [
            f"aauth-kit probe: {self.method} {self.url}",
            f'draft-hardt-oauth-aauth-protocol-11 {VERIFY[4:]}, Signature Keys -09 "Signature-Error HTTP Response Header"',
            "",
        ]
        for row, result in zip([titles, *rows], [None, *self.results]):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
            if result is not None and result.outcome in (FAIL, INFO):
                lines.append(f"       {result.why} [{result.check.section}]")
            elif result is not None and result.outcome == SKIP:
                lines.append(f"       {result.why}")
        lines += ["", self.summary()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "url": self.url,
            "results": [result.to_json() for result in self.results],
            "summary": {o.lower(): self.count(o) for o in (PASS, FAIL, INFO, SKIP)},
            "exit_code": self.exit_code,
        }


# -- judging an answer -------------------------------------------------------------------
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


# -- the Agent Provider a resource may trust ----------------------------------------------
class AgentProvider:
    """The kit's Agent Provider (the Person Server's AP role, -11 "Agent Token Structure") served
    on ``hosts`` as ``identifier``, so that a resource which trusts it accepts the
    probe's agent tokens.  :meth:`close` releases its store; the owner of ``hosts``
    stops the server."""

    LOCAL = "probe"

    def __init__(self, hosts, identifier: str, *, port: int = 0, dev: bool = False, clock=time.time):
        from ..metadata import HttpResolver
        from ..servers.ps import PersonServer

        self._dir = tempfile.TemporaryDirectory(prefix="aauth-probe-ap-")
        self.identifier = identifier
        self.dev = dev
        self.ps = PersonServer(
            identifier,
            key=Key.generate(kid="probe-ap"),
            resolver=HttpResolver(hosts.fetch(), dev=dev),
            data_dir=self._dir.name,
            dev=dev,
            clock=clock,
            name="aauth-kit probe",
        )
        try:
            hosts.add(identifier, self.ps.app, port=port)
        except BaseException:
            self.close()
            raise

    @classmethod
    def on_loopback(cls, hosts, *, port: int = 0, clock=time.time) -> AgentProvider:
        """Dev mode: served at ``http://127.0.0.1:PORT`` (a free port unless ``port``), an
        identifier a resource in dev mode accepts (kit decision)."""
        if not port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        return cls(hosts, f"http://127.0.0.1:{port}", port=port, dev=True, clock=clock)

    def agent_token(self, agent_key: Key) -> str:
        """A fresh agent token binding ``agent_key`` (``cnf.jwk``)."""
        return self.ps.issue_agent_token(self.LOCAL, agent_key)

    def close(self) -> None:
        self.ps.close()
        self._dir.cleanup()


# -- what the probe sends ----------------------------------------------------------------
@dataclass
class Prober:
    """The requests of one probe run: the target, the probe's agent key and token.

    ``agent_provider`` is an :class:`AgentProvider` the resource trusts, or ``None``:
    then the probe's token names :data:`UNTRUSTED_ISSUER`, which nobody can verify.
    """

    url: str
    method: str = "GET"
    body: bytes = b""
    agent_provider: AgentProvider | None = None
    clock: Callable[[], float] = time.time
    key: Key = field(default_factory=lambda: Key.generate(kid="probe-agent"))
    other_key: Key = field(default_factory=lambda: Key.generate(kid="probe-other"))

    token: str = field(init=False)  # the agent token every well-formed request presents
    token_key: Key = field(init=False)  # the key that signed it

    def __post_init__(self):
        if self.agent_provider is not None:
            self.token = self.agent_provider.agent_token(self.key)
            self.token_key = self.agent_provider.ps.key
        else:
            now = self.now()
            self.token_key = self.key
            self.token = tokens.mint_agent_token(
                self.key,
                iss=UNTRUSTED_ISSUER,
                sub="aauth:probe@agent-provider.invalid",
                cnf=self.key.public_jwk(kid=False),
                iat=now,
                exp=now + 3600,
            )

    def now(self) -> int:
        return int(self.clock())

    def message(self, *, body: bytes | None = None, url: str | None = None) -> HttpMessage:
        body = self.body if body is None else body
        fields = [("Content-Type", "application/json")] if body else []
        return HttpMessage(method=self.method, target_uri=url or self.url, headers=fields, body=body)

    def signed(
        self,
        *,
        signature_key: SignatureKey | None = None,
        key: Key | None = None,
        created: int | None = None,
        components: list[str] | None = None,
        body: bytes | None = None,
        url: str | None = None,
    ) -> HttpMessage:
        """A request signed the AAuth way (-11 profile), each argument changing one thing."""
        message = self.message(body=body, url=url)
        sign_request(
            message,
            key or self.key,
            signature_key or jwt_key(self.token),
            created=self.now() if created is None else created,
            components=components,
        )
        return message

    def resigned(self, *, header: dict | None = None, **claims) -> str:
        """The probe's agent token with ``header`` members and ``claims`` changed, signed
        again by its issuer's key (so only the change is wrong with it)."""
        decoded = jws.decode_unverified(self.token)
        return jws.sign_compact(
            {**decoded.header, **(header or {})}, {**decoded.payload, **claims}, self.token_key
        )


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


# -- running -------------------------------------------------------------------------------
def check_target(url: str, *, dev: bool = False) -> str:
    """The probe's target: an https URL (a query is fine), or with ``dev`` loopback http with a
    port, by the kit's one URL policy (:func:`identifiers.check_url`).  Raises :class:`ProbeError`."""
    if not dev and isinstance(url, str) and is_dev_url(urlsplit(url)):
        raise ProbeError(f"{url} is http: AAuth resources are https; add --dev for a loopback dev resource")
    try:
        return check_url(url, what="a probe target", dev=dev, query=True)
    except AAuthError as exc:
        raise ProbeError(exc.detail) from None


def check_method(method: str) -> str:
    if not _METHOD.fullmatch(method or ""):
        raise ProbeError(f"not an HTTP method: {method!r}")
    return method.upper()


def send(client: httpx.Client, message: HttpMessage, timeout: float, *, first: bool = False) -> Answer:
    """Send ``message`` as it is; a hang or a broken connection is an :class:`Answer` with
    ``failure``.  A connection that breaks is tried once more on a new one, so that a
    server closing a kept-alive connection after the previous answer does not count
    against this check.  When the ``first`` request cannot connect at all,
    :class:`ProbeError`: the host is unreachable."""
    fields = [(name, value) for name, value in message.headers if name.lower() != "host"]
    for attempt in (1, 2):
        try:
            response = client.request(
                message.method, message.target_uri, headers=fields, content=message.body, timeout=timeout
            )
        except httpx.TimeoutException:
            return Answer(
                failure=f"no answer within {timeout:g} s: the resource hangs instead of refusing the request"
            )
        except httpx.ConnectError as exc:
            if first:
                raise ProbeError(f"cannot reach {message.target_uri}: {exc}") from None
            return Answer(failure=f"the resource stopped accepting connections ({exc})")
        except httpx.TransportError as exc:
            if attempt == 1:
                continue
            return Answer(failure=f"the connection broke without an answer ({type(exc).__name__}: {exc})")
        return Answer.of(response)


def probe(
    url: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    dev: bool = False,
    client: httpx.Client | None = None,
    agent_provider: AgentProvider | None = None,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    checks: tuple[Check, ...] = CHECKS,
) -> Report:
    """Run ``checks`` against ``url`` and return the :class:`Report`.

    ``client`` is the ``httpx.Client`` to send with (the lab's, for a virtual host);
    ``agent_provider`` enables the checks that need a trusted agent token; ``timeout``
    bounds every request (a hang is a ``FAIL``).  Raises :class:`ProbeError` for a bad
    URL or method, or when the host cannot be reached.
    """
    url, method = check_target(url, dev=dev), check_method(method)
    prober = Prober(url, method, body, agent_provider, clock)
    own_client = client is None
    if own_client:
        client = httpx.Client(trust_env=urlsplit(url).hostname not in DEV_HOSTS)
    report = Report(method, url)
    try:
        for check in checks:
            if check.needs_agent_provider and agent_provider is None:
                report.results.append(
                    Result(check, SKIP, "needs an Agent Provider the resource trusts (--agent-provider)")
                )
                continue
            first = not any(result.answer for result in report.results)
            answer = send(client, check.build(prober), timeout, first=first)
            report.results.append(Result(check, *judge(check, answer), answer=answer))
    finally:
        if own_client:
            client.close()
    return report


def with_checks(*ids: str) -> tuple[Check, ...]:
    """The checks named ``ids``, in battery order (for a focused run)."""
    unknown = set(ids) - {check.id for check in CHECKS}
    if unknown:
        raise ProbeError(f"no such check: {', '.join(sorted(unknown))}")
    return tuple(check for check in CHECKS if check.id in ids)


def parse_body(text: str | None) -> bytes:
    """``--body``: a JSON text, sent as ``application/json``."""
    if text is None:
        return b""
    try:
        json.loads(text)
    except ValueError as exc:
        raise ProbeError(f"--body is not JSON: {exc}") from None
    return text.encode()


__all__ = [
    "AgentProvider",
    "Answer",
    "CHECKS",
    "Check",
    "Expected",
    "ProbeError",
    "Prober",
    "Report",
    "Result",
    "check_target",
    "judge",
    "parse_body",
    "probe",
    "send",
    "with_checks",
]
