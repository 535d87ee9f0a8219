"""The parts catalog: a resource whose auth tokens come from its own Access Server (-11
"Federated Authorization Access (Four-Party)": "The resource has its own access server.  The
resource issues a resource token with aud = AS URL").

======================  ==============  ==========================
route                   access          scope
======================  ==============  ==========================
``GET /parts``          auth-token      ``catalog:read``
``POST /orders``        auth-token      ``catalog:order`` (its AS asks the PS for claims)
======================  ==============  ==========================

It takes auth tokens only from its AS (``dwk`` ``aauth-access.json``, ``iss`` the AS); the
policy — who may read, who may order — is the AS's (:mod:`.access_server`).
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

SCOPES = {
    "catalog:read": "Read the laptop parts catalog and its prices.",
    "catalog:order": "Place an order for laptop parts.",
}
PARTS = [
    {"part": "battery-56wh", "price_eur": 41.5, "lead_days": 6},
    {"part": "display-14-oled", "price_eur": 188.0, "lead_days": 12},
    {"part": "keyboard-uk", "price_eur": 23.9, "lead_days": 4},
]


class Catalog:
    """The catalog app; ``access_server`` is the identifier of its AS."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver,
        access_server: str,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        dev: bool = False,
    ):
        self.identifier = identifier
        self.orders: list[dict] = []
        self.resource = Resource(
            identifier,
            key=key,
            resolver=resolver,
            name="Parts catalog",
            description="Laptop parts, prices and orders; access decided by its own Access Server.",
            scope_descriptions=SCOPES,
            clock=clock,
            id_factory=id_factory,
            dev=dev,
            access_server=access_server,
        )
        self.app = self.resource.app(
            [
                self.resource.route("/parts", self.parts, scope="catalog:read"),
                self.resource.route("/orders", self.order, methods=("POST",), scope="catalog:order"),
                Route("/health", lambda request: JSONResponse({"status": "ok"})),
            ]
        )

    async def parts(self, request: Request) -> JSONResponse:
        return JSONResponse({"parts": PARTS})

    async def order(self, request: Request) -> JSONResponse:
        body = require_json_object(await request.body(), '{"part": str, "quantity": int}')
        part, quantity = body.get("part"), body.get("quantity")
        if part not in {p["part"] for p in PARTS} or not (isinstance(quantity, int) and 0 < quantity <= 1000):
            raise AAuthError("invalid_request", "name a catalog part and a quantity from 1 to 1000")
        iss, sub = request.state.caller.person
        order = {
            "order": len(self.orders) + 1,
            "part": part,
            "quantity": quantity,
            "for": {"iss": iss, "sub": sub},
        }
        self.orders = [*self.orders[-99:], order]
        return JSONResponse(order, status_code=201)
