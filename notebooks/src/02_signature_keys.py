# %% [markdown]
# # 02 · Signature keys: `hwk`, `jwks_uri`, `jwt`
#
# Notebook 01 showed that a signature proves "whoever holds key K signed exactly these
# parts of the request". That leaves two questions for the server:
#
# 1. **Which key?** — the public key it should verify with;
# 2. **Whose key?** — what it knows about the holder: nothing, a server's name, or an
#    agent vouched for by its provider.
#
# The **`Signature-Key`** header answers both (draft-hardt-httpbis-signature-key-09, "SK"
# below). Like `Signature-Input` it is a dictionary keyed by the signature label; each
# member names a **scheme** and carries its data as parameters:
#
# | scheme | `Signature-Key` example | the server learns | in AAuth |
# | --- | --- | --- | --- |
# | `hwk` (Signature Keys -09 "Header Web Key (hwk)") | `sig=hwk;kty="OKP";crv="Ed25519";x="…";alg="Ed25519"` | a bare key: a **pseudonym** | not accepted from agents |
# | `jwks_uri` ("JWKS URI Discovery (jwks_uri)") | `sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json";kid="ps"` | a **server identity**, via discovery | servers signing in their own right |
# | `jwt` ("JWT Confirmation Key (jwt)") | `sig=jwt;jwt="eyJ…"` | whatever the token's issuer vouches for | **every agent request** |
#
# This notebook tries each one against the live cast.

# %%
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.show import raw, show

lab = Lab()
SCA, PS = lab.identifiers["supply_chain"], lab.identifiers["ps"]


def get_inventory():
    """An unsigned GET /inventory at the supply-chain agent, ready to be signed."""
    return HttpMessage(method="GET", target_uri=f"{SCA}/inventory", headers=[("Host", "supply-chain.example")])

# %% [markdown]
# ## 1. `hwk`: a bare key, a pseudonym (Signature Keys -09 "Header Web Key (hwk)")
#
# The simplest scheme puts the public key itself in the header: the JWK members `kty`,
# `crv`, `x` and — required since SK -08 — a fully-specified `alg` (`Ed25519`, never the
# ambiguous `EdDSA`). A `kid` must not appear: there is nobody to look it up at.

# %%
from aauth_kit.signature_key import hwk_key

key = lab.key("pseudonym")
print("Signature-Key:", hwk_key(key).to_member())

# %% [markdown]
# The server learns a key and nothing else. But a key is a good **pseudonym**: the same
# client signing with the same key is recognisable on every request, without ever saying
# who it is. To use a key as a name you need a short, canonical form of it: its
# **JWK thumbprint** (RFC 7638 §3):
#
# 1. keep only the key type's required members (for an Ed25519 key `crv`, `kty`, `x` —
#    not `alg`, not `kid`);
# 2. write them as JSON with the names in sorted order and no whitespace;
# 3. hash with SHA-256, encode as base64url without padding.

# %%
import base64
import hashlib
import json

jwk = key.public_jwk()
print("public JWK:     ", jwk)
required = {name: jwk[name] for name in ("crv", "kty", "x")}
canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
print("canonical JSON: ", canonical)
thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
print("thumbprint:     ", thumbprint)
print("same as key.thumbprint():", thumbprint == key.thumbprint())

# %% [markdown]
# RFC 8037 (Ed25519 keys in JOSE) publishes a test key and its thumbprint in Appendix A.3.
# The literals below are from the RFC; the kit gives the RFC's answer:

# %%
from aauth_kit.keys import jwk_thumbprint

RFC_8037_A3_KEY = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC_8037_A3_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
print(jwk_thumbprint(RFC_8037_A3_KEY), jwk_thumbprint(RFC_8037_A3_KEY) == RFC_8037_A3_THUMBPRINT)

# %% [markdown]
# Now let a verifier see three `hwk` requests: two from our key (half a minute apart, to
# different paths), one from another key. `profile.verify_hwk` checks each one the
# AAuth way, taking the key from the header. The thumbprint is what the verifier can
# remember the client by.

# %%
from aauth_kit.profile import verify_hwk

