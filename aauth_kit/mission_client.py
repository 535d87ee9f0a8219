"""The agent's side of missions (-11 "Mission"): ask for one, update it, complete it.

:meth:`MissionClient.start` asks the PS's ``mission_endpoint`` (following a ``202`` like
any deferred request), checks ``s256`` against the decoded blob bytes and keeps both as
the agent's :class:`Mission`, with the approval's ``capabilities`` and the person tokens it
carried for the resources the proposal named (checked, then cached); from then on every person
token request carries ``mission_s256``.  :meth:`MissionClient.update` sends a new description (the blob and
``s256`` stay; the PS answers the update's own ``s256``) and
:meth:`MissionClient.complete` proposes its end: the PS holds the proposal (``202`` and an
interaction, followed like any deferred request) while the person reviews the summary, and
only their acceptance ends the mission (-11 "Mission Completion").  Each runs an agent flow
over a sync client, and its ``a``-twin over an async one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .agent_checks import check_person_token, check_signature
from .agent_deferred import deferred
from .agent_responses import flow_error, json_body
from .claims import PERSON_TYP
from .flow import FlowError, asend_flow, send_flow
from .jws import decode_unverified
from .keys import b64url, b64url_decode


@dataclass(frozen=True)
class Mission:
    """An approved mission as the agent keeps it (-11 "Mission Approval"): ``s256``, the
    ``blob`` bytes verbatim (never re-serialized) and ``document``, the blob decoded;
    ``capabilities``, what the PS could provide for the person at approval ("They describe
    this moment rather than a term of the mission"), and ``person_tokens``, resource → the
    person token the approval carried for it."""

    s256: str
    blob: bytes
    document: dict
    capabilities: tuple[str, ...] = ()
    person_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return self.document["description"]


class MissionClient:
    """Mission calls for ``agent`` (an :class:`agent.Agent`), which keeps the approved
    :class:`Mission` as ``agent.mission`` and drops its cached tokens when one begins or ends."""

    def __init__(self, agent):
        self.agent = agent

    # -- the calls -------------------------------------------------------------------------
    def start(self, client, description: str, *, tools=None, resources=None) -> Mission:
        """``POST {mission_endpoint}`` through the sync ``client`` (its own auth is not used)."""
        return self._began(
            send_flow(client, self.agent.sleep, self._start(_mission_body(description, tools, resources)))
        )

    async def astart(self, client, description: str, *, tools=None, resources=None) -> Mission:
        """:meth:`start` through an ``httpx.AsyncClient``."""
        flow = self._start(_mission_body(description, tools, resources))
        return self._began(await asend_flow(client, self.agent.sleep, flow))

    def update(self, client, description: str) -> str:
        """``POST {mission_endpoint}/{s256}`` ``{"action": "update", "description"}``: the
        mission stays as it is; returns the ``s256`` of the update the PS persisted."""
        return send_flow(client, self.agent.sleep, self._update(description))

    async def aupdate(self, client, description: str) -> str:
        """:meth:`update` through an ``httpx.AsyncClient``."""
        return await asend_flow(client, self.agent.sleep, self._update(description))

    def complete(self, client, summary: str) -> dict:
        """``POST {mission_endpoint}/{s256}`` ``{"action": "completion", "summary"}``, then the
        ``202``'s pending URL polled until the person has reviewed it.  Accepted: the mission
        ends, and the PS's ``200`` answer is returned.  Declined: :class:`flow.FlowError`
        ``denied`` (or ``abandoned``, ``expired``), and the mission stays the agent's — "Only
        the person's acceptance terminates the mission" (-11 "Mission Completion")."""
        return self._ended(send_flow(client, self.agent.sleep, self._complete(summary)))

    async def acomplete(self, client, summary: str) -> dict:
        """:meth:`complete` through an ``httpx.AsyncClient``."""
        return self._ended(await asend_flow(client, self.agent.sleep, self._complete(summary)))

    def _began(self, mission: Mission) -> Mission:
        """The mission becomes the agent's; the tokens cached outside it are dropped and the
        approval's person tokens kept, "sparing the agent a separate request per resource"
        (-11 "Mission Creation")."""
        self.agent.mission = mission
        self.agent.forget()
        for resource, token in mission.person_tokens.items():
            self.agent.tokens.remember(resource, "person_token", token, None)
        return mission

    def _ended(self, answer: dict) -> dict:
        self.agent.mission = None
        self.agent.forget()
        return answer

    # -- the flows -------------------------------------------------------------------------
    def _endpoint(self, flow):
        ps = flow.person_server()
        metadata = yield from flow.discover(ps)
        endpoint = metadata.get("mission_endpoint")
        if not isinstance(endpoint, str):
            raise FlowError("invalid_metadata", f"{ps} names no mission_endpoint", status=502)
        return endpoint

    def _start(self, body: dict):
        """Ask for the mission; follow a ``202``; check the approval (-11 "Mission Approval"):
        ``s256`` is the SHA-256 of exactly the decoded ``mission`` bytes (SHOULD; a mismatch
        is ``invalid_response``) and the blob is a JSON object with the members it MUST include,
        ``agent`` (this agent), ``approved_at`` and ``description``."""
        flow = self.agent.auth()
        endpoint = yield from self._endpoint(flow)
        response = yield flow.ps_request(endpoint, body)
        answer = yield from self._final_json(flow, response)

        def fail(why: str) -> FlowError:
            return FlowError(
                "invalid_response",
                f"the mission approval from {endpoint}: {why}",
                status=502,
                response=response,
            )

        s256, encoded = answer.get("s256"), answer.get("mission")
        if not isinstance(s256, str) or not isinstance(encoded, str):
            raise fail("s256 and mission must be strings")
        try:
            blob = b64url_decode(encoded)
        except ValueError:
            raise fail("mission is not base64url") from None
        if b64url(hashlib.sha256(blob).digest()) != s256:
            raise fail("s256 is not the SHA-256 of the mission bytes")
        try:
            document = json.loads(blob)
        except (ValueError, UnicodeDecodeError):
            document = None
        agent_id = decode_unverified(self.agent.agent_token).payload.get("sub")
        if not isinstance(document, dict) or not all(
            isinstance(document.get(name), str) for name in ("agent", "approved_at", "description")
        ):
            raise fail("the blob is no JSON object with agent, approved_at and description")
        if document.get("agent") != agent_id:
            raise fail(f"the blob names agent {document.get('agent')!r}, not {agent_id!r}")
        capabilities = answer.get("capabilities", [])
        if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
            raise fail("capabilities must be an array of strings")
        person_tokens = answer.get("person_tokens", {})
        if not isinstance(person_tokens, dict) or not all(isinstance(v, str) for v in person_tokens.values()):
            raise fail("person_tokens must map resource identifiers to person tokens")
        for resource, token in person_tokens.items():
            yield from self._check_person_token(flow, token, resource, s256)
        return Mission(s256, blob, document, tuple(capabilities), dict(person_tokens))

    def _check_person_token(self, flow, token: str, resource: str, s256: str):
        """A person token of the approval, checked like one from the person token endpoint
        and "carrying mission_s256 set to s256" (-11 "Mission Approval")."""
        check_person_token(self.agent, token, resource, flow.person_server())
        if decode_unverified(token).payload.get("mission_s256") != s256:
            raise FlowError(
                "invalid_person_token", f"the person token for {resource} is not of this mission", status=502
            )
        yield from check_signature(self.agent, token, PERSON_TYP)

    def _update(self, description: str):
        """``{"action": "update", "description"}`` to ``{mission_endpoint}/{mission_s256}``; the
        answer's ``s256`` must be a base64url SHA-256 (43 characters)."""
        if self.agent.mission is None:
            raise FlowError("invalid_request", "the agent has no mission to update")
        flow = self.agent.auth()
        endpoint = yield from self._endpoint(flow)
        body = {"action": "update", "description": description}
        response = yield flow.ps_request(f"{endpoint}/{self.agent.mission.s256}", body)
        s256 = (yield from self._final_json(flow, response)).get("s256")
        if not isinstance(s256, str) or len(s256) != 43:
            raise FlowError(
                "invalid_response",
                f"the update answer from {endpoint} has no s256",
                status=502,
                response=response,
            )
        return s256

    def _complete(self, summary: str):
        """``{"action": "completion", "summary"}`` to ``{mission_endpoint}/{mission_s256}``;
        a ``202`` is followed (the person reviews the summary)."""
        if self.agent.mission is None:
            raise FlowError("invalid_request", "the agent has no mission to complete")
        flow = self.agent.auth()
        endpoint = yield from self._endpoint(flow)
        body = {"action": "completion", "summary": summary}
        response = yield flow.ps_request(f"{endpoint}/{self.agent.mission.s256}", body)
        return (yield from self._final_json(flow, response))

    def _final_json(self, flow, response):
        """The JSON object of the ``200`` a PS request ends with, after following a ``202``."""
        if response.status_code == 202:
            response = yield from deferred(flow, response, self.agent.agent_token, None, None)
        if response.status_code != 200:
            raise flow_error(response)
        answer = json_body(response)
        if not isinstance(answer, dict):
            raise FlowError(
                "invalid_response",
                f"the 200 from {response.request.url} is no JSON object",
                status=502,
                response=response,
            )
        return answer


def _mission_body(description: str, tools, resources) -> dict:
    body = {"description": description}
    if tools is not None:
        body["tools"] = tools
    if resources is not None:
        body["resources"] = resources
    return body
