"""Smoke test of the browser-test set-up: a real page in Chromium over a real loopback socket.

The page is served by a Starlette app through ``Hosts("socket")`` on the kit's loop
thread (the kit never touches the caller's loop); Chromium is driven by Playwright's sync API
on the test thread.  Also checks the set-up's own promises: the test thread
stays usable for ``asyncio.run()``, and a machine without Chromium fails the browser
tests with the fix unless ``AAUTH_KIT_NO_BROWSER=1`` switches them off.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from aauth_kit.runtime import Hosts

from .browser import NO_BROWSER_ENV, BrowserUnavailable, chromium_executable

REPO = Path(__file__).resolve().parents[1]
SITE = "https://greeter.example"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>greeter</title></head>
<body>
  <form id="greet" method="post" action="/greet">
    <label>name <input name="name" id="name"></label>
    <button type="submit" id="send">Greet</button>
  </form>
  <p id="result"></p>
  <script>
    document.getElementById("greet").addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new URLSearchParams(new FormData(event.target));
      const reply = await fetch("/greet", {method: "POST", body});
      document.getElementById("result").textContent = (await reply.json()).greeting;
    });
  </script>
</body></html>
"""


def greeter_app(posts: list[dict]) -> Starlette:
    """GET / serves the form; POST /greet records the request and answers with JSON."""

    async def index(request):
        return HTMLResponse(PAGE)

    async def greet(request):
        form = parse_qs((await request.body()).decode())
        posts.append(
            {
                "name": form.get("name", [""])[0],
                "content_type": request.headers.get("content-type", ""),
                "thread": threading.current_thread().name,
            }
        )
        return JSONResponse({"greeting": f"hello, {form.get('name', [''])[0]}"})

    return Starlette(routes=[Route("/", index), Route("/greet", greet, methods=["POST"])])


@pytest.fixture
def greeter():
    posts: list[dict] = []
    with Hosts("socket") as hosts:
        hosts.add(SITE, greeter_app(posts))
        yield hosts.url_of(SITE), posts


def test_form_post_reaches_the_server_and_the_page_shows_the_result(browser_page, greeter):
    from playwright.sync_api import expect

    url, posts = greeter
    assert url.startswith("http://127.0.0.1:")  # a real loopback socket, not ASGI
    browser_page.goto(url + "/")
    browser_page.fill("#name", "Ada")
    browser_page.click("#send")

    expect(browser_page.locator("#result")).to_have_text("hello, Ada")
    assert posts == [
        {
            "name": "Ada",
            "content_type": "application/x-www-form-urlencoded;charset=UTF-8",
            # the server ran on the kit's loop thread, so the test thread was free for Playwright
            "thread": "aauth-kit-loop",
        }
    ]


def test_the_test_thread_is_free_for_asyncio_when_no_page_is_open(chromium):
    """Playwright marks its loop as running between its sync calls; the helper undoes that."""

    async def answer():
        return 42

    with chromium.page() as page:
        page.set_content("<p>hi</p>")
        assert page.text_content("p") == "hi"
        pending = answer()
        with pytest.raises(RuntimeError, match="running event loop"):
            asyncio.run(pending)  # Playwright's own rule while a page is in use
        pending.close()
    assert asyncio.run(answer()) == 42
    with chromium.page() as page:  # and Playwright works again afterwards
        page.set_content("<p>again</p>")
        assert page.text_content("p") == "again"


def test_missing_chromium_is_reported_with_the_fix(tmp_path):
    with pytest.raises(BrowserUnavailable, match="scripts/install-browser") as caught:
        chromium_executable(search_path=str(tmp_path))
    assert f"{NO_BROWSER_ENV}=1" in str(caught.value)


def run_browser_smoke_without_chromium(**env) -> subprocess.CompletedProcess:
    """This module's browser test in a child pytest whose PATH has no Chromium."""
    child_env = {k: v for k, v in os.environ.items() if k != NO_BROWSER_ENV}
    child_env.update(PATH=str(Path(sys.executable).parent), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "form_post", __file__],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,  # hang guard
    )


def test_without_chromium_browser_tests_fail_not_skip():
    child = run_browser_smoke_without_chromium()
    assert child.returncode == 1, child.stdout + child.stderr
    assert "1 error" in child.stdout
    assert "browser tests need Chromium" in child.stdout
    assert "scripts/install-browser" in child.stdout


def test_no_browser_env_skips_with_the_reason():
    child = run_browser_smoke_without_chromium(**{NO_BROWSER_ENV: "1"})
    assert child.returncode == 0, child.stdout + child.stderr
    assert "1 skipped" in child.stdout
    assert f"{NO_BROWSER_ENV}=1: browser tests are switched off" in child.stdout
