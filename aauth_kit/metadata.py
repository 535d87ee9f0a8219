"""Well-known metadata documents, JWKS and issuer key discovery (draft -11 "Metadata
Documents", "JWKS Discovery and Caching"; Signature Keys -09 "JWKS URI Discovery (jwks_uri)").

Every AAuth server publishes ``{issuer}/.well-known/{dwk}`` where ``dwk`` is one of
``aauth-agent.json``, ``aauth-person.json``, ``aauth-access.json``,
``aauth-resource.json``.  Its ``issuer`` member must be present (else
``issuer_missing``) and byte-equal the identifier it was fetched under (else
``issuer_mismatch``); ``jwks_uri`` leads to the JWKS, whose ``kid``-selected key must
carry a fully-specified ``alg``.

Key resolution has one interface, :class:`KeyResolver`, and two implementations:
:class:`StaticResolver` (keys registered in-process, for tests and labs) and
:class:`HttpResolver` (fetches through an injected ``fetch`` callable, caches, and
refetches a JWKS on an unknown ``kid`` at most once per ``refetch_floor`` seconds).

Error codes chosen here (Signature-Error codes, Signature Keys -09 "Signature-Error HTTP Response Header"): the issuer's documents
cannot be fetched or are not usable (network failure, non-200, not JSON, no
``jwks_uri``, two keys with one ``kid``) → ``invalid_key``: the verifier cannot
establish a key; ``kid`` absent from a fresh JWKS → ``unknown_key``; the selected key
without ``alg`` → ``unsupported_algorithm`` (via :func:`keys.check_jwk`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable

import http_sfv

from .errors import AAuthError, SignatureError, TokenError, UsageError
from .identifiers import check_endpoint_url, check_server_identifier
from .keys import Key, check_jwk

AGENT_DWK = "aauth-agent.json"
PERSON_DWK = "aauth-person.json"
ACCESS_DWK = "aauth-access.json"
RESOURCE_DWK = "aauth-resource.json"
DWKS = (AGENT_DWK, PERSON_DWK, ACCESS_DWK, RESOURCE_DWK)

ACCESS_MODES = ("agent-token", "person-token", "session-token", "auth-token")

#: Members common to all four documents ("Metadata Documents", common fields).
_COMMON = {
    "issuer": "issuer",
    "jwks_uri": "endpoint",
    "accept_signature_algs": "strings",
    "name": "string",
    "description": "string",
    "logo_uri": "string",
    "logo_dark_uri": "string",
    "documentation_uri": "string",
    "tos_uri": "string",
    "policy_uri": "string",
}
#: The members each document defines, by kind.
MEMBERS: dict[str, dict[str, str]] = {
    AGENT_DWK: {
        **_COMMON,
        "callback_endpoint": "endpoint",
        "event_endpoint": "endpoint",
        "localhost_callback_allowed": "bool",
    },
    PERSON_DWK: {
        **_COMMON,
        **dict.fromkeys(
            (
                "auth_token_endpoint",
                "person_token_endpoint",
                "mission_endpoint",
                "permission_endpoint",
                "audit_endpoint",
                "interaction_endpoint",
                "mission_control_endpoint",
                "revocation_endpoint",
            ),
            "endpoint",
        ),
        "scopes_supported": "strings",
        "claims_supported": "strings",
    },
    ACCESS_DWK: {**_COMMON, "auth_token_endpoint": "endpoint", "revocation_endpoint": "endpoint"},
    RESOURCE_DWK: {
        **_COMMON,
        "access_mode": "access_mode",
        "authorization_endpoint": "endpoint",
        "scope_descriptions": "object",
        "signature_window": "int",
        "additional_signature_components": "strings",
        "revocation_endpoint": "endpoint",
    },
}
#: The conformance floor of each document under -11 (resources: ``jwks_uri`` only if they sign).
REQUIRED: dict[str, tuple[str, ...]] = {
    AGENT_DWK: ("issuer", "jwks_uri"),
    PERSON_DWK: ("issuer", "jwks_uri", "auth_token_endpoint", "person_token_endpoint"),
    ACCESS_DWK: ("issuer", "jwks_uri", "auth_token_endpoint"),
    RESOURCE_DWK: ("issuer",),
}
#: Members older drafts used in place of a -11 one.
LEGACY_NAMES = {"token_endpoint": "auth_token_endpoint", "client_name": "name"}

DEFAULT_TTL = 3600
MAX_TTL = 24 * 3600


def well_known_url(issuer: str, dwk: str) -> str:
    """``{issuer}/.well-known/{dwk}``."""
    return f"{issuer}/.well-known/{dwk}"


# -- building ----------------------------------------------------------------------------
_KIND_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "strings": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
    "object": lambda v: isinstance(v, dict) and all(isinstance(s, str) for s in v.values()),
    "access_mode": lambda v: isinstance(v, str) and v in ACCESS_MODES,
    None: lambda v: True,  # unknown members are allowed (extensibility)
}


def _member_ok(kind: str | None, value, dev: bool) -> bool:
    if kind in ("issuer", "endpoint"):
        check = check_server_identifier if kind == "issuer" else check_endpoint_url
        try:
            check(value, dev=dev)
        except AAuthError:
            return False
        return True
    return _KIND_CHECKS[kind](value)


def _check_member(dwk: str, name: str, value, *, dev: bool) -> None:
    """``AAuthError('invalid_metadata')`` unless ``value`` suits member ``name`` of ``dwk``."""
    if not _member_ok(MEMBERS[dwk].get(name), value, dev):
        raise AAuthError("invalid_metadata", f"{dwk} member {name} has a bad value {value!r}", status=502)


def build_metadata(dwk: str, issuer: str, *, dev: bool = False, **members) -> dict:
    """A metadata document for ``dwk``: ``issuer`` plus the given members (``None`` omitted).

    Raises ``UsageError`` for a member the document does not define, a bad value, or a
    missing required member.
    """
    if dwk not in MEMBERS:
        raise UsageError(f"unknown well-known document {dwk!r}; use one of {', '.join(DWKS)}")
    doc = {"issuer": issuer, **{k: v for k, v in members.items() if v is not None}}
    for name, value in doc.items():
        if name not in MEMBERS[dwk]:
            raise UsageError(f"{dwk} defines no member {name!r}")
        try:
            _check_member(dwk, name, value, dev=dev)
        except AAuthError as exc:
            raise UsageError(exc.detail) from None
    missing = missing_members(doc, dwk)
    if missing:
        raise UsageError(f"{dwk} requires {', '.join(missing)}")
    return doc


def agent_metadata(issuer: str, jwks_uri: str, **members) -> dict:
    """``/.well-known/aauth-agent.json`` (an Agent Provider)."""
    return build_metadata(AGENT_DWK, issuer, jwks_uri=jwks_uri, **members)


def person_metadata(
    issuer: str, jwks_uri: str, auth_token_endpoint: str, person_token_endpoint: str, **members
) -> dict:
    """``/.well-known/aauth-person.json`` (a Person Server): the four required members plus options."""
    return build_metadata(
        PERSON_DWK,
        issuer,
        jwks_uri=jwks_uri,
        auth_token_endpoint=auth_token_endpoint,
        person_token_endpoint=person_token_endpoint,
        **members,
    )


def access_metadata(issuer: str, jwks_uri: str, auth_token_endpoint: str, **members) -> dict:
    """``/.well-known/aauth-access.json`` (an Access Server)."""
    return build_metadata(
        ACCESS_DWK, issuer, jwks_uri=jwks_uri, auth_token_endpoint=auth_token_endpoint, **members
    )


def resource_metadata(
    issuer: str, jwks_uri: str | None = None, *, access_mode: str | None = None, **members
) -> dict:
    """``/.well-known/aauth-resource.json``: ``access_mode``, ``scope_descriptions``,
    ``signature_window``, ``additional_signature_components`` …"""
    return build_metadata(RESOURCE_DWK, issuer, jwks_uri=jwks_uri, access_mode=access_mode, **members)


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


# -- validating --------------------------------------------------------------------------
def missing_members(doc: dict, dwk: str) -> list[str]:
    """The -11 required members ``doc`` lacks (see :data:`REQUIRED`)."""
    return [name for name in REQUIRED[dwk] if name not in doc]


def validate_metadata(
    doc, fetched_from_issuer: str, dwk: str, *, dev: bool = False, complete: bool = False
) -> dict:
    """Check a fetched document (-11 "Metadata Documents", Signature Keys -09 "JWKS URI Discovery (jwks_uri)") and return it.

    ``issuer`` missing → ``issuer_missing``; not byte-equal to ``fetched_from_issuer`` →
    ``issuer_mismatch``; not an object, or a ``jwks_uri`` that is not an https URL →
    ``invalid_key`` (the signer's keys cannot be found from it).  With ``complete`` the
    document must also hold every -11 required member, each defined member well
    formed, else ``AAuthError('invalid_metadata')`` (a kit code raised client-side,
    never sent): a client needs, say, ``auth_token_endpoint`` before it can ask for a
    token, while key discovery needs only ``issuer`` and ``jwks_uri``.
    """
    if dwk not in MEMBERS:
        raise UsageError(f"unknown well-known document {dwk!r}")
    if not isinstance(doc, dict):
        raise SignatureError(
            "invalid_key", f"{well_known_url(fetched_from_issuer, dwk)} is not a JSON object"
        )
    if "issuer" not in doc:
        raise SignatureError("issuer_missing", f"{dwk} from {fetched_from_issuer} has no issuer")
    if doc["issuer"] != fetched_from_issuer:
        raise SignatureError(
            "issuer_mismatch", f"{dwk} fetched from {fetched_from_issuer} names issuer {doc['issuer']!r}"
        )
    if "jwks_uri" in doc:
        try:
            _check_member(dwk, "jwks_uri", doc["jwks_uri"], dev=dev)
        except AAuthError as exc:
            raise SignatureError("invalid_key", exc.detail) from None
    if complete:
        for name, value in doc.items():
            _check_member(dwk, name, value, dev=dev)
        missing = missing_members(doc, dwk)
        if missing:
            legacy = [
                f"{old} (the pre -11 name of {new})"
                for old, new in LEGACY_NAMES.items()
                if old in doc and new in missing
            ]
            hint = f"; it has {', '.join(legacy)}" if legacy else ""
            raise AAuthError(
                "invalid_metadata",
                f"{dwk} from {fetched_from_issuer} lacks {', '.join(missing)}{hint}",
                status=502,
            )
    return doc


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
            raise SignatureError("invalid_key", f"cannot fetch {url}: {exc}") from None
        if status != 200:
            raise SignatureError("invalid_key", f"GET {url} answered {status}")
        try:
            value = json.loads(body)
        except (ValueError, TypeError, RecursionError):
            raise SignatureError("invalid_key", f"{url} did not return JSON") from None
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
