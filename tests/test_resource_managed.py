"""Resource-managed (two-party) access over loopback sockets: the parts supplier asks the
person on its own page, answers the agent's poll with the quotes and an ``AAuth-Access``
session token, and takes ``Authorization: AAuth`` on later calls only from the key it was
issued to (-11 "Resource-Managed Access (Two-Party)", "Resource-Managed Authorization",
"AAuth-Access Response Header", "AAuth-Access Security", "HTTP Authentication Scheme
Registration", "Polling Error Codes").
"""

from __future__ import annotations

import re
import time

import pytest
from aauth_kit.servers.ps import PersonServer
from aauth_kit.servers.supplier import QUOTES, Supplier

from aauth_kit.agent import Agent
from aauth_kit.agent_deferred import Interaction
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.jwks import HttpResolver
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import jwt_key
from aauth_kit.trace import Trace

PS = "https://ps.example"
SUP = "https://supplier.example"
APP = "https://app.example"
PS_KEY = Key.from_seed("managed ps", kid="ps-1")
SUP_KEY = Key.from_seed("managed supplier", kid="sup-1")
AGENT_KEY = Key.from_seed("managed agent")
OTHER_KEY = Key.from_seed("managed thief")
HANG_GUARD = 60
#: Who signs in at the supplier: the PS's person, and two whose ``sub`` hand-made person tokens name.
PERSON, ALICE, MALLORY = ("mcp-user", "user123"), ("alice", "alice-pw"), ("mallory", "mallory-pw")


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


class Cast:
    """The PS (as the agent's Agent Provider) and the supplier on one Hosts."""

    def __init__(self, data_dir, persons=True, **held_limits):
        self.hosts = Hosts("socket")
        resolver = HttpResolver(self.hosts.fetch())
        self.ps = PersonServer(PS, key=PS_KEY, resolver=resolver, data_dir=data_dir)
        accounts = {
            PERSON[0]: (PERSON[1], (PS, self.ps.subject(PERSON[0], SUP))),
            ALICE[0]: (ALICE[1], (PS, "person-1")),
            MALLORY[0]: (MALLORY[1], (PS, "person-2")),
        }
        self.supplier = Supplier(SUP, key=SUP_KEY, resolver=resolver, persons=accounts if persons else None)
        for name, value in held_limits.items():
            setattr(self.supplier.resource.held, name, value)
        self.hosts.add(PS, self.ps.app)
        self.hosts.add(SUP, self.supplier.app)
        self.trace = Trace(names={PS: "PS", SUP: "Supplier"})
        self.browser = self.hosts.client(timeout=HANG_GUARD)

    def agent(self, key=AGENT_KEY, **options) -> Agent:
        options.setdefault("sleep", lambda seconds: None)
        options.setdefault("wait", 5)
        return Agent(key, self.ps.issue_agent_token("buyer", key), **options)

    def client(self, agent: Agent):
        return self.hosts.client(
            auth=agent.auth(), event_hooks=self.trace.sync_event_hooks("Agent"), timeout=HANG_GUARD
        )

    def open_page(self, interaction, callback: str | None = None, *, person=PERSON, browser=None):
        """The person opens the link (an :class:`Interaction` or a URL), signing in at the
        supplier first when it asks; the page they end on."""
        browser = browser or self.browser
        link = interaction.link(callback) if isinstance(interaction, Interaction) else interaction
        page = browser.get(link)
        if 'name="password"' in page.text:
            signed = self.sign_in(page, person, browser)
            assert signed.status_code == 303, signed.text
            page = browser.get(link)
        return page

    def sign_in(self, page, person=PERSON, browser=None):
        """Post the supplier's sign-in form ``page`` shows with ``person``'s username and password."""
        fields = hidden_fields(page.text) | dict(zip(("username", "password"), person, strict=True))
        return (browser or self.browser).post(f"{SUP}/sign-in", data=fields, follow_redirects=False)

    def answer(self, interaction, decision: str, callback: str | None = None, *, person=PERSON):
        """What a person does: open the link, sign in, press a button."""
        page = self.open_page(interaction, callback, person=person)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"decision": decision}
        return self.browser.post(f"{SUP}/interaction", data=form, follow_redirects=False)

    def close(self):
        self.browser.close()
        self.hosts.stop()


