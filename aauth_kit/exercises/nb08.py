"""Exercises for notebook 08 (revocation), graded against the live lab: ``ex = nb08.bind(lab)``.

* ``ex.q1`` — ``revocation_request(endpoint, auth_token)``: the signed ``POST`` a Person
  Server sends to revoke an auth token it issued (-11 "Token Revocation"): the body
  ``{"jti", "exp"}`` of that token, ``Signature-Key: sig=jwks_uri`` naming the PS and its
  ``aauth-person.json``, the body covered.  The grader fetches a fresh auth token for an
  agent of its own, sends the learner's message to the supply-chain agent (SCA) and then
  presents the token: it must be refused with ``401`` ``revoked_jwt``.
* ``ex.q2`` — predict what the SCA answers four revocations: the Agent Provider's
  (``403 unsupported_iss``), one whose signature leaves the body out (``401
  invalid_input``), one for a ``jti`` it never saw (``200``: -11 has no "not found") and
  one carrying the whole token instead of its ``jti`` (``400 invalid_request``).  The
  grader sends the four to the lab and compares with what the SCA really answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .. import jws
from ..message import HttpMessage
from ..metadata import AGENT_DWK, PERSON_DWK, RESOURCE_DWK
from ..problem import error_code, problem_of
from ..profile import sign_request
from ..revocation import Revoker, revocation_body
from ..signature_key import jwks_uri_key, jwt_key
from . import Exercise, NotAttempted
from .base import Grader, binding, prediction, send

#: The agent the graders fetch auth tokens for (bootstrapped at the lab's Agent Provider).
GRADER_AGENT = "exercise-08"


class _Grader(Grader):
    """What both exercises need from the lab: where the SCA takes revocations, an auth
    token it accepts, and a way to send a request and read the answer."""

    def __init__(self, lab):
        super().__init__(lab)
        self.sca = lab.identifiers["supply_chain"]

    def endpoint(self) -> str:
        """The SCA's ``revocation_endpoint``, from its metadata."""
        with self.lab.hosts.client(timeout=60) as client:
            document = client.get(f"{self.sca}/.well-known/{RESOURCE_DWK}").json()
        return document["revocation_endpoint"]

    def fresh_auth_token(self) -> str:
        """An auth token the SCA accepts now: the agent calls ``POST /check`` (and climbs
        the ladder again if a previous check revoked the token it held)."""
        agent = self.agent(GRADER_AGENT)
        with self.lab.hosts.client(auth=agent.auth(), timeout=60) as client:
            response = client.post(f"{self.sca}/check")
        if response.status_code != 200:
            raise RuntimeError(f"the lab's SCA answered {response.status_code} to the grader's own agent")
        return agent.auth_token_for(self.sca)

    def present(self, auth_token: str) -> tuple[int, str | None]:
        """Present ``auth_token`` at the SCA the way its agent would; ``(status, code)``."""
        message = HttpMessage("POST", f"{self.sca}/check")
        sign_request(
            message, self.agent(GRADER_AGENT).key, jwt_key(auth_token), created=int(self.lab.clock())
        )
        return self.send(message)[:2]

    def send(self, message: HttpMessage, *, source: str | None = None) -> tuple[int, str | None, str]:
        """Send ``message`` exactly as it is; ``(status, error code, detail)`` of the answer.
        With ``source`` the exchange goes into ``lab.trace`` under that name."""
        if source is not None:
            response = self.lab.send(message, source=source).response
            status, headers, body = response.status, response.header, response.body
        else:
            answer = send(self.lab, message)
            status, headers, body = answer.status_code, answer.headers.get, answer.content
        return (status, *_error_of(headers, body))


def _error_of(header: Callable[[str], str | None], body: bytes) -> tuple[str | None, str]:
    """The error code of an answer — ``Signature-Error`` first, then the problem body's
    ``error`` — and its ``detail``; ``(None, "")`` for a success."""
    return error_code(body, header("signature-error")), str(problem_of(body).get("detail") or "")


