"""RFC 9421 §2 HTTP Message Components: identifiers and the values they cover.

A component is a header field (§2.1, with the ``sf``, ``key``, ``bs`` and ``req``
parameters of §2.1.1 to §2.1.4 and §2.4) or a derived component (§2.2: ``@method``,
``@authority`` …).  :func:`component_value` gives the value one covered component
contributes to the signature base (:mod:`aauth_kit.httpsig`); a message's fields are
indexed once by :func:`field_lines` and ``@authority`` is computed once per target URI.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import http_sfv

from . import structured
from .errors import SignatureError, UsageError
from .message import HttpMessage

DERIVED_COMPONENTS = (
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
    "@status",
)
#: Header fields whose structured type the kit knows, for the ``;sf`` / ``;key`` parameters.
STRUCTURED_FIELDS = {
    "signature-key": http_sfv.Dictionary,
    "signature-input": http_sfv.Dictionary,
    "signature": http_sfv.Dictionary,
    "signature-error": http_sfv.Dictionary,
    "aauth-requirement": http_sfv.Dictionary,
    "content-digest": http_sfv.Dictionary,
    "repr-digest": http_sfv.Dictionary,
    "accept-signature-scheme": http_sfv.List,
    "accept-signature-alg": http_sfv.List,
    "aauth-capabilities": http_sfv.List,
}


def parse_field(kind, text: str, what: str, *, repeated: bool = False):
    """Parse a field value as the structured type ``kind`` (failure → ``invalid_signature``);
    ``repeated`` values (the same on many requests) come from :func:`structured.parse`'s
    cache and must not be changed."""
    try:
        if repeated:
            return structured.parse(kind, text)
        value = kind()
        value.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError("invalid_signature", f"malformed {what}: {exc}") from None
    return value


def parse_components(text: str) -> list[http_sfv.Item]:
    """Parse component identifiers as written in ``Signature-Input``: ``'"@method" "date";sf'``."""
    inner = parse_field(http_sfv.InnerList, f"({text.strip()})", "component list")
    for item in inner:
        if not isinstance(item.value, str):
            raise SignatureError(
                "invalid_signature", f"component identifiers are strings, got {item.value!r}"
            )
    return list(inner)


def component(identifier: str, /, **params) -> http_sfv.Item:
    """A component identifier item, e.g. ``component("content-type", sf=True)``."""
    item = http_sfv.Item(identifier)
    for key, value in params.items():
        item.params[key] = value
    return item


def _derived_value(message: HttpMessage, name: str) -> str:
    if name == "@status":
        if message.status is None:
            raise SignatureError("invalid_input", "@status applies to responses only")
        return f"{message.status:03d}"
    if not message.target_uri:
        raise SignatureError("invalid_input", f"{name} needs a request")
    if name == "@method":
        return message.method
    if name == "@authority":
        return authority(message.target_uri)
    url = urlsplit(message.target_uri)
    if name == "@target-uri":
        return message.target_uri
    if name == "@scheme":
        return url.scheme.lower()
    if name == "@request-target":
        return message.request_target
    if name == "@path":
        return url.path or "/"
    if name == "@query":
        return f"?{url.query}"
    raise UsageError(f"unsupported derived component {name!r} (supported: {', '.join(DERIVED_COMPONENTS)})")


@functools.lru_cache(maxsize=1024)
def authority(target_uri: str) -> str:
    """``@authority`` (§2.2.3): host lower-cased, the scheme's default port left out."""
    url = urlsplit(target_uri)
    host = (url.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = url.port
    except ValueError:
        raise SignatureError("invalid_input", f"bad port in {target_uri!r}") from None
    default = {"http": 80, "https": 443}.get(url.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def field_lines(message: HttpMessage) -> dict[str, list[str]]:
    """Every field's lines by lower-cased name (RFC 9110 §5.1), in one pass over the message."""
    fields: dict[str, list[str]] = {}
    for name, value in message.headers:
        fields.setdefault(name.lower(), []).append(value)
    return fields


def field_value(fields: dict[str, list[str]], name: str) -> str | None:
    """``HttpMessage.header`` over :func:`field_lines`: the lines of ``name`` combined, or ``None``."""
    lines = fields.get(name)
    if not lines:
        return None
    return lines[0].strip() if len(lines) == 1 else ", ".join(line.strip() for line in lines)


def combined_lines(name: str, lines: list[str] | None) -> str:
    """A covered field's lines, trimmed and joined with ``", "`` (§2.1)."""
    if not lines:
        raise SignatureError("invalid_input", f"covered header field {name!r} is not in the message")
    return lines[0].strip() if len(lines) == 1 else ", ".join(line.strip() for line in lines)


def _field_value(name: str, params, lines: list[str]) -> str:
    if not lines:
        raise SignatureError("invalid_input", f"covered header field {name!r} is not in the message")
    if "bs" in params:
        if "sf" in params or "key" in params:
            raise SignatureError("invalid_input", f"{name}: ;bs cannot be combined with ;sf or ;key")
        return ", ".join(str(http_sfv.Item(line.strip().encode("latin-1"))) for line in lines)
    combined = combined_lines(name, lines)
    if "sf" in params or "key" in params:
        kind = STRUCTURED_FIELDS.get(name)
        if kind is None:
            raise UsageError(f"the kit does not know the structured type of {name!r} (needed for ;sf / ;key)")
        value = parse_field(kind, combined, name)
        if "key" in params:
            if kind is not http_sfv.Dictionary:
                raise SignatureError("invalid_input", f"{name} is not a Dictionary; ;key does not apply")
            member = params["key"]
            if member not in value:
                raise SignatureError("invalid_input", f"{name} has no member {member!r}")
            return str(value[member])
        return str(value)
    return combined


def component_value(
    message: HttpMessage, item: http_sfv.Item, *, fields: dict[str, list[str]] | None = None
) -> str:
    """The value of one covered component (§2.1 header fields, §2.2 derived components).

    ``fields`` is :func:`field_lines` of ``message``, when the caller already has it.
    """
    params = item.params
    if params:
        unsupported = set(params) - {"sf", "key", "bs", "req"}
        if unsupported:
            raise UsageError(f"unsupported component parameter(s) {sorted(unsupported)} on {item.value!r}")
        if "req" in params:
            if message.request is None:
                raise SignatureError("invalid_input", f"{str(item)} needs the request this response answers")
            stripped = http_sfv.Item(item.value)
            for key, value in params.items():
                if key != "req":
                    stripped.params[key] = value
            return component_value(message.request, stripped)
    name = item.value
    if name.startswith("@"):
        if params:
            raise UsageError(f"unsupported parameters on derived component {name!r}")
        return _derived_value(message, name)
    if name != name.lower() or not name:
        raise SignatureError("invalid_input", f"header component names must be lower case: {name!r}")
    lines = fields.get(name, []) if fields is not None else message.header_lines(name)
    return _field_value(name, params, lines)
