# %% [markdown]
# # 06 · User consent: the Person Server asks the person
#
# In notebook 05 the Person Server (PS) handed out an auth token on its own: its policy
# said the scope was fine, so nobody was asked. Some things an agent wants to do are
# bigger than that. In the seed's story, *optimizing the laptop supply chain* places
# purchase orders, so the person — `mcp-user` — must say yes first.
#
# When the PS needs the person, it cannot answer the agent's token request right away.
# AAuth draft -11 gives it a way to say "not yet": a **deferred response**
# (-11 "Deferred Responses"). The PS answers `202 Accepted`, tells the agent where to
# come back for the answer (a *pending URL*), and tells it how to send the person to the
# PS (an *interaction URL* and a short *code*, -11 "User Interaction"). The agent keeps
# asking at the pending URL; the moment the person decides, it gets the token — or a
# refusal.
#
# This notebook walks through that exchange message by message:
#
# 1. the agent's request, the two challenges and the token request with `Prefer: wait`;
# 2. the `202` — every header, raw and explained;
# 3. the person's side: the consent panel, the real consent page, and the REST API the
#    seed's tests used;
# 4. the held poll waking up, the auth token, the retried request;
# 5. two variations: the person says no, and nobody answers in time;
# 6. deciding which scopes need consent (the seed's configuration script, as a form);
# 7. the seed's comparison table, built from live tokens, and the `sub` claim.
#
# The seed ran this with Keycloak and a separate Person Server; here one PS does both
# jobs, and everything runs inside this notebook.

# %%
from IPython.display import Markdown, display

from aauth_kit import audit, show
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
PS, SCA = lab.identifiers["ps"], lab.identifiers["supply_chain"]
lab.ps.policy

# %% [markdown]
# The last line shows the PS's **consent policy**: the scope `supply-chain:optimize` and
# any scope starting with `user.`, `profile.` or `email.` need the person's consent.
# Everything else the PS grants by itself. These are the seed's defaults (section 6
# changes them).
#
# ## 1. Start the request — in the background
#
# Our agent is a fresh one, `aauth:notebook@ps.example`, set up for `mcp-user` by the
# PS's Agent Provider (notebook 03). It asks the supply-chain agent (SCA) to optimize.
#
# The request will stop halfway and wait for a person. A notebook cell cannot wait for
# you to click a button: while a cell runs, Jupyter holds every click until it ends. So
# we start the request on the kit's background event loop and get back a *future* — a
# handle on a result that arrives later. The cell then waits only until the agent has
# reached the waiting point: it has been given an interaction code, and its poll is
# waiting at the PS.
#
# The cells below find each message by what it is — `lab.trace.first(path="/optimize",
# since=start)` is the first `POST /optimize` since this cell started the flow — so you
# can run this cell again and carry on from there.

# %%
start = lab.trace.mark()  # where this flow's exchanges begin
agent = lab.new_agent("notebook", justification="Weekly laptop reorder")


async def optimize(agent):
    """POST /optimize as ``agent``: the whole AAuth flow runs inside the client."""
    async with lab.async_client(agent) as client:
        return await client.post(f"{SCA}/optimize", json={"prompt": "Optimize laptop supply chain"})


flow = get_loop_thread().submit(optimize(agent))
interaction = wait_until(lambda: agent.last_interaction, flow=flow, what="the interaction code")
pending = held_poll(lab.ps, interaction.code, flow=flow)

print("finished?", flow.done())
for exchange in lab.trace.find(since=start):
    print(show.title(exchange))

# %% [markdown]
# Seven exchanges so far, and the flow has not finished: step 7 has no answer yet. Let's
# read them in order.
#
# ## 2. The messages, one by one
#
# ### 2.1 The agent shows who it is — the resource wants a person
#
# Step 1 is the agent's first try. It signs the request and presents its **agent token**
# in `Signature-Key`. The SCA's `/optimize` is not for anonymous agents: it answers
# `401` with `AAuth-Requirement: requirement=person-token` — "tell me which person you
# act for" (-11 "Requirement Responses").

# %%
show.show(lab.trace.first(path="/optimize", since=start), tokens=False)

# %% [markdown]
# ### 2.2 The person token
#
# Steps 2 and 3: the agent reads the PS's metadata to find its endpoints, then asks the
# `person_token_endpoint` for a **person token** for the SCA (-11 "Person Token Endpoint"). The PS knows
# that this agent belongs to `mcp-user`, so it issues one at once. Look at `sub`: it is
# the person, written as an identifier only this PS and this resource share (a
# *pairwise* identifier).

