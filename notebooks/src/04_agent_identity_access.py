# %% [markdown]
# # 04 · Agent identity access: the resource decides who may come in
#
# Notebook 03 gave an agent its name. This one stands on the other side of the wire: a
# **resource** that only needs to know *which agent* is calling — no person, no consent.
# -11 calls it **agent identity access**, the first of its access modes: the agent signs
# with its agent token, the resource verifies it and applies its own policy to the agent
# identifier and its Agent Provider.
#
# We will:
#
# 1. call the supply-chain agent's `GET /inventory` without a signature and read the
#    challenge `requirement=agent-token`;
# 2. call it again, signed, and see what the resource learns — and what it does not;
# 3. build a small resource of our own whose policy admits agents **from one Agent
#    Provider**, then **from a list**, and watch it say yes and no;
# 4. fool a careless policy with an agent from a rogue provider, and fix the policy.

# %%
import json

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import show, tokens
from aauth_kit.agent import Agent
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.errors import AAuthError
from aauth_kit.identifiers import parse_agent_identifier
from aauth_kit.lab import Lab
from aauth_kit.metadata import agent_metadata
from aauth_kit.jwks import jwks
from aauth_kit.resource import Resource

lab = Lab()
PS = lab.identifiers["ps"]
SUPPLY_CHAIN = lab.identifiers["supply_chain"]
bot = lab.new_agent("inventory-bot")  # an agent token from the lab's Agent Provider (notebook 03)
lab

# %% [markdown]
# ## 1 · No signature: the challenge
#
# A plain request, as any HTTP client would send it. The supply chain's `/inventory` route
# is protected with the access mode `agent-token`, so the resource answers `401` and says
# what it needs in `AAuth-Requirement` (-11 "Requirement Responses"). AAuth never uses
# `WWW-Authenticate` for this.

# %%
with lab.client(source="Anonymous") as anonymous:
    anonymous.get(f"{SUPPLY_CHAIN}/inventory")
show.show(lab.trace.last(path="/inventory", source="Anonymous"))

# %% [markdown]
# `requirement=agent-token` has no parameters: "sign again, presenting an agent token".

# %% [markdown]
# ## 2 · Signed with the agent token
#
# The kit's `Agent` signs every request: `Signature-Key: sig=jwt;jwt="<agent token>"`,
# covering `@method`, `@authority`, `@path` and `signature-key` (-11 "HTTP Message
# Signatures Profile").

# %%
with lab.client(bot, source="inventory-bot") as signed:
    inventory = signed.get(f"{SUPPLY_CHAIN}/inventory")
show.show(lab.trace.last(path="/inventory", source="inventory-bot"), now=lab.clock, body_lines=8)

# %% [markdown]
# To let this request in, the supply chain ran the seven steps of -11 "Verification
# (Server)": the three signature headers are there; the required components are covered;
# `created` is fresh; the scheme is `jwt`; the token verifies against its issuer's keys
# (`iss` + `dwk` → metadata → JWKS → `kid`) and has not expired; its `cnf.jwk` is a usable
# key; and the request's signature verifies with that key. Then the route's access mode
# `agent-token` admits **any** verified agent. The response names the agent it saw.

# %%
print(inventory.status_code, "agent:", inventory.json()["agent"])
print(len(inventory.json()["inventory"]), "inventory lines")

# %% [markdown]
# ## 3 · A resource of our own
#
# "Any verified agent" is rarely the policy you want. Let us build a resource with
# `aauth_kit.resource.Resource` — the same class the supply chain uses — and write the
# policy ourselves. The resource, `https://reports.example`, has two routes, both with the
# access mode `agent-token`:
#
# * `GET /whoami` answers with everything the resource learned about its caller;
# * `GET /quarterly` serves a report, but only to callers the function `admit(caller)`
#   accepts; anyone else gets `403 Forbidden`.
#
# A refusal after a **valid** signature is `403`, not `401`: the agent proved who it is,
# the answer is still no. Such a `403` carries no `Signature-Error` (Signature Keys -09 "Access Denied").

# %%
REPORTS = "https://reports.example"


def admit(caller) -> bool:
    """The policy: replaced further down. Until then, nobody."""
    return False


async def whoami(request):
    caller = request.state.caller  # an aauth_kit.resource.Caller
    return JSONResponse({
        "agent": caller.agent,
        "agent provider": caller.token.iss,
        "key thumbprint": caller.jkt,
        "person server hint": caller.token.ps,
        "person": caller.person,
        "scopes": sorted(caller.scopes),
    })


