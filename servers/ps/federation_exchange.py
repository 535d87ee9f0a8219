"""The Person Server's exchange with an Access Server (-11 "AS Token Endpoint", "AS Response",
"Auth Token Delivery"): its metadata, requests signed as this PS (``sig=jwks_uri``), the
deferred answers it follows itself, and what the agent gets of the final answer.

* ``requirement=claims`` → the claims POSTed to ``Location`` (-11 "Claims Required"; the
  person's ``name`` only when the person approved this request, never ``sub``: the resource
  token carries it; claims this PS does not hold are left out);
* ``requirement=interaction`` or ``approval`` → passed down to the agent
  (:class:`AccessServerPending`, :mod:`.federation_pending`): "The PS directs the user to the
  AS's interaction URL, or passes the interaction requirement back to the agent";
  ``requirement=clarification`` too, to an agent that declared the ``clarification``
  capability ("The PS MAY pass the clarification down to the agent via a 202 response");
* any other ``202`` → polled; ``402`` → relayed to the agent with the AS's
  ``WWW-Authenticate`` (this PS makes no payments);
* the ``200``'s auth token verified before it goes to the agent (-11 "Auth Token Delivery").

The AS's refusals reach the agent with their code and status; a ``401`` (the AS does not take
this PS's signature) becomes ``403 denied``; no verifiable answer in :data:`FEDERATION_TIMEOUT`
seconds (unreachable, refused by egress admission, a ``5xx``, a malformed or unverifiable
answer) is ``502 as_unreachable``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin

from aauth_kit import claims, tokens
from aauth_kit.deferred_headers import parse_retry_after
from aauth_kit.errors import AAuthError, TokenError, UsageError
from aauth_kit.headers import HeaderError, parse_requirement
from aauth_kit.http_client import httpx, origin_of, request_capped
from aauth_kit.identifiers import check_endpoint_url
from aauth_kit.interaction import normalize_code
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK, validate_metadata
from aauth_kit.problem import error_code, problem_of

from .clarification import MAX_OPTIONS, MAX_TEXT
from .context import Context
from .minting import subject

#: Seconds one exchange with an AS may take (discovery, request, claims, polls).
FEDERATION_TIMEOUT = 10
#: Answers of one AS followed at most (claims, polls) before the PS gives up.
MAX_ROUNDS = 5
#: Longest pause between two polls of an AS's pending URL.
MAX_POLL_PAUSE = 2
#: The AS's requirements the PS passes down to every agent (-11 "AS Response").
PASSED_DOWN = ("interaction", "approval")


def passed_down(capabilities) -> tuple[str, ...]:
    """What goes down to an agent that declared ``capabilities``: a clarification only to one
    that can answer it (-11 "Clarification Chat")."""
    return PASSED_DOWN + (("clarification",) if "clarification" in (capabilities or ()) else ())


class AccessServerPending(Exception):
    """The AS answered ``202`` with a requirement the PS passes down: :attr:`state` is what the
    PS keeps of it (``location``, ``requirement``, ``url`` and ``code`` for an interaction,
    ``status``, ``retry_after``)."""

    def __init__(self, state: dict):
        super().__init__(state["requirement"])
        self.state = state


async def exchange(
    ctx: Context,
    access_server: str,
    first: Callable[[object], Awaitable[object]],
    person: str,
    *,
    consented: bool,
    passes_down: tuple[str, ...] = PASSED_DOWN,
):
    """Send ``first(client)`` and follow the AS's answers (claims, polls) until one that is not
    ``202``, or a ``202`` the PS passes down (``passes_down``); raises ``502 as_unreachable`` past
    :data:`FEDERATION_TIMEOUT` or :data:`MAX_ROUNDS`."""
    try:
        async with asyncio.timeout(FEDERATION_TIMEOUT):
            async with ctx.client_factory(timeout=FEDERATION_TIMEOUT) as client:
                response = await first(client)
                for _ in range(MAX_ROUNDS):
                    requirement = _requirement(response)
                    if response.status_code != 202 or requirement in passes_down:
                        return response
                    location = _location(response, access_server)
                    if requirement == "claims":
                        released = _claims(person, _required_claims(response), consented=consented)
                        response = await send(ctx, client, "POST", location, released)
                    else:
                        await asyncio.sleep(_pause(response))
                        response = await send(ctx, client, "GET", location)
                raise unreachable(access_server, f"still pending after {MAX_ROUNDS} answers")
    except TimeoutError:
        raise unreachable(access_server, f"no answer within {FEDERATION_TIMEOUT} s") from None
    except httpx.HTTPError as error:
        raise unreachable(access_server, f"it cannot be reached: {error!r}") from None


async def answer(ctx: Context, response, federation: dict, person: str, agent: tuple[str, str]) -> dict:
    """What the agent gets of the AS's answer: the verified auth token's ``200`` body, the
    refusal raised, or :class:`AccessServerPending` for a requirement passed down."""
    access_server = federation["access_server"]
    if response.status_code == 202:
        raise AccessServerPending(pending_state(ctx, response, access_server))
    if response.status_code == 200:
        return await delivered(ctx, response, federation, person, agent)
    raise refusal(response, access_server)


def pending_state(ctx: Context, response, access_server: str) -> dict:
    """What the PS keeps of a ``requirement=interaction`` or ``approval`` answer; the interaction's
    ``url`` must be an https endpoint URL and its ``code`` a code (-11 "Interaction Required").
    The PS passes that URL to the agent as its own ``202``, so it must be the AS's own page: on
    the AS's origin and never on this PS's (-11 is silent; OWASP ASVS level 2 V5.1.5, redirects
    only to allowed destinations).  Else the AS's answer is unusable: ``502 as_unreachable``."""
    requirement = parse_requirement(response.headers["aauth-requirement"])
    state = {
        "location": _location(response, access_server),
        "requirement": requirement.requirement,
        "retry_after": _pause(response),
        "status": "pending",
    }
    try:
        status = json.loads(response.content).get("status")
    except (ValueError, AttributeError):
        status = None
    if status == "interacting":
        state["status"] = status
    if requirement.requirement == "clarification":
        state["clarification"] = _question(response, access_server)
    if requirement.requirement == "interaction":
        try:
            check_endpoint_url(requirement.url, dev=ctx.dev)
            normalize_code(requirement.code)
        except AAuthError as error:
            raise unreachable(access_server, f"its interaction requirement: {error.detail}") from None
        if not _same_origin(requirement.url, access_server) or _same_origin(requirement.url, ctx.identifier):
            raise unreachable(access_server, "its interaction url is not on its own origin")
        state.update(url=requirement.url, code=requirement.code)
    return state


