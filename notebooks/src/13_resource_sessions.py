# %% [markdown]
# # 13 · Resource sessions: the resource asks the person itself
#
# In notebooks 05 and 06 a resource sent the agent to the person's Person Server (PS): a
# resource token, an auth token, the PS's consent page. Many services will not do that. A
# shop that already has its own customers, its own consent page and its own idea of who may
# see its prices wants to **decide itself** — and still know which agent is calling, with
# which key. Draft -11 calls this *resource-managed access* (-11 "Resource-Managed Access
# (Two-Party)"): only two parties, the agent and the resource.
#
# * the agent asks the resource's **authorization endpoint** for a scope, signed with its
#   person token (-11 "Authorization Endpoint Request");
# * the resource answers `202` and names **its own** page and a code: the person approves
#   there (-11 "Response without Resource Token");
# * the agent's poll then gets `200` and an `AAuth-Access` header: a **session token**, opaque
#   to the agent (-11 "AAuth-Access Response Header");
# * every later call carries `Authorization: AAuth <session token>` — and is still signed by
#   the agent's key, with `authorization` among the signed components, so the token is
#   worthless to anyone else (-11 "AAuth-Access Security").
#
# Our resource is the lab's **parts supplier**. It decides `supplier:quotes` itself; for
# orders it still wants an auth token from the person's PS; and for the person's account it
# has a page of its own that the PS chains before its consent (-11 "Resource-Initiated
# Interaction").

# %%
import json
import re
from html import unescape

from aauth_kit import jws, show
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key

lab = Lab()
PS, SUP = lab.identifiers["ps"], lab.identifiers["supplier"]
browser = lab.client(source="Person")  # the person's browser
pages = []  # every page the person saw at the supplier


def hidden_fields(html):
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def sign_in_at_the_supplier(page, browser):
    """The supplier asks who is deciding: the lab's person signs in with their account there."""
    fields = hidden_fields(page.text) | {"username": "mcp-user", "password": "user123"}
    browser.post(f"{SUP}/sign-in", data=fields, follow_redirects=False)


def person(interaction):
    """What the person does with the link the agent shows: at the supplier, open it, sign in
    and press Approve; at their PS, approve there."""
    if interaction.url.startswith(PS):
        lab.ps.decide(interaction.code, True)
        return
    page = browser.get(interaction.link())
    if 'name="password"' in page.text:
        pages.append(page)
        sign_in_at_the_supplier(page, browser)
        page = browser.get(interaction.link())
    pages.append(page)
    browser.post(f"{SUP}/interaction", data=hidden_fields(page.text) | {"decision": "approve"})


agent = lab.new_agent("buyer", on_interaction=person)
lab

# %% [markdown]
# ## 1 · Where the supplier's authorization endpoint is
#
# A resource names it in its metadata (-11 "Resource Metadata"), with the scopes it knows:

# %%
metadata = lab.client().get(f"{SUP}/.well-known/aauth-resource.json").json()
print("authorization_endpoint:", metadata["authorization_endpoint"])
for scope, description in metadata["scope_descriptions"].items():
    print(f"  {scope:18} {description}")

# %% [markdown]
# ## 2 · The agent asks for `supplier:quotes`
#
# `agent.authorize(client, resource, scope)` does what -11 "Authorization Endpoint Request"
# says: it gets a person token for the supplier from its PS (the resource must know *whose*
# agent this is) and POSTs `{"scope": "supplier:quotes"}` to the endpoint, signed with that
# token. The supplier decides this scope itself, so it answers `202` — the person must agree.
# The agent shows the person the link, polls, and ends with what it was granted.

# %%
start = lab.trace.mark()
with lab.client(agent) as client:
    granted = agent.authorize(client, SUP, "supplier:quotes")
print(granted)
for exchange in lab.trace.find(since=start):
    print(show.title(exchange))

# %% [markdown]
# The `202`, raw. `Location` is the pending URL on the supplier's own origin; `Retry-After`
# and `Cache-Control: no-store` as for every deferred response (-11 "Pending Response");
# `AAuth-Requirement: requirement=interaction` names the supplier's page and the code — no
# resource token anywhere: the PS has no part in this.

# %%
asked = lab.trace.first(path="/authorize", status=202)
show.show(asked, now=lab.clock)

# %% [markdown]
# ## 3 · The person at the supplier's page
#
# The agent handed the link `{url}?code={code}` to the person. But the agent holds that link
# too, and the code "is NOT an authorization credential" (-11 "Interaction Code Format"): so
# the supplier first asks **who** is deciding. The person signs in with their account at the
# supplier — one it links to their PS's person token (the same `iss` and `sub`) — and only
# then sees which agent (known here by its key: it presented a person token, which names the
# person, not the agent) asks for what, with Approve or Deny. The code is single-use: opening
# the page signed in spends it. The forms carry secrets bound to this browser, and a post
# from another site is refused.

