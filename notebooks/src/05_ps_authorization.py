# %% [markdown]
# # 05 · Person Server authorization: person token, resource token, auth token
#
# Notebook 04's resource only asked *which agent* calls. Many resources also need to know
# **which person** the agent acts for, and some need an **authorization** for a specific
# action. -11 gives each its token, all issued by the person's **Person Server (PS)**:
#
# | the resource asks for | the agent brings | -11 section |
# | --- | --- | --- |
# | `requirement=person-token` | a **person token** `aa-person+jwt`: "this agent acts for person *sub*" | "Person Token" |
# | `requirement=auth-token` + a **resource token** | an **auth token** `aa-auth+jwt`: "… and may do *scope*" | "Resource Token", "Auth Token" |
#
# This is the three-party mode ("PS authorization"): agent, resource, PS. Here the PS grants
# the auth token **by policy, without asking the person** — the scope is not one its
# consent policy reserves for the person (the seed demo calls this "autonomous"; notebook 06
# is the case where the person is asked).
#
# The supply-chain agent has a route for each level:
#
# * `GET /check` — access mode `person-token`: who is the person?
# * `POST /check` — access mode `auth-token`, scope `supply-chain:check`.
#
# We walk the flow by hand, one request per cell, then let the kit's agent do it in one
# call, then tamper with it.

# %%
import json

from aauth_kit import jws, show
from aauth_kit.claims import AUTH_TYP
from aauth_kit.token_verification import check_token
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.errors import AAuthError
from aauth_kit.headers import parse_requirement
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

lab = Lab()
PS = lab.identifiers["ps"]
SUPPLY_CHAIN = lab.identifiers["supply_chain"]
agent = lab.new_agent("planner")  # agent token from the lab's Agent Provider, bound to mcp-user
client = lab.client(source="Agent")


def send(method, url, token, *, key=agent.key, body=None, headers=(), via=client):
    """Sign a request with ``key`` presenting ``token`` (``Signature-Key: sig=jwt``) and send it
    through ``via``.  A JSON body gets ``content-type`` and ``content-digest`` covered (-11
    signing profile)."""
    data = json.dumps(body).encode() if body is not None else b""
    message = HttpMessage(method, url, headers=list(headers), body=data)
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return via.request(method, url, headers=message.headers, content=data)


lab

# %% [markdown]
# ## 1 · The person token
#
# First the agent calls `GET /check` with its agent token, as in notebook 04:

# %%
send("GET", f"{SUPPLY_CHAIN}/check", agent.agent_token)
print(show.raw(lab.trace.last(method="GET", path="/check").response))

# %% [markdown]
# `requirement=person-token`: "tell me which person you act for". The agent asks its Person
# Server. Where? The PS publishes `aauth-person.json` (-11 "Metadata Documents"); its two
# required endpoints are the person token endpoint and the auth token endpoint.

# %%
ps_metadata = client.get(f"{PS}/.well-known/aauth-person.json").json()
print(json.dumps(ps_metadata, indent=2))

# %% [markdown]
# The request names the resource the person token is for. It is signed with the agent
# token, and because it carries a body to a PS it also covers `content-type` and
# `content-digest` (RFC 9530), so nobody can swap the body.

# %%
issued = send("POST", ps_metadata["person_token_endpoint"], agent.agent_token, body={"resource": SUPPLY_CHAIN})
person_token = issued.json()["person_token"]
show.show(lab.trace.last(url=ps_metadata["person_token_endpoint"]), tokens=False)
print("\n▸ the person token, decoded:\n" + show.decoded(person_token, now=int(lab.clock())))

# %% [markdown]
# The person token, against -11 "Person Token Structure":
#
# * `iss` the PS, `dwk` `aauth-person.json`;
# * `aud` **one** resource — this token is worth nothing anywhere else;
# * `sub` the person — as a **pairwise** identifier: the PS gives each resource a different
#   `sub` for the same person, so resources cannot correlate their users;
# * `cnf.jwk` the agent's key, as in the agent token: only this agent can present it;
# * at most an hour, and never past the agent token's `exp`;
# * no `scope`: a person token says *who*, not *what may be done*.

# %%
person_claims = jws.decode_unverified(person_token).payload
print("aud is the supply chain:     ", person_claims["aud"] == SUPPLY_CHAIN)
print("cnf.jwk is the agent's key:  ", jws.decode_unverified(person_token).payload["cnf"]["jwk"]
      == agent.key.public_jwk(kid=False))
