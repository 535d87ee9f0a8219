"""The cast's pages through a real JupyterLab's jupyter-server-proxy, in headless Chromium:
what a student on JupyterHub or Binder does, whose browser cannot reach 127.0.0.1.

The JupyterLab server runs with ``AAUTH_KIT_SERVER_PROXY=/`` (as JupyterHub's
``JUPYTERHUB_SERVICE_PREFIX`` would say), so its kernel's lab shows its pages as links
through the server (``/proxy/PORT/...``).  The test runs a notebook, clicks the consent
link in its output, signs in and approves on the proxied consent page; then it clicks the
backend link and starts a job on the proxied backend page (its job API passes the origin
check through the proxy).
"""

from __future__ import annotations

import nbformat
import pytest

from aauth_kit.server_proxy import HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV, PROXY_ENV

from .jupyterlab import NotebookPage, start_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]  # hang guard for server start-up plus a notebook

CELLS = [
    """\
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
agent = lab.new_agent("notebook", justification="Weekly laptop reorder")


async def optimize():
    async with lab.async_client(agent) as client:
        return await client.post(f"{lab.identifiers['supply_chain']}/optimize", json={"prompt": "Optimize"})


flow = get_loop_thread().submit(optimize())
interaction = wait_until(lambda: agent.last_interaction, flow=flow, what="the interaction code")
held_poll(lab.ps, interaction.code, flow=flow)
print("code", interaction.code)""",
    'lab.link("ps", f"/interaction?code={interaction.code}")',
    'lab.link("backend")',
]


@pytest.fixture(scope="module")
def jupyterlab(chromium, tmp_path_factory):
    """A JupyterLab (with jupyter-server-proxy) whose kernels run behind its proxy at ``/``."""
    workdir = tmp_path_factory.mktemp("jupyterlab-proxy")
    root = workdir / "notebooks"
    root.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "proxy.ipynb")
    with pytest.MonkeyPatch.context() as environment:  # the server's environment, which its kernels inherit
        environment.delenv(HUB_PREFIX_ENV, raising=False)
        environment.delenv(HUB_PUBLIC_URL_ENV, raising=False)
        environment.setenv(PROXY_ENV, "/")
        server = start_jupyterlab(root, workdir / "server")
    yield server
    server.stop()


@pytest.fixture
def lab_page(chromium):
    with chromium.page(viewport={"width": 1280, "height": 900}) as page:
        page.set_default_timeout(60_000)  # a hang guard, not a timed assertion
        yield page


def open_link(page, output):
    """Click the one link in a cell's output; the page it opens in a new tab."""
    link = output.get_by_role("link")
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    return link.get_attribute("href"), tab


def test_consent_and_backend_pages_through_the_jupyter_server(jupyterlab, lab_page):
    nb = NotebookPage(lab_page, jupyterlab, "proxy.ipynb").open()
    nb.run("notebook:run-all-cells")
    code = nb.output(0).inner_text().split("code", 1)[1].strip()

    # the consent page: sign in as the seed's person, see the request, approve it
    href, consent = open_link(lab_page, nb.output(1))
    assert href.startswith("/proxy/") and href.endswith(f"/interaction?code={code}")
    assert consent.url.startswith(f"{jupyterlab.base_url}/proxy/")
    consent.fill("#username", "mcp-user")
    consent.fill("#password", "user123")
    consent.click("button[type=submit]")  # posted through the proxy, redirected under its prefix
    consent.wait_for_selector("button[value=approve]")
    body = consent.text_content("body")
    assert "Do you allow this?" in body and "supply-chain:optimize" in body and code in body
    assert consent.url == f"{jupyterlab.base_url}{href}"
    consent.click("button[value=approve]")
    consent.get_by_text("You approved the request.").wait_for()
    consent.close()

    # the backend page: its button starts a job through the proxy, which then asks for consent
    href, backend = open_link(lab_page, nb.output(2))
    assert href.startswith("/proxy/") and href.endswith("/")
    assert backend.text_content("h1") == "Laptop supply chain"
    backend.click("#optimize")
    backend.wait_for_selector("#consent:not([hidden])")
    assert backend.text_content("#status") == "interaction_required"
    assert backend.text_content("#code")
