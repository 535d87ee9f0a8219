# %% [markdown]
# # 10 · Attacks: the cast under fire
#
# The notebooks so far showed AAuth working. This one shows it **refusing**. Every server of
# the cast is reachable by people who mean it harm, and a teaching kit must hold against
# them — otherwise it teaches the wrong thing. Here are the attackers:
#
# | attacker | what they have |
# | --- | --- |
# | a **stranger** | the network: any request to any endpoint |
# | a **second person** | an account at the Person Server (PS), but not the administrator's |
# | a **hostile Agent Provider** | its own signing key and metadata, and the identifier of somebody else's agent |
# | **another site's web page** | the person's browser: it can frame pages and send simple cross-site requests |
# | a **slow or huge client** | time and bandwidth: headers a byte at a time, a body of gigabytes |
#
# Each section mounts one attack against the lab, shows the raw answer, names its status
# and error code, and quotes the rule it follows: the draft (-11), the HTTP Signature Keys
# draft, RFC 9700 (the OAuth 2.0 Security Best Current Practice) or, where the drafts say
# nothing, OWASP's Application Security Verification Standard (ASVS) level 2.
# `docs/security.md` in the repository lists every limit and its default.

# %%
import json
import re
import socket

from aauth_kit import jws, show, tokens
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.headers import parse_requirement
from aauth_kit.jwks import jwks
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, agent_metadata
from aauth_kit.problem import error_code, problem_of
from aauth_kit.profile import sign_request
from aauth_kit.revocation import Revoker
from aauth_kit.servers.ps.store.persons import PersonAccount
from aauth_kit.signature_key import hwk_key, jwt_key
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

HOSTILE = "https://hostile.example"
lab = Lab(persons=[PersonAccount("eve", "eve-password")], allow_origins=[HOSTILE])
PS, BACKEND = lab.identifiers["ps"], lab.identifiers["backend"]
stranger = lab.client(source="Attacker")


def attempt(method, url, *, source="Attacker", **request):
    """Send one request as ``source`` and return the traced exchange (request and answer)."""
    with lab.client(source=source) as client:
        client.request(method, url, **request)
    return lab.trace.last(source=source)


def verdict(exchange):
    """Status, error code and description (problem+json, or ``Signature-Error``), and Retry-After."""
    response = exchange.response
    problem = problem_of(response.body)
    code = error_code(response.body) or response.header("signature-error")
    text = f"{response.status} {code}" + (f" — {problem['detail']}" if problem.get("detail") else "")
    retry = response.header("retry-after")
    return text + (f"   (Retry-After: {retry})" if retry else "")


lab

# %% [markdown]
# `Lab(persons=[...])` adds a second person, **eve**, beside the demo administrator
# `mcp-user`; `allow_origins` lets the PS fetch from `https://hostile.example`, where our
# hostile Agent Provider will live (without it, egress admission — section 7 — would refuse
# to fetch from it at all, and the attack would end before it began).
#
# ## 1 · A second person is not an administrator
#
# The PS has one administrator screen: the consent policy — which scopes need a person's
# consent (notebook 06, section 6). If every signed-in person could change it, eve could
# switch consent off for everybody, and mcp-user's agent would get `supply-chain:optimize`
# without mcp-user ever being asked. She signs in and tries:

# %%
login = stranger.post(f"{PS}/login", json={"username": "eve", "password": "eve-password"})
eve = {"Authorization": f"Bearer {login.json()['session']}"}
policy_change = attempt(
    "PUT", f"{PS}/admin/consent-policy", headers=eve, json={"scopes": [], "prefixes": []}, source="eve"
)
print(show.raw(policy_change.request, hide=[*show.NOISE, "authorization"]))  # her session stays hers
print(show.raw(policy_change.response))
print("→", verdict(policy_change))
print("policy unchanged:", lab.ps.policy)

# %% [markdown]
# `403 forbidden`. The drafts leave the PS's own administration to the PS; the kit follows
# ASVS V4.1.3 (least privilege: a person may act only on what is theirs). The same rule
# scopes what eve may *read*: her `GET /audit` and `GET /tokens` list only entries about
# her — none yet.

# %%
for path in ("/audit", "/tokens"):
    print(path, "→", len(stranger.get(f"{PS}{path}", headers=eve).json()), "entries for eve")

