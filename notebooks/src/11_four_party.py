# %% [markdown]
# # 11 · Four-party access: a resource with its own Access Server
#
# In notebook 05 the Person Server (PS) issued the auth token itself: the resource trusted the
# person's identity and applied its own policy. Some resources want more — their own policy,
# evaluated by a server they choose. -11 "Federated Authorization Access (Four-Party)":
#
# > The resource has its own access server. The resource issues a resource token with aud =
# > AS URL [...]. The PS federates with the AS to obtain the auth token.
#
# | party | here | decides |
# | --- | --- | --- |
# | agent | the notebook | what it asks for |
# | resource | the **parts catalog**, `https://catalog.example` | what is required (`scope`, `aud`) |
# | PS | `https://ps.example` | the person's consent |
# | AS | `https://as.example` | the resource's policy: who, which scope, claims, payment |
#
# The agent never talks to the AS. It sends the resource token to its PS exactly as before;
# the PS sees an `aud` that is not itself and calls the AS, **signed as itself**.

# %%
import json

from aauth_kit import jws, show, tokens
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

lab = Lab(consent_scopes=["supply-chain:optimize", "catalog:order"])
PS, AS, CATALOG = lab.identifiers["ps"], lab.identifiers["access_server"], lab.identifiers["catalog"]
agent = lab.new_agent("buyer", on_interaction=lambda interaction: lab.ps.decide(interaction.code, approved=True))
client = lab.client(source="Agent")
lab

# %% [markdown]
# ## 1 · The Access Server's metadata
#
# -11 "Access Server Metadata": published at `/.well-known/aauth-access.json`; `issuer`,
# `auth_token_endpoint` and `jwks_uri` are required. The PS reads it to know where to send
# the token request; the resource and the agent read `jwks_uri` to verify the auth tokens
# the AS signs.

# %%
print(json.dumps(client.get(f"{AS}/.well-known/aauth-access.json").json(), indent=2))

# %% [markdown]
# ## 2 · The four-party flow
#
# The agent reads the catalog (`GET /parts`, scope `catalog:read`). The catalog's policy lives
# at its AS, which grants `catalog:read` to any person of a PS it trusts.

# %%
start = lab.trace.mark()
with lab.client(agent) as signed:
    print(signed.get(f"{CATALOG}/parts").json())
for exchange in lab.trace.find(since=start):
    print(show.title(exchange))

# %% [markdown]
# The resource token the catalog challenged with names the AS as its audience and the PS as
# `ps` — the PS it must go through:

# %%
challenge = lab.trace.last(path="/parts", status=401, since=start)
resource_token = parse_requirement(challenge.response.header("aauth-requirement")).params["resource-token"]
print(show.decoded(resource_token, now=int(lab.clock())))

# %% [markdown]
# Here is the PS's request to the AS, raw (-11 "PS-to-AS Token Request"): "The PS MUST make
# a signed POST to the AS's auth_token_endpoint." The body carries the resource token, the
# agent's token — "agent_token remains REQUIRED even though the resource never sees an agent
# identifier", because the AS evaluates the agent's posture — and the person token the agent
# showed the catalog (`presented_token`), which the AS checks against the resource token's
# `presented_jti` just as the PS did. `Signature-Key: sig=jwks_uri` names the PS and its
# `aauth-person.json`: the PS signs in its own right, not with a token.

# %%
federation = lab.trace.first(source="PS", target="AS", since=start)
show.show(federation, tokens=False)

# %% [markdown]
# The AS answered `200` with an auth token. -11 "Auth Token Delivery": before the PS hands it
# on, it verifies it — signature with the AS's JWKS, `iss` the AS it asked, `aud` the
# resource, `cnf.jwk` the agent's key, `sub` the person's directed identifier at the
# resource, `scope` no broader than the resource token's. Decoded:

# %%
auth_token = agent.auth_token_for(CATALOG)
print(show.decoded(auth_token, now=int(lab.clock())))

