"""Well-known metadata documents (-11 "Metadata Documents"): build them, check them.

Every AAuth server publishes ``{issuer}/.well-known/{dwk}`` where ``dwk`` is one of
``aauth-agent.json``, ``aauth-person.json``, ``aauth-access.json``,
``aauth-resource.json``.  Its ``issuer`` member must be present (else
``issuer_missing``) and byte-equal the identifier it was fetched under (else
``issuer_mismatch``); ``jwks_uri`` leads to the JWKS (:mod:`aauth_kit.jwks`, Signature
Keys -09 "JWKS URI Discovery (jwks_uri)").
"""

from __future__ import annotations

from .errors import AAuthError, SignatureError, UsageError
from .identifiers import check_endpoint_url, check_server_identifier

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