# %% [markdown]
# ## 2 · A hostile Agent Provider claims somebody else's agent
#
# An agent is named by an identifier like `aauth:reporter@ps.example`, which is no secret:
# it sits in every token the agent presents. A hostile Agent Provider (AP) can put that
# identifier in the `sub` of an agent token **it** signs, bound to **its own** key. If the
# PS recognised agents by `sub` alone, the attacker's key would now be "the reporter" — with
# the reporter's person and everything the person approved.
#
# -11 "Agent-Person Binding" closes this: the PS recognises an agent by the pair
# *(agent token `iss`, `sub`)*, and "MUST NOT allow a different person to claim the same
# agent". First the real agent gets bound to mcp-user:

# %%
victim = lab.new_agent("reporter")
victim_claims = jws.decode_unverified(victim.agent_token).payload
victim_id = victim_claims["sub"]
print("the real agent:", victim_id, "— its agent token issued by", victim_claims["iss"])

# %% [markdown]
# Now the hostile AP: three documents on its own host (its metadata and its JWKS), one
# signing key, and an agent token with the victim's `sub` and the attacker's key in `cnf`.

# %%
ap_key, attacker_key = Key.from_seed("hostile ap", kid="hostile-1"), Key.from_seed("attacker")
hostile_documents = {
    "/.well-known/aauth-agent.json": agent_metadata(HOSTILE, f"{HOSTILE}/jwks.json", name="Totally Legit AP"),
    "/jwks.json": jwks([ap_key]),
}
lab.hosts.add(
    HOSTILE,
    Starlette(routes=[Route(p, lambda request, d=d: JSONResponse(d)) for p, d in hostile_documents.items()]),
)
now = int(lab.clock())
forged = tokens.mint_agent_token(
    ap_key, iss=HOSTILE, sub=victim_id, cnf=attacker_key, iat=now, exp=now + 600, jti="forged-1"
)
print(show.decoded(forged, now=now))


# %% [markdown]
# The attacker asks the PS for a person token, exactly as the real agent would:


# %%
def signed(method, url, key, token, body=None):
    """A request signed with ``key``, presenting ``token`` in ``Signature-Key`` (notebook 02)."""
    data = json.dumps(body).encode() if body is not None else b""
    message = HttpMessage(method, url, headers=[("Content-Type", "application/json")] if body else [], body=data)
    sign_request(message, key, jwt_key(token), created=int(lab.clock()))
    return message


takeover = lab.send(
    signed("POST", f"{PS}/person-token", attacker_key, forged, {"resource": BACKEND, "capabilities": ["interaction"]}),
    source="Hostile AP's agent",
)
show.show(takeover, tokens=False)
print("\n→", verdict(takeover))

# %% [markdown]
# Not `200` with mcp-user's person token — `202` and an interaction: to the PS, this is a
# **new** agent, `(https://hostile.example, aauth:reporter@ps.example)`, that nobody has
# claimed. A person must be asked, and the consent screen tells them who is asking: the
# Agent Provider's name and identifier, not the real agent's registered name.

# %%
code = parse_requirement(takeover.response.header("aauth-requirement")).code
context = stranger.get(f"{PS}/consent", params={"code": code}, headers=eve).json()
print({k: context[k] for k in ("agent", "agent_provider", "agent_provider_name", "agent_name")})
print("the real agent's binding:", lab.ps.store.get_agent(victim_id, ap_issuer=PS).username)

# %% [markdown]
# Eve opened the code (as a person would who got the link), so the request is hers to decide
# now; the real agent stays bound to mcp-user whatever she decides.
#
# ## 3 · Framing the consent page (clickjacking)
#
# A page on another site could load the PS's consent page in an invisible `<iframe>` and
# put its own "Play the video" button exactly over "Approve": one click by the signed-in
# person approves a stranger's agent. RFC 9700 §4.16 says authorization servers **MUST**
# prevent this. Every HTML page of the cast tells the browser never to draw it inside a
# frame, twice over — `Content-Security-Policy: frame-ancestors 'none'` for current browsers
# and `X-Frame-Options: DENY` for old ones:

# %%
page = attempt("GET", f"{PS}/interaction")
for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
    print(f"{name}: {page.response.header(name)}")

