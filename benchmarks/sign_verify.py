"""Benchmark 1: sign + verify one AAuth-profile request.

The request: ``POST https://resource.example/check`` with a JSON body, Ed25519, the
``jwt`` scheme presenting an agent token (``Signature-Key: sig=jwt;jwt="…"``), covering
``@method @authority @path content-type content-digest signature-key``.  One operation
is signing it and verifying it, each contender building its own request from the
same body:

* ``kit`` — :func:`profile.sign_request` + :func:`profile.verify_request` (all seven
  steps, the agent token verified against the Agent Provider's JWKS, keys cached);
* ``raw`` — ``cryptography`` Ed25519 ``sign`` + ``verify`` over the kit's signature
  base bytes, nothing else: the physical limit;
* ``aauth-signing`` — its ``sign_request`` + ``verify_signature`` (it verifies the
  token too, through a JWKS callback that returns the JWKS at once);
* ``http-message-signatures`` — its signer and verifier (generic RFC 9421: it does
  not know ``Signature-Key``, so the key is handed to it and the token is not checked,
  and it needs a ``keyid``).

Every body differs (a counter), so no contender can reuse an earlier signature.  The
bodies are made before the clock starts, as the raw contender's bases are: every
contender times only the signing and verifying.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from aauth_kit import metadata, profile, tokens
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.signature_key import jwt_key

from .harness import Settings, best_rates

URL = "https://resource.example/check"
AGENT_PROVIDER = "https://agents.example"
COMPONENTS = ("@method", "@authority", "@path", "content-type", "content-digest", "signature-key")
PEERS = ("aauth-signing", "http-message-signatures")


@dataclass
class Request:
    """The request shape ``http-message-signatures`` signs and verifies."""

    method: str
    url: str
    headers: dict


def body(i: int) -> bytes:
    return json.dumps({"prompt": "check the laptop supply chain", "request": i}).encode()


def bodies(n: int) -> list[bytes]:
    return [body(i) for i in range(n)]


class Setup:
    """Keys, the agent token, a resolver that has already fetched the AP's keys and the
    ``batch`` request bodies."""

    def __init__(self, batch: int):
        self.bodies = bodies(batch)
        self.ap_key = Key.generate(kid="ap-1")
        self.agent_key = Key.generate()
        self.now = int(time.time())
        self.token = tokens.mint_agent_token(
            self.ap_key,
            iss=AGENT_PROVIDER,
            sub="aauth:bench@agents.example",
            cnf=self.agent_key,
            iat=self.now,
            exp=self.now + 3600,
        )
        self.jwks = jwks([self.ap_key])
        documents = {
            metadata.well_known_url(AGENT_PROVIDER, metadata.AGENT_DWK): metadata.agent_metadata(
                AGENT_PROVIDER, f"{AGENT_PROVIDER}/jwks.json"
            ),
            f"{AGENT_PROVIDER}/jwks.json": self.jwks,
        }

        async def fetch(url):
            return 200, {"cache-control": "max-age=3600"}, json.dumps(documents[url]).encode()

        self.resolver = HttpResolver(fetch)
        self.loop = asyncio.new_event_loop()


def kit_contender(setup: Setup):
    key, signature_key = setup.agent_key, jwt_key(setup.token)

    async def run(n: int) -> None:
        for content in setup.bodies[:n]:
            message = HttpMessage("POST", URL, [("Content-Type", "application/json")], content)
            profile.sign_request(message, key, signature_key, created=setup.now)
            await profile.verify_request(message, resolver=setup.resolver, now=setup.now, body_required=True)

    return lambda n: setup.loop.run_until_complete(run(n))


def kit_bases(setup: Setup, n: int) -> list[bytes]:
    """The kit's signature bases for the first ``n`` bodies."""
    bases = []
    for content in setup.bodies[:n]:
        message = HttpMessage("POST", URL, [("Content-Type", "application/json")], content)
        bases.append(
            profile.sign_request(
                message, setup.agent_key, jwt_key(setup.token), created=setup.now
            ).base.encode()
        )
    return bases


