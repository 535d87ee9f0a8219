"""Exercises for notebook 13 (resource sessions), graded against the live lab: ``ex = nb13.bind(lab)``.

* ``ex.q1`` — ``quotes_request(url, key, token, session, created)``: a signed ``GET`` of the
  supplier's quotes carrying the session token the grader's agent holds (-11 "AAuth-Access
  Response Header": ``Authorization: AAuth <token>``, ``authorization`` covered by the
  signature).  The grader sends it; the supplier must answer ``200``.
* ``ex.q2`` — predict what the supplier's authorization endpoint answers five requests (-11
  "Response without Resource Token", "Authorization Endpoint Error Responses").
"""

from __future__ import annotations

import re

from ..headers import HeaderError, parse_signature_error
from ..message import HttpMessage
from . import Exercise, NotAttempted
from .base import Grader, binding, json_body, outcome, prediction, send

#: The grader's agents, bootstrapped at the lab's Agent Provider for ``mcp-user``.
GRADER_AGENT = "exercise-13"
PREDICTING_AGENT = "exercise-13-q2"
QUOTES = "supplier:quotes"


def _hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


class _Grader(Grader):
    """The lab, the supplier, the grader's agents and the person's part at the supplier's page."""

    def __init__(self, lab):
        super().__init__(lab)
        self.supplier = lab.identifiers["supplier"]

    def on_interaction(self, interaction) -> None:
        """The person: open the supplier's page, sign in there as the lab's person, press Approve."""
        username = "mcp-user"  # the person the grader's agents act for
        password, _ = self.lab.supplier_accounts()[username]
        with self.lab.hosts.client(timeout=60) as browser:
            page = browser.get(interaction.link())
            signing_in = _hidden(page.text) | {"username": username, "password": password}
            browser.post(f"{self.supplier}/sign-in", data=signing_in)
            page = browser.get(interaction.link())
            browser.post(f"{self.supplier}/interaction", data=_hidden(page.text) | {"decision": "approve"})

    def authorize(self, local: str) -> str:
        """``supplier:quotes`` for agent ``local`` (the person approves the first time); its session token."""
        agent = self.agent(local)
        with self.lab.hosts.client(timeout=60) as client:
            return agent.authorize(client, self.supplier, QUOTES).session_token

    def signed(self, local: str, method: str, url: str, body=None, *, token: str | None = None):
        """A JSON request signed by agent ``local`` with ``token`` (default its agent token)."""
        return self.send_signed(local, method, url, *json_body(body), token=token)

    def person_token(self, local: str, resource: str) -> str:
        answer = self.signed(local, "POST", f"{self.ps}/person-token", {"resource": resource})
        return answer.json()["person_token"]

    def forget(self, local: str) -> None:
        """Drop what the supplier holds for agent ``local``'s key: its sessions and pending requests."""
        resource, jkt = self.lab.supplier.resource, self.agent(local).jkt
        for token in [t for t, s in resource.sessions.rows.items() if s.jkt == jkt]:
            del resource.sessions.rows[token]
        for key in [k for k, h in resource.held.rows.items() if h.caller.jkt == jkt]:
            del resource.held.rows[key]