other_key = lab.key("someone-else")
now = int(lab.clock())
seen = []
for signer, path, when in ((key, "/inventory", now - 30), (key, "/check", now), (other_key, "/inventory", now)):
    message = HttpMessage(method="GET", target_uri=f"{SCA}{path}", headers=[("Host", "supply-chain.example")])
    sign_request(message, signer, hwk_key(signer), created=when)
    verified = verify_hwk(message, now=now)
    seen.append(verified.key.thumbprint())
    print(f"GET {path:11} created {now - when:2d} s ago → verified, signer's pseudonym {seen[-1]}")
print("first two from the same client:", seen[0] == seen[1], "| third from the same client:", seen[0] == seen[2])

# %% [markdown]
# ### Why AAuth agents cannot use `hwk`
#
# A pseudonym is not enough for an AAuth resource: it must know **which agent** calls (and
# later, for which person and with what permission), and all of that comes in tokens.
# So AAuth requires agents to sign with the `jwt` scheme (-11 "HTTP Message Signatures
# Profile"), and a resource answers any other scheme with `unsupported_scheme`, telling
# the client what it accepts in `Accept-Signature-Scheme` (-11 "Signature-Key Scheme Rejection"). Let's try, live:

# %%
message = get_inventory()
sign_request(message, key, hwk_key(key), created=int(lab.clock()))
show(lab.send(message, source="Pseudonym"), now=lab.clock)

# %% [markdown]
# `401`, `Signature-Error: error=unsupported_scheme`, `Accept-Signature-Scheme: jwt`.
# The resource checked the scheme at step 4 of the draft's verification order — before
# any cryptography. (Where does `hwk` appear in AAuth at all? Only where no token exists
# yet: the draft leaves it to each Agent Provider how a new agent first gets its token,
# and the kit's Agent Provider takes an `hwk`-signed registration. Notebook 03.)

# %% [markdown]
# ## 2. `jwks_uri`: a server, identified by discovery (Signature Keys -09 "JWKS URI Discovery (jwks_uri)")
#
# Servers sign requests too: a Person Server revoking a token at a resource, or asking an
# Access Server for an auth token. They sign **in their own right**, with the key they
# publish. The `jwks_uri` scheme names:
#
# * `id` — the signer's server identifier, e.g. `https://ps.example`;
# * `dwk` — the well-known metadata document to look in, e.g. `aauth-person.json`;
# * `kid` — which key of the signer's key set.
#
# The verifier **discovers** the key: fetch `{id}/.well-known/{dwk}`, check that its
# `issuer` equals `id` byte for byte, fetch the document's `jwks_uri`, pick the key whose
# `kid` matches. We do it by hand first, live, as a "Verifier":

# %%
from aauth_kit.jwks import select_key

start = lab.trace.mark()
with lab.client(source="Verifier") as client:
    metadata = client.get(f"{PS}/.well-known/aauth-person.json").json()  # 1. the metadata document
    key_set = client.get(metadata["jwks_uri"]).json()  # 2. the key set it points to
ps_key = select_key(key_set, "ps")  # 3. the key with the kid
print("1. metadata issuer:", metadata["issuer"], "| equals id:", metadata["issuer"] == PS)
print("2. JWKS at", metadata["jwks_uri"], "holds kids", [k["kid"] for k in key_set["keys"]])
print("3. the key with kid 'ps':", ps_key.public_jwk())
show(lab.trace.find(source="Verifier", since=start), now=lab.clock)

# %% [markdown]
# Now a request signed by the PS in its own right — the kind of body the PS sends when
# it revokes a token (-11 "Token Revocation"; we only build and verify it here, the lab's resources
# have no revocation endpoint) — and verified by the kit's `profile.verify_request`,
# which accepts only the schemes it is told to. Its key resolver does the same
# discovery over the lab's network; we give it a `fetch` that goes through a traced
# client so that its requests show up in the trace. `verify_request` is a coroutine: a
# notebook cell can `await` it directly (never `asyncio.run` in a notebook).

# %%
from aauth_kit.jwks import HttpResolver
from aauth_kit.profile import verify_request
from aauth_kit.signature_key import jwks_uri_key