print("pairwise sub for this aud:   ", person_claims["sub"] == lab.ps.subject("mcp-user", SUPPLY_CHAIN))
print("another resource sees:       ", lab.ps.subject("mcp-user", "https://market-analysis.example"))

# %% [markdown]
# Now `GET /check` again, presenting the person token. The resource verifies it (`typ`,
# the PS's keys, `exp`, `aud` = itself, `cnf` = the signing key) and learns the person as
# the pair `(iss, sub)`:

# %%
checked = send("GET", f"{SUPPLY_CHAIN}/check", person_token)
print(checked.status_code, json.dumps(checked.json()["person"], indent=2))

# %% [markdown]
# ## 2 · The resource token challenge
#
# `POST /check` needs more: an auth token with the scope `supply-chain:check`. The agent
# presents its person token; the resource answers `401` with
# `AAuth-Requirement: requirement=auth-token; resource-token="…"`.

# %%
challenged = send("POST", f"{SUPPLY_CHAIN}/check", person_token)
show.show(lab.trace.last(method="POST", path="/check", source="Agent"), now=lab.clock, tokens=False)

# %% [markdown]
# The **resource token** is the resource's signed request to the PS: "please authorize
# *this* agent, for *this* person, to do *this*". Claim by claim (-11 "Resource Token Structure"):

# %%
resource_token = parse_requirement(challenged.headers["aauth-requirement"]).resource_token
print(show.decoded(resource_token, now=int(lab.clock())))

# %% [markdown]
# What each claim ties together:
#
# * `aud` **and** `ps` — the PS that may exchange it: the **person token's `iss`** (not the
#   agent token's `ps` hint);
# * `agent_jkt` — the thumbprint of the key that signed the request: only that agent can
#   use this resource token. There is no agent *identifier*: -11 removed it from resource
#   and auth tokens;
# * `presented_jti` and `sub` — point back at the person token the agent presented;
# * `scope` — what the route needs;
# * five minutes of life: a challenge, not a credential.
#
# Before taking it to the PS, the agent checks the challenge is about *its* request
# (-11 asks the agent to check this before it uses a resource token):

# %%
rt = jws.decode_unverified(resource_token).payload
checks = {
    "iss is the resource we called": rt["iss"] == SUPPLY_CHAIN,
    "agent_jkt is our key": rt["agent_jkt"] == agent.key.thumbprint(),
    "presented_jti is our person token": rt["presented_jti"] == person_claims["jti"],
    "sub is our person token's sub": rt["sub"] == person_claims["sub"],
    "ps is our person token's iss": rt["ps"] == person_claims["iss"] == rt["aud"],
    "exp is in the future": rt["exp"] > lab.clock(),
}
print("\n".join(f"{'✔' if ok else '✘'} {check}" for check, ok in checks.items()))

# %% [markdown]
# The message inspector widget shows the same challenge with its headers decoded (live
# kernels only; the cells above printed the facts):

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets import MessageInspector

MessageInspector(lab.trace.last(method="POST", path="/check", source="Agent", status=401), now=lab.clock)

# %% [markdown]
# ## 3 · The auth token, granted by policy
#
# The agent posts the resource token and the token it presented (`presented_token`, REQUIRED
# in -11) to the PS's auth token endpoint, signed with its **agent token**. The PS checks
# (-11 "Resource Token Verification"): the resource token is for it (`aud`, `ps`), was made for the key that signs
# this request (`agent_jkt`), and points at the presented token (`presented_jti`, `sub`,
# `aud` = the resource). Then its **consent policy** decides whether the person must be
# asked:

# %%
print("consent needed for scopes:  ", lab.ps.policy.scopes)
print("… and for scope prefixes:   ", lab.ps.policy.prefixes)
print("supply-chain:check needs it?", lab.ps.policy.needs_consent("supply-chain:check"))

# %% [markdown]
# `supply-chain:check` needs nobody's consent, so the answer comes at once — `200`, not the
# `202` of notebook 06:

# %%
granted = send("POST", ps_metadata["auth_token_endpoint"], agent.agent_token,
               body={"resource_token": resource_token, "presented_token": person_token},
               headers=[("Prefer", "wait=30")])
auth_token = granted.json()["auth_token"]
received_at = int(lab.clock())  # when the agent got it
show.show(lab.trace.last(url=ps_metadata["auth_token_endpoint"]), tokens=False)
print("\n▸ the auth token, decoded:\n" + show.decoded(auth_token, now=received_at))

