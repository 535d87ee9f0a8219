"""Reading an answer's error code (aauth_kit.problem): the ``error`` of a problem+json body (-11
"Error Response Format"), or of a ``Signature-Error`` header when one is given (Signature Keys
-09 "Signature-Error HTTP Response Header")."""

from __future__ import annotations

import pytest

from aauth_kit.errors import AAuthError, SignatureError
from aauth_kit.problem import error_code, problem_of


def test_the_error_of_a_problem_body():
    body = AAuthError("expired", "too late").response_body()
    assert error_code(body) == "expired"
    assert problem_of(body)["detail"] == "too late"


@pytest.mark.parametrize(
    "body", [None, b"", b"not json", b"[1, 2]", b'{"error": 7}', b'{"detail": "x"}', b"\xff"]
)
def test_no_code_where_the_body_has_none(body):
    assert error_code(body) is None
    assert isinstance(problem_of(body), dict)


def test_the_signature_error_header_comes_first_when_readable():
    refused = SignatureError("revoked_jwt")
    body = AAuthError("invalid_request").response_body()
    assert error_code(body, refused.header_value()) == "revoked_jwt"
    assert error_code(body, "error=") == "invalid_request"  # unreadable: the body's
    assert error_code(None, refused.header_value()) == "revoked_jwt"