async def fetch(url):
    async with lab.async_client(source="Verifier") as client:
        response = await client.get(url)
    return response.status_code, dict(response.headers), response.content


def revocation(signer, signature_key):
    message = HttpMessage(method="POST", target_uri=f"{SCA}/revoke", headers=[("Host", "supply-chain.example")],
                          body=b'{"jti": "auth-0042", "exp": 1790003600}')
    sign_request(message, signer, signature_key, created=int(lab.clock()))
    return message


resolver = HttpResolver(fetch, dev=lab.dev)
first = lab.trace.mark()
by_ps = revocation(lab.keys["ps"], jwks_uri_key(PS, "aauth-person.json", "ps"))
print(raw(by_ps))
verified = await verify_request(by_ps, resolver=resolver, now=int(lab.clock()), accept_schemes=("jwks_uri",),
                                body_required=True)
print("✔ verified:", verified.scheme, "| signer", verified.signature_key.params["id"],
      "| key thumbprint", verified.key.thumbprint())
print("the resolver fetched:", [exchange.summary() for exchange in lab.trace.find(since=first)])

# %% [markdown]
# The identity is only as good as the discovery. Three ways to get it wrong, each
# answered with its own `Signature-Error` code (Signature Keys -09 "Error Codes"):

# %%
from IPython.display import Markdown

from aauth_kit.errors import AAuthError

attempts = [
    ("a `kid` the PS does not publish", lab.keys["ps"], jwks_uri_key(PS, "aauth-person.json", "old-key")),
    ("an `id` that publishes no `aauth-person.json`", lab.keys["ps"],
     jwks_uri_key(lab.identifiers["market_analysis"], "aauth-person.json", "ps")),
    ("the supply-chain agent's key, claiming to be the PS", lab.keys["supply_chain"],
     jwks_uri_key(PS, "aauth-person.json", "ps")),
]
rows = ["| attempt | `Signature-Error` | detail |", "| --- | --- | --- |"]
for what, signer, signature_key in attempts:
    try:
        await verify_request(revocation(signer, signature_key), resolver=resolver, now=int(lab.clock()),
                             accept_schemes=("jwks_uri",), body_required=True)
        rows.append(f"| {what} | — | verified |")
    except AAuthError as error:
        rows.append(f"| {what} | `{error.code}` | {error.detail} |")
Markdown("\n".join(rows))

# %% [markdown]
# The last row is the point of `jwks_uri`: anyone can *write*
# `id="https://ps.example"`, but only the holder of the PS's private key can produce a
# signature that verifies with the key the PS publishes. (The resolver caches metadata
# and key sets for their `max-age`; an unknown `kid` triggers at most one re-fetch, so a
# server can rotate keys.)

# %% [markdown]
# ## 3. `jwt`: the key inside a token (Signature Keys -09 "JWT Confirmation Key (jwt)")
#
# An agent is not a server with a well-known address. Its **Agent Provider** vouches for
# it instead, with an **agent token**: a JWT the AP signs, whose `sub` is the agent's
# identifier and whose `cnf.jwk` claim ("confirmation key", RFC 7800) is the agent's
# public key. The agent puts the whole token in `Signature-Key: sig=jwt;jwt="…"` and signs
# the request with the matching private key.

# %%
from aauth_kit.show import decoded
from aauth_kit.jws import decode_unverified

agent = lab.new_agent("notebook")
print(decoded(agent.agent_token, now=int(lab.clock())))
cnf_jwk = decode_unverified(agent.agent_token).payload["cnf"]["jwk"]
print()
print("thumbprint of cnf.jwk:        ", jwk_thumbprint(cnf_jwk))
print("thumbprint of the agent's key:", agent.key.thumbprint())
print("same key as hwk would carry:  ", hwk_key(agent.key).params["x"] == cnf_jwk["x"])

