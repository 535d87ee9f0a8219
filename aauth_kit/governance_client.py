"""The agent's side of the PS governance endpoints (-11 "PS Governance Endpoints"): ask the
person's permission for an action no resource governs, record what it did, and reach the
person through its PS.

Each call discovers its endpoint in the PS's metadata (``permission_endpoint``,
``audit_endpoint``, ``interaction_endpoint``), POSTs a JSON body signed with the agent token,
names the agent's active mission (``mission_s256``) when it has one, and follows a ``202``
like any deferred response.  A PS error passes through as :class:`flow.FlowError` with the
draft's code — ``interaction_unavailable`` (the agent directs the person itself,
-11 "Relaying Through the Person Server"), ``user_unreachable``, ``mission_terminated`` ….
Each runs over a sync client, and its ``a``-twin over an async one.
"""

from __future__ import annotations

from .agent_deferred import deferred
from .agent_responses import flow_error, json_body
from .flow import FlowError, asend_flow, send_flow


class GovernanceClient:
    """Governance calls for ``agent`` (an :class:`agent.Agent`)."""

    def __init__(self, agent):
        self.agent = agent

    # -- the calls -------------------------------------------------------------------------
    def ask_permission(self, client, action: str, **members) -> dict:
        """-11 "Permission Request": ``{"action", "description"?, "parameters"?}``; returns the
        PS's answer, ``{"permission": "granted"}`` or ``{"permission": "denied", "reason"?}``."""
        return send_flow(client, self.agent.sleep, self._permission(action, members))

    async def aask_permission(self, client, action: str, **members) -> dict:
        return await asend_flow(client, self.agent.sleep, self._permission(action, members))

    def send_audit_record(self, client, action: str, **members) -> None:
        """-11 "Audit Request": ``{"action", "description"?, "parameters"?, "result"?}`` within
        the agent's mission; the PS answers ``201 Created``."""
        send_flow(client, self.agent.sleep, self._audit(action, members))

    async def asend_audit_record(self, client, action: str, **members) -> None:
        """:meth:`send_audit_record` over an async client: "the agent SHOULD NOT block on the
        response" (-11 "Audit Response") — schedule it as a task."""
        await asend_flow(client, self.agent.sleep, self._audit(action, members))

    def request_interaction(self, client, type: str, **members) -> dict:
        """-11 "Interaction Request": ``type`` ``interaction``, ``payment`` (with ``url``,
        ``code``?, ``max_wait``?) or ``question`` (with ``question``); returns the PS's final
        answer (``{"answer"}`` for a question)."""
        return send_flow(client, self.agent.sleep, self._interaction(type, members))

    async def arequest_interaction(self, client, type: str, **members) -> dict:
        return await asend_flow(client, self.agent.sleep, self._interaction(type, members))

    # -- the flows -------------------------------------------------------------------------
    def _body(self, members: dict, **required) -> dict:
        body = {**required, **{k: v for k, v in members.items() if v is not None}}
        if self.agent.mission is not None:
            body.setdefault("mission_s256", self.agent.mission.s256)
        return body

    def _post(self, member: str, body: dict):
        """POST ``body`` to the PS's ``member`` endpoint; the final response (a ``202`` followed)."""
        flow = self.agent.auth()
        ps = flow.person_server()
        metadata = yield from flow.discover(ps)
        endpoint = metadata.get(member)
        if not isinstance(endpoint, str):
            raise FlowError("invalid_metadata", f"{ps} names no {member}", status=502)
        response = yield flow.ps_request(endpoint, body)
        if response.status_code == 202:
            response = yield from deferred(flow, response, self.agent.agent_token, None, None)
        return response

    def _permission(self, action: str, members: dict):
        response = yield from self._post("permission_endpoint", self._body(members, action=action))
        answer = _answer(response)
        if answer.get("permission") not in ("granted", "denied"):
            raise _invalid(response, 'permission must be "granted" or "denied"')
        return answer

    def _audit(self, action: str, members: dict):
        if self.agent.mission is None:
            raise FlowError("invalid_request", 'there is no audit outside a mission (-11 "Audit Endpoint")')
        response = yield from self._post("audit_endpoint", self._body(members, action=action))
        if response.status_code != 201:
            raise flow_error(response)

    def _interaction(self, type: str, members: dict):
        response = yield from self._post("interaction_endpoint", self._body(members, type=type))
        answer = _answer(response)
        if type == "question" and not isinstance(answer.get("answer"), str):
            raise _invalid(response, "the answer to a question has no answer")
        return answer


def _answer(response) -> dict:
    """The JSON object of a ``200``; any other status is the PS's error."""
    if response.status_code != 200:
        raise flow_error(response)
    answer = json_body(response)
    if not isinstance(answer, dict):
        raise _invalid(response, "the 200 is no JSON object")
    return answer


def _invalid(response, why: str) -> FlowError:
    return FlowError("invalid_response", f"{response.request.url}: {why}", status=502, response=response)
