# %% [markdown]
# # 01 · HTTP Message Signatures (RFC 9421)
#
# Most APIs today accept a **bearer token**: whoever holds the token gets in. Copy it
# out of a log file and you *are* the agent. AAuth does not work that way: every request
# an agent sends is **signed with the agent's private key**, and every token it shows
# names that key. A copied token without the key is worth nothing.
#
# The signing scheme is **HTTP Message Signatures, RFC 9421**. This notebook builds an
# RFC 9421 signature by hand, piece by piece, checks it against the RFC's own test
# vector, and then tampers with signed requests to see exactly which check catches what.
#
# The plan:
#
# 1. *components* — the parts of a request a signature can cover (RFC 9421 §2);
# 2. the *signature base* — the exact text that gets signed (§2.5);
# 3. *sign* and *verify* (§3.1, §3.2), and the two headers that carry the result (§4);
# 4. the RFC's own example, reproduced byte for byte (Appendix B.2.6);
# 5. the AAuth rules on top (-11 "HTTP Message Signatures Profile");
# 6. a tamper lab against a live server; 7. exercises.

# %%
from aauth_kit import httpsig
from aauth_kit.components import component, component_value
from aauth_kit.digest import check_content_digest, content_digest
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.show import raw, show, shorten_opaque

lab = Lab()
SCA = lab.identifiers["supply_chain"]
agent = lab.new_agent("notebook")
print("our agent signs with", agent.key)

# %% [markdown]
# Our agent will call `POST /check` on the supply-chain agent, which needs an **auth
# token** for the scope `supply-chain:check`. Getting one takes a few round trips
# (notebook 05 walks through them); here we simply let the agent do it, so that we have
# a token the server accepts and can concentrate on the signature.

# %%
start = lab.trace.mark()
with lab.client(agent) as client:
    response = client.post(f"{SCA}/check", json={"parts": "all"})
auth_token = agent.auth_token_for(SCA)
print("\n".join(exchange.summary() for exchange in lab.trace.find(since=start)))
print("final answer:", response.status_code, "— the agent now holds an auth token for", SCA)

# %% [markdown]
# ## 1. Components: what a signature can cover (RFC 9421 §2)
#
# A signature never covers "the request" as a blob of bytes — proxies re-order headers,
# change `HTTP/1.1` into `HTTP/2`, recompress bodies. Instead, signer and verifier agree
# on a list of **components**, each with a value both sides can compute the same way:
#
# * **derived components** start with `@` and are computed from the request itself:
#   `@method`, `@authority` (the host), `@path`, `@query`, `@target-uri`, … (§2.2);
# * **header fields** are named in lower case: `content-type`, `content-digest`, … (§2.1).
#
# Here is the request our agent is about to sign, and the value of each component.

# %%
request = HttpMessage(
    method="POST",
    target_uri=f"{SCA}/check?part=display",
    headers=[("Host", "supply-chain.example"), ("Content-Type", "application/json")],
    body=b'{"parts": "all"}',
)
for name in ("@method", "@authority", "@scheme", "@path", "@query", "@target-uri", "@request-target", "content-type"):
    print(f"{name:16} → {component_value(request, component(name))}")

# %% [markdown]
# Notice that `@path` has no query string (the query is its own component, `@query`), and
# that `@authority` is just the host: RFC 9421 §2.2.3 lower-cases it and leaves out the
# port when it is the scheme's default (443 for `https`).
#
# The body is not a component. To protect it, the signer puts a hash of the body in a
# **`Content-Digest`** header (RFC 9530) and covers that header. The verifier recomputes
# the hash from the body it received.

# %%
request.target_uri = f"{SCA}/check"  # AAuth requests to this route carry no query
request.set_header("Content-Digest", content_digest(request.body))
print("Content-Digest:", request.header("content-digest"))

# %% [markdown]
# In AAuth the agent also tells the server **which key** signed, in a `Signature-Key`
# header (notebook 02 is all about it). Here it carries the auth token, which names the
# agent's key in its `cnf.jwk` claim:

# %%
from aauth_kit.signature_key import jwt_key

request.set_header("Signature-Key", jwt_key(auth_token).to_member())
print(raw(request, pretty_json=False))

# %% [markdown]
# ## 2. The signature base, line by line (RFC 9421 §2.5)
#
# The **signature base** is the text that actually gets signed. It has one line per
# covered component — the component identifier in double quotes, a colon, a space, the
# value — and a last line, `"@signature-params"`, that repeats the list of components
# and the signature's parameters (here only `created`, the time of signing). Because
# the list itself is signed, nobody can later remove a component from it.
#
# AAuth covers `@method`, `@authority`, `@path` and `signature-key` on every request, and
# `content-type` and `content-digest` when a body goes to a Person Server; the kit's
# agent covers the body on every request that has one. Let's build the base by hand.