@pytest.fixture
def cast(tmp_path):
    cast = Cast(tmp_path)
    yield cast
    cast.close()


def summaries(cast) -> list[str]:
    return [f"{e.target} {e.summary()}" for e in cast.trace.exchanges]


def signed_get(url: str, token: str, key=AGENT_KEY, headers=(), components=None):
    """A GET signed by hand (to present what the kit's agent never would)."""
    message = HttpMessage("GET", url, list(headers))
    sign_request(message, key, jwt_key(token), components=components)
    return message


def send(cast, message: HttpMessage):
    return cast.browser.request(message.method, message.target_uri, headers=message.headers)


# -- the happy path ----------------------------------------------------------------------------------
def test_resource_managed_access_interaction_then_session(cast):
    """202 requirement=interaction → the person approves at the supplier → the poll answers the
    held call with 200 + AAuth-Access → the next call carries Authorization: AAuth and needs nobody."""
    told = []

    def approve(interaction):
        told.append(interaction)
        assert cast.answer(interaction, "approve").status_code == 200

    agent = cast.agent(on_interaction=approve)
    with cast.client(agent) as client:
        first = client.get(f"{SUP}/quotes")
        assert first.status_code == 200 and first.json()["quotes"] == QUOTES
        session = agent.sessions[SUP]
        assert first.headers["aauth-access"] == session
        second = client.get(f"{SUP}/quotes")
    assert second.status_code == 200
    (interaction,) = told
    assert interaction.url == f"{SUP}/interaction" and interaction.pending_url.startswith(f"{SUP}/pending/")
    assert summaries(cast) == [
        "Supplier GET /quotes → 202 (requirement=interaction)",
        f"Supplier GET {interaction.pending_url.removeprefix(SUP)} → 200",
        "Supplier GET /quotes → 200",
    ]
    last = cast.trace.exchanges[-1].request
    assert last.header("authorization") == f"AAuth {session}"
    # -11 "AAuth-Access Response Header": "The agent MUST include authorization in the covered components"
    assert '"authorization"' in last.header("signature-input")


def test_resource_managed_authorization_callback_and_denial(cast):
    """-11 "Interaction Callback Errors": the page sends the person back to the callback, with
    error=access_denied on a denial; the agent's poll ends in 403 denied, which it hands to the application."""
    redirects = []

    def deny(interaction):
        redirects.append(cast.answer(interaction, "deny", callback=f"{APP}/done"))

    with cast.client(cast.agent(on_interaction=deny)) as client:
        response = client.get(f"{SUP}/quotes")  # the resource's answer goes to the application
    assert (response.status_code, response.json()["error"]) == (403, "denied")
    assert redirects[0].status_code == 303
    assert redirects[0].headers["location"] == f"{APP}/done?error=access_denied"
    assert SUP not in cast.agent().sessions


def test_interaction_code_is_single_use_and_unknown_codes_are_invalid(cast):
    """-11 "User Interaction": "The code parameter is single-use"; 410 invalid_code otherwise."""
    codes = []

    def open_twice(interaction):
        codes.append((cast.open_page(interaction).status_code, cast.open_page(interaction).status_code))
        assert cast.browser.get(f"{SUP}/interaction?code=ZZZZ-ZZZZ").status_code == 410
        cast.supplier.resource.held.decide(_row(cast), True)

    with cast.client(cast.agent(on_interaction=open_twice)) as client:
        assert client.get(f"{SUP}/quotes").status_code == 200
    assert codes == [(200, 410)]


def _row(cast):
    (held,) = cast.supplier.resource.held.rows.values()
    return held