# %%
for page in pages[:2]:
    words = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page.text))
    print(page.status_code, re.sub(r"\s+", " ", words).strip())
print("Content-Security-Policy:", page.headers["content-security-policy"])

# %% [markdown]
# ## 4 · The poll: `200` and `AAuth-Access`
#
# The person approved, so the agent's poll of the pending URL ends the flow: `200 {"status":
# "authorized", "scope"}` and the session token in `AAuth-Access`. The token is *opaque*: a
# name for the grant the supplier keeps (the agent, its key, the scope, an expiry). In docs
# mode it is a short predictable name; in a real run it is 43 random characters.

# %%
poll = lab.trace.first(url=agent.last_interaction.pending_url, status=200)
show.show(poll.response, now=lab.clock)

# %% [markdown]
# ## 5 · Calling with `Authorization: AAuth`
#
# From now on the kit's agent puts the session token on every call to the supplier, and its
# signature covers `authorization` ("The agent MUST include authorization in the covered
# components of its HTTP signature"). No PS, no new token: the supplier finds its own grant.

# %%
with lab.client(agent) as client:
    quotes = client.get(f"{SUP}/quotes")
print(quotes.status_code, quotes.json()["quotes"])
call = lab.trace.last(path="/quotes")
show.show(call.request, now=lab.clock)

# %% [markdown]
# ## 6 · Already authorized: `200` at once
#
# "If the resource can authorize immediately (e.g., the agent's key is already authorized),
# it returns 200 OK directly with the optional AAuth-Access header." Asking again, the agent
# gets a fresh session token and the old one ends — nobody is asked.

# %%
before = granted.session_token
again_start = lab.trace.mark()
with lab.client(agent) as client:
    again = agent.authorize(client, SUP, "supplier:quotes")
print(again)
print("the old token still works:", before in lab.supplier.resource.sessions.rows)
for exchange in lab.trace.find(since=again_start):
    print(show.title(exchange))

# %% [markdown]
# ## 7 · The whole flow
#
# From the metadata to the call with the session token; the supplier's `202` is highlighted.

# %%
SequenceDiagram(lab.trace.find(since=start), highlight=asked.index + 1, parties=["Agent", "PS", "Supplier", "Person"])

# %% [markdown]
# ## 8 · The other answer: a resource token
#
# Orders are different: the supplier wants the person's PS to stand behind them. Asked for
# `supplier:order`, the same endpoint answers `200 {"resource_token"}` (-11 "Response with
# Resource Token"), its `aud` the PS. The agent takes it to its PS for an auth token — the
# three-party flow of notebook 05 — and the order goes through with it.

# %%
order_start = lab.trace.mark()
with lab.client(agent) as client:
    ordered = agent.authorize(client, SUP, "supplier:order")
    placed = client.post(f"{SUP}/orders", json={"part": "ssd-1tb", "units": 3})
print("auth token:", bool(ordered.auth_token), "  session token:", ordered.session_token)
print("POST /orders →", placed.status_code, placed.json())
answer = lab.trace.find(since=order_start, path="/authorize")[0].response
resource_token = jws.decode_unverified(json.loads(answer.body)["resource_token"]).payload
print({claim: resource_token[claim] for claim in ("iss", "aud", "scope")})

# %% [markdown]
# ## 9 · A resource page inside the PS's consent
#
# The person's account at the supplier needs both: the supplier's own page (linking the
# account, say) *and* the PS's consent. The supplier's `401` carries a resource token with an
# `interaction` claim — its page and a code (-11 "Resource-Initiated Interaction"):

