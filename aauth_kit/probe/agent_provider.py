"""The Agent Provider a probed resource may trust: the kit's Person Server in its Agent
Provider role, issuing the probe's agent tokens (-11 "Agent Token Structure") and, as the
agent's PS, its person tokens (-11 "Person Token").
"""

from __future__ import annotations

import socket
import tempfile
import time

from .. import tokens
from ..keys import Key

#: The person the probe's person and auth tokens name.
PROBE_PERSON = "probe-person"


def loopback_port() -> int:
    """A free port on 127.0.0.1 (for a dev-mode identifier)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AgentProvider:
    """The kit's Agent Provider (the Person Server's AP role, -11 "Agent Token Structure") served
    on ``hosts`` as ``identifier``, so that a resource which trusts it accepts the
    probe's agent tokens.  :meth:`close` releases its store; the owner of ``hosts``
    stops the server."""

    LOCAL = "probe"

    def __init__(self, hosts, identifier: str, *, port: int = 0, dev: bool = False, clock=time.time):
        from ..jwks import HttpResolver
        from ..servers.ps import PersonServer

        self._dir = tempfile.TemporaryDirectory(prefix="aauth-probe-ap-")
        self.identifier = identifier
        self.dev = dev
        self.ps = PersonServer(
            identifier,
            key=Key.generate(kid="probe-ap"),
            resolver=HttpResolver(hosts.fetch(), dev=dev),
            data_dir=self._dir.name,
            dev=dev,
            clock=clock,
            name="aauth-kit probe",
        )
        try:
            hosts.add(identifier, self.ps.app, port=port)
        except BaseException:
            self.close()
            raise

    @classmethod
    def on_loopback(cls, hosts, *, port: int = 0, clock=time.time) -> AgentProvider:
        """Dev mode: served at ``http://127.0.0.1:PORT`` (a free port unless ``port``), an
        identifier a resource in dev mode accepts (kit decision)."""
        port = port or loopback_port()
        return cls(hosts, f"http://127.0.0.1:{port}", port=port, dev=True, clock=clock)

    def agent_token(self, agent_key: Key) -> str:
        """A fresh agent token binding ``agent_key`` (``cnf.jwk``)."""
        return self.ps.issue_agent_token(self.LOCAL, agent_key)

    def person_token(self, agent_key: Key, aud: str, *, now: int) -> str:
        """A person token for resource ``aud`` binding ``agent_key`` (-11 "Person Token"), so the
        probe can go past ``requirement=person-token``."""
        return tokens.mint_person_token(
            self.ps.key,
            iss=self.identifier,
            aud=aud,
            sub=PROBE_PERSON,
            cnf=agent_key.public_jwk(kid=False),
            iat=now,
            exp=now + 300,
            dev=self.dev,
        )

    def close(self) -> None:
        self.ps.close()
        self._dir.cleanup()
