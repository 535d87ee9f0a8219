"""Structured Field values (RFC 9651) that come back on every request, memoized.

http-sfv reads and writes values character by character.  A verifier sees the same
few values request after request: the ``Signature-Key`` member (one token for the
token's whole lifetime), the ``Signature-Input`` member (the same components, and the
same ``created`` for every request signed in one second) and the component
identifiers.  This module keeps those parses and serializations in small LRU caches;
they still go through http-sfv, only once per distinct value.  A Byte Sequence (new
bytes every time) is written with the base64 encoder http-sfv itself calls.

Parsed values are shared between callers: read them, never change them.  Cache keys
carry each bare item's type, so ``1``, ``True``, ``"a"`` and ``Token("a")`` stay apart.
"""

from __future__ import annotations

import binascii
import functools

import http_sfv
from http_sfv.item import Parameters
from http_sfv.util import ser_key

#: Distinct values kept per cache (tokens, component lists, labels …).
CACHE_SIZE = 1024


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse(kind: type, text: str):
    """``text`` parsed as ``kind`` (``http_sfv.Dictionary``, ``List`` …), shared read-only.

    Malformed input raises ``ValueError`` (``UnicodeEncodeError`` for non-ASCII) and is
    not cached.
    """
    value = kind()
    value.parse(text.encode("ascii"))
    return value


def _typed(params) -> tuple:
    return tuple((name, type(value), value) for name, value in params.items())


@functools.lru_cache(maxsize=CACHE_SIZE)
def _item_text(kind: type, value, params: tuple) -> str:
    item = http_sfv.Item(value)
    for name, _, param in params:
        item.params[name] = param
    return str(item)


def item_text(item: http_sfv.Item) -> str:
    """``str(item)``: a bare item with its parameters (RFC 9651 §4.1.3)."""
    value, params = item.value, item.params
    return _item_text(type(value), value, _typed(params) if params else ())


@functools.lru_cache(maxsize=CACHE_SIZE)
def _params_text(params: tuple) -> str:
    serialized = Parameters()
    for name, _, value in params:
        serialized[name] = value
    return str(serialized)


def params_text(params: dict) -> str:
    """``str(params)``: ``;key=value`` for each parameter, in order (RFC 9651 §4.1.1.2)."""
    return _params_text(_typed(params)) if params else ""


@functools.lru_cache(maxsize=CACHE_SIZE)
def key_text(key: str) -> str:
    """A dictionary or parameter key, checked (RFC 9651 §4.1.1.3); ``ValueError`` if invalid."""
    return ser_key(key)


def byteseq_text(data: bytes) -> str:
    """``str(Item(data))`` for a bare Byte Sequence, ``:base64:`` (RFC 9651 §4.1.8), without
    building an Item: signatures and digests are new bytes on every request.  http-sfv's
    own encoder (``base64.standard_b64encode``) is this ``b2a_base64`` call."""
    return f":{binascii.b2a_base64(data, newline=False).decode('ascii')}:"


def member_text(key: str, value_text: str) -> str:
    """One Dictionary member ``key=value`` (RFC 9651 §4.1.2) from an already serialized value."""
    return f"{key_text(key)}={value_text}"
