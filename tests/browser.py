"""Browser-test helper: Debian's system Chromium driven by Playwright's sync API.

Playwright's own browser download does not work on every machine the project runs on, so the tests launch the Chromium that ``scripts/install-browser`` installs
(``make test`` runs it), with the flags that proved to work there.

Playwright's sync API refuses to start on a thread whose asyncio loop is running, so
it runs on the test thread while the kit's servers run on the kit's own loop thread
(``aauth_kit.runtime``).  Between its calls Playwright marks its private loop as the
thread's running loop, which would make every later ``asyncio.run()`` on that thread
fail; :class:`Chromium` therefore clears that mark whenever no page is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterator

NO_BROWSER_ENV = "AAUTH_KIT_NO_BROWSER"

# Headless, no sandbox (CI runs as root), and no
# background traffic — the tests talk to loopback only.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is missing; the message says how to get it."""


def browser_opted_out() -> bool:
    """True when ``AAUTH_KIT_NO_BROWSER=1`` asks to skip the browser tests."""
    return os.environ.get(NO_BROWSER_ENV) == "1"


def chromium_executable(search_path: str | None = None) -> str:
    """The system ``chromium`` on ``search_path`` (default ``PATH``), or :class:`BrowserUnavailable`."""
    found = shutil.which("chromium", path=search_path)
    if found is None:
        raise BrowserUnavailable(
            "no `chromium` executable on PATH: run scripts/install-browser (`make test` does), "
            f"or set {NO_BROWSER_ENV}=1 to skip the browser tests"
        )
    return found


class Chromium:
    """A launched headless Chromium; open pages with :meth:`page`, end with :meth:`close`."""

    def __init__(self, playwright, browser):
        self.playwright = playwright
        self.browser = browser
        self._loop = asyncio._get_running_loop()  # Playwright's, marked running on this thread
        self._park()

    def _park(self) -> None:
        """Unmark Playwright's loop, so plain ``asyncio.run()`` works on this thread again."""
        asyncio._set_running_loop(None)

    def _unpark(self) -> None:
        """Mark Playwright's loop again: its sync calls expect that between calls."""
        asyncio._set_running_loop(self._loop)

    @contextlib.contextmanager
    def page(self, **context_options) -> Iterator:
        """A page in a fresh browser context (no cookies or storage shared between uses)."""
        self._unpark()
        try:
            context = self.browser.new_context(**context_options)
            try:
                yield context.new_page()
            finally:
                context.close()
        finally:
            self._park()

    def close(self) -> None:
        """Close the browser and stop Playwright's driver."""
        self._unpark()
        try:
            self.browser.close()
        finally:
            self.playwright.stop()  # runs Playwright's loop to its end, which unmarks it


def launch_chromium(executable: str | None = None, *, headless: bool = True) -> Chromium:
    """Start Playwright and launch the system Chromium with :data:`CHROMIUM_ARGS`.

    Raises :class:`BrowserUnavailable` when Chromium or Playwright is missing.  Call it
    on a thread without a running asyncio loop (a test thread, not the kit's loop thread).
    """
    executable = executable or chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable(f"Playwright is not installed ({exc}): pip install -e '.[test]'") from exc
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=headless
        )
    except BaseException:
        playwright.stop()
        raise
    return Chromium(playwright, browser)


@contextlib.contextmanager
def chromium(executable: str | None = None, *, headless: bool = True) -> Iterator[Chromium]:
    """``with chromium() as browser:`` — :func:`launch_chromium`, closed on exit."""
    launched = launch_chromium(executable, headless=headless)
    try:
        yield launched
    finally:
        launched.close()
