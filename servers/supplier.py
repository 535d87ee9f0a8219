"""The parts supplier: a resource that manages access itself and holds orders.

* ``GET /quotes`` (scope ``supplier:quotes``) is resource-managed (-11 "Resource-Managed
  Access (Two-Party)"): the supplier asks the person on its own page, then hands the agent an
  ``AAuth-Access`` session token for the later calls.
* ``POST /orders`` (scope ``supplier:order``) needs an auth token from the person's PS and is
  delivered deferred (-11 "Deferred Delivery"): the order is held behind a ``202`` and placed
  once, on the first poll that presents the auth token; a repeated poll replays the answer.
* ``GET /account`` (scope ``supplier:account``) needs an auth token too, but the supplier asks
  the person on its own page first (-11 "Resource-Initiated Interaction"): its resource token
  carries ``interaction``, and the person's PS sends the person there before its own consent.

Its authorization endpoint (``POST /authorize``, :mod:`aauth_kit.resource_authorization`)
answers ``supplier:quotes`` itself, two-party (``202`` → the person approves on its page → ``200
{"status": "authorized"}`` + ``AAuth-Access``), and the other scopes with a resource token.
``persons`` are those who sign in on its page before they decide
(:mod:`aauth_kit.resource_login`): ``{username: (password, (iss, sub))}``, the ``sub`` their PS
gives them at the supplier; with none, the page takes no decision.  Each of them holds one
account here, named by that ``sub`` and held by the person ``(iss, sub)``, ``iss`` their PS's
(the person token's ``iss``, an auth token's ``ps``: an Access Server's auth token names the same
person, :mod:`aauth_kit.resource_caller`) (-11 "Account Binding"): a person of another PS with the
same ``sub`` holds none, and asking for
any other account is ``400 invalid_account``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse

from aauth_kit.errors import AAuthError
from aauth_kit.keys import Key
from aauth_kit.message import require_json_object
from aauth_kit.resource import Resource

SCOPES = {
    "supplier:quotes": "See the supplier's part quotes.",
    "supplier:order": "Place orders with the supplier.",
    "supplier:account": "See your account with the supplier (linked on the supplier's own page).",
}
QUOTES = {"cpu": 212.0, "ram-16gb": 41.5, "ssd-1tb": 68.0, "screen-14in": 95.0}
#: Units one order may ask for.
MAX_UNITS = 10_000


class Supplier:
    """The supplier resource: :attr:`app`, :attr:`resource` and the :attr:`orders` placed."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        resolver,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        code_factory: Callable[[], str] | None = None,
        session_ids: Callable[[], str] | None = None,
        dev: bool = False,
        persons: Mapping[str, tuple[str, tuple[str, str]]] | None = None,
    ):
        self.identifier = identifier
        #: ``(iss, sub)`` → the account that person holds here
        self.accounts = {tuple(person): person[1] for _, person in (persons or {}).values()}
        self.resource = Resource(
            identifier,
            key=key,
            resolver=resolver,
            name="Parts supplier",
            description="Quotes and orders for laptop parts.",
            scope_descriptions=SCOPES,
            clock=clock,
            id_factory=id_factory,
            code_factory=code_factory,
            dev=dev,
            accounts=lambda person: {self.accounts[person]} if person in self.accounts else set(),
            persons=persons,
        )
        if session_ids is not None:  # predictable AAuth-Access values (docs mode)
            self.resource.sessions.id_factory = session_ids
        self.orders: list[dict] = []
        self._numbers = itertools.count(1)
        self.app = self.resource.app(
            [
                self.resource.route("/quotes", self.quotes, access="session-token", scope="supplier:quotes"),
                self.resource.route(
                    "/orders", self.order, methods=("POST",), scope="supplier:order", deliver="202"
                ),
                self.resource.route("/account", self.account, scope="supplier:account", interaction=True),
            ]
        )

    async def quotes(self, request: Request) -> JSONResponse:
        return JSONResponse({"quotes": QUOTES, "agent": request.state.caller.token.sub})

    async def account(self, request: Request) -> JSONResponse:
        iss, sub = request.state.caller.person
        placed = [o for o in self.orders if o["for"] == {"iss": iss, "sub": sub}]
        return JSONResponse({"account": sub, "orders": len(placed)})

    async def order(self, request: Request) -> JSONResponse:
        body = require_json_object(await request.body(), '{"part": str, "units": int}')
        part, units = body.get("part"), body.get("units")
        if part not in QUOTES or not (isinstance(units, int) and 0 < units <= MAX_UNITS):
            raise AAuthError(
                "invalid_request", f"part must be one of {', '.join(QUOTES)} and units 1..{MAX_UNITS}"
            )
        iss, sub = request.state.caller.person
        order = {"order": next(self._numbers), "part": part, "units": units, "total": QUOTES[part] * units}
        self.orders.append(order | {"for": {"iss": iss, "sub": sub}})
        return JSONResponse(order, status_code=201)
