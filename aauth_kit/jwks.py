"""JWKS and key resolution (-11 "JWKS Discovery and Caching"; Signature Keys -09
"JWKS URI Discovery (jwks_uri)"): an issuer's ``jwks_uri`` leads to its JWKS, whose
``kid``-selected key must carry a fully-specified ``alg``.

Key resolution has one interface, :class:`KeyResolver`, and two implementations:
:class:`StaticResolver` (keys registered in-process, for tests and labs) and
:class:`HttpResolver` (fetches through an injected ``fetch`` callable, caches, and
refetches a JWKS on an unknown ``kid`` at most once per ``refetch_floor`` seconds).
The documents themselves are built and checked in :mod:`aauth_kit.metadata`.

Error codes chosen here (Signature-Error codes, Signature Keys -09 "Signature-Error HTTP Response Header"): the issuer's documents
cannot be fetched or are not usable (network failure, non-200, not JSON, no
``jwks_uri``, two keys with one ``kid``) → ``invalid_key``: the verifier cannot
establish a key; ``kid`` absent from a fresh JWKS → ``unknown_key``; the selected key
without ``alg`` → ``unsupported_algorithm`` (via :func:`keys.check_jwk`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import http_sfv

from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_server_identifier
from .keys import Key, check_jwk
from .metadata import MEMBERS, validate_metadata, well_known_url

log = logging.getLogger(__name__)

#: Seconds a document or JWKS is kept when its response sets no ``max-age``, and at most.
DEFAULT_TTL = 3600
MAX_TTL = 24 * 3600


def jwks(keys: Iterable[Key]) -> dict:
    """A JWKS of public keys, each with ``alg`` and ``kid`` (the thumbprint when the key has none)."""
    out, seen = [], set()
    for key in keys:
        jwk = key.public_jwk(kid=False)
        jwk["kid"] = key.kid or key.thumbprint()
        if jwk["kid"] in seen:
            raise UsageError(f"two keys share kid {jwk['kid']!r}")
        seen.add(jwk["kid"])
        out.append(jwk)
    return {"keys": out}


def select_key(jwks_doc, kid: str, *, where: str = "the JWKS") -> Key:
    """The ``kid`` member of a JWKS as a :class:`Key` (only that member must be usable)."""
    if not isinstance(jwks_doc, dict) or not isinstance(jwks_doc.get("keys"), list):
        raise SignatureError("invalid_key", f"{where} is not a JWKS (no keys array)")
    found = [k for k in jwks_doc["keys"] if isinstance(k, dict) and k.get("kid") == kid]
    if not found:
        raise SignatureError("unknown_key", f"{where} has no key with kid {kid!r}")
    if len(found) > 1:
        raise SignatureError("invalid_key", f"{where} has {len(found)} keys with kid {kid!r}")
    jwk = found[0]
    if not isinstance(jwk.get("kty"), str) or not isinstance(jwk.get("alg", ""), str):
        raise SignatureError("invalid_key", f"key {kid!r} in {where} has a non-string kty or alg")
    check_jwk(jwk)
    return Key.from_jwk(jwk, require_alg=True)


def issuer_key(keys: list[dict], single_jwk: bool, kid) -> Key:
    """The key that must have signed the token: the one the header ``kid`` selects, or
    the only key (a single JWK, or a JWKS of one when the header has no ``kid``).
    The key must carry a fully-specified ``alg`` (-11 "Signature Algorithms")."""
    if single_jwk or (kid is None and len(keys) == 1):
        return Key.from_jwk(keys[0], require_alg=True)
    if kid is None:
        raise SignatureError("unknown_key", f"the token names no kid and the JWKS holds {len(keys)} keys")
    if not isinstance(kid, str):
        raise TokenError("invalid_jwt", "kid must be a string")
    return select_key({"keys": keys}, kid, where="the JWKS")


# -- resolving ---------------------------------------------------------------------------
class KeyResolver:
    """Finds an issuer's metadata and signing keys.  Subclasses implement both methods."""

    async def metadata(self, issuer: str, dwk: str) -> dict:
        """The validated ``{issuer}/.well-known/{dwk}`` document."""
        raise NotImplementedError

    async def key(self, issuer: str, dwk: str, kid: str) -> Key:
        """The public key ``kid`` from the JWKS the issuer's ``dwk`` document names."""
        raise NotImplementedError

    async def refetch_key(self, issuer: str, dwk: str, kid: str) -> Key | None:
        """After a signature failed with :meth:`key`'s answer: the key ``kid`` from a
        freshly fetched JWKS (the issuer may have replaced it under the same ``kid``), or
        ``None`` when nothing newer can be had.  -11 "JWT Trust Verification" allows one
        refetch per issuer and minute."""
        return None


