"""The ``Signature-Key`` header (Signature Keys -09 "Signature-Key HTTP Request
Header").

A Dictionary keyed by signature label; each member is a Token naming the scheme,
its data carried as parameters.  The kit emits and resolves ``hwk`` ("Header Web Key (hwk)"),
``jwks_uri`` ("JWKS URI Discovery (jwks_uri)"), ``jwt`` ("JWT Confirmation Key (jwt)") and ``jkt-jwt``
("JKT JWT Self-Issued Key Delegation (jkt-jwt)"); every other scheme
(``x509``, ``cached``, ``jwks``, ``self-jwt``, unknown tokens) is recognised and
answered with ``unsupported_scheme``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import http_sfv

from . import structured
from .errors import SignatureError, UsageError
from .keys import Key

SUPPORTED_SCHEMES = ("jwt", "jwks_uri", "hwk", "jkt-jwt")
KNOWN_SCHEMES = SUPPORTED_SCHEMES + ("jwks", "self-jwt", "x509", "cached")
#: The string parameters each supported scheme requires.
_REQUIRED_PARAMS = {"jwt": ("jwt",), "jkt-jwt": ("jwt",), "jwks_uri": ("id", "dwk", "kid"), "hwk": ("kty",)}
_HWK_MEMBERS = {"OKP": ("kty", "crv", "x", "alg"), "EC": ("kty", "crv", "x", "y", "alg")}


@dataclass
class SignatureKey:
    """One parsed ``Signature-Key`` member: ``label=scheme;param=value;...``."""

    label: str
    scheme: str
    params: dict = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        return self.scheme in SUPPORTED_SCHEMES

    @property
    def jwt(self) -> str | None:
        return self.params.get("jwt")

    def to_member(self) -> str:
        """Serialize canonically (no space after ``;``): ``sig=jwt;jwt="..."``."""
        typed = tuple((key, type(value), value) for key, value in self.params.items())
        return _member_text(self.label, self.scheme, typed)


@functools.lru_cache(maxsize=structured.CACHE_SIZE)
def _member_text(label: str, scheme: str, params: tuple) -> str:
    """One ``Signature-Key`` member, serialized once per distinct member (an agent sends the
    same one with every request while its token lasts); ``params`` carry their types."""
    item = http_sfv.Item(http_sfv.Token(scheme))
    for key, _, value in params:
        item.params[key] = value
    return structured.member_text(label, structured.item_text(item))


def parse_signature_key(value: str | None, label: str) -> SignatureKey:
    """Select the member for ``label`` (Signature Keys -09 "Label Consistency"): members with other labels are ignored,
    whatever their scheme.  A missing header or member, or a member that is not a
    Token, is ``invalid_signature``; the scheme's required parameters must be Strings.
    """
    if value is None:
        raise SignatureError("invalid_signature", "the request has no Signature-Key header")
    try:
        d = structured.parse(http_sfv.Dictionary, value)  # the same member on every request: cached
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError("invalid_signature", f"malformed Signature-Key: {exc}") from None
    if label not in d:
        raise SignatureError("invalid_signature", f"Signature-Key has no member for label {label!r}")
    member = d[label]
    if isinstance(member, http_sfv.InnerList) or not isinstance(member.value, http_sfv.Token):
        raise SignatureError("invalid_signature", f"Signature-Key member {label!r} must be a scheme token")
    key = SignatureKey(label, str(member.value), dict(member.params))
    for name in _REQUIRED_PARAMS.get(key.scheme, ()):
        if not isinstance(key.params.get(name), str):
            raise SignatureError(
                "invalid_signature", f"Signature-Key scheme {key.scheme} needs a string {name!r} parameter"
            )
    return key


# -- emitting ----------------------------------------------------------------------------
def jwt_key(token: str, *, label: str = "sig", cache: bool = False) -> SignatureKey:
    """``sig=jwt;jwt="<token>"`` (Signature Keys -09 "JWT Confirmation Key (jwt)"): how AAuth agents present their token."""
    params = {"jwt": token}
    if cache:
        params["cache"] = True
    return SignatureKey(label, "jwt", params)


def jwks_uri_key(id: str, dwk: str, kid: str, *, label: str = "sig") -> SignatureKey:
    """``sig=jwks_uri;id="…";dwk="…";kid="…"`` (Signature Keys -09 "JWKS URI Discovery (jwks_uri)"): servers signing in their own right."""
    return SignatureKey(label, "jwks_uri", {"id": id, "dwk": dwk, "kid": kid})


def hwk_key(key: Key, *, label: str = "sig") -> SignatureKey:
    """``sig=hwk;kty=…;crv=…;x=…;alg=…`` (Signature Keys -09 "Header Web Key (hwk)"): a bare public key, pseudonymous."""
    jwk = key.public_jwk(kid=False)
    return SignatureKey(label, "hwk", {name: jwk[name] for name in _HWK_MEMBERS[jwk["kty"]]})


def jkt_jwt_key(token: str, *, label: str = "sig", cache: bool = False) -> SignatureKey:
    """``sig=jkt-jwt;jwt="…"`` (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)"): a key-thumbprint-issued JWT naming an ephemeral key."""
    key = jwt_key(token, label=label, cache=cache)
    key.scheme = "jkt-jwt"
    return key


def parse_cli_spec(spec: str, key: Key, *, label: str = "sig") -> SignatureKey | None:
    """The CLI's ``--signature-key`` forms: ``none``, ``hwk``, ``jwt:TOKEN``, ``jwks_uri:ID,DWK,KID``."""
    if spec == "none":
        return None
    if spec == "hwk":
        return hwk_key(key, label=label)
    scheme, _, rest = spec.partition(":")
    if scheme == "jwt" and rest:
        return jwt_key(rest, label=label)
    if scheme == "jkt-jwt" and rest:
        return jkt_jwt_key(rest, label=label)
    if scheme == "jwks_uri" and rest.count(",") == 2:
        return jwks_uri_key(*rest.split(","), label=label)
    raise UsageError(f"bad --signature-key {spec!r}; use none, hwk, jwt:TOKEN or jwks_uri:ID,DWK,KID")


# -- resolving ---------------------------------------------------------------------------
def key_from_hwk(sk: SignatureKey) -> Key:
    """The public key an ``hwk`` member carries (Signature Keys -09 "Header Web Key (hwk)"; the kit
    requires ``alg`` and refuses ``kid``)."""
    if "kid" in sk.params:
        raise SignatureError("invalid_key", "an hwk key must not carry kid")
    jwk = {name: value for name, value in sk.params.items() if isinstance(value, str)}
    return Key.from_jwk(jwk, require_alg=True)