# %%
components = ["@method", "@authority", "@path", "content-type", "content-digest", "signature-key"]
created = int(lab.clock())

lines = []
for name in components:
    value = component_value(request, component(name))
    lines.append(f'"{name}": {value}')
covered = " ".join(f'"{name}"' for name in components)
lines.append(f'"@signature-params": ({covered});created={created}')
base = "\n".join(lines)

print(shorten_opaque(base))  # the JWT in signature-key is shortened for display only

# %% [markdown]
# Lines are joined with a single `\n` and there is no newline at the end. The kit's
# `httpsig.signature_base` does the same thing (with every rule of §2 behind it) — we get
# the same text:

# %%
params = httpsig.signature_params([component(name) for name in components], {"created": created})
print("@signature-params value:", params)
print("same base as the kit's:", httpsig.signature_base(request, params) == base)

# %% [markdown]
# ## 3. Sign (§3.1), the two headers (§4), verify (§3.2)
#
# **Signing** is one call: the agent's Ed25519 key signs the bytes of the base. The
# result travels in two headers, both *dictionaries* keyed by a **label** (AAuth uses
# `sig`), so one message can carry several signatures:
#
# * `Signature-Input: sig=<the @signature-params value>` — what was covered, and when;
# * `Signature: sig=:<base64 of the signature bytes>:` — the signature itself.

# %%
import base64

signature = agent.key.sign(base.encode())
signature_input = f"sig={params}"
signature_header = f"sig=:{base64.b64encode(signature).decode()}:"
print(len(signature), "signature bytes")
print("Signature-Input:", signature_input)
print("Signature:      ", signature_header)

# %% [markdown]
# Ed25519 signatures are deterministic — the same key and the same bytes always give the
# same signature — so the kit's `httpsig.sign` must produce exactly these two values:

# %%
signed = httpsig.sign(request, agent.key, components, label="sig", created=created)
print("same Signature-Input:", signed.signature_input == signature_input)
print("same Signature:      ", signed.signature_header == signature_header)
request.set_header("Signature-Input", signature_input)
request.set_header("Signature", signature_header)
print()
print(raw(request, pretty_json=False))

# %% [markdown]
# **Verifying** is the mirror image. The receiver does not trust anything it cannot
# recompute: it reads the component list from `Signature-Input`, rebuilds the base from
# the request *as it arrived*, and checks the signature with the public key.

# %%
received = httpsig.read_signature(request)  # parse Signature-Input + Signature for one label
rebuilt = httpsig.signature_base(request, received.params)
print("label:", received.label, "| covers:", " ".join(received.components))
print("rebuilt base equals the signed base:", rebuilt == base)
print("signature verifies with the public key:", agent.key.public().verify(received.signature, rebuilt.encode()))
check_content_digest(request.header("content-digest"), request.body)
print("Content-Digest matches the body: True")

# %% [markdown]
# Now for real: send the hand-signed request to the supply-chain agent. `lab.send` sends
# an `HttpMessage` exactly as it is (the lab's client adds only the transport headers
# `show` hides) and returns the traced exchange.

# %%
show(lab.send(request), now=lab.clock)

# %% [markdown]
# `200 OK`: the server rebuilt the same base from the bytes it received, checked the
# auth token in `Signature-Key`, took the agent's key from its `cnf.jwk`, and the
# signature verified.

# %% [markdown]
# ## 4. The RFC's own example (Appendix B.2.6)
#
# An implementation you cannot check against the specification is a guess. RFC 9421
# Appendix B publishes test messages, test keys and the exact expected output. The
# literals below are copied from the RFC: the Ed25519 test key `test-key-ed25519`
# (Appendix B.1.4), the request `test-request` (Appendix B.2), and the signature base and
# signature of Appendix B.2.6 ("Signing a Request Using ed25519").

# %%
from aauth_kit.keys import Key
from aauth_kit.message import parse_raw_request

# RFC 9421 Appendix B.1.4, test-key-ed25519 (private key, PKCS#8)
TEST_KEY_ED25519 = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
# RFC 9421 Appendix B.2, test-request
TEST_REQUEST = b"""POST /foo?param=Value&Pet=dog HTTP/1.1
Host: example.com
Date: Tue, 20 Apr 2021 02:07:55 GMT
Content-Type: application/json
Content-Digest: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:
Content-Length: 18

{"hello": "world"}
"""
# RFC 9421 Appendix B.2.6, the expected signature base and Signature field
RFC_BASE = "\n".join([
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@method": POST',
    '"@path": /foo',
    '"@authority": example.com',
    '"content-type": application/json',
    '"content-length": 18',
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"',
])
RFC_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"