# %%
show.show(lab.trace.first(path="/person-token", since=start))

# %% [markdown]
# Step 4: before presenting the person token, the agent checks it — the claims, and the
# signature with the PS's key. It fetches the PS's JWKS (the `jwks_uri` of the metadata
# from step 2) and finds the key the token's `kid` names (-11 "JWKS Discovery and Caching", notebook 05).
# It keeps the JWKS, so later tokens from this PS cost no extra request.

# %%
print(show.title(lab.trace.first(path="/.well-known/jwks.json", since=start)))

# %% [markdown]
# ### 2.3 The resource names its price: a resource token
#
# Step 5: with the person token the SCA knows *who*, but optimizing needs a scope the
# person must grant. So it answers `401` again, now with `requirement=auth-token` and a
# **resource token**: a signed note from the SCA to the PS saying "this agent (its key
# thumbprint is `agent_jkt`), acting for this person (`sub`), wants `scope`".

# %%
challenge = lab.trace.last(path="/optimize", status=401, since=start)  # the second challenge
show.show(challenge.response, now=lab.clock)

# %% [markdown]
# ### 2.4 The token request, with `Prefer: wait`
#
# Step 6: the agent takes the resource token to the PS's `auth_token_endpoint`
# (-11 "PS Token Endpoint"). The body carries the resource token, the person token it presented
# (`presented_token`) and a justification the person will see. The signature covers
# `content-type` and `content-digest`, so the body cannot be swapped in transit.
#
# The agent also sends `Prefer: wait=30` (RFC 7240): "if you cannot answer right away,
# you may hold my request up to 30 seconds". Tokens in the body were decoded above, so
# they are not decoded again here.

# %%
token_request = lab.trace.first(path="/auth-token", since=start)
show.show(token_request.request, tokens=False)

# %% [markdown]
# ## 3. The `202 Accepted`
#
# The scope `supply-chain:optimize` needs consent, and only the person can give it. The
# PS cannot answer now, so it defers. Here is its answer, exactly as it went over the
# wire:

# %%
deferred = token_request.response
show.show(deferred, now=lab.clock)

# %% [markdown]
# Each header has one job (-11 "Deferred Responses"):

# %%
from aauth_kit.headers import parse_requirement

MEANING = {
    "location": "the pending URL: the agent polls it with signed GETs until the answer is ready "
    "(same origin as the PS; it is the agent's, not the person's)",
    "retry-after": "seconds before the next poll; 0 here because the agent sent Prefer: wait, "
    "so the PS will hold the next poll instead of making the agent sleep",
    "cache-control": "no-store: a pending answer changes; no cache may keep it",
    "aauth-requirement": "what must happen before the answer: a person must interact",
    "content-type": "the body is JSON",
}
for name, value in deferred.headers:
    if name in MEANING:
        print(f"{name}: {value}\n    → {MEANING[name]}")
print("body:", deferred.body.decode())

requirement = parse_requirement(deferred.header("aauth-requirement"))
print("\nparsed AAuth-Requirement:", requirement.requirement, "| url =", requirement.url, "| code =", requirement.code)

# %% [markdown]
# Two URLs, two audiences. **`Location`** is for the *agent*: it polls there, signed
# with its key, and nobody else can read that URL's answer. **`url` + `code`** in
# `AAuth-Requirement` are for the *person*: the agent shows them (or opens a browser) and
# the person goes to the PS to decide.
#
# The seed's demo printed an older form of this header from before the draft settled on
# today's names: `AAuth: require=interaction; code="7R6XKPRP"`. The kit still reads it,
# to explain old logs, but never sends it. Notice what it lacked — the URL:

# %%
from aauth_kit.headers import parse_legacy_challenge

old = parse_legacy_challenge('require=interaction; code="7R6XKPRP"')
print("old form:", old.requirement, old.params, "| url:", old.url)
print("-11 form:", requirement.requirement, requirement.params)

# %% [markdown]
# ### The interaction code
#
# The code is short on purpose: a person may have to type it. -11 "Interaction Code
# Format" asks for at least 40 bits of randomness written in Crockford's base32 alphabet
# — no `I`, `L`, `O` or `U`, so nothing looks like anything else. Typing mistakes are
# forgiven: case does not matter, hyphens and spaces are ignored, and `I`/`L` count as
# `1`, `O` as `0`. The code only *links* the person's browser to this request; it grants
# nothing by itself.

