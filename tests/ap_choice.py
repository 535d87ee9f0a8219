"""A person's choice of Person Server at the lab's Agent Provider, over HTTP (the requests the
chosen-PS and three-party interop tests send): sign in, choose, register the agent again."""

from __future__ import annotations

import json

from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import hwk_key


def _json(lab: Lab, method: str, path: str, body: dict, *, session: str | None = None):
    message = HttpMessage(method, f"{lab.identifiers['ps']}{path}", [], json.dumps(body).encode())
    message.set_header("Content-Type", "application/json")
    if session is not None:
        message.set_header("Authorization", f"Bearer {session}")
    return message


def session(lab: Lab, username: str, password: str) -> str:
    """A Bearer session of the JSON API (``POST /login``)."""
    response = lab.send(_json(lab, "POST", "/login", {"username": username, "password": password})).response
    assert response.status == 200, response.body
    return json.loads(response.body)["session"]


def choose(lab: Lab, session: str | None, agent_id, ps) -> tuple[int, dict]:
    """``PUT /agents/person-server``: the status and the JSON answer."""
    message = _json(lab, "PUT", "/agents/person-server", {"agent": agent_id, "ps": ps}, session=session)
    response = lab.send(message, source="Person").response
    return response.status, json.loads(response.body)


def register(lab: Lab, key, local: str) -> str:
    """``POST /agent/register`` signed with ``key`` (``hwk``): a known, approved key gets a fresh
    agent token at once."""
    message = _json(lab, "POST", "/agent/register", {"local": local})
    sign_request(message, key, hwk_key(key), created=int(lab.clock()))
    response = lab.send(message).response
    assert response.status == 200, response.body
    return json.loads(response.body)["agent_token"]
