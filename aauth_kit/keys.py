"""Keys: Ed25519 and ES256 (P-256) signing keys as JWKs, RFC 7638 thumbprints.

Draft -11 "Signature Algorithms" and Signature Keys -09 "Key Validation": every conveyed
JWK carries a fully-specified ``alg`` (``Ed25519`` or ``ES256`` here; ``EdDSA`` and
``none`` are refused), and ``kty``/``crv`` must agree with it.  Thumbprints follow
RFC 7638: SHA-256 over the required members only, ``alg`` and ``kid`` excluded.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import SignatureError, UsageError

#: The algorithms the kit signs and verifies with, by JWK shape.
SUPPORTED_ALGS = ("Ed25519", "ES256")
_ALG_SHAPE = {"Ed25519": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
_REQUIRED_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ``ValueError`` on junk."""
    if not isinstance(text, str) or any(c in text for c in "+/= \t\r\n"):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: the required members, sorted, no spaces."""
    kty = jwk.get("kty")
    members = _REQUIRED_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise SignatureError("invalid_key", f"cannot take a thumbprint of an incomplete {kty!r} JWK")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def infer_alg(jwk: dict) -> str | None:
    """The kit's algorithm for a JWK that lacks ``alg`` (RFC 9421 test keys have none)."""
    for alg, (kty, crv) in _ALG_SHAPE.items():
        if jwk.get("kty") == kty and jwk.get("crv") == crv:
            return alg
    return None


def check_jwk(jwk: Any) -> str:
    """Apply the -11 / Signature Keys -09 "Key Validation" rules to a conveyed public JWK; return its ``alg``.

    Missing, polymorphic (``EdDSA``), ``none`` or unknown ``alg`` and unknown ``kty``
    → ``unsupported_algorithm``; structurally incomplete keys, symmetric keys and
    ``kty``/``crv`` disagreeing with ``alg`` → ``invalid_key``.
    """
    if not isinstance(jwk, dict):
        raise SignatureError("invalid_key", "a JWK must be a JSON object")
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        raise SignatureError("invalid_key", f"JWK kty must be a string, not {kty!r}")
    if kty == "oct":
        raise SignatureError("invalid_key", "symmetric (oct) keys are not allowed")
    if kty not in _REQUIRED_MEMBERS:
        raise SignatureError(
            "unsupported_algorithm", f"unsupported key type {kty!r}", accept_algs=list(SUPPORTED_ALGS)
        )
    missing = [m for m in _REQUIRED_MEMBERS[kty] if not isinstance(jwk.get(m), str) or not jwk.get(m)]
    if missing:
        raise SignatureError("invalid_key", f"{kty} JWK lacks {', '.join(missing)}")
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        raise SignatureError(
            "unsupported_algorithm",
            f"JWK alg must be a string, not {alg!r}",
            accept_algs=list(SUPPORTED_ALGS),
        )
    if alg is None:
        raise SignatureError(
            "unsupported_algorithm",
            "the JWK has no alg (a fully-specified alg is required)",
            accept_algs=list(SUPPORTED_ALGS),
        )
    if alg == "EdDSA":
        raise SignatureError(
            "unsupported_algorithm",
            "alg EdDSA is polymorphic and forbidden since draft -10; use Ed25519",
            accept_algs=list(SUPPORTED_ALGS),
        )
    if alg not in _ALG_SHAPE:
        raise SignatureError(
            "unsupported_algorithm", f"unsupported alg {alg!r}", accept_algs=list(SUPPORTED_ALGS)
        )
    if (kty, jwk.get("crv")) != _ALG_SHAPE[alg]:
        raise SignatureError("invalid_key", f"alg {alg} does not match kty {kty!r} / crv {jwk.get('crv')!r}")
    if "d" in jwk:
        raise SignatureError("invalid_key", "a conveyed JWK must not contain the private part")
    return alg


