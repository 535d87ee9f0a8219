"""What the probe sends: requests signed the AAuth way (-11 "Signing (Agent)"), each
helper changing one thing, with the probe's agent key and agent token
(-11 "Agent Token Structure").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import jws, tokens
from ..keys import Key
from ..message import HttpMessage
from ..profile import sign_request
from ..signature_key import SignatureKey, jwt_key
from .agent_provider import AgentProvider

#: Where a probe-made agent token says it comes from when no Agent Provider runs:
#: a name that never resolves (RFC 2606), so no resource can fetch its keys.
UNTRUSTED_ISSUER = "https://agent-provider.invalid"


@dataclass
class Prober:
    """The requests of one probe run: the target, the probe's agent key and token.

    ``agent_provider`` is an :class:`AgentProvider` the resource trusts, or ``None``:
    then the probe's token names :data:`UNTRUSTED_ISSUER`, which nobody can verify.
    """

    url: str
    method: str = "GET"
    body: bytes = b""
    agent_provider: AgentProvider | None = None
    clock: Callable[[], float] = time.time
    key: Key = field(default_factory=lambda: Key.generate(kid="probe-agent"))
    other_key: Key = field(default_factory=lambda: Key.generate(kid="probe-other"))

    token: str = field(init=False)  # the agent token every well-formed request presents
    token_key: Key = field(init=False)  # the key that signed it

    def __post_init__(self):
        if self.agent_provider is not None:
            self.token = self.agent_provider.agent_token(self.key)
            self.token_key = self.agent_provider.ps.key
        else:
            now = self.now()
            self.token_key = self.key
            self.token = tokens.mint_agent_token(
                self.key,
                iss=UNTRUSTED_ISSUER,
                sub="aauth:probe@agent-provider.invalid",
                cnf=self.key.public_jwk(kid=False),
                iat=now,
                exp=now + 3600,
            )

    def now(self) -> int:
        return int(self.clock())

    def message(self, *, body: bytes | None = None, url: str | None = None) -> HttpMessage:
        body = self.body if body is None else body
        fields = [("Content-Type", "application/json")] if body else []
        return HttpMessage(method=self.method, target_uri=url or self.url, headers=fields, body=body)

    def signed(
        self,
        *,
        signature_key: SignatureKey | None = None,
        key: Key | None = None,
        created: int | None = None,
        components: list[str] | None = None,
        body: bytes | None = None,
        url: str | None = None,
    ) -> HttpMessage:
        """A request signed the AAuth way (-11 profile), each argument changing one thing."""
        message = self.message(body=body, url=url)
        sign_request(
            message,
            key or self.key,
            signature_key or jwt_key(self.token),
            created=self.now() if created is None else created,
            components=components,
        )
        return message

    def resigned(self, *, header: dict | None = None, **claims) -> str:
        """The probe's agent token with ``header`` members and ``claims`` changed, signed
        again by its issuer's key (so only the change is wrong with it)."""
        decoded = jws.decode_unverified(self.token)
        return jws.sign_compact(
            {**decoded.header, **(header or {})}, {**decoded.payload, **claims}, self.token_key
        )
