"""The agent at a resource's authorization endpoint (-11 "Authorization Endpoint Request",
"Authorization Endpoint Responses").

:meth:`agent.Agent.authorize` asks a resource for ``scope`` before calling it, in the draft's
order::

    GET  {resource}/.well-known/aauth-resource.json   → authorization_endpoint
    a person token for the resource (cached, else from the PS's person_token_endpoint)
    POST authorization_endpoint {"scope", "account"?}, signed with the person token
    400 invalid_person_token / 401 expired or revoked → a fresh person token, once
    202 requirement=interaction → tell the person, poll the Location     (two-party)
    200 {"status": "authorized", "scope"} + AAuth-Access → keep the session token; every
        later call to the resource carries Authorization: AAuth (:mod:`aauth_kit.agent_sessions`)
    200 {"resource_token"} → check it, take it to the PS for an auth token (three-/four-party)

The answer is an :class:`Authorized`.  A resource error passes through as
:class:`flow.FlowError` with the draft's code (``invalid_scope``, ``invalid_account``,
``denied``, ``expired`` …).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .agent_checks import check_resource_token
from .agent_responses import flow_error, json_body, stale_token
from .errors import AAuthError
from .flow import Driver, FlowError, through_flow
from .http_client import httpx
from .metadata import RESOURCE_DWK, validate_metadata


@dataclass(frozen=True)
class Authorized:
    """What the authorization endpoint granted: ``scope``, and the ``session_token`` of a
    resource that manages access itself or the ``auth_token`` the agent's PS issued."""

    scope: str
    session_token: str | None = None
    auth_token: str | None = None


class AuthorizationClient:
    """Authorization endpoint calls for ``agent`` (an :class:`agent.Agent`)."""

    def __init__(self, agent):
        self.agent = agent

    def authorize(self, client, resource: str, scope: str, *, account: str | None = None) -> Authorized:
        """Ask ``resource`` (an origin) for ``scope`` over the sync ``client`` (see the module doc)."""
        driver = Driver(self._authorize(resource, scope, account), self.agent.sleep or time.sleep)
        for request in driver.steps():
            driver.reply = client.send(request, auth=None)
        return driver.result

    async def aauthorize(
        self, client, resource: str, scope: str, *, account: str | None = None
    ) -> Authorized:
        """:meth:`authorize` over an ``httpx.AsyncClient``."""
        driver = Driver(self._authorize(resource, scope, account), self.agent.sleep or asyncio.sleep)
        async for request in driver.asteps():
            driver.reply = await client.send(request, auth=None)
        return driver.result

    # -- the flow --------------------------------------------------------------------------
    def endpoint(self, resource: str):
        """``authorization_endpoint`` from the resource's metadata (-11 "Resource Metadata")."""
        agent = self.agent
        try:
            document = yield from through_flow(agent.resolver.metadata(resource, RESOURCE_DWK))
            document = validate_metadata(document, resource, RESOURCE_DWK, dev=agent.dev)
        except AAuthError as exc:
            raise FlowError(exc.code, exc.detail, status=502) from None
        endpoint = document.get("authorization_endpoint")
        if not isinstance(endpoint, str):
            raise FlowError("invalid_metadata", f"{resource} names no authorization_endpoint", status=502)
        return endpoint

    def _authorize(self, resource: str, scope: str, account: str | None):
        agent, flow = self.agent, self.agent.auth()
        endpoint = yield from self.endpoint(resource)
        body = {"scope": scope} | ({"account": account} if account is not None else {})
        presented = agent.person_token_for(resource) or (yield from flow.person_token(resource))
        response = yield self._post(flow, endpoint, body, presented)
        if stale_token(response) or _error(response) == "invalid_person_token":
            agent.forget(resource)  # a person token the resource no longer takes: a fresh one, once
            presented = yield from flow.person_token(resource)
            response = yield self._post(flow, endpoint, body, presented)
        if response.status_code == 202:  # -11 "Response without Resource Token": the person decides
            response = yield from flow.deferred(response, presented, resource, scope)
        if response.status_code != 200:
            raise flow_error(response)
        agent.sessions.take(resource, response)
        answer = json_body(response)
        answer = answer if isinstance(answer, dict) else {}
        if isinstance(answer.get("resource_token"), str):  # -11 "Response with Resource Token"
            resource_token = check_resource_token(
                agent, answer["resource_token"], resource, presented, response
            )
            auth_token = yield from flow.auth_token(resource, resource_token, presented)
            return Authorized(resource_token.get("scope") or scope, auth_token=auth_token)
        if answer.get("status") != "authorized":
            raise FlowError(
                "invalid_response",
                f"the 200 from {endpoint} is neither authorized nor a resource_token",
                status=502,
                response=response,
            )
        granted = answer.get("scope") if isinstance(answer.get("scope"), str) else scope
        session = agent.sessions.get(resource) if "aauth-access" in response.headers else None  # a MAY
        return Authorized(granted, session_token=session)

    @staticmethod
    def _post(flow, endpoint: str, body: dict, presented: str):
        request = httpx.Request("POST", endpoint, json=body)
        request.read()
        return flow.sign(request, presented)


def _error(response) -> str | None:
    body = json_body(response) if response.status_code == 400 else None
    return body.get("error") if isinstance(body, dict) else None


__all__ = ["Authorized", "AuthorizationClient"]
