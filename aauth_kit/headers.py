"""AAuth headers other than the signature triple: parse them, emit canonical forms.

* ``AAuth-Requirement`` — draft-hardt-oauth-aauth-protocol-11 "Requirement Responses";
  the pre-rename ``AAuth:`` / ``AAuth-Challenge: require=…`` forms are read, never written.
* ``Signature-Error`` — Signature Keys -09 "Signature-Error HTTP Response Header" (parse only; the kit
  emits it with :meth:`aauth_kit.errors.SignatureError.header_value`).
* ``Accept-Signature-Scheme`` / ``Accept-Signature-Alg`` — Signature Keys -09 "Accept-Signature-Scheme and Accept-Signature-Alg Response Headers".
* ``AAuth-Access`` and ``Authorization: AAuth`` — -11 "Resource-Managed Access (Two-Party)";
  the credential is an RFC 9110 §11.2 token68.
* ``AAuth-Capabilities`` — -11 "AAuth-Capabilities Request Header".

``Prefer: wait`` and ``Retry-After`` (-11 "Deferred Responses") are in
:mod:`aauth_kit.deferred_headers`.  Structured fields (RFC 8941) go through ``http_sfv``;
the token68 credentials are not structured fields and get a small exact parser.
Malformed input raises :class:`HeaderError` (``invalid_request``); emitting something
the drafts forbid raises :class:`~aauth_kit.errors.UsageError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import http_sfv

from .errors import AAuthError, UsageError
from .identifiers import check_endpoint_url

#: Each -11 ``requirement`` value and the String parameters it requires.
REQUIREMENT_PARAMS: dict[str, tuple[str, ...]] = {
    "agent-token": (),
    "person-token": (),
    "auth-token": ("resource-token",),
    "interaction": ("url", "code"),
    "approval": (),
    "clarification": (),
    "claims": (),
}
#: Parameters that, when present, must be Strings (``auth-server`` is legacy only).
_STRING_PARAMS = ("resource-token", "url", "code", "auth-server")
#: -11 capability values an agent may declare; others are kept when parsed.
CAPABILITIES = ("interaction", "clarification", "payment")

_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
#: An RFC 9110 §5.6.2 token.
TCHARS = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class HeaderError(AAuthError, ValueError):
    """A malformed header value: always ``invalid_request`` (400), naming the ``field``.

    Also a :class:`ValueError`, so generic callers can catch it as one.
    """

    def __init__(self, field: str, detail: str):
        super().__init__("invalid_request", f"malformed {field}: {detail}")
        self.field = field


def field_text(value: str | None, field: str) -> str:
    """The field value without the surrounding whitespace HTTP does not count (RFC 9110 §5.5)."""
    if not isinstance(value, str):
        raise HeaderError(field, "the field is missing")
    return value.strip(" \t")


def _parse_sf(kind, value: str | None, field: str):
    """Parse ``value`` as the RFC 8941 structure ``kind``; every failure becomes :class:`HeaderError`."""
    structure = kind()
    try:
        structure.parse(field_text(value, field).encode("ascii"))
    except (ValueError, IndexError) as exc:  # http_sfv wraps its IndexErrors, but not on every path
        reason = str(exc) or str(exc.__cause__ or "") or "not a valid structured field"
        raise HeaderError(field, reason) from None
    return structure


def _is_string(value) -> bool:
    """An sf-string (``http_sfv`` returns Tokens and Display Strings as ``str`` subclasses)."""
    return type(value) is str


# -- AAuth-Requirement ("Requirement Responses") -----------------------------------------
@dataclass
class Requirement:
    """One parsed ``AAuth-Requirement``: the ``requirement`` Token and its parameters.

    ``legacy`` marks a value read from the pre-rename ``AAuth`` / ``AAuth-Challenge``
    headers.  Unknown parameters stay in ``params`` but mean nothing.
    """

    requirement: str
    params: dict = field(default_factory=dict)
    legacy: bool = False

    @property
    def known(self) -> bool:
        """Whether -11 defines this value; an agent must not treat an unknown one as satisfiable."""
        return self.requirement in REQUIREMENT_PARAMS

    @property
    def resource_token(self) -> str | None:
        return self.params.get("resource-token")

    @property
    def url(self) -> str | None:
        return self.params.get("url")

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def auth_server(self) -> str | None:
        """Legacy ``auth-server`` parameter (pre-rename drafts); -11 has none."""
        return self.params.get("auth-server")

    def header_value(self, *, dev: bool = False) -> str:
        """The canonical -11 ``AAuth-Requirement`` value (see :func:`serialize_requirement`)."""
        names = REQUIREMENT_PARAMS.get(self.requirement, ())
        known = {name.replace("-", "_"): self.params[name] for name in names if name in self.params}
        return serialize_requirement(self.requirement, dev=dev, **known)


def _requirement(d: http_sfv.Dictionary, key: str, field: str, *, legacy: bool) -> Requirement:
    member = d.get(key)
    if member is None:
        raise HeaderError(field, f"no {key!r} member")
    if not isinstance(member, http_sfv.Item) or not isinstance(member.value, http_sfv.Token):
        raise HeaderError(field, f"the {key!r} member must be a Token")
    requirement = Requirement(str(member.value), dict(member.params), legacy)
    for name in _STRING_PARAMS:
        if name in requirement.params and not _is_string(requirement.params[name]):
            raise HeaderError(field, f"parameter {name!r} must be a String")
    if not legacy:
        for name in REQUIREMENT_PARAMS.get(requirement.requirement, ()):
            if name not in requirement.params:
                raise HeaderError(field, f"requirement={requirement.requirement} needs {name!r}")
    return requirement


def parse_requirement(value: str) -> Requirement:
    """Parse ``AAuth-Requirement`` (-11 "Requirement Responses").

    A Dictionary whose ``requirement`` member is a Token carrying its data as
    parameters; other members and unknown parameters are ignored, unknown
    requirement values come back with ``known`` False.  A known value missing a
    parameter it requires is malformed.
    """
    d = _parse_sf(http_sfv.Dictionary, value, "AAuth-Requirement")
    return _requirement(d, "requirement", "AAuth-Requirement", legacy=False)


def parse_legacy_challenge(value: str) -> Requirement:
    """Read a pre-rename ``AAuth:`` / ``AAuth-Challenge:`` value (``require=…``) for display.

    Parameters such as ``auth-server`` are kept; nothing is required, since old
    peers sent ``require=interaction; code="…"`` without a URL.  The kit never emits
    this form.
    """
    d = _parse_sf(http_sfv.Dictionary, value, "AAuth-Challenge")
    return _requirement(d, "require", "AAuth-Challenge", legacy=True)


def _check_interaction_url(url: str, *, dev: bool) -> None:
    """-11 "Interaction Required": the interaction ``url`` is an endpoint URL (https, no query
    or fragment; dev mode also loopback http with a port), by the kit's one URL policy."""
    try:
        check_endpoint_url(url, dev=dev)
    except AAuthError as exc:
        hint = "" if dev else " (http://127.0.0.1:PORT needs dev=True)"
        raise UsageError(f"interaction url: {exc.detail}{hint}") from None


