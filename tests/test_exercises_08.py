"""Notebook 08 exercises, graded against a live lab over loopback sockets (-11 "Token
Revocation"): stub → "not attempted", reference → passes, plausible wrong
answers → fail with a sentence that says why."""

from __future__ import annotations

import json

import pytest

from aauth_kit import jws
from aauth_kit.claims import AUTH_TYP
from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb08, stub
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwks_uri_key, jwt_key


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with Lab(mode="socket", docs=True, data_dir=tmp_path_factory.mktemp("nb08")) as lab:
        yield lab, nb08.bind(lab)


def _revocation(lab, auth_token, *, dwk=PERSON_DWK, body=None, **options):
    """A PS-style revocation of ``auth_token``, with one thing changed by the caller."""
    claims = jws.decode_unverified(auth_token).payload
    data = json.dumps(body if body is not None else {"jti": claims["jti"], "exp": claims["exp"]}).encode()
    endpoint = f"{lab.identifiers['supply_chain']}/revoke"
    message = HttpMessage("POST", endpoint, [("Content-Type", "application/json")], data)
    options.setdefault("created", int(lab.clock()))
    sign_request(message, lab.keys["ps"], jwks_uri_key(claims["iss"], dwk, lab.keys["ps"].kid), **options)
    return message


# -- q1: the PS's signed POST {"jti", "exp"} to the resource's revocation_endpoint ----------------
def test_q1_stub_is_not_attempted(world):
    _, ex = world

    def revocation_request(endpoint, auth_token): ...  # the notebook's stub

    assert ex.q1.check(revocation_request).status == NOT_ATTEMPTED
    assert ex.q1.check(stub).status == NOT_ATTEMPTED


def test_q1_reference_revokes_the_token_at_the_sca(world):
    lab, ex = world
    namespace = {"lab": lab}
    exec(ex.q1.reference, namespace)  # the solution the learner is shown runs as written
    result = ex.q1.check(namespace["revocation_request"])
    assert result.status == CORRECT, result.message
    # the grader's token is now refused (401 revoked_jwt) and the SCA knows it by (PS, jti)
    revoked = {
        jti for iss, jti in lab.supply_chain.resource.revocations.revoked if iss == lab.identifiers["ps"]
    }
    issued = lab.ps.store.list_tokens()
    assert revoked & {t.jti for t in issued if t.typ == AUTH_TYP and nb08.GRADER_AGENT in (t.agent_id or "")}
    # a second check gets a new token (the grader's agent recovers) and passes again
    assert ex.q1.check(namespace["revocation_request"]).status == CORRECT
    last = lab.trace.exchanges[-1]
    assert last.source == "PS" and last.request.target_uri.endswith("/revoke") and last.status == 200


def test_q1_signed_by_the_agent_provider_is_unsupported_iss(world):
    lab, ex = world
    result = ex.q1.check(lambda endpoint, token: _revocation(lab, token, dwk=AGENT_DWK))
    assert result.status == INCORRECT
    assert "403 unsupported_iss" in result.message and "aauth-person.json" in result.message


def test_q1_a_body_left_out_of_the_signature_is_invalid_input(world):
    lab, ex = world
    result = ex.q1.check(lambda endpoint, token: _revocation(lab, token, cover_body=False))
    assert result.status == INCORRECT
    assert "401 invalid_input" in result.message and "content-digest" in result.message


def test_q1_the_real_time_instead_of_the_labs_clock(world):
    lab, ex = world
    result = ex.q1.check(lambda endpoint, token: _revocation(lab, token, created=None))
    assert result.status == INCORRECT and "lab.clock()" in result.message


def test_q1_signed_with_the_agents_token_is_unsupported_scheme(world):
    lab, ex = world

    def with_a_token(endpoint, auth_token):
        claims = jws.decode_unverified(auth_token).payload
        message = HttpMessage(
            "POST", endpoint, body=json.dumps({"jti": claims["jti"], "exp": claims["exp"]}).encode()
        )
        # any key: the scheme is checked before the key (Verification (Server) step 4)
        sign_request(message, Key.generate(), jwt_key(auth_token), created=int(lab.clock()))
        return message

    result = ex.q1.check(with_a_token)
    assert (
        result.status == INCORRECT and "unsupported_scheme" in result.message and "jwks_uri" in result.message
    )


