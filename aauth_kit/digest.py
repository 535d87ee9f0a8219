"""RFC 9530 Digest Fields: the ``Content-Digest`` of a message body.

A signer that covers ``content-digest`` (RFC 9421 §7.2.8) binds the body to the
signature; the verifier recomputes every digest it knows (RFC 9530 §2).
"""

from __future__ import annotations

import hashlib
import hmac

import http_sfv

from . import structured
from .components import parse_field
from .errors import SignatureError, UsageError

DIGEST_ALGS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Content-Digest`` value for ``body``, e.g. ``sha-256=:X48E9q...=:``."""
    if algorithm not in DIGEST_ALGS:
        raise UsageError(f"unsupported digest {algorithm!r} (supported: {', '.join(DIGEST_ALGS)})")
    return structured.member_text(algorithm, structured.byteseq_text(DIGEST_ALGS[algorithm](body).digest()))


def check_content_digest(value: str | None, body: bytes) -> None:
    """Recompute every supported digest in ``value`` over ``body`` (RFC 9530 §2).

    Unknown algorithms are ignored; at least one supported one must be present and
    every supported one must match, else :class:`SignatureError` ``invalid_signature``.
    """
    if value is None:
        raise SignatureError("invalid_signature", "Content-Digest is covered but missing")
    if value == content_digest(body):  # the kit's own canonical form: it matches, nothing to parse
        return
    digests = parse_field(http_sfv.Dictionary, value, "Content-Digest")
    known = [alg for alg in digests if alg in DIGEST_ALGS]
    if not known:
        raise SignatureError(
            "invalid_signature", f"Content-Digest has no supported algorithm ({', '.join(DIGEST_ALGS)})"
        )
    for alg in known:
        claimed = digests[alg].value
        if not isinstance(claimed, bytes) or not hmac.compare_digest(
            claimed, DIGEST_ALGS[alg](body).digest()
        ):
            raise SignatureError("invalid_signature", f"Content-Digest {alg} does not match the body")