class StaticResolver(KeyResolver):
    """Keys registered in-process (tests, labs).  Documents are validated on every lookup,
    so a lab can register a wrong ``issuer`` and watch ``issuer_mismatch`` happen."""

    def __init__(self, *, dev: bool = False):
        self.dev = dev
        self._docs: dict[tuple[str, str], tuple[dict, dict]] = {}

    def register(self, issuer: str, dwk: str, metadata: dict | None = None, jwks: dict | None = None) -> None:
        """Register a document (default: ``issuer`` + ``jwks_uri``) and its JWKS (default: empty)."""
        if metadata is None:
            metadata = {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}
        self._docs[(issuer, dwk)] = (metadata, jwks if jwks is not None else {"keys": []})

    def register_key(self, issuer: str, dwk: str, key: Key) -> str:
        """Add ``key``'s public half to the issuer's JWKS; return its ``kid``."""
        if (issuer, dwk) not in self._docs:
            self.register(issuer, dwk)
        entry = jwks([key])["keys"][0]
        self._docs[(issuer, dwk)][1]["keys"].append(entry)
        return entry["kid"]

    async def metadata(self, issuer: str, dwk: str) -> dict:
        if (issuer, dwk) not in self._docs:
            raise SignatureError("invalid_key", f"no {dwk} is known for {issuer}")
        return validate_metadata(self._docs[(issuer, dwk)][0], issuer, dwk, dev=self.dev)

    async def key(self, issuer: str, dwk: str, kid: str) -> Key:
        await self.metadata(issuer, dwk)
        return select_key(self._docs[(issuer, dwk)][1], kid, where=f"the JWKS of {issuer}")


#: ``async def fetch(url) -> (status, headers, body)``; raises ``OSError``, ``TimeoutError``
#: or an ``AAuthError`` when the request cannot be made.
Fetch = Callable[[str], Awaitable[tuple[int, dict, bytes]]]