# %%
from aauth_kit.interaction import codes_equal, normalize_code

typed = interaction.code.lower().replace("-", " ").replace("1", "l")
print("shown to the person:", interaction.code)
print("typed by the person:", typed, "→", normalize_code(typed), "→ same code?", codes_equal(typed, interaction.code))
print("\nlink to open:", interaction.link())
print("with a way back:   ", interaction.link("https://backend.example/callback"))

# %% [markdown]
# ## 4. The person's side
#
# ### 4.1 The agent is waiting — in a held poll
#
# Step 7 is the agent's poll of the pending URL. It has no body, it is signed with the
# agent token like every request, and it repeats `Prefer: wait=30`. The PS does not
# answer it: it *holds* it, waiting for something to change.

# %%
poll = lab.trace.last(method="GET", url=deferred.header("location"))  # the last poll of this request
show.show(poll.request, tokens=False)
print("answered yet?", poll.response is not None)
print("polls the PS is holding for", pending.id, "→", lab.ps.waiters.held(pending.id))

# %% [markdown]
# ### 4.2 What the person is asked
#
# The PS keeps the pending request in its database. The consent panel below shows it the
# way the person sees it: which agent, which resource, which scope (with the resource's
# own description of it), the agent's justification and the code. Its buttons call the
# PS, just as the consent page does.
#
# **Leave the buttons alone for now** — the next cells approve through the PS's REST API
# so that every run of this notebook tells the same story. (If you click Approve here,
# the REST calls below fail: a request is decided once, and its code no longer opens it.
# Section 8 has a panel for you to click.) Once the request is decided, wherever that
# happens, the panel shows the outcome by itself and its buttons go dead.

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets import ConsentPanel

ConsentPanel(lab.ps, interaction.code)

# %% [markdown]
# The same facts, as text:

# %%
waiting = lab.ps.store.get_pending(pending.id)
for name in ("kind", "agent_id", "resource", "scope", "justification", "code", "status"):
    print(f"{name:14} {getattr(waiting, name)}")
print(f"{'expires in':14} {int(waiting.expires_at - lab.clock())} s")

# %% [markdown]
# ### 4.3 The real consent page
#
# The PS also serves the page a person would open. Its address is below: the loopback port
# the PS really listens on or, on JupyterHub and Binder, that port through the Jupyter
# server's proxy (which lets in only you). Open it in a browser tab if you like:
# it asks you to sign in (`mcp-user`, password `user123`) and then shows the request
# with Approve and Deny. Again: decide in one place only.

# %%
lab.link("ps", f"/interaction?code={interaction.code}")

# %% [markdown]
# ### 4.4 Approving through the REST API
#
# The seed's automated tests could not click a browser, so they used the REST API that
# the consent page itself calls. We do the same, as a person with their own HTTP client
# (traced as "Person"):
#
# 1. `POST /login` — sign in; the PS returns a session token;
# 2. `GET /consent?code=…` — look the request up by its code (this also marks it
#    `interacting`: the person has arrived);
# 3. `POST /consent/{pending_id}/decision` with `{"approved": true}`.

# %%
person = lab.client(source="Person")
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
print("POST /login →", login.status_code, "signed in as", login.json()["username"])
person.headers["Authorization"] = f"Bearer {login.json()['session']}"

context = person.get(f"{PS}/consent", params={"code": interaction.code})
print("GET /consent →", context.status_code)
for name in ("pending_id", "agent", "resource", "scope", "justification", "status", "expires_at"):
    print(f"    {name:13} {context.json()[name]}")

# %%
decision = person.post(f"{PS}/consent/{context.json()['pending_id']}/decision", json={"approved": True})
print("POST /consent/…/decision →", decision.status_code, decision.json())

# %% [markdown]
# ### 4.5 The held poll wakes up
#
# The PS recorded the decision and, in the same moment, woke the poll it was holding. We
# did not wait 30 seconds: the future resolves right away. Inside it, the agent got its
# auth token and retried `/optimize`.

# %%
response = flow.result(timeout=30)
print("POST /optimize →", response.status_code)
print(response.json()["summary"])
print()
for exchange in lab.trace.find(since=poll):
    print(show.title(exchange))

# %% [markdown]
# Step 7 — the poll that waited — came back `200` with the auth token. (Steps 8 to 10,
# the person's calls, happened while it waited.) Here it is, with the token decoded:

# %%
show.show(poll.response, now=lab.clock)

# %% [markdown]
# Read the claims against what happened:
#
# * `iss` and `ps` are the PS; `aud` is the SCA — the token is for that resource only;
# * `sub` is the same pairwise person identifier the person token carried;
# * `scope` is exactly what the resource token asked for;
# * `cnf.jwk` is the agent's public key, so only a request signed with the agent's key
#   can use the token (-11 "Auth Token Structure").
#
# Before using it, the agent checks the auth token as it checked the person token — with
# the JWKS it already holds, so no request this time. Step 11 is the retry: the agent
# presents the auth token in `Signature-Key`
# (`sig=jwt;jwt="<aa-auth+jwt>"`), and the SCA answers `200`.

# %%
show.show(lab.trace.last(path="/optimize", status=200, since=start), tokens=False, body_lines=8)

# %% [markdown]
# The token inspector shows the same token interactively (each claim explained, times
# in words, the signature checked against the PS's key); the text after it checks the
# two facts that matter most.

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets import TokenInspector

consent_token = agent.auth_token_for(SCA)
TokenInspector(consent_token, jwks=lab.ps.jwks_document(), now=lab.clock)

# %%
from aauth_kit.keys import jwk_thumbprint
from aauth_kit.jws import decode_unverified

claims = decode_unverified(consent_token).payload
print("bound to the agent's key? ", jwk_thumbprint(claims["cnf"]["jwk"]) == agent.key.thumbprint())
print("names the person?          ", claims["sub"] == lab.ps.subject("mcp-user", SCA))

# %% [markdown]
# ### 4.6 The whole exchange as a sequence diagram
#
# Drawn from the traffic that actually flowed — the ten steps of the seed's diagram, in
# -11's words; the person-token round trip is what -11 adds, and the JWKS fetch is the
# agent checking what the PS hands it.

# %%
from aauth_kit.diagram import SequenceDiagram

consent_steps = lab.trace.find(since=start)  # numbered from 1: the poll is step 7
SequenceDiagram(consent_steps, parties=["Agent", "Supply chain", "PS", "Person"], highlight=7, first=1)

# %% [markdown]
# ## 5. Two variations
#
# ### 5.1 The person says no
#
# A second agent asks the same thing, and this time the person denies. The held poll
# wakes just as fast, with a final answer: `403` and the problem code `denied`
# (-11 "Deferred Responses": a terminal error). The agent's flow stops with that code.

# %%
from aauth_kit.flow import FlowError

hesitant = lab.new_agent("hesitant")
flow = get_loop_thread().submit(optimize(hesitant))
asked = wait_until(lambda: hesitant.last_interaction, flow=flow, what="the interaction code")
held_poll(lab.ps, asked.code, flow=flow)

lab.ps.decide(asked.code, approved=False)  # the person's "no" (what Deny does)
try:
    flow.result(timeout=30)
except FlowError as error:
    print("the flow stopped:", error.code, "—", error.detail)
final = lab.trace.last(status=403)
show.show(final.response, tokens=False)

# %% [markdown]
# ### 5.2 Nobody answers
#
# A pending request does not wait forever. This lab's PS gives the person
# `pending_ttl` = 600 seconds. The lab's clock can be moved, so we let ten minutes and
# one second pass. This agent asks the PS to hold each poll for just one second
# (`wait=1`), so it notices quickly; its next poll gets `408` with the code `expired`.

# %%
patient = lab.new_agent("patient", wait=1)
flow = get_loop_thread().submit(optimize(patient))
asked = wait_until(lambda: patient.last_interaction, flow=flow, what="the interaction code")
held_poll(lab.ps, asked.code, flow=flow)

lab.clock.advance(lab.pending_ttl + 1)  # ten minutes pass; nobody opens the link
try:
    flow.result(timeout=30)
except FlowError as error:
    print("the flow stopped:", error.code, "—", error.detail)
final = lab.trace.last(status=408)
show.show(final.response, tokens=False)

# %% [markdown]
# After a final answer — token, `denied` or `expired` — the pending URL is spent: any
# later poll gets `410`. A new attempt starts over with a new request and a new code.
#
# ## 6. Which scopes need consent?
#
# In the seed, an administrator ran a shell script against Keycloak that asked: scopes,
# prefixes, both, defaults, view, or clear? It then set two lists — the exact scopes
# that need consent, and the scope *prefixes* that do. The kit's PS has the same two
# lists in `lab.ps.policy`, and reads them at every auth token request.
#
# The form below is that script as a widget, bound to the running PS. The cell after it
# uses the form from code, the way you would by typing and clicking.

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets.policy import ConsentPolicyForm

