"""AAuth errors: one exception family carrying the draft's code, status and detail.

-11 "Error Response Format": errors are RFC 9457 ``application/problem+json`` bodies whose
``error`` member holds the AAuth code.  Signature Keys -09 "Signature-Error HTTP Response
Header": signature failures are reported in the ``Signature-Error`` response header, and
AAuth answers them with 401 (-11 "Authentication Errors").  A ``403`` never carries
``Signature-Error``.  :mod:`aauth_kit.asgi` renders them for the kit's servers.
"""

from __future__ import annotations

import json

import http_sfv

#: Signature-Error codes (Signature Keys -09 "Error Codes"); AAuth answers all of them with 401.
SIGNATURE_ERROR_CODES = frozenset(
    {
        "unsupported_algorithm",
        "unsupported_scheme",
        "cache_miss",
        "invalid_signature",
        "invalid_input",
        "invalid_request",
        "invalid_key",
        "unknown_key",
        "issuer_missing",
        "issuer_mismatch",
        "invalid_jwt",
        "expired_jwt",
        "revoked_jwt",
        "clock_skew",
    }
)

_TOKEN_PARAMETERS = ("resource", "presented", "upstream", "subagent")

#: HTTP status of every AAuth error code outside Signature-Error (-11 "Token Endpoint Error
#: Codes", "Polling Error Codes", "Mission Status Errors" and the other sections naming codes).
ERROR_STATUS: dict[str, int] = {
    "invalid_request": 400,
    **{
        f"{kind}_{param}_token": 400
        for kind in ("invalid", "expired", "revoked")
        for param in _TOKEN_PARAMETERS
    },
    "clock_skew": 400,
    "user_unreachable": 403,
    "as_unreachable": 502,
    "server_error": 500,
    # polling a pending URL
    "denied": 403,
    "abandoned": 403,
    "revoked": 403,
    "expired": 408,
    "invalid_code": 410,
    "slow_down": 429,
    # interaction relay, missions, resources, revocation
    "interaction_unavailable": 424,
    "mission_not_found": 404,
    "mission_terminated": 403,
    "invalid_person_token": 400,
    "invalid_scope": 400,
    "invalid_account": 400,
    "insufficient_scope": 403,
    "unsupported_iss": 403,
    "rate_limited": 429,
    "not_found": 404,
    "unauthorized": 401,
    "conflict": 409,
}

PROBLEM_JSON = "application/problem+json"


class AAuthError(Exception):
    """An AAuth protocol error: ``code`` (the draft's), ``status`` (HTTP) and ``detail``.

    Extra keyword arguments become extra members of the problem+json body
    (for example ``mission_status``).
    """

    def __init__(self, code: str, detail: str = "", *, status: int | None = None, **members):
        self.code = code
        self.detail = detail or code.replace("_", " ")
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)
        self.members = members
        super().__init__(f"{code}: {self.detail}")

    def problem(self) -> dict:
        """The RFC 9457 body; ``error`` is the member clients dispatch on."""
        return {"error": self.code, "detail": self.detail, "status": self.status, **self.members}

    def response_headers(self) -> list[tuple[str, str]]:
        return [("content-type", PROBLEM_JSON)]

    def response_body(self) -> bytes:
        return json.dumps(self.problem()).encode()


class SignatureError(AAuthError):
    """A failed request signature (Signature Keys -09 "Signature-Error HTTP Response Header"):
    401 plus ``Signature-Error``.

    ``required_input`` accompanies ``invalid_input``; ``accept_schemes`` and
    ``accept_algs`` become ``Accept-Signature-Scheme`` / ``-Alg`` (-11 "Authentication Errors").
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        required_input: list[str] | None = None,
        accept_schemes: list[str] | None = None,
        accept_algs: list[str] | None = None,
    ):
        if code not in SIGNATURE_ERROR_CODES:
            raise ValueError(f"not a Signature-Error code: {code!r}")
        super().__init__(code, detail, status=401)
        self.required_input = required_input
        self.accept_schemes = accept_schemes
        self.accept_algs = accept_algs

    def problem(self) -> dict:
        body = {"type": f"urn:ietf:params:sig-error:{self.code}", **super().problem()}
        if self.required_input is not None:
            body["required_input"] = list(self.required_input)
        return body

    def header_value(self) -> str:
        """The ``Signature-Error`` Dictionary: ``error`` Token plus per-code members."""
        d = http_sfv.Dictionary()
        d["error"] = http_sfv.Item(http_sfv.Token(self.code))
        if self.required_input is not None:
            d["required_input"] = http_sfv.InnerList(list(self.required_input))
        return str(d)

    def response_headers(self) -> list[tuple[str, str]]:
        headers = [("signature-error", self.header_value())]
        if self.accept_schemes:
            headers.append(("accept-signature-scheme", ", ".join(self.accept_schemes)))
        if self.accept_algs:
            headers.append(("accept-signature-alg", ", ".join(self.accept_algs)))
        return headers + super().response_headers()


class TokenError(SignatureError):
    """A token that failed verification, in Signature-Error terms (``invalid_jwt``, ...).

    The same failure reads differently depending on where the token travelled:
    in ``Signature-Key`` it is a 401 ``Signature-Error``; as a body parameter of a
    token endpoint it becomes ``<invalid|expired|revoked>_<param>_token`` (draft -11
    "Token Endpoint Error Codes"), see :meth:`as_parameter_error`.
    """

    def as_parameter_error(self, param: str) -> AAuthError:
        if self.code == "clock_skew":
            return AAuthError("clock_skew", self.detail)
        kind = {"expired_jwt": "expired", "revoked_jwt": "revoked"}.get(self.code, "invalid")
        return AAuthError(f"{kind}_{param}_token", self.detail)


class UsageError(Exception):
    """The kit was asked for something it does not support or a caller passed nonsense.

    Not an AAuth wire error: raised for unsupported algorithms when *signing*,
    unknown component identifiers, and similar programming mistakes.
    """
