"""RFC 9421 HTTP Message Signatures: the signature base, signing and verifying.

Implements §2.5 (the signature base), §3.1 / §3.2 (creating and verifying a
signature), §4 (``Signature-Input`` and ``Signature``) and the Ed25519 / ECDSA P-256
algorithms of §3.3, over the components of §2 (:mod:`aauth_kit.components`) and the
``Content-Digest`` of RFC 9530 (:mod:`aauth_kit.digest`).  The AAuth profile's extra
rules (required components, ``Signature-Key``) live in ``profile.py``; this module is
the generic layer any RFC 9421 peer shares.

Signing and verifying run on every request, so the work that depends only on values
that repeat is done once per distinct value: a covered-component list is serialized
once (:class:`Covered`), a ``Signature-Input`` member is read and checked once per
header value, the ``Signature`` field (new on every request) is read by
:mod:`aauth_kit.signature_field`, and a message's fields are indexed in one pass per
signature base.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import http_sfv

from . import structured
from .components import combined_lines, component, component_value, field_lines, field_value, parse_field
from .digest import check_content_digest
from .errors import SignatureError, UsageError
from .keys import Key
from .message import HttpMessage
from .signature_field import signature_members

#: RFC 9421 §6.2 algorithm names for the ``alg`` parameter, by the kit's JOSE name.
HTTP_SIG_ALGS = {"ed25519": "Ed25519", "ecdsa-p256-sha256": "ES256"}


# -- signature base (§2.5) ---------------------------------------------------------------
def signature_params(components: list[http_sfv.Item], params: dict) -> http_sfv.InnerList:
    """The ``@signature-params`` inner list: the components, then the parameters in order."""
    inner = http_sfv.InnerList(list(components))
    for key, value in params.items():
        if value is not None:
            inner.params[key] = value
    return inner


@dataclass(frozen=True)
class Covered:
    """A covered-component list, read once: the items, their identifiers as the base
    writes them, the inner list without its parameters, ``("@method" …)``, which items
    are plain header fields (a lower-case name, no parameters: §2.1's common case) and
    the first identifier covered twice, if any (§2.5 forbids it)."""

    items: tuple[http_sfv.Item, ...]
    identifiers: tuple[str, ...]
    text: str
    plain: tuple[bool, ...]
    repeated: str | None

    @classmethod
    def of(cls, items) -> Covered:
        identifiers = tuple(structured.item_text(item) for item in items)
        plain = tuple(
            not item.params
            and not item.value.startswith("@")
            and item.value == item.value.lower()
            and bool(item.value)
            for item in items
        )
        repeated = next((i for n, i in enumerate(identifiers) if i in identifiers[:n]), None)
        return cls(tuple(items), identifiers, f"({' '.join(identifiers)})", plain, repeated)


@functools.lru_cache(maxsize=256)
def _covered_names(names: tuple[str, ...]) -> Covered:
    """The :class:`Covered` of plain component names (what signers pass), kept per list."""
    return Covered.of([component(name) for name in names])


def signature_base(message: HttpMessage, params: http_sfv.InnerList) -> str:
    """Build the signature base (§2.5): one line per component, then ``@signature-params``."""
    covered = Covered.of(params.data)
    return _signature_base(message, covered, covered.text + structured.params_text(params.params))


def _signature_base(
    message: HttpMessage,
    covered: Covered,
    signature_params_text: str,
    fields: dict[str, list[str]] | None = None,
) -> str:
    if covered.repeated is not None:
        raise SignatureError("invalid_input", f"component {covered.repeated} is covered twice")
    lines = []
    fields = field_lines(message) if fields is None else fields
    for identifier, item, plain in zip(covered.identifiers, covered.items, covered.plain):
        if plain:  # a header field as sent (§2.1)
            value = combined_lines(item.value, fields.get(item.value))
        else:
            value = component_value(message, item, fields=fields)
        if "\n" in value or "\r" in value:
            raise SignatureError("invalid_input", f"component {identifier} contains a line break")
        lines.append(f"{identifier}: {value}")
    lines.append(f'"@signature-params": {signature_params_text}')
    return "\n".join(lines)


# -- sign (§3.1) and the two headers (§4) ------------------------------------------------
@dataclass
class Signed:
    """What signing produced: the base and both header member values for one label."""

    label: str
    base: str
    signature: bytes
    signature_input: str  # the Signature-Input member, e.g. sig=("@method" ...);created=1
    signature_header: str  # the Signature member, e.g. sig=:base64:


def sign(
    message: HttpMessage,
    key: Key,
    components: list[http_sfv.Item] | list[str],
    *,
    label: str = "sig",
    created: int | None = None,
    expires: int | None = None,
    keyid: str | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    alg: str | None = None,
) -> Signed:
    """Sign ``message`` over ``components`` and return the header values (§3.1).

    The parameters appear in the order ``created, expires, nonce, alg, keyid, tag``;
    ``alg`` is an RFC 9421 name (``ed25519``), left out by default as AAuth requires.
    """
    if all(isinstance(c, str) for c in components):
        covered = _covered_names(tuple(components))
    else:
        covered = Covered.of([component(c) if isinstance(c, str) else c for c in components])
    if alg is not None and HTTP_SIG_ALGS.get(alg) != key.alg:
        raise UsageError(f"alg {alg!r} does not fit a {key.alg} key")
    params = {"created": created, "expires": expires, "nonce": nonce, "alg": alg, "keyid": keyid, "tag": tag}
    inner_text = covered.text + structured.params_text({k: v for k, v in params.items() if v is not None})
    base = _signature_base(message, covered, inner_text)
    raw = key.sign(base.encode())
    signature_input = structured.member_text(label, inner_text)
    return Signed(
        label, base, raw, signature_input, structured.member_text(label, structured.byteseq_text(raw))
    )


def attach(message: HttpMessage, signed: Signed) -> None:
    """Add the signature to the message's ``Signature-Input`` and ``Signature`` fields."""
    for name, member in (("Signature-Input", signed.signature_input), ("Signature", signed.signature_header)):
        existing = message.header(name)
        if existing is None:
            message.headers.append((name, member))
        else:
            message.set_header(name, f"{existing}, {member}" if existing else member)


# -- verify (§3.2) -----------------------------------------------------------------------
@dataclass
class SignatureInput:
    """One label's parsed ``Signature-Input`` member and ``Signature`` bytes."""

    label: str
    params: http_sfv.InnerList
    signature: bytes
    covered: Covered | None = field(default=None, repr=False, compare=False)  # params.data, serialized

    @property
    def components(self) -> list[str]:
        return [structured.item_text(item) for item in self.params.data]

    @property
    def component_names(self) -> list[str]:
        return [item.value for item in self.params.data]

    def param(self, name: str):
        return self.params.params.get(name)


def signature_labels(message: HttpMessage) -> list[str]:
    """Labels present in both ``Signature-Input`` and ``Signature``, in input order."""
    si, sig = _signature_dictionaries(message.header("signature-input"), message.header("signature"))
    return [label for label in si.data if label in sig]


def _signature_dictionaries(si_value: str | None, sig_value: str | None):
    if si_value is None or sig_value is None:
        missing = " and ".join(
            n for n, v in (("Signature-Input", si_value), ("Signature", sig_value)) if v is None
        )
        raise SignatureError("invalid_signature", f"the request has no {missing} header")
    return (
        parse_field(http_sfv.Dictionary, si_value, "Signature-Input", repeated=True),
        signature_members(sig_value),
    )


def read_signature(
    message: HttpMessage, label: str | None = None, *, fields: dict[str, list[str]] | None = None
) -> SignatureInput:
    """Select and parse one signature; without ``label`` the first one present in both headers.

    ``fields`` is :func:`field_lines` of ``message``, when the caller already has it.
    """
    fields = field_lines(message) if fields is None else fields
    si_value = field_value(fields, "signature-input")
    si, sig = _signature_dictionaries(si_value, field_value(fields, "signature"))
    labels = [name for name in si.data if name in sig]
    if label is None:
        if not labels:
            raise SignatureError(
                "invalid_signature", "no label appears in both Signature-Input and Signature"
            )
        label = labels[0]
    if label not in si.data or label not in sig:
        raise SignatureError(
            "invalid_signature", f"label {label!r} is not in both Signature-Input and Signature"
        )
    params, value = si.data[label], sig[label]
    if not isinstance(params, http_sfv.InnerList):
        raise SignatureError("invalid_signature", f"Signature-Input member {label!r} is not an inner list")
    if value is None:
        raise SignatureError("invalid_signature", f"Signature member {label!r} is not a byte sequence")
    return SignatureInput(label, params, value, _signature_input_member(si_value, label))


@functools.lru_cache(maxsize=1024)
def _signature_input_member(si_value: str, label: str) -> Covered:
    """Check the shape of one ``Signature-Input`` member (it repeats: read once per value)."""
    params = structured.parse(http_sfv.Dictionary, si_value)[label]
    for item in params.data:
        if not isinstance(item.value, str):
            raise SignatureError("invalid_signature", f"component identifier {item.value!r} is not a string")
    for name in ("created", "expires"):
        if name in params.params and (
            not isinstance(params.params[name], int) or isinstance(params.params[name], bool)
        ):
            raise SignatureError("invalid_signature", f"{name} must be an integer")
    return Covered.of(params.data)


def check_times(sig: SignatureInput, now: int, window: int | None, *, require_created: bool) -> None:
    """``created`` / ``expires`` rules (RFC 9421 §3.2 step 5; AAuth -11 verification step 3).

    Older than ``window`` → ``invalid_signature``; ahead of ``now`` by more than
    ``window`` → ``clock_skew``; past ``expires`` → ``invalid_signature``.
    """
    created, expires = sig.param("created"), sig.param("expires")
    if created is None and require_created:
        raise SignatureError("invalid_signature", "the signature has no created parameter")
    if expires is not None and expires <= now:
        raise SignatureError("invalid_signature", f"the signature expired {now - expires} s ago")
    if created is not None and window is not None:
        if now - created > window:
            raise SignatureError(
                "invalid_signature", f"created is {now - created} s old; the window is {window} s"
            )
        if created - now > window:
            raise SignatureError(
                "clock_skew", f"created is {created - now} s in the future; the window is {window} s"
            )


def verify_signature(
    message: HttpMessage,
    sig: SignatureInput,
    key: Key,
    *,
    fields: dict[str, list[str]] | None = None,
    check_alg: bool = True,
) -> str:
    """Rebuild the base, check covered digests and verify the bytes with ``key`` (§3.2).

    Returns the signature base.  A present ``alg`` must fit the key unless ``check_alg``
    is False (a profile that takes the algorithm from the key alone, §3.3.7).  ``fields``
    is :func:`field_lines` of ``message``, when the caller already has it.
    """
    fields = field_lines(message) if fields is None else fields
    alg = sig.param("alg") if check_alg else None
    if alg is not None and HTTP_SIG_ALGS.get(alg) != key.alg:
        raise SignatureError(
            "unsupported_algorithm" if alg not in HTTP_SIG_ALGS else "invalid_signature",
            f"alg {alg!r} does not fit the {key.alg} key",
            accept_algs=[key.alg],
        )
    try:
        covered = sig.covered or Covered.of(sig.params.data)
        base = _signature_base(
            message, covered, covered.text + structured.params_text(sig.params.params), fields
        )
    except UsageError as exc:  # the signer covered a component the kit cannot rebuild
        raise SignatureError("invalid_input", str(exc)) from None
    if "content-digest" in sig.component_names:
        check_content_digest(field_value(fields, "content-digest"), message.body)
    if not key.verify(sig.signature, base.encode()):
        raise SignatureError("invalid_signature", "the signature does not verify over the signature base")
    return base


def keyid_names(keyid: str, key: Key) -> bool:
    """Whether a ``keyid`` parameter names ``key``: its ``kid`` or its RFC 7638 thumbprint."""
    return keyid in {key.kid, key.thumbprint()}