form = ConsentPolicyForm(lab.ps)
form

# %% [markdown]
# What does each policy decide? A small table for a few scopes, first with the
# defaults, then after **Clear** (nothing needs consent):

# %%
SCOPES = ["supply-chain:optimize", "supply-chain:check", "market-analysis:analyze", "user.email", "openid"]


def who_decides():
    for scope in SCOPES:
        print(f"    {scope:25} {'ask the person' if lab.ps.policy.needs_consent(scope) else 'granted by policy'}")


print("defaults:", form.policy)
who_decides()
form.clear()  # the Clear button
print("after Clear:", form.policy)
who_decides()

# %% [markdown]
# The PS reads the policy at every request, so the change takes effect at once. Our
# first agent drops its cached tokens and asks for `supply-chain:optimize` again: no
# `202`, no code, no person — the PS grants it by policy.

# %%
agent.forget(SCA)
by_policy = lab.trace.mark()
with lab.client(agent) as client:
    print("POST /optimize →", client.post(f"{SCA}/optimize", json={"prompt": "Optimize laptop supply chain"}).status_code)
for exchange in lab.trace.find(since=by_policy):
    print("   ", show.title(exchange))
policy_token = agent.auth_token_for(SCA)

# %% [markdown]
# The same settings are available over HTTP at the PS's admin endpoint,
# `/admin/consent-policy` (for a signed-in person): `GET` shows them, `PUT` replaces them.
# Here the person restores the seed's setting and adds a prefix, so that *every*
# `supply-chain:` scope needs consent:

# %%
print("GET →", person.get(f"{PS}/admin/consent-policy").json())
change = {"scopes": ["supply-chain:optimize"], "prefixes": ["supply-chain:", "user.", "profile.", "email."]}
print("PUT →", person.put(f"{PS}/admin/consent-policy", json=change).json())
who_decides()

# %%
form.use_defaults()  # back to the seed's defaults for the rest of the notebook
print(form.policy)

# %% [markdown]
# ## 7. Three kinds of access, side by side
#
# The seed compared an "autonomous" token with a "user-delegated" one: only the second
# carried `sub`, the user. Under -11 the picture has three rows, and we now hold a live
# token for each — all three for the same agent:
#
# * **agent identity** — the agent shows only its agent token. The resource learns which
#   agent calls, and no person at all (-11 "Agent Token");
# * **PS authorization by policy** — the auth token from section 6: the PS granted it
#   because its policy allowed it;
# * **PS authorization after consent** — the auth token from section 4: the person said
#   yes.
#
# First a live call with the agent token alone, so the first row is not just theory:

# %%
agent.forget(SCA)
with lab.client(agent) as client:
    inventory = client.get(f"{SCA}/inventory")
print("GET /inventory →", inventory.status_code, "| the SCA sees the agent:", inventory.json()["agent"])

# %% [markdown]
# Now the table. Every cell comes from the tokens themselves, except "who decided",
# which comes from the PS's records (`audit.who_decided` reads its audit log and pending
# requests).

# %%
def row(access, token):
    payload = decode_unverified(token).payload
    typ = decode_unverified(token).header["typ"]
    sub = payload.get("sub")
    sub_words = f"yes: `{sub}` (the agent)" if sub.startswith("aauth:") else f"yes: `{sub[:10]}…` (the person)"
    bound = jwk_thumbprint(payload["cnf"]["jwk"])
    key_words = f"`{bound[:10]}…`" + (" = the agent's key" if bound == agent.key.thumbprint() else "")
    return f"| {access} | `{typ}` | {sub_words} | {payload.get('scope', '—')} | {audit.who_decided(lab.ps, token)} | {key_words} |"


display(Markdown("\n".join([
    "| access | token type | `sub` present? | scope | who decided | bound key (`cnf`) |",
    "| --- | --- | --- | --- | --- | --- |",
    row("agent identity", agent.agent_token),
    row("PS authorization by policy", policy_token),
    row("PS authorization after consent", consent_token),
])))

