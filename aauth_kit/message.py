"""HTTP messages as the signature layer sees them (RFC 9110 / RFC 9112 framing).

A neutral, transport-free view of a request or response: method, target URI,
ordered header field lines and body bytes.  RFC 9421 derives every component
from this view; the CLI reads and writes it as raw HTTP/1.1 text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import AAuthError


@dataclass
class HttpMessage:
    """A request (``method`` + ``target_uri``) or a response (``status``).

    ``headers`` keeps field lines in order with their original name case;
    lookups are case-insensitive (RFC 9110 §5.1).  ``request`` links a response to
    the request it answers, for RFC 9421 ``;req`` components.
    """

    method: str = ""
    target_uri: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    status: int | None = None
    request: HttpMessage | None = None
    line_end: str = "\r\n"

    def header_lines(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def header(self, name: str) -> str | None:
        """The field value, repeated lines combined with ``", "`` (RFC 9110 §5.3)."""
        lines = self.header_lines(name)
        if len(lines) == 1:
            return lines[0].strip()
        return ", ".join(v.strip() for v in lines) if lines else None

    def set_header(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one line holding ``value``."""
        self.remove_header(name)
        self.headers.append((name, value))

    def remove_header(self, name: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def json_object(self) -> dict:
        """The body as a JSON object when it is one (``content-type`` says JSON), else ``{}``."""
        if "json" not in (self.header("content-type") or ""):
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def url(self):
        return urlsplit(self.target_uri)

    @property
    def request_target(self) -> str:
        """The origin-form request target: path plus ``?query`` when present."""
        parts = self.url
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def require_json_object(body: bytes, hint: str = "") -> dict:
    """A request body that must be a JSON object, else ``invalid_request`` (400)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise AAuthError("invalid_request", f"the body must be a JSON object{': ' + hint if hint else ''}")
    return value


def parse_raw_request(raw: bytes, *, scheme: str = "https") -> HttpMessage:
    """Parse an HTTP/1.1 request as text: request line, header lines, blank line, body.

    Accepts CRLF or LF line ends.  The target URI is rebuilt from ``scheme`` and the
    ``Host`` header unless the request line carries an absolute URI (RFC 9112 §3.2).
    Raises :class:`AAuthError` ``invalid_request`` naming what is wrong.
    """
    if not isinstance(raw, (bytes, bytearray)):
        raise AAuthError("invalid_request", "the message must be bytes")
    text = bytes(raw)
    ends = [(text.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in text]
    if ends:
        index, sep = min(ends)
        head, body = text[:index], text[index + len(sep) :]
    else:
        head, body = text.rstrip(b"\r\n"), b""
    line_end = "\r\n" if b"\r\n" in head or not head.count(b"\n") else "\n"
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    request_line = lines[0].strip()
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise AAuthError("invalid_request", f"not an HTTP/1.1 request line: {request_line[:80]!r}")
    method, target, _version = parts
    if not method.isalpha() and not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in method):
        raise AAuthError("invalid_request", f"bad method {method!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # obs-fold: RFC 9112 §5.2, replaced by one space
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in ' \t"(),/:;<=>?@[\\]{}'):
            raise AAuthError("invalid_request", f"bad header line: {line[:80]!r}")
        if any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in value):
            raise AAuthError("invalid_request", f"control character in header {name}")
        headers.append((name, value.strip()))
    if "://" in target:
        target_uri = target
    elif target.startswith("/"):
        hosts = [v for k, v in headers if k.lower() == "host"]
        if len(hosts) != 1 or not hosts[0]:
            raise AAuthError("invalid_request", "the request needs exactly one Host header")
        target_uri = f"{scheme}://{hosts[0]}{target}"
    else:
        raise AAuthError("invalid_request", f"unsupported request target {target[:80]!r}")
    body = _framed_body(body, [v for k, v in headers if k.lower() == "content-length"])
    message = HttpMessage(method=method, target_uri=target_uri, headers=headers, body=body, line_end=line_end)
    try:
        message.url.port  # noqa: B018 - validates the authority
    except ValueError as exc:
        raise AAuthError("invalid_request", f"bad authority: {exc}") from None
    return message


def _framed_body(body: bytes, lengths: list[str]) -> bytes:
    """Apply ``Content-Length`` framing (RFC 9112 §6.3) to the bytes after the blank line.

    Text files usually end with a line end that is not part of the body: bytes past
    the declared length are dropped when they are only CR/LF.  Without
    ``Content-Length`` one final line end is dropped for the same reason.
    """
    if not lengths:
        return body[:-2] if body.endswith(b"\r\n") else body[:-1] if body.endswith(b"\n") else body
    if len(set(lengths)) != 1 or not (lengths[0].isascii() and lengths[0].isdigit()):
        raise AAuthError("invalid_request", f"bad Content-Length {', '.join(lengths)!r}")
    length = int(lengths[0])
    if len(body) < length:
        raise AAuthError(
            "invalid_request", f"Content-Length says {length} bytes but the body has {len(body)}"
        )
    if body[length:].strip(b"\r\n"):
        raise AAuthError("invalid_request", f"{len(body) - length} bytes follow the {length}-byte body")
    return body[:length]


def serialize_raw_request(message: HttpMessage) -> bytes:
    """Write the request back as HTTP/1.1 text, with the line ends it was read with."""
    lines = [f"{message.method} {message.request_target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in message.headers]
    end = message.line_end
    return (end.join(lines) + end + end).encode("latin-1") + message.body
