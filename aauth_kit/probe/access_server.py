"""The Access Server the probe plays: an issuer of auth tokens that no probed resource trusts
(-11 "Auth Token Verification", "Access Server Metadata").

It serves its metadata and JWKS, so a resource can verify what it signs: a resource that
then accepts its auth token trusts any Access Server whose keys it can fetch, where -11
"Auth Token Verification" takes auth tokens only from the resource's own AS (four-party)
or a PS asserting identity (three-party).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import metadata, tokens
from ..jwks import jwks
from ..keys import Key
from .agent_provider import PROBE_PERSON, loopback_port


class ProbeAccessServer:
    """An Access Server served on ``hosts`` as ``identifier``; the owner of ``hosts`` stops it."""

    def __init__(self, hosts, identifier: str, *, port: int = 0, dev: bool = False):
        self.identifier = identifier
        self.dev = dev
        self.key = Key.generate(kid="probe-as")
        document = metadata.access_metadata(
            identifier,
            f"{identifier}/.well-known/jwks.json",
            f"{identifier}/token",
            name="aauth-kit probe (an Access Server nobody trusts)",
            dev=dev,
        )

        async def metadata_endpoint(request: Request) -> JSONResponse:
            return JSONResponse(document)

        async def jwks_endpoint(request: Request) -> JSONResponse:
            return JSONResponse(jwks([self.key]))

        app = Starlette(
            routes=[
                Route(f"/.well-known/{metadata.ACCESS_DWK}", metadata_endpoint),
                Route("/.well-known/jwks.json", jwks_endpoint),
            ]
        )
        hosts.add(identifier, app, port=port)

    @classmethod
    def on_loopback(cls, hosts) -> ProbeAccessServer:
        """Dev mode: served at ``http://127.0.0.1:PORT`` on a free port."""
        port = loopback_port()
        return cls(hosts, f"http://127.0.0.1:{port}", port=port, dev=True)

    def auth_token(self, agent_key: Key, aud: str, *, scope: str | None, now: int) -> str:
        """An ``aa-auth+jwt`` (``dwk`` ``aauth-access.json``) for ``aud`` bound to ``agent_key``."""
        return tokens.mint_auth_token(
            self.key,
            iss=self.identifier,
            aud=aud,
            ps=self.identifier,
            sub=PROBE_PERSON,
            cnf=agent_key.public_jwk(kid=False),
            iat=now,
            exp=now + 300,
            scope=scope,
            dwk=metadata.ACCESS_DWK,
            dev=self.dev,
        )
