# %% [markdown]
# # 07 · The supply-chain demo, end to end
#
# This notebook replays the seed's whole scenario. A person opens the backend's web page
# and clicks **Optimize Laptop Supply Chain**. From there, software does the work:
#
# * the **backend** is an AAuth agent. It calls the **supply-chain agent** (SCA), a
#   resource, and follows the challenges — person token, resource token, auth token;
# * the scope `supply-chain:optimize` needs consent, so the **Person Server** (PS) defers
#   with a `202`, and the backend tells its page where the person should go;
# * once the person approves, the backend's waiting poll gets the auth token and the
#   optimization runs;
# * if the prompt mentions *market*, the SCA itself becomes an agent and calls the
#   **market-analysis agent** (MAA) on the same person's behalf — a *call chain*
#   (-11 "Call Chaining");
# * the PS's audit log tells afterwards, in sentences, who allowed what.
#
# Notebook 06 took the consent exchange apart message by message. Here we stay at the
# level of the scenario: the backend's job API (the same calls its web page makes), the
# results it returns, the call chain, the audit trail and one diagram of all of it.

# %%
import json

from aauth_kit import audit, show
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.keys import jwk_thumbprint
from aauth_kit.lab import Lab
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
PS, BACKEND = lab.identifiers["ps"], lab.identifiers["backend"]
SCA, MAA = lab.identifiers["supply_chain"], lab.identifiers["market_analysis"]
NAMES = {SCA: "the supply-chain agent", MAA: "the market-analysis agent"}
for name, identifier in lab.identifiers.items():
    print(f"{name:16} {identifier}")

# %% [markdown]
# ## 1. The backend and its page
#
# The backend is an ordinary web app with one page and a small job API. Its page is
# served at the address below (on JupyterHub and Binder through the Jupyter server's
# proxy) — open it in a browser tab to click the button yourself (it asks you to approve
# at the PS: sign in as `mcp-user`, password `user123`). The page only calls the job API;
# this notebook calls the same API directly:
#
# | call | what it does |
# | --- | --- |
# | `POST /optimization/start` `{"custom_prompt"?}` | starts a job, returns its `request_id` |
# | `GET /optimization/progress/{request_id}` | `running`, `interaction_required` (with the link and code), `completed` or `failed` |
# | `GET /optimization/results/{request_id}` | the recommendations and the auth tokens used, decoded |

# %%
lab.link("backend")

# %% [markdown]
# Behind the page, the backend acts as an agent with an identity of its own. The PS's
# Agent Provider issued it an agent token when the lab started:

# %%
print(show.decoded(lab.backend.agent_token, now=int(lab.clock())))

# %% [markdown]
# ## 2. Start a job (seed step 1)
#
# Two clients play the browser. `ui` makes the calls you would see in the diagram (start,
# results); `status` does the progress polling, which the page repeats every fraction of a
# second — we leave those repeats out of the trace, or the diagram would be mostly
# identical arrows. `progress()` is the seed's polling loop: ask until the job reaches
# one of the given states (or fails).

# %%
ui = lab.client(source="UI")
status = lab.hosts.client()  # not traced


def progress(request_id, *states):
    """Poll the job until its status is one of ``states`` (or ``failed``); return the progress."""

    def reached():
        body = status.get(f"{BACKEND}/optimization/progress/{request_id}").json()
        return body if body["status"] in (*states, "failed") else None

    return wait_until(reached, what=f"job {request_id} reaching {', '.join(states)}")


job_start = lab.trace.mark()
started = ui.post(f"{BACKEND}/optimization/start", json={"custom_prompt": "Optimize laptop supply chain"})
print(started.status_code, started.json())
job = started.json()["request_id"]

# %% [markdown]
# ## 3. The job needs the person (seed steps 2 – 6)
#
# The backend now runs the AAuth flow you know from notebook 06: signed request, `401`
# for a person token, the person token (checked against the PS's JWKS), `401` with a
# resource token, the token request with `Prefer: wait`, and the PS's `202`. It cannot finish alone, so its progress says
# `interaction_required` and hands over what the page needs to send the person to the PS:
# the interaction link (with a `callback` back to the page), the code, and the callback.

# %%
asked = progress(job, "interaction_required")
print(json.dumps(asked, indent=2))