def raw_contender(setup: Setup, bases: list[bytes]):
    private, public = setup.agent_key.crypto_private_key(), setup.agent_key.crypto_public_key()

    def run(n: int) -> None:
        for base in bases[:n]:
            public.verify(private.sign(base), base)

    return run


def aauth_signing_contender(setup: Setup):
    from aauth_signing import sign_request, verify_signature

    private, jwks = setup.agent_key.crypto_private_key(), setup.jwks

    def run(n: int) -> None:
        for content in setup.bodies[:n]:
            headers = {"Content-Type": "application/json"}
            headers.update(
                sign_request(
                    "POST",
                    URL,
                    headers,
                    content,
                    private,
                    sig_scheme="jwt",
                    jwt=setup.token,
                    additional_signature_components=["content-type", "content-digest"],
                )
            )
            ok = verify_signature(
                "POST",
                URL,
                headers,
                content,
                headers["Signature-Input"],
                headers["Signature"],
                headers["Signature-Key"],
                jwks_fetcher=lambda iss, dwk, kid: jwks,
            )
            assert ok, "aauth-signing did not verify its own signature"

    return run


def http_message_signatures_contender(setup: Setup):
    from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms

    kid = setup.agent_key.thumbprint()
    keys = MappingKeyResolver(
        public_keys={kid: setup.agent_key.crypto_public_key()},
        private_keys={kid: setup.agent_key.crypto_private_key()},
    )
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=keys)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=keys)
    member = jwt_key(setup.token).to_member()
    covered = tuple(c for c in COMPONENTS if c != "content-digest")  # body= adds it
    window = timedelta(seconds=60)

    def run(n: int) -> None:
        for content in setup.bodies[:n]:
            request = Request("POST", URL, {"Content-Type": "application/json", "Signature-Key": member})
            signer.sign(
                request,
                key_id=kid,
                label="sig",
                include_alg=False,
                covered_component_ids=covered,
                body=content,
            )
            assert verifier.verify(request, body=content, max_age=window)

    return run


def peer_contenders(setup: Setup) -> tuple[dict, dict]:
    """The installed peers' contenders, and a note for each missing one."""
    found, missing = {}, {}
    for name, build in (
        ("aauth-signing", aauth_signing_contender),
        ("http-message-signatures", http_message_signatures_contender),
    ):
        try:
            found[name] = build(setup)
        except ImportError as exc:
            missing[name] = f"not installed ({exc.name}); pip install -e '.[bench]'"
    return found, missing


def run(settings: Settings) -> dict:
    setup = Setup(settings.sign_verify_batch)
    try:
        contenders = {"kit": kit_contender(setup)}
        contenders["raw"] = raw_contender(setup, kit_bases(setup, settings.sign_verify_batch))
        peers, missing = peer_contenders(setup)
        contenders.update(peers)
        for run_once in contenders.values():  # warm up: key discovery, imports, caches
            run_once(min(20, settings.sign_verify_batch))
        rates = best_rates(contenders, settings.sign_verify_batch, settings.rounds)
    finally:
        setup.loop.close()
    best_peer = max(peers, key=rates.get) if peers else None
    return {
        "sign_verify_ops_per_s": rates["kit"],
        "sign_verify_raw_ops_per_s": rates["raw"],
        **{f"sign_verify_{name.replace('-', '_')}_ops_per_s": rates.get(name) for name in PEERS},
        "sign_verify_ratio_to_raw": rates["kit"] / rates["raw"],
        "sign_verify_best_peer": best_peer,
        "sign_verify_ratio_to_best_peer": rates["kit"] / rates[best_peer] if best_peer else None,
        "notes": {f"sign_verify_{name}": why for name, why in missing.items()},
    }