# %% [markdown]
# The browser enforces these: the tests open the page in a frame in Chromium and find it
# blank. The same headers keep the page's scripts to the ones the PS wrote (`script-src`
# lists their hashes), so injected markup cannot run.
#
# ## 4 · Forging the person's forms, guessing passwords
#
# Another site's page can make the person's browser `POST` a form anywhere — with the
# person's cookies. Against the login form that is *login CSRF*: the browser signs in as
# the **attacker**, and whatever the person approves next lands in the attacker's account.
# Every form of the PS carries a CSRF token (ASVS V4.2.2), bound to a cookie set with the
# page, and a browser's `Origin` must be the PS's own:

# %%
forged_login = attempt(
    "POST",
    f"{PS}/login",
    headers={"Origin": "https://evil.example"},
    data={"username": "eve", "password": "eve-password"},
)
print(verdict(forged_login))

# %% [markdown]
# Guessing is next. Each password check costs a deliberate scrypt hash, run off the event
# loop so the other servers keep answering; and after five wrong guesses for one person
# (or fifty from one address) within 15 minutes the PS answers `429` with `Retry-After`
# (ASVS V2.2.1; the drafts are silent):

# %%
for guess in ("123456", "password", "qwerty", "letmein", "eve", "eve-password"):
    answer = attempt("POST", f"{PS}/login", json={"username": "eve", "password": guess})
    print(f"{guess:14} → {verdict(answer)}")

# %% [markdown]
# The sixth try was the right password — and still `429`: once the limit is reached, even
# the right answer waits, or the limit would tell the attacker when they had guessed it.
#
# ## 5 · A stolen session cookie
#
# Cookies know host names, not ports (RFC 6265 §8.5): on a machine where the cast runs on
# `127.0.0.1`, the PS's session cookie goes to **every** server on `127.0.0.1` the person's
# browser visits — a hostile resource on another port included. With the cookie in hand, a
# script could call the PS's JSON API as the person: approve consent, revoke, change things.
#
# So the kit makes the cookie good for the person's **pages** only: the JSON API takes
# `Authorization: Bearer` sessions alone, which a JSON login returns and no browser sends by
# itself; the pages' changes carry the CSRF form token. Over https the cookie is a
# `__Host-` cookie (no other host can set or overwrite it); sessions end after 30 unused
# minutes or 12 hours (ASVS V3.3). mcp-user signs in with the login form, as a browser does:

# %%
browser = lab.client(source="Person's browser", follow_redirects=True)
login_page = browser.get(f"{PS}/interaction")
csrf = re.search(r'name="csrf" value="([^"]*)"', login_page.text)[1]
browser.post(
    f"{PS}/login", data={"username": "mcp-user", "password": "user123", "next": "/interaction", "csrf": csrf}
)
login = lab.trace.last(source="Person's browser", method="POST", path="/login")
print("Set-Cookie:", re.sub(r"=[^;]+;", "=…;", login.response.header("set-cookie"), count=1))
cookie_name, stolen = next((c.name, c.value) for c in browser.cookies.jar if c.name.endswith("aauth_session"))

# %% [markdown]
# The hostile server now holds that value. It replays it both ways:

# %%
as_bearer = attempt("GET", f"{PS}/tokens", headers={"Authorization": f"Bearer {stolen}"})
as_cookie = attempt(
    "PUT", f"{PS}/admin/consent-policy", headers={"Cookie": f"{cookie_name}={stolen}"}, json={"scopes": [], "prefixes": []}
)
print("GET /tokens, the cookie as Bearer       →", verdict(as_bearer))
print("PUT /admin/consent-policy, as a cookie  →", verdict(as_cookie))

# %% [markdown]
# Both `401`. What is left — and `docs/security.md` says so plainly — is the page itself: the
# hostile server could replay the cookie to the consent *page*, read its CSRF token and post
# the form. No cookie can be kept from another port of the same host; outside dev mode the
# PS has an https host name of its own, and nobody else's server runs there.
#
# ## 6 · Slow and huge clients
#
# A server that reads whatever it is sent, for as long as it takes, is anyone's to stop.
# The cast's servers refuse before reading (RFC 9110 §15.5.14 and RFC 6585 §5):
#
# * a body over 1 MiB — `413`, decided from `Content-Length` before a byte of the body is read;
# * header fields over 16 KiB — `431 Request Header Fields Too Large`;
# * headers that take more than 10 s to arrive, or a body more than 30 s: the connection is closed.
#
# Here is a request that *says* it will send 50 MiB. We send only its head, over a raw
# socket, and read the answer:

