"""M8: a restart keeps identity.  The whole cast is stopped and started again on the same data
directory (real loopback sockets): the servers' keys, the pairwise ``sub``, the person's
tokens and the agent's pending request all carry over; every file of state is owner-only.
"""

from __future__ import annotations

import json
import stat

from aauth_kit import jws
from aauth_kit.key_files import load_or_create
from aauth_kit.lab import KEYS_DIR, Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.serve import describe
from aauth_kit.signature_key import jwt_key

SCA = "https://supply-chain.example"
PS = "https://ps.example"


def _signed(lab, agent, method, url, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    headers = [("Content-Type", "application/json")] if body is not None else []
    message = HttpMessage(method, url, headers, data)
    sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
    return lab.send(message).response


def _signed_in(lab):
    client = lab.client(source="Person")
    session = client.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"}).json()
    client.headers["Authorization"] = f"Bearer {session['session']}"
    return client


def test_m8_a_restart_on_the_same_data_dir_keeps_identity(tmp_path):
    """Before the fix every start made new keys: after a restart the token list was empty,
    old tokens could not be revoked, the person had a second ``sub`` and the agent's poll with
    its agent token was ``invalid_jwt``."""
    with Lab(data_dir=tmp_path) as first:
        agent = first.new_agent("restarted")
        keys = {name: key.thumbprint() for name, key in first.keys.items()}
        sub = first.ps.subject("mcp-user", SCA)
        issued = _signed(first, agent, "POST", f"{PS}/person-token", {"resource": SCA})
        jti = jws.decode_unverified(json.loads(issued.body)["person_token"]).payload["jti"]
        waiting = _signed(first, agent, "POST", f"{PS}/mission", {"description": "Keep going."})
        assert waiting.status == 202
        pending_url = waiting.header("location")

    with Lab(data_dir=tmp_path) as second:
        assert {name: key.thumbprint() for name, key in second.keys.items()} == keys
        assert second.ps.subject("mcp-user", SCA) == sub
        person = _signed_in(second)
        assert jti in [t["jti"] for t in person.get(f"{PS}/tokens").json()]
        revoked = person.post(f"{PS}/tokens/{jti}/revoke")
        assert revoked.status_code == 200 and revoked.json() == {
            "jti": jti,
            "revoked": True,
            "downstream": [],
        }
        person.close()
        poll = _signed(second, agent, "GET", pending_url)
        assert poll.status == 202, poll.body  # still waiting for the person; not invalid_jwt


def test_m8_state_files_are_owner_only(tmp_path):
    """The keys and the SQLite file: 0600; the directories the kit creates: 0700."""
    data = tmp_path / "state"
    with Lab(mode="asgi", data_dir=data):
        pass
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / KEYS_DIR).stat().st_mode) == 0o700
    files = [*(data / KEYS_DIR).iterdir(), data / "ps.sqlite3"]
    assert len(files) == 8 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_m8_loose_files_left_from_before_are_tightened(tmp_path):
    """Keys and the SQLite file made 0644 (by an older kit, or copied in) are owner-only
    again once the cast opens them."""
    data = tmp_path / "state"
    with Lab(mode="asgi", data_dir=data):
        pass
    loose = [*(data / KEYS_DIR).iterdir(), data / "ps.sqlite3"]
    for path in loose:
        path.chmod(0o644)
    with Lab(mode="asgi", data_dir=data):
        pass
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in loose} == {
        path.name: 0o600 for path in loose
    }


def test_m8_a_key_file_is_read_back_as_written(tmp_path):
    key = load_or_create(tmp_path / "k", "ps", kid="ps")
    again = load_or_create(tmp_path / "k", "ps", kid="ps")
    assert (again.thumbprint(), again.kid, again.has_private) == (key.thumbprint(), "ps", True)


def test_m8_serve_says_where_temporary_state_lives(tmp_path):
    """Without ``--data-dir`` the banner says the state is temporary; with one it does not."""
    with Lab(mode="asgi") as lab:
        assert "temporary" in describe(lab) and str(lab.data_dir) in describe(lab)
    with Lab(mode="asgi", data_dir=tmp_path) as lab:
        assert "temporary" not in describe(lab)