# -- q1: revoke an auth token as the PS ---------------------------------------------------------
def _check_body(message: HttpMessage, auth_token: str) -> str | None:
    """The -11 "Token Revocation" body: exactly ``{"jti", "exp"}`` of the token being revoked."""
    claims = jws.decode_unverified(auth_token).payload
    try:
        body = json.loads(message.body) if message.body else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return 'the revocation carries a JSON object as its body: {"jti": …, "exp": …}'
    if "jti" not in body:
        if auth_token in body.values():
            return (
                "name the token by its jti, not by the whole JWT: the SCA keys revocations by (signer, jti)"
            )
        return f"the body needs the token's jti; yours has {sorted(body)}"
    if body["jti"] != claims["jti"]:
        return f"jti is the revoked token's own jti ({claims['jti']!r}), not {body['jti']!r}"
    if body.get("exp") != claims["exp"]:
        return (
            f"exp is the token's exp ({claims['exp']}), not {body.get('exp')!r}: it tells the SCA how long it "
            "must remember the revocation — after exp the token is dead anyway"
        )
    extra = sorted(set(body) - {"jti", "exp"})
    if extra:
        return (
            f"the -11 body has two members, jti and exp; drop {extra}: the SCA takes the issuer from your "
            "verified signature, never from the body"
        )
    return None


#: What the SCA's refusal means, for a learner who signed the revocation.
_REFUSALS = {
    "invalid_input": "a revocation's body must be protected: sign_request covers content-type and content-digest "
    "unless told not to (cover_body=False, or components without them)",
    "unsupported_scheme": "a PS revokes in its own right: Signature-Key sig=jwks_uri (signature_key.jwks_uri_key), "
    "not with a token (jwt) or a bare key (hwk)",
    "clock_skew": "sign with the lab's clock — created=int(lab.clock()) — it is frozen in docs mode, so the real "
    "time is far from it",
    "invalid_signature": "check the key you signed with (lab.keys['ps']) and created=int(lab.clock())",
    "unknown_key": "kid must name the key in the PS's JWKS: the PS key's own kid (lab.keys['ps'].kid)",
    "unsupported_iss": "your signature is good, but it does not come from a Person Server: Signature-Key must name "
    "the PS (id) and its aauth-person.json (dwk) — a resource takes revocations of person and auth tokens from "
    "Person Servers only",
}


def _grade_revocation(grader: _Grader):
    def grade(answer) -> str | None:
        endpoint = grader.endpoint()
        auth_token = grader.fresh_auth_token()
        message = answer(endpoint, auth_token)
        if message is None:
            raise NotAttempted
        if not isinstance(message, HttpMessage):
            return (
                f"return the signed HttpMessage (aauth_kit.message.HttpMessage), not {type(message).__name__}"
            )
        if message.method.upper() != "POST" or message.target_uri != endpoint:
            return f"a revocation is POST {endpoint}; yours is {message.method} {message.target_uri}"
        problem = _check_body(message, auth_token)
        if problem:
            return problem
        status, code, detail = grader.send(message, source="PS")
        if status != 200:
            why = _REFUSALS.get(code, "")
            return f"the SCA answered {status} {code}: {detail}" + (
                f". {why[0].upper()}{why[1:]}." if why else ""
            )
        status, code = grader.present(auth_token)
        if (status, code) != (401, "revoked_jwt"):
            return (
                f"the SCA answered 200 to your revocation, yet presenting the token then got {status} {code}: "
                "it keeps revocations by the signer's id and jti — sign as the PS that issued the token"
            )
        return None

    return grade


def _q1(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="08",
        title="Q1 · revoke an auth token as the PS",
        grade=_grade_revocation(grader),
        hints=(
            "Three parts: a body with the token's jti and exp (jws.decode_unverified(auth_token).payload), "
            "a POST HttpMessage to endpoint carrying it, and a signature by the PS in its own name.",
            "The PS's key is lab.keys['ps']; its Signature-Key is jwks_uri_key(PS, 'aauth-person.json', kid) — the "
            "token's iss is the PS. sign_request(message, key, signature_key, created=int(lab.clock())) adds and "
            "covers Content-Digest and Content-Type.",
            'After a check, show.show(lab.trace.last(source="PS", path="/revoke")) shows your request and the SCA\'s answer.',
        ),
        reference=(
            "import json\n"
            "from aauth_kit import jws\n"
            "from aauth_kit.message import HttpMessage\n"
            "from aauth_kit.profile import sign_request\n"
            "from aauth_kit.signature_key import jwks_uri_key\n\n"
            "def revocation_request(endpoint, auth_token):\n"
            "    claims = jws.decode_unverified(auth_token).payload\n"
            "    body = json.dumps({'jti': claims['jti'], 'exp': claims['exp']}).encode()\n"
            "    message = HttpMessage('POST', endpoint, [('Content-Type', 'application/json')], body)\n"
            "    ps_key = lab.keys['ps']\n"
            "    signature_key = jwks_uri_key(claims['iss'], 'aauth-person.json', ps_key.kid)\n"
            "    sign_request(message, ps_key, signature_key, created=int(lab.clock()))\n"
            "    return message"
        ),
        success="the SCA now refuses the token with revoked_jwt — revoked by its issuer, in its own name.",
        lab=grader.lab,
    )