def unreachable(access_server: str, why: str) -> AAuthError:
    return AAuthError("as_unreachable", f"the Access Server {access_server}: {why}")


async def token_endpoint(ctx: Context, access_server: str) -> str:
    """-11 "Access Server Metadata": the AS's ``auth_token_endpoint``, on its own origin."""
    try:
        document = await ctx.resolver.metadata(access_server, ACCESS_DWK)
        validate_metadata(document, access_server, ACCESS_DWK, dev=ctx.dev, complete=True)
    except AAuthError as error:
        raise unreachable(access_server, f"no usable metadata: {error.detail}") from None
    endpoint = document["auth_token_endpoint"]
    if not _same_origin(endpoint, access_server):
        raise unreachable(access_server, "its auth_token_endpoint is on another origin")
    return endpoint


async def send(ctx: Context, client, method: str, url: str, body: dict | None = None):
    """One request signed as this PS in its own right (``sig=jwks_uri``, ``aauth-person.json``)."""
    headers = [("Content-Type", "application/json")] if body is not None else []
    content = json.dumps(body).encode() if body is not None else b""
    message = ctx.revoker.sign(HttpMessage(method, url, headers, content))
    return await request_capped(client, method, url, headers=message.headers, content=message.body)


def _location(response, access_server: str) -> str:
    location = response.headers.get("location")
    try:
        url = urljoin(access_server, location) if location else None
    except ValueError:  # urljoin refuses "https://[::1"
        url = None
    if url is None or not _same_origin(url, access_server):
        raise unreachable(access_server, "its 202 has no Location on its own origin")
    return url


def _same_origin(url: str, access_server: str) -> bool:
    """Whether ``url`` is an http(s) URL on the AS's origin (a ``mailto:`` or a malformed URL is not)."""
    try:
        return origin_of(url) == origin_of(access_server)
    except (UsageError, ValueError):
        return False


def _claims(person: str, asked: list[str], *, consented: bool) -> dict:
    """-11 "Claims Required": the PS provides the requested claims it holds; "Claims not
    recognized by the recipient SHOULD be ignored".  The person's identity travels in the
    resource token (``ps`` and ``sub``, -11 "PS-to-AS Token Request"), so published -11 has the
    PS leave ``sub`` out of its answer.  This PS holds the person's ``name``, which it releases
    only with the person's consent to this request."""
    held = {"name": person} if consented else {}
    return {name: held[name] for name in asked if name in held}


def _pause(response) -> float:
    """The AS's ``Retry-After`` (RFC 9110 §10.2.3: seconds or an HTTP-date), at most
    :data:`MAX_POLL_PAUSE`; unreadable (``nan``, ``1e400``, words) → :data:`MAX_POLL_PAUSE`."""
    try:
        return min(parse_retry_after(response.headers.get("retry-after"), default=1), MAX_POLL_PAUSE)
    except HeaderError:
        return MAX_POLL_PAUSE