# %% [markdown]
# Reading across the rows:
#
# * All three are bound to the same key. Whoever presents any of them must sign with the
#   agent's private key; a copied token is useless on its own.
# * In the agent token, `sub` is the *agent*. The two auth tokens carry the *person* —
#   the same pairwise `sub` in both, since it is the same person at the same resource.
# * The two auth tokens look alike on the wire. What differs is **who decided**: the
#   PS's policy, or the person at a moment the PS recorded. That record is what lets an
#   organisation answer "who allowed this?" later:

# %%
for sentence in audit.trail(lab.ps, names={SCA: "the supply-chain agent"}):
    if "authorized" in sentence or "refused" in sentence or "policy let" in sentence or "expired" in sentence:
        print(sentence)

# %% [markdown]
# ### The `sub` claim: proof of the person
#
# An auth token's `sub` tells the resource *which person* stands behind the request. It
# is not the username: the PS derives a different identifier for each resource, so two
# resources cannot match up their users behind the person's back. Only the PS can map
# it back. Three checks:

# %%
issued = lab.trace.first(path="/person-token", since=start)
person_token = decode_unverified(issued.response.json_object()["person_token"]).payload
print("same sub in the person token and the auth token:", person_token["sub"] == claims["sub"])
print("it is mcp-user's identifier at the SCA:          ", claims["sub"] == lab.ps.subject("mcp-user", SCA))
print("mcp-user at the market analyst would be:          ", lab.ps.subject("mcp-user", lab.identifiers["market_analysis"]))
print("a different identifier there?                    ",
      lab.ps.subject("mcp-user", lab.identifiers["market_analysis"]) != claims["sub"])

# %% [markdown]
# And the resource itself reads the person from the token. The SCA's `GET /check` needs
# a person behind the agent and echoes who it saw:

# %%
with lab.client(agent) as client:
    check = client.get(f"{SCA}/check")
print("GET /check →", check.status_code, "| the SCA sees the person:", check.json()["person"])

# %% [markdown]
# ## 8. Try it yourself
#
# This section is for clicking: after Run All the lab keeps running, so the buttons
# below work whenever you come back to them. Press **Run** in the flow runner: a new agent
# asks to optimize, and the runner shows each exchange as it happens and stops at the
# `202`. Then press **Refresh** in the consent panel to see the request, and **Approve**
# or **Deny** — the runner finishes the moment you click.

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets

from aauth_kit.widgets import FlowRunner

yours = lab.new_agent("yours")
runner = FlowRunner(lambda: optimize(yours), trace=lab.trace, title="Your agent optimizes",
                    parties=["Agent", "Supply chain", "PS"])
widgets.VBox([runner, ConsentPanel(lab.ps)])

# %%
print(runner)

# %% [markdown]
# ## 9. Exercises
#
# **Q1.** A `202` carries two URLs. Write `link_for_person(headers)`: given the headers of
# a `202` from a PS, return the link the *person* should open. (`headers` works like a
# dict; names are case-insensitive.) `ex.q1.hint()` helps, `ex.q1.solution()` shows one
# answer.

# %%
from aauth_kit.exercises import nb06 as ex


def link_for_person(headers):
    ...  # your code here


ex.q1.check(link_for_person)

# %% [markdown]
# **Q2.** Write a consent policy, as the admin endpoint takes it, such that the person is
# asked for **every** `supply-chain:` scope — including ones the SCA may add later — and
# for the seed's `user.`, `profile.` and `email.` scopes, while `market-analysis:analyze`
# stays granted by policy.

# %%
my_policy = ...  # {"scopes": [...], "prefixes": [...]}

ex.q2.check(my_policy)

# %% [markdown]
# ## Summary
#
# * A PS that needs the person answers `202 Accepted` with `Location` (for the agent),
#   `Retry-After`, `Cache-Control: no-store` and `AAuth-Requirement:
#   requirement=interaction` with a `url` and a `code` (for the person).
# * The agent polls the pending URL, signed; with `Prefer: wait` the PS holds the poll
#   and answers the moment the person decides: `200` with the auth token, `403 denied`,
#   or `408 expired` when nobody answers in time.
# * Which scopes need consent is the PS's policy: exact scopes and prefixes.
# * The auth token's `sub` names the person; the PS's records say who decided.
#
# Next, notebook 07 runs the seed's whole scenario through the backend's job API —
# including the market analysis reached through a call chain.
#
# The lab keeps running as long as this notebook's kernel, so section 8's panel and the
# exercises still work after *Run All*; shutting the kernel down stops it.
