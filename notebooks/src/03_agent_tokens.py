# %% [markdown]
# # 03 · Agent tokens: how an agent gets its name
#
# In notebook 02 an agent signed with a bare key (`hwk`): the server learned *a key*,
# nothing more. A resource that wants to know **which agent** calls needs someone it
# trusts to say "this key belongs to agent `aauth:notebook@ps.example`". That someone is
# the agent's **Agent Provider (AP)**, and what it says is an **agent token**, a JWT of
# type `aa-agent+jwt` (draft -11 "Agent Token").
#
# In this notebook a brand-new agent:
#
# 1. makes a key pair,
# 2. finds its Agent Provider,
# 3. registers, signing with its bare key,
# 4. waits while a person approves it (a new agent is a new actor in that person's name),
# 5. collects its agent token, which we decode and verify claim by claim,
# 6. uses it, and finally
# 7. **rotates** its key: what breaks, and how it gets a new token with the same name.
#
# As in the seed demo, the kit's Person Server doubles as the Agent Provider.
# The registration and rotation endpoints are the kit's own design: -11 defines the
# agent token and how verifiers check it, not how an agent asks its provider for one.

# %%
import json

from aauth_kit import jws, show
from aauth_kit.claims import AGENT_TYP
from aauth_kit.token_verification import check_token
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key, jwk_thumbprint
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import hwk_key, jwt_key

lab = Lab()
AP = lab.identifiers["ps"]  # the Agent Provider (also the Person Server)
SUPPLY_CHAIN = lab.identifiers["supply_chain"]
client = lab.client(source="Agent")  # a plain client: this notebook signs by hand
lab

# %% [markdown]
# ## 1 · A key pair
#
# The agent's identity starts with a key pair it makes itself. The private half never
# leaves the agent; the public half goes into the token. (In docs mode the lab makes the
# same key every run, so this page reads the same each time.)

# %%
agent_key = lab.key("agent/notebook")
public_jwk = agent_key.public_jwk(kid=False)
print("public JWK: ", json.dumps(public_jwk))
print("thumbprint: ", agent_key.thumbprint(), "(RFC 7638, SHA-256)")

# %% [markdown]
# ## 2 · Find the Agent Provider
#
# Every AAuth server publishes a metadata document under `/.well-known/`. An Agent
# Provider's is `aauth-agent.json` (-11 "Metadata Documents"): its `issuer` (the value
# that will appear as `iss` in our token) and `jwks_uri` (where its signing keys are).
# The kit's provider also names its registration and rotation endpoints.

# %%
metadata = client.get(f"{AP}/.well-known/aauth-agent.json")
show.show(lab.trace.last(path="/.well-known/aauth-agent.json"))

# %% [markdown]
# ## 3 · Register, signed with the bare key
#
# The agent has no token yet, so it signs its registration with the only thing it has:
# its key, carried inline as `Signature-Key: sig=hwk;…` (Signature Keys -09 "Header Web Key (hwk)"). The
# signature proves the agent holds the private key whose public half it asks the provider
# to vouch for. The body names the local part of the identifier it wants (`notebook`).
#
# `Prefer: wait=30` says the agent is willing to wait; the provider answers at once anyway,
# because somebody has to approve this agent first.

# %%
body = json.dumps({"local": "notebook", "name": "Notebook agent"}).encode()
registration = HttpMessage("POST", f"{AP}/agent/register", headers=[("Prefer", "wait=30")], body=body)
sign_request(registration, agent_key, hwk_key(agent_key), created=int(lab.clock()))
response = client.post(registration.target_uri, headers=registration.headers, content=registration.body)
show.show(lab.trace.last(path="/agent/register"))

# %% [markdown]
# `202 Accepted` is a **deferred response** (-11 "Deferred Responses"):
#
# * `Location` is the **pending URL** the agent polls, signed with the same key;
# * `AAuth-Requirement: requirement=interaction` carries the `url` a person opens and the
#   `code` they type in there;
# * `Retry-After: 0`: poll again whenever you like (the agent asked to wait).
#
# Why a person? A new agent will act in someone's name. The provider binds it to the
# person who approves it, and only then vouches for it.

