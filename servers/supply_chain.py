"""The supply-chain agent (SCA): a resource, and an agent when it calls the market analyst.

As a resource (-11 "Resource Access and Resource Tokens") it protects four routes with the three access modes:

======================  ==============  ==========================
route                   access          scope
======================  ==============  ==========================
``GET /inventory``      agent-token     —  (who the agent is is enough)
``GET /check``          person-token    —  (a person stands behind the agent)
``POST /check``         auth-token      ``supply-chain:check``
``POST /optimize``      auth-token      ``supply-chain:optimize`` (the seed's consent scope)
======================  ==============  ==========================

When the prompt asks for market analysis, the SCA calls the market-analysis agent as a
-11 "Call Chaining" call: it is its own Agent Provider (``/.well-known/aauth-agent.json``
names the SCA itself as issuer), signs with a self-issued agent token, and asks the
caller's PS for a person token and an auth token with the caller's auth token as
``upstream_token``.  When that PS needs the person first (``202`` with
``requirement=interaction``), the SCA answers its caller with its own ``202``, code and pending
URL, and completes the optimisation there once the person approved (-11 "Interaction Chaining",
:mod:`aauth_kit.resource_chaining`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.agent import Agent
from aauth_kit.errors import AAuthError
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.metadata import agent_metadata
from aauth_kit.resource import Resource
from aauth_kit.resource_chaining import InteractionChaining

from . import supply_chain_data as data

SCOPES = {
    "supply-chain:check": "Check whether any laptop part runs out before its next delivery.",
    "supply-chain:read": "Read the laptop parts inventory.",
    "supply-chain:optimize": "Compute purchasing recommendations for the laptop supply chain "
    "(the person's consent is asked by default).",
}
AGENT_LOCAL = "supply-chain"


def decoded_authorization(resource: str, token: str) -> dict:
    """An auth token as the job results show it: header and claims, never the raw token."""
    decoded = jws.decode_unverified(token)
    return {"resource": resource, "header": decoded.header, "claims": decoded.payload}


class SupplyChainAgent:
    """The SCA app.  ``client_factory(auth=…)`` returns an ``httpx.AsyncClient`` on the
    lab's network; ``market_analysis`` is the market analyst's identifier."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        agent_key: Key,
        resolver,
        client_factory: Callable,
        market_analysis: str,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        code_factory: Callable[[], str] | None = None,
        dev: bool = False,
    ):
        self.identifier = identifier
        self.id_factory = id_factory
        self.key = key
        self.agent_key = agent_key
        self.client_factory = client_factory
        self.market_analysis = market_analysis
        self.clock = clock
        self.dev = dev
        self.agent_id = f"aauth:{AGENT_LOCAL}@{identifier.split('://', 1)[1].split(':')[0]}"
        self.resource = Resource(
            identifier,
            key=key,
            resolver=resolver,
            name="Supply-chain agent",
            description="Inventory, health checks and purchasing recommendations for the laptop supply chain.",
            scope_descriptions=SCOPES,
            clock=clock,
            id_factory=id_factory,
            code_factory=code_factory,
            dev=dev,
        )
        self.chaining = InteractionChaining(self.resource.held)
        routes = [
            self.resource.route("/inventory", self.get_inventory, access="agent-token"),
            self.resource.route("/check", self.get_check, access="person-token"),
            self.resource.route("/check", self.post_check, methods=("POST",), scope="supply-chain:check"),
            self.resource.route(
                "/optimize", self.post_optimize, methods=("POST",), scope="supply-chain:optimize"
            ),
            Route("/.well-known/aauth-agent.json", self.agent_metadata),
            Route("/health", lambda request: JSONResponse({"status": "ok"})),
            *self.chaining.routes(),
        ]
        self.app = self.resource.app(routes)

    # -- as its own Agent Provider (-11 "Call Chaining") -------------------------------------
    async def agent_metadata(self, request: Request) -> JSONResponse:
        doc = agent_metadata(
            self.identifier,
            f"{self.identifier}/.well-known/jwks.json",
            name="Supply-chain agent",
            dev=self.dev,
        )
        return JSONResponse(doc)

    def agent_token(self) -> str:
        """A fresh self-issued ``aa-agent+jwt`` binding the SCA's request-signing key."""
        now = int(self.clock())
        return tokens.mint_agent_token(
            self.key,
            iss=self.identifier,
            sub=self.agent_id,
            cnf=self.agent_key,
            iat=now,
            exp=now + 600,
            kid=self.key.kid,
            dev=self.dev,
            jti=self.id_factory() if self.id_factory else None,
        )

    # -- routes ----------------------------------------------------------------------------
    async def get_inventory(self, request: Request) -> JSONResponse:
        return JSONResponse({"agent": request.state.caller.agent, "inventory": data.inventory()})

    async def get_check(self, request: Request) -> JSONResponse:
        iss, sub = request.state.caller.person
        return JSONResponse({"person": {"iss": iss, "sub": sub}, **data.check()})

    async def post_check(self, request: Request) -> JSONResponse:
        return JSONResponse(data.check())

    async def post_optimize(self, request: Request) -> JSONResponse:
        body = require_json_object(await request.body(), '{"prompt": str, "optimization_type"?: str}')
        if not isinstance(body.get("prompt", ""), str):
            raise AAuthError("invalid_request", "prompt must be a string")
        prompt = body.get("prompt") or "Optimize the laptop supply chain"
        result = data.optimize(prompt, str(body.get("optimization_type") or "inventory"))
        result["authorizations"] = []
        if not data.wants_market_analysis(prompt):
            return JSONResponse(result)
        upstream = request.state.caller.token

        async def with_market_analysis(on_interaction) -> JSONResponse:
            analysis, token = await self.ask_market_analysis(prompt, upstream, on_interaction)
            result["market_analysis"] = analysis
            result["authorizations"].append(decoded_authorization(self.market_analysis, token))
            return JSONResponse(result)

        return await self.chaining.run(request.state.caller, with_market_analysis)

    async def ask_market_analysis(self, prompt: str, upstream, on_interaction) -> tuple[dict, str]:
        """-11 "Call Chaining": call the market analyst on behalf of the caller's person, as an agent
        signing with the SCA's own key; ``on_interaction`` hears of a consent the person must give."""
        agent = Agent(
            self.agent_key,
            self.agent_token(),
            ps=upstream.ps or upstream.iss,
            clock=self.clock,
            dev=self.dev,
            on_interaction=on_interaction,
        )
        async with self.client_factory(auth=agent.auth(upstream_token=upstream.token)) as client:
            response = await client.post(f"{self.market_analysis}/analyze", json={"question": prompt})
        if response.status_code != 200:
            raise AAuthError(
                "server_error", f"the market-analysis agent answered {response.status_code}", status=502
            )
        return response.json(), agent.auth_token_for(self.market_analysis)
