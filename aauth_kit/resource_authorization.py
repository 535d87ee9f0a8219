"""A resource's authorization endpoint, ``POST /authorize`` (-11 "Authorization Endpoint
Request", "Authorization Endpoint Responses", "Authorization Endpoint Error Responses").

The agent POSTs ``{"scope", "account"?}`` signed with a person token (or an auth token) for
this resource.  What it gets depends on who authorizes the scope:

* a scope this resource manages itself — one its ``session-token`` routes require (-11
  "Resource-Managed Authorization") — gets the answer of -11 "Response without Resource
  Token": ``200 {"status": "authorized", "scope"}`` with an ``AAuth-Access`` session token at
  once when the signer already holds a session covering the scope ("the agent's key is already
  authorized"); else ``202`` + ``Location`` + ``AAuth-Requirement: requirement=interaction;
  url=…; code=…`` + ``{"status": "pending"}``.  The person signs in at the resource and approves on its own
  page (:mod:`aauth_kit.resource_pages`) and the poll of the ``Location`` answers ``200 {"status":
  "authorized", "scope"}`` + ``AAuth-Access`` (:mod:`aauth_kit.resource_held` holds the
  request, with its caps and polling errors);
* any other scope gets ``200 {"resource_token"}`` (-11 "Response with Resource Token") for the
  person's PS, or the resource's Access Server.

Errors follow the table of -11 "Authorization Endpoint Error Responses": ``400
invalid_request`` (a missing or malformed ``scope``, scopes of both kinds in one request),
``400 invalid_scope`` (a scope this resource does not grant), ``400 invalid_account`` (an
``account`` that is no string, or, when the resource knows its accounts, one the person does
not hold), ``400 invalid_person_token`` (a person token that is malformed, expired, for another
``aud`` or badly signed); a bad HTTP signature stays ``401`` with ``Signature-Error``, and an
agent token alone is ``401 requirement=person-token`` (-11 "Person Token Required").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import http_sfv
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import structured
from .claims import PERSON_TYP
from .errors import AAuthError, TokenError
from .headers import serialize_aauth_access
from .keys import b64url_decode
from .message import require_json_object
from .resource_challenge import Challenge, scope_tokens

if TYPE_CHECKING:
    from .resource import Resource
    from .resource_caller import Caller


def known_scopes(resource: Resource) -> set[str]:
    """Scopes ``resource`` grants: described ones and those its routes require."""
    routes = {s for _, access, scope in resource.protected if scope for s in scope_tokens(scope)}
    return set(resource.scope_descriptions) | routes


def managed_scopes(resource: Resource) -> set[str]:
    """Scopes ``resource`` authorizes itself: those of its ``session-token`` routes."""
    return {
        s for _, access, scope in resource.protected if access == "session-token" for s in scope_tokens(scope)
    }


def _presents_person_token(request: Request) -> bool:
    """Whether a ``Signature-Key`` member carries a JWT whose JOSE header says ``aa-person+jwt``
    (read, not verified: a malformed payload or signature is still a person token that failed)."""
    try:
        members = structured.parse(http_sfv.Dictionary, request.headers.get("signature-key", ""))
    except (ValueError, UnicodeEncodeError):
        return False
    for member in members.values():
        jwt = getattr(member, "params", {}).get("jwt")
        try:
            header = json.loads(b64url_decode(jwt.split(".", 1)[0]))
        except (AttributeError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(header, dict) and header.get("typ") == PERSON_TYP:
            return True
    return False


async def _person_caller(resource: Resource, request: Request) -> Caller:
    """The verified caller; a person token that fails verification is ``400 invalid_person_token``."""
    try:
        return await resource.authenticate(request, "person-token")
    except TokenError as error:
        if _presents_person_token(request):
            raise AAuthError("invalid_person_token", error.detail) from None
        raise


def _checked_account(resource: Resource, caller: Caller, account) -> str | None:
    if account is None:
        return None
    if not (isinstance(account, str) and account):
        raise AAuthError("invalid_account", "account must be a non-empty string")
    if resource.accounts is not None and account not in resource.accounts(caller.person):
        raise AAuthError(
            "invalid_account", f"the person holds no account {account!r} at {resource.identifier}"
        )
    return account


def _authorized(scope: str, session_token: str) -> Response:
    """``200 {"status": "authorized", "scope"}`` + ``AAuth-Access`` (-11 "Response without Resource Token")."""
    return JSONResponse(
        {"status": "authorized", "scope": scope},
        headers={"aauth-access": serialize_aauth_access(session_token), "cache-control": "no-store"},
    )


async def authorize(resource: Resource, request: Request) -> Response:
    """``POST /authorize`` (see the module doc)."""
    caller = await _person_caller(resource, request)
    body = require_json_object(await request.body(), '{"scope": str, "account"?: str}')
    scope = body.get("scope")
    asked = scope_tokens(scope)
    if not asked:
        raise AAuthError("invalid_request", "scope is required: scope tokens separated by single spaces")
    unknown = [s for s in asked if s not in known_scopes(resource)]
    if unknown:
        raise AAuthError("invalid_scope", f"{resource.identifier} grants no scope {', '.join(unknown)}")
    account = _checked_account(resource, caller, body.get("account"))
    managed = [s for s in asked if s in managed_scopes(resource)]
    if not managed:  # -11 "Response with Resource Token"
        token = resource.resource_token(caller.token, caller.jkt, scope, account=account)
        return JSONResponse({"resource_token": token}, headers={"cache-control": "no-store"})
    if len(managed) != len(asked):
        raise AAuthError(
            "invalid_request",
            f"{resource.identifier} authorizes {', '.join(managed)} itself and the rest through your "
            "Person Server: ask for them in two requests",
        )
    held = resource.sessions.covering(caller.session_agent, caller.jkt, asked)
    if held is not None:  # the agent's key is already authorized: 200 at once, a fresh session token
        return _authorized(scope, resource.sessions.replace(held).token)

    async def authorized(replayed: Request) -> Response:
        return _authorized(scope, replayed.state.caller.session.token)

    challenge = Challenge("interaction", f"{resource.identifier} asks the person first", caller=caller)
    return await resource.held.hold(request, authorized, challenge, scope, account)
