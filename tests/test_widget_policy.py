"""The consent-policy form (the seed's configuration script as a widget), driven headless
against a real Person Server: what it sets is what the PS applies at the next auth token
request (-11 "PS Response": issue at once or ask the person is the PS's policy)."""

from __future__ import annotations

import pytest

from aauth_kit.lab import Lab
from aauth_kit.widgets.policy import ConsentPolicyForm, parse_list

SCA = "https://supply-chain.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="asgi", docs=True, data_dir=tmp_path) as lab:
        yield lab


def test_the_form_starts_from_the_policy_in_force(lab):
    form = ConsentPolicyForm(lab.ps)
    assert form.scopes_field.value == "supply-chain:optimize"
    assert form.prefixes_field.value == "user., profile., email."
    assert (
        "aauth.consent.required.scopes" in form.to_html()
        and "&quot;supply-chain:optimize&quot;" in form.to_html()
    )
    assert (
        repr(form)
        == "<ConsentPolicyForm: scopes ['supply-chain:optimize'], prefixes ['user.', 'profile.', 'email.']>"
    )


def test_clear_lets_the_ps_grant_by_policy_and_defaults_bring_consent_back(lab):
    form = ConsentPolicyForm(lab.ps)
    form.clear_button.click()
    assert (lab.ps.policy.scopes, lab.ps.policy.prefixes) == ([], [])
    agent = lab.new_agent("notebook")
    with lab.client(agent) as client:  # no 202: the PS issues the auth token at once
        assert client.post(f"{SCA}/optimize", json={}).status_code == 200
    assert lab.ps.pending_codes() == [] and agent.last_interaction is None
    form.defaults_button.click()
    assert lab.ps.policy.needs_consent("supply-chain:optimize") and lab.ps.policy.needs_consent("user.email")
    assert form.message == "Defaults applied."


def test_apply_takes_the_fields_or_arguments_and_is_audited(lab):
    form = ConsentPolicyForm(lab.ps, by="admin")
    form.scopes_field.value = " supply-chain:check ,, supply-chain:optimize "
    form.prefixes_field.value = '["market-analysis:"]'
    form.apply_button.click()
    assert lab.ps.policy.scopes == ["supply-chain:check", "supply-chain:optimize"]
    assert lab.ps.policy.prefixes == ["market-analysis:"]
    form.apply(scopes=["openid"])  # prefixes stay as the field says
    assert (lab.ps.policy.scopes, lab.ps.policy.prefixes) == (["openid"], ["market-analysis:"])
    changes = [e for e in lab.ps.store.audit_log() if e.action == "consent_policy_changed"]
    assert [c.actor for c in changes] == ["admin", "admin"]
    assert changes[-1].details == {"scopes": ["openid"], "prefixes": ["market-analysis:"]}


@pytest.mark.parametrize("scopes", ["supply chain", '["a", 1]', '{"scopes": []}', "[not json"])
def test_bad_input_is_refused_like_the_admin_endpoint_and_changes_nothing(lab, scopes):
    form = ConsentPolicyForm(lab.ps)
    form.apply(scopes=scopes)
    assert form.error is not None and form.error.code == "invalid_request"
    assert lab.ps.policy.scopes == ["supply-chain:optimize"]
    assert "invalid_request" in form.view_html.value
    assert not [e for e in lab.ps.store.audit_log() if e.action == "consent_policy_changed"]


def test_view_refills_the_fields_and_hostile_scopes_are_escaped(lab):
    form = ConsentPolicyForm(lab.ps)
    lab.ps.policy.update({"scopes": ['<script>alert("x")</script>']})  # changed elsewhere (admin endpoint)
    form.view_button.click()
    assert form.scopes_field.value == '<script>alert("x")</script>'
    assert "<script" not in form.view_html.value and "&lt;script&gt;" in form.view_html.value


def test_parse_list():
    assert parse_list("a, b ,,c") == ["a", "b", "c"]
    assert parse_list('["a", "b"]') == ["a", "b"]
    assert parse_list("") == []