test_key = Key.from_pem(TEST_KEY_ED25519, kid="test-key-ed25519")
test_request = parse_raw_request(TEST_REQUEST)
b26 = httpsig.sign(
    test_request, test_key, ["date", "@method", "@path", "@authority", "content-type", "content-length"],
    label="sig-b26", created=1618884473, keyid="test-key-ed25519",
)
print(b26.base)
print()
print("signature base as in the RFC:", b26.base == RFC_BASE)
print("Signature as in the RFC:     ", b26.signature_header == RFC_SIGNATURE)

# %% [markdown]
# Both match, byte for byte. Three things are worth noticing in the RFC's example:
#
# * the components may come in **any order** (here `date` first), and the base follows
#   the order of the list;
# * `@path` is `/foo` although the request target is `/foo?param=Value&Pet=dog`;
# * it carries a `keyid` parameter. AAuth does not: the key is always named by
#   `Signature-Key`, so AAuth signers send no `keyid` and no `alg` (-11 "HTTP Message
#   Signatures Profile").

# %% [markdown]
# ## 5. What AAuth adds on top
#
# RFC 9421 is a toolbox: it lets signer and verifier choose any components. AAuth fixes
# the choice, so that every AAuth server can insist on the same minimum
# (-11 "HTTP Message Signatures Profile", "Verification (Server)"):
#
# | rule | why |
# | --- | --- |
# | cover `@method`, `@authority`, `@path`, `signature-key` on every request | the request cannot be re-aimed at another method, server or path, and the key cannot be swapped |
# | cover `content-type` and `content-digest` for a body sent to a Person Server | token requests cannot be altered in transit |
# | `created` is required; the server refuses a signature older than its window (60 s here) | a captured request cannot be replayed later |
# | `created` too far **in the future** is `clock_skew` | the agent's clock is wrong, and it is told so |
# | a missing required component is `invalid_input`, and the answer lists `required_input` | the agent learns what to cover |
# | every failure is `401` with a `Signature-Error` header | the agent can tell *why* |
#
# The kit's agent follows these rules in `profile.sign_request`; every server in the lab
# checks them in `profile.verify_request`, in the draft's order.

# %% [markdown]
# ## 6. The tamper lab
#
# Now we play the attacker. We sign one good request — `POST /check` with a body, exactly
# as above — and then change one part of it *after* signing, or sign it in a way the
# profile forbids, and send each variant to the live supply-chain agent. The table is
# built from the server's real answers: the status, the `Signature-Error` header, and the
# `detail` of the problem+json body.

# %%
from aauth_kit.profile import sign_request

BODY = b'{"parts": "all"}'
mallory = lab.new_agent("mallory")  # another agent, with its own key and token


def signed_request(url=f"{SCA}/check", created=None, components=None):
    """A fresh POST /check signed by our agent the AAuth way (its auth token in Signature-Key)."""
    message = HttpMessage(method="POST", target_uri=url, headers=[("Host", url.split("/")[2])], body=BODY)
    sign_request(message, agent.key, jwt_key(auth_token), components=components,
                 created=int(lab.clock()) if created is None else created)
    return message


def changed(message, *, method=None, target_uri=None, body=None, headers=None, **fields):
    """A copy of ``message`` with some parts changed; a field set to None is removed."""
    copy = HttpMessage(method=method or message.method, target_uri=target_uri or message.target_uri,
                       headers=list(headers if headers is not None else message.headers),
                       body=message.body if body is None else body)
    for name, value in fields.items():
        name = name.replace("_", "-")
        if value is None:
            copy.remove_header(name)
        else:
            copy.set_header(name, value)
    return copy


good, now = signed_request(), int(lab.clock())
OTHER_BODY = b'{"parts": "none"}'
variants = [
    ("nothing: the request as signed", good),
    ("`@method`: POST → GET", changed(good, method="GET")),
    ("`@authority`: signed for market-analysis, sent to supply-chain",
     changed(signed_request(url="https://market-analysis.example/check"), target_uri=f"{SCA}/check")),
    ("`@path`: /check → /optimize", changed(good, target_uri=f"{SCA}/optimize")),
    ("`signature-key`: Mallory's agent token put in", changed(good, Signature_Key=jwt_key(mallory.agent_token).to_member())),
    ("`content-type`: → text/plain", changed(good, Content_Type="text/plain")),
    ("an uncovered header added (X-Forwarded-For)", changed(good, headers=good.headers + [("X-Forwarded-For", "203.0.113.9")])),
    ("the body, `content-digest` left as it was", changed(good, body=OTHER_BODY)),
    ("the body and a recomputed `content-digest`",
     changed(good, body=OTHER_BODY, Content_Digest=content_digest(OTHER_BODY))),
    ("`created` 2 minutes old (a replay)", signed_request(created=now - 120)),
    ("`created` 2 minutes in the future", signed_request(created=now + 120)),
    ("`signature-key` not covered (signer's mistake)",
     signed_request(components=["@method", "@authority", "@path", "content-type", "content-digest"])),
    ("the `Signature` header removed", changed(good, Signature=None)),
]
tamper_exchanges = [lab.send(message, source="Agent" if index == 0 else "Attacker") for index, (_, message) in enumerate(variants)]

