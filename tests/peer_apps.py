"""introspection-aauth's servers as HTTP apps for the interop tests: its framework-free methods
(each takes a ``SignedRequest`` and returns an ``Answer`` or raises its ``AAuthError``) behind
Starlette routes, with its metadata and JWKS documents, as its own FastAPI routers would serve
them (the request as signed, an empty body as none)."""

from __future__ import annotations

from introspection_aauth.protocol.errors import AAuthError as PeerAAuthError
from introspection_aauth.protocol.httpsig import SignedRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def signed(call):
    """A Starlette endpoint answering with ``await call(signed_request, path_params)``."""

    async def endpoint(request: Request):
        message = SignedRequest(
            request.method, str(request.url), dict(request.headers), (await request.body()) or None
        )
        try:
            answer = await call(message, request.path_params)
        except PeerAAuthError as exc:
            answer = exc.answer()
        return Response(answer.content(), answer.status, answer.headers, media_type="application/json")

    return endpoint


def peer_app(server, role: str, routes: list[Route]) -> Starlette:
    """``routes`` plus ``/.well-known/aauth-{role}.json`` and ``aauth-{role}-jwks.json``."""
    documents = {
        f"/.well-known/aauth-{role}.json": server.metadata().model_dump(exclude_none=True),
        f"/.well-known/aauth-{role}-jwks.json": server.jwks().model_dump(exclude_none=True),
    }

    async def document(request: Request):
        return JSONResponse(documents[request.url.path])

    return Starlette(routes=[*(Route(path, document) for path in documents), *routes])
