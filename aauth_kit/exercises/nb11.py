"""Exercises for notebook 11 (four-party access), graded against the live lab: ``ex = nb11.bind(lab)``.

* ``ex.q1`` — ``token_request(endpoint, resource_token, agent_token, presented_token)``: the
  signed ``POST`` a Person Server sends to an Access Server (-11 "PS-to-AS Token Request"):
  body ``{"resource_token", "agent_token", "presented_token"}``, ``Signature-Key:
  sig=jwks_uri`` naming the PS and its ``aauth-person.json``, the body covered.  The grader
  takes fresh tokens of an agent of its own, sends the learner's message to the lab's AS and
  expects a ``200`` with an auth token from the AS (``iss``) for the parts catalog (``aud``).
* ``ex.q2`` — predict what the agent gets from its PS when the AS wants payment (``402
  payment_required``), does not take the PS's requests (``403 denied``), cannot be reached
  (``502 as_unreachable``), or grants (``200``).  The grader sets each situation up in the
  lab, runs an agent of its own, puts the lab back and compares.
"""

from __future__ import annotations

import json

from .. import jws
from ..flow import FlowError
from ..message import HttpMessage
from ..problem import error_code, problem_of
from . import Exercise, NotAttempted
from .base import binding, prediction

#: The agents the graders run (bootstrapped at the lab's Agent Provider).
GRADER_AGENT = "exercise-11"


class _Grader:
    def __init__(self, lab):
        self.lab = lab
        self.access_server = lab.identifiers["access_server"]
        self.catalog = lab.identifiers["catalog"]
        self.runs = 0

    def agent(self):
        self.runs += 1
        return self.lab.new_agent(f"{GRADER_AGENT}-{self.runs}")

    def fresh_tokens(self) -> tuple[str, str, str]:
        """A resource token of the catalog (``aud`` the AS), the agent token it binds and the
        person token the agent presented: the grader's agent climbs the ladder once and its
        request to the PS is read back."""
        agent = self.agent()
        seen: list[bytes] = []

        def keep(request):
            if request.url.path == "/auth-token":
                seen.append(request.read())

        with self.lab.hosts.client(auth=agent.auth(), timeout=60, event_hooks={"request": [keep]}) as client:
            client.get(f"{self.catalog}/parts")
        body = json.loads(seen[-1])
        return body["resource_token"], agent.agent_token, body["presented_token"]

    def outcome(self) -> tuple[int, str | None]:
        """What a new agent of the grader gets for ``GET /parts`` at the catalog."""
        with self.lab.hosts.client(auth=self.agent().auth(), timeout=60) as client:
            try:
                return client.get(f"{self.catalog}/parts").status_code, None
            except FlowError as error:
                return error.status, error.code


# -- q1: the PS's signed request to the AS ----------------------------------------------------------
def _q1(grader: _Grader) -> Exercise:
    def grade(token_request) -> str | None:
        message = token_request(f"{grader.access_server}/token", *grader.fresh_tokens())
        if message is None or message is Ellipsis:
            raise NotAttempted
        if not isinstance(message, HttpMessage):
            return "return the HttpMessage you signed"
        response = grader.lab.send(message, source="PS").response
        if response.status == 200:
            claims = jws.decode_unverified(json.loads(response.body)["auth_token"]).payload
            if (claims["iss"], claims["aud"]) == (grader.access_server, grader.catalog):
                return None
        said = error_code(response.body, response.header("signature-error"))
        return f"the AS answered {response.status} ({said}): {problem_of(response.body).get('detail') or ''}"

    return Exercise(
        notebook="11",
        title="Q1 · the PS's request to the AS",
        grade=grade,
        hints=(
            "Build an HttpMessage('POST', endpoint, [('Content-Type', 'application/json')], body) with the "
            "three tokens in a JSON body, then sign it with sign_request as the PS in its own right.",
            "The signature key is jwks_uri_key(PS, 'aauth-person.json', lab.keys['ps'].kid) and the created time "
            "int(lab.clock()); the AS takes requests only from the Person Servers it trusts.",
        ),
        reference=(
            "import json\n"
            "from aauth_kit.message import HttpMessage\n"
            "from aauth_kit.profile import sign_request\n"
            "from aauth_kit.signature_key import jwks_uri_key\n"
            "\n"
            "def token_request(endpoint, resource_token, agent_token, presented_token):\n"
            "    tokens = {\n"
            '        "resource_token": resource_token,\n'
            '        "agent_token": agent_token,\n'
            '        "presented_token": presented_token,\n'
            "    }\n"
            "    body = json.dumps(tokens).encode()\n"
            '    message = HttpMessage("POST", endpoint, [("Content-Type", "application/json")], body)\n'
            '    ps = lab.identifiers["ps"]\n'
            '    key = lab.keys["ps"]\n'
            '    sign_request(message, key, jwks_uri_key(ps, "aauth-person.json", key.kid), created=int(lab.clock()))\n'
            "    return message\n"
        ),
        success="the PS signs as itself (jwks_uri) and sends the three tokens; the AS answers with its auth token.",
        lab=grader.lab,
    )


# -- q2: what the agent gets from its PS -------------------------------------------------------------
PAYMENT = "the AS wants a billing relationship with the PS first"
UNTRUSTED = "the AS does not take requests from the lab's PS"
GONE = "the catalog names an AS that cannot be reached"
GRANTED = "the AS trusts the PS and grants catalog:read"
#: What the agent gets from its PS in each.
EXPECTED = {
    PAYMENT: (402, "payment_required"),
    UNTRUSTED: (403, "denied"),
    GONE: (502, "as_unreachable"),
    GRANTED: (200, None),
}
_WHY = {
    PAYMENT: "the AS answers 402 with a Payment challenge; the kit's PS makes no payments and relays the 402 "
    "(payment_required) with the AS's WWW-Authenticate",
    UNTRUSTED: "the AS refuses the PS's signature (401 unknown_key) — the agent's own request was fine, so the PS "
    "tells it 403 denied",
    GONE: "no verifiable answer from the AS in time is 502 as_unreachable",
    GRANTED: "the PS verifies the AS's auth token and hands it on; the agent's retry at the catalog is 200",
}


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    lab = grader.lab
    policy, resource = lab.access_server.policy, lab.catalog.resource
    seen = {}
    billing, billed, trusted, access_server = (
        policy.billing,
        set(policy.billed),
        set(policy.trusted),
        resource.access_server,
    )
    try:
        policy.billing, policy.billed = True, set()
        seen[PAYMENT] = grader.outcome()
        policy.billing, policy.billed, policy.trusted = billing, billed, set()
        seen[UNTRUSTED] = grader.outcome()
        policy.trusted = trusted
        resource.access_server = "https://gone.example"
        seen[GONE] = grader.outcome()
        resource.access_server = access_server
        seen[GRANTED] = grader.outcome()
    finally:
        policy.billing, policy.billed, policy.trusted = billing, billed, trusted
        resource.access_server = access_server
    return seen


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Set up the four situations of ``q2`` in ``lab`` one after the other; what the agent got."""
    return _observe(_Grader(lab))


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="11",
        title="Q2 · what does the agent get?",
        hints=(
            "The agent only talks to its PS; the PS passes on what the AS said, in the agent's terms.",
            "Payment: 402. An AS that refuses the PS: 403 denied. No answer: 502 as_unreachable.",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="the agent never meets the AS: its PS relays payment (402), refusal (403) and silence (502).",
        answerer="PS",
        example="e.g. (403, 'denied'); for a success (200, None)",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "bind", "observe"]
