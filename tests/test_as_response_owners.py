"""The resource owner's page at the Access Server (-11 "AS Response": "the resource owner must
approve access"), over real sockets: it names the agent the auth token is for, and only an owner
of the resource asked for decides.
"""

from __future__ import annotations

import pytest

from aauth_kit.jws import decode_unverified
from tests.test_as_response import AS, OWNER, PARTS, PS, hidden_fields, open_page


@pytest.fixture
def lab(tmp_path):
    from aauth_kit.lab import Lab

    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        yield lab


def test_as_response_the_owners_page_shows_the_agent(lab):
    """-11 "AS Response": the owner approves at the AS's page, which names the agent the auth
    token is for (its agent token's ``sub`` and ``iss``) besides the PS, resource and scope."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    pages = []

    def on_interaction(interaction):
        if interaction.url.startswith(PS):
            return lab.ps.decide(interaction.code, approved=True)
        with lab.client(source="Owner") as browser:
            pages.append(open_page(lab, browser, interaction.link()).text)
            form = hidden_fields(pages[0]) | {"decision": "approve"}
            assert browser.post(f"{AS}/interaction", data=form, headers={"Origin": AS}).status_code == 200

    agent = lab.new_agent("shown", on_interaction=on_interaction)
    with lab.client(agent) as client:
        client.get(PARTS)
    claims = decode_unverified(agent.agent_token).payload
    assert f"The agent <b>{claims['sub']}</b> of <b>{claims['iss']}</b>" in pages[0]
    assert f"<b>{PS}</b>" in pages[0] and "catalog:read" in pages[0]


def test_as_response_only_an_owner_of_the_resource_approves(lab):
    """-11 "AS Response": "the resource owner must approve access".  An owner of another resource
    of the AS gets ``403`` on the page (the code stays unspent for the catalog's owner) and
    ``403 forbidden`` for a decision; the catalog's owner then approves."""
    lab.access_server.policy.owner_approval = {"catalog:read"}
    seen = {}

    def on_interaction(interaction):
        if interaction.url.startswith(PS):
            return lab.ps.decide(interaction.code, approved=True)
        with lab.client(source="Owner") as browser:
            lab.access_server.resource_owners = {OWNER[0]: {"https://other.example"}}
            seen["page"] = open_page(lab, browser, interaction.link()).status_code
            lab.access_server.resource_owners = {OWNER[0]: {"https://catalog.example"}}
            form = hidden_fields(open_page(lab, browser, interaction.link()).text) | {"decision": "approve"}
            lab.access_server.resource_owners = {OWNER[0]: {"https://other.example"}}
            refused = browser.post(f"{AS}/interaction", data=form, headers={"Origin": AS})
            seen["decision"] = (refused.status_code, refused.json()["error"])
            lab.access_server.resource_owners = {OWNER[0]: {"https://catalog.example"}}
            seen["owner"] = browser.post(f"{AS}/interaction", data=form, headers={"Origin": AS}).status_code

    agent = lab.new_agent("owned", on_interaction=on_interaction)
    with lab.client(agent) as client:
        assert client.get(PARTS).status_code == 200
    assert seen == {"page": 403, "decision": (403, "forbidden"), "owner": 200}