class Key:
    """A signing key pair (or only its public half), Ed25519 or ES256.

    >>> k = Key.from_seed("agent-1")
    >>> k.public_jwk()["alg"]
    'Ed25519'
    """

    def __init__(self, alg: str, private=None, public=None, kid: str | None = None):
        if alg not in SUPPORTED_ALGS:
            raise UsageError(f"unsupported algorithm {alg!r}; the kit signs with {', '.join(SUPPORTED_ALGS)}")
        self.alg = alg
        self._private = private
        self._public = public if public is not None else private.public_key()
        self.kid = kid
        self._thumbprint: str | None = None  # the public half never changes: computed once

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def generate(cls, alg: str = "Ed25519", kid: str | None = None) -> Key:
        if alg == "Ed25519":
            return cls(alg, ed25519.Ed25519PrivateKey.generate(), kid=kid)
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()), kid=kid)
        raise UsageError(f"unsupported algorithm {alg!r}")

    @classmethod
    def from_seed(cls, seed: bytes | str, alg: str = "Ed25519", kid: str | None = None) -> Key:
        """A deterministic key from any seed (docs mode, reproducible notebooks)."""
        digest = hashlib.sha256(seed.encode() if isinstance(seed, str) else seed).digest()
        if alg == "Ed25519":
            return cls(alg, ed25519.Ed25519PrivateKey.from_private_bytes(digest), kid=kid)
        if alg == "ES256":
            scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
            return cls(alg, ec.derive_private_key(scalar, ec.SECP256R1()), kid=kid)
        raise UsageError(f"unsupported algorithm {alg!r}")

    @classmethod
    def from_jwk(cls, jwk: dict, *, require_alg: bool = False) -> Key:
        """Import a public or private JWK.  Without ``require_alg`` a missing ``alg`` is
        inferred from ``kty``/``crv`` (plain RFC 9421 keys); AAuth-conveyed keys go
        through :func:`check_jwk` first."""
        if not isinstance(jwk, dict):
            raise SignatureError("invalid_key", "a JWK must be a JSON object")
        public_part = {k: v for k, v in jwk.items() if k != "d"}
        if "alg" not in public_part and not require_alg:
            inferred = infer_alg(public_part)
            if inferred:
                public_part["alg"] = inferred
        alg = check_jwk(public_part)
        try:
            if alg == "Ed25519":
                pub = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
                priv = (
                    ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))
                    if "d" in jwk
                    else None
                )
            else:
                x = int.from_bytes(b64url_decode(jwk["x"]), "big")
                y = int.from_bytes(b64url_decode(jwk["y"]), "big")
                pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
                priv = (
                    ec.derive_private_key(int.from_bytes(b64url_decode(jwk["d"]), "big"), ec.SECP256R1())
                    if "d" in jwk
                    else None
                )
        except (ValueError, TypeError) as exc:
            raise SignatureError("invalid_key", f"the {alg} JWK does not hold a valid key: {exc}") from None
        if priv is not None and priv.public_key().public_bytes(*_RAW_PUBLIC[alg]) != pub.public_bytes(
            *_RAW_PUBLIC[alg]
        ):
            raise SignatureError("invalid_key", "the private part does not match the public part")
        return cls(alg, priv, pub, kid=jwk.get("kid"))

    @classmethod
    def from_pem(cls, pem: bytes, kid: str | None = None) -> Key:
        """Import a PKCS#8 private or SPKI public key in PEM."""
        try:
            private, public = serialization.load_pem_private_key(pem, password=None), None
        except ValueError:
            private, public = None, serialization.load_pem_public_key(pem)
        sample = private or public
        if isinstance(sample, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
            return cls("Ed25519", private, public, kid=kid)
        if (
            isinstance(sample, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey))
            and sample.curve.name == "secp256r1"
        ):
            return cls("ES256", private, public, kid=kid)
        raise UsageError(f"unsupported PEM key type {type(sample).__name__}")

    # -- views ----------------------------------------------------------------------------
    @property
    def has_private(self) -> bool:
        return self._private is not None

    def public(self) -> Key:
        return Key(self.alg, None, self._public, kid=self.kid)

    def public_jwk(self, *, kid: bool = True) -> dict:
        """The public JWK, always with ``alg`` (and ``kid`` when the key has one)."""
        if self.alg == "Ed25519":
            raw = self._public.public_bytes(*_RAW_PUBLIC["Ed25519"])
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        else:
            nums = self._public.public_numbers()
            jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(nums.x.to_bytes(32, "big")),
                "y": b64url(nums.y.to_bytes(32, "big")),
            }
        jwk["alg"] = self.alg
        if kid and self.kid:
            jwk["kid"] = self.kid
        return jwk

    def private_jwk(self) -> dict:
        if not self.has_private:
            raise UsageError("this key has no private part")
        jwk = self.public_jwk()
        if self.alg == "Ed25519":
            raw = self._private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        else:
            raw = self._private.private_numbers().private_value.to_bytes(32, "big")
        jwk["d"] = b64url(raw)
        return jwk

    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint (what ``agent_jkt`` holds)."""
        if self._thumbprint is None:
            self._thumbprint = jwk_thumbprint(self.public_jwk(kid=False))
        return self._thumbprint

    def crypto_private_key(self):
        """The underlying ``cryptography`` private key (for interop with other libraries)."""
        return self._private

    def crypto_public_key(self):
        return self._public

    # -- signing --------------------------------------------------------------------------
    def sign(self, data: bytes) -> bytes:
        """Ed25519 (64 bytes) or ES256 as raw ``r‖s`` (64 bytes), per RFC 9421 §3.3.6 / RFC 7518."""
        if not self.has_private:
            raise UsageError("cannot sign with a public key")
        if self.alg == "Ed25519":
            return self._private.sign(data)
        r, s = decode_dss_signature(self._private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            if self.alg == "Ed25519":
                self._public.verify(signature, data)
            else:
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                self._public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        kind = "private" if self.has_private else "public"
        return f"<Key {self.alg} {kind} jkt={self.thumbprint()[:10]}…>"


_RAW_PUBLIC = {
    "Ed25519": (serialization.Encoding.Raw, serialization.PublicFormat.Raw),
    "ES256": (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
}