# -- q2: what does the SCA answer? ----------------------------------------------------------------
AP_REVOKES = "the Agent Provider, signing as itself (dwk aauth-agent.json), revokes an auth token"
BODY_NOT_COVERED = (
    "the PS revokes an auth token, its signature covering neither content-type nor content-digest"
)
UNKNOWN_JTI = "the PS revokes a jti the SCA has never seen"
WHOLE_TOKEN = 'the PS sends the whole auth token instead of its jti: {"token": "eyJ…"}'

#: What -11 "Token Revocation" says the SCA answers each (``None``: no error, an empty ``200``).
EXPECTED = {
    AP_REVOKES: (403, "unsupported_iss"),
    BODY_NOT_COVERED: (401, "invalid_input"),
    UNKNOWN_JTI: (200, None),
    WHOLE_TOKEN: (400, "invalid_request"),
}
_WHY = {
    AP_REVOKES: "the signature verifies, so this is no 401; but a resource takes revocations of person and auth "
    "tokens from Person Servers only: 403 unsupported_iss — and a 403 carries no Signature-Error",
    BODY_NOT_COVERED: "a revocation has a body, and a signature that leaves it out fails step 2 of Verification "
    "(Server): 401, Signature-Error invalid_input with required_input naming content-type and content-digest",
    UNKNOWN_JTI: 'there is no "not found" in -11 "Token Revocation": the SCA stores (signer, jti) all the same and answers 200 '
    "with an empty body",
    WHOLE_TOKEN: 'the signature is fine, the body is not: a body without "jti" is 400 invalid_request',
}


def _situations(grader: _Grader, endpoint: str) -> dict[str, HttpMessage]:
    """The four requests of ``q2``, each signed the way its situation says."""
    lab, now = grader.lab, int(grader.lab.clock())
    ps_key = lab.keys["ps"]
    as_ps = jwks_uri_key(grader.ps, PERSON_DWK, ps_key.kid)
    exp = now + 3600

    def ps_request(body: bytes, **options) -> HttpMessage:
        message = HttpMessage("POST", endpoint, [("Content-Type", "application/json")], body)
        sign_request(message, ps_key, as_ps, created=now, **options)
        return message

    # the lab's Agent Provider lives at the PS's identifier and signs with the PS's key (notebook 08 §6)
    agent_provider = Revoker(grader.ps, AGENT_DWK, ps_key, lab.clock)
    return {
        AP_REVOKES: agent_provider.request(endpoint, "auth-exercise-q2", exp),
        BODY_NOT_COVERED: ps_request(revocation_body("auth-exercise-q2", exp), cover_body=False),
        UNKNOWN_JTI: ps_request(revocation_body("never-issued-0000", exp)),
        WHOLE_TOKEN: ps_request(json.dumps({"token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "exp": exp}).encode()),
    }


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Send the four requests of ``q2`` to the lab's SCA; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    situations = _situations(grader, grader.endpoint())
    return {situation: grader.send(message)[:2] for situation, message in situations.items()}


def _q2(grader: _Grader) -> Exercise:
    return prediction(
        notebook="08",
        title="Q2 · what does the SCA answer?",
        hints=(
            "Follow the SCA's order: first the signature (a failure is 401 with Signature-Error), then who signed "
            "(403), then the body (400).",
            "Signature failures: invalid_input when a component is missing. The signer: unsupported_iss. The body: "
            'invalid_request. And -11 "Token Revocation" has no 404.',
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="signature first (401), then the signer (403), then the body (400) — and an unknown jti is no error.",
        answerer="SCA",
        example="e.g. (401, 'invalid_signature'); for a success (200, None)",
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_AGENT", "bind", "observe"]
