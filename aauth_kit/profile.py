"""The AAuth profile of HTTP Message Signatures (draft -11 "HTTP Message Signatures
Profile" and "Verification (Server)", on Signature Keys -09).

Signing: every AAuth request covers ``@method @authority @path signature-key``; a
body sent to a PS or AS (or a revocation endpoint) adds ``content-type`` and
``content-digest``; ``Authorization: AAuth`` adds ``authorization``.  ``created`` is
always set, ``alg`` and ``keyid`` are not.

Verification runs the draft's seven steps in order, each failure reported with the
exact ``Signature-Error`` code:

1. ``Signature``, ``Signature-Input``, ``Signature-Key`` present → ``invalid_signature``
2. covered components ⊇ required → ``invalid_input`` + ``required_input``
3. ``created`` within the window → ``invalid_signature`` (old) / ``clock_skew`` (future)
4. the scheme is accepted → ``unsupported_scheme`` + ``Accept-Signature-Scheme``
5. the key resolves (token verification, discovery) → ``invalid_key``, ``invalid_jwt``, …
6. the key's ``alg`` is usable → ``unsupported_algorithm`` / ``invalid_key``
7. the signature verifies → ``invalid_signature``
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import httpsig
from .errors import SignatureError
from .keys import Key
from .message import HttpMessage
from .signature_key import SignatureKey, key_from_hwk, parse_signature_key

REQUIRED_COMPONENTS = ("@method", "@authority", "@path", "signature-key")
BODY_COMPONENTS = ("content-type", "content-digest")
DEFAULT_WINDOW = 60


def covered_components(message: HttpMessage, *, cover_body: bool, extra: tuple[str, ...] = ()) -> list[str]:
    """The components an AAuth signer covers, in the order the reference SDK uses."""
    names = ["@method", "@authority", "@path"]
    if cover_body:
        names += list(BODY_COMPONENTS)
    if message.header("authorization") is not None:
        names.append("authorization")
    names += [name for name in extra if name not in names and name != "signature-key"]
    return names + ["signature-key"]


def sign_request(
    message: HttpMessage,
    key: Key,
    signature_key: SignatureKey | None,
    *,
    created: int | None = None,
    expires: int | None = None,
    cover_body: bool | None = None,
    extra: tuple[str, ...] = (),
    components: list | None = None,
    keyid: str | None = None,
    label: str = "sig",
) -> httpsig.Signed:
    """Sign ``message`` in place the AAuth way and return what was signed.

    ``signature_key`` is the ``Signature-Key`` member to present (its label is the
    signature label); ``None`` makes a plain RFC 9421 signature labelled ``label``.
    A body gets a ``Content-Digest`` (sha-256) and is covered unless ``cover_body`` is
    False.  ``components`` overrides the choice of components entirely.
    """
    label = signature_key.label if signature_key else label
    if signature_key is not None:
        message.set_header("Signature-Key", signature_key.to_member())
    has_body = bool(message.body)
    if cover_body is None:
        cover_body = has_body
    if cover_body:
        if message.header("content-digest") is None:
            message.set_header("Content-Digest", httpsig.content_digest(message.body))
        if message.header("content-type") is None:
            message.set_header("Content-Type", "application/json")
    if components is None:
        components = covered_components(message, cover_body=cover_body, extra=extra)
        if signature_key is None:
            components.remove("signature-key")
    signed = httpsig.sign(
        message,
        key,
        components,
        label=label,
        created=int(time.time()) if created is None else created,
        expires=expires,
        keyid=keyid,
    )
    httpsig.attach(message, signed)
    return signed


@dataclass
class VerifiedRequest:
    """The outcome of a successful verification: who signed and with what."""

    label: str
    signature_key: SignatureKey
    key: Key
    base: str
    token: object | None = None  # the verified token for the jwt scheme

    @property
    def scheme(self) -> str:
        return self.signature_key.scheme


def required_components(message: HttpMessage, *, body_required: bool, extra: tuple[str, ...] = ()) -> list[str]:
    """The components a verifier insists on (-11 profile; resource ``additional_signature_components``)."""
    names = list(REQUIRED_COMPONENTS)
    if body_required and message.body:
        names += list(BODY_COMPONENTS)
    if message.header("authorization") is not None:
        names.append("authorization")
    return names + [n for n in extra if n not in names]


def check_profile(
    message: HttpMessage,
    *,
    now: int,
    window: int = DEFAULT_WINDOW,
    accept_schemes: tuple[str, ...] = ("jwt",),
    body_required: bool = False,
    extra: tuple[str, ...] = (),
    label: str | None = None,
) -> tuple[httpsig.SignatureInput, SignatureKey]:
    """Steps 1-4 of the server verification, which need no key."""
    if message.header("signature-key") is None or message.header("signature") is None or message.header("signature-input") is None:
        missing = [n for n in ("Signature", "Signature-Input", "Signature-Key") if message.header(n) is None]
        raise SignatureError("invalid_signature", f"missing {', '.join(missing)}")
    sig = httpsig.read_signature(message, label)
    signature_key = parse_signature_key(message.header("signature-key"), sig.label)
    required = required_components(message, body_required=body_required, extra=extra)
    covered = set(sig.component_names)
    if not covered.issuperset(required):
        missing = [c for c in required if c not in covered]
        raise SignatureError(
            "invalid_input", f"the signature must also cover {', '.join(missing)}", required_input=required
        )
    httpsig.check_times(sig, now, window, require_created=True)
    if signature_key.scheme not in accept_schemes:
        raise SignatureError(
            "unsupported_scheme",
            f"scheme {signature_key.scheme!r} is not accepted here (accepted: {', '.join(accept_schemes)})",
            accept_schemes=list(accept_schemes),
        )
    return sig, signature_key


def finish_verification(message: HttpMessage, sig: httpsig.SignatureInput, signature_key: SignatureKey, key: Key, token=None) -> VerifiedRequest:
    """Steps 6-7: a ``keyid``, if sent, must name the key; then the signature itself."""
    keyid = sig.param("keyid")
    if keyid is not None and not httpsig.keyid_names(keyid, key):
        raise SignatureError("unknown_key", f"keyid {keyid!r} does not name the key in Signature-Key")
    base = httpsig.verify_signature(message, sig, key)
    return VerifiedRequest(sig.label, signature_key, key, base, token)


def verify_with_key(message: HttpMessage, key: Key, *, now: int, window: int = DEFAULT_WINDOW, **options) -> VerifiedRequest:
    """Verify an AAuth-profile request with a key already known to the caller."""
    options.setdefault("accept_schemes", ("jwt", "jwks_uri", "hwk", "jkt-jwt"))
    sig, signature_key = check_profile(message, now=now, window=window, **options)
    return finish_verification(message, sig, signature_key, key)


def verify_hwk(message: HttpMessage, *, now: int, window: int = DEFAULT_WINDOW, **options) -> VerifiedRequest:
    """Verify a pseudonymous ``hwk`` request (SK §3.1): the key travels in the header."""
    options.setdefault("accept_schemes", ("hwk",))
    sig, signature_key = check_profile(message, now=now, window=window, **options)
    if signature_key.scheme != "hwk":
        raise SignatureError("unsupported_scheme", "expected the hwk scheme", accept_schemes=["hwk"])
    return finish_verification(message, sig, signature_key, key_from_hwk(signature_key))