# %% [markdown]
# `dwk` is `aauth-access.json`: the catalog (-11 "Auth Token Verification") finds the key at
# `{iss}/.well-known/aauth-access.json`, and it takes auth tokens from **its** AS only.
#
# ## 3 · `requirement=claims`: the AS needs to know more
#
# Ordering parts (`POST /orders`, scope `catalog:order`) needs the person's consent at the PS,
# and the catalog's AS wants the person's `name` before it grants it. -11 "Claims Required":
# the AS answers `202` with `AAuth-Requirement: requirement=claims` and a `required_claims`
# array, and the PS provides the claims by POSTing them, signed, to the `Location` URL. The
# person's identity is not among them: the resource token already carries it as `ps` and
# `sub` ("the AS needs no separate identity parameter", -11 "PS-to-AS Token Request").

# %%
start = lab.trace.mark()
with lab.client(agent) as signed:
    order = signed.post(f"{CATALOG}/orders", json={"part": "keyboard-uk", "quantity": 5})
print(order.status_code, order.json())
asked, given = lab.trace.find(source="PS", target="AS", since=start)
print(show.raw(asked.response))
print()
print(show.raw(given.request))

# %% [markdown]
# The kit's PS holds one such claim: the person's `name`. It releases it only because the
# person approved this request; claims it does not hold are left out ("Claims not recognized
# by the recipient SHOULD be ignored"). Without the consent the PS sends no claim at all, and
# the AS refuses:

# %%
lab.policy.scopes.remove("catalog:order")
try:
    with lab.client(lab.new_agent("hasty")) as signed:
        signed.post(f"{CATALOG}/orders", json={"part": "keyboard-uk", "quantity": 1})
except FlowError as error:
    print(error.status, error.code, "—", error.detail)
print("the PS released:", json.loads(lab.trace.last(source="PS", target="AS").request.body))
lab.policy.scopes.append("catalog:order")

# %% [markdown]
# ## 4 · `402`: the AS wants to be paid
#
# -11 "AS Response": "The AS MAY return 402 Payment Required when a billing relationship is
# required before it will issue auth tokens", with a `Location` to poll after payment and
# the payment details in `WWW-Authenticate`. The payment protocol is out of the draft's
# scope, and the kit's PS makes no payments: it relays the `402` to the agent, with the AS's
# challenge.

# %%
lab.access_server.policy.billing = True
try:
    with lab.client(lab.new_agent("unbilled")) as signed:
        signed.get(f"{CATALOG}/parts")
except FlowError as error:
    print(error.status, error.code, "—", error.detail)
    print("WWW-Authenticate:", error.response.headers["www-authenticate"])
print()
print(show.raw(lab.trace.last(source="PS", target="AS").response))

# %% [markdown]
# Somebody settles the bill out of band (`lab.access_server.settle(PS)` plays that part).
# "The PS caches the billing relationship per AS. Future token requests from the same PS to
# the same AS skip the billing step":

# %%
lab.access_server.settle(PS)
with lab.client(lab.new_agent("billed")) as signed:
    print(signed.get(f"{CATALOG}/parts").status_code)
lab.access_server.policy.billing = False

# %% [markdown]
# ## 5 · Errors the agent sees
#
# The agent only talks to its PS, so the PS tells it what happened at the AS, with the
# draft's codes:
#
# | at the AS | the agent gets |
# | --- | --- |
# | the AS does not trust this PS (-11 "PS-AS Trust Establishment": here, pre-established only) — `401 unknown_key` to the PS | `403 denied` |
# | the AS's policy refuses the scope — `403 denied` | `403 denied` |
# | no verifiable answer in time: unreachable, `5xx`, a bad auth token | `502 as_unreachable` |

# %%
def outcome(name):
    try:
        with lab.client(lab.new_agent(name)) as signed:
            return signed.get(f"{CATALOG}/parts").status_code
    except FlowError as error:
        return error.status, error.code


lab.access_server.policy.trusted = set()
print("untrusted PS:  ", outcome("untrusted"))
lab.access_server.policy.trusted = {PS}
lab.catalog.resource.access_server = "https://gone.example"
print("AS unreachable:", outcome("stranded"))
lab.catalog.resource.access_server = AS

