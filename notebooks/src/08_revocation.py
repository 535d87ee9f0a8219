# %% [markdown]
# # 08 · Revocation: taking a token back before it expires
#
# Every AAuth token ends by itself: `exp` is at most an hour away for person and auth
# tokens. Sometimes an hour is too long — the person changed their mind, a laptop was
# stolen, an agent misbehaves. -11 "Token Revocation" lets the issuer of a token tell
# the parties that accept it: *from now on, refuse this one*.
#
# Who tells whom (-11 "Token Revocation"):
#
# | revoker | revokes | at |
# | --- | --- | --- |
# | Agent Provider | an agent token it issued | the Person Server |
# | Person Server | a person or auth token it issued | the resource it was issued for, and each Access Server it presented the person token to |
# | Access Server | an auth token it issued | the resource it was issued for (notebook 11) |
# | resource | a resource token it issued | the Person Server it was addressed to |
#
# The request is small: `POST` to the recipient's `revocation_endpoint`, body
# `{"jti": …, "exp": …}`, signed by the revoker **in its own right** — `Signature-Key:
# sig=jwks_uri` (notebook 02), not with a token. The body names no issuer: the recipient
# takes the issuer from the verified signature, so nobody can revoke somebody else's tokens.
#
# This notebook revokes an auth token the way a person would, watches the resource refuse
# it and the agent recover, and then revokes an agent token at its source and follows the
# cascade.

# %%
import json

from aauth_kit import jws, show
from aauth_kit.flow import FlowError
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK
from aauth_kit.profile import sign_request
from aauth_kit.revocation import Revoker
from aauth_kit.signature_key import jwt_key, parse_signature_key

lab = Lab()
PS, SCA = lab.identifiers["ps"], lab.identifiers["supply_chain"]
agent = lab.new_agent("reporter")  # bound to mcp-user by the PS's Agent Provider
client = lab.client(source="Agent")


def send(method, url, token, *, key=agent.key, body=None):
    """Sign a request with ``key`` presenting ``token`` (``Signature-Key: sig=jwt``) and send it."""
    data = json.dumps(body).encode() if body is not None else b""
    message = HttpMessage(method, url, body=data)
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return client.request(method, url, headers=message.headers, content=data)


def deliver(message, via=client):
    """Send a message signed elsewhere exactly as it is."""
    return via.request(message.method, message.target_uri, headers=message.headers, content=message.body)


lab

# %% [markdown]
# ## 1 · An auth token to take back
#
# The kit's agent calls `POST /check` at the supply-chain agent (SCA): person token, resource
# token, auth token for `supply-chain:check` — granted by policy, as in notebook 05.

# %%
first = lab.trace.mark()
with lab.client(agent) as signed:
    print(signed.post(f"{SCA}/check").status_code)
auth_token = agent.auth_token_for(SCA)
for exchange in lab.trace.find(since=first):
    print(show.title(exchange))
print("\n▸ the auth token, decoded:\n" + show.decoded(auth_token, now=int(lab.clock())))

# %% [markdown]
# ## 2 · Where revocations go
#
# Both the resource and the PS name their `revocation_endpoint` in their metadata
# (-11 "Metadata Documents": RECOMMENDED for a PS, and for a resource that accepts person
# tokens).

# %%
for issuer, document in ((SCA, "aauth-resource.json"), (PS, "aauth-person.json")):
    metadata = client.get(f"{issuer}/.well-known/{document}").json()
    print(f"{document:20} revocation_endpoint: {metadata['revocation_endpoint']}")

# %% [markdown]
# ## 3 · The person revokes the auth token
#
# The person signs in at the PS and looks at the tokens issued on their behalf (the PS's
# consent REST API, `GET /tokens`). Then they revoke the auth token: `POST
# /tokens/{jti}/revoke`. This part is the kit's own API, not the protocol — the protocol
# starts when the PS passes the news on.

# %%
person = lab.client(source="Person")
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"
for token in person.get(f"{PS}/tokens").json():
    print(f"{token['jti']:12} {token['typ']:14} {token['resource']:30} {token['scope'] or '—':20} "
          f"revoked: {token['revoked']}")

