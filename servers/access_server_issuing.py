"""The Access Server's auth token (-11 "Auth Token Structure"), minted when a token request is
decided in its favour, and remembered by the token it was asked with so that a revocation of
that token reaches it (-11 "Token Revocation")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aauth_kit import tokens
from aauth_kit.metadata import ACCESS_DWK

from . import access_server_revocation as revocation

if TYPE_CHECKING:
    from .access_server import AccessServer, TokenRequest

#: -11 "Auth Token Structure": auth tokens "MUST NOT have a lifetime exceeding 1 hour".
TOKEN_LIFETIME = 3600


def issue(server: AccessServer, pending: TokenRequest) -> dict:
    """-11 "Auth Token Structure": ``iss`` this AS, ``dwk`` aauth-access.json, ``aud`` the
    resource, ``ps`` the PS, ``sub`` and the optional claims copied from the resource token,
    ``cnf`` the agent's (or sub-agent's) key; at most an hour, never past the tokens it was
    asked with."""
    rt, now = pending.resource_token, int(server.clock())
    exp = min(now + TOKEN_LIFETIME, pending.not_after)
    token = tokens.mint_auth_token(
        server.key,
        iss=server.identifier,
        aud=rt.iss,
        ps=pending.ps,
        sub=rt.sub,
        cnf=pending.cnf_jwk,
        iat=now,
        exp=exp,
        jti=(jti := server.id_factory()),
        scope=rt.scope,
        account=rt.account,
        mission_s256=rt.mission_s256,
        tenant=rt.tenant,
        dwk=ACCESS_DWK,
        dev=server.dev,
    )
    issued = revocation.IssuedAuthToken(rt.iss, jti, exp, pending.ps, (rt.iss, rt.jti), token)
    server.revocations.note_issued(pending.presented, issued)
    return {"auth_token": token, "expires_in": exp - now}