async def quarterly(request):
    caller = request.state.caller
    if not admit(caller):
        raise AAuthError("forbidden", f"{caller.agent} may not read the reports", status=403)
    return JSONResponse({"report": "Q3 laptop sales", "for": caller.agent})


reports = Resource(REPORTS, key=lab.key("reports"), resolver=lab.resolver, name="Reports", clock=lab.clock)
app = reports.app([
    reports.route("/whoami", whoami, access="agent-token"),
    reports.route("/quarterly", quarterly, access="agent-token"),
])
lab.hosts.add(REPORTS, app)
lab.trace.names[REPORTS] = "Reports"  # the name in the sequence diagram

# %% [markdown]
# ### What the resource learns
#
# Ask `/whoami`, signed by the inventory bot:

# %%
with lab.client(bot, source="inventory-bot") as signed:
    print(json.dumps(signed.get(f"{REPORTS}/whoami").json(), indent=2))

# %% [markdown]
# The resource learns:
#
# * the **agent identifier** (`sub` of the agent token) — stable, even across key rotation;
# * the **Agent Provider** that vouches for it (`iss`);
# * the **thumbprint of the key** that signed this request (`cnf.jwk`'s, RFC 7638) — the
#   same on every request until the agent rotates its key;
# * a *hint* at the agent's Person Server (`ps`) — only a hint: nothing here is signed by it.
#
# It does **not** learn a person: `person` is `null`. An agent token says which software is
# calling, not on whose behalf. For that the agent needs a person token (notebook 05), and
# the person's consent for some things (notebook 06). No scopes either: nothing was
# authorized, the agent only identified itself.

# %% [markdown]
# ### Policy 1: agents from one Agent Provider
#
# The simplest useful rule: trust one provider, and every agent it vouches for.

# %%
TRUSTED_PROVIDERS = {PS}


def admit(caller) -> bool:
    return caller.token.iss in TRUSTED_PROVIDERS


with lab.client(bot, source="inventory-bot") as signed:
    allowed = signed.get(f"{REPORTS}/quarterly")
print(allowed.status_code, allowed.json())

# %% [markdown]
# To see a "no" we need an agent from **another** provider. An Agent Provider is little
# more than a key and two documents: `aauth-agent.json` (its `issuer` and `jwks_uri`) and
# its JWKS. Here is a partner company's, served on the lab's network as
# `https://partner.example`, and an agent token it issues to its `analyst` agent:

# %%
def provider_app(identifier, key, name):
    """An Agent Provider's public face: its metadata and its JWKS (-11 "Metadata Documents")."""
    documents = {
        "/.well-known/aauth-agent.json": agent_metadata(identifier, f"{identifier}/.well-known/jwks.json", name=name),
        "/.well-known/jwks.json": jwks([key]),
    }
    return Starlette(routes=[Route(path, lambda request, doc=doc: JSONResponse(doc)) for path, doc in documents.items()])


PARTNER = "https://partner.example"
partner_key = lab.key("partner-ap")
lab.hosts.add(PARTNER, provider_app(PARTNER, partner_key, "Partner Inc."))

analyst_key = lab.key("agent/analyst")
now = int(lab.clock())
analyst_token = tokens.mint_agent_token(partner_key, iss=PARTNER, sub="aauth:analyst@partner.example",
                                        cnf=analyst_key, iat=now, exp=now + 3600, jti="partner-0001")
analyst = Agent(analyst_key, analyst_token, clock=lab.clock)
print(show.decoded(analyst_token, now=now))

# %% [markdown]
# The analyst's token is perfectly valid — the reports resource fetches the partner's keys
# and verifies it like any other. But its provider is not trusted:

# %%
with lab.client(analyst, source="analyst") as signed:
    signed.get(f"{REPORTS}/quarterly")
print(show.raw(lab.trace.last(path="/quarterly", source="analyst").response))

# %% [markdown]
# `403`, problem+json `forbidden`, no `Signature-Error`: the signature and the token were
# fine (a bad one would have been `401`), the policy said no.
#
# ### Policy 2: a list of agents
#
# Finer: name the agents. This list takes our inventory bot and the partner's analyst —
# but not every agent of the lab's provider.

# %%
ALLOWED_AGENTS = {"aauth:inventory-bot@ps.example", "aauth:analyst@partner.example"}


