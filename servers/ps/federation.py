"""Four-party access at the Person Server (-11 "PS-AS Federation"): "If aud identifies a
different server (an AS), the PS discovers the AS's metadata at
{aud}/.well-known/aauth-access.json and calls the AS's auth_token_endpoint".

``POST /auth-token`` with a resource token addressed to an AS runs the checks of the
three-party path (the resource token names this PS as ``ps`` and binds the signing key — the
sub-agent's for a ``subagent_token``; the presented token is the one it points back to; an
``upstream_token`` speaks for the same person), asks the person when the consent policy says
so (the request waits as ``federated_auth_token``), then federates:

* a ``POST`` to the AS's ``auth_token_endpoint`` signed as this PS (``sig=jwks_uri``), body
  ``{"resource_token", "agent_token", "presented_token"}`` and, when the agent sent them,
  ``subagent_token`` (the parent is the ``agent_token``: -11 "Parent-Mediated Authorization")
  and ``upstream_token`` (-11 "PS-to-AS Token Request");
* the AS's deferred answers (-11 "AS Response"): ``requirement=claims`` → the claims POSTed to
  its ``Location`` (-11 "Claims Required"; the person's ``name`` only when the person approved
  this request, never ``sub``: the resource token carries it; claims this PS does not hold are
  left out), any other ``202`` → polled; ``402`` → relayed to the agent with the AS's
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
from urllib.parse import urljoin

from starlette.responses import Response

from aauth_kit import claims, tokens
from aauth_kit.errors import AAuthError, TokenError
from aauth_kit.headers import HeaderError, parse_requirement
from aauth_kit.http_client import httpx, origin_of, request_capped
from aauth_kit.identifiers import check_server_identifier
from aauth_kit.jws import decode_unverified
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK, validate_metadata
from aauth_kit.problem import error_code, problem_of
from aauth_kit.profile import VerifiedRequest

from . import subagents, token_endpoints
from .context import Context
from .deferred import can_interact, defer, reachable
from .minting import subject, token_response
from .missions import active_mission, still_active
from .store.pending import Pending
from .verification import same_person_upstream, verify_parameter, verify_presented

#: Seconds the whole exchange with an AS may take (discovery, request, claims, polls).
FEDERATION_TIMEOUT = 10
#: Answers of one AS followed at most (claims, polls) before the PS gives up.
MAX_ROUNDS = 5
#: Longest pause between two polls of an AS's pending URL.
MAX_POLL_PAUSE = 2
KIND = "federated_auth_token"


def addressed_to_access_server(ctx: Context, body: dict) -> bool:
    """Whether the resource token's ``aud`` names another server than this PS (read before the
    token is verified; :func:`auth_token` verifies it in full)."""
    value = body.get("resource_token")
    try:
        aud = decode_unverified(value).payload.get("aud") if isinstance(value, str) else None
    except AAuthError:
        return False
    return isinstance(aud, str) and aud != ctx.identifier


async def auth_token(ctx: Context, message: HttpMessage, verified: VerifiedRequest, body: dict) -> Response:
    """``POST /auth-token`` for a resource that has its own AS (see the module doc)."""
    agent_token = verified.token
    agent = (agent_token.iss, agent_token.sub)
    subagent = None
    if "subagent_token" in body:  # -11 "Parent-Mediated Authorization"
        subagent = await subagents.subagent_of(ctx, body["subagent_token"], agent_token)
    key = subagent.cnf_key if subagent is not None else verified.key
    resource_token = await verify_parameter(
        ctx,
        body["resource_token"],
        "resource",
        typ=claims.RESOURCE_TYP,
        expected_ps=ctx.identifier,
        signing_key_jwk=key,
    )
    try:
        check_server_identifier(resource_token.aud, dev=ctx.dev)
    except AAuthError as error:
        raise AAuthError("invalid_resource_token", f"aud: {error.detail}") from None
    presented, person = await verify_presented(ctx, body["presented_token"], resource_token)
    caps, mission = [agent_token.exp, presented.exp], None
    if presented.mission_s256 is not None:
        mission = active_mission(ctx, presented.mission_s256, caps)
    upstream = await same_person_upstream(ctx, body, agent_token, person)
    sent = {"subagent_token": subagent, "upstream_token": upstream}
    federation = {
        "access_server": resource_token.aud,
        "presented": presented.jti if presented.iss == ctx.identifier else None,  # revoked there too
        "resource": resource_token.iss,
        "scope": resource_token.scope,
        "request": {  # -11 "PS-to-AS Token Request"
            "resource_token": resource_token.token,
            "agent_token": agent_token.token,
            "presented_token": presented.token,
            **{name: token.token for name, token in sent.items() if token is not None},
        },
        "cnf_jwk": key.public_jwk(kid=False),
        "not_after": min([*caps, *(token.exp for token in sent.values() if token is not None)]),
    }
    if not ctx.policy.needs_consent(resource_token.scope):
        return token_response(await federate(ctx, federation, person, agent, consented=False))
    reachable(can_interact(body, mission=mission))
    request_data = {
        "federation": federation,
        "mission_s256": presented.mission_s256,
        "person": person,
        "grant": {"account": resource_token.account},
        **await token_endpoints._resource_info(ctx, resource_token.iss),
    }
    return await defer(
        ctx,
        message,
        KIND,
        agent,
        verified,
        request_data,
        resource=resource_token.iss,
        scope=resource_token.scope,
        justification=token_endpoints.optional_string(body, "justification"),
    )


async def complete(ctx: Context, pending: Pending) -> dict:
    """The person approved: federate now, with the person's consent to release claims — if the
    request's mission is still active (else ``403 mission_terminated``, -11 "Mission Status Errors")."""
    data = pending.request
    still_active(ctx, data.get("mission_s256"))
    agent = (pending.agent_iss, pending.agent_id)
    return await federate(ctx, data["federation"], data["person"], agent, consented=True)


