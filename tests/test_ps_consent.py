"""The person's decisions at the Person Server over real HTTP (servers/ps/consent.py,
interaction.py): the consent REST API, the interaction page, callbacks and the consent
policy.
"""

from __future__ import annotations

import pytest

from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.identifiers import check_callback_url

from .ps_world import (
    APP,
    HANG_GUARD,
    PS,
    RES,
    World,
    error_of,
    form_fields,
    logged_in_browser,
    world_fixture,
)

world = world_fixture()


# -- the consent API -------------------------------------------------------------------------------


def test_consent_api_needs_a_session(world):
    """The consent REST API, the admin endpoint and the audit log answer 401 unauthorized
    without a person's session (a wrong bearer token too)."""
    url, code, _ = world.defer()
    pending_id = url.rsplit("/", 1)[1]
    anonymous = world.hosts.client()
    stranger = world.hosts.client(headers={"Authorization": "Bearer not-a-session"})
    for client in (anonymous, stranger):
        for response in (
            client.get(f"{PS}/consent", params={"code": code}),
            client.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}),
            client.get(f"{PS}/admin/consent-policy"),
            client.get(f"{PS}/audit"),
        ):
            assert (response.status_code, error_of(response)) == (401, "unauthorized")
    assert world.ps.store.get_pending(pending_id).status == "pending"


def test_reused_code_is_refused(world):
    """-11 "Interaction Code Format": a code is single use — once its request is decided,
    the code answers 410 invalid_code."""
    url, code, _ = world.defer()
    world.approve(code)
    response = world.person().get(f"{PS}/consent", params={"code": code})
    assert (response.status_code, error_of(response)) == (410, "invalid_code")
    for bad in ("0000-0000", "not a code!"):
        assert error_of(world.person().get(f"{PS}/consent", params={"code": bad})) == "invalid_code"


def test_second_decision_is_409(world):
    """The seed: a second decision on the same request is refused (409 conflict)."""
    url, code, _ = world.defer()
    person = world.person()
    context = world.approve(code, person=person)
    again = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": False})
    assert (again.status_code, error_of(again)) == (409, "conflict")
    assert world.poll(url).status_code == 200


def test_only_the_asked_person_may_decide(world):
    """An auth token request is for the person behind the presented token; another
    person's session gets 403 and the request stays open."""
    url, code, _ = world.defer()
    alice = world.person("alice", "alice-pw")
    assert alice.get(f"{PS}/consent", params={"code": code}).status_code == 403
    pending_id = url.rsplit("/", 1)[1]
    assert alice.post(f"{PS}/consent/{pending_id}/decision", json={"approved": True}).status_code == 403
    assert world.ps.store.get_pending(pending_id).status == "pending"


def test_decision_api_errors(world):
    url, code, _ = world.defer()
    person = world.person()
    pending_id = url.rsplit("/", 1)[1]
    cases = [
        (dict(json={"approved": "yes"}), 400, "invalid_request"),
        (dict(json=[True]), 400, "invalid_request"),
        (dict(content=b'{"approved": true}', headers={"Content-Type": "text/plain"}), 400, "invalid_request"),
        (dict(json={"approved": True, "callback": "javascript:alert(1)"}), 400, "invalid_request"),
    ]
    for kwargs, status, code_ in cases:
        response = person.post(f"{PS}/consent/{pending_id}/decision", **kwargs)
        assert (response.status_code, error_of(response)) == (status, code_), kwargs
    missing = person.post(f"{PS}/consent/nope/decision", json={"approved": True})
    assert (missing.status_code, error_of(missing)) == (404, "not_found")
    assert error_of(person.get(f"{PS}/consent")) == "invalid_request"
    answer = person.post(
        f"{PS}/consent/{pending_id}/decision", json={"approved": False, "callback": f"{APP}/done"}
    )
    assert answer.json() == {"status": "denied", "redirect_url": f"{APP}/done?error=access_denied"}


# -- the interaction page (HTML) -------------------------------------------------------------------


def test_interaction_page_login_then_deny_redirects_to_the_callback(world):
    """The seed's consent screen: the interaction URL shows a login form; after signing in,
    who asks (agent), for what (resource, scopes with their descriptions, justification,
    all escaped) and the code; Deny returns the browser to the callback with
    ?error=access_denied (-11 "Interaction Callback Errors") and the agent's poll gets 403 denied."""
    url, code, _ = world.defer("files:delete", justification="<script>alert(1)</script> tidy up")
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    callback = f"{APP}/done?job=7"
    login = browser.get(f"{PS}/interaction", params={"code": code, "callback": callback})
    assert login.status_code == 200 and 'name="password"' in login.text
    shown = form_fields(login.text)
    next_path = shown["next"].replace("&amp;", "&")
    page = browser.post(
        f"{PS}/login",
        data={"username": "mcp-user", "password": "user123", "next": next_path, "csrf": shown["csrf"]},
    )
    assert page.status_code == 200, page.text
    for shown in (
        "aauth:backend@ps.example",
        "Backend",
        "Files",
        RES,
        "files:delete",
        "Delete your files.",
        code,
    ):
        assert shown in page.text, shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; tidy up" in page.text and "<script>" not in page.text
    fields = form_fields(page.text)
    fields["callback"] = fields["callback"].replace("&amp;", "&")
    assert fields["callback"] == callback
    landed = browser.post(f"{PS}/interaction", data={**fields, "decision": "deny"})
    assert str(landed.url).startswith(f"{APP}/done")
    assert landed.json() == {"job": "7", "error": "access_denied"}
    assert error_of(world.poll(url)) == "denied"


