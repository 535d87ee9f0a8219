"""Token revocation, -11 "Token Revocation" : the request a server
sends in its own right, what the answer means, and how a recipient reads and checks it.

A revoker — an Agent Provider (agent tokens, at the PS), a Person Server (person and
auth tokens, at resources; person tokens also at each Access Server it presented them to),
an Access Server (auth tokens, at resources) or a resource (resource tokens, at the PS) —
sends::

    POST <recipient's revocation_endpoint>
    Content-Type: application/json
    Content-Digest: sha-256=:…:
    Signature-Key: sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json";kid="ps-1"
    Signature-Input: sig=("@method" "@authority" "@path" "content-type" "content-digest" "signature-key");created=…
    Signature: sig=:…:

    {"jti":"unique-token-identifier","exp":1788727813}

The body names no issuer: the recipient keys the revocation by the *verified signer*
(the ``id`` of ``Signature-Key``) and ``jti``, and may forget it once ``exp`` (plus
clock skew) has passed.  Answers: ``200`` once every cascade is terminal — with an empty
body, or, from an Access Server to the Person Server that revoked a person token there,
``{"downstream": [{"recipient", "error"}]}`` naming the resources its cascade could not
tell (the PS keeps that report for the person; a PS tells an Agent Provider nothing of the
kind: under -11 "Token Revocation" an empty ``200`` tells a revoker the token is refused
from now on); ``202`` with ``Location``, polled with a signed ``GET`` until ``200``; errors
``400 invalid_request``, ``401`` + ``Signature-Error``, ``403 unsupported_iss``, ``429
rate_limited`` (+ ``Retry-After``), ``500 server_error``.  There is no ``404``: an unknown
``jti`` is revoked all the same (an intermediate editor's copy of -11 had one, and put
``iss`` in the body: that form is read too, its ``iss`` must be the signer).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urljoin

from .claims import MAX_LIFETIME
from .deferred_headers import parse_retry_after
from .errors import AAuthError, UsageError
from .headers import HeaderError
from .http_client import httpx, origin_of, request_capped
from .identifiers import check_endpoint_url
from .jwks import KeyResolver
from .keys import Key
from .message import HttpMessage
from .problem import error_code, problem_of
from .profile import DEFAULT_WINDOW, sign_request, verify_request
from .signature_key import jwks_uri_key

#: Where the kit's servers take revocations (advertised as ``revocation_endpoint``).
REVOCATION_PATH = "/revoke"
#: Seconds a revocation is kept past the token's ``exp`` (clock skew between the parties).
SKEW = 60
#: A revocation without ``exp`` (the intermediate copy's form) is kept this long: no person or auth
#: token lives longer (-11 "Person Token Structure", "Auth Token Structure").
DEFAULT_RETENTION = MAX_LIFETIME
#: A ``202`` is polled at most this often before the revoker gives up.
MAX_POLLS = 20
#: Seconds one revocation request may take in all, the recipient's metadata, every poll and
#: every pause included (-11 is silent; OWASP ASVS level 2: bounded server-side requests).
SEND_TIMEOUT = 15.0
#: Seconds a ``202``'s ``Retry-After`` may make the revoker pause at most (a recipient asking
#: for more is polled sooner: the revocation still ends within :data:`SEND_TIMEOUT`).
MAX_PAUSE = 5
#: Revocation requests :func:`revoke_each` has in flight at once (-11 is silent; OWASP ASVS
#: level 2: one cascade does not flood a recipient nor the revoker's egress).
MAX_IN_FLIGHT = 10
#: Of those, requests to one recipient at once: a recipient slow to answer holds at most this
#: many places, never the whole cascade (-11 is silent; OWASP ASVS level 2, as above).
MAX_IN_FLIGHT_PER_RECIPIENT = 2
#: The ``error`` a cascade records (for the person, never for the revoker) for a recipient
#: that advertises no usable ``revocation_endpoint`` (-11 "Token Revocation": optional).
UNSUPPORTED = "revocation_unsupported"
#: Entries of a ``downstream`` report read at most, and characters kept of each of its strings
#: (-11 is silent; OWASP ASVS level 2: the report goes into the person's audit trail).
MAX_DOWNSTREAM = 100
MAX_REPORT_STRING = 256
#: The ``error`` a cascade records for a recipient with an endpoint it could not reach, or
#: that stayed pending (503); the draft names no code for this, the kit keeps its own.
UNAVAILABLE = "revocation_unavailable"
#: The ``error`` for a recipient whose answer cannot be read: a ``202`` whose ``Location`` is
#: no URL on the endpoint's origin or whose ``Retry-After`` is malformed (502), an unknown status.
INVALID_RESPONSE = "invalid_response"


@dataclass(frozen=True)
class Revocation:
    """A revocation as the recipient read it: the token ``jti`` of the verified ``signer``."""

    signer: str  # the Signature-Key ``id``: the issuer whose token is revoked
    dwk: str  # the signer's well-known document: what kind of party it is
    jti: str
    exp: int | None  # None: the intermediate copy's body without exp

    def keep_until(self, now: float) -> float:
        """When the recipient may forget this revocation (see :func:`keep_until`)."""
        return keep_until(self.exp, now)


def keep_until(exp: int | None, now: float, *, retention: int = DEFAULT_RETENTION) -> float:
    """When a recipient may forget a revocation: ``exp`` + :data:`SKEW`, but never later
    than the longest a person or auth token issued now could live (bounded memory); a
    revocation without ``exp`` is kept that long."""
    horizon = now + retention
    return min(exp if exp is not None else horizon, horizon) + SKEW


# -- the recipient ---------------------------------------------------------------------------
def parse_revocation_body(body: bytes, *, signer: str) -> tuple[str, int | None]:
    """``(jti, exp)`` from a revocation body (-11 "Token Revocation"), else ``invalid_request`` (400).

    ``jti`` must be a non-empty string, ``exp`` (when present) an integer.  The intermediate form
    carries ``iss``: it must be the verified ``signer`` (``403 unsupported_iss``
    otherwise — nobody revokes another issuer's tokens).
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise AAuthError(
            "invalid_request", 'the body must be a JSON object {"jti": "...", "exp": 1788727813}'
        )
    jti, exp = document.get("jti"), document.get("exp", None)
    if not isinstance(jti, str) or not jti:
        raise AAuthError("invalid_request", "jti must be a non-empty string")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool)):
        raise AAuthError("invalid_request", "exp must be an integer (the token's exp, Unix seconds)")
    if "iss" in document and document["iss"] != signer:
        raise AAuthError(
            "unsupported_iss", f"the signer {signer} cannot revoke tokens of {document['iss']!r}"
        )
    return jti, exp