# %% [markdown]
# The backend has not given up — it is polling the PS's pending URL, and the PS holds the
# poll. We wait for that point, then look at what has flowed so far:

# %%
pending = held_poll(lab.ps, asked["interaction_code"])
for exchange in lab.trace.find(since=job_start):
    print(show.title(exchange))

# %% [markdown]
# ## 4. The person approves (seed step 7)
#
# The seed's tests approved through the PS's REST API: sign in, look the request up by
# its code, post the decision. A person at the consent page does the same with two
# clicks.

# %%
person = lab.client(source="Person")
session = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"}).json()["session"]
person.headers["Authorization"] = f"Bearer {session}"


def approve(code):
    """The person looks the request up by its code and approves it (the seed's REST calls)."""
    context = person.get(f"{PS}/consent", params={"code": code}).json()
    print(f"{context['agent']} asks for {context['scope']} at {context['resource']}")
    print(f"    justification: {context['justification']}")
    decision = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
    print("    decision:", decision.json())


approve(asked["interaction_code"])

# %% [markdown]
# ## 5. The job completes (seed steps 8 – 10)
#
# The approval wakes the backend's held poll; it gets the auth token, retries the SCA and
# finishes. The results carry the SCA's recommendations and — for teaching — the auth
# token the backend used, decoded (never the raw token).

# %%
done = progress(job, "completed")
print(done)
results = ui.get(f"{BACKEND}/optimization/results/{job}").json()
print(results["summary"])
for line in results["recommendations"]:
    print("  •", line)

# %%
(authorization,) = results["authorizations"]
claims = authorization["claims"]
print("token type:", authorization["header"]["typ"], "| for:", authorization["resource"])
for name in ("iss", "aud", "sub", "scope"):
    print(f"    {name:6} {claims[name]}")
print("    bound to the backend's key?", jwk_thumbprint(claims["cnf"]["jwk"]) == lab.keys["backend"].thumbprint())
print("    names mcp-user?            ", claims["sub"] == lab.ps.subject("mcp-user", SCA))

# %% [markdown]
# ## 6. Market analysis through the call chain
#
# Now the seed's bigger prompt: *Optimize laptop supply chain with market analysis*. The
# word "market" makes the SCA ask the market-analysis agent for help. To call it, the SCA
# must be an agent itself, and it must act for the same person — not for itself, and not
# for the backend. -11 "Call Chaining" says how:
#
# * the SCA is its own Agent Provider: it issues its own agent token, for a request key
#   of its own (its `/.well-known/aauth-agent.json` names the SCA as issuer);
# * it goes to **the person's PS** (named in the token it was called with) and shows that
#   token as `upstream_token` — proof that a person's request brought it here;
# * the PS issues a person token and an auth token for the MAA, **bound to the SCA's
#   key**, for the same person.
#
# Each job is a fresh run of the backend's agent, so the person is asked again for the
# optimization. This time we write the loop the seed's test used: poll; if consent is
# needed, approve; go on until the job is done.

# %%
first_step = lab.trace.mark()
started = ui.post(f"{BACKEND}/optimization/start",
                  json={"custom_prompt": "Optimize laptop supply chain with market analysis"})
market_job = started.json()["request_id"]
print(started.json())

state = progress(market_job, "interaction_required", "completed")
while state["status"] == "interaction_required":
    held_poll(lab.ps, state["interaction_code"])  # the backend is waiting at the PS
    approve(state["interaction_code"])
    state = progress(market_job, "completed")
print(state)

# %% [markdown]
# Here is what flowed for this job. Steps with *Supply chain →* are the SCA acting as an
# agent: the same ladder the backend climbed (person token, then auth token), but with the
# `upstream_token` in each request to the PS — and no `202`: `market-analysis:analyze`
# needs no consent under the PS's policy, so the PS grants it at once.

# %%
market_steps = lab.trace.find(since=first_step)
for exchange in market_steps:
    print(show.title(exchange))

# %% [markdown]
# One detail of the numbering: step 24, the backend's retried `POST /optimize`, was sent
# before steps 25 – 31 but answered after them — the SCA asked the MAA while the backend
# waited for its answer. A trace numbers exchanges by when they start.
#
# The SCA's request for the market-analysis person token, raw. Look at the body
# (`upstream_token` is the backend's auth token for the SCA) and at the SCA's agent
# token in `Signature-Key`, issued by the SCA itself:

# %%
chain_request = next(e for e in market_steps if e.source == "Supply chain" and e.request.target_uri.endswith("/person-token"))
show.show(chain_request.request, now=lab.clock)

# %% [markdown]
# ### Same person, different key
#
# The results now list two authorizations: the backend's token for the SCA, and the
# SCA's token for the MAA. Compare them:

# %%
results = ui.get(f"{BACKEND}/optimization/results/{market_job}").json()
supply, market = results["authorizations"]
keys = {lab.keys["backend"].thumbprint(): "the backend's key", lab.keys["supply_chain_agent"].thumbprint(): "the SCA's own key"}
print(f"{'':12} {'for':34} {'scope':25} {'sub':24} bound to")
for item in (supply, market):
    c = item["claims"]
    print(f"{'':12} {c['aud']:34} {c['scope']:25} {c['sub']:24} {keys[jwk_thumbprint(c['cnf']['jwk'])]}")

# %% [markdown]
# Two things to notice:
#
# * **Different keys.** The market-analysis token is bound to the SCA's key. The backend
#   could not use it, and the SCA could not use the backend's token at the MAA: each
#   token works only for the agent that asked for it.
# * **Different `sub`, same person.** The PS gives each resource its own identifier for
#   the person, so the SCA and the MAA cannot match up their users. Only the PS can say
#   both belong to `mcp-user` — and it can check that:

# %%
for item in (supply, market):
    c = item["claims"]
    print(f"{c['aud']:34} sub is mcp-user's? {c['sub'] == lab.ps.subject('mcp-user', c['aud'])}")
print("the MAA says it worked for:", results["market_analysis"]["on_behalf_of"])
print("MAA token expires", market["claims"]["exp"] - market["claims"]["iat"], "s after issue (capped by the SCA's agent token)")

# %% [markdown]
# And the analysis itself, which the SCA folded into its answer:

# %%
print(results["market_analysis"]["summary"])
for line in results["market_analysis"]["findings"]:
    print("  •", line)

# %% [markdown]
# ## 7. The audit trail
#
# Every decision above left a line in the PS's audit log (`lab.ps.store.audit_log()`).
# Raw, an entry looks like this:

# %%
approval = next(e for e in lab.ps.store.audit_log() if e.action == "auth_token_approved")
print(approval)

# %% [markdown]
# `aauth_kit.audit` reads the log back as sentences. Note the difference between the two
# kinds of grant: the optimize tokens were issued *because mcp-user approved*; the
# market-analysis token because the PS's policy allowed it without asking anyone.

# %%
for sentence in audit.trail(lab.ps, names=NAMES):
    print(sentence)

# %% [markdown]
# ## 8. The whole scenario as one diagram
#
# The market-analysis job from the click to the results, drawn from the trace: the UI,
# the backend as agent, the SCA as resource and then as agent, the PS, the person and the
# MAA.

# %%
SequenceDiagram(market_steps, parties=["UI", "Backend", "Supply chain", "PS", "Person", "Market analysis"])

# %% [markdown]
# ## 9. Exercises
#
# The graders check your answers against this lab.
#
# **Q1.** Which key must sign a request that presents the market-analysis auth token?
# Give its RFC 7638 thumbprint (`market` from section 6 holds that authorization).

# %%
from aauth_kit.exercises import nb07

ex = nb07.bind(lab)

answer = ...  # a thumbprint, e.g. jwk_thumbprint(...)

ex.q1.check(answer)

# %% [markdown]
# **Q2.** Write `approvals(entries)`: given audit entries (as
# `lab.ps.store.audit_log()` returns them), return `(person, agent, scope)` for every
# consent a person gave — and nothing the PS granted by policy alone.

# %%
def approvals(entries):
    ...  # your code here


ex.q2.check(approvals)

# %% [markdown]
# ## Summary
#
# * The seed's UI and tests drive a job API; behind it, the backend is a plain AAuth agent.
# * `interaction_required` is the backend passing on the PS's `202`: the link and code for
#   the person, while it keeps polling.
# * In a call chain the intermediary becomes an agent of its own, asks the person's PS
#   with the `upstream_token`, and gets tokens bound to *its* key for the *same* person.
# * The PS's audit log tells who decided each grant — the person, or the policy.
