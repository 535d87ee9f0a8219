"""The resource's authorization endpoint over loopback sockets, two-party: the parts supplier
answers ``POST /authorize`` for ``supplier:quotes`` itself (-11 "Authorization Endpoint Request",
"Response without Resource Token", "Resource-Managed Authorization", "AAuth-Access Response
Header"), with a resource token for the scopes the person's PS authorizes ("Response with
Resource Token"), and with the codes of -11 "Authorization Endpoint Error Responses"; the kit's
agent follows it with :meth:`Agent.authorize`.  Then what an attacker tries.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from aauth_kit.agent_authorization import Authorized
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.resource_login import SESSION_COOKIE
from aauth_kit.signature_key import jwt_key
from aauth_kit.tokens import mint_person_token

from .test_resource_managed import (
    AGENT_KEY,
    ALICE,
    MALLORY,
    OTHER_KEY,
    PS,
    PS_KEY,
    SUP,
    Cast,
    hidden_fields,
    second_agent_provider,
    send,
    signed_get,
    summaries,
)

QUOTES = "supplier:quotes"


@pytest.fixture
def cast(tmp_path):
    cast = Cast(tmp_path)
    yield cast
    cast.close()


def approving(cast):
    """The person: approves at the supplier's page, or at the PS when the PS asks."""

    def person(interaction):
        if interaction.url.startswith(PS):
            cast.ps.decide(interaction.code, True)
        else:
            assert cast.answer(interaction, "approve").status_code == 200

    return person


def person_token(cast, key=AGENT_KEY, **claims) -> str:
    """A person token for the supplier from the PS's key (``claims`` override)."""
    now = int(cast.supplier.resource.clock())
    values = {"iss": PS, "aud": SUP, "sub": "person-1", "cnf": key, "iat": now, "exp": now + 600} | claims
    signer = values.pop("signer", PS_KEY)
    return mint_person_token(signer, kid="ps-1", **values)


