"""The Person Server's metadata documents and keys, in both of its roles (-11 "Metadata
Documents": "Person Server Metadata", "Agent Provider Metadata"; "JWKS Discovery and
Caching"), and the resolver that answers its own keys in process."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import revocation
from aauth_kit.jwks import KeyResolver, jwks, select_key
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, agent_metadata, person_metadata

from .context import Context

#: -11 "Person Server Metadata" ``scopes_supported``: the identity and enterprise scopes this PS
#: provides — none: a resource's own scopes it grants are the resource's to describe.
SCOPES_SUPPORTED: tuple[str, ...] = ()
#: ``claims_supported``: the identity claims this PS provides — the pairwise ``sub`` of every
#: person and auth token, and the person's ``name``, released with their consent when an Access
#: Server asks for claims (-11 "Claims Required", whose answers never carry ``sub``).
CLAIMS_SUPPORTED = ("sub", "name")


def metadata_document(ctx: Context, dwk: str) -> dict:
    """``aauth-person.json`` (PS role) or ``aauth-agent.json`` (AP role, plus the kit's
    ``registration_endpoint`` and ``rotation_endpoint``)."""
    identifier = ctx.identifier
    jwks_uri = f"{identifier}/.well-known/jwks.json"
    if dwk == PERSON_DWK:
        return person_metadata(
            identifier,
            jwks_uri,
            f"{identifier}/auth-token",
            f"{identifier}/person-token",
            name=ctx.config.name,
            description="Issues person and auth tokens; asks the person for consent.",
            revocation_endpoint=f"{identifier}{revocation.REVOCATION_PATH}",
            mission_endpoint=f"{identifier}/mission",
            permission_endpoint=f"{identifier}/permission",
            audit_endpoint=f"{identifier}/audit",
            interaction_endpoint=f"{identifier}/reach",
            scopes_supported=list(SCOPES_SUPPORTED),
            claims_supported=list(CLAIMS_SUPPORTED),
            dev=ctx.dev,
        )
    document = agent_metadata(identifier, jwks_uri, name=f"{ctx.config.name} (Agent Provider)", dev=ctx.dev)
    return {
        **document,
        "registration_endpoint": f"{identifier}/agent/register",
        "rotation_endpoint": f"{identifier}/agent/rotate",
    }


def jwks_document(ctx: Context) -> dict:
    return jwks([ctx.key])


class OwnKeys(KeyResolver):
    """The PS's resolver: its own documents and key answered in process, every other
    issuer (other Agent Providers, resources) through ``resolver``."""

    def __init__(self, ctx: Context, resolver: KeyResolver):
        self.ctx = ctx
        self.resolver = resolver

    def _own(self, issuer: str, dwk: str) -> bool:
        return issuer == self.ctx.identifier and dwk in (AGENT_DWK, PERSON_DWK)

    async def metadata(self, issuer: str, dwk: str) -> dict:
        if self._own(issuer, dwk):
            return metadata_document(self.ctx, dwk)
        return await self.resolver.metadata(issuer, dwk)

    async def key(self, issuer: str, dwk: str, kid: str):
        if self._own(issuer, dwk):
            return select_key(jwks_document(self.ctx), kid, where=f"the JWKS of {issuer}")
        return await self.resolver.key(issuer, dwk, kid)


def routes(ctx: Context) -> list[Route]:
    async def person_metadata_endpoint(request: Request) -> Response:
        return JSONResponse(metadata_document(ctx, PERSON_DWK))

    async def agent_metadata_endpoint(request: Request) -> Response:
        return JSONResponse(metadata_document(ctx, AGENT_DWK))

    async def jwks_endpoint(request: Request) -> Response:
        return JSONResponse(jwks_document(ctx))

    return [
        Route(f"/.well-known/{PERSON_DWK}", person_metadata_endpoint),
        Route(f"/.well-known/{AGENT_DWK}", agent_metadata_endpoint),
        Route("/.well-known/jwks.json", jwks_endpoint),
    ]
