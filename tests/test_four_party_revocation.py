"""Token revocation in the four-party flow over real sockets: the parts catalog, its Access
Server and the PS (-11 "Token Revocation", "PS-AS Federation").

* the AS revokes auth tokens it issued at the catalog, which takes revocations from its own AS
  only (any other AS: ``403 unsupported_iss``);
* the AS's ``revocation_endpoint`` takes a trusted PS's revocation of a token it presented
  there (anyone else: ``401 unknown_key``) and cascades to the catalog, answering ``200`` with
  the ``downstream`` report of what it could not tell;
* the person revoking a person token at the PS reaches the AS, whose auth token stops working.
"""

from __future__ import annotations

import json

import pytest
from aauth_kit.servers.access_server import AccessServer

from aauth_kit import tokens
from aauth_kit.jws import decode_unverified
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import ACCESS_DWK, AGENT_DWK, PERSON_DWK, RESOURCE_DWK, validate_metadata
from aauth_kit.profile import sign_request
from aauth_kit.revocation import Revoker
from aauth_kit.signature_key import jwt_key, parse_signature_key

AS = "https://as.example"
PS = "https://ps.example"
CATALOG = "https://catalog.example"
PARTS = f"{CATALOG}/parts"
OTHER_AS = "https://other-as.example"


@pytest.fixture
def lab(tmp_path):
    with Lab(mode="socket", docs=True, data_dir=tmp_path) as lab:
        yield lab


def federated(lab, local="revoking"):
    """An agent that read the catalog's parts with an auth token of the AS: the agent, that
    auth token and the person token the PS presented to the AS for it."""
    agent = lab.new_agent(local)
    with lab.client(agent) as client:
        assert client.get(PARTS).status_code == 200
    (sent, *_) = [
        json.loads(ex.request.body)
        for ex in lab.trace.exchanges
        if ex.source == "PS" and ex.request.target_uri == f"{AS}/token"
    ]
    return agent, agent.auth_token_for(CATALOG), sent


def claims(token: str) -> dict:
    return decode_unverified(token).payload


def anew(lab, sent: dict, n: int = 1) -> dict:
    """``sent`` with another resource token (the same claims, ``jti`` suffixed ``-n``, signed
    with the catalog's key): a new token request, not a repeat of ``sent``."""
    resource_token = decode_unverified(sent["resource_token"])
    payload = {**resource_token.payload, "jti": f"{resource_token.payload['jti']}-{n}"}
    minted = tokens.mint("aa-resource+jwt", lab.keys["catalog"], payload, kid=resource_token.header["kid"])
    return {**sent, "resource_token": minted}


def revoke(lab, revoker: Revoker, url: str, token: str, source: str):
    return lab.send(revoker.request(url, claims(token)["jti"], claims(token)["exp"]), source=source).response


def as_revoker(lab) -> Revoker:
    return Revoker(AS, ACCESS_DWK, lab.keys["access_server"], lab.clock)


def read_parts(lab, agent, auth_token: str):
    """The catalog's answer to ``GET /parts`` signed by the agent with ``auth_token``."""
    message = HttpMessage("GET", PARTS)
    sign_request(message, agent.key, jwt_key(auth_token), created=int(lab.clock()))
    return lab.send(message).response


def person_session(lab) -> dict:
    with lab.client(source="Person") as client:
        response = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    return {"Authorization": f"Bearer {response.json()['session']}"}


def problem(response) -> tuple[int, str]:
    return response.status, json.loads(response.body)["error"]


def test_token_revocation_access_server_metadata_names_its_revocation_endpoint(lab):
    """-11 "Access Server Metadata": ``revocation_endpoint`` is RECOMMENDED for an AS."""
    with lab.client() as client:
        document = client.get(f"{AS}/.well-known/{ACCESS_DWK}").json()
    assert validate_metadata(document, AS, ACCESS_DWK, complete=True)["revocation_endpoint"] == f"{AS}/revoke"


def test_token_revocation_the_as_revokes_its_auth_token_at_the_catalog(lab):
    """The AS revokes an auth token it issued at the resource (its own signature,
    ``aauth-access.json``): the catalog keeps ``(AS, jti)`` and refuses the token with
    ``revoked_jwt``."""
    agent, auth_token, _ = federated(lab)
    assert read_parts(lab, agent, auth_token).status == 200
    response = revoke(lab, as_revoker(lab), f"{CATALOG}/revoke", auth_token, "AS")
    assert (response.status, response.body) == (200, b"")
    assert (AS, claims(auth_token)["jti"]) in lab.catalog.resource.revocations.revoked
    refused = read_parts(lab, agent, auth_token)
    assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")


def test_token_revocation_another_access_server_is_unsupported_iss(lab):
    """A validly signed revocation from an AS that is not the catalog's own is ``403
    unsupported_iss``; nothing is kept for it."""
    other = AccessServer(OTHER_AS, key=lab.key("other-as"), resolver=lab.resolver, resources=[])
    lab.hosts.add(OTHER_AS, other.app)
    agent, auth_token, _ = federated(lab)
    revoker = Revoker(OTHER_AS, ACCESS_DWK, lab.key("other-as"), lab.clock)
    assert problem(revoke(lab, revoker, f"{CATALOG}/revoke", auth_token, "Other AS")) == (
        403,
        "unsupported_iss",
    )
    assert (OTHER_AS, claims(auth_token)["jti"]) not in lab.catalog.resource.revocations.revoked
    assert read_parts(lab, agent, auth_token).status == 200


