"""The ``Signature`` field (RFC 9421 §4.2) read without http-sfv when it has its usual form.

Every signed request carries a new ``Signature`` value (new bytes each time), so it cannot
be memoized like ``Signature-Input``.  Its usual form is a Dictionary (RFC 9651 §3.2) of
bare Byte Sequences (RFC 9651 §3.3.5) without parameters: ``sig=:base64:``.
:func:`fast_byte_sequences` reads exactly that form — lower-case keys (RFC 9651 §3.2,
``key``), ``:`` + base64 characters + ``:`` (§4.2.7), members joined by a comma with
optional spaces or tabs around it (§4.2.2), no leading or trailing space — and returns
``None`` for anything else, which :func:`signature_members` then hands to http-sfv.  On
every input it accepts, the fast path gives what http-sfv gives (a property test checks it).
"""

from __future__ import annotations

import base64
import binascii
import re

import http_sfv

from .components import parse_field

_KEY = r"[a-z*][a-z0-9_\-.*]*"
_MEMBER = rf"({_KEY})=:([A-Za-z0-9+/=]*):"
#: The whole field: one member, then more after a comma with optional SP / HTAB around it.
_FIELD = re.compile(rf"{_MEMBER}(?:[ \t]*,[ \t]*{_MEMBER})*")
_MEMBERS = re.compile(rf"(?:^|,[ \t]*){_MEMBER}[ \t]*")


def fast_byte_sequences(text: str) -> dict[str, bytes] | None:
    """``label → bytes`` for a Dictionary of bare Byte Sequences (RFC 9651 §4.2.2, §4.2.7),
    a repeated key keeping its first place and its last value as §4.2.2 says; ``None``
    when ``text`` has any other form (http-sfv decides those)."""
    whole = _FIELD.fullmatch(text)
    if whole is None:
        return None
    try:
        if "," not in text:  # one member, the usual case: the match already holds it
            return {whole.group(1): base64.standard_b64decode(whole.group(2))}
        members: dict[str, bytes] = {}
        for match in _MEMBERS.finditer(text):
            members[match.group(1)] = base64.standard_b64decode(match.group(2))
    except binascii.Error:  # http-sfv refuses it too, in its own words
        return None
    return members


def signature_members(text: str) -> dict[str, bytes | None]:
    """Each ``Signature`` member's bytes by label, ``None`` for a member that is not a Byte
    Sequence; malformed → ``invalid_signature`` (from http-sfv, as before)."""
    fast = fast_byte_sequences(text)
    if fast is not None:
        return fast
    parsed = parse_field(http_sfv.Dictionary, text, "Signature")
    return {
        label: None
        if isinstance(member, http_sfv.InnerList) or not isinstance(member.value, bytes)
        else member.value
        for label, member in parsed.items()
    }
