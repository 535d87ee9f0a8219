"""The AAuth profile of HTTP Message Signatures (draft -11 "HTTP Message Signatures
Profile" and "Verification (Server)", on Signature Keys -09).

Signing: every AAuth request covers ``@method @authority @path signature-key``; a
body sent to a PS or AS (or a revocation endpoint) adds ``content-type`` and
``content-digest``; ``Authorization: AAuth`` adds ``authorization``.  ``created`` is
always set, ``alg`` and ``keyid`` are not; a verifier ignores an ``alg`` parameter.

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

import hashlib
import json
import time
from dataclasses import dataclass

from . import httpsig, jws, tokens
from .claims import AGENT_TYP, AUTH_TYP, PERSON_TYP
from .components import field_lines, field_value
from .digest import content_digest
from .errors import AAuthError, SignatureError, TokenError
from .identifiers import check_server_identifier
from .keys import Key, b64url
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
    present = {name.lower() for name, _ in message.headers}  # one pass instead of a scan per field
    if signature_key is not None:
        if "signature-key" in present:
            message.set_header("Signature-Key", signature_key.to_member())
        else:
            message.headers.append(("Signature-Key", signature_key.to_member()))
    has_body = bool(message.body)
    if cover_body is None:
        cover_body = has_body
    if cover_body:
        if "content-digest" not in present:
            message.headers.append(("Content-Digest", content_digest(message.body)))
        if "content-type" not in present:
            message.headers.append(("Content-Type", "application/json"))
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
    if "signature-input" in present or "signature" in present:
        httpsig.attach(message, signed)  # joins the signatures already there
    else:
        message.headers += [
            ("Signature-Input", signed.signature_input),
            ("Signature", signed.signature_header),
        ]
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


def required_components(
    message: HttpMessage,
    *,
    body_required: bool,
    extra: tuple[str, ...] = (),
    fields: dict[str, list[str]] | None = None,
) -> list[str]:
    """The components a verifier insists on (-11 profile; resource ``additional_signature_components``).

    ``fields`` is :func:`field_lines` of ``message``, when the caller already has it.
    """
    names = list(REQUIRED_COMPONENTS)
    if body_required and message.body:
        names += list(BODY_COMPONENTS)
    has_authorization = (
        "authorization" in fields if fields is not None else message.header("authorization") is not None
    )
    if has_authorization:
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
    fields: dict[str, list[str]] | None = None,
) -> tuple[httpsig.SignatureInput, SignatureKey]:
    """Steps 1-4 of the server verification, which need no key.

    ``fields`` is :func:`field_lines` of ``message``, when the caller already has it.
    """
    fields = field_lines(message) if fields is None else fields
    missing = [n for n in ("Signature", "Signature-Input", "Signature-Key") if n.lower() not in fields]
    if missing:
        raise SignatureError("invalid_signature", f"missing {', '.join(missing)}")
    sig = httpsig.read_signature(message, label, fields=fields)
    signature_key = parse_signature_key(field_value(fields, "signature-key"), sig.label)
    required = required_components(message, body_required=body_required, extra=extra, fields=fields)
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


def finish_verification(
    message: HttpMessage,
    sig: httpsig.SignatureInput,
    signature_key: SignatureKey,
    key: Key,
    token=None,
    *,
    fields: dict[str, list[str]] | None = None,
) -> VerifiedRequest:
    """Steps 6-7: a ``keyid``, if sent, must name the key; then the signature itself.

    The algorithm is the key's ``alg`` (-11 "Signature Algorithms", Signature Keys -09
    "Algorithm Determination"); an ``alg`` signature parameter is ignored, as -11
    "Signature Parameters" requires of verifiers (RFC 9421 §3.3.7).  ``fields`` is
    :func:`field_lines` of ``message``, when the caller already has it.
    """
    keyid = sig.param("keyid")
    if keyid is not None and not httpsig.keyid_names(keyid, key):
        raise SignatureError("unknown_key", f"keyid {keyid!r} does not name the key in Signature-Key")
    base = httpsig.verify_signature(message, sig, key, fields=fields, check_alg=False)
    return VerifiedRequest(sig.label, signature_key, key, base, token)


def verify_with_key(
    message: HttpMessage, key: Key, *, now: int, window: int = DEFAULT_WINDOW, **options
) -> VerifiedRequest:
    """Verify an AAuth-profile request with a key already known to the caller."""
    options.setdefault("accept_schemes", ("jwt", "jwks_uri", "hwk", "jkt-jwt"))
    sig, signature_key = check_profile(message, now=now, window=window, **options)
    return finish_verification(message, sig, signature_key, key)


def verify_hwk(message: HttpMessage, *, now: int, window: int = DEFAULT_WINDOW, **options) -> VerifiedRequest:
    """Verify a pseudonymous ``hwk`` request (Signature Keys -09 "Header Web Key (hwk)"): the key travels in the header."""
    options.setdefault("accept_schemes", ("hwk",))
    sig, signature_key = check_profile(message, now=now, window=window, **options)
    if signature_key.scheme != "hwk":
        raise SignatureError("unsupported_scheme", "expected the hwk scheme", accept_schemes=["hwk"])
    return finish_verification(message, sig, signature_key, key_from_hwk(signature_key))


# -- step 5: resolving the key a Signature-Key member names --------------------------------
JKT_TYPES = {"jkt-s256+jwt": ("sha-256", hashlib.sha256), "jkt-s512+jwt": ("sha-512", hashlib.sha512)}


def _jkt(jwk: dict, hash_function) -> str:
    """RFC 7638 thumbprint with the given hash (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)" allows
    SHA-256 and SHA-512)."""
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}.get(jwk.get("kty"), ())
    canonical = json.dumps({m: jwk.get(m) for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hash_function(canonical.encode()).digest())


def resolve_jkt_jwt(signature_key: SignatureKey, *, now: int) -> tuple[Key, dict]:
    """Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)": a JWT signed by the key in its own header ``jwk`` whose ``iss``
    is ``urn:jkt:<hash>:<thumbprint of that jwk>``; the request is signed by ``cnf.jwk``.

    Returns the request key and the JWT payload.  Failures are ``invalid_jwt``,
    ``expired_jwt`` or ``invalid_key``.
    """
    decoded = jws.decode_unverified(signature_key.jwt)
    header, payload = decoded.header, decoded.payload
    if header.get("typ") not in JKT_TYPES:
        raise TokenError(
            "invalid_jwt", f"a jkt-jwt has typ {' or '.join(JKT_TYPES)}, not {header.get('typ')!r}"
        )
    hash_name, hash_function = JKT_TYPES[header["typ"]]
    if not isinstance(header.get("jwk"), dict):
        raise TokenError("invalid_jwt", "a jkt-jwt carries its signing key in the header member jwk")
    try:
        enclave = Key.from_jwk(header["jwk"], require_alg=False)
    except SignatureError as exc:
        raise TokenError(exc.code, f"jkt-jwt header jwk: {exc.detail}") from None
    if header.get("alg") != enclave.alg:
        raise TokenError(
            "invalid_jwt", f"jkt-jwt alg {header.get('alg')!r} does not fit its header jwk ({enclave.alg})"
        )
    expected_iss = f"urn:jkt:{hash_name}:{_jkt(header['jwk'], hash_function)}"
    if payload.get("iss") != expected_iss:
        raise TokenError(
            "invalid_jwt", f"jkt-jwt iss must be {expected_iss!r}, the thumbprint of its header jwk"
        )
    if not enclave.verify(decoded.signature, decoded.signing_input):
        raise TokenError("invalid_jwt", "the jkt-jwt signature does not verify with its header jwk")
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise TokenError("invalid_jwt", "a jkt-jwt needs an integer exp")
    if exp <= now:
        raise TokenError("expired_jwt", f"the jkt-jwt expired at {exp} (now {now})")
    key = tokens.confirmation_key(signature_key)
    return key, payload


async def resolve_key(
    signature_key: SignatureKey,
    *,
    resolver,
    now: int,
    token_types: tuple[str, ...] = (AGENT_TYP, PERSON_TYP, AUTH_TYP),
    dev: bool = False,
    **token_checks,
) -> tuple[Key, object | None]:
    """Step 5: the public key that must have signed the request, and the verified token
    (``jwt``), JWT payload (``jkt-jwt``) or ``None``.

    ``jwt`` — the token is verified against its issuer's JWKS (``tokens.verify_token``,
    -11 "Agent Token Verification" and its siblings) and the key is its ``cnf.jwk``.  ``jwks_uri`` — the
    signer's own published key (Signature Keys -09 "JWKS URI Discovery (jwks_uri)").  ``hwk`` — the key in the header ("Header Web Key (hwk)").
    """
    scheme = signature_key.scheme
    if scheme == "jwt":
        token = await tokens.verify_token(
            signature_key.jwt, typ=token_types, resolver=resolver, now=now, dev=dev, **token_checks
        )
        return token.cnf_key, token
    if scheme == "jwks_uri":
        params = signature_key.params
        try:
            check_server_identifier(params["id"], dev=dev)
        except AAuthError as exc:
            raise SignatureError("invalid_key", f"Signature-Key id: {exc.detail}") from None
        return await resolver.key(params["id"], params["dwk"], params["kid"]), None
    if scheme == "hwk":
        return key_from_hwk(signature_key), None
    if scheme == "jkt-jwt":
        return resolve_jkt_jwt(signature_key, now=now)
    raise SignatureError(
        "unsupported_scheme", f"scheme {scheme!r} is not implemented", accept_schemes=["jwt"]
    )


async def verify_request(
    message: HttpMessage,
    *,
    resolver,
    now: int | None = None,
    window: int = DEFAULT_WINDOW,
    accept_schemes: tuple[str, ...] = ("jwt",),
    token_types: tuple[str, ...] = (AGENT_TYP, PERSON_TYP, AUTH_TYP),
    body_required: bool = False,
    extra: tuple[str, ...] = (),
    label: str | None = None,
    dev: bool = False,
    **token_checks,
) -> VerifiedRequest:
    """All seven steps of -11 "Verification (Server)" for a signed request.

    ``resolver`` is a :class:`jwks.KeyResolver`; ``token_types`` are the JWT types
    this endpoint accepts in a ``jwt`` member; ``token_checks`` go to
    :func:`check_token` (``expected_aud``, ``iat_window``, …).  Every failure is a
    :class:`SignatureError` carrying the draft's code (401).
    """
    now = int(time.time()) if now is None else now
    fields = field_lines(message)  # the message is read, never changed, from here on
    sig, signature_key = check_profile(
        message,
        now=now,
        window=window,
        accept_schemes=accept_schemes,
        body_required=body_required,
        extra=extra,
        label=label,
        fields=fields,
    )
    key, token = await resolve_key(
        signature_key, resolver=resolver, now=now, token_types=token_types, dev=dev, **token_checks
    )
    return finish_verification(message, sig, signature_key, key, token, fields=fields)