def post_authorize(cast, body, token: str, key=AGENT_KEY, *, tamper=None):
    """``POST /authorize`` signed by hand with ``token``; ``tamper`` changes the body after signing."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    message = HttpMessage("POST", f"{SUP}/authorize", [("Content-Type", "application/json")], content)
    sign_request(message, key, jwt_key(token), created=int(cast.supplier.resource.clock()))
    if tamper is not None:
        message.body = tamper(message.body)
    return cast.browser.post(message.target_uri, headers=message.headers, content=message.body)


def error_of(response) -> tuple[int, str | None]:
    try:
        return response.status_code, response.json().get("error")
    except ValueError:
        return response.status_code, None


# -- the happy path (-11 "Response without Resource Token") --------------------------------------------
def test_response_without_resource_token_202_then_authorized_with_aauth_access(cast):
    """The agent asks with its person token → 202 + Location + requirement=interaction + pending;
    the person approves at the supplier's page; the poll → 200 authorized + AAuth-Access; the
    next call carries Authorization: AAuth (signed over) and needs nobody."""
    agent = cast.agent(on_interaction=approving(cast))
    with cast.client(agent) as client:
        granted = agent.authorize(client, SUP, QUOTES)
        quotes = client.get(f"{SUP}/quotes")
    assert granted == Authorized(QUOTES, session_token=agent.sessions[SUP])
    assert quotes.status_code == 200
    pending = agent.last_interaction.pending_url.removeprefix(SUP)
    assert summaries(cast)[-3:] == [
        "Supplier POST /authorize → 202 (requirement=interaction)",
        f"Supplier GET {pending} → 200",
        "Supplier GET /quotes → 200",
    ]
    asked = next(e for e in cast.trace.exchanges if e.request.target_uri.endswith("/authorize"))
    assert (
        decode_unverified(re.search(r'jwt="([^"]+)"', asked.request.header("signature-key"))[1]).header["typ"]
        == "aa-person+jwt"
    )
    answer = asked.response
    assert answer.header("location") == pending and answer.header("cache-control") == "no-store"
    assert answer.header("retry-after") is not None and json.loads(answer.body) == {"status": "pending"}
    requirement = parse_requirement(answer.header("aauth-requirement"))
    assert (requirement.url, requirement.code) == (f"{SUP}/interaction", agent.last_interaction.code)
    done = cast.trace.exchanges[-2].response
    assert json.loads(done.body) == {"status": "authorized", "scope": QUOTES}
    assert done.header("aauth-access") == granted.session_token
    last = cast.trace.exchanges[-1].request
    assert last.header("authorization") == f"AAuth {granted.session_token}"
    assert '"authorization"' in last.header("signature-input")


def test_response_without_resource_token_already_authorized_answers_200_at_once(cast):
    """ "If the resource can authorize immediately (e.g., the agent's key is already authorized),
    it returns 200 OK directly with the optional AAuth-Access header": a fresh session token, the
    old one ends."""
    agent = cast.agent(on_interaction=approving(cast))
    with cast.client(agent) as client:
        first = agent.authorize(client, SUP, QUOTES)
        agent.on_interaction = None  # nobody is asked again
        again = agent.authorize(client, SUP, QUOTES)
        assert client.get(f"{SUP}/quotes").status_code == 200
    assert summaries(cast)[-2] == "Supplier POST /authorize → 200"
    assert again.session_token != first.session_token and again.scope == QUOTES
    assert first.session_token not in cast.supplier.resource.sessions.rows


def test_response_without_resource_token_denied_is_403(cast):
    agent = cast.agent(on_interaction=lambda i: cast.answer(i, "deny"))
    with cast.client(agent) as client, pytest.raises(FlowError) as caught:
        agent.authorize(client, SUP, QUOTES)
    assert (caught.value.status, caught.value.code) == (403, "denied")
    assert SUP not in agent.sessions


def test_response_with_resource_token_for_the_scopes_the_ps_authorizes(cast):
    """A scope the supplier does not manage itself: 200 {"resource_token"} (aud the PS); the
    agent takes it to its PS and keeps the auth token, which then opens POST /orders."""
    agent = cast.agent(on_interaction=approving(cast))
    with cast.client(agent) as client:
        granted = agent.authorize(client, SUP, "supplier:order")
        ordered = client.post(f"{SUP}/orders", json={"part": "cpu", "units": 2})
    assert granted.auth_token == agent.auth_token_for(SUP) and granted.session_token is None
    assert ordered.status_code == 201
    asked = next(e for e in cast.trace.exchanges if e.request.target_uri.endswith("/authorize"))
    resource_token = json.loads(asked.response.body)["resource_token"]
    assert decode_unverified(resource_token).payload["aud"] == PS


def test_authorization_endpoint_request_account_the_person_holds(cast):
    """ "account (OPTIONAL)": the supplier knows its accounts (each person's own), so the one the
    person holds reaches the resource token."""
    token = person_token(cast)
    response = post_authorize(cast, {"scope": "supplier:order", "account": "person-1"}, token)
    assert response.status_code == 200
    assert decode_unverified(response.json()["resource_token"]).payload["account"] == "person-1"


# -- -11 "Authorization Endpoint Error Responses" ---------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"scope": "supplier:quotes  supplier:order"}, "invalid_request"),
        ({"scope": "supplier:quotes supplier:order"}, "invalid_request"),  # two kinds in one request
        (b"{not json", "invalid_request"),
        ({"scope": "supplier:refunds"}, "invalid_scope"),
        ({"scope": "supplier:order", "account": "acme-corp"}, "invalid_account"),
        ({"scope": QUOTES, "account": "acme-corp"}, "invalid_account"),
        ({"scope": "supplier:order", "account": 7}, "invalid_account"),
    ],
)
def test_authorization_endpoint_error_responses_400(cast, body, code):
    response = post_authorize(cast, body, person_token(cast))
    assert error_of(response) == (400, code)
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://catalog.example"},  # wrong aud
        {"iat": 1_000, "exp": 2_000},  # expired
        {"signer": Key.from_seed("not the ps", kid="ps-1")},  # signature verification failed
    ],
    ids=["wrong-aud", "expired", "bad-signature"],
)
def test_authorization_endpoint_invalid_person_token_400(cast, claims):
    """ "invalid_person_token 400: Person token malformed, expired, wrong aud, or signature verification failed"."""
    response = post_authorize(cast, {"scope": QUOTES}, person_token(cast, **claims))
    assert error_of(response) == (400, "invalid_person_token")


def test_authorization_endpoint_malformed_person_token_400(cast):
    token = person_token(cast)
    head, _, _ = token.split(".")
    response = post_authorize(cast, {"scope": QUOTES}, f"{head}.bm90LWpzb24.c2ln")
    assert error_of(response) == (400, "invalid_person_token")


def test_authorization_endpoint_invalid_signature_401(cast):
    """A body changed after signing: the HTTP signature fails, 401 with Signature-Error."""
    response = post_authorize(
        cast, {"scope": QUOTES}, person_token(cast), tamper=lambda b: b.replace(b"quotes", b"order")
    )
    assert response.status_code == 401 and "signature-error" in response.headers


def test_authorization_endpoint_needs_a_person_token(cast):
    """-11 "Person Token Required": an agent token alone is 401 requirement=person-token."""
    response = post_authorize(cast, {"scope": QUOTES}, cast.ps.issue_agent_token("buyer", AGENT_KEY))
    assert response.status_code == 401
    assert parse_requirement(response.headers["aauth-requirement"]).requirement == "person-token"


def test_agent_replaces_a_person_token_the_resource_refuses(cast):
    """The agent's side of invalid_person_token: it drops the cached token, gets a fresh one from
    its PS and asks again, once."""
    agent = cast.agent(on_interaction=approving(cast))
    agent.tokens.remember(SUP, "person_token", person_token(cast, aud="https://catalog.example"), None)
    with cast.client(agent) as client:
        assert agent.authorize(client, SUP, QUOTES).scope == QUOTES
    posts = [s for s in summaries(cast) if "POST /authorize" in s]
    assert posts == [
        "Supplier POST /authorize → 400",
        "Supplier POST /authorize → 202 (requirement=interaction)",
    ]


def test_agent_surfaces_the_resources_error(cast):
    agent = cast.agent()
    with cast.client(agent) as client, pytest.raises(FlowError) as caught:
        agent.authorize(client, SUP, "supplier:refunds")
    assert (caught.value.status, caught.value.code) == (400, "invalid_scope")


# -- attackers ---------------------------------------------------------------------------------------------
def _pending(cast, token=None, key=AGENT_KEY):
    response = post_authorize(cast, {"scope": QUOTES}, token or person_token(cast, key=key), key)
    assert response.status_code == 202, response.text
    requirement = parse_requirement(response.headers["aauth-requirement"])
    return f"{SUP}{response.headers['location']}", f"{requirement.url}?code={requirement.code}"


def test_pending_url_security_another_agent_cannot_poll(cast):
    """-11 "Pending URL Security": "Servers MUST verify the agent's identity on every poll":
    another key finds nothing (404, as for an id that does not exist); the owner still can."""
    url, _ = _pending(cast)
    thief = cast.ps.issue_agent_token("thief", OTHER_KEY)
    assert error_of(send(cast, signed_get(url, thief, OTHER_KEY))) == (404, "not_found")
    stolen_with_own_person_token = send(cast, signed_get(url, person_token(cast, key=OTHER_KEY), OTHER_KEY))
    assert error_of(stolen_with_own_person_token) == (404, "not_found")
    assert send(cast, signed_get(url, person_token(cast))).status_code == 202


def _row(cast, url: str):
    return cast.supplier.resource.held.rows[url.rsplit("/", 1)[1]]


def _session_cookie(browser) -> str:
    return next(value for name, value in browser.cookies.items() if name.endswith(SESSION_COOKIE))


def test_resource_managed_authorization_the_agent_cannot_approve_itself(cast):
    """-11 "Interaction Code Format": "the code alone MUST NOT authorize the decision".  The agent
    holds the code; opening the link itself it gets only the sign-in form, and posting approve
    (with the pending id it knows and the form's token) is 403: the poll stays 202, no session is
    issued, and the code stays unspent for the person, whose approval then ends the flow."""
    url, link = _pending(cast)
    with cast.hosts.client(timeout=30) as agent_browser:
        page = agent_browser.get(link)
        assert page.status_code == 200 and 'name="password"' in page.text and "decision" not in page.text
        fields = hidden_fields(page.text)
        forged = {"interaction": url.rsplit("/", 1)[1], "csrf": fields["csrf"], "decision": "approve"}
        assert error_of(agent_browser.post(f"{SUP}/interaction", data=forged)) == (403, "forbidden")
        guessed = cast.sign_in(page, ("alice", "guess"), agent_browser)
        assert guessed.status_code == 401 and "Wrong username or password" in guessed.text
        assert not any(name.endswith(SESSION_COOKIE) for name in agent_browser.cookies)
    assert send(cast, signed_get(url, person_token(cast))).status_code == 202
    assert cast.supplier.resource.sessions.rows == {} and cast.supplier.resource.login.sessions == {}
    assert not _row(cast, url).arrived
    assert cast.answer(link, "approve", person=ALICE).status_code == 200
    done = send(cast, signed_get(url, person_token(cast)))
    assert done.status_code == 200 and done.json() == {"status": "authorized", "scope": QUOTES}
    assert done.headers["aauth-access"] in cast.supplier.resource.sessions.rows


def test_resource_managed_authorization_another_person_is_forbidden(cast):
    """Only the person the request was made for (its person token's ``(iss, sub)``) decides: another
    person signed in at the supplier is asked to sign in as them (403) and the code stays unspent;
    a decision posted with a form of their own session is 403; the request stays pending."""
    url, link = _pending(cast)
    with cast.hosts.client(timeout=30) as other:
        page = cast.open_page(link, person=MALLORY, browser=other)
        assert page.status_code == 403 and "another person" in page.text and "decision" not in page.text
        assert not _row(cast, url).arrived
        assert cast.open_page(link, person=ALICE).status_code == 200  # the right person opens it
        row = _row(cast, url)
        csrf = cast.supplier.resource.login.form_token("decide", _session_cookie(other), row.id)
        posted = other.post(
            f"{SUP}/interaction", data={"interaction": row.id, "csrf": csrf, "decision": "approve"}
        )
        assert error_of(posted) == (403, "forbidden")
    assert row.approved is None
    assert send(cast, signed_get(url, person_token(cast))).status_code == 202


def test_resource_managed_authorization_csrf_of_another_session_is_refused(cast):
    """The consent form's token is bound to the session and the request: the same person's form
    posted from another session, or one request's token on another, decides nothing."""
    first_url, first_link = _pending(cast)
    second_url, second_link = _pending(cast)
    first = hidden_fields(cast.open_page(first_link, person=ALICE).text)
    second = hidden_fields(cast.open_page(second_link, person=ALICE).text)
    swapped = cast.browser.post(
        f"{SUP}/interaction", data={**first, "csrf": second["csrf"], "decision": "approve"}
    )
    assert error_of(swapped) == (403, "forbidden")
    with cast.hosts.client(timeout=30) as elsewhere:
        cast.open_page(f"{SUP}/interaction?code=ZZZZ-ZZZZ", person=ALICE, browser=elsewhere)
        replayed = elsewhere.post(f"{SUP}/interaction", data={**first, "decision": "approve"})
        assert error_of(replayed) == (403, "forbidden")
    for url in (first_url, second_url):
        assert send(cast, signed_get(url, person_token(cast))).status_code == 202
    assert cast.browser.post(f"{SUP}/interaction", data={**first, "decision": "deny"}).status_code == 200
    assert error_of(send(cast, signed_get(first_url, person_token(cast)))) == (403, "denied")


def test_resource_login_failed_sign_ins_and_wrong_codes_are_throttled(cast):
    """OWASP ASVS level 2 V2.2.1: after five failed sign-ins for a username, 429 + Retry-After,
    even with the right password; -11 "Interaction Code Format": wrong codes of a signed-in person
    are rate limited too."""
    _, link = _pending(cast)
    with cast.hosts.client(timeout=30) as guesser:
        page = guesser.get(link)
        statuses = [cast.sign_in(page, ("alice", f"guess-{n}"), guesser).status_code for n in range(5)]
        locked = cast.sign_in(page, ALICE, guesser)
    assert statuses == [401] * 5 and locked.status_code == 429 and "retry-after" in locked.headers
    wrong = [cast.open_page(f"{SUP}/interaction?code=ZZZZ-ZZZ{n}").status_code for n in range(5)]
    throttled = cast.browser.get(link)
    assert wrong == [410] * 5 and throttled.status_code == 429 and "retry-after" in throttled.headers


def test_resource_login_another_persons_codes_count_as_wrong_codes(cast):
    """-11 "Interaction Code Format": code-validation attempts are rate limited.  A code the
    signed-in person cannot use counts too, another person's included: after five, 429 +
    Retry-After; the code stays unspent for its person, who is not throttled."""
    _, link = _pending(cast)
    with cast.hosts.client(timeout=30) as other:
        first = cast.open_page(link, person=MALLORY, browser=other)
        tries = [first.status_code] + [other.get(link).status_code for _ in range(4)]
        locked = other.get(link)
    assert tries == [403] * 5 and locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert cast.open_page(link, person=ALICE).status_code == 200


def test_resource_login_signing_in_again_and_again_ends_only_ones_own_sessions(cast):
    """One person signing in over and over fills no one else's place: past their share their own
    least recently used session ends, never another person's."""
    login = cast.supplier.resource.login
    login.max_sessions, login.max_per_person = 3, 1
    _, first = _pending(cast)
    _, second = _pending(cast)
    assert cast.open_page(first, person=ALICE).status_code == 200
    for _ in range(3):
        with cast.hosts.client(timeout=30) as browser:
            page = browser.get(f"{SUP}/interaction?code=0000-0000")
            assert cast.sign_in(page, MALLORY, browser).status_code == 303
    assert sum(s.username == MALLORY[0] for s in login.sessions.values()) == 1
    still = cast.browser.get(second)  # Alice is still signed in: the consent page, not the sign-in form
    assert still.status_code == 200 and 'name="decision"' in still.text


def test_resource_login_sign_out_ends_the_session(cast):
    """OWASP ASVS level 2 V3.3.1: the consent page has a sign-out form; a post from another origin
    or without the form's CSRF token is 403 forbidden and the person stays signed in; the form's
    post ends the session at the supplier: the page asks to sign in again, even with the old
    cookie presented again."""
    _, link = _pending(cast)
    page = cast.open_page(link, person=ALICE)
    assert page.status_code == 200
    cookie = next(
        (name, value) for name, value in cast.browser.cookies.items() if name.endswith(SESSION_COOKIE)
    )
    csrf = re.search(r'action="sign-out"><input type="hidden" name="csrf" value="([^"]*)"', page.text)[1]
    foreign = cast.browser.post(
        f"{SUP}/sign-out", data={"csrf": csrf}, headers={"origin": "https://evil.example"}
    )
    forged = cast.browser.post(f"{SUP}/sign-out", data={"csrf": "guess"})
    assert error_of(foreign) == error_of(forged) == (403, "forbidden")
    unknown = f"{SUP}/interaction?code=ZZZZ-ZZZZ"
    assert cast.browser.get(unknown).status_code == 410  # still signed in: the code is looked at
    signed_out = cast.browser.post(f"{SUP}/sign-out", data={"csrf": csrf})
    assert signed_out.status_code == 200 and "signed out" in signed_out.text
    assert cast.supplier.resource.login.sessions == {}
    again = cast.browser.get(unknown)
    assert again.status_code == 200 and 'name="password"' in again.text
    with cast.hosts.client(timeout=30, cookies=dict([cookie])) as replayed:
        assert 'name="password"' in replayed.get(unknown).text


def test_authorization_endpoint_account_of_a_person_of_another_ps_400(cast, tmp_path):
    """-11 "Account Binding": an account is held by a person ``(iss, sub)``; a person of another PS
    whose ``sub`` is the same as that of the supplier's person holds no account there: ``400
    invalid_account``."""
    other_ps = second_agent_provider(cast, tmp_path)
    now = int(cast.supplier.resource.clock())
    token = mint_person_token(
        Key.from_seed("managed second ap", kid="ap-1"),
        kid="ap-1",
        iss=other_ps.identifier,
        aud=SUP,
        sub="person-1",  # Alice's sub at the supplier, from her own PS
        cnf=AGENT_KEY,
        iat=now,
        exp=now + 600,
    )
    asked = post_authorize(cast, {"scope": "supplier:order", "account": "person-1"}, token)
    assert error_of(asked) == (400, "invalid_account")
    unbound = post_authorize(cast, {"scope": "supplier:order"}, token)
    assert unbound.status_code == 200 and "resource_token" in unbound.json()


def test_resource_login_without_persons_no_decision_is_taken(tmp_path):
    """A resource given no persons cannot tell who decides: its page refuses (403), and so does
    a sign-in or a decision posted anyway."""
    cast = Cast(tmp_path, persons=False)
    try:
        url, link = _pending(cast)
        assert cast.browser.get(link).status_code == 403
        signed = cast.browser.post(f"{SUP}/sign-in", data={"username": "mcp-user", "password": "user123"})
        decided = cast.browser.post(f"{SUP}/interaction", data={"interaction": "x", "decision": "approve"})
        assert (signed.status_code, decided.status_code) == (403, 403)
        assert send(cast, signed_get(url, person_token(cast))).status_code == 202
    finally:
        cast.close()


def test_resource_managed_authorization_consent_page_refuses_cross_site_posts(cast):
    """CSRF: a post from another origin (or cross-site) is 403 and decides nothing."""
    url, link = _pending(cast)
    form = hidden_fields(cast.open_page(link, person=ALICE).text) | {"decision": "approve"}
    foreign = cast.browser.post(f"{SUP}/interaction", data=form, headers={"origin": "https://evil.example"})
    cross = cast.browser.post(f"{SUP}/interaction", data=form, headers={"sec-fetch-site": "cross-site"})
    assert (foreign.status_code, cross.status_code) == (403, 403)
    assert send(cast, signed_get(url, person_token(cast))).status_code == 202  # still pending
    page = cast.browser.get(link)
    assert page.status_code == 410  # and the code stays spent
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_pending_authorizations_are_capped_per_agent(tmp_path):
    """A stranger cannot make the supplier hold unbounded authorizations: 429 + Retry-After."""
    cast = Cast(tmp_path, max_per_agent=2)
    try:
        token = person_token(cast)
        statuses = [post_authorize(cast, {"scope": QUOTES}, token).status_code for _ in range(2)]
        third = post_authorize(cast, {"scope": QUOTES}, token)
        assert statuses == [202, 202] and error_of(third) == (429, "rate_limited")
        assert "retry-after" in third.headers
    finally:
        cast.close()


def test_aauth_access_security_a_session_from_authorize_is_bound_to_its_key(cast):
    """-11 "AAuth-Access Security": the session token is worthless to another key: it finds no
    session and the supplier asks the person again (202)."""
    agent = cast.agent(on_interaction=approving(cast))
    with cast.client(agent) as client:
        session = agent.authorize(client, SUP, QUOTES).session_token
    stolen = signed_get(
        f"{SUP}/quotes", person_token(cast, key=OTHER_KEY), OTHER_KEY, [("authorization", f"AAuth {session}")]
    )
    assert send(cast, stolen).status_code == 202
    tampered = signed_get(
        f"{SUP}/quotes", agent.person_token_for(SUP), headers=[("authorization", f"AAuth {session}x")]
    )
    assert send(cast, tampered).status_code == 202


def test_response_without_resource_token_over_an_async_client(cast):
    """The same flow through ``httpx.AsyncClient`` (:meth:`AuthorizationClient.aauthorize`); the
    person decides on the supplier's side (the page's decision, without a browser)."""
    held = cast.supplier.resource.held
    agent = cast.agent(on_interaction=lambda i: held.decide(held.by_code(i.code), True))

    async def run():
        async with cast.hosts.async_client(timeout=60) as client:
            return await agent.authorization.aauthorize(client, SUP, QUOTES)

    granted = asyncio.run(run())
    assert granted == Authorized(QUOTES, session_token=agent.sessions[SUP])
    assert granted.session_token in cast.supplier.resource.sessions.rows
