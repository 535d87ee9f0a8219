"""The market-analysis agent (MAA): a resource with one scope, ``market-analysis:analyze``.

It is reached through the supply-chain agent's call chain (-11 "Call Chaining"), so the auth
token it verifies is bound to the SCA's key but names the person behind the backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit.errors import AAuthError
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.resource import Resource

from . import market_data

SCOPES = {"market-analysis:analyze": "Analyse laptop market trends and component prices."}


class MarketAnalysisAgent:
    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        dev: bool = False,
    ):
        self.identifier = identifier
        self.resource = Resource(
            identifier,
            key=key,
            resolver=resolver,
            name="Market-analysis agent",
            description="Laptop market trends and component price movements.",
            scope_descriptions=SCOPES,
            clock=clock,
            id_factory=id_factory,
            dev=dev,
        )
        self.app = self.resource.app(
            [
                self.resource.route(
                    "/analyze", self.analyze, methods=("POST",), scope="market-analysis:analyze"
                ),
                Route("/health", lambda request: JSONResponse({"status": "ok"})),
            ]
        )

    async def analyze(self, request: Request) -> JSONResponse:
        body = require_json_object(await request.body(), '{"question": str}')
        if not isinstance(body.get("question", ""), str):
            raise AAuthError("invalid_request", "question must be a string")
        iss, sub = request.state.caller.person
        return JSONResponse(
            {**market_data.analyze(body.get("question", "")), "on_behalf_of": {"iss": iss, "sub": sub}}
        )