def test_interaction_form_refuses_cross_origin_posts_and_bad_callbacks(cast):
    def attack(interaction):
        fields = hidden_fields(cast.open_page(interaction).text) | {"decision": "approve"}
        foreign = cast.browser.post(
            f"{SUP}/interaction", data=fields, headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        wrong = cast.browser.post(f"{SUP}/interaction", data=fields | {"csrf": "guess"})
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
        plain = cast.browser.get(f"{interaction.url}?code=XXXX-XXXX&callback=http://app.example/cb")
        assert plain.status_code == 400
        cast.supplier.resource.held.decide(_row(cast), False)

    with cast.client(cast.agent(on_interaction=attack)) as client:
        assert client.get(f"{SUP}/quotes").status_code == 403


# -- polling errors (-11 "Polling Error Codes") ---------------------------------------------------------
def _pending(cast, agent_token: str, key=AGENT_KEY):
    response = send(cast, signed_get(f"{SUP}/quotes", agent_token, key))
    assert response.status_code == 202
    requirement = parse_requirement(response.headers["aauth-requirement"])
    assert requirement.requirement == "interaction" and response.headers["cache-control"] == "no-store"
    return f"{SUP}{response.headers['location']}", requirement


def test_poll_errors_expired_abandoned_and_not_found(cast):
    resource = cast.supplier.resource
    token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
    expired_url, _ = _pending(cast, token)
    abandoned_url, requirement = _pending(cast, token)
    assert cast.open_page(f"{requirement.url}?code={requirement.code}").status_code == 200
    for held in resource.held.rows.values():
        held.expires_at = 0
    expired = send(cast, signed_get(expired_url, token))
    abandoned = send(cast, signed_get(abandoned_url, token))
    assert (expired.status_code, expired.json()["error"]) == (408, "expired")
    assert (abandoned.status_code, abandoned.json()["error"]) == (403, "abandoned")
    gone = send(cast, signed_get(expired_url, token))
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")


def test_only_the_requesting_key_may_poll(cast):
    token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
    url, _ = _pending(cast, token)
    thief = cast.ps.issue_agent_token("thief", OTHER_KEY)
    stolen = send(cast, signed_get(url, thief, OTHER_KEY))
    assert (stolen.status_code, stolen.json()["error"]) == (404, "not_found")


def test_held_invocations_are_capped_per_key(tmp_path):
    """A stranger cannot make the resource hold unbounded invocations: 429 rate_limited + Retry-After."""
    cast = Cast(tmp_path, max_per_key=2)
    try:
        token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
        statuses = [send(cast, signed_get(f"{SUP}/quotes", token)).status_code for _ in range(2)]
        third = send(cast, signed_get(f"{SUP}/quotes", token))
        assert statuses == [202, 202]
        assert (third.status_code, third.json()["error"]) == (429, "rate_limited")
        assert "retry-after" in third.headers
    finally:
        cast.close()


# -- AAuth-Access Security --------------------------------------------------------------------------------
def _session(cast) -> tuple[Agent, str]:
    agent = cast.agent(on_interaction=lambda i: cast.answer(i, "approve"))
    with cast.client(agent) as client:
        assert client.get(f"{SUP}/quotes").status_code == 200
    return agent, agent.sessions[SUP]


def test_session_token_is_useless_without_the_agents_signature(cast):
    """-11 "AAuth-Access Security": "The token MUST NOT be usable as a standalone bearer token"."""
    _, session = _session(cast)
    bearer = cast.browser.get(f"{SUP}/quotes", headers={"authorization": f"AAuth {session}"})
    assert bearer.status_code == 401 and bearer.headers["aauth-requirement"] == "requirement=agent-token"
    thief_token = cast.ps.issue_agent_token("thief", OTHER_KEY)
    stolen = send(
        cast, signed_get(f"{SUP}/quotes", thief_token, OTHER_KEY, [("authorization", f"AAuth {session}")])
    )
    assert stolen.status_code == 202  # another key finds no session: the resource asks its person again


def test_session_token_must_be_covered_by_the_signature(cast):
    """-11 "HTTP Authentication Scheme Registration": "the authorization field MUST be included in
    the signature's covered components"."""
    agent, session = _session(cast)
    message = signed_get(
        f"{SUP}/quotes",
        agent.agent_token,
        headers=[("authorization", f"AAuth {session}")],
        components=["@method", "@authority", "@path", "signature-key"],
    )
    response = send(cast, message)
    assert response.status_code == 401 and "signature-error" in response.headers


@pytest.mark.parametrize("value", ["AAuth", "AAuth a b", "AAuth a,b"])
def test_malformed_aauth_credentials_are_refused(cast, value):
    """-11 "AAuth-Access Response Header": "Recipients MUST reject empty values, values containing
    embedded whitespace or control characters, and responses carrying more than one credential"."""
    token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
    response = send(cast, signed_get(f"{SUP}/quotes", token, headers=[("authorization", value)]))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_an_expired_session_sends_the_agent_back_to_the_person(cast):
    agent, session = _session(cast)
    cast.supplier.resource.sessions.rows[session] = cast.supplier.resource.sessions.rows[session].__class__(
        **{**cast.supplier.resource.sessions.rows[session].__dict__, "expires_at": 0}
    )
    agent.on_interaction = lambda i: cast.answer(i, "approve")
    with cast.client(agent) as client:
        assert client.get(f"{SUP}/quotes").status_code == 200
    assert agent.sessions[SUP] != session


def test_rolling_refresh_replaces_the_session(cast):
    """-11 "AAuth-Access Response Header": "When the agent receives a new AAuth-Access value, it
    MUST use the new value on subsequent requests"."""
    agent, session = _session(cast)
    sessions = cast.supplier.resource.sessions
    sessions.lifetime = 0.0001  # past half its life at once
    with cast.client(agent) as client:
        rolled = client.get(f"{SUP}/quotes")
        new = agent.sessions[SUP]
        sessions.lifetime = 3600
        sessions.rows[new] = sessions.rows[new].__class__(
            **{**sessions.rows[new].__dict__, "expires_at": 1e12}
        )
        assert client.get(f"{SUP}/quotes").status_code == 200
    assert rolled.headers["aauth-access"] == new != session
    assert session not in sessions.rows
    assert cast.trace.exchanges[-1].request.header("authorization") == f"AAuth {new}"


def test_agent_refuses_a_malformed_aauth_access(cast):
    """The agent's side of the token68 rule: a bad AAuth-Access ends the flow (invalid_response)."""
    from aauth_kit.agent_sessions import SessionTokens
    from aauth_kit.http_client import httpx

    bad = httpx.Response(200, headers={"aauth-access": "a b"}, request=httpx.Request("GET", SUP))
    with pytest.raises(FlowError) as caught:
        SessionTokens().take(SUP, bad)
    assert caught.value.code == "invalid_response"


# -- caps a stranger could fill, and requests that expire (OWASP ASVS level 2 V11.1.4) ------------------
SECOND_AP = "https://second-ap.example"


def second_agent_provider(cast, tmp_path) -> PersonServer:
    """Another Agent Provider (anyone can run one) on the cast's network."""
    (tmp_path / "second").mkdir()
    resolver = HttpResolver(cast.hosts.fetch())
    second = PersonServer(
        SECOND_AP,
        key=Key.from_seed("managed second ap", kid="ap-1"),
        resolver=resolver,
        data_dir=tmp_path / "second",
    )
    cast.hosts.add(SECOND_AP, second.app)
    return second


def test_held_invocations_one_issuer_cannot_fill_the_table(tmp_path):
    """An Agent Provider mints agent tokens for as many keys as it likes: past its share of the held
    rows its agents get 429 rate_limited + Retry-After, long before the table is full, and the
    agents of another Agent Provider are still held."""
    cast = Cast(tmp_path, max_per_issuer=2)
    try:
        second = second_agent_provider(cast, tmp_path)
        keys = [Key.from_seed(f"managed agent {n}") for n in range(3)]
        answers = [
            send(cast, signed_get(f"{SUP}/quotes", cast.ps.issue_agent_token(f"buyer-{n}", key), key))
            for n, key in enumerate(keys)
        ]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        assert (answers[2].status_code, answers[2].json()["error"]) == (429, "rate_limited")
        assert int(answers[2].headers["retry-after"]) > 0
        held = cast.supplier.resource.held
        assert len(held.rows) == 2 < held.max_held
        other = send(cast, signed_get(f"{SUP}/quotes", second.issue_agent_token("buyer", keys[2]), keys[2]))
        assert other.status_code == 202
    finally:
        cast.close()


def test_sessions_one_issuer_cannot_fill_the_table(tmp_path):
    """Past one Agent Provider's share of the session tokens, its next agent's approved poll is 429
    rate_limited + Retry-After (the approval stays: it may poll again later); another Agent
    Provider's agent still gets its AAuth-Access."""
    cast = Cast(tmp_path)
    try:
        second = second_agent_provider(cast, tmp_path)
        cast.supplier.resource.sessions.max_per_issuer = 1
        held = cast.supplier.resource.held

        def approved_poll(token, key):
            url, requirement = _pending(cast, token, key)
            held.decide(held.by_code(requirement.code), True)
            return send(cast, signed_get(url, token, key))

        keys = [Key.from_seed(f"managed agent {n}") for n in range(3)]
        first = approved_poll(cast.ps.issue_agent_token("buyer-0", keys[0]), keys[0])
        refused = approved_poll(cast.ps.issue_agent_token("buyer-1", keys[1]), keys[1])
        other = approved_poll(second.issue_agent_token("buyer", keys[2]), keys[2])
        assert first.status_code == 200 and "aauth-access" in first.headers
        assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
        assert int(refused.headers["retry-after"]) > 0 and "aauth-access" not in refused.headers
        assert other.status_code == 200 and "aauth-access" in other.headers
    finally:
        cast.close()


def _signed_in_cast(tmp_path, ttl: float) -> Cast:
    """A cast whose held requests live ``ttl`` seconds, the person already signed in at the supplier."""
    cast = Cast(tmp_path, ttl=ttl)
    assert cast.sign_in(cast.browser.get(f"{SUP}/interaction?code=0000-0000")).status_code == 303
    return cast


def _wait_until_expired(row) -> None:
    time.sleep(max(0.0, row.expires_at - time.time()) + 0.2)


def test_a_late_approval_decides_nothing_and_the_poll_says_expired(tmp_path):
    """-11 "Interaction Code Format": the code expires with the pending request.  The person opens
    the page in time but answers after the request expired (before any sweep): 408 expired, the
    page says so, no session is issued, and the agent's poll says 408 expired, not abandoned."""
    cast = _signed_in_cast(tmp_path, ttl=2)
    try:
        token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
        url, requirement = _pending(cast, token)
        page = cast.browser.get(f"{requirement.url}?code={requirement.code}")
        assert page.status_code == 200
        row = _row(cast)
        _wait_until_expired(row)
        assert row.id in cast.supplier.resource.held.rows  # not swept yet
        form = hidden_fields(page.text) | {"decision": "approve"}
        late = cast.browser.post(f"{SUP}/interaction", data=form, follow_redirects=False)
        assert late.status_code == 408 and "expired" in late.text and row.approved is None
        poll = send(cast, signed_get(url, token))
        assert (poll.status_code, poll.json()["error"]) == (408, "expired")
        assert "aauth-access" not in poll.headers and cast.supplier.resource.sessions.rows == {}
    finally:
        cast.close()


def test_a_late_answer_goes_back_to_the_callback_with_interaction_expired(tmp_path):
    """-11 "Interaction Callback Errors": an interaction that cannot complete sends the browser
    back to the callback with an error; for an answer after the request expired,
    ``interaction_expired``, and nothing is decided."""
    cast = _signed_in_cast(tmp_path, ttl=2)
    try:
        token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
        url, requirement = _pending(cast, token)
        page = cast.browser.get(f"{requirement.url}?code={requirement.code}&callback={APP}/done")
        assert page.status_code == 200
        _wait_until_expired(_row(cast))
        form = hidden_fields(page.text) | {"decision": "approve"}
        late = cast.browser.post(f"{SUP}/interaction", data=form, follow_redirects=False)
        assert late.status_code == 303 and late.headers["location"] == f"{APP}/done?error=interaction_expired"
        poll = send(cast, signed_get(url, token))
        assert (poll.status_code, poll.json()["error"]) == (408, "expired")
    finally:
        cast.close()


def test_an_expired_code_says_the_request_expired_and_the_poll_says_expired(tmp_path):
    """An expired code at the page is 410 invalid_code (the code can no longer be used) and the
    page says the request expired; the agent's poll afterwards is 408 expired (-11 "Polling Error Codes")."""
    cast = _signed_in_cast(tmp_path, ttl=1)
    try:
        token = cast.ps.issue_agent_token("buyer", AGENT_KEY)
        url, requirement = _pending(cast, token)
        _wait_until_expired(_row(cast))
        page = cast.browser.get(f"{requirement.url}?code={requirement.code}")
        assert page.status_code == 410 and "request expired" in page.text
        poll = send(cast, signed_get(url, token))
        assert (poll.status_code, poll.json()["error"]) == (408, "expired")
    finally:
        cast.close()
