"""What the Access Server checks in a Person Server's token request (-11 "PS-to-AS Token
Request"), before any policy is applied.

* ``resource_token``: issued by a resource this AS decides for (checked before its keys are
  fetched), for this AS (``aud``), naming the signing PS (``ps``);
* ``agent_token``: the agent's token, bound to the resource token's ``agent_jkt`` — or, for a
  parent-mediated sub-agent authorization, the parent's (-11 "Parent-Mediated Authorization");
  a token that names a PS names the signing one;
* ``subagent_token`` (optional): the sub-agent's agent token, naming the parent as
  ``parent_agent``, bound to ``agent_jkt`` and, when it names a PS, naming the signing one —
  the auth token is then bound to its key;
* ``presented_token``: the person or auth token the agent showed the resource, which the
  resource token points back to (-11 "Resource Token Verification"), from the signing PS or
  from this AS, and not revoked here (-11 "Token Revocation": ``revoked_presented_token``);
* ``upstream_token`` (optional, -11 "Upstream Token Verification"): a person or auth token for
  the calling agent (``aud`` = its agent token's ``iss``) from the signing PS, not revoked here
  (``revoked_upstream_token``: a person token its PS revoked here, an auth token this AS
  revoked in a cascade).

Revocation is checked again each time a waiting request is decided (a poll, the claims
brought): a token revoked since it was asked with stops it (:func:`check_unrevoked`).  A
request repeating a resource token this AS already answered gets that answer again — the
same auth token, or the same waiting request — rather than a new one (:func:`earlier_answer`):
-11 "Resource Token Structure" gives the resource token a ``jti`` "for replay detection" and
leaves enforcing it to the AS ("ASes are not required to enforce replay detection on resource
tokens"); answering the first request's result again bounds what one resource token can make
here and still lets a PS retry a request whose answer it lost.

A failure is ``400 <invalid|expired|revoked>_<parameter>_token`` (-11 "Token Endpoint Error
Codes").  -11 defines no code for a bad ``agent_token`` at an AS; the kit answers
``invalid_agent_token`` / ``expired_agent_token``, the codes of the drafts before it.

Who signs (-11 "PS-AS Trust Establishment", pre-established): :class:`TrustedPersonServers`
resolves the keys of the trusted Person Servers only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aauth_kit import claims, tokens
from aauth_kit.errors import AAuthError, SignatureError, TokenError
from aauth_kit.jwks import KeyResolver
from aauth_kit.jws import decode_unverified
from aauth_kit.keys import Key
from aauth_kit.metadata import PERSON_DWK
from aauth_kit.token_verification import check_presented_token

if TYPE_CHECKING:
    from .access_server import AccessPolicy, AccessServer, TokenRequest


async def verify_token_request(server: AccessServer, body: dict, ps: str) -> tuple:
    """The verified request: the resource token, the presented token's ``(iss, jti)``, the key
    the auth token binds, the latest ``exp`` it may have, the upstream token's ``(iss, jti)``
    (or ``None``) and the agent the auth token is for (``(iss, sub)`` of its agent token, the
    sub-agent's if one asks), shown to the owner who approves."""
    resource_token = await _resource_token(server, body["resource_token"], ps)
    agent_token = await _verify(server, body["agent_token"], "agent", typ=claims.AGENT_TYP)
    bound = agent_token
    caps = [agent_token.exp]
    if "subagent_token" in body:
        bound = await _verify(server, body["subagent_token"], "subagent", typ=claims.AGENT_TYP)
        if bound.parent_agent is None or (bound.iss, bound.parent_agent) != (
            agent_token.iss,
            agent_token.sub,
        ):
            raise AAuthError("invalid_subagent_token", "its parent_agent is not the agent_token's agent")
        caps.append(bound.exp)
    if bound.jkt != resource_token.agent_jkt:
        param = "subagent" if bound is not agent_token else "agent"
        raise AAuthError(f"invalid_{param}_token", f"the {param} token binds another key than agent_jkt")
    for param, token in (("agent", agent_token), ("subagent", bound)):
        if token.ps not in (None, ps):
            raise AAuthError(f"invalid_{param}_token", f"the {param} token names PS {token.ps!r}, not {ps}")
    presented = await _from_issuers(
        server,
        body["presented_token"],
        "presented",
        (ps, server.identifier),
        typ=(claims.PERSON_TYP, claims.AUTH_TYP),
        expected_aud=resource_token.iss,
    )
    check_presented_token(resource_token, presented)
    if server.revocations.is_revoked(presented.iss, presented.jti):
        raise AAuthError("revoked_presented_token", f"the presented token {presented.jti!r} was revoked")
    caps.append(presented.exp)
    upstream = None
    if "upstream_token" in body:
        upstream = await _from_issuers(
            server,
            body["upstream_token"],
            "upstream",
            (ps,),
            typ=(claims.PERSON_TYP, claims.AUTH_TYP),
            expected_aud=agent_token.iss,
        )
        if (upstream.iss if upstream.typ == claims.PERSON_TYP else upstream.ps) != ps:
            raise AAuthError("invalid_upstream_token", f"the upstream token is not from {ps}")
        if server.revocations.is_revoked(upstream.iss, upstream.jti):
            raise AAuthError("revoked_upstream_token", f"the upstream token {upstream.jti!r} was revoked")
        caps.append(upstream.exp)
        upstream = (upstream.iss, upstream.jti)
    return (
        resource_token,
        (presented.iss, presented.jti),
        bound.cnf_jwk,
        min(caps),
        upstream,
        (bound.iss, bound.sub),
    )


def check_unrevoked(server: AccessServer, request: TokenRequest) -> None:
    """``400 revoked_presented_token`` / ``revoked_upstream_token`` when a token ``request``
    was asked with has been revoked here since (-11 "Token Revocation")."""
    if server.revocations.is_revoked(*request.presented):
        raise AAuthError(
            "revoked_presented_token", f"the presented token {request.presented[1]!r} was revoked"
        )
    if request.upstream is not None and server.revocations.is_revoked(*request.upstream):
        raise AAuthError("revoked_upstream_token", f"the upstream token {request.upstream[1]!r} was revoked")


def earlier_answer(server: AccessServer, resource_token: tokens.VerifiedToken) -> TokenRequest | dict | None:
    """What this AS already made of ``resource_token`` (it names the signing PS, so only that
    PS can repeat it): the request still waiting for it, or ``{"auth_token", "expires_in"}``
    of the live auth token issued for it; ``None`` for a new one."""
    request = (resource_token.iss, resource_token.jti)
    for pending in server.pending.values():  # at most MAX_PENDING
        if (pending.resource_token.iss, pending.resource_token.jti) == request:
            return pending
    issued = server.revocations.answered(request)
    if issued is None:
        return None
    return {"auth_token": issued.token, "expires_in": issued.exp - int(server.clock())}


async def _resource_token(server: AccessServer, value, ps: str) -> tokens.VerifiedToken:
    return await _from_issuers(
        server,
        value,
        "resource",
        server.resources,
        typ=claims.RESOURCE_TYP,
        expected_aud=server.identifier,
        expected_ps=ps,
    )


async def _from_issuers(server: AccessServer, value, param: str, issuers, **checks) -> tokens.VerifiedToken:
    """A token whose ``iss`` is one of ``issuers``, checked before its keys are fetched: a
    stranger's token makes this AS fetch nothing."""
    try:
        issuer = decode_unverified(value).payload.get("iss") if isinstance(value, str) else None
    except AAuthError:
        issuer = None
    if issuer not in issuers:
        raise AAuthError(f"invalid_{param}_token", f"this AS takes no {param} token from {issuer!r}")
    return await _verify(server, value, param, **checks)


async def _verify(server: AccessServer, value, param: str, **checks) -> tokens.VerifiedToken:
    if not isinstance(value, str):
        raise AAuthError("invalid_request", f"{param}_token must be a string")
    try:
        return await tokens.verify_token(
            value, resolver=server.resolver, now=int(server.clock()), dev=server.dev, **checks
        )
    except TokenError as error:
        raise error.as_parameter_error(param) from None


class TrustedPersonServers(KeyResolver):
    """Keys only of the Person Servers the policy trusts: any other signer is refused before
    its metadata is fetched (no request of a stranger makes this AS fetch anything)."""

    def __init__(self, resolver: KeyResolver, policy: Callable[[], AccessPolicy]):
        self.resolver, self.policy = resolver, policy

    def _check(self, issuer: str, dwk: str) -> None:
        if dwk != PERSON_DWK or issuer not in self.policy().trusted:
            raise SignatureError(
                "unknown_key", f"{issuer} is not a Person Server this AS takes requests from"
            )

    async def metadata(self, issuer: str, dwk: str) -> dict:
        self._check(issuer, dwk)
        return await self.resolver.metadata(issuer, dwk)

    async def key(self, issuer: str, dwk: str, kid: str) -> Key:
        self._check(issuer, dwk)
        return await self.resolver.key(issuer, dwk, kid)

    async def refetch_key(self, issuer: str, dwk: str, kid: str) -> Key | None:
        self._check(issuer, dwk)
        return await self.resolver.refetch_key(issuer, dwk, kid)
