"""The headers of deferred responses (-11 "Deferred Responses"): ``Prefer: wait``
(RFC 7240 §4.3), how long a client lets the server hold its poll, and ``Retry-After``
(RFC 9110 §10.2.3), how long the server asks it to wait before polling again.

Neither is a structured field: each gets a small exact parser.  Malformed input raises
:class:`~aauth_kit.headers.HeaderError` (``invalid_request``); emitting a value RFC 7240
forbids raises :class:`~aauth_kit.errors.UsageError`.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

from .errors import UsageError
from .headers import TCHARS, HeaderError, field_text

#: Seconds to wait when a ``202`` carries no ``Retry-After`` (-11 "Deferred Responses").
DEFAULT_RETRY_AFTER = 5
#: RFC 9111 §1.2.2: a delta-seconds too large to represent is read as 2^31.
_MAX_DELTA_SECONDS = 2**31

_QUOTED_STRING = re.compile(r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"')
_DIGITS = re.compile(r"-?[0-9]+")


# -- Prefer: wait (RFC 7240) --------------------------------------------------------------
class _Scanner:
    """Just enough of RFC 9110 §5.6 (tokens, quoted-strings, OWS, lists) for ``Prefer``."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def ows(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def match(self, pattern: re.Pattern) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def token(self) -> str:
        token = self.match(TCHARS)
        if token is None:
            raise HeaderError("Prefer", f"expected a token at offset {self.pos}")
        return token

    def word(self) -> str:
        """``[ BWS "=" BWS word ]``; an absent or empty value is ``""`` (RFC 7240 §2)."""
        start = self.pos
        self.ows()
        if not self.peek("="):
            self.pos = start
            return ""
        self.pos += 1
        self.ows()
        quoted = self.match(_QUOTED_STRING)
        if quoted is not None:
            return re.sub(r"\\(.)", r"\1", quoted[1:-1])
        return self.token()


def _preferences(text: str) -> list[tuple[str, str]]:
    """RFC 7240 §2 ``1#preference`` as ``(lowercased name, value)``, parameters dropped."""
    scan, found = _Scanner(text), []
    while True:
        scan.ows()
        if scan.pos == len(text):
            return found
        if scan.peek(","):  # RFC 9110 §5.6.1: empty list elements are allowed
            scan.pos += 1
            continue
        found.append((scan.token().lower(), scan.word()))
        scan.ows()
        while scan.peek(";"):
            scan.pos += 1
            scan.ows()
            if scan.match(TCHARS) is not None:
                scan.word()
            scan.ows()
        if scan.pos < len(text) and not scan.peek(","):
            raise HeaderError("Prefer", f"unexpected {text[scan.pos]!r} at offset {scan.pos}")


def _delta_seconds(digits: str) -> int:
    """ASCII digits as seconds, capped at 2^31 without converting absurdly long numbers."""
    digits = digits.lstrip("0") or "0"
    return _MAX_DELTA_SECONDS if len(digits) > 10 else min(int(digits), _MAX_DELTA_SECONDS)


def parse_prefer_wait(value: str | None) -> int | None:
    """The ``wait`` preference (RFC 7240 §4.3) in seconds, or ``None`` when not asked for.

    Other preferences may sit beside it (``respond-async, wait=10``); names are
    case-insensitive and only the first ``wait`` counts (RFC 7240 §2).  A ``wait``
    that is not delta-seconds is malformed — a lenient server catches :class:`HeaderError`.
    """
    if value is None:
        return None
    for name, word in _preferences(field_text(value, "Prefer")):
        if name == "wait":
            if not word.isascii() or not word.isdigit():
                raise HeaderError("Prefer", f"wait={word!r} is not a number of seconds")
            return _delta_seconds(word)
    return None


def serialize_prefer_wait(seconds: int) -> str:
    """``wait=N`` for the ``Prefer`` request header (-11 "Deferred Responses")."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise UsageError(f"wait must be a non-negative integer of seconds, not {seconds!r}")
    return f"wait={seconds}"


# -- Retry-After (RFC 9110 §10.2.3) -------------------------------------------------------
def parse_retry_after(
    value: str | None, *, now: float | None = None, default: int = DEFAULT_RETRY_AFTER
) -> int:
    """Seconds to wait before polling again.

    Integer seconds or an HTTP-date (any of RFC 9110 §5.6.7's three formats), the
    date read relative to ``now`` (Unix seconds; the wall clock if omitted).  Absent
    → ``default`` (5, -11 "Deferred Responses"); negative or past → 0.
    """
    if value is None:
        return default
    text = field_text(value, "Retry-After")
    if _DIGITS.fullmatch(text):
        return 0 if text.startswith("-") else _delta_seconds(text)
    try:
        date = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        raise HeaderError("Retry-After", f"{text!r} is neither seconds nor an HTTP-date") from None
    if date.tzinfo is None:  # asctime and "-0000" dates carry no zone; HTTP-dates are GMT
        date = date.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0, min(math.ceil(date.timestamp() - now), _MAX_DELTA_SECONDS))