# %%
jti = jws.decode_unverified(auth_token).payload["jti"]
revoking = lab.trace.mark()
answer = person.post(f"{PS}/tokens/{jti}/revoke")
print(answer.status_code, json.dumps(answer.json(), indent=2))
for exchange in lab.trace.find(since=revoking):
    print(show.title(exchange))

# %% [markdown]
# Before answering, the PS told the supply-chain agent — that is the `PS → Supply chain`
# exchange. Here it is, raw:

# %%
revocation = lab.trace.first(source="PS", path="/revoke", since=revoking)
show.show(revocation, tokens=False)

# %% [markdown]
# Piece by piece (-11 "Token Revocation", and RFC 9421 for the signature):
#
# * `POST` to the resource's `revocation_endpoint`, with a JSON body of two members: `jti`
#   names the token, `exp` tells the resource how long it must remember — after `exp` the
#   token is dead anyway, so the resource may forget the revocation (plus some clock skew);
# * `Signature-Key: sig=jwks_uri;id=…;dwk=…;kid=…` — the PS signs **as itself**: the
#   resource fetches `{id}/.well-known/{dwk}`, checks its `issuer` is `id`, and takes key
#   `kid` from its JWKS;
# * the signature covers `content-type` and `content-digest` as well as the usual four
#   components: a request with a body to a revocation endpoint must protect its body.
#
# Decoded:

# %%
request = revocation.request
signature_key = parse_signature_key(request.header("signature-key"), "sig")
print("scheme:    ", signature_key.scheme)
print("signer:    ", signature_key.params)
print("covered:   ", request.header("signature-input").split(";")[0])
print("body:      ", json.loads(request.body))
print("the token's exp:", jws.decode_unverified(auth_token).payload["exp"])
print("answer:    ", revocation.status, repr(revocation.response.body))

# %% [markdown]
# The resource answered `200` with an **empty body**, at once: it has nobody to pass the
# news on to, so it never answers `202`. It stored the pair (signer, `jti`) — the signer,
# not a claim in the body, is the issuer whose token is revoked. An unknown `jti` gets the
# same `200`: -11 has no "not found" here.
#
# ## 4 · The resource refuses the token
#
# The agent presents the revoked auth token once more:

# %%
send("POST", f"{SCA}/check", auth_token)
print(show.raw(lab.trace.last(path="/check", source="Agent").response))

# %% [markdown]
# `401` with `Signature-Error: error=revoked_jwt` (-11 "Token Revocation"), and an
# `AAuth-Requirement: requirement=person-token`: the resource says what to fetch next —
# not `auth-token`, because it cannot issue a resource token against a revoked token.
#
# ## 5 · The agent recovers
#
# The kit's agent treats `revoked_jwt` like an expired token: it forgets what it held for
# the SCA and climbs the ladder again — a new person token, a new resource token, a new auth
# token. Whether the PS grants it again is the PS's policy; here the scope needs nobody's
# consent, so it does.

# %%
first = lab.trace.mark()
with lab.client(agent) as signed:
    print(signed.post(f"{SCA}/check").status_code)
for exchange in lab.trace.find(since=first):
    print(show.title(exchange))
new_token = agent.auth_token_for(SCA)
print("\nnew auth token:", jws.decode_unverified(new_token).payload["jti"], "— the old one was", jti)

# %% [markdown]
# ## 6 · Not everyone may revoke
#
# A resource takes revocations of person and auth tokens from Person Servers only. Our
# Agent Provider signs correctly, in its own name — and is still refused with `403
# unsupported_iss`. A `403` comes after a valid signature, so it carries no
# `Signature-Error`.

# %%
ap = Revoker(PS, AGENT_DWK, lab.keys["ps"], lab.clock)  # the lab's AP lives at the PS's identifier
deliver(ap.request(f"{SCA}/revoke", "some-jti", int(lab.clock()) + 60))
print(show.raw(lab.trace.last(path="/revoke", source="Agent").response))