def test_interaction_page_approve_without_callback(world):
    url, code, _ = world.defer()
    browser = logged_in_browser(world)
    page = browser.get(f"{PS}/interaction", params={"code": code})
    answer = browser.post(f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"})
    assert answer.status_code == 200 and "You can close this window" in answer.text
    assert world.poll(url).status_code == 200


def test_interaction_page_refusals(world):
    """Wrong password (401, the form again), a bad callback (400, never an open redirect), a
    spent code (410), a forged form (403), a form without a session (401)."""
    url, code, _ = world.defer()
    browser = world.hosts.client(follow_redirects=True, timeout=HANG_GUARD)
    csrf = form_fields(browser.get(f"{PS}/interaction").text)["csrf"]
    wrong = browser.post(
        f"{PS}/login",
        data={"username": "mcp-user", "password": "nope", "next": "/interaction", "csrf": csrf},
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    bad_json = browser.post(f"{PS}/login", json={"username": "mcp-user", "password": "nope"})
    assert (bad_json.status_code, error_of(bad_json)) == (401, "unauthorized")
    browser = logged_in_browser(world)
    for callback in ("javascript:alert(1)", "/relative", "http://evil.example/cb", "https://a.example/#frag"):
        response = browser.get(f"{PS}/interaction", params={"code": code, "callback": callback})
        assert response.status_code == 400, callback
    page = browser.get(f"{PS}/interaction", params={"code": code})
    forged = browser.post(
        f"{PS}/interaction", data={**form_fields(page.text), "csrf": "x", "decision": "approve"}
    )
    assert forged.status_code == 403
    anonymous = world.hosts.client()
    assert (
        anonymous.post(
            f"{PS}/interaction", data={**form_fields(page.text), "decision": "approve"}
        ).status_code
        == 401
    )
    world.ps.decide(code, False)
    assert browser.get(f"{PS}/interaction", params={"code": code}).status_code == 410


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example/cb",
        "https://app.example/cb?x=1",
        "http://127.0.0.1:8000/cb",
        "http://localhost:3000/",
    ],
)
def test_check_callback_accepts(url):
    """The callbacks the interaction page redirects to (the kit's one URL policy)."""
    assert check_callback_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "/cb",
        "http://app.example/cb",
        "https://u:p@app.example/",
        "https://app.example/#x",
        "https://app.example:99999/",
        "https:///nohost",
        "http://[::1]:8000/cb",  # not a dev host: the cast listens on 127.0.0.1
        "http://localhost/cb",  # dev-mode http needs its port
        " https://app.example/",
        7,
        None,
    ],
)
def test_check_callback_refuses(url):
    from aauth_kit.errors import AAuthError

    with pytest.raises(AAuthError) as exc:
        check_callback_url(url)
    assert exc.value.code == "invalid_request"


# -- consent policy --------------------------------------------------------------------------------


def test_consent_policy_rules():
    policy = ConsentPolicy()
    assert (policy.scopes, policy.prefixes) == (["supply-chain:optimize"], ["user.", "profile.", "email."])
    assert policy.needs_consent("supply-chain:optimize")
    assert policy.needs_consent("supply-chain:read email.send")
    assert not policy.needs_consent("supply-chain:read supply-chain:check")
    assert not policy.needs_consent("") and not policy.needs_consent(None)
    assert not policy.needs_consent("xuser.name")  # a prefix matches at the start only


def test_consent_policy_from_env():
    """The seed's AAUTH_CONSENT_SCOPES / AAUTH_CONSENT_PREFIXES, JSON arrays."""
    policy = ConsentPolicy.from_env(
        {"AAUTH_CONSENT_SCOPES": '["openid", "profile"]', "AAUTH_CONSENT_PREFIXES": "[]"}
    )
    assert (policy.scopes, policy.prefixes) == (["openid", "profile"], [])
    assert ConsentPolicy.from_env({}) == ConsentPolicy()
    from aauth_kit.errors import UsageError

    for bad in ("openid,profile", '"openid"', "[1]", "{}"):
        with pytest.raises(UsageError):
            ConsentPolicy.from_env({"AAUTH_CONSENT_SCOPES": bad})


def test_policy_from_env_governs_the_ps(tmp_path):
    w = World(tmp_path, policy=ConsentPolicy.from_env({"AAUTH_CONSENT_SCOPES": '["files:read"]'}))
    try:
        assert w.ask("files:read")[0].status_code == 202
        assert w.ask("files:delete")[0].status_code == 200
    finally:
        w.stop()