# %% [markdown]
# ## 6 · Tamper lab
#
# The catalog takes an auth token only from its own AS, bound to the key that signs. Three
# forgeries of the agent's auth token, each presented with a correct request signature:
#
# 1. the scope widened to `catalog:order`, the token re-signed with the **agent's** key;
# 2. a token the **PS** mints for the catalog itself (a three-party token, `dwk` `aauth-person.json`);
# 3. the genuine AS token, presented by **another agent's** key.

# %%
def present(token, key=agent.key):
    message = HttpMessage("GET", f"{CATALOG}/parts")
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    with lab.client(source="Agent") as plain:
        answer = plain.get(message.target_uri, headers=[h for h in message.headers if h[0].lower() != "host"])
    return answer.status_code, answer.headers.get("signature-error")


claims = jws.decode_unverified(auth_token).payload
widened = tokens.mint("aa-auth+jwt", agent.key, {**claims, "scope": "catalog:read catalog:order"},
                      kid=jws.decode_unverified(auth_token).header["kid"])
from_ps = tokens.mint_auth_token(lab.keys["ps"], iss=PS, aud=CATALOG, ps=PS, sub=claims["sub"],
                                 cnf=agent.key, scope="catalog:read", iat=int(lab.clock()), kid="ps")
print("1 widened scope:    ", present(widened))
print("2 PS-issued token:  ", present(from_ps))
print("3 another agent key:", present(auth_token, key=lab.key("agent/thief")))
print("the genuine token:  ", present(auth_token))

# %% [markdown]
# 1 fails the signature check (`invalid_jwt`: the AS's key does not verify it); 2 is a valid
# token from the wrong issuer (`invalid_jwt`: this resource takes auth tokens from its AS); 3
# is the genuine token with a request signed by another key (`invalid_signature`: the request
# signature does not verify with the token's `cnf.jwk`).
#
# ## 7 · Revocation reaches the AS
#
# Two issuers stand behind the agent's access here: the PS issued the person token, the AS the
# auth token. -11 "Token Revocation": each revokes what it issued, and the PS also revokes a
# person token at each AS it presented it to. So when the person revokes the person token at
# the PS (the kit's consent API, as in notebook 08), the PS tells the catalog **and** the AS
# (the `revocation_endpoint` of its `aauth-access.json`); the AS revokes, at the catalog, each
# auth token it issued from that person token (two here: the agent came through the AS twice
# with it), signed **as itself** (`dwk` `aauth-access.json`), and answers the PS `200` — with
# a `downstream` report had it failed to reach the catalog. The catalog takes such a
# revocation from its own AS only.

# %%
presented = json.loads(federation.request.body)["presented_token"]
with lab.client(source="Person") as person:
    login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
    person.headers["Authorization"] = f"Bearer {login.json()['session']}"
    revoking = lab.trace.mark()
    print(person.post(f"{PS}/tokens/{jws.decode_unverified(presented).payload['jti']}/revoke").json())
for exchange in lab.trace.find(since=revoking):
    print(show.title(exchange))
print("the AS's auth token now:", present(auth_token))

# %% [markdown]
# The AS's revocation at the catalog, raw: the same small signed `POST` as the PS's, with the
# AS's identifier and `aauth-access.json` in `Signature-Key`, and the `jti` of the auth token.

# %%
show.show(lab.trace.first(source="AS", since=revoking), tokens=False)

# %% [markdown]
# ## 8 · The AS asks the catalog's owner
#
# -11 "AS Response": the AS may also answer `202` with `requirement=interaction` — "the resource
# owner must approve access" — and "The PS directs the user to the AS's interaction URL, or
# passes the interaction requirement back to the agent". The kit's PS passes it back: the agent
# gets the PS's own `202`, shaped as the PS's own interaction — but `url` is the **AS's** page
# and `code` the AS's code. `Location` stays the PS's pending URL; each poll there asks the
# AS's `Location`, signed as the PS, until the AS grants (the PS verifies the auth token as
# before), refuses (`403 denied`) or gives up (`408 expired`).
#
# At the AS's page the owner signs in first: the code only correlates the browser with the
# request (-11 "Interaction Code Format": "the code alone MUST NOT authorize the decision").
# Here the owner is the lab's person, in a browser played by `lab.client(source="Owner")`.