# %% [markdown]
# The same key that would be a mere pseudonym in `hwk` now comes with a name
# (`aauth:notebook@ps.example`) that an issuer stands behind. Verifying a `jwt` request
# takes two checks (Signature Keys -09 "JWT Confirmation Key (jwt)"; -11 "Agent Token Verification"):
#
# 1. **the token**: its `typ`, its issuer's signature — found by discovery at
#    `{iss}/.well-known/{dwk}`, here `https://ps.example/.well-known/aauth-agent.json` —
#    and its expiry;
# 2. **the request**: its signature, with the key in `cnf.jwk`.
#
# The supply-chain agent does both on every request. Here is the agent's request, live:

# %%
with lab.client(agent) as client:
    client.get(f"{SCA}/inventory")
show(lab.trace.last(path="/inventory"), now=lab.clock)

# %% [markdown]
# And the same verification run by our own Verifier, so that the discovery shows up in
# the trace (the supply-chain agent's resolver made the same fetches, untraced):

# %%
from aauth_kit.signature_key import jwt_key
from aauth_kit.claims import AGENT_TYP

message = get_inventory()
sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
first = lab.trace.mark()
verified = await verify_request(message, resolver=HttpResolver(fetch, dev=lab.dev), now=int(lab.clock()),
                                accept_schemes=("jwt",), token_types=(AGENT_TYP,))
print("✔ 1. token:  ", verified.token.typ, "signed by", verified.token.iss, "for", verified.token.sub)
print("✔ 2. request: signed by the key in cnf.jwk, thumbprint", verified.key.thumbprint())
print("the resolver fetched:", [exchange.summary() for exchange in lab.trace.find(since=first)])

# %% [markdown]
# ## 4. Why the token must be bound to the key
#
# What if Mallory copies our agent's token — from a log file, say — and signs with her
# own key? The token verifies (it is genuine), but the request signature does not: the
# server checks it with the key **in the token**, and Mallory does not have that key.

# %%
mallory_key = lab.key("mallory")
stolen = get_inventory()
sign_request(stolen, mallory_key, jwt_key(agent.agent_token), created=int(lab.clock()))
show(lab.send(stolen, source="Mallory"), now=lab.clock, tokens=False)

# %% [markdown]
# `invalid_signature`. This is what makes AAuth tokens *proof-of-possession* tokens
# rather than bearer tokens: a token is useless without its key.
#
# Everything this notebook sent, drawn from the trace:

# %%
from aauth_kit.diagram import SequenceDiagram

SequenceDiagram(lab.trace, title="Signature-Key schemes, live",
                parties=["Pseudonym", "Agent", "Mallory", "Supply chain", "Verifier", "PS", "Market analysis"])

# %% [markdown]
# ## 5. Exercises
#
# **Q1 · a JWK thumbprint.** Write `my_thumbprint(jwk)` returning the RFC 7638 SHA-256
# thumbprint (base64url, no padding) of a JWK — with `hashlib`, `json` and `base64`, not
# the kit. The checker tries the RFC 8037 and RFC 7638 examples, an ES256 key, a JWK with
# extra members and a private JWK.

# %%
from aauth_kit.exercises import nb02 as ex


def my_thumbprint(jwk):
    ...  # your code here: return the thumbprint as a str


ex.q1.check(my_thumbprint)

# %% [markdown]
# **Q2 · pick the scheme.** For each scenario, which `Signature-Key` scheme fits:
# `"hwk"`, `"jwks_uri"` or `"jwt"`?

# %%
print(ex.scenarios())

# %%
answer = {"a": ..., "b": ..., "c": ..., "d": ..., "e": ..., "f": ...}

ex.q2.check(answer)

# %% [markdown]
# ## Summary
#
# * `Signature-Key` tells the verifier which key signed, and what is known about its
#   holder.
# * `hwk`: a bare key; its RFC 7638 thumbprint is a stable pseudonym. AAuth resources
#   refuse it from agents with `unsupported_scheme` + `Accept-Signature-Scheme: jwt`.
# * `jwks_uri`: a server's own key, found by discovery (`issuer` must equal `id`);
#   unknown `kid` → `unknown_key`, no such document → `invalid_key`, wrong key →
#   `invalid_signature`.
# * `jwt`: a token whose `cnf.jwk` is the signing key — how every AAuth agent signs. A
#   stolen token without its key is worthless.
#
# Next, notebook 03: where the agent token comes from.
