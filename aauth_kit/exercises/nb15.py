"""Exercises for notebook 15 (sub-agents, call chaining and interaction chaining), graded against
the live lab: ``ex = nb15.bind(lab)``.

* ``ex.q1`` — ``follow(response)``: from the supply-chain agent's ``202`` chaining a downstream
  interaction (-11 "Interaction Chaining", "Pending Response"), the link the person opens
  (``{url}?code={code}``) and the absolute URL the agent polls.  The grader makes a live chained
  request, opens the link as the person, approves at the PS and polls the URL: it must answer
  ``200`` with the market analysis.
* ``ex.q2`` — predict what four requests are answered (-11 "Polling Error Codes", "Single-Level
  Depth", "Upstream Token Verification").

The lab's PS must ask the person for ``market-analysis:analyze`` (``Lab(consent_scopes=[...])``,
as the notebook's lab does): the grader adds it to the policy if it is missing.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

from ..subagents import create_subagent
from . import Exercise, NotAttempted
from .base import Grader, binding, error_of, json_body, outcome, prediction

#: The grader's agents, bootstrapped at the lab's Agent Provider for ``mcp-user``.
GRADER_AGENT = "exercise-15"
STRANGER = "exercise-15-stranger"
SCOPE = "market-analysis:analyze"
PLAIN = {"prompt": "Optimize the laptop supply chain"}
WITH_ANALYSIS = {"prompt": "Optimize the laptop supply chain with a market analysis"}


class _Grader(Grader):
    """The lab, the grader's agent and its auth token at the supply-chain agent (made on first use)."""

    def __init__(self, lab):
        super().__init__(lab)
        self.sca = lab.identifiers["supply_chain"]

    def agent(self, local: str = GRADER_AGENT):
        """The grader's agent; the PS asks the person for ``SCOPE`` from its first use."""
        if local not in self._agents and not self.lab.policy.needs_consent(SCOPE):
            self.lab.policy.scopes.append(SCOPE)
        return super().agent(local)

    def auth_token(self) -> str:
        """The grader's auth token for ``POST /optimize`` (a plain optimisation obtains it)."""
        agent = self.agent()
        token = agent.auth_token_for(self.sca)
        if token is None:
            with self.lab.hosts.client(auth=agent.auth(), timeout=60) as client:
                client.post(f"{self.sca}/optimize", json=PLAIN).raise_for_status()
            token = agent.auth_token_for(self.sca)
        return token

    def send(self, method: str, url: str, body=None, *, key=None, token=None, wait: int | None = None):
        """A request signed by the grader's agent (or ``key`` presenting ``token``); the response."""
        fields, content = json_body(body)
        if wait is not None:
            fields.append(("Prefer", f"wait={wait}"))
        return self.send_signed(GRADER_AGENT, method, url, fields, content, key=key, token=token)

    def chained(self):
        """A live ``202`` from the supply-chain agent chaining the PS's interaction."""
        response = self.send("POST", f"{self.sca}/optimize", WITH_ANALYSIS, token=self.auth_token())
        if response.status_code != 202:
            raise RuntimeError(f"the supply-chain agent answered {response.status_code}, not 202")
        return response

    def settle(self, response, approve: bool, wait: int = 10):
        """The person decides downstream (at the PS); the agent's poll of the pending URL then."""
        pending = urljoin(str(response.url), response.headers["location"])
        row = self.lab.supply_chain.resource.held.rows[pending.rsplit("/", 1)[1]]
        if not row.poller.task.done():
            self.lab.ps.decide(row.poller.downstream.code, approve)
        return self.send("GET", pending, token=self.auth_token(), wait=wait)


# -- q1: follow the chained 202 ----------------------------------------------------------------------
def _grade_follow(grader: _Grader):
    def grade(answer) -> str | None:
        response = grader.chained()
        problem = "not graded"
        try:
            problem = _check_follow(grader, response, answer(response))
        finally:
            if problem is not None:  # wrong, raised or not attempted: the person denies, the row ends
                grader.settle(response, False)
        return problem

    return grade


