"""Judging what a resource grants and to whom: its authorization endpoint (-11 "Authorization
Endpoint Request", "Authorization Endpoint Error Responses"), the ``AAuth-Access`` session
token it issues (-11 "AAuth-Access Response Header", "Resource-Managed Authorization") and an
auth token from an Access Server it does not trust (-11 "Auth Token Verification").

Each function takes the :class:`~.target.Target` and returns ``(outcome, why, answer)``;
it raises :class:`~.target.Skipped` when the probe cannot get that far.
"""

from __future__ import annotations

import json

from .. import headers
from ..http_client import httpx
from .report import FAIL, INFO, PASS, Answer
from .target import Skipped, Target, served

#: A scope no resource grants.
UNKNOWN_SCOPE = "aauth-kit-probe.no-such-scope"
#: Every component but ``authorization``: a session token the signature does not bind.
WITHOUT_AUTHORIZATION = ["@method", "@authority", "@path", "signature-key"]


def _needs_agent_provider(target: Target) -> None:
    if target.prober.agent_provider is None:
        raise Skipped("needs an Agent Provider the resource trusts (--agent-provider)")


def _authorize(target: Target, token: str, scope: str) -> httpx.Response:
    endpoint = target.metadata().get("authorization_endpoint")
    if not isinstance(endpoint, str):
        raise Skipped("the metadata names no authorization_endpoint")
    body = json.dumps({"scope": scope}).encode()
    return target.request(target.signed(token, method="POST", url=endpoint, body=body))


def judge_authorize_without_person_token(target: Target):
    """-11 "Authorization Endpoint Request": a request without a person token is answered as
    -11 "Person Token Required" says, ``401`` + ``requirement=person-token``."""
    _needs_agent_provider(target)
    response = _authorize(target, target.prober.token, "openid")
    answer = Answer.of(response)
    if served(response) or "resource_token" in response.text:
        return (
            FAIL,
            "the authorization endpoint answered an agent token without asking for a person token",
            answer,
        )
    if response.status_code == 401 and answer.requirement and "person-token" in answer.requirement:
        return PASS, "", answer
    if answer.signature_error is not None:
        return INFO, "the signature was refused before the endpoint asked for a person token", answer
    return (
        FAIL,
        "a request without a person token gets 401 + AAuth-Requirement: requirement=person-token",
        answer,
    )


def judge_authorize_unknown_scope(target: Target):
    """-11 "Authorization Endpoint Error Responses": a scope the resource does not recognize is
    ``400 invalid_scope``."""
    _needs_agent_provider(target)
    response = _authorize(target, target.person_token(), UNKNOWN_SCOPE)
    answer = Answer.of(response)
    if 200 <= response.status_code < 300:
        return FAIL, f"the authorization endpoint granted the unknown scope {UNKNOWN_SCOPE}", answer
    if (
        answer.signature_error is not None
        or response.status_code == 401
        or answer.error == "invalid_person_token"
    ):
        raise Skipped(
            f"the resource refused the probe's person token ({answer.describe()}): it could not get as far as the scope"
        )
    if response.status_code == 400 and answer.error == "invalid_scope":
        return PASS, "", answer
    return (
        FAIL,
        f"an unknown scope is 400 invalid_scope, not {response.status_code} {answer.error}",
        answer,
    )


def _present_session(target: Target, **signing) -> httpx.Response:
    token = target.session_token()
    field = ("Authorization", headers.serialize_authorization(token))
    return target.request(
        target.signed(signing.pop("agent_token", target.prober.token), fields=(field,), **signing)
    )


def judge_session_honoured(target: Target):
    """-11 "AAuth-Access Response Header": the agent passes the session token back in
    ``Authorization: AAuth``, covered by its signature; the resource serves it."""
    _needs_agent_provider(target)
    response = _present_session(target)
    if served(response):
        return PASS, "", Answer.of(response)
    return (
        FAIL,
        "the session token it issued, presented as the draft says, was not honoured",
        Answer.of(response),
    )


def _refused(response: httpx.Response, what: str):
    if served(response):
        return (
            FAIL,
            f"the resource served a session token {what}: it is usable as a bearer token",
            Answer.of(response),
        )
    return PASS, "", Answer.of(response)


def judge_session_other_key(target: Target):
    """-11 "AAuth-Access Response Header": the token is "useless without a valid AAuth
    signature from the agent" — the same agent with another key gets nothing from it."""
    _needs_agent_provider(target)
    provider, other = target.prober.agent_provider, target.prober.other_key
    response = _present_session(target, key=other, agent_token=provider.agent_token(other))
    return _refused(response, "signed with a key other than the one it was issued to")


def judge_session_uncovered(target: Target):
    """-11 "AAuth-Access Response Header": "The agent MUST include authorization in the covered
    components of its HTTP signature"; a session token the signature does not cover is not honoured."""
    _needs_agent_provider(target)
    return _refused(
        _present_session(target, components=WITHOUT_AUTHORIZATION), "the signature does not cover"
    )


def judge_session_unsigned(target: Target):
    """-11 "Resource-Managed Authorization": a session token alone, with no signature, is refused."""
    _needs_agent_provider(target)
    token = target.session_token()
    message = target.prober.message()
    message.headers.append(("Authorization", headers.serialize_authorization(token)))
    return _refused(target.request(message), "sent with no signature at all")


def judge_untrusted_access_server(target: Target):
    """-11 "Auth Token Verification": an auth token from an Access Server the resource does not
    trust — well formed, for this resource, bound to the signing key — is refused."""
    if target.access_server is None:
        raise Skipped(
            "needs the probe's own Access Server, served next to its Agent Provider (--agent-provider)"
        )
    scope = " ".join(sorted(_scopes(target))) or None
    token = target.access_server.auth_token(
        target.prober.key, target.origin, scope=scope, now=target.prober.now()
    )
    response = target.request(target.signed(token))
    answer = Answer.of(response)
    if served(response):
        return (
            FAIL,
            f"the resource accepted an auth token from {target.access_server.identifier}, an AS it never named",
            answer,
        )
    if response.status_code >= 500:
        return FAIL, f"answered {response.status_code}: an untrusted token is a 4xx refusal", answer
    return PASS, "", answer


def _scopes(target: Target) -> set[str]:
    try:
        descriptions = target.metadata().get("scope_descriptions")
    except Skipped:
        return set()
    return set(descriptions) if isinstance(descriptions, dict) else set()
