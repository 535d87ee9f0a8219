"""Every ``Retry-After`` the kit reads from a stranger goes through one parser (RFC 9110
§10.2.3: seconds or an HTTP-date): ``nan``, ``inf`` or ``1e400`` never become a pause.
``float()`` took them all (``max(nan, 0)`` is ``nan``)."""

from __future__ import annotations

import pytest
from aauth_kit.servers.ps.federation_exchange import MAX_POLL_PAUSE, _pause

from aauth_kit.http_client import httpx
from aauth_kit.probe.target import _retry_after


def answer(value: str | None) -> httpx.Response:
    return httpx.Response(202, headers={} if value is None else {"Retry-After": value})


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "soon", "-nan"])
def test_unreadable_retry_after_is_never_a_pause(value):
    assert _pause(answer(value)) == MAX_POLL_PAUSE  # the PS polling an AS
    assert _retry_after(answer(value)) == 1.0  # the probe polling a target


@pytest.mark.parametrize(
    ("value", "pause", "probe"),
    [(None, 1, 1), ("0", 0, 0), ("1", 1, 1), ("3600", MAX_POLL_PAUSE, 3600), ("-5", 0, 0)],
)
def test_readable_retry_after_is_kept_within_the_cap(value, pause, probe):
    assert _pause(answer(value)) == pause
    assert _retry_after(answer(value)) == probe