# %% [markdown]
# ## 7 · An Agent Provider revokes an agent token
#
# Revoking the **agent token** goes further. The Agent Provider tells the PS; the PS
# refuses the agent token from now on and **cascades**: it ends the agent's pending
# requests (their polls answer `403 revoked`) and revokes every person and auth token it
# issued to that agent, at each resource. It answers `200` only when every resource has
# answered — with an empty body: which resources the person's tokens were for, and which
# could not be told, is the person's business, not the Agent Provider's. The person finds
# those outcomes in their own audit trail at the PS.

# %%
agent_claims = jws.decode_unverified(agent.agent_token).payload
first = lab.trace.mark()
with lab.client(source="Agent Provider") as ap_client:
    cascade = deliver(ap.request(f"{PS}/revoke", agent_claims["jti"], agent_claims["exp"]), via=ap_client)
print("AP → PS:", cascade.status_code, repr(cascade.content))
for exchange in lab.trace.find(since=first):
    print(show.title(exchange), json.loads(exchange.request.body)["jti"])

# %% [markdown]
# The PS told the SCA once for each token it had issued to the agent for the SCA and that
# was still live: both person tokens and the new auth token (the first auth token was
# revoked already). This time the agent cannot recover — the PS refuses its agent token, so there is no
# new person token to be had. The agent must go back to its Agent Provider.

# %%
try:
    with lab.client(agent) as signed:
        signed.post(f"{SCA}/check")
except FlowError as error:
    print(error.code, "—", error.detail)

# %% [markdown]
# There it gets a fresh agent token (`lab.new_agent` does the bootstrap of notebook 03 in one
# call, without the HTTP, so it adds nothing to the trace), and with it the agent could start
# again from section 5:

# %%
agent = lab.new_agent("reporter")
fresh_jti = jws.decode_unverified(agent.agent_token).payload["jti"]
print("fresh agent token:", fresh_jti, "— the revoked one was", agent_claims["jti"])

# %% [markdown]
# ## The conversation
#
# The whole trace. The PS revoking the auth token at the supply-chain agent is highlighted.

# %%
SequenceDiagram(lab.trace, highlight=revocation.index + 1,
                parties=["Agent", "Supply chain", "PS", "Person", "Agent Provider"])

# %% [markdown]
# ## 8 · Exercises
#
# The graders check your answers against this lab: they send requests to the supply-chain
# agent and read its answers.
#
# **Q1 · Revoke an auth token as the PS.** Write `revocation_request(endpoint, auth_token)`:
# return the signed `HttpMessage` the PS sends to revoke `auth_token` (a JWT it issued) at
# the resource's revocation `endpoint`. Build it from the pieces of section 3 — `HttpMessage`,
# `sign_request`, `jwks_uri_key` — rather than with `Revoker`. The PS signs with
# `lab.keys["ps"]`. The grader fetches a fresh auth token for an agent of its own, sends your
# request to the SCA, then presents the token: the SCA must refuse it with `revoked_jwt`.

# %%
from aauth_kit.exercises import nb08

ex = nb08.bind(lab)


def revocation_request(endpoint, auth_token):
    ...  # your code here: return the signed HttpMessage


ex.q1.check(revocation_request)

# %% [markdown]
# **Q2 · What does the SCA answer?** For each revocation sent to the SCA's
# `revocation_endpoint`, predict the answer as `(status, error code)` — `(200, None)` for a
# success. The grader sends all four and compares.

# %%
answers = {
    "the Agent Provider, signing as itself (dwk aauth-agent.json), revokes an auth token": None,
    "the PS revokes an auth token, its signature covering neither content-type nor content-digest": None,
    "the PS revokes a jti the SCA has never seen": None,
    'the PS sends the whole auth token instead of its jti: {"token": "eyJ…"}': None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()` (`hint(2)` says more); solutions: `ex.q1.solution()`,
# `ex.q2.solution()`.

# %% [markdown]
# What to remember:
#
# * a revocation is a signed `POST {"jti", "exp"}`, signed by the issuer as itself
#   (`jwks_uri`), body covered;
# * the recipient keys it by (verified signer, `jti`) and may forget it after `exp`;
# * `200` means done — including any cascade; there is no `404`;
# * a revoked token in `Signature-Key` gets `401 revoked_jwt`; a pending request of a
#   revoked agent ends with `403 revoked`.
