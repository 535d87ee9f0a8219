"""Sub-agents on the agent side (-11 "Sub-Agents"): a parent :class:`~aauth_kit.agent.Agent`
creates one, and obtains its tokens from the PS on its behalf.

:func:`create_subagent` asks the parent's Agent Provider for a sub-agent token (the kit's
``POST /agent/subagent``, signed by the parent with its agent token and by the sub-agent's new
key; -11 "Sub-Agent Identity" leaves acquisition to the platform) and checks it: ``parent_agent``
names the parent, ``cnf`` the new key.

A :class:`SubAgent` signs its requests to resources with its own key and token, exactly as a
top-level agent would.  It never calls the PS (-11 "Parent-Mediated Authorization": "A sub-agent
MUST NOT call the PS directly"): its flow, :class:`ParentMediatedFlow`, hands each token request
to the parent, who signs it with its own key and agent token and adds ``subagent_token``, and
polls the PS's ``202`` itself — consent "surfaces for the parent as usual".  The tokens the PS
issues bind the sub-agent's key, so the sub-agent presents them, signing with its own key.
"""

from __future__ import annotations

import json

from .agent import AAuthFlow, Agent
from .agent_responses import flow_error, json_body
from .flow import FlowError
from .http_client import httpx
from .jws import decode_unverified
from .keys import Key, jwk_thumbprint
from .message import HttpMessage
from .rotation import sign_key_rotation

#: The kit's Agent Provider endpoint for sub-agent tokens, under the AP's identifier.
SUBAGENT_PATH = "/agent/subagent"


class SubAgent(Agent):
    """A sub-agent of ``parent``: its own ``key`` and ``agent_token`` (with ``parent_agent``);
    the parent's PS, mission, capabilities, clock and polling settings."""

    def __init__(self, parent: Agent, key: Key, agent_token: str, **options):
        defaults = {
            "ps": parent.ps,
            "wait": parent.wait,
            "clock": parent.clock,
            "sleep": parent.sleep,
            "dev": parent.dev,
            "capabilities": tuple(parent.capabilities),
        }
        super().__init__(key, agent_token, **{**defaults, **options})
        self.parent = parent
        self.mission = parent.mission  # the parent's grant, its mission included, covers the sub-agent

    def auth(self, *, upstream_token: str | None = None, justification: str | None = None) -> AAuthFlow:
        return ParentMediatedFlow(
            self, upstream_token=upstream_token, justification=justification or self.justification
        )


class ParentMediatedFlow(AAuthFlow):
    """The sub-agent's flow: every PS request is the parent's (-11 "Parent-Mediated
    Authorization" steps 1 and 3), the rest is the sub-agent's own."""

    def ps_request(self, endpoint: str, body: dict):
        """ "The parent POSTs to the PS's auth_token_endpoint, signing the request with its own
        key and presenting its own agent token via the Signature-Key header.  The request body
        includes resource_token (the sub-agent's resource token) and subagent_token (the
        sub-agent's agent token)" — and likewise at the person_token_endpoint (step 1)."""
        parent = self.agent.parent
        return parent.auth().ps_request(endpoint, {**body, "subagent_token": self.agent.agent_token})

    def deferred(self, response, token: str, resource: str, scope: str | None):
        """A PS's ``202`` is the parent's pending request: the parent polls it (and is told
        of any interaction); a resource's ``202`` is the sub-agent's own."""
        if token != self.agent.agent_token:
            return (yield from super().deferred(response, token, resource, scope))
        parent = self.agent.parent
        return (yield from parent.auth().deferred(response, parent.agent_token, resource, scope))


def subagent_request(parent: Agent, key: Key, discriminator: str) -> httpx.Request:
    """``POST {AP}/agent/subagent`` ``{"discriminator"}``, signed by the parent (``sig``) and by
    the sub-agent's ``key`` (``new``)."""
    provider = decode_unverified(parent.agent_token).payload.get("iss")
    url = f"{provider}{SUBAGENT_PATH}"
    body = json.dumps({"discriminator": discriminator}).encode()
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], body)
    sign_key_rotation(message, parent.key, parent.agent_token, key, created=int(parent.clock()))
    headers = [(name, value) for name, value in message.headers if name.lower() != "host"]
    return httpx.Request("POST", url, headers=headers, content=message.body)


def create_subagent(
    parent: Agent, client, discriminator: str, *, key: Key | None = None, **options
) -> SubAgent:
    """A new :class:`SubAgent` of ``parent`` named ``{parent local}+{discriminator}``, with
    ``key`` (default: a fresh Ed25519 key), through the sync ``client`` (its auth unused)."""
    key = key or Key.generate()
    response = client.send(subagent_request(parent, key, discriminator), auth=None)
    return SubAgent(parent, key, _checked_token(parent, key, response), **options)


async def acreate_subagent(
    parent: Agent, client, discriminator: str, *, key: Key | None = None, **options
) -> SubAgent:
    """:func:`create_subagent` through an ``httpx.AsyncClient``."""
    key = key or Key.generate()
    response = await client.send(subagent_request(parent, key, discriminator), auth=None)
    return SubAgent(parent, key, _checked_token(parent, key, response), **options)


def _checked_token(parent: Agent, key: Key, response) -> str:
    """The sub-agent token of a ``200``: -11 "Sub-Agent Identity" — ``parent_agent`` set to
    the parent's identifier, its own key in ``cnf``, issued by the parent's provider."""
    if response.status_code != 200:
        raise flow_error(response)
    body = json_body(response)
    token = body.get("agent_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise FlowError("invalid_response", "the 200 has no agent_token", status=502, response=response)
    claims, mine = decode_unverified(token).payload, decode_unverified(parent.agent_token).payload
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if (
        claims.get("parent_agent") != mine.get("sub")
        or claims.get("iss") != mine.get("iss")
        or not isinstance(jwk, dict)
        or jwk_thumbprint(jwk) != key.thumbprint()
    ):
        raise FlowError(
            "invalid_response",
            "the sub-agent token does not name this parent, its provider or the sub-agent's key",
            status=502,
            response=response,
        )
    return token
