"""A resource's own endpoints: ``/.well-known/aauth-resource.json`` and its JWKS (-11
"Resource Metadata"), the authorization endpoint (-11 "Authorization Endpoint Request",
"Authorization Endpoint Responses") and the revocation endpoint (-11 "Token Revocation").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import metadata, revocation
from .errors import AAuthError
from .jwks import jwks
from .resource_authorization import authorize
from .resource_challenge import ROUTE_ACCESS

if TYPE_CHECKING:
    from .resource import Resource

METADATA_PATH = f"/.well-known/{metadata.RESOURCE_DWK}"
JWKS_PATH = "/.well-known/jwks.json"
AUTHORIZATION_PATH = "/authorize"
REVOCATION_PATH = revocation.REVOCATION_PATH


def metadata_document(resource: Resource) -> dict:
    """``/.well-known/aauth-resource.json`` (-11 "Metadata Documents")."""
    modes = [access for _, access, _ in resource.protected if access != "open"]
    access_mode = resource.access_mode or max(modes or ["agent-token"], key=ROUTE_ACCESS.index)
    return metadata.resource_metadata(
        resource.identifier,
        f"{resource.identifier}{JWKS_PATH}",
        access_mode=access_mode,
        authorization_endpoint=f"{resource.identifier}{AUTHORIZATION_PATH}",
        revocation_endpoint=f"{resource.identifier}{REVOCATION_PATH}",
        scope_descriptions=resource.scope_descriptions or None,
        signature_window=resource.signature_window,
        name=resource.name or None,
        description=resource.description or None,
        dev=resource.dev,
    )


def own_routes(resource: Resource) -> list[Route]:
    """The four routes every resource app serves besides its own."""

    async def metadata_endpoint(request: Request) -> Response:
        return JSONResponse(metadata_document(resource))

    async def jwks_endpoint(request: Request) -> Response:
        return JSONResponse(jwks([resource.key]))

    async def authorization_endpoint(request: Request) -> Response:
        """-11 "Authorization Endpoint Request": :func:`resource_authorization.authorize`."""
        return await authorize(resource, request)

    async def revocation_endpoint(request: Request) -> Response:
        """-11 "Token Revocation": ``POST {"jti", "exp"}`` signed in its own right (``sig=jwks_uri``)
        by a Person Server (``dwk`` ``aauth-person.json``) or by this resource's own Access Server
        (``aauth-access.json``, :attr:`Resource.access_server`): each revokes the tokens it issued;
        anyone else — another AS too — ``403 unsupported_iss``.  The token ``(signer, jti)`` is
        refused from now on; the answer is ``200`` with an empty body at once (a resource has no
        cascade, so never ``202``), for a ``jti`` it never saw too; a signer past its share, or a
        full store, is ``429 rate_limited`` with ``Retry-After`` (:mod:`aauth_kit.resource_revocations`)."""
        revoked = await revocation.verify_revocation(
            await resource.http_message(request),
            resolver=resource.resolver,
            accept=(metadata.PERSON_DWK, metadata.ACCESS_DWK),
            now=int(resource.clock()),
            window=resource.signature_window,
            dev=resource.dev,
        )
        if revoked.dwk == metadata.ACCESS_DWK and revoked.signer != resource.access_server:
            raise AAuthError(
                "unsupported_iss", f"{revoked.signer} is not the Access Server of {resource.identifier}"
            )
        resource.revocations.revoke(revoked.signer, revoked.jti, revoked.exp, forget=True)
        return Response(status_code=200)

    return [
        Route(METADATA_PATH, metadata_endpoint, methods=["GET"]),
        Route(JWKS_PATH, jwks_endpoint, methods=["GET"]),
        Route(AUTHORIZATION_PATH, authorization_endpoint, methods=["POST"]),
        Route(REVOCATION_PATH, revocation_endpoint, methods=["POST"]),
    ]
