"""Server identifiers, agent identifiers and endpoint URLs (draft -11 "Server
Identifiers", "Agent Identifiers", "Metadata Documents").

* A **server identifier** (``iss``, ``ps``, ``aud``, metadata ``issuer``) is ``https://``
  plus a lowercase host and nothing else: no port, path, query, fragment, trailing
  ``/`` or userinfo; internationalized names in A-label (``xn--``) form.  Compared as
  exact strings.  The kit's command-line servers run in an explicit *dev mode* whose
  identifiers are ``http://127.0.0.1:PORT`` or ``http://localhost:PORT``; only
  ``dev=True`` accepts those.
* An **agent identifier** is ``aauth:local@domain``: ``local`` is 1-255 characters of
  ``A-Z a-z 0-9 - _ + .`` (-11 added ``A-Z``; -09 and the intermediate -11 had
  lowercase only), ``domain`` a server identifier's host.  ``+`` is reserved for
  sub-agents (``<parent local>+<discriminator>``): a top-level agent's ``local`` must
  not contain it.  Compared case-sensitively.
* An **endpoint URL** is ``https``, with no query and no fragment.
* **One URL policy** (:func:`check_url`) for every URL the kit checks — endpoint and
  interaction URLs, callbacks, a probe's target, the lab's loopback pass-through: a
  host, no userinfo, no fragment, ``https``; in dev mode also ``http`` on a
  :data:`DEV_HOSTS` host with an explicit port.

Failures raise ``AAuthError('invalid_request', …)``; callers remap the code to the
context (``invalid_jwt`` for a token claim, ``issuer_mismatch`` for metadata, …).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import AAuthError

AGENT_SCHEME = "aauth:"
_LOCAL = re.compile(r"[A-Za-z0-9\-_+.]{1,255}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
#: The loopback hosts of the kit's dev mode, the only hosts where ``http`` is accepted.
#: ``::1`` is not one: the kit's servers listen on 127.0.0.1, its dev identifiers are
#: compared as exact strings (``http://127.0.0.1:PORT``, ``http://localhost:PORT``), and
#: an IP-literal ``[::1]`` would be a third spelling of a loopback no kit server names.
DEV_HOSTS = ("127.0.0.1", "localhost")


def _invalid(what: str, value, why: str) -> AAuthError:
    return AAuthError("invalid_request", f"{value!r} is not {what}: {why}")


def _is_a_label(label: str) -> bool:
    """Punycode that decodes to printable text with a non-ASCII character and re-encodes
    to itself (the RFC 5891 round trip; the full IDNA2008 tables are not applied)."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return (
        decoded.isprintable()
        and not decoded.isascii()
        and decoded.encode("punycode") == label[4:].encode("ascii")
    )


def check_host(host: str) -> str:
    """A lowercase DNS host in A-label form (LDH labels, each 1-63 chars, ≤ 253 in all)."""
    if not isinstance(host, str) or not host:
        raise _invalid("a host", host, "empty")
    if len(host) > 253:
        raise _invalid("a host", host, "longer than 253 characters")
    for label in host.split("."):
        if not _LABEL.fullmatch(label):
            raise _invalid(
                "a host", host, f"label {label!r} is not a lowercase LDH label (use A-labels for IDNs)"
            )
        if label.startswith("xn--") and not _is_a_label(label):
            raise _invalid("a host", host, f"{label!r} is not a valid A-label")
    return host


def check_server_identifier(value, *, dev: bool = False) -> str:
    """Return ``value`` if it is a server identifier; with ``dev`` also ``http://127.0.0.1:PORT``
    and ``http://localhost:PORT`` (the kit's explicit dev mode)."""
    what = "a server identifier"
    if not isinstance(value, str):
        raise _invalid(what, value, "not a string")
    if dev and value.startswith("http://"):
        host, sep, port = value[len("http://") :].partition(":")
        if host in DEV_HOSTS and sep and _PORT.fullmatch(port) and int(port) <= 65535:
            return value
        raise _invalid(
            what, value, "dev mode allows http only as http://127.0.0.1:PORT or http://localhost:PORT"
        )
    if not value.startswith("https://"):
        raise _invalid(what, value, "the scheme must be https")
    host = value[len("https://") :]
    for char, part in (
        ("@", "userinfo"),
        (":", "a port"),
        ("/", "a path"),
        ("?", "a query"),
        ("#", "a fragment"),
    ):
        if char in host:
            raise _invalid(what, value, f"it has {part} (only https:// plus a host is allowed)")
    try:
        check_host(host)
    except AAuthError as exc:
        raise _invalid(what, value, exc.detail) from None
    return value