def test_token_revocation_at_the_as_takes_only_a_trusted_person_server(lab):
    """The AS's ``revocation_endpoint``: a stranger's signature, or a resource's (its own
    catalog's too), is ``401 unknown_key`` before anything is fetched; a trusted PS's bad body
    is ``400 invalid_request``."""
    _, auth_token, sent = federated(lab)
    person_token = sent["presented_token"]
    stranger = Revoker("https://stranger.example", PERSON_DWK, lab.key("stranger"), lab.clock)
    catalog = Revoker(CATALOG, RESOURCE_DWK, lab.keys["catalog"], lab.clock)
    for revoker in (stranger, catalog):
        response = revoke(lab, revoker, f"{AS}/revoke", person_token, "Stranger")
        assert response.status == 401 and response.header("signature-error") == "error=unknown_key"
    message = HttpMessage("POST", f"{AS}/revoke", [("Content-Type", "application/json")], b'{"exp": 1}')
    lab.ps.context.revoker.sign(message)
    assert problem(lab.send(message, source="PS").response) == (400, "invalid_request")
    assert (AS, claims(auth_token)["jti"]) not in lab.catalog.resource.revocations.revoked


def test_token_revocation_the_person_revokes_at_the_ps_and_the_as_cascades(lab):
    """End to end: the person revokes at the PS the person token the PS presented to the AS.
    The PS revokes it at the catalog and at the AS (the ``revocation_endpoint`` of its
    metadata, signed as the PS); the AS revokes the auth token it issued from it at the catalog
    (signed as the AS) and answers ``200``; the AS's auth token is refused with ``revoked_jwt``,
    the AS takes the person token no more (``revoked_presented_token``), and the outcome is in
    the person's audit trail."""
    agent, auth_token, sent = federated(lab)
    person_jti = claims(sent["presented_token"])["jti"]
    session = person_session(lab)
    mark = len(lab.trace.exchanges)
    with lab.client(source="Person") as client:
        answer = client.post(f"{PS}/tokens/{person_jti}/revoke", headers=session).json()
    assert answer == {"jti": person_jti, "revoked": True, "downstream": []}
    told = [(e.source, e.request.method, e.request.target_uri, e.status) for e in lab.trace.exchanges[mark:]]
    assert ("PS", "POST", f"{CATALOG}/revoke", 200) in told
    assert ("PS", "POST", f"{AS}/revoke", 200) in told
    assert ("AS", "POST", f"{CATALOG}/revoke", 200) in told
    (to_catalog,) = [e for e in lab.trace.exchanges[mark:] if e.source == "AS"]
    key = parse_signature_key(to_catalog.request.header("signature-key"), "sig")
    assert (key.scheme, key.params["id"], key.params["dwk"]) == ("jwks_uri", AS, ACCESS_DWK)
    assert json.loads(to_catalog.request.body) == {
        "jti": claims(auth_token)["jti"],
        "exp": claims(auth_token)["exp"],
    }
    refused = read_parts(lab, agent, auth_token)
    assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")
    message = HttpMessage(
        "POST", f"{AS}/token", [("Content-Type", "application/json")], json.dumps(sent).encode()
    )
    lab.ps.context.revoker.sign(message)
    assert problem(lab.send(message, source="PS").response) == (400, "revoked_presented_token")
    trail = [e for e in lab.ps.store.audit_log(person="mcp-user") if e.action == "token_revoked"]
    assert {(e.subject, e.details["error"]) for e in trail} >= {(CATALOG, None), (AS, None)}


def test_token_revocation_the_as_reports_what_it_could_not_tell(lab):
    """The AS's cascade meets a full catalog (``429 rate_limited``): the AS still answers
    ``200``, with ``{"downstream": [{"recipient", "error"}]}``; the PS reads that report and
    gives it to the person, in the answer and in the audit trail."""
    _, auth_token, sent = federated(lab)
    person_jti = claims(sent["presented_token"])["jti"]
    lab.catalog.resource.revocations.max_revocations = len(lab.catalog.resource.revocations.revoked)
    session = person_session(lab)
    with lab.client(source="Person") as client:
        answer = client.post(f"{PS}/tokens/{person_jti}/revoke", headers=session).json()
    assert answer["downstream"] == [{"recipient": CATALOG, "error": "rate_limited"}]
    (at_as,) = [e for e in lab.trace.exchanges if e.source == "PS" and e.request.target_uri == f"{AS}/revoke"]
    assert json.loads(at_as.response.body) == {
        "downstream": [{"recipient": CATALOG, "error": "rate_limited"}]
    }
    (entry,) = [
        e
        for e in lab.ps.store.audit_log(person="mcp-user")
        if e.action == "token_revoked" and e.subject == AS
    ]
    assert entry.details["downstream"] == [{"recipient": CATALOG, "error": "rate_limited"}]
    assert (AS, claims(auth_token)["jti"]) in lab.access_server.revocations.revoked


