# %% [markdown]
# # 15 · Sub-agents, call chaining and interaction chaining
#
# So far one agent called one resource. Draft -11 "Agent Delegation" covers the cases where
# more than one agent is involved in fulfilling a request:
#
# * an orchestrating agent spawns **sub-agents**: each has its own identity and key, its token
#   names its parent in `parent_agent`, and the parent obtains its tokens for it (-11
#   "Sub-Agents", "Parent-Mediated Authorization");
# * a resource calls a downstream resource **as an agent** for its caller, handing the
#   caller's auth token to the PS as `upstream_token` (-11 "Call Chaining"), and when the PS
#   needs the person for that downstream call, the resource chains the interaction back to
#   its caller with its own `202` (-11 "Interaction Chaining");
# * a resource that cannot answer yet **holds the invocation** behind a `202` and answers the
#   poll that brings the auth token — once (-11 "Deferred Delivery").
#
# The supply-chain agent (SCA) of notebook 07 is our intermediary; market analysis is
# downstream. In this lab the person's PS asks the person before it grants
# `market-analysis:analyze`.

# %%
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

from aauth_kit import jws, show
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key
from aauth_kit.subagents import create_subagent
from aauth_kit.waiting import held_poll, wait_until

lab = Lab(consent_scopes=["market-analysis:analyze"])
PS, SCA, MAA, SUP = (lab.identifiers[n] for n in ("ps", "supply_chain", "market_analysis", "supplier"))
background = ThreadPoolExecutor(1)  # the agent's flows run here while the cells play the person


def claims(token):
    return jws.decode_unverified(token).payload


def signed(method, url, key, token, body=None):
    """A request signed by hand (to present what the kit's agent never would)."""
    fields = [("Content-Type", "application/json")] if body is not None else []
    message = HttpMessage(method, url, fields, json.dumps(body).encode() if body is not None else b"")
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return lab.send(message)


def downstream_code(told):
    """The PS's code behind the SCA's own: the SCA keeps it with its held request."""
    (call,) = [c for c in lab.supply_chain.chaining.chained() if c.code == told.code]
    return call.downstream.code


lab

# %% [markdown]
# ## 1 · A sub-agent and its token
#
# The parent, `planner`, asks its Agent Provider for a sub-agent (-11 "Sub-Agent Identity"
# leaves how to the platform; the kit's AP takes a request signed by the parent and by the
# sub-agent's new key). The sub-agent's token is an ordinary agent token with two marks: its
# local part is the parent's, `+` and a discriminator, and `parent_agent` names the parent.

# %%
parent = lab.new_agent("planner")
with lab.client() as client:
    sub = create_subagent(parent, client, "search1", key=lab.key("sub/search1"))
token = claims(sub.agent_token)
print("sub:         ", token["sub"])
print("parent_agent:", token["parent_agent"])
print("its own key: ", token["cnf"]["jwk"]["x"] != claims(parent.agent_token)["cnf"]["jwk"]["x"])

# %% [markdown]
# ## 2 · The parent-mediated flow
#
# The sub-agent calls the SCA's `POST /check` with its own key. When the SCA asks for a person
# token and an auth token, the sub-agent does **not** call the PS ("A sub-agent MUST NOT call
# the PS directly"): its flow hands each token request to the parent, who signs it with its
# own key and agent token and adds `subagent_token` (-11 "Parent-Mediated Authorization").

# %%
start = lab.trace.mark()
with lab.client(sub, source="Sub-agent") as client:
    print(client.post(f"{SCA}/check").status_code)
asked = lab.trace.last(url=f"{PS}/auth-token")
print(show.raw(asked.request))
print("signed by:", claims(asked.request.header("signature-key").split('jwt="')[1][:-1])["sub"])

# %% [markdown]
# The auth token binds the **sub-agent's** key, so the sub-agent presents it; the resource sees
# an ordinary caller — the parent relationship is in the PS's audit log, not in the token.

# %%
issued = claims(sub.auth_token_for(SCA))
print("cnf is the sub-agent's key:", issued["cnf"]["jwk"]["x"] == sub.key.public_jwk()["x"])
print("parent_agent in the auth token:", "parent_agent" in issued)
SequenceDiagram(lab.trace.find(since=start), parties=["Sub-agent", "Supply chain", "PS"])