def test_q1_the_body_must_be_jti_and_the_tokens_exp(world):
    lab, ex = world

    def claims(token):
        return jws.decode_unverified(token).payload

    whole = ex.q1.check(lambda endpoint, token: _revocation(lab, token, body={"token": token}))
    assert whole.status == INCORRECT and "jti, not by the whole JWT" in whole.message
    short = ex.q1.check(
        lambda endpoint, token: _revocation(
            lab, token, body={"jti": claims(token)["jti"], "exp": int(lab.clock()) + 60}
        )
    )
    assert short.status == INCORRECT and "exp is the token's exp" in short.message
    with_iss = ex.q1.check(
        lambda endpoint, token: _revocation(
            lab,
            token,
            body={"iss": claims(token)["iss"], "jti": claims(token)["jti"], "exp": claims(token)["exp"]},
        )
    )
    assert with_iss.status == INCORRECT and "drop ['iss']" in with_iss.message


def test_q1_an_answer_that_is_not_a_message(world):
    lab, ex = world
    result = ex.q1.check(lambda endpoint, token: "POST /revoke")
    assert result.status == INCORRECT and "HttpMessage" in result.message


# -- q2: which answer does each revocation get? -------------------------------------------------
def test_q2_the_lab_answers_as_the_draft_says(world):
    """-11 "Token Revocation": 403 unsupported_iss, 401 invalid_input, 200 (no "not found"), 400 invalid_request."""
    lab, _ = world
    assert nb08.observe(lab) == nb08.EXPECTED


def test_q2_stub_is_not_attempted(world):
    _, ex = world
    answers = {situation: None for situation in nb08.EXPECTED}
    assert ex.q2.check(answers).status == NOT_ATTEMPTED


def test_q2_reference_passes(world):
    _, ex = world
    assert ex.q2.check(dict(nb08.EXPECTED)).status == CORRECT
    namespace = {}
    exec(ex.q2.reference, namespace)
    assert ex.q2.check(namespace["answers"]).status == CORRECT
    lists = {situation: list(answer) for situation, answer in nb08.EXPECTED.items()}
    assert ex.q2.check(lists).status == CORRECT


def test_q2_a_refused_signer_is_no_signature_error(world):
    _, ex = world
    result = ex.q2.check({**nb08.EXPECTED, nb08.AP_REVOKES: (401, "unsupported_iss")})
    assert result.status == INCORRECT
    assert "(403, 'unsupported_iss')" in result.message and "no Signature-Error" in result.message


def test_q2_an_unknown_jti_is_not_a_404(world):
    _, ex = world
    result = ex.q2.check({**nb08.EXPECTED, nb08.UNKNOWN_JTI: (404, "not_found")})
    assert result.status == INCORRECT and 'no "not found"' in result.message


def test_q2_the_right_status_with_the_wrong_code(world):
    _, ex = world
    result = ex.q2.check({**nb08.EXPECTED, nb08.BODY_NOT_COVERED: (401, "invalid_signature")})
    assert (
        result.status == INCORRECT
        and "status is right" in result.message
        and "required_input" in result.message
    )


def test_q2_a_bare_code_asks_for_status_and_code(world):
    _, ex = world
    result = ex.q2.check({**nb08.EXPECTED, nb08.WHOLE_TOKEN: "invalid_request"})
    assert result.status == INCORRECT and "(status, error code)" in result.message
    assert ex.q2.check(["invalid_request"]).status == INCORRECT


def test_q2_the_notebooks_stub_names_the_graders_situations():
    """The learner fills in the notebook's dict: its keys must be the ones graded."""
    from pathlib import Path

    source = (Path(__file__).parent.parent / "notebooks" / "src" / "08_revocation.py").read_text()
    stub_cell = source[source.index("answers = {") :]
    namespace = {}
    exec(stub_cell[: stub_cell.index("\n}\n") + 2], namespace)
    assert set(namespace["answers"]) == set(nb08.EXPECTED)