class PaymentRequired(AAuthError):
    """The AS's ``402``, relayed with its payment challenge (``WWW-Authenticate``)."""

    def __init__(self, detail: str, challenge: str | None):
        super().__init__("payment_required", detail, status=402)
        self.challenge = challenge

    def response_headers(self) -> list[tuple[str, str]]:
        extra = [("www-authenticate", self.challenge)] if self.challenge else []
        return extra + super().response_headers()


def refusal(response, access_server: str) -> AAuthError:
    """The AS's terminal answer as the agent gets it (see the module doc)."""
    status = response.status_code
    if status == 402:
        detail = f"the Access Server {access_server} asks for a payment this PS does not make"
        return PaymentRequired(detail, response.headers.get("www-authenticate"))
    if status == 401:
        return AAuthError("denied", f"the Access Server {access_server} does not take this PS's requests")
    problem, code = problem_of(response.content), error_code(response.content)
    if 400 <= status < 500 and code is not None and code.isidentifier():
        detail = problem.get("detail") if isinstance(problem.get("detail"), str) else code
        return AAuthError(code, f"the Access Server {access_server}: {detail[:500]}", status=status)
    return unreachable(access_server, f"it answered {status}")


async def delivered(ctx: Context, response, federation: dict, person: str, agent: tuple[str, str]) -> dict:
    """-11 "Auth Token Delivery": signature with the AS's JWKS, ``iss`` the AS asked, ``aud`` the
    resource, ``cnf.jwk`` the agent's key, ``sub`` this person's directed identifier there,
    ``scope`` no broader than the resource token's, ``exp`` not past the tokens it was asked
    with (the presented token, the agent's, a sub-agent's or upstream token); then the token
    goes to the agent."""
    access_server = federation["access_server"]
    try:
        answer = json.loads(response.content)
        token = await tokens.verify_token(
            answer["auth_token"],
            typ=claims.AUTH_TYP,
            resolver=ctx.resolver,
            now=int(ctx.clock()),
            dev=ctx.dev,
            expected_aud=federation["resource"],
            signing_key_jwk=federation["cnf_jwk"],
        )
    except (ValueError, TypeError, KeyError, TokenError) as error:
        raise unreachable(access_server, f"its auth token does not verify: {error}") from None
    wrong = [
        name
        for name, ok in (
            ("iss", token.iss == access_server and token.dwk == ACCESS_DWK),
            ("ps", token.ps == ctx.identifier),
            ("sub", token.sub == subject(ctx, person, federation["resource"])),
            ("scope", set((token.scope or "").split()) <= set((federation["scope"] or "").split())),
            ("exp", token.exp <= federation["not_after"]),
        )
        if not ok
    ]
    if wrong:
        raise unreachable(access_server, f"its auth token has the wrong {', '.join(wrong)}")
    ctx.store.audit(
        agent[1],
        "auth_token_delivered",
        federation["resource"],
        {
            "access_server": access_server,
            "jti": token.jti,
            "scope": token.scope,
            "presented": federation.get("presented"),
        },
        person=person,
    )
    return {"auth_token": token.token, "expires_in": max(token.exp - int(ctx.clock()), 0)}


def _question(response, access_server: str) -> dict:
    """-11 "Clarification Required": ``clarification`` (Markdown, at most :data:`~.clarification.MAX_TEXT`
    characters), ``timeout`` and ``options`` when well formed; untrusted text for the agent."""
    try:
        body = json.loads(response.content)
        question = body.get("clarification")
    except (ValueError, AttributeError):
        body, question = {}, None
    if not (isinstance(question, str) and question.strip() and len(question) <= MAX_TEXT):
        raise unreachable(access_server, "requirement=clarification without a usable clarification")
    kept = {"clarification": question}
    options = body.get("options")
    if isinstance(options, list) and all(isinstance(o, str) and len(o) <= MAX_TEXT for o in options):
        kept["options"] = options[:MAX_OPTIONS]
    if isinstance(body.get("timeout"), int) and not isinstance(body["timeout"], bool) and body["timeout"] > 0:
        kept["timeout"] = body["timeout"]
    return kept


def _requirement(response) -> str | None:
    try:
        return parse_requirement(response.headers.get("aauth-requirement", "")).requirement
    except HeaderError:
        return None


def _required_claims(response) -> list[str]:
    """``required_claims`` of a ``requirement=claims`` answer (-11 "Claims Required")."""
    try:
        asked = json.loads(response.content).get("required_claims")
    except (ValueError, AttributeError):
        asked = None
    if not (isinstance(asked, list) and all(isinstance(name, str) for name in asked)):
        raise AAuthError("as_unreachable", "requirement=claims without a required_claims array")
    return asked
