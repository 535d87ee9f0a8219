"""Shared fixtures: paths to the conformance vectors, pinned keys."""

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VECTORS = SHARED / "vectors"


def load_vector(relative: str):
    return json.loads((VECTORS / relative).read_text())


@pytest.fixture
def rfc_key():
    """RFC 9421 B.1.4 test-key-ed25519 (private)."""
    from aauth_kit.keys import Key

    return Key.from_jwk(load_vector("rfc9421/test-key-ed25519.jwk.json"))


@pytest.fixture
def b26_request():
    from aauth_kit.message import parse_raw_request

    return parse_raw_request((VECTORS / "rfc9421/B.2-test-request.http").read_bytes())