# %%
host, port = lab.hosts.routes[PS]
with socket.create_connection((host, port), timeout=10) as raw:
    raw.sendall(
        b"POST /person-token HTTP/1.1\r\nHost: ps.example\r\n"
        b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
    )
    print(raw.recv(4096).decode().split("\r\n\r\n")[0])

# %%
huge_headers = attempt("GET", f"{PS}/.well-known/aauth-person.json", headers={"X-Padding": "x" * 20_000})
print(verdict(huge_headers))

# %% [markdown]
# ## 7 · Making the PS fetch whatever it is told
#
# Some requests are signed by a server in its own right: an Agent Provider revoking an agent
# token signs with `Signature-Key: sig=jwks_uri;id=…` (notebook 08), and the PS fetches the
# key from where `id` points. An attacker points `id` at a port on the PS's own machine, or
# at a private address inside the network: the PS becomes their scanner, and its error
# messages tell open ports from closed ones. -11 "JWKS Discovery and Caching": "Before
# fetching any issuer metadata or jwks_uri, verifiers MUST apply egress admission". The kit
# admits `https` only, never a private or loopback address outside dev mode (in dev mode
# only the cast's own origins and those named on the command line), at most 1 MiB in at most
# 10 s in all — and gives one answer for everything it will not or cannot fetch:


# %%
def revocation_signed_by(target):
    """A revocation "from the Agent Provider at ``target``": to check it the PS would fetch ``target``."""
    return lab.send(Revoker(target, AGENT_DWK, attacker_key, lab.clock).request(f"{PS}/revoke", "j1", 1), source="Scanner")


for target in ("https://127.0.0.1", "https://10.0.0.1", "https://169.254.169.254", "https://closed.example"):
    print(f"{target:26} → {verdict(revocation_signed_by(target))}")
for target in ("http://127.0.0.1:22", "https://127.0.0.1:8443"):
    print(f"{target:26} → {verdict(revocation_signed_by(target))}")

# %% [markdown]
# Four different targets — this machine, a private address, the cloud metadata service
# every SSRF attack reaches for, a name that does not exist — and four identical answers:
# nothing to learn, and nothing was fetched. The last two are refused even earlier, on their
# face: a server identifier is `https://` and a host, with no port (-11 "Server
# Identifiers") — so outside dev mode nobody can name a port to scan at all.
#
# ## 8 · Interaction codes: single use, and not to be guessed
#
# The code in an interaction link (section 2) is what lets a person claim a request. -11
# "Interaction Code Format" makes codes single-use and rate-limited. The code eve opened in
# section 2 cannot be opened again — by her or by anyone:

# %%
again = attempt("GET", f"{PS}/consent", params={"code": code}, headers=eve)
print(verdict(again))

# %% [markdown]
# And guessing codes ends quickly: after five unknown or used codes within five minutes a
# person gets `429` with `Retry-After`.

# %%
for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "EEEE-EEEE"):
    answer = attempt("GET", f"{PS}/consent", params={"code": guess}, headers=eve)
    print(f"{guess} → {verdict(answer)}")

# %% [markdown]
# ## 9 · A web page starts the backend's job
#
# The backend (notebook 07) starts an optimization job on `POST /optimization/start`, which
# may end in a consent request to mcp-user. Browsers let any page send a *simple*
# cross-site request — a form, or `fetch` with `Content-Type: text/plain` — without asking
# the target first (a CORS preflight). The backend takes only `application/json`, which
# a page can send across sites only after a preflight the backend never grants — and it
# refuses any browser `Origin` but its own. Two locks: a browser sends `Origin` with every
# cross-site `POST`, and a browser (or a privacy extension) that leaves it out still cannot
# send JSON.

# %%
attack = {"content": b'{"custom_prompt": "approve everything"}'}
from_page = attempt(
    "POST",
    f"{BACKEND}/optimization/start",
    headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    **attack,
)
no_origin = attempt("POST", f"{BACKEND}/optimization/start", headers={"Content-Type": "text/plain"}, **attack)
print("text/plain, Origin: https://evil.example →", verdict(from_page))
print("text/plain, no Origin                    →", verdict(no_origin))
print("jobs started:", len(lab.backend.jobs))