def cache_ttl(headers: dict, *, default: int = DEFAULT_TTL) -> int:
    """Seconds to keep a response: ``Cache-Control`` ``max-age`` (``no-store``/``no-cache`` → 0),
    else ``default``; never more than 24 h.  An unparsable header counts as absent."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), None)
    if not isinstance(value, str):
        return min(default, MAX_TTL)
    directives = http_sfv.Dictionary()
    try:
        directives.parse(value.lower().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return min(default, MAX_TTL)
    if "no-store" in directives or "no-cache" in directives:
        return 0
    max_age = getattr(directives["max-age"], "value", None) if "max-age" in directives else None
    if isinstance(max_age, int) and not isinstance(max_age, bool) and max_age >= 0:
        return min(max_age, MAX_TTL)
    return min(default, MAX_TTL)


#: The one answer for a document that cannot be had: refused by egress admission, a closed
#: port, a timeout, a non-200 or a non-JSON answer all read the same, so a verifier's
#: errors never tell a scanner what listens at a URL it was handed.
UNFETCHABLE = "the signer's metadata or JWKS could not be fetched"


def _unfetchable(url: str, why) -> SignatureError:
    log.debug("GET %s failed: %s", url, why)
    return SignatureError("invalid_key", UNFETCHABLE)


class HttpResolver(KeyResolver):
    """Discovery over HTTP through ``fetch`` (the transport, injected; it applies egress rules).

    Documents and JWKS are cached for their ``max-age`` (default :data:`DEFAULT_TTL`,
    cap 24 h).  An unknown ``kid`` triggers one JWKS refetch, but at most once per
    ``refetch_floor`` seconds per issuer; ``clock`` is injectable (monotonic seconds).
    A cached document is validated once and a JWKS member turned into a :class:`Key`
    once, until the document is fetched again; the same ``Key`` is returned each time.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        refetch_floor: float = 60,
        default_ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        dev: bool = False,
    ):
        self.fetch = fetch
        self.refetch_floor = refetch_floor
        self.default_ttl = default_ttl
        self.clock = clock
        self.dev = dev
        self._cache: dict[str, tuple[float, object]] = {}
        self._jwks_fetched_at: dict[str, float] = {}
        self._validated: dict[tuple[str, str], object] = {}  # (issuer, dwk) -> the document that passed
        self._selected: dict[tuple[str, str], tuple[object, Key]] = {}  # (jwks_uri, kid) -> (JWKS, key)

    async def _get_json(self, url: str, *, force: bool = False):
        now = self.clock()
        cached = self._cache.get(url)
        if cached is not None and not force and now < cached[0]:
            return cached[1]
        try:
            status, headers, body = await self.fetch(url)
        except SignatureError:
            raise
        except (AAuthError, OSError, TimeoutError) as exc:
            raise _unfetchable(url, exc) from None
        if status != 200:
            raise _unfetchable(url, f"answered {status}")
        try:
            value = json.loads(body)
        except (ValueError, TypeError, RecursionError):
            raise _unfetchable(url, "not JSON") from None
        self._cache[url] = (now + cache_ttl(headers, default=self.default_ttl), value)
        return value

    async def metadata(self, issuer: str, dwk: str) -> dict:
        if (issuer, dwk) not in self._validated:  # known pairs passed these checks already
            if dwk not in MEMBERS:
                raise SignatureError("invalid_key", f"unknown well-known document {dwk!r}")
            try:
                check_server_identifier(issuer, dev=self.dev)
            except AAuthError as exc:
                raise SignatureError("invalid_key", f"will not discover keys of {exc.detail}") from None
        doc = await self._get_json(well_known_url(issuer, dwk))
        if self._validated.get((issuer, dwk)) is not doc:
            validate_metadata(doc, issuer, dwk, dev=self.dev)
            self._validated[(issuer, dwk)] = doc
        return doc

    async def key(self, issuer: str, dwk: str, kid: str) -> Key:
        doc = await self.metadata(issuer, dwk)
        if "jwks_uri" not in doc:
            raise SignatureError("invalid_key", f"{dwk} of {issuer} has no jwks_uri")
        url = doc["jwks_uri"]
        try:
            return self._select(await self._get_jwks(issuer, url), url, kid, issuer)
        except SignatureError as exc:
            if exc.code != "unknown_key" or not self._may_refetch(issuer):
                raise
        return self._select(await self._get_jwks(issuer, url, force=True), url, kid, issuer)

    async def refetch_key(self, issuer: str, dwk: str, kid: str) -> Key | None:
        doc = await self.metadata(issuer, dwk)
        if "jwks_uri" not in doc or not self._may_refetch(issuer):
            return None
        url = doc["jwks_uri"]
        return self._select(await self._get_jwks(issuer, url, force=True), url, kid, issuer)

    def _select(self, jwks_doc, url: str, kid: str, issuer: str) -> Key:
        """:func:`select_key`, once per fetched JWKS and ``kid``."""
        selected = self._selected.get((url, kid))
        if selected is not None and selected[0] is jwks_doc:
            return selected[1]
        key = select_key(jwks_doc, kid, where=f"the JWKS of {issuer}")
        self._selected[(url, kid)] = (jwks_doc, key)
        return key

    async def _get_jwks(self, issuer: str, url: str, *, force: bool = False):
        cached = self._cache.get(url)
        if force or cached is None or self.clock() >= cached[0]:
            self._jwks_fetched_at[issuer] = self.clock()
        return await self._get_json(url, force=force)

    def _may_refetch(self, issuer: str) -> bool:
        last = self._jwks_fetched_at.get(issuer)
        return last is None or self.clock() - last >= self.refetch_floor