# -- q1: a call with a session token ------------------------------------------------------------------
def _grade_request(grader: _Grader):
    def grade(answer) -> str | None:
        session = grader.authorize(GRADER_AGENT)
        agent = grader.agent(GRADER_AGENT)
        token = agent.person_token_for(grader.supplier)
        message = answer(f"{grader.supplier}/quotes", agent.key, token, session, int(grader.lab.clock()))
        if message is None:
            raise NotAttempted
        if not isinstance(message, HttpMessage):
            return f"return the HttpMessage you signed, not {type(message).__name__}"
        try:
            response = send(grader.lab, message)
        finally:
            grader.forget(GRADER_AGENT)  # a wrong try leaves no pending request behind
        authorization = message.header("authorization") or ""
        if response.status_code == 200:
            return None
        if not authorization.startswith("AAuth "):
            return "the session token goes in Authorization with the scheme AAuth: 'AAuth <session token>' (not Bearer)"
        if response.status_code == 401 and "signature-error" in response.headers:
            try:
                code = parse_signature_error(response.headers["signature-error"])[0]
            except HeaderError:
                code = "?"
            if code == "invalid_input":
                return "the signature must cover authorization: add the header before you sign"
            return f"the supplier refused the signature ({code}): sign with key, present token, with created"
        if response.status_code == 401:
            return "the request is not signed: sign it with key, presenting token (jwt_key(token))"
        if response.status_code == 202:
            return "the supplier found no session: Authorization must carry exactly the session token you were given"
        return f"the supplier answered {response.status_code}: {response.text[:200]}"

    return grade


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="13",
        title="Q1 · a call with a session token",
        grade=_grade_request(grader),
        hints=(
            '-11 "AAuth-Access Response Header": the agent sends the token back as Authorization: AAuth <token>.',
            "sign_request covers authorization when the header is there when it signs: add it first.",
        ),
        reference=(
            "from aauth_kit.message import HttpMessage\n"
            "from aauth_kit.profile import sign_request\n"
            "from aauth_kit.signature_key import jwt_key\n\n"
            "def quotes_request(url, key, token, session, created):\n"
            "    message = HttpMessage('GET', url, [('Authorization', f'AAuth {session}')])\n"
            "    sign_request(message, key, jwt_key(token), created=created)\n"
            "    return message"
        ),
        success="200: the session token, inside the agent's signature, is the whole authorization.",
        lab=grader.lab,
    )


# -- q2: what does the authorization endpoint answer? --------------------------------------------------
FIRST = "scope supplier:quotes, asked for the first time"
AGAIN = "scope supplier:quotes, asked again after the person approved"
UNKNOWN = "scope supplier:refunds"
ACCOUNT = "scope supplier:order for account acme-corp, which the person does not hold"
OTHER_AUD = "scope supplier:quotes, with a person token issued for another resource"

#: What -11 says the supplier answers each.
EXPECTED = {
    FIRST: (202, None),
    AGAIN: (200, None),
    UNKNOWN: (400, "invalid_scope"),
    ACCOUNT: (400, "invalid_account"),
    OTHER_AUD: (400, "invalid_person_token"),
}
_WHY = {
    FIRST: "the supplier decides this scope itself and asks its person first: 202, requirement=interaction",
    AGAIN: "the agent's key is already authorized: 200 at once, with a fresh AAuth-Access",
    UNKNOWN: "a scope the resource does not recognize",
    ACCOUNT: "the supplier knows its accounts, and this one is not the person's",
    OTHER_AUD: "a person token for another aud is a bad person token at the authorization endpoint: "
    "400, not the 401 of a failed HTTP signature",
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the five requests of ``q2`` to the lab's supplier; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    local, endpoint = PREDICTING_AGENT, f"{grader.supplier}/authorize"
    grader.forget(local)
    token = grader.person_token(local, grader.supplier)
    first = outcome(grader.signed(local, "POST", endpoint, {"scope": QUOTES}, token=token))
    grader.forget(local)
    grader.authorize(local)  # the person approves
    other = grader.person_token(local, grader.lab.identifiers["catalog"])
    seen = {
        FIRST: first,
        AGAIN: outcome(grader.signed(local, "POST", endpoint, {"scope": QUOTES}, token=token)),
        UNKNOWN: outcome(grader.signed(local, "POST", endpoint, {"scope": "supplier:refunds"}, token=token)),
        ACCOUNT: outcome(
            grader.signed(
                local, "POST", endpoint, {"scope": "supplier:order", "account": "acme-corp"}, token=token
            )
        ),
        OTHER_AUD: outcome(grader.signed(local, "POST", endpoint, {"scope": QUOTES}, token=other)),
    }
    grader.forget(local)
    return seen


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="13",
        title="Q2 · what does the authorization endpoint answer?",
        hints=(
            "Two are not errors: one waits for the person, one does not need to.",
            '-11 "Authorization Endpoint Error Responses": every error of the table but invalid_signature is a 400.',
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="the resource decides itself (202, then 200 at once), and its errors are the table's 400s.",
        answerer="supplier",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "bind", "observe"]