def test_token_revocation_the_as_store_is_capped(lab):
    """The AS keeps revocations in memory, at most ``max_revocations``: when full, a new one is
    ``429 rate_limited`` with ``Retry-After``; cascades waiting for their PS and records of
    issued auth tokens are capped too."""
    _, _, sent = federated(lab)
    lab.access_server.revocations.max_cascades = 0
    response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
    assert problem(response) == (429, "rate_limited") and response.header("retry-after")
    lab.access_server.revocations.max_cascades = 1
    lab.access_server.revocations.max_revocations = 0
    response = revoke(lab, lab.ps.context.revoker, f"{AS}/revoke", sent["presented_token"], "PS")
    assert problem(response) == (429, "rate_limited") and response.header("retry-after")
    lab.access_server.revocations.max_issued = 0
    message = HttpMessage(
        "POST", f"{AS}/token", [("Content-Type", "application/json")], json.dumps(anew(lab, sent)).encode()
    )
    lab.ps.context.revoker.sign(message)
    assert problem(lab.send(message, source="PS").response) == (429, "rate_limited")


def test_token_revocation_expired_auth_tokens_are_not_sent(lab):
    """The AS's cascade skips auth tokens past ``exp`` (+ skew): nothing is left to refuse."""
    _, auth_token, sent = federated(lab)
    lab.clock.advance(claims(auth_token)["exp"] - int(lab.clock()) + 61)
    mark = len(lab.trace.exchanges)
    presented = claims(sent["presented_token"])
    revoker = lab.ps.context.revoker
    message = revoker.request(f"{AS}/revoke", presented["jti"], presented["exp"])
    assert lab.send(message, source="PS").response.status == 200
    assert not [e for e in lab.trace.exchanges[mark:] if e.source == "AS"]


def test_token_revocation_the_agent_providers_revocation_cascades_to_the_as(lab):
    """The Agent Provider revokes the agent token at the PS (AP → PS): the PS's cascade by
    agent revokes the agent's person token at the AS too, which revokes its auth token at the
    catalog; the AP gets ``200`` with an empty body (the outcomes are the person's)."""
    agent, auth_token, _ = federated(lab, "ap-revoked")
    ap = Revoker(PS, AGENT_DWK, lab.keys["ps"], lab.clock)  # the lab's AP lives at the PS's identifier
    mark = len(lab.trace.exchanges)
    response = revoke(lab, ap, f"{PS}/revoke", agent.agent_token, "Agent Provider")
    assert (response.status, response.body) == (200, b"")
    told = [(e.source, e.request.target_uri, e.status) for e in lab.trace.exchanges[mark:]]
    assert ("PS", f"{AS}/revoke", 200) in told and ("AS", f"{CATALOG}/revoke", 200) in told
    refused = read_parts(lab, agent, auth_token)
    assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")


def test_token_revocation_a_slow_cascade_is_202_and_the_ps_polls(lab, monkeypatch):
    """A cascade not done within ``ANSWER_WITHIN`` seconds: the AS answers ``202`` with
    ``Location`` and ``Retry-After``; only the PS that revoked may poll it (a stranger ``401
    unknown_key``, an unknown id ``404``); the PS's revoker follows the ``202`` with signed
    ``GET``s to the terminal ``200``, and the AS's auth token is refused at the catalog."""
    monkeypatch.setattr("aauth_kit.servers.access_server_revocation.ANSWER_WITHIN", 0)
    agent, auth_token, sent = federated(lab)
    person_jti = claims(sent["presented_token"])["jti"]
    stranger = HttpMessage("GET", f"{AS}/revoke/pending/nothing")
    Revoker("https://stranger.example", PERSON_DWK, lab.key("stranger"), lab.clock).sign(stranger)
    assert lab.send(stranger).response.header("signature-error") == "error=unknown_key"
    unknown = lab.ps.context.revoker.sign(HttpMessage("GET", f"{AS}/revoke/pending/nothing"))
    assert problem(lab.send(unknown, source="PS").response) == (404, "not_found")
    mark = len(lab.trace.exchanges)
    with lab.client(source="Person") as client:
        answer = client.post(f"{PS}/tokens/{person_jti}/revoke", headers=person_session(lab)).json()
    assert answer["downstream"] == []
    at_as = [
        e for e in lab.trace.exchanges[mark:] if e.source == "PS" and e.request.target_uri.startswith(AS)
    ]
    assert at_as[0].status == 202 and at_as[0].response.header("retry-after") == "1"
    location = at_as[0].response.header("location")
    assert location.startswith(f"{AS}/revoke/pending/")
    assert [(e.request.method, e.request.target_uri) for e in at_as[1:]] == [("GET", location)] * len(
        at_as[1:]
    )
    assert at_as[-1].status == 200
    refused = read_parts(lab, agent, auth_token)
    assert refused.status == 401 and "revoked_jwt" in refused.header("signature-error")
