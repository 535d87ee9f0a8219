"""What a resource answers an agent that must bring something else: the requirement
response of -11 "Requirement Responses" (``401`` + ``AAuth-Requirement``), raised as a
:class:`Challenge` from anywhere in a request and rendered by the resource's app, and the
scope tokens a route names (-11 "Scopes")."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import headers
from .asgi import problem_response
from .errors import SignatureError

#: Route access modes, weakest first (``open`` is no AAuth at all): the challenge ladder.
ROUTE_ACCESS = ("open", "agent-token", "person-token", "session-token", "auth-token")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


class Challenge(Exception):
    """A requirement response (-11 "Requirement Responses"): ``401`` +
    ``AAuth-Requirement: requirement=<requirement>`` with its parameters."""

    def __init__(
        self,
        requirement: str,
        detail: str,
        *,
        error: SignatureError | None = None,
        caller: object | None = None,
        **params: str,
    ):
        super().__init__(detail)
        self.caller = caller  # the verified caller, when the resource may hold its request instead
        self.requirement = requirement
        self.detail = detail
        self.error = error  # a Signature-Error that rides along (a revoked token)
        self.params = params

    def response(self) -> Response:
        value = headers.serialize_requirement(self.requirement, **self.params)
        if self.error is not None:
            return problem_response(self.error, {"aauth-requirement": value})
        body = {"requirement": self.requirement, "detail": self.detail}
        return JSONResponse(
            body, status_code=401, headers={"aauth-requirement": value, "cache-control": "no-store"}
        )


async def challenge_response(request: Request, challenge: Challenge) -> Response:
    """The exception handler that turns a :class:`Challenge` into its response."""
    return challenge.response()


def scope_tokens(scope) -> list[str]:
    """The scope tokens of an RFC 6749 §3.3 ``scope`` (single spaces between), or ``[]`` if malformed."""
    return scope.split(" ") if isinstance(scope, str) and _SCOPE.fullmatch(scope) else []
