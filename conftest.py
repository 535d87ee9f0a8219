"""Root pytest configuration: notebooks (nbval) run their labs in docs mode, so the
committed outputs compare exactly (docs mode fixes the clock, keys and ids); every other test chooses
its own mode."""

import os

import pytest

from aauth_kit.server_proxy import HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV, PROXY_ENV

DOCS_ENV = "AAUTH_KIT_DOCS"

# The cast's URLs are its loopback ones in every test and notebook, also when the suite runs
# in a JupyterHub terminal (there a kernel would show them through the server's proxy).
for name in (PROXY_ENV, HUB_PREFIX_ENV, HUB_PUBLIC_URL_ENV):
    os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before nbval's collector starts the notebook's kernel, which inherits the environment
    if str(item.path).endswith(".ipynb"):
        os.environ[DOCS_ENV] = "1"
    else:
        os.environ.pop(DOCS_ENV, None)
