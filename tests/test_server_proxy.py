"""The cast behind a Jupyter server's proxy (JupyterHub, Binder): the URLs the lab shows,
and the origin checks, which accept the Jupyter server's origin for what the proxy
forwarded, only behind the proxy, and still refuse every other origin.

Requests here go straight to the cast's sockets with the headers jupyter-server-proxy
sends (``Host`` of the Jupyter server, ``X-Forwarded-Prefix``); the test in
``test_browser_server_proxy.py`` goes through a real JupyterLab's proxy in Chromium.
"""

from __future__ import annotations

import pytest

from aauth_kit.lab import Lab
from aauth_kit.server_proxy import (
    HUB_PREFIX_ENV,
    HUB_PUBLIC_URL_ENV,
    PROXY_ENV,
    BrowserLink,
    base_url,
    browser_url,
    proxied_origins,
)

from .ps_world import error_of, form_fields

EVIL = "https://evil.example"
JUPYTER = "127.0.0.1:8888"  # the Jupyter server, as the browser reaches it (its Host through the proxy)
GOOD_LOGIN = {"username": "mcp-user", "password": "user123", "next": "/interaction"}


@pytest.fixture
def lab(tmp_path):
    with Lab(dev=True, data_dir=tmp_path) as lab:
        yield lab


@pytest.fixture
def behind_proxy(monkeypatch):
    """The kernel runs behind a Jupyter server at ``/`` (as a local JupyterLab with the proxy)."""
    for name in (PROXY_ENV, HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(PROXY_ENV, "/")


def port_of(lab: Lab, name: str) -> int:
    return int(lab.identifiers[name].rsplit(":", 1)[1])


def through_proxy(lab: Lab, name: str, origin: str | None = f"http://{JUPYTER}") -> dict:
    """The headers of a browser's request as jupyter-server-proxy forwards it to ``name``."""
    headers = {"Host": JUPYTER, "X-Forwarded-Prefix": f"/proxy/{port_of(lab, name)}"}
    return {**headers, "Origin": origin} if origin else headers


# --------------------------------------------------------------------------- where the browser goes


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({HUB_PREFIX_ENV: "/user/alice/"}, "/user/alice/"),
        ({HUB_PREFIX_ENV: "/user/alice"}, "/user/alice/"),
        (
            {HUB_PREFIX_ENV: "/user/alice/", HUB_PUBLIC_URL_ENV: "https://hub.example/user/alice/"},
            "https://hub.example/user/alice/",
        ),
        (
            {HUB_PUBLIC_URL_ENV: "https://hub.example/user/alice/"},
            None,
        ),  # no server prefix: not a hub's server
        ({PROXY_ENV: "http://127.0.0.1:8888"}, "http://127.0.0.1:8888/"),
        ({PROXY_ENV: "/", HUB_PREFIX_ENV: "/user/alice/"}, "/"),  # the kit's own setting wins
        ({PROXY_ENV: "lab"}, "/lab/"),
    ],
)
def test_base_url_comes_from_the_environment(environ, expected):
    assert base_url(environ) == expected


def test_browser_url_sends_loopback_pages_through_the_proxy():
    hub = {HUB_PREFIX_ENV: "/user/alice/"}
    assert browser_url("http://127.0.0.1:8765/interaction?code=AB", hub) == (
        "/user/alice/proxy/8765/interaction?code=AB"
    )
    assert browser_url("http://localhost:8000", hub) == "/user/alice/proxy/8000"
    for other in ("https://ps.example/interaction", "http://10.0.0.1:80/", "https://127.0.0.1:8765/"):
        assert browser_url(other, hub) == other  # only the cast's loopback http servers
    assert browser_url("http://127.0.0.1:8765/", {}) == "http://127.0.0.1:8765/"  # no proxy: as it is


def test_a_link_is_the_url_as_text_and_an_anchor_as_html():
    link = BrowserLink('/user/a"b/proxy/8765/interaction?code=A&x=<')
    assert str(link) == repr(link) == '/user/a"b/proxy/8765/interaction?code=A&x=<'
    assert link._repr_html_() == (
        '<a href="/user/a&quot;b/proxy/8765/interaction?code=A&amp;x=&lt;" target="_blank" '
        'rel="noopener">/user/a&quot;b/proxy/8765/interaction?code=A&amp;x=&lt;</a>'
    )


def test_the_lab_shows_its_pages_through_the_proxy(tmp_path, monkeypatch):
    """Under JupyterHub (``JUPYTERHUB_SERVICE_PREFIX``) the lab's URLs and links are the
    proxied ones; without it they are the loopback ones."""
    monkeypatch.delenv(PROXY_ENV, raising=False)
    monkeypatch.delenv(HUB_PUBLIC_URL_ENV, raising=False)
    monkeypatch.delenv(HUB_PREFIX_ENV, raising=False)
    with Lab(data_dir=tmp_path) as lab:
        loopback = lab.hosts.url_of(lab.identifiers["ps"])
        assert lab.url("ps") == loopback and str(lab.link("ps")) == f"{loopback}/"
        monkeypatch.setenv(HUB_PREFIX_ENV, "/user/alice/")
        port = loopback.rsplit(":", 1)[1]
        assert lab.url("ps") == f"/user/alice/proxy/{port}"
        link = lab.link("ps", "/interaction?code=AB")
        assert str(link) == f"/user/alice/proxy/{port}/interaction?code=AB"
        assert f'href="/user/alice/proxy/{port}/interaction?code=AB"' in link._repr_html_()


