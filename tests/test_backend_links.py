"""The backend page's consent link is one a browser can open: the PS's page at the URL the
lab serves it on (its loopback socket, or that socket through the Jupyter server's proxy),
with a callback to the backend's page that the PS's callback check accepts (-11 "User
Interaction").  The PS's rules stay as they were: a foreign callback is refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from aauth_kit.identifiers import check_callback_url
from aauth_kit.lab import Lab
from aauth_kit.server_proxy import HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV, PROXY_ENV

POLL_LIMIT = 60  # seconds: a hang guard only


def asked_for_consent(lab) -> dict:
    """Start a job at the backend; its progress once it waits for the person."""
    backend = lab.identifiers["backend"]
    with lab.hosts.client() as ui:
        request_id = ui.post(f"{backend}/optimization/start", json={}).json()["request_id"]
        deadline = time.monotonic() + POLL_LIMIT
        while time.monotonic() < deadline:
            progress = ui.get(f"{backend}/optimization/progress/{request_id}").json()
            if progress["status"] in ("interaction_required", "failed"):
                assert progress["status"] == "interaction_required", progress
                return progress
            time.sleep(0.05)
    raise AssertionError("the job never asked for consent")


@pytest.fixture
def proxy(monkeypatch):
    """Set the kernel's proxy base (``None``: no proxy)."""
    for name in (PROXY_ENV, HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV):
        monkeypatch.delenv(name, raising=False)

    def use(base: str) -> None:
        monkeypatch.setenv(PROXY_ENV, base)

    return use


def port(lab, name: str) -> int:
    """The loopback port ``name`` listens on."""
    return urlsplit(lab.hosts.url_of(lab.identifiers[name])).port


def link_parts(progress: dict) -> tuple[str, dict]:
    parts = urlsplit(progress["interaction_url"])
    return parts._replace(query="").geturl(), parse_qs(parts.query)


def test_the_link_opens_the_ps_socket_and_calls_back_to_the_backend_socket(tmp_path, proxy):
    with Lab(data_dir=tmp_path) as lab:
        progress = asked_for_consent(lab)
        page, query = link_parts(progress)
        assert page == f"{lab.url('ps')}/interaction" and page.startswith("http://127.0.0.1:")
        assert query["code"] == [progress["interaction_code"]]
        (callback,) = query["callback"]
        assert (
            callback
            == progress["callback_url"]
            == f"{lab.url('backend')}/callback?request_id=" + (progress["request_id"])
        )
        assert check_callback_url(callback) == callback


def test_behind_a_jupyter_server_the_link_goes_through_its_proxy(tmp_path, proxy):
    proxy("http://127.0.0.1:8888/")
    with Lab(data_dir=tmp_path) as lab:
        page, query = link_parts(asked_for_consent(lab))
        assert page == f"http://127.0.0.1:8888/proxy/{port(lab, 'ps')}/interaction"
        (callback,) = query["callback"]
        assert callback.startswith(f"http://127.0.0.1:8888/proxy/{port(lab, 'backend')}/callback?request_id=")
        assert check_callback_url(callback) == callback


def test_behind_a_proxy_known_by_its_path_only_the_link_has_no_callback(tmp_path, proxy):
    """A path names no host, so the PS would refuse it as a callback: the link goes without
    one (the PS's page then says the window can be closed; the backend's page goes on)."""
    proxy("/user/ada/")
    with Lab(data_dir=tmp_path) as lab:
        progress = asked_for_consent(lab)
        page, query = link_parts(progress)
        assert page == f"/user/ada/proxy/{port(lab, 'ps')}/interaction"
        assert "callback" not in query
        assert progress["callback_url"].startswith(f"/user/ada/proxy/{port(lab, 'backend')}/callback?")


def test_the_ps_takes_the_backends_callback_and_still_refuses_a_foreign_one(tmp_path, proxy):
    with Lab(data_dir=tmp_path) as lab, lab.hosts.client() as browser:
        progress = asked_for_consent(lab)
        page = f"{lab.identifiers['ps']}/interaction"
        code = progress["interaction_code"]
        own = browser.get(page, params={"code": code, "callback": progress["callback_url"]})
        assert own.status_code == 200 and 'name="password"' in own.text  # on to the sign-in
        for foreign in ("http://backend.example.org/callback", "javascript:alert(1)", "/callback"):
            refused = browser.get(page, params={"code": code, "callback": foreign})
            assert refused.status_code == 400, (foreign, refused.status_code)
            assert "not a callback" in refused.text