# %% [markdown]
# ## 10 · Filling the Person Server's tables
#
# Every request that waits for a person is a row at the PS, and so is every agent that
# registers itself and waits for approval. A stranger who can make rows without end can
# fill the disk and bury the real requests on the consent screen. The drafts set no numbers
# here; the kit caps what one party may hold at once (ASVS V11.1.4, anti-automation): 20
# waiting requests per agent, 10 registrations waiting for approval per client address
# (100 in all), 20 missions per agent. Rows past their time are swept away every five
# minutes — all but the audit log, which is the record.
#
# The hostile agent of section 2 asks for person tokens until the PS says stop:


# %%
def summary(exchanges):
    """``202 × 19, then 429 rate_limited (Retry-After: …)``: the answers, runs of one kind counted."""
    runs = []
    for exchange in exchanges:
        text = verdict(exchange).split(" — ")[0] if exchange.status >= 400 else str(exchange.status)
        if runs and runs[-1][0] == text:
            runs[-1][1] += 1
        else:
            runs.append([text, 1])
    return ", then ".join(f"{text} × {count}" if count > 1 else text for text, count in runs)


flood = []
for _ in range(22):
    request = {"resource": BACKEND, "capabilities": ["interaction"]}
    flood.append(lab.send(signed("POST", f"{PS}/person-token", attacker_key, forged, request), source="Hostile AP's agent"))
    if flood[-1].status == 429:
        break
print(summary(flood))
print("Retry-After:", flood[-1].response.header("retry-after"), "s — when its oldest waiting request expires")

# %% [markdown]
# And a stranger registers agents anonymously (`POST /agent/register`, signed with a bare
# key: notebook 03) from one address until the PS says stop. The refused one leaves no row.

# %%
registrations = []
for n in range(12):
    key = Key.from_seed(f"anonymous {n}")
    message = HttpMessage(
        "POST", f"{PS}/agent/register", headers=[("Content-Type", "application/json")],
        body=json.dumps({"local": f"anon-{n}", "name": f"Anon {n}"}).encode(),
    )
    sign_request(message, key, hwk_key(key), created=int(lab.clock()))
    registrations.append(lab.send(message, source="Stranger"))
    if registrations[-1].status == 429:
        break
print(summary(registrations))
print("the refused agent's row:", lab.ps.store.get_agent(f"aauth:anon-{n}@ps.example", ap_issuer=PS))

# %% [markdown]
# ## 11 · The attacks on one page
#
# Every exchange above, drawn from the trace. Each arrow back is a refusal.

# %%
SequenceDiagram(lab.trace)

# %% [markdown]
# ## Exercises
#
# **Q1 · Predict the answer.** For each attack, what does the lab answer — status and error
# code? Fill in `(status, "code")` pairs; the grader mounts each attack against the lab and
# compares.
#
# * `"second person changes the policy"` — eve `PUT`s `/admin/consent-policy`;
# * `"cross-site login"` — a login form posted from `https://evil.example`;
# * `"form-encoded job start"` — `POST /optimization/start` at the backend with
#   `application/x-www-form-urlencoded`;
# * `"2 MiB token request"` — `POST /person-token` with a 2 MiB body.

# %%
from aauth_kit.exercises import nb10

ex = nb10.bind(lab)
answers = {
    "second person changes the policy": None,
    "cross-site login": None,
    "form-encoded job start": None,
    "2 MiB token request": None,
}
ex.q1.check(answers)

# %% [markdown]
# **Q2 · Build the refused request.** Write `cross_site_start(backend)`: the request a
# hostile web page's script could make the person's browser send to start a backend job
# **without** a CORS preflight — return a dict with `method`, `url`, `headers` and
# `content` (bytes). The grader checks it is one a browser would send unasked from another
# site, sends it, and checks the backend refuses it and starts no job.

# %%
def cross_site_start(backend):
    ...


ex.q2.check(cross_site_start)

# %% [markdown]
# Stuck? `ex.q2.hint()`, and `ex.q2.solution()` when you are done.
#
# ## What you saw
#
# * Identity is *who issued it* and *what it says*: the PS keys agents by `(iss, sub)`.
# * A person's powers end at their own data; the administrator is a separate role.
# * Browsers are a channel for attackers: pages that cannot be framed, forms that carry a
#   token, JSON-only APIs, `Origin` checked.
# * Every resource a stranger can spend — connections, bytes, seconds, guesses, fetches —
#   has a limit, and every refusal says the same thing whatever the reason behind it.