# %%
from IPython.display import Markdown

rows = ["| # | what changed | status | `Signature-Error` | the server's detail |", "| --- | --- | --- | --- | --- |"]
for number, ((what, _), exchange) in enumerate(zip(variants, tamper_exchanges)):
    response = exchange.response
    error = response.header("signature-error") or "—"
    detail = response.json_object().get("detail", "accepted: the check ran")
    rows.append(f"| {number} | {what} | {response.status} | `{error}` | {detail} |")
Markdown("\n".join(rows))

# %% [markdown]
# Read the table row by row:
#
# * **Rows 1–5**: every change to a covered component changes the base the server
#   rebuilds, so the signature no longer verifies: `invalid_signature`. The server cannot
#   tell *which* part changed — it only knows the base is not the one that was signed.
# * **Row 6** passes: `X-Forwarded-For` was never covered, so the signature says nothing
#   about it. A signature protects what it covers, and nothing else.
# * **Rows 7–8**: the body is protected through `content-digest`. Change only the body and
#   the digest check fails; recompute the digest too and the signature fails instead.
# * **Rows 9–10**: `created` keeps captured requests from being replayed later, and a
#   clock that runs ahead is reported as `clock_skew`.
# * **Row 11**: the profile check runs *before* any cryptography: the answer names the
#   components the server requires (`required_input`).
# * **Row 12**: no signature at all to check.
#
# Here is row 7 as it went over the wire:

# %%
show(tamper_exchanges[7], now=lab.clock, tokens=False)

# %% [markdown]
# And the whole tamper lab as a sequence diagram, drawn from the traced traffic:

# %%
from aauth_kit.diagram import SequenceDiagram

SequenceDiagram(tamper_exchanges, title="The tamper lab")

# %% [markdown]
# ## 7. Exercises
#
# Each exercise is checked by `check()`. Until you write an answer it says
# *not attempted*; `hint()` (call it again with `hint(2)`, `hint(3)` for more) and
# `solution()` are there when you need them.
#
# **Q1 · the signature base.** Write `my_signature_base(message, components, created)`
# that returns the signature base (RFC 9421 §2.5) for the components `@method`,
# `@authority`, `@path` and header fields, with `created` as the only parameter. Do it
# without `httpsig.signature_base` — that's the point. The checker tries it on four
# requests, including one with an upper-case host and an explicit `:443`.

# %%
from aauth_kit.exercises import nb01 as ex

example = ex.example_request()
print(raw(example))
print("components:", ex.AAUTH_COMPONENTS)

# %%
def my_signature_base(message, components, created):
    ...  # your code here: return the signature base as a str


ex.q1.check(my_signature_base)

# %% [markdown]
# **Q2 · what did the attacker change?** Write `changed_component(original, tampered)`:
# given a signed request and a copy an attacker modified, return the identifier of the
# **covered** component whose value changed (such as `"@path"` or `"content-type"`), or
# `None` if no covered component changed — in which case the signature still verifies.
# The checker tries eight tamperings. Here is one of them:

# %%
what, original, tampered, _ = ex.tamper_cases()[1]
print("ORIGINAL\n" + raw(original))
print("TAMPERED\n" + raw(tampered))

# %%
def changed_component(original, tampered):
    ...  # your code here: return a component identifier, or None


ex.q2.check(changed_component)

# %% [markdown]
# ## Summary
#
# * A signature covers a list of **components**; derived ones (`@method`, `@authority`,
#   `@path`) are computed from the request, header fields by name, and the body through
#   `Content-Digest`.
# * The **signature base** is one line per component plus `"@signature-params"`; signer
#   and verifier both build it, and the list of components is signed too.
# * The kit reproduces RFC 9421 B.2.6 byte for byte.
# * AAuth fixes the minimum coverage and requires `created`; a live server answers every
#   failure with `401` and a precise `Signature-Error` code.
#
# Next, notebook 02: how the server knows **which key** to verify with — the
# `Signature-Key` header and its schemes.