def admit(caller) -> bool:
    return caller.agent in ALLOWED_AGENTS


def try_reports(agents: dict) -> None:
    """Each agent asks for the report; one line per answer."""
    lines = []
    for name, agent in agents.items():
        with lab.client(agent, source=name) as signed:
            response = signed.get(f"{REPORTS}/quarterly")
        lines.append(f"{name:14} {response.status_code} {response.json().get('report') or response.json()['error']}")
    print("\n".join(lines))


notebook_agent = lab.new_agent("notebook")  # from the trusted provider, but not on the list
try_reports({"inventory-bot": bot, "analyst": analyst, "notebook": notebook_agent})

# %% [markdown]
# ## 4 · A rogue provider, and the fix
#
# Policy 2 has a hole. Anyone can run an Agent Provider — it is a key and two documents —
# and put any `sub` in the tokens it signs. Here is `https://rogue.example` issuing a token
# whose `sub` is our inventory bot's identifier:

# %%
ROGUE = "https://rogue.example"
rogue_key = lab.key("rogue-ap")
lab.hosts.add(ROGUE, provider_app(ROGUE, rogue_key, "Totally the inventory bot"))
impostor_key = lab.key("agent/impostor")
impostor_token = tokens.mint_agent_token(rogue_key, iss=ROGUE, sub="aauth:inventory-bot@ps.example",
                                         cnf=impostor_key, iat=now, exp=now + 3600, jti="rogue-0001")
impostor = Agent(impostor_key, impostor_token, clock=lab.clock)
with lab.client(impostor, source="impostor") as signed:
    stolen = signed.get(f"{REPORTS}/quarterly")
print(stolen.status_code, stolen.json())

# %% [markdown]
# It got in. The token verified — correctly: it *is* signed by `rogue.example`'s key, found
# at `rogue.example`'s own `jwks_uri`. Signature verification proves **who signed**; it
# does not prove the signer may speak for `ps.example`.
#
# An agent identifier is `aauth:local@domain` where the domain is **its Agent Provider's**
# (-11 "Agent Identifiers"). So an identifier only means something together with the
# provider that vouches for it: a policy about agents must check that the token's `iss` is
# the provider the identifier names — or, equivalently, keep `(iss, sub)` pairs.

# %%
def admit(caller) -> bool:
    local, domain = parse_agent_identifier(caller.agent)
    return caller.agent in ALLOWED_AGENTS and caller.token.iss == f"https://{domain}"


try_reports({"inventory-bot": bot, "analyst": analyst, "impostor": impostor})

# %% [markdown]
# The inventory bot and the analyst still get in; the impostor does not.
#
# One more thing the resource learned and can use: the **key thumbprint**. It changes only
# when the agent rotates its key, so a resource may remember it (to notice a new key, or
# to rate-limit per key) — but the identifier is what a policy should name, because it
# survives rotation.
#
# ## The conversation
#
# Every exchange of this notebook, refusals in red (agents on the left, resources on the
# right; step 9 is the impostor getting in):

# %%
SequenceDiagram(lab.trace, parties=["Anonymous", "inventory-bot", "analyst", "notebook", "impostor",
                                    "Supply chain", "Reports"])

# %% [markdown]
# ## Exercises
#
# **Q1 · An allow-list that cannot be fooled.** Write `admit(token)` for a resource that
# lets in exactly the agents in `ex.ALLOWED` — and only when their token comes from the
# provider their identifier names. `token` is a verified agent token
# (`aauth_kit.token_verification.VerifiedToken`: `token.sub`, `token.iss`, …). The check runs your
# function against genuine tokens and against impostors.

# %%
import aauth_kit.exercises.nb04 as ex

print(sorted(ex.ALLOWED))


def admit_token(token):
    ...  # your code here


ex.q1.check(admit_token)

# %% [markdown]
# **Q2 · 401 or 403?** For each situation, what status does an AAuth resource answer, and
# which AAuth header says why (`"AAuth-Requirement"`, `"Signature-Error"` or `None`)?

# %%
answers = {
    "no signature at all": (None, None),
    "a signature that does not verify": (None, None),
    "a valid agent token, but the policy says no": (None, None),
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()`; solutions: `ex.q1.solution()`, `ex.q2.solution()`.
#
# Next: notebook 05 — when the resource needs to know the **person** behind the agent,
# and what it may do for them.
