"""The revocations a resource holds (-11 "Token Revocation"): ``(iss, jti)`` of the tokens it
refuses from now on.

A revocation comes over the wire from the issuer of the token, verified as its signer
(:mod:`aauth_kit.resource_endpoints`), or from the application through :meth:`Revocations.revoke`.
One that came over the wire is forgotten once the token has expired (``exp`` + clock skew,
:func:`revocation.keep_until`), so the table drains by itself.  Any Person Server may revoke
its own tokens at a resource, and anyone can publish a Person Server: so one signer holds at
most :data:`MAX_PER_SIGNER` revocations, a tenth of the table, and the table at most
:data:`MAX_REVOCATIONS`; past either the revocation is ``429 rate_limited`` with a
``Retry-After`` saying when that signer's (or anyone's) first entry is forgotten.  -11 is silent
on the sizes; they follow OWASP ASVS level 2 (V11.1.4, anti-automation).
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Collection

from . import revocation
from .errors import AAuthError
from .token_verification import VerifiedToken

#: Revocations a resource keeps at most (each is dropped after the token's ``exp``).
MAX_REVOCATIONS = 100_000
#: Revocations one signer (one Person Server or Access Server) may keep there at most.
MAX_PER_SIGNER = MAX_REVOCATIONS // 10

#: ``revoked`` may be a set of ``(iss, jti)`` or ``check(iss, jti) -> bool`` (sync or async).
RevocationCheck = Callable[[str, str], "bool | Awaitable[bool]"]


class Revocations:
    """``(iss, jti)`` of the tokens a resource refuses (see the module doc)."""

    def __init__(
        self,
        clock: Callable[[], float],
        revoked: Collection[tuple[str, str]] | RevocationCheck | None = None,
        *,
        max_revocations: int = MAX_REVOCATIONS,
        max_per_signer: int = MAX_PER_SIGNER,
    ):
        self.clock = clock
        #: ``(iss, jti)`` of revoked tokens; :meth:`revoke` adds to it.
        self.revoked: set[tuple[str, str]] = set()
        #: When a revocation with a known ``exp`` may be forgotten (``exp`` + skew).
        self.forget_at: dict[tuple[str, str], float] = {}
        self.per_signer: Counter[str] = Counter()  # entries in ``forget_at``, by signer
        self.max_revocations = max_revocations
        self.max_per_signer = max_per_signer
        self.check: RevocationCheck | None = None
        if callable(revoked):
            self.check = revoked
        elif revoked is not None:
            self.revoked.update(revoked)

    async def is_revoked(self, token: VerifiedToken) -> bool:
        """Whether ``(iss, jti)`` was revoked (-11 "Token Revocation": keyed by issuer and ``jti``)."""
        if (token.iss, token.jti) in self.revoked:
            return True
        if self.check is None:
            return False
        answer = self.check(token.iss, token.jti)
        return bool(await answer if inspect.isawaitable(answer) else answer)

    def sweep(self) -> None:
        """Forget the revocations whose token has expired."""
        now = self.clock()
        for key in [key for key, at in self.forget_at.items() if at <= now]:
            del self.forget_at[key]
            self.revoked.discard(key)
            self.per_signer[key[0]] -= 1
            if not self.per_signer[key[0]]:
                del self.per_signer[key[0]]

    def _refuse(self, signer: str | None, held: int, now: float) -> AAuthError:
        """``429 rate_limited``; ``Retry-After``: when the first entry (of ``signer``) is forgotten."""
        first = min((at for (iss, _), at in self.forget_at.items() if signer in (None, iss)), default=now)
        whose = f"{signer} has" if signer else "this resource holds"
        return AAuthError(
            "rate_limited",
            f"{whose} {held} revocations here; try later",
            retry_after=max(1, math.ceil(first - now)),
        )

    def revoke(self, iss: str, jti: str, exp: int | None = None, *, forget: bool = False) -> None:
        """Refuse the token ``(iss, jti)`` from now on.  With ``forget`` (a revocation that
        came over the wire) the entry is dropped once the token has expired (a revocation
        matters until ``exp`` + skew; :func:`revocation.keep_until`); else it stays.

        Raises ``429 rate_limited`` when ``iss`` holds :attr:`max_per_signer` entries or the
        table :attr:`max_revocations`; an entry already held is taken again."""
        self.sweep()
        if not forget:
            self.revoked.add((iss, jti))
            return
        now = self.clock()
        until = revocation.keep_until(exp, now)
        if until <= now:
            return  # the token has expired already: nothing to remember
        if (iss, jti) not in self.revoked:
            if self.per_signer[iss] >= self.max_per_signer:
                raise self._refuse(iss, self.per_signer[iss], now)
            if len(self.revoked) >= self.max_revocations:
                raise self._refuse(None, len(self.revoked), now)
        if (iss, jti) not in self.forget_at:
            self.per_signer[iss] += 1
        self.revoked.add((iss, jti))
        self.forget_at[(iss, jti)] = max(until, self.forget_at.get((iss, jti), until))