# %%
ps_browser = lab.hosts.client(follow_redirects=True, timeout=60)  # the person, signed in at the PS
login_form = hidden_fields(ps_browser.get(f"{PS}/interaction").text)
ps_browser.post(f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": "/interaction", "csrf": login_form["csrf"]})
hops = []


def through_the_ps(interaction):
    """The person: the PS's interstitial, its Continue link to the supplier's page (sign in there,
    Approve), back at the PS's consent page (Approve)."""
    interstitial = ps_browser.get(interaction.link())
    link = unescape(re.search(r'<a href="([^"]+)">Continue', interstitial.text).group(1))
    hops.append(re.sub(r"callback=[^&]+", "callback={ps_callback_url}", link))
    at_supplier = ps_browser.get(link)
    if 'name="password"' in at_supplier.text:  # the supplier asks who decides
        sign_in_at_the_supplier(at_supplier, ps_browser)
        at_supplier = ps_browser.get(link)
    consent = ps_browser.post(f"{SUP}/interaction", data=hidden_fields(at_supplier.text) | {"decision": "approve"})
    hops.append(f"back at the PS: {re.search(r'<h1>([^<]+)</h1>', consent.text).group(1)}")
    ps_browser.post(f"{PS}/interaction", data=hidden_fields(consent.text) | {"decision": "approve"})


agent.on_interaction = through_the_ps
account_start = lab.trace.mark()
with lab.client(agent) as client:
    account = client.get(f"{SUP}/account")
agent.on_interaction = person
challenge = lab.trace.last(path="/account", status=401)
token = parse_requirement(challenge.response.header("aauth-requirement")).resource_token
print("the resource token's interaction:", jws.decode_unverified(token).payload.get("interaction"))

# %% [markdown]
# The PS resolves the resource's part first — "if the user declines the resource's underlying
# authorization, the PS authorization is vacuous" — then asks its own question. The person's
# hops, and the call at the end:

# %%
for hop in hops[:2]:
    print(hop)
print("GET /account →", account.status_code, account.json())
for exchange in lab.trace.find(since=account_start):
    print(show.title(exchange))

# %% [markdown]
# ## 10 · Tampering
#
# A session token is only a name; what makes it safe is that the supplier accepts it only
# from the key it was issued to, in a signature that covers it. Another agent replaying it
# with its own key finds no session: the supplier asks *its* person (`202`):

# %%
session = agent.sessions[SUP]
thief = lab.new_agent("thief")


def signed_get(signer, token, authorization, components=None):
    message = HttpMessage("GET", f"{SUP}/quotes", [("Authorization", authorization)])
    sign_request(message, signer.key, jwt_key(token), created=int(lab.clock()), components=components)
    return lab.send(message).response


def said(response):
    """The requirement a response asks for, else its error code."""
    if response.header("aauth-requirement"):
        return parse_requirement(response.header("aauth-requirement")).requirement
    return (response.json_object() or {}).get("error")


stolen = signed_get(thief, thief.agent_token, f"AAuth {session}")
print("replayed with another key:", stolen.status, said(stolen))

# %% [markdown]
# A session token changed by one character is no session either — the supplier does not parse
# or trust its content, it looks it up:

# %%
altered = signed_get(agent, agent.person_token_for(SUP), f"AAuth {session[:-1]}X")
print("altered by one character:", altered.status, said(altered))

# %% [markdown]
# And the two ways of making it a bearer token: sent with no signature at all, it is `401
# requirement=agent-token`; signed, but with a signature that does not cover
# `authorization`, it is `401` with `Signature-Error` — the header could have been swapped.

# %%
bare = lab.client().get(f"{SUP}/quotes", headers={"Authorization": f"AAuth {session}"})
print("no signature:", bare.status_code, bare.headers["aauth-requirement"])
uncovered = signed_get(agent, agent.person_token_for(SUP), f"AAuth {session}", ["@method", "@authority", "@path", "signature-key"])
print("not covered: ", uncovered.status, uncovered.header("signature-error"))

# %% [markdown]
# ## 11 · Exercises

# %%
from aauth_kit.exercises import nb13

ex = nb13.bind(lab)

# %% [markdown]
# **Q1 · A call with a session token.** The grader's agent holds a session token for the
# supplier. Write `quotes_request(url, key, token, session, created)`: return an `HttpMessage`
# for `GET url` (the supplier's quotes) that the supplier answers `200`, signed with `key`
# presenting `token` at time `created` (`sign_request(message, key, jwt_key(token),
# created=created)`), carrying the session token `session`.

# %%
def quotes_request(url, key, token, session, created):
    ...  # your code here: build the HttpMessage, sign it, return it


ex.q1.check(quotes_request)

# %% [markdown]
# **Q2 · What does the authorization endpoint answer?** The grader's agent POSTs to the
# supplier's `/authorize`, signed with a person token. Predict `(status, error code)`, with
# `None` as the code when there is no error.

# %%
answers = {
    "scope supplier:quotes, asked for the first time": None,
    "scope supplier:quotes, asked again after the person approved": None,
    "scope supplier:refunds": None,
    "scope supplier:order for account acme-corp, which the person does not hold": None,
    "scope supplier:quotes, with a person token issued for another resource": None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()`; solutions: `ex.q1.solution()`, `ex.q2.solution()`.
#
# ## What to remember
#
# * a resource may decide itself: `POST /authorize` with a person token → `202` + its own page
#   and code → the person approves there → the poll's `200` carries `AAuth-Access`;
# * the agent sends the session token back as `Authorization: AAuth <token>`, inside its
#   signature; the token is bound to the key it was issued to and useless as a bearer token;
# * a key already authorized gets `200` at once; a scope the PS must stand behind gets a
#   resource token instead, from the same endpoint;
# * the endpoint's errors are `400`s with the draft's codes: `invalid_request`,
#   `invalid_scope`, `invalid_account`, `invalid_person_token`;
# * a resource token can carry `interaction`: the PS sends the person to the resource's page
#   first, then asks its own question.
