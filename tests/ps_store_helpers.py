"""What the tests of the Person Server's store share: a fixed clock, the fixtures
``clock``, ``path`` and ``store`` (a fresh SQLite file) and a pending request to work on."""

from __future__ import annotations

import pytest
from aauth_kit.servers.ps.store import PSStore

AGENT = "aauth:backend@backend.example"
AP = "https://backend.example"  # its Agent Provider
JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
OTHER_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


class Clock:
    def __init__(self, now=1_770_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def store_fixtures():
    """The fixtures ``clock``, ``path`` and ``store``: ``clock, path, store = store_fixtures()``."""

    @pytest.fixture(name="clock")
    def clock_fixture():
        return Clock()

    @pytest.fixture(name="path")
    def path_fixture(tmp_path):
        return tmp_path / "data" / "ps.sqlite3"

    @pytest.fixture(name="store")
    def store_fixture(path, clock):
        with PSStore(path, clock=clock) as s:
            yield s

    return clock_fixture, path_fixture, store_fixture


def new_pending(store, code="A1B2-C3D4", **kw):
    args = dict(
        agent_id=AGENT,
        agent_iss=AP,
        agent_jkt=JKT,
        request={"resource_token": "eyJ...", "scope": "data.read"},
    )
    return store.create_pending("auth_token", code=code, **args | kw)