# %% [markdown]
# The auth token (-11 "Auth Token Structure"): `iss` the PS, `aud` the resource, `ps` = `iss` (the PS
# issued it), `sub` copied from the resource token, `scope` granted, `cnf.jwk` the agent's
# key. Set it beside the person token: a PS-issued auth token and a person token **differ
# only in `typ`** and the authorization claims — which is why a resource must check `typ`
# (section 5 tries it).

# %%
auth_claims = jws.decode_unverified(auth_token).payload
for name in ("iss", "aud", "sub", "scope", "ps", "exp"):
    print(f"{name:6} person token: {str(person_claims.get(name, '—')):28} auth token: {auth_claims.get(name, '—')}")
print("typ    person token:", jws.decode_unverified(person_token).header["typ"], " " * 14,
      "auth token:", jws.decode_unverified(auth_token).header["typ"])

# %% [markdown]
# Its lifetime is capped: at most an hour, and never past the agent token's or the
# presented token's `exp`. Both were issued at the same (docs-mode) moment, so all three
# end together:

# %%
agent_exp = jws.decode_unverified(agent.agent_token).payload["exp"]
print("exp - iat:              ", auth_claims["exp"] - auth_claims["iat"], "seconds")
print("exp ≤ agent token exp: ", auth_claims["exp"] <= agent_exp)
print("exp ≤ person token exp:", auth_claims["exp"] <= person_claims["exp"])

# %% [markdown]
# ### The agent checks the auth token before it uses it
#
# A token from the PS is not taken on trust. Before presenting it, the agent checks it
# (-11 "Auth Token Response Verification"): it **must** find `iss` = the resource token's `aud` (the PS it
# asked), `aud` = the resource it called, `cnf.jwk` = its own key and `sub` = the `sub` of
# the token it presented; and it **should** verify the signature, the way a resource
# does: the PS's metadata names its `jwks_uri`, and that JWKS holds the key the token's
# `kid` names. One more request fetches the JWKS. The agent checks the token when it
# receives it, so the check uses that moment, `received_at`:

# %%
ps_jwks = client.get(ps_metadata["jwks_uri"]).json()
kid = jws.decode_unverified(auth_token).header["kid"]
ps_key = Key.from_jwk(next(k for k in ps_jwks["keys"] if k["kid"] == kid), require_alg=True)
verified = check_token(auth_token, typ=AUTH_TYP, key=ps_key, now=received_at)  # raises if not
checks = {
    f"signed by the PS's key {kid!r}": verified.kid == kid,
    "iss is the resource token's aud": verified.iss == rt["aud"],
    "aud is the resource we called": verified.aud == SUPPLY_CHAIN,
    "cnf.jwk is our key": verified.jkt == agent.key.thumbprint(),
    "sub is our person token's sub": verified.sub == person_claims["sub"],
}
print("\n".join(f"{'✔' if ok else '✘'} {check}" for check, ok in checks.items()))

# %% [markdown]
# The kit's agent checks every person token and auth token its PS hands out this way. It
# fetches the PS's JWKS with the first token and keeps it (as long as the PS's
# `Cache-Control` allows; a `kid` it has not seen makes it fetch again, at most once a
# minute). A token that fails is neither kept nor presented: the flow stops with the
# draft's code — `invalid_jwt` for a signature that does not verify, `unknown_key` for a
# `kid` the JWKS lacks. (`Agent(..., verify_token_signatures=False)` skips the signature
# check, the SHOULD; the claim checks, the MUSTs, always run.)

# %% [markdown]
# ## 4 · Use it
#
# The agent retries `POST /check`, now presenting the auth token in `Signature-Key`:

# %%
result = send("POST", f"{SUPPLY_CHAIN}/check", auth_token)
print(result.status_code, json.dumps(result.json(), indent=2)[:400])

# %% [markdown]
# ### The same, by the kit's agent
#
# The kit's `Agent` (an `httpx.Auth`) follows every requirement by itself: person token,
# resource token, auth token, retry. One call, seven exchanges — the fourth is the JWKS
# fetched after the person token, whose signature the agent checks before presenting it:

# %%
first = lab.trace.mark()
with lab.client(agent) as signed:
    print(signed.post(f"{SUPPLY_CHAIN}/check").status_code)