# %%
requirement = parse_requirement(response.headers["aauth-requirement"])
pending_url = response.headers["location"]
print("the person opens:", requirement.url, "and enters", requirement.code)
print("the agent polls: ", pending_url)

# %% [markdown]
# ## 4 · The person approves
#
# A person signs in at the provider and answers. A browser would use the page at
# `requirement.url` (notebook 06 shows it); here we use the same server's consent REST
# API, so every step shows up in the trace. (`lab.ps.decide(code, True)` does the same in
# one line, without HTTP.) First the person signs in and looks at what is asked:

# %%
person = lab.client(source="Person")
login = person.post(f"{AP}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"
request_seen = person.get(f"{AP}/consent", params={"code": requirement.code}).json()
print(json.dumps(request_seen, indent=2))

# %% [markdown]
# The kind is `agent_approval`; the provider shows the agent identifier it would issue and
# the thumbprint of the key (`agent_jkt`) — the same thumbprint we printed in step 1. The
# person approves:

# %%
decision = person.post(f"{AP}/consent/{request_seen['pending_id']}/decision", json={"approved": True})
print(decision.status_code, decision.json())

# %% [markdown]
# ## 5 · Collect the agent token
#
# The agent polls the pending URL, signed with its bare key again (only the key that
# created a pending request may read it). The request is decided, so the answer is
# immediate: `200` with `agent_token` and `expires_in`.

# %%
poll = HttpMessage("GET", pending_url, headers=[("Prefer", "wait=30")])
sign_request(poll, agent_key, hwk_key(agent_key), created=int(lab.clock()))
collected = client.get(poll.target_uri, headers=poll.headers)
agent_token = collected.json()["agent_token"]
show.show(lab.trace.last(url=pending_url), now=lab.clock)

# %% [markdown]
# Read the claims against -11 "Agent Token Structure":
#
# * `typ` `aa-agent+jwt` in the header — verifiers check the type **before anything else**;
# * `iss` is the provider, `dwk` says where its keys are: `{iss}/.well-known/aauth-agent.json`
#   → `jwks_uri` → the key whose `kid` is in the header;
# * `sub` is the **agent identifier** `aauth:local@domain`: the local part we asked for,
#   at the provider's domain;
# * `cnf.jwk` is *our* public key: every request that presents this token must be signed by
#   it (that is what makes the token useless to a thief);
# * `iat`/`exp`: one hour — -11 says agent tokens SHOULD live at most a day;
# * `ps` hints at the agent's Person Server.
#
# Let us check the two claims that matter most with code, not eyes:

# %%
claims = jws.decode_unverified(agent_token).payload
print("sub is the identifier we asked for: ", claims["sub"] == "aauth:notebook@ps.example")
print("cnf.jwk is our public key:          ", claims["cnf"]["jwk"] == public_jwk)
print("exp - iat in seconds:               ", claims["exp"] - claims["iat"])

# %% [markdown]
# ### Verify the token like a resource would
#
# Decoding is not verifying. A resource follows the token's own pointers: `iss` + `dwk` →
# metadata → `jwks_uri` → the key named by `kid`, then checks the signature, `exp` (no
# tolerance), and the claim rules (-11 "Agent Token Verification"). We fetched the metadata
# in step 2; one more request gets the JWKS:

# %%
jwks = client.get(metadata.json()["jwks_uri"]).json()
kid = jws.decode_unverified(agent_token).header["kid"]
provider_key = Key.from_jwk(next(k for k in jwks["keys"] if k["kid"] == kid), require_alg=True)
verified = check_token(agent_token, typ=AGENT_TYP, key=provider_key, now=int(lab.clock()))
print("verified:", verified.typ, "for", verified.sub, "— bound key", verified.jkt)

# %% [markdown]
# The same token in the **token inspector** widget (each claim explained, the signature
# checked with the provider's JWKS). Widgets need a live kernel; the cell above printed the
# facts as text.

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets import TokenInspector

TokenInspector(agent_token, jwks=jwks, now=lab.clock)

# %% [markdown]
# ## 6 · Use it
#
# The agent now signs with `Signature-Key: sig=jwt;jwt="<agent token>"`. The kit's
# `Agent` does that on every request; the supply-chain agent's `GET /inventory` admits any
# verified agent (notebook 04 looks at that from the resource's side).

# %%
from aauth_kit.agent import Agent

agent = Agent(agent_key, agent_token, clock=lab.clock)
with lab.client(agent) as signed:
    inventory = signed.get(f"{SUPPLY_CHAIN}/inventory")
print(inventory.status_code, "— the supply chain saw agent", inventory.json()["agent"])

# %% [markdown]
# ## 7 · The agent identifier rules
#
# -11 "Agent Identifiers": `aauth:` + *local* + `@` + the provider's domain.
#
# * *local* is 1–255 characters of `a-z A-Z 0-9 - _ + .` (-11 added the capitals);
# * `+` is reserved for **sub-agents** (`parent+discriminator`): a top-level agent's local
#   part must not contain it;
# * the domain is a lowercase host, no port;
# * identifiers compare **exactly**, so `Notebook` and `notebook` are two agents.

# %%
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import check_agent_identifier

for candidate in [
    "aauth:notebook@ps.example",
    "aauth:Notebook@ps.example",
    "aauth:report.v2_beta@ps.example",
    "aauth:notebook+search@ps.example",
    "aauth:note book@ps.example",
    "aauth:notebook@PS.example",
    "aauth:notebook@ps.example:8443",
    "notebook@ps.example",
]:
    try:
        check_agent_identifier(candidate, top_level=True)
        verdict = "ok"
    except AAuthError as error:
        verdict = "no — " + error.detail.split(": ", 1)[1]
    print(f"{candidate:36} {verdict}")
print()
print("the same agent?", "aauth:Notebook@ps.example" == "aauth:notebook@ps.example", "— compared exactly: two agents")

# %% [markdown]
# The provider enforces the same rules when an agent registers. Asking for a local part
# with a space is refused with the draft's `invalid_request`:

# %%
bad = HttpMessage("POST", f"{AP}/agent/register", body=json.dumps({"local": "note book"}).encode())
sign_request(bad, agent_key, hwk_key(agent_key), created=int(lab.clock()))
refused = client.post(bad.target_uri, headers=bad.headers, content=bad.body)
print(refused.status_code, refused.json()["error"], "—", refused.json()["detail"])

# %% [markdown]
# ## 8 · Key rotation
#
# Keys change: a laptop is replaced, a key might have leaked, policy says "every 30 days".
# The agent token binds **one** key (`cnf.jwk`), so what happens when the agent simply
# starts signing with a new key but keeps presenting its old token?

# %%
new_key = lab.key("agent/notebook, second key")
mixed = HttpMessage("GET", f"{SUPPLY_CHAIN}/inventory")
sign_request(mixed, new_key, jwt_key(agent.agent_token), created=int(lab.clock()))
client.get(mixed.target_uri, headers=mixed.headers)
print(show.raw(lab.trace.last(path="/inventory").response))

# %% [markdown]
# `401` with `Signature-Error: error=invalid_signature`. The resource verified the token
# (it is genuine), took the key it binds — the **old** key — and checked the request's
# signature with it. The new key made that signature, so it does not verify
# (-11 "Verification (Server)", step 7). The token and the key travel together or not at all.
#
# So the agent needs a new token for the new key, **with the same `sub`**: -11 says the
# agent identifier is stable across key rotation, so policies written about
# `aauth:notebook@ps.example` keep working.
#
# The kit's provider does that at `POST /agent/rotate`. The request carries **two
# signatures** (Signature Keys -09 "Multiple Signatures" allows several, one per `Signature-Key` member):
#
# * `sig` by the **current** key, presenting the current agent token — "I am this agent";
# * `new` by the **new** key, carried as `hwk` — "and I hold this key".
#
# Both signatures cover the whole `Signature-Key` field, so each key vouches for the other.
# The current pair is the one the agent holds: `agent.key` and `agent.agent_token`.

# %%
from aauth_kit.rotation import sign_key_rotation

rotation = HttpMessage("POST", f"{AP}/agent/rotate")
sign_key_rotation(rotation, agent.key, agent.agent_token, new_key, created=int(lab.clock()))
rotated = client.post(rotation.target_uri, headers=rotation.headers)
new_token = rotated.json()["agent_token"]
rotation_exchange = lab.trace.last(path="/agent/rotate")
print(show.raw(rotation_exchange.request))
print(show.raw(rotation_exchange.response))

# %% [markdown]
# Old and new token side by side: same agent, same provider, a new token id and a new
# bound key.

# %%
old, new = jws.decode_unverified(agent.agent_token).payload, jws.decode_unverified(new_token).payload
for name in ("iss", "sub", "ps", "jti"):
    print(f"{name:4} old {old[name]:27} new {new[name]}")
old_jkt, new_jkt = jwk_thumbprint(old["cnf"]["jwk"]), jwk_thumbprint(new["cnf"]["jwk"])
print(f"jkt  old {old_jkt[:24] + '…':27} new {new_jkt[:24]}…")
print("the new token binds the new key:", new_jkt == new_key.thumbprint())

# %% [markdown]
# The new pair works:

# %%
rotated_agent = Agent(new_key, new_token, clock=lab.clock)
with lab.client(rotated_agent) as signed:
    print(signed.get(f"{SUPPLY_CHAIN}/inventory").status_code)

# %% [markdown]
# And the old pair? The provider **revoked** the old token when it issued the new one
# (a rotation often follows a leak). The Person Server — the same server here — refuses it:

# %%
old_pair = HttpMessage("POST", f"{AP}/person-token", body=json.dumps({"resource": SUPPLY_CHAIN}).encode())
sign_request(old_pair, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
client.post(old_pair.target_uri, headers=old_pair.headers, content=old_pair.body)
print(show.raw(lab.trace.last(path="/person-token").response))

# %% [markdown]
# But a resource checks an agent token **on its own**: signature, `exp`, key binding. Nobody
# told the supply chain about the revocation, so the old pair still gets in there …

# %%
with lab.client(agent) as signed:
    print(signed.get(f"{SUPPLY_CHAIN}/inventory").status_code)

# %% [markdown]
# … until the token expires. That is why agent tokens are short-lived: the lifetime bounds
# how long a leaked key with its token stays useful to anyone who does not hear about the
# revocation. Let the lab's clock run one hour forward:

# %%
lab.clock.advance(3600)
old_late = HttpMessage("GET", f"{SUPPLY_CHAIN}/inventory")
sign_request(old_late, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
client.get(old_late.target_uri, headers=old_late.headers)
print(show.raw(lab.trace.last(path="/inventory").response))

# %% [markdown]
# `expired_jwt`: `exp` is not after now, and -11 allows no tolerance. (The rotated token
# is as old by now; a real agent refreshes its agent token when less than five minutes
# remain.)
#
# Our agent goes back to its provider for a fresh token. `lab.new_agent` does steps 3–5 in
# one call, without the HTTP, so it adds nothing to the trace; with it, section 8 can run
# again.

# %%
agent = lab.new_agent("notebook")
fresh = jws.decode_unverified(agent.agent_token).payload
print("a fresh token for", fresh["sub"], "— valid for", fresh["exp"] - int(lab.clock()), "seconds")

# %% [markdown]
# ## The whole conversation
#
# Every request above, drawn from the trace — the bootstrap (steps 1–6), the person's
# approval, the first use, and the rotation with its failures in red:

# %%
SequenceDiagram(lab.trace)

# %% [markdown]
# ## Exercises
#
# **Q1 · Is this token bound to this key?** Write `is_bound_to(agent_token, key)` that says
# whether an agent token binds `key` (a `aauth_kit.keys.Key`). Think about what "the same
# key" means for two JWKs that may list their members differently, or carry a `kid`.

# %%
import aauth_kit.exercises.nb03 as ex


def is_bound_to(agent_token, key):
    ...  # your code here


ex.q1.check(is_bound_to)

# %% [markdown]
# Stuck? `ex.q1.hint()`, `ex.q1.hint(2)`, and `ex.q1.solution()`.
#
# **Q2 · A top-level agent identifier.** Write `is_top_level_agent(identifier)` returning
# `True` for a valid top-level agent identifier under -11 and `False` otherwise — without
# calling `check_agent_identifier`.

# %%
def is_top_level_agent(identifier):
    ...  # your code here


ex.q2.check(is_top_level_agent)

# %% [markdown]
# Next: notebook 04 looks at agent tokens from the resource's side — what it learns, and
# how it decides which agents to let in.