def serialize_requirement(requirement: str, /, *, dev: bool = False, **params: str) -> str:
    """Emit a canonical ``AAuth-Requirement`` value.

    ``params`` use Python names (``resource_token``, ``url``, ``code``)::

        serialize_requirement("auth-token", resource_token="eyJ...")
        # 'requirement=auth-token;resource-token="eyJ..."'

    Raises :class:`UsageError` for an unknown value, a missing or extra parameter,
    or an interaction ``url`` that is not https (``dev=True`` also allows
    ``http://127.0.0.1:PORT`` and ``http://localhost:PORT``).
    """
    names = REQUIREMENT_PARAMS.get(requirement)
    if names is None:
        raise UsageError(f"unknown requirement {requirement!r}; -11 defines {', '.join(REQUIREMENT_PARAMS)}")
    given = {key.replace("_", "-"): value for key, value in params.items()}
    extra = sorted(set(given) - set(names))
    if extra:
        raise UsageError(f"requirement={requirement} takes no {', '.join(extra)}")
    item = http_sfv.Item(http_sfv.Token(requirement))
    for name in names:
        value = given.get(name)
        if not isinstance(value, str) or not value:
            raise UsageError(f"requirement={requirement} needs a non-empty {name!r}")
        if name == "url":
            _check_interaction_url(value, dev=dev)
        item.params[name] = str(value)
    d = http_sfv.Dictionary()
    d["requirement"] = item
    try:
        return str(d)
    except ValueError as exc:
        raise UsageError(f"cannot serialize requirement={requirement}: {exc}") from None


# -- Signature-Error (Signature Keys -09 "Signature-Error HTTP Response Header") ----------------------------------------------------------
def _bare(member):
    if isinstance(member, http_sfv.InnerList):
        return [item.value for item in member]
    return member.value