for exchange in lab.trace.find(since=first):
    print(show.title(exchange))

# %% [markdown]
# ## 5 · Tampering
#
# Each token is bound to something: a type, a key, a time. Break the binding and the
# request fails — with a precise code.
#
# ### A person token where an auth token is required
#
# Claims alike, `typ` different. The resource reads `typ` first and treats a person token
# as what it is: it challenges again for an auth token, it does not serve the request.

# %%
send("POST", f"{SUPPLY_CHAIN}/check", person_token)
print(show.title(lab.trace.last(method="POST", path="/check", source="Agent")))

# %% [markdown]
# Offline, the token check says why: the type is checked before anything else
# (-11 "Auth Token Verification"), and the error is `invalid_jwt`:

# %%
try:  # ps_key: the PS's key, from its JWKS (section 3)
    check_token(person_token, typ=AUTH_TYP, key=ps_key, now=int(lab.clock()))
except AAuthError as error:
    print(error.code, "—", error.detail)

# %% [markdown]
# ### A stolen auth token, presented with another key
#
# A thief — another agent, with its own key and agent token — copies our auth token (from a
# log, say) and presents it. The token verifies, but it binds **our** key (`cnf.jwk`), and
# the thief signed with its own:

# %%
thief = lab.new_agent("thief")
thief_client = lab.client(source="Thief")
send("POST", f"{SUPPLY_CHAIN}/check", auth_token, key=thief.key, via=thief_client)
print(show.raw(lab.trace.last(path="/check", source="Thief").response))

# %% [markdown]
# `invalid_signature`: the resource checked the signature with the key the token binds,
# and the thief's signature does not verify with it. A bearer token would have worked here;
# a bound token does not.
#
# What if the thief steals the **resource token** and the person token, and asks the PS for
# an auth token of its own, signed with its own agent token?

# %%
stolen = send("POST", ps_metadata["auth_token_endpoint"], thief.agent_token, key=thief.key, via=thief_client,
              body={"resource_token": resource_token, "presented_token": person_token})
print(show.raw(lab.trace.last(url=ps_metadata["auth_token_endpoint"], source="Thief").response))

# %% [markdown]
# `invalid_resource_token` (the `<invalid|expired|revoked>_<parameter>_token` family of
# -11 "Token Endpoint Error Codes"): the resource token's `agent_jkt` is our key, not the key
# that signed this request — the key check fails with `invalid_key`, reported under the
# parameter's name. A resource token is only good for the agent it challenged.
#
# ### An expired auth token
#
# Let the lab's clock run one hour forward. The auth token's `exp` passes, and -11 allows no
# tolerance:

# %%
lab.clock.advance(3600)
send("POST", f"{SUPPLY_CHAIN}/check", auth_token)
print(show.raw(lab.trace.last(method="POST", path="/check", source="Agent").response))

# %% [markdown]
# `expired_jwt`. An agent that gets it drops the token and starts over: a fresh person
# token, a new resource token, a new auth token (its agent token has expired too by now, so
# it would first renew that at its Agent Provider).
#
# ## The conversation
#
# The whole trace: the walk by hand (steps 1–8), the kit's agent doing the same (9–15), and
# the tampering (16–19). Step 6 — the auth token granted by policy — is highlighted.

# %%
SequenceDiagram(lab.trace, highlight=6, parties=["Agent", "Supply chain", "PS", "Thief"])

# %% [markdown]
# ## Exercises
#
# **Q1 · Check the challenge.** Write `accept(resource_token, presented, my_jkt, resource, now)`
# that returns `True` only if a resource token (its claims, a dict) is a genuine challenge
# to *your* request: `presented` are the claims of the token you presented, `my_jkt` your
# key's thumbprint, `resource` the origin you called, `now` the time.

# %%
import aauth_kit.exercises.nb05 as ex


def accept(resource_token, presented, my_jkt, resource, now):
    ...  # your code here


ex.q1.check(accept)

# %% [markdown]
# **Q2 · Which code?** For each tampering, the error code the agent gets back.

# %%
codes = {
    "an auth token presented with a key other than its cnf.jwk": None,
    "an auth token used one second after its exp": None,
    "a resource token taken to the PS by an agent it did not challenge": None,
}

ex.q2.check(codes)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()`; solutions: `ex.q1.solution()`, `ex.q2.solution()`.
#
# Next: notebook 06 — a scope the person must approve, the `202`, the interaction code and
# the consent page.