async def federate(
    ctx: Context, federation: dict, person: str, agent: tuple[str, str], *, consented: bool
) -> dict:
    """Ask the AS, follow its answers, verify its auth token: the agent's ``200`` body."""
    access_server = federation["access_server"]
    try:
        async with asyncio.timeout(FEDERATION_TIMEOUT):
            endpoint = await _token_endpoint(ctx, access_server)
            async with ctx.client_factory(timeout=FEDERATION_TIMEOUT) as client:
                response = await _send(ctx, client, "POST", endpoint, federation["request"])
                for _ in range(MAX_ROUNDS):
                    if response.status_code != 202:
                        break
                    location = _location(response, access_server)
                    asked = _asked_claims(response)
                    if asked is not None:
                        released = _claims(person, asked, consented=consented)
                        response = await _send(ctx, client, "POST", location, released)
                    else:
                        await asyncio.sleep(_pause(response))
                        response = await _send(ctx, client, "GET", location)
                else:
                    raise _unreachable(access_server, f"still pending after {MAX_ROUNDS} answers")
    except TimeoutError:
        raise _unreachable(access_server, f"no answer within {FEDERATION_TIMEOUT} s") from None
    except httpx.HTTPError as error:
        raise _unreachable(access_server, f"it cannot be reached: {error!r}") from None
    if response.status_code == 200:
        return await _delivered(ctx, response, federation, person, agent)
    raise _refusal(response, access_server)


# -- the exchange ---------------------------------------------------------------------------------
def _unreachable(access_server: str, why: str) -> AAuthError:
    return AAuthError("as_unreachable", f"the Access Server {access_server}: {why}")


async def _token_endpoint(ctx: Context, access_server: str) -> str:
    """-11 "Access Server Metadata": the AS's ``auth_token_endpoint``, on its own origin."""
    try:
        document = await ctx.resolver.metadata(access_server, ACCESS_DWK)
        validate_metadata(document, access_server, ACCESS_DWK, dev=ctx.dev, complete=True)
    except AAuthError as error:
        raise _unreachable(access_server, f"no usable metadata: {error.detail}") from None
    endpoint = document["auth_token_endpoint"]
    if origin_of(endpoint) != origin_of(access_server):
        raise _unreachable(access_server, "its auth_token_endpoint is on another origin")
    return endpoint


async def _send(ctx: Context, client, method: str, url: str, body: dict | None = None):
    """One request signed as this PS in its own right (``sig=jwks_uri``, ``aauth-person.json``)."""
    headers = [("Content-Type", "application/json")] if body is not None else []
    content = json.dumps(body).encode() if body is not None else b""
    message = ctx.revoker.sign(HttpMessage(method, url, headers, content))
    return await request_capped(client, method, url, headers=message.headers, content=message.body)


def _location(response, access_server: str) -> str:
    location = response.headers.get("location")
    url = urljoin(access_server, location) if location else None
    if url is None or origin_of(url) != origin_of(access_server):
        raise _unreachable(access_server, "its 202 has no Location on its own origin")
    return url


def _asked_claims(response) -> list[str] | None:
    """``required_claims`` of a ``requirement=claims`` answer, ``None`` for any other ``202``."""
    try:
        requirement = parse_requirement(response.headers.get("aauth-requirement", ""))
    except HeaderError:
        return None
    if requirement.requirement != "claims":
        return None
    try:
        asked = json.loads(response.content).get("required_claims")
    except (ValueError, AttributeError):
        asked = None
    if not (isinstance(asked, list) and all(isinstance(name, str) for name in asked)):
        raise AAuthError("as_unreachable", "requirement=claims without a required_claims array")
    return asked


def _claims(person: str, asked: list[str], *, consented: bool) -> dict:
    """-11 "Claims Required": the PS provides the requested claims it holds; "Claims not
    recognized by the recipient SHOULD be ignored".  The person's identity travels in the
    resource token (``ps`` and ``sub``, -11 "PS-to-AS Token Request"), so published -11 has the
    PS leave ``sub`` out of its answer.  This PS holds the person's ``name``, which it releases
    only with the person's consent to this request."""
    held = {"name": person} if consented else {}
    return {name: held[name] for name in asked if name in held}


def _pause(response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0), MAX_POLL_PAUSE)
    except ValueError:
        return MAX_POLL_PAUSE


class PaymentRequired(AAuthError):
    """The AS's ``402``, relayed with its payment challenge (``WWW-Authenticate``)."""

    def __init__(self, detail: str, challenge: str | None):
        super().__init__("payment_required", detail, status=402)
        self.challenge = challenge

    def response_headers(self) -> list[tuple[str, str]]:
        extra = [("www-authenticate", self.challenge)] if self.challenge else []
        return extra + super().response_headers()


def _refusal(response, access_server: str) -> AAuthError:
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
    return _unreachable(access_server, f"it answered {status}")


async def _delivered(ctx: Context, response, federation: dict, person: str, agent: tuple[str, str]) -> dict:
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
        raise _unreachable(access_server, f"its auth token does not verify: {error}") from None
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
        raise _unreachable(access_server, f"its auth token has the wrong {', '.join(wrong)}")
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