def _check_follow(grader: _Grader, response, given) -> str | None:
    if given is None:
        raise NotAttempted
    if not isinstance(given, (tuple, list)) or len(given) != 2 or not all(isinstance(v, str) for v in given):
        return "return a pair of strings: (link, pending_url)"
    link, pending_url = given
    location = response.headers["location"]
    if pending_url == location:
        return f"Location is {location!r}, relative to the resource: resolve it against the response's URL"
    if pending_url != urljoin(str(response.url), location):
        return "the pending URL is the Location header, on the origin that answered (-11 'Pending Response')"
    with grader.lab.hosts.client(timeout=60) as browser:
        page = browser.get(link, follow_redirects=False)
    if page.status_code != 303:
        return (
            f"the person's link answered {page.status_code} {error_of(page) or ''}: it is the url of "
            "the AAuth-Requirement header with ?code= and its code (-11 'Interaction Required')"
        ).replace("  ", " ")
    downstream = parse_qs(urlsplit(page.headers["location"]).query).get("code", [""])[0]
    grader.lab.ps.decide(downstream, True)
    result = grader.send("GET", pending_url, token=grader.auth_token(), wait=10)
    if result.status_code != 200:
        return f"the poll answered {result.status_code} {error_of(result)}"
    return None


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="15",
        title="Q1 · follow the chained 202",
        grade=_grade_follow(grader),
        hints=(
            "The link comes from the AAuth-Requirement header (parse it with aauth_kit.headers.parse_requirement); "
            "the pending URL from the Location header.",
            "Location is relative (/pending/…): urllib.parse.urljoin(str(response.url), location). "
            "The link is aauth_kit.interaction.interaction_url(url, code).",
        ),
        reference=(
            "from urllib.parse import urljoin\n"
            "from aauth_kit.headers import parse_requirement\n"
            "from aauth_kit.interaction import interaction_url\n\n"
            "def follow(response):\n"
            "    requirement = parse_requirement(response.headers['aauth-requirement'])\n"
            "    link = interaction_url(requirement.url, requirement.code)\n"
            "    return link, urljoin(str(response.url), response.headers['location'])"
        ),
        success="the person went through the supply-chain agent's page to the PS, and the poll got the result.",
        lab=grader.lab,
    )


# -- q2: what is answered? ---------------------------------------------------------------------------
STRANGER_POLLS = "another agent polls the pending URL of a chained request"
DENIED = "the person denies at the PS; the original agent polls the supply-chain agent's pending URL"
SUBAGENT_AT_PS = "a sub-agent signs its own request to the PS's auth token endpoint"
FOREIGN_UPSTREAM = "an agent sends the PS, as upstream_token, an auth token issued to another resource"

#: What -11 says each is answered.
EXPECTED = {
    STRANGER_POLLS: (404, "not_found"),
    DENIED: (403, "denied"),
    SUBAGENT_AT_PS: (401, "invalid_key"),
    FOREIGN_UPSTREAM: (400, "invalid_upstream_token"),
}
_WHY = {
    STRANGER_POLLS: "only the key that made the request may poll, and to anyone else the URL does not exist",
    DENIED: "the supply-chain agent relays the downstream outcome with its own code: denied is terminal",
    SUBAGENT_AT_PS: "a PS MUST reject a token request signed by an agent whose agent token has parent_agent "
    "(its parent asks for it): that token is in Signature-Key, so the answer is 401 with Signature-Error",
    FOREIGN_UPSTREAM: "the upstream token's aud must be the iss of the intermediary's agent token: "
    "it was issued to the supply-chain agent, not to this agent",
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the four requests of ``q2``; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    lab = grader.lab
    chained = grader.chained()
    stranger = lab.new_agent(STRANGER)
    pending = urljoin(str(chained.url), chained.headers["location"])
    polled = grader.send("GET", pending, key=stranger.key, token=stranger.agent_token)
    denied = grader.settle(chained, False)
    with lab.hosts.client(timeout=60) as client:
        sub = create_subagent(grader.agent(), client, "q2", key=lab.key("exercise-15/sub"))
    body = {"resource_token": "x", "presented_token": sub.agent_token}
    at_ps = grader.send("POST", f"{grader.ps}/auth-token", body, key=sub.key, token=sub.agent_token)
    upstream = {"resource": lab.identifiers["market_analysis"], "upstream_token": grader.auth_token()}
    foreign = grader.send(
        "POST", f"{grader.ps}/person-token", upstream, key=stranger.key, token=stranger.agent_token
    )
    return {
        STRANGER_POLLS: outcome(polled),
        DENIED: outcome(denied),
        SUBAGENT_AT_PS: outcome(at_ps),
        FOREIGN_UPSTREAM: outcome(foreign),
    }


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="15",
        title="Q2 · what is answered?",
        hints=(
            "Two are polls at the supply-chain agent (-11 'Polling Error Codes'), two token requests at the PS: "
            "a token refused in Signature-Key is an authentication error (-11 'Authentication Errors'), one "
            "refused in the body a token endpoint error (-11 'Token Endpoint Error Codes').",
            "A pending URL nobody else may see does not exist for them; a Signature-Key token the verifier "
            "does not trust is invalid_key (Signature Keys -09), an upstream token has its own invalid_… code.",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="each hop answers for itself: the chain relays outcomes, and every token is checked for who holds it.",
        answerer="server",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "bind", "observe"]