# --------------------------------------------------------------------------- the origin checks


def test_proxied_origins_need_the_proxy_its_prefix_and_another_port():
    hub = {HUB_PREFIX_ENV: "/user/alice/"}
    forwarded = {"host": "hub.example", "x-forwarded-prefix": "/user/alice/proxy/8765"}
    assert proxied_origins(forwarded, 8765, hub) == {"http://hub.example", "https://hub.example"}
    assert proxied_origins(forwarded, 8765, {}) == set()  # not behind a proxy
    assert proxied_origins(forwarded, 9999, hub) == set()  # the prefix of another port
    assert proxied_origins({"host": "hub.example"}, 8765, hub) == set()  # not forwarded
    # a browser connected to the socket itself: Host names the socket's port (80 when omitted)
    assert proxied_origins({**forwarded, "host": "evil.test:8765"}, 8765, hub) == set()
    assert proxied_origins({**forwarded, "x-forwarded-prefix": "/user/alice/proxy/80"}, 80, hub) == set()
    assert proxied_origins({**forwarded, "host": "hub.example:x"}, 8765, hub) == set()
    ipv6 = {**forwarded, "host": "[::1]:8888"}
    assert proxied_origins(ipv6, 8765, hub) == {"http://[::1]:8888", "https://[::1]:8888"}


def test_the_ps_login_form_works_through_the_proxy_and_nowhere_else(lab, behind_proxy, monkeypatch):
    """The login page's form posts to a relative URL; posted through the proxy from the
    Jupyter server's origin it signs in (the PS redirects to an absolute path, which the
    proxy prefixes).  A foreign origin, a rebound name naming the PS's own port, another
    port's prefix, or the same request when the kernel is not behind a proxy: ``403``."""
    ps = lab.identifiers["ps"]
    browser = lab.hosts.client(timeout=30)
    page = browser.get(f"{ps}/interaction", headers=through_proxy(lab, "ps", origin=None))
    assert '<form method="post" action="login">' in page.text
    fields = {**GOOD_LOGIN, "csrf": form_fields(page.text)["csrf"]}
    port = port_of(lab, "ps")
    refused = [
        through_proxy(lab, "ps", origin=EVIL),
        through_proxy(lab, "ps", origin="null"),
        {**through_proxy(lab, "ps"), "X-Forwarded-Prefix": f"/proxy/{port + 1}"},
        {
            "Host": f"evil.test:{port}",
            "Origin": f"http://evil.test:{port}",
            "X-Forwarded-Prefix": f"/proxy/{port}",
        },
    ]
    for headers in refused:
        answer = browser.post(f"{ps}/login", data=fields, headers=headers)
        assert (answer.status_code, error_of(answer)) == (403, "forbidden"), headers
    monkeypatch.delenv(PROXY_ENV)
    answer = browser.post(f"{ps}/login", data=fields, headers=through_proxy(lab, "ps"))
    assert (answer.status_code, error_of(answer)) == (403, "forbidden")  # only behind the proxy
    monkeypatch.setenv(PROXY_ENV, "/")
    signed_in = browser.post(f"{ps}/login", data=fields, headers=through_proxy(lab, "ps"))
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/interaction")
    code_page = browser.get(f"{ps}/interaction", headers=through_proxy(lab, "ps", origin=None))
    assert '<form method="get" action="interaction">' in code_page.text


def test_the_backend_job_api_works_through_the_proxy(lab, behind_proxy):
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as client:
        start = f"{backend}/optimization/start"
        foreign = client.post(start, json={}, headers=through_proxy(lab, "backend", origin=EVIL))
        assert (foreign.status_code, foreign.json()["error"]) == (403, "forbidden")
        assert lab.backend.jobs == {}
        started = client.post(start, json={}, headers=through_proxy(lab, "backend"))
        assert started.status_code == 200 and started.json()["status"] == "started"


def test_aauth_kit_serve_prints_the_backend_page_through_the_proxy(lab, monkeypatch):
    """``aauth-kit serve`` in a JupyterHub terminal: the identifiers stay the loopback ones
    (they are what the protocol names), the page to open is the proxied one."""
    from aauth_kit.serve import describe

    monkeypatch.delenv(PROXY_ENV, raising=False)
    monkeypatch.delenv(HUB_PUBLIC_URL_ENV, raising=False)
    monkeypatch.setenv(HUB_PREFIX_ENV, "/user/alice/")
    text = describe(lab)
    assert f"backend web page /user/alice/proxy/{port_of(lab, 'backend')}/" in text
    assert lab.identifiers["ps"] in text
