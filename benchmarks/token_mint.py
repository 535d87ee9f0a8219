"""Benchmark 2: mint + verify an ``aa-auth+jwt``.

One operation mints a fresh auth token (a new ``jti`` each time, so nothing can be
remembered from an earlier operation) and verifies it:

* ``kit`` — :func:`tokens.mint_auth_token` (the -11 claim rules are applied before
  signing) + :func:`check_token` with the PS key (typ, alg, dwk, signature, exp,
  lifetime, iss, aud, cnf and the auth-token rules);
* ``pyjwt`` — bare ``jwt.encode`` + ``jwt.decode`` of the same claims and header
  (EdDSA: pyjwt's name for Ed25519), checking signature, ``exp`` and ``aud`` only.
"""

from __future__ import annotations

import itertools
import time

import jwt

from aauth_kit import tokens
from aauth_kit.claims import AUTH_TYP
from aauth_kit.keys import Key
from aauth_kit.token_verification import check_token

from .harness import Settings, best_rates

PS = "https://ps.example"
RESOURCE = "https://supply-chain.example"


def run(settings: Settings) -> dict:
    ps_key, agent_key = Key.generate(kid="ps-1"), Key.generate()
    public = ps_key.public()
    now = int(time.time())
    ids = itertools.count()
    cnf = agent_key.public_jwk()

    def kit(n: int) -> None:
        for _ in range(n):
            token = tokens.mint_auth_token(
                ps_key,
                iss=PS,
                aud=RESOURCE,
                ps=PS,
                sub="person-1",
                cnf=cnf,
                scope="supply-chain:check",
                iat=now,
                exp=now + 3600,
                jti=f"t{next(ids)}",
            )
            check_token(token, typ=AUTH_TYP, key=public, now=now, expected_aud=RESOURCE)

    private, verifying = ps_key.crypto_private_key(), ps_key.crypto_public_key()
    header = {"kid": "ps-1", "typ": AUTH_TYP}

    def pyjwt(n: int) -> None:
        for _ in range(n):
            claims = {
                "iss": PS,
                "dwk": "aauth-person.json",
                "jti": f"t{next(ids)}",
                "iat": now,
                "exp": now + 3600,
                "cnf": {"jwk": cnf},
                "aud": RESOURCE,
                "ps": PS,
                "sub": "person-1",
                "scope": "supply-chain:check",
            }
            token = jwt.encode(claims, private, algorithm="EdDSA", headers=header)
            jwt.decode(token, verifying, algorithms=["EdDSA"], audience=RESOURCE)

    contenders = {"kit": kit, "pyjwt": pyjwt}
    for run_once in contenders.values():
        run_once(10)
    rates = best_rates(contenders, settings.token_batch, settings.rounds)
    return {
        "token_ops_per_s": rates["kit"],
        "token_pyjwt_ops_per_s": rates["pyjwt"],
        "token_ratio_to_pyjwt": rates["kit"] / rates["pyjwt"],
    }
