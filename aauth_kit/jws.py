"""Compact JWS (RFC 7515 §7.1): ``b64url(header).b64url(payload).b64url(signature)``,
signed and verified directly with :class:`keys.Key`.

Decoding is strict: three base64url parts, header and payload JSON objects with no
duplicate member names and no non-finite numbers; any malformation is a
:class:`errors.TokenError` ``invalid_jwt``.  The JOSE header checks are the ones every
AAuth token shares (-11 "Signature Algorithms"): a ``typ`` among those expected (media
types compared as RFC 7515 §4.1.9 says), no ``crit`` extension, a fully-specified
``alg`` the kit supports (never ``EdDSA``), a string ``kid``.  Nothing here knows the
claim rules (see :mod:`aauth_kit.claims`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import NamedTuple

from .errors import TokenError, UsageError
from .keys import SUPPORTED_ALGS, Key, b64url, b64url_decode

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def fail(detail: str, code: str = "invalid_jwt") -> TokenError:
    """A token failure (``invalid_jwt`` unless said otherwise)."""
    return TokenError(code, detail)


class Decoded(NamedTuple):
    """A compact JWS taken apart, not yet verified."""

    header: dict
    payload: dict
    signing_input: bytes
    signature: bytes


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _no_duplicates(pairs):
    out = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"duplicate member {name!r}")
        out[name] = value
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _decode_part(segment: str, what: str) -> dict:
    try:
        value = json.loads(
            b64url_decode(segment).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_finite,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise fail(f"the JWT {what} is not base64url JSON: {exc}") from None
    if not isinstance(value, dict):
        raise fail(f"the JWT {what} is not a JSON object")
    return value


def decode_unverified(token) -> Decoded:
    """Split a compact JWS (RFC 7515 §7.1) into header, payload, signing input and
    signature; any malformation is ``invalid_jwt``.  Nothing is verified."""
    if not isinstance(token, str):
        raise fail("a JWT must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise fail(f"a JWT has three dot-separated parts, this one has {len(parts)}")
    if not all(_B64URL.fullmatch(p) for p in parts) or not parts[0] or not parts[1]:
        raise fail("a JWT part is empty or not base64url")
    header = _decode_part(parts[0], "header")
    payload = _decode_part(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except ValueError:
        raise fail("the JWT signature is not base64url") from None
    return Decoded(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


@functools.lru_cache(maxsize=256)
def _decoded_text(token: str) -> Decoded:
    return decode_unverified(token)


def decode_remembered(token) -> Decoded:
    """:func:`decode_unverified`, remembered for a verifier's own read-only use."""
    return _decoded_text(token) if isinstance(token, str) else decode_unverified(token)


def sign_compact(header: dict, payload: dict, key: Key) -> str:
    """``b64url(header).b64url(payload).b64url(signature)`` — no claim rules applied."""
    if not key.has_private:
        raise UsageError("minting a token needs a private key")
    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(payload))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def _normalize_typ(typ: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively, ``application/`` optional."""
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


def check_header(header: dict, expected: tuple[str, ...]) -> str:
    """``typ`` first (one of ``expected``), then ``crit``, ``alg`` and ``kid``; return the
    token's ``typ`` as expected spells it."""
    got = header.get("typ")
    found = _normalize_typ(got) if isinstance(got, str) else None
    if found not in expected:
        raise fail(f"expected typ {' or '.join(expected)}, got {got!r}")
    if "crit" in header:
        raise fail("the JWT header lists crit extensions the kit does not understand")
    alg = header.get("alg")
    if alg == "EdDSA":
        raise fail(
            "alg EdDSA is polymorphic and forbidden since draft -10; use Ed25519", "unsupported_algorithm"
        )
    if alg not in SUPPORTED_ALGS:
        raise TokenError(
            "unsupported_algorithm", f"alg {alg!r} is not accepted", accept_algs=list(SUPPORTED_ALGS)
        )
    if "kid" in header and not isinstance(header["kid"], str):
        raise fail("kid must be a string")
    return found


def check_alg(decoded: Decoded, key: Key) -> None:
    """The header's ``alg`` is the issuer key's own ``alg``."""
    if decoded.header["alg"] != key.alg:
        raise fail(f"the token says alg {decoded.header['alg']} but the issuer key is {key.alg}")


def signature_verifies(decoded: Decoded, key: Key) -> bool:
    """Whether ``key`` made the JWS signature over the signing input."""
    return key.verify(decoded.signature, decoded.signing_input)