async def verify_revocation(
    message: HttpMessage,
    *,
    resolver: KeyResolver,
    accept: Collection[str],
    now: int | None = None,
    window: int = DEFAULT_WINDOW,
    dev: bool = False,
) -> Revocation:
    """Check a revocation request the way every recipient must.

    The seven steps of "Verification (Server)" with the ``jwks_uri`` scheme only (a
    server signing in its own right) and the body covered (``401`` + ``Signature-Error``);
    then the signer's kind — its ``dwk`` — must be one of ``accept`` (``403
    unsupported_iss``); then the body (``400 invalid_request``).
    """
    now = int(time.time()) if now is None else now
    verified = await verify_request(
        message,
        resolver=resolver,
        now=now,
        window=window,
        accept_schemes=("jwks_uri",),
        body_required=True,
        dev=dev,
    )
    signer, dwk = verified.signature_key.params["id"], verified.signature_key.params["dwk"]
    if dwk not in accept:
        raise AAuthError(
            "unsupported_iss", f"{signer} signs as {dwk}; revocations here come from {', '.join(accept)}"
        )
    jti, exp = parse_revocation_body(message.body, signer=signer)
    return Revocation(signer, dwk, jti, exp)


# -- the revoker -------------------------------------------------------------------------------
def revocation_body(jti: str, exp: int) -> bytes:
    """``{"jti":…,"exp":…}`` (compact JSON)."""
    return json.dumps({"jti": jti, "exp": exp}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Revoker:
    """A server revoking its own tokens elsewhere: ``issuer`` is its identifier, ``dwk`` the
    well-known document that publishes ``key`` (``aauth-person.json`` for a PS,
    ``aauth-agent.json`` for an AP, ``aauth-access.json`` for an AS, ``aauth-resource.json``
    for a resource)."""

    issuer: str
    dwk: str
    key: Key
    clock: Callable[[], float] = time.time

    @property
    def kid(self) -> str:
        """The ``kid`` the signer's JWKS gives ``key`` (its own, else its thumbprint; :func:`jwks.jwks`)."""
        return self.key.kid or self.key.thumbprint()

    def sign(self, message: HttpMessage) -> HttpMessage:
        """Sign ``message`` in place: ``sig=jwks_uri;id;dwk;kid``, a body covered."""
        sign_request(
            message, self.key, jwks_uri_key(self.issuer, self.dwk, self.kid), created=int(self.clock())
        )
        return message

    def request(self, endpoint: str, jti: str, exp: int) -> HttpMessage:
        """The signed ``POST`` of -11 "Token Revocation"."""
        message = HttpMessage(
            "POST", endpoint, [("Content-Type", "application/json")], revocation_body(jti, exp)
        )
        return self.sign(message)

    async def revoke(
        self,
        client,
        endpoint: str,
        jti: str,
        exp: int,
        *,
        sleep: Callable[[float], object] = asyncio.sleep,
        max_polls: int = MAX_POLLS,
    ) -> list[dict]:
        """Send the revocation over ``client`` (an ``httpx.AsyncClient``) and follow a ``202``
        to its end, the ``200``; return its ``downstream`` report (:func:`downstream_report`).
        All of it within :data:`SEND_TIMEOUT`, each pause at most :data:`MAX_PAUSE`: whatever
        a recipient answers, it cannot hold the revoker longer.

        Raises :class:`AAuthError`: the recipient's code and status (``unsupported_iss``,
        ``invalid_request``, a ``Signature-Error`` code, ``rate_limited`` with member
        ``retry_after``, …), :data:`INVALID_RESPONSE` (502) for a ``202`` it cannot follow, or
        :data:`UNAVAILABLE` (503) when it cannot be reached or stays pending.
        """
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                response = await _send(client, self.request(endpoint, jti, exp))
                for _ in range(max_polls):
                    if response.status_code != 202:
                        break
                    location = _location(response, endpoint)
                    await _pause(sleep, _retry_after(response, endpoint, self.clock()))
                    response = await _send(client, self.sign(HttpMessage("GET", location)))
                else:
                    raise AAuthError(
                        UNAVAILABLE, f"{endpoint} still pending after {max_polls} polls", status=503
                    )
        except TimeoutError:
            raise AAuthError(
                UNAVAILABLE, f"{endpoint}: no answer within {SEND_TIMEOUT} s", status=503
            ) from None
        if response.status_code != 200:
            raise _error(response)
        return downstream_report(response.content)


def downstream_report(body: bytes) -> list[dict]:
    """The ``downstream`` member of a ``200`` (an Access Server's cascade, -11 "Token
    Revocation"): the ``{"recipient", "error"}`` objects with string members, the first
    :data:`MAX_DOWNSTREAM` of them, each string cut at :data:`MAX_REPORT_STRING` characters;
    ``[]`` for an empty body, and anything else is not read."""
    try:
        document = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        return []
    entries = document.get("downstream") if isinstance(document, dict) else None
    report = [
        {"recipient": entry["recipient"][:MAX_REPORT_STRING], "error": entry["error"][:MAX_REPORT_STRING]}
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
        and isinstance(entry.get("recipient"), str)
        and isinstance(entry.get("error"), str)
    ]
    return report[:MAX_DOWNSTREAM]


async def revoke_at(
    revoker: Revoker,
    client,
    resolver: KeyResolver,
    recipient: str,
    dwk: str,
    jti: str,
    exp: int,
    *,
    dev: bool,
    within: float | None = None,
) -> tuple[str | None, list[dict]]:
    """Revoke ``jti`` at ``recipient``, found by its ``dwk`` metadata's ``revocation_endpoint``
    (fetched through ``resolver``, behind egress admission), all within ``within`` seconds
    (default :data:`SEND_TIMEOUT`): ``(None, report)`` when it answered ``200``, else ``(error,
    [])`` — :data:`UNSUPPORTED` without a usable endpoint, :data:`UNAVAILABLE` without metadata
    or an answer in time, :data:`INVALID_RESPONSE` for an answer that cannot be read, or the
    recipient's own code (its first :data:`MAX_REPORT_STRING` characters)."""
    try:
        async with asyncio.timeout(SEND_TIMEOUT if within is None else within):
            try:
                document = await resolver.metadata(recipient, dwk)
            except AAuthError:
                return UNAVAILABLE, []
            try:
                endpoint = check_endpoint_url(document.get("revocation_endpoint"), dev=dev)
            except AAuthError:
                return UNSUPPORTED, []
            return None, await revoker.revoke(client, endpoint, jti, exp)
    except TimeoutError:
        return UNAVAILABLE, []
    except AAuthError as error:  # the recipient's own code: cut as a report's strings are
        return error.code[:MAX_REPORT_STRING], []
    except (UsageError, httpx.InvalidURL):  # a URL of the recipient's that is none after all
        return INVALID_RESPONSE, []


async def revoke_each(
    revoker: Revoker, client, resolver: KeyResolver, jobs: list[tuple[str, str, str, int]], *, dev: bool
) -> list[tuple[str | None, list[dict]]]:
    """:func:`revoke_at` for each ``(recipient, dwk, jti, exp)`` of ``jobs``, the outcomes in
    their order: concurrently, :data:`MAX_IN_FLIGHT` at once, :data:`MAX_IN_FLIGHT_PER_RECIPIENT`
    of them to one recipient, which has :data:`SEND_TIMEOUT` in all from its first request, so
    a recipient that stalls or answers slowly holds up no other; a job of a recipient that is
    :data:`UNAVAILABLE` or out of time is that too, without a request."""
    loop, gate, unavailable = asyncio.get_running_loop(), asyncio.Semaphore(MAX_IN_FLIGHT), set()
    lanes = {recipient: asyncio.Semaphore(MAX_IN_FLIGHT_PER_RECIPIENT) for recipient, *_ in jobs}
    deadlines: dict[str, float] = {}

    async def one(job: tuple[str, str, str, int]) -> tuple[str | None, list[dict]]:
        recipient = job[0]
        async with lanes[recipient], gate:
            left = deadlines.setdefault(recipient, loop.time() + SEND_TIMEOUT) - loop.time()
            if recipient in unavailable or left <= 0:
                return UNAVAILABLE, []
            outcome = await revoke_at(revoker, client, resolver, *job, dev=dev, within=left)
            if outcome[0] == UNAVAILABLE:
                unavailable.add(recipient)
            return outcome

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def _send(client, message: HttpMessage):
    """One request (its time counts toward the :data:`SEND_TIMEOUT` of :meth:`Revoker.revoke`)."""
    try:
        return await request_capped(
            client, message.method, message.target_uri, headers=message.headers, content=message.body
        )
    except httpx.HTTPError as exc:
        raise AAuthError(
            UNAVAILABLE, f"{message.method} {message.target_uri} failed: {exc!r}", status=503
        ) from None


async def _pause(sleep, seconds: float) -> None:
    result = sleep(seconds)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result


def _location(response, endpoint: str) -> str:
    """The ``202``'s pending URL, resolved against the endpoint and on its origin, else
    :data:`INVALID_RESPONSE` (a ``mailto:``, a malformed URL, another origin)."""
    location = response.headers.get("location")
    try:
        url = urljoin(endpoint, location) if location else None
        same = url is not None and origin_of(url) == origin_of(endpoint)
    except (UsageError, ValueError):
        same = False
    if not same:
        raise AAuthError(
            INVALID_RESPONSE, f"{endpoint} answered 202 without a Location on its origin", status=502
        )
    return url


def _retry_after(response, endpoint: str, now: float) -> int:
    """Seconds to pause before the next poll: the ``202``'s ``Retry-After`` (1 when absent),
    at most :data:`MAX_PAUSE`; a malformed one is :data:`INVALID_RESPONSE`."""
    try:
        delay = parse_retry_after(response.headers.get("retry-after"), now=now, default=1)
    except HeaderError:
        raise AAuthError(
            INVALID_RESPONSE, f"{endpoint} answered 202 with a malformed Retry-After", status=502
        ) from None
    return min(delay, MAX_PAUSE)


def _error(response) -> AAuthError:
    """The recipient's error: problem+json ``error`` (pre -09 ``error_description``), else the
    ``Signature-Error`` code, else ``server_error``/``invalid_response`` by status."""
    body = problem_of(response.content)
    detail = (body.get("detail") or body.get("error_description")) if error_code(response.content) else None
    code = error_code(response.content, response.headers.get("signature-error"))
    if code is None:
        code = "server_error" if response.status_code >= 500 else INVALID_RESPONSE
    members = {}
    if "retry-after" in response.headers:
        try:
            members["retry_after"] = parse_retry_after(response.headers["retry-after"])
        except HeaderError:
            pass
    detail = detail if isinstance(detail, str) else f"{response.request.url} answered {response.status_code}"
    return AAuthError(code, detail, status=response.status_code, **members)