# %% [markdown]
# ## 3 · Call chaining, and the person downstream
#
# A buyer agent asks the SCA for an optimisation *with a market analysis*. The SCA calls market
# analysis as an agent of its own (its own key, a self-issued agent token) and asks the PS for
# tokens with the buyer's auth token as `upstream_token` (-11 "Call Chaining"). The PS wants
# the person's consent for `market-analysis:analyze`: it answers the **SCA** `202` with
# `requirement=interaction`.
#
# The SCA cannot show anybody a code. It answers its own caller `202` with its own
# `AAuth-Requirement: requirement=interaction`, its own code and its own `Location` (-11
# "Interaction Chaining"). To the buyer this is the ordinary `202` of -11 "Deferred Responses".

# %%
buyer = lab.new_agent("buyer")


def optimize():
    with lab.client(buyer) as client:
        return client.post(f"{SCA}/optimize", json={"prompt": "Optimize the laptop supply chain with a market analysis"})


chain_start = lab.trace.mark()
buyer.last_interaction = None
flow = background.submit(optimize)
told = wait_until(lambda: buyer.last_interaction, flow=flow, what="the SCA's 202")
print(show.raw(lab.trace.last(source="Agent", path="/optimize").response))

# %% [markdown]
# Behind it, the SCA's own token request to the PS, with `upstream_token` — the buyer's auth
# token, whose `aud` is the SCA (-11 "Upstream Token Verification") — and the PS's `202`:

# %%
upstream_request = lab.trace.last(source="Supply chain", url=f"{PS}/auth-token")
print(show.raw(upstream_request.request))
print(show.raw(upstream_request.response))
held_poll(lab.ps, downstream_code(told), flow=flow)  # the SCA waits at the PS …
polls = wait_until(lambda: lab.trace.find(source="Agent", path="/pending/*", since=chain_start), flow=flow, what="a poll")

# %% [markdown]
# ## 4 · The person goes through the SCA to the PS
#
# The buyer shows its person the SCA's link. The SCA's page sends the browser on to the PS's
# interaction with the PS's code ("R1 redirects to PS", -11 "Interaction Chaining"); the code
# of the SCA is single-use. At the PS the person sees who asks: the SCA, for market analysis.

# %%
person = lab.client(source="Person")
page = person.get(told.link(), follow_redirects=False)
print(page.status_code, page.headers["location"])
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"
code = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
context = person.get(f"{PS}/consent", params={"code": code}).json()
print(context["agent"], "asks for", context["scope"])

# %% [markdown]
# The person approves. The SCA's poll at the PS returns its auth token; the SCA calls market
# analysis, completes the optimisation and answers the buyer's held poll at **its** pending
# URL with the result.

# %%
person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
result = flow.result(timeout=60)
print(result.status_code, result.request.url)
print(json.dumps(result.json()["market_analysis"], indent=2)[:400])

# %% [markdown]
# The downstream auth token is the SCA's: `aud` is market analysis, `cnf` the SCA's agent key,
# never the buyer's — nothing the buyer holds works downstream.

# %%
(authorization,) = result.json()["authorizations"]
print("aud:", authorization["claims"]["aud"])
print("cnf is the SCA's agent key:", authorization["claims"]["cnf"]["jwk"]["x"] == lab.keys["supply_chain_agent"].public_jwk()["x"])
print("cnf is the buyer's key:    ", authorization["claims"]["cnf"]["jwk"]["x"] == buyer.key.public_jwk()["x"])

# %%
SequenceDiagram(lab.trace.find(since=chain_start), parties=["Agent", "Person", "Supply chain", "PS", "Market analysis"])

# %% [markdown]
# ## 5 · Deferred delivery at the resource
#
# The parts supplier holds `POST /orders` behind a `202` with `requirement=auth-token` (-11
# "Deferred Delivery"): the agent fetches the auth token and polls the `Location` with it; the
# supplier places the order **on that poll** and answers with its result.