def parse_agent_identifier(value) -> tuple[str, str]:
    """Split ``aauth:local@domain`` into ``(local, domain)``, checking the syntax."""
    what = "an agent identifier"
    if not isinstance(value, str) or not value.startswith(AGENT_SCHEME):
        raise _invalid(what, value, "it must start with 'aauth:'")
    local, sep, domain = value[len(AGENT_SCHEME) :].rpartition("@")
    if not sep:
        raise _invalid(what, value, "no '@domain'")
    if not _LOCAL.fullmatch(local):
        raise _invalid(what, value, "the local part must be 1-255 characters of A-Z a-z 0-9 - _ + .")
    if "+" in local:
        parent, _, discriminator = local.partition("+")
        if not parent or not discriminator or "+" in discriminator:
            raise _invalid(
                what, value, "'+' may appear once, between a parent local part and a discriminator"
            )
    try:
        check_host(domain)
    except AAuthError as exc:
        raise _invalid(what, value, f"bad domain: {exc.detail}") from None
    return local, domain


def check_agent_identifier(value, *, top_level: bool = False) -> str:
    """Return ``value`` if it is an agent identifier; ``top_level`` forbids the sub-agent ``+``."""
    local, _ = parse_agent_identifier(value)
    if top_level and "+" in local:
        raise _invalid("a top-level agent identifier", value, "'+' is reserved for sub-agents")
    return value


def subagent_identifier(parent: str, discriminator: str) -> str:
    """``aauth:<parent local>+<discriminator>@<domain>`` (informative naming; -11 relies on ``parent_agent``)."""
    local, domain = parse_agent_identifier(check_agent_identifier(parent, top_level=True))
    return check_agent_identifier(f"{AGENT_SCHEME}{local}+{discriminator}@{domain}")


def is_dev_url(parts) -> bool:
    """Whether ``parts`` (a ``urlsplit`` result) is dev-mode ``http``: a :data:`DEV_HOSTS`
    host with an explicit port."""
    try:
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in DEV_HOSTS and port is not None


def check_url(url, *, what: str = "a URL", dev: bool = False, query: bool = False) -> str:
    """Return ``url`` if the kit accepts it (the one URL policy): a string with no whitespace
    or control characters, a host, no userinfo, no fragment, no query unless ``query``;
    ``https``, or with ``dev`` ``http`` on a :data:`DEV_HOSTS` host with a port."""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _invalid(what, url, "not a string without whitespace")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise _invalid(what, url, str(exc)) from None
    if "#" in url or (not query and "?" in url):
        raise _invalid(what, url, "it must have no fragment" + ("" if query else " and no query"))
    if not parts.hostname or "@" in parts.netloc:
        raise _invalid(what, url, "it needs a host and no userinfo")
    if (parts.scheme == "https") or (dev and is_dev_url(parts)):
        return url
    hint = " (or http://127.0.0.1:PORT or http://localhost:PORT in dev mode)" if dev else ""
    raise _invalid(what, url, f"not an https URL with a host{hint}")


def check_endpoint_url(url, *, dev: bool = False) -> str:
    """Return ``url`` if it is an endpoint URL (-11 "Endpoint URLs"): :func:`check_url` with
    no query."""
    return check_url(url, what="an endpoint URL", dev=dev)


def check_callback_url(url) -> str:
    """Return ``url`` if a Person Server may send a browser back to it: :func:`check_url`
    with a query allowed, and ``http`` on a loopback host (an agent's localhost callback,
    -11 "Endpoint URLs": ``localhost_callback_allowed``)."""
    return check_url(url, what="a callback", dev=True, query=True)
