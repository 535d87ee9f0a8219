"""Caps at the Person Server and the sweep of expired rows (servers/ps/context.py ``Caps``,
servers/ps/sweep.py), each attack mounted over loopback sockets: one agent leaving requests,
held polls or missions without end, anonymous registrations filling the consent queue, rows
that never expire, and the consent page's throttle without ``Retry-After``."""

from __future__ import annotations

from .ps_world import PS, logged_in_browser, world_fixture

world = world_fixture()


# -- the consent page's throttle ----------------------------------------------------------------------


def test_l10_the_consent_pages_throttle_says_when_to_try_again(world):
    """Wrong codes typed on the HTML interaction page: after five, the page is ``429`` and,
    like its problem+json twin, carries ``Retry-After`` (RFC 6585 §4)."""
    browser = logged_in_browser(world)
    for n in range(5):
        assert browser.get(f"{PS}/interaction", params={"code": f"ZZZZ-ZZZ{n}"}).status_code == 410
    page = browser.get(f"{PS}/interaction", params={"code": "ZZZZ-ZZZZ"})
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) > 0
    assert "Too many attempts" in page.text
