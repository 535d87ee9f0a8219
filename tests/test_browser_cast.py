"""The cast's web pages in a real browser: Debian Chromium under
Playwright presses the backend page's button, follows the consent link to the PS's
interaction page, logs in as the seed's person and approves (or denies); the backend
page then shows the result (or the failure) — seed steps 1, 6, 7 and 10."""

from __future__ import annotations

import pytest

from aauth_kit.lab import Lab


@pytest.fixture
def lab(tmp_path):
    with Lab(dev=True, data_dir=tmp_path) as lab:
        yield lab


def consent_in_browser(page, lab, *, decision: str, market: bool = False):
    page.goto(f"{lab.url('backend')}/")
    if market:
        page.check("#market")
    page.click("#optimize")
    page.wait_for_selector("#consent:not([hidden])")
    code = page.text_content("#code")
    link = page.get_attribute("#consent-link", "href")
    assert link.startswith(f"{lab.identifiers['ps']}/interaction?code=")

    consent = page.context.new_page()
    consent.goto(link)
    consent.fill("#username", "mcp-user")
    consent.fill("#password", "user123")
    consent.click("button[type=submit]")
    # the consent page names who asks, for what
    consent.wait_for_selector("button[value=approve]")
    body = consent.text_content("body")
    assert "supply-chain:optimize" in body and code.replace("-", "")[:4] in body.replace("-", "")
    consent.click(f"button[value={decision}]")
    consent.wait_for_url(f"{lab.identifiers['backend']}/callback*")
    return consent


def test_approve_on_the_consent_page_and_see_the_result(browser_page, lab):
    consent_in_browser(browser_page, lab, decision="approve", market=True)
    browser_page.wait_for_selector("#result:not([hidden])")
    assert "laptop supply chain" in browser_page.text_content("#summary")
    assert browser_page.locator("#recommendations li").count() >= 3
    assert "Demand grows fastest" in browser_page.text_content("#market-summary")
    assert '"typ": "aa-auth+jwt"' in browser_page.text_content("#authorizations")
    assert browser_page.text_content("#status") == "completed"


def test_deny_on_the_consent_page_and_see_the_failure(browser_page, lab):
    consent = consent_in_browser(browser_page, lab, decision="deny")
    assert "access_denied" in consent.url
    browser_page.wait_for_selector("#failure:not([hidden])")
    assert browser_page.text_content("#error") == "denied"
