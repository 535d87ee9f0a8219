"""What an agent checks in the tokens it receives, before it keeps or uses them.

A resource token in a challenge is for this agent and this request (-11 "Resource
Challenge Verification"); a person token names the PS asked and the resource, and binds
the agent's key (-11 "Person Token Verification"); an auth token comes from the server
the resource token named, for the resource, the person and the agent's key (-11 "Auth
Token Response Verification").  These claim checks always run; the signature check —
the issuer's key found through its metadata — is a SHOULD and can be switched off for a
lesson that contrasts the two.
"""

from __future__ import annotations

from . import tokens
from .claims import AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from .errors import AAuthError
from .flow import FlowError, through_flow
from .jws import decode_unverified
from .keys import jwk_thumbprint


def check_resource_token(agent, token: str, resource: str, presented: str, response) -> dict:
    """The challenge is for this agent and this request: ``iss`` the origin called,
    ``agent_jkt`` our key, ``presented_jti``/``sub``/``ps`` those of the presented token,
    ``exp`` in the future."""

    def fail(why: str) -> FlowError:
        return FlowError("invalid_resource_token", why, status=502, response=response)

    claims = _claims(token, RESOURCE_TYP, fail)
    if presented == agent.agent_token:
        raise fail(
            "the resource challenged with a resource token although only the agent token was presented"
        )
    shown = decode_unverified(presented)
    shown_ps = shown.payload.get("ps") if shown.header.get("typ") == AUTH_TYP else shown.payload.get("iss")
    expected = {
        "iss": resource,
        "agent_jkt": agent.jkt,
        "presented_jti": shown.payload.get("jti"),
        "sub": shown.payload.get("sub"),
        "ps": shown_ps,
    }
    claims.setdefault("presented_jti", claims.get("person_token_jti"))
    _expect(claims, expected, fail)
    _check_exp(agent, claims, fail)
    if not isinstance(claims.get("aud"), str):
        raise fail("the resource token names no aud")
    return {**claims, "token": token}


def check_person_token(agent, token: str, resource: str, ps: str) -> None:
    """``iss`` the PS asked, ``aud`` the resource, ``cnf.jwk`` our key, ``exp`` in the future."""

    def fail(why: str) -> FlowError:
        return FlowError("invalid_person_token", why, status=502)

    claims = _claims(token, PERSON_TYP, fail)
    _expect(claims, {"iss": ps, "aud": resource}, fail)
    _check_cnf(agent, claims, fail)
    _check_exp(agent, claims, fail)


def check_auth_token(agent, token: str, resource: str, resource_token: dict, presented: str) -> None:
    """-11 "Auth Token Response Verification": ``iss`` = resource token ``aud``, ``aud`` =
    the resource, ``cnf.jwk`` = our key, ``sub`` = the presented token's ``sub``."""

    def fail(why: str) -> FlowError:
        return FlowError("invalid_auth_token", why, status=502)

    claims = _claims(token, AUTH_TYP, fail)
    sub = decode_unverified(presented).payload.get("sub")
    _expect(claims, {"iss": resource_token["aud"], "aud": resource, "sub": sub}, fail)
    _check_cnf(agent, claims, fail)
    _check_exp(agent, claims, fail)


def check_signature(agent, token: str, typ: str):
    """-11 "Auth Token Response Verification" step 1 (SHOULD): the token is signed by
    its issuer's key — ``kid`` selected from the JWKS its ``{iss}/.well-known/{dwk}``
    names — with the ``alg`` that key declares.  Runs after the claim checks, which
    pin ``iss`` to the server the agent asked, so keys are only fetched from it."""
    if not agent.verify_token_signatures:
        return
    check = tokens.verify_token(
        token, typ=typ, resolver=agent.resolver, now=int(agent.clock()), dev=agent.dev
    )
    try:
        yield from through_flow(check)
    except AAuthError as exc:
        raise FlowError(exc.code, f"the {typ} does not verify: {exc.detail}", status=502) from None


def _check_cnf(agent, claims: dict, fail) -> None:
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    try:
        bound = jwk_thumbprint(jwk) if isinstance(jwk, dict) else None
    except AAuthError:
        bound = None
    if bound != agent.jkt:
        raise fail("cnf.jwk is not this agent's key")


def _check_exp(agent, claims: dict, fail) -> None:
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= agent.clock():
        raise fail(f"exp {exp!r} is not in the future")


def _claims(token, typ: str, fail) -> dict:
    try:
        decoded = decode_unverified(token)
    except AAuthError as exc:
        raise fail(exc.detail) from None
    if decoded.header.get("typ") != typ:
        raise fail(f"expected a {typ}, got typ {decoded.header.get('typ')!r}")
    return dict(decoded.payload)


def _expect(claims: dict, expected: dict, fail) -> None:
    for name, value in expected.items():
        if claims.get(name) != value:
            raise fail(f"{name} is {claims.get(name)!r}, expected {value!r}")
