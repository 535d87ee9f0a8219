"""Root pytest configuration: notebooks (nbval) run their labs in docs mode, so the
committed outputs compare exactly (docs mode fixes the clock, keys and ids); every other test chooses
its own mode."""

import os

import pytest

DOCS_ENV = "AAUTH_KIT_DOCS"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before nbval's collector starts the notebook's kernel, which inherits the environment
    if str(item.path).endswith(".ipynb"):
        os.environ[DOCS_ENV] = "1"
    else:
        os.environ.pop(DOCS_ENV, None)