# %%
import re


def hidden_fields(page):
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))


def owner_approves(interaction):
    print("the agent shows:", interaction.link())
    with lab.client(source="Owner") as browser:
        sign_in = hidden_fields(browser.get(interaction.link()))
        owner = {"username": "mcp-user", "password": "user123"}
        browser.post(f"{AS}/sign-in", data={**sign_in, **owner}, headers={"Origin": AS})
        decision = {**hidden_fields(browser.get(interaction.link())), "decision": "approve"}
        print("the owner:", browser.post(f"{AS}/interaction", data=decision, headers={"Origin": AS}).status_code)


lab.access_server.policy.owner_approval = {"catalog:read"}
start = lab.trace.mark()
with lab.client(lab.new_agent("newcomer", on_interaction=owner_approves)) as signed:
    print("the catalog:", signed.get(f"{CATALOG}/parts").status_code)
lab.access_server.policy.owner_approval = set()
print()
print(show.raw(lab.trace.first(source="PS", target="AS", since=start).response))
print()
print(show.raw(lab.trace.first(source="Agent", target="PS", status=202, since=start).response))

# %% [markdown]
# The AS's `202` to the PS (first) and the PS's `202` to the agent (second) carry the same
# `url` and `code`. The AS can also decide without anybody's direction (`requirement=approval`,
# -11 "Approval Pending": `lab.access_server.policy.approval` and `lab.access_server.decide`),
# and ask a question (`requirement=clarification`), which the PS passes down to an agent that
# declared it can answer (its `clarify`, as in notebook 12).

# %% [markdown]
# ## The conversation
#
# The whole trace; the PS's first request to the AS is highlighted.

# %%
SequenceDiagram(lab.trace, highlight=federation.index + 1, parties=["Agent", "Catalog", "PS", "AS"])

# %% [markdown]
# ## 9 · Exercises
#
# **Q1 · Be the PS.** Write `token_request(endpoint, resource_token, agent_token,
# presented_token)`: return the signed `HttpMessage` the PS sends to the AS's token endpoint,
# built from `HttpMessage`, `sign_request` and `jwks_uri_key`. The PS signs with
# `lab.keys["ps"]`. The grader takes fresh tokens of an agent of its own, sends your request
# to the AS and expects an auth token for the catalog.

# %%
from aauth_kit.exercises import nb11

ex = nb11.bind(lab)


def token_request(endpoint, resource_token, agent_token, presented_token):
    ...  # your code here: return the signed HttpMessage


ex.q1.check(token_request)

# %% [markdown]
# **Q2 · What does the agent get?** For each situation, predict what the agent gets from its
# PS as `(status, error code)` — `(200, None)` when its request at the catalog succeeds. The
# grader sets each one up in the lab, runs an agent of its own, and puts the lab back.

# %%
answers = {
    "the AS wants a billing relationship with the PS first": None,
    "the AS does not take requests from the lab's PS": None,
    "the catalog names an AS that cannot be reached": None,
    "the AS trusts the PS and grants catalog:read": None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()` (`hint(2)` says more); solutions: `ex.q1.solution()`,
# `ex.q2.solution()`.
#
# What to remember:
#
# * the resource token's `aud` says who decides: the PS itself (three-party) or an AS
#   (four-party); the agent's part does not change;
# * the PS calls the AS signed as itself (`sig=jwks_uri`), with the resource, agent and
#   presented tokens;
# * the AS may answer `402` (payment), `202` `requirement=claims` (the PS POSTs them to
#   `Location`), or `200` — and the PS verifies that auth token before the agent sees it;
# * the resource verifies AS-issued tokens through `aauth-access.json`, from its AS only.
# * a revoked person token reaches the AS it was presented to, which revokes its own auth
#   tokens at the resource;
# * an AS that asks the resource owner (`requirement=interaction`) or decides itself
#   (`requirement=approval`) is waited for through the PS: the agent shows the AS's code and
#   polls its PS.