# %%
order_start = lab.trace.mark()
with lab.client(buyer) as client:
    placed = client.post(f"{SUP}/orders", json={"part": "ssd-1tb", "units": 3})
print(placed.status_code, placed.json())
print(show.raw(lab.trace.last(source="Agent", path="/orders", status=202).response))

# %% [markdown]
# The supplier keeps the result until the auth token's `exp`. The same auth token presented
# again at the pending URL gets the same answer from it, by the token's `jti` — the order is
# not placed twice.

# %%
poll = lab.trace.last(source="Agent", path="/pending/*", target="Supplier")
again = signed("GET", poll.request.target_uri, buyer.key, buyer.auth_token_for(SUP))
print(again.status, json.loads(again.response.body), "orders placed:", len(lab.supplier.orders))
SequenceDiagram(lab.trace.find(since=order_start), parties=["Agent", "Supplier", "PS"])

# %% [markdown]
# ## 6 · Tampering
#
# **A sub-agent's token under another key.** The parent presents the sub-agent's auth token
# but signs with its own key. The SCA verifies the signature with the key the token's `cnf`
# names — the sub-agent's — and it does not hold: `401` with a `Signature-Error`.

# %%
stolen = signed("POST", f"{SCA}/check", parent.key, sub.auth_token_for(SCA))
print(stolen.status, stolen.response.header("signature-error") or json.loads(stolen.response.body))

# %% [markdown]
# **An upstream token from another chain.** Another agent hands the PS the buyer's auth token
# (issued to the SCA) as its `upstream_token`: its `aud` is not the iss of this agent's token.

# %%
other = lab.new_agent("other")
body = {"resource": MAA, "upstream_token": buyer.auth_token_for(SCA)}
print(show.raw(signed("POST", f"{PS}/person-token", other.key, other.agent_token, body).response))

# %% [markdown]
# **A stranger at the SCA's pending URL.** A second chained request; another agent polls its
# `Location`: `404 not_found`, as if it did not exist. Then the person denies at the PS, and
# the buyer's poll at the SCA ends with the PS's own answer, `403 denied`.

# %%
buyer.last_interaction = None
flow = background.submit(optimize)
told = wait_until(lambda: buyer.last_interaction, flow=flow, what="the SCA's 202")
held_poll(lab.ps, downstream_code(told), flow=flow)
print(show.raw(signed("GET", told.pending_url, other.key, other.agent_token).response))
lab.ps.decide(downstream_code(told), False)
denied = flow.result(timeout=60)
print(denied.status_code, denied.json())

# %% [markdown]
# ## 7 · Exercises

# %%
from aauth_kit.exercises import nb15

ex = nb15.bind(lab)

# %% [markdown]
# **Q1 · Follow the chained 202.** Write `follow(response)`: from the SCA's `202` (an
# `httpx.Response`) return `(link, pending_url)` — the link the person opens and the absolute
# URL the agent polls. The grader makes a chained request, opens your link as the person,
# approves at the PS and polls your URL.

# %%
def follow(response):
    ...  # your code here: return (link, pending_url)


ex.q1.check(follow)

# %% [markdown]
# **Q2 · What is answered?** Predict `(status, error code)`.

# %%
answers = {
    "another agent polls the pending URL of a chained request": None,
    "the person denies at the PS; the original agent polls the supply-chain agent's pending URL": None,
    "a sub-agent signs its own request to the PS's auth token endpoint": None,
    "an agent sends the PS, as upstream_token, an auth token issued to another resource": None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()`; solutions: `ex.q1.solution()`, `ex.q2.solution()`.
#
# ## What to remember
#
# * a sub-agent has its own identifier and key; `parent_agent` marks it; its parent asks the
#   PS for its tokens (`subagent_token`), and the tokens bind the sub-agent's key;
# * a resource calling downstream is an agent: its own key, its own agent token, the caller's
#   auth token as `upstream_token` — whose `aud` must be that resource;
# * when the PS needs the person downstream, the resource answers its caller with its own
#   `202`, code and `Location`, and delivers the result there; only the original agent may
#   poll it, and a denial downstream arrives as `403 denied`;
# * a resource may hold an invocation behind a `202` and run it on the poll that brings the
#   auth token, answering that token again from the kept result.