def parse_signature_error(value: str) -> tuple[str, dict]:
    """Parse ``Signature-Error`` (Signature Keys -09 "Signature-Error HTTP Response Header") into ``(code, members)``.

    ``code`` is the ``error`` Token (unknown codes are returned, not rejected);
    ``members`` holds every other member's bare value, Inner Lists as lists, e.g.
    ``required_input`` as a list of strings.  Parameters on members are dropped.
    """
    d = _parse_sf(http_sfv.Dictionary, value, "Signature-Error")
    error = d.get("error")
    if not isinstance(error, http_sfv.Item) or not isinstance(error.value, http_sfv.Token):
        raise HeaderError("Signature-Error", "the 'error' member must be a Token")
    members = {key: _bare(member) for key, member in d.items() if key != "error"}
    if "required_input" in members:
        required = members["required_input"]
        if not isinstance(required, list) or not all(_is_string(v) for v in required):
            raise HeaderError("Signature-Error", "required_input must be an Inner List of Strings")
    return str(error.value), members


# -- Lists of Tokens: Accept-Signature-* (Signature Keys -09 "Accept-Signature-Scheme and Accept-Signature-Alg Response Headers"), AAuth-Capabilities ------------------
def _parse_tokens(value: str | None, field: str) -> list[str]:
    if value is None or not field_text(value, field):
        return []
    members = _parse_sf(http_sfv.List, value, field)
    for member in members:
        if not isinstance(member, http_sfv.Item) or not isinstance(member.value, http_sfv.Token):
            raise HeaderError(field, "every member must be a Token")
    return [str(member.value) for member in members]


def _serialize_tokens(values, field: str) -> str:
    if isinstance(values, str):
        raise UsageError(f"{field} takes a list of tokens, not the string {values!r}")
    members = http_sfv.List()
    for value in values:
        if not isinstance(value, str) or not value:
            raise UsageError(f"{field}: {value!r} is not a token")
        members.append(http_sfv.Item(http_sfv.Token(value)))
    try:
        return str(members)
    except ValueError as exc:
        raise UsageError(f"cannot serialize {field}: {exc}") from None


def parse_accept_signature_scheme(value: str | None) -> list[str]:
    """``Accept-Signature-Scheme`` (Signature Keys -09 "Accept-Signature-Scheme"): scheme Tokens in server preference order; absent → ``[]``."""
    return _parse_tokens(value, "Accept-Signature-Scheme")


def serialize_accept_signature_scheme(schemes) -> str:
    return _serialize_tokens(schemes, "Accept-Signature-Scheme")


def parse_accept_signature_alg(value: str | None) -> list[str]:
    """``Accept-Signature-Alg`` (Signature Keys -09 "Accept-Signature-Alg"): JOSE ``alg`` Tokens, case preserved; absent → ``[]``."""
    return _parse_tokens(value, "Accept-Signature-Alg")


def serialize_accept_signature_alg(algs) -> str:
    return _serialize_tokens(algs, "Accept-Signature-Alg")


def parse_capabilities(value: str | None) -> list[str]:
    """``AAuth-Capabilities`` (-11): capability Tokens, unknown ones kept; absent → ``[]`` (assume nothing)."""
    return _parse_tokens(value, "AAuth-Capabilities")


def serialize_capabilities(capabilities) -> str:
    return _serialize_tokens(capabilities, "AAuth-Capabilities")


# -- AAuth-Access and Authorization: AAuth (token68) --------------------------------------
def _token68(text: str, field: str) -> str:
    if not text:
        raise HeaderError(field, "the credential is empty")
    if "," in text:
        raise HeaderError(field, "more than one credential")
    if not _TOKEN68.fullmatch(text):
        raise HeaderError(field, "the credential is not a token68 (no whitespace or controls)")
    return text


def parse_aauth_access(value: str | None) -> str | None:
    """The session token in ``AAuth-Access`` (-11): one token68; absent → ``None``."""
    if value is None:
        return None
    return _token68(field_text(value, "AAuth-Access"), "AAuth-Access")


def serialize_aauth_access(session_token: str) -> str:
    """The ``AAuth-Access`` value for ``session_token`` (checked to be a token68)."""
    try:
        return _token68(session_token, "AAuth-Access")
    except HeaderError as exc:
        raise UsageError(exc.detail) from None


def parse_authorization(value: str | None) -> str | None:
    """The token68 of an ``Authorization: AAuth <session-token>`` credential.

    RFC 9110 §11.4: the scheme name is case-insensitive.  Absent header or another
    scheme → ``None``; ``AAuth`` with a missing or malformed credential → :class:`HeaderError`.
    """
    if value is None:
        return None
    scheme, _, credential = field_text(value, "Authorization").partition(" ")
    if not TCHARS.fullmatch(scheme):
        raise HeaderError("Authorization", "the auth-scheme is not a token")
    if scheme.lower() != "aauth":
        return None
    return _token68(credential.lstrip(" "), "Authorization")


def serialize_authorization(session_token: str) -> str:
    """``AAuth <session-token>``, the value an agent sends back (and must sign)."""
    return f"AAuth {serialize_aauth_access(session_token)}"
