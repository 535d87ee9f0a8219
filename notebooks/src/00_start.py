# %% [markdown]
# # 00 · Start here
#
# This kit teaches **AAuth** (Agent Auth, draft-hardt-oauth-aauth-protocol-11) by running it.
# AAuth is about AI agents calling web APIs on behalf of people. Three ideas carry it:
#
# 1. **Every request is signed.** An agent signs each HTTP request with its own key
#    (HTTP Message Signatures, RFC 9421) and says which key it used in a `Signature-Key`
#    header (draft-hardt-httpbis-signature-key-09).
# 2. **Tokens are bound to that key.** The tokens an agent shows — who the agent is, which
#    person it acts for, what it may do — all name the agent's key, so a stolen token is
#    useless without the key.
# 3. **A person stays in charge.** When an agent wants something that needs a person's
#    consent, the person's own server (the *Person Server*) asks them.
#
# This first notebook checks that the kit works on your machine, introduces the four
# parties of the story, sends the first signed request, and explains how to use the
# notebooks.

# %% [markdown]
# ## 1. Is everything installed?
#
# The kit needs a handful of Python packages. The next cell imports each one and says
# whether it is there. (The cell after it lists the exact versions — those differ from
# machine to machine, so that cell is not compared when the notebooks are tested.)

# %%
import importlib
import sys

NEEDED = {
    "cryptography": "keys and signatures (Ed25519)",
    "jwt": "JSON Web Tokens (PyJWT)",
    "http_sfv": "HTTP structured fields (RFC 8941): Signature-Input, Signature-Key, …",
    "httpx": "the HTTP client agents use",
    "starlette": "the web apps of the cast",
    "uvicorn": "the web servers of the cast",
    "ipywidgets": "the interactive widgets",
}
report = [f"{'✔' if sys.version_info >= (3, 11) else '✘'} Python 3.11 or newer"]
for module, purpose in NEEDED.items():
    try:
        importlib.import_module(module)
        report.append(f"✔ {module:13} {purpose}")
    except ImportError as exc:
        report.append(f"✘ {module:13} MISSING ({exc}) — run `make lab` again, or `pip install -e .[lab]`")
print("\n".join(report))

# %% tags=["nbval-ignore-output"]
import importlib.metadata as package_metadata

print(f"Python {sys.version.split()[0]}")
for package in ("aauth-kit", "cryptography", "pyjwt", "http-sfv", "httpx", "starlette", "uvicorn", "ipywidgets"):
    print(f"{package:13} {package_metadata.version(package)}")

# %% [markdown]
# ## 2. Start the cast
#
# `Lab()` starts every party of the story as a real web server inside this notebook's
# Python process. The servers do not run on the notebook's own event loop: the kit starts
# one private event loop on a background thread (the *loop thread*) and runs every server
# there, so a cell never blocks them and restarting the kernel cleans everything up.

# %%
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread

lab = Lab()
loop_thread = get_loop_thread()
print(f"{'✔' if loop_thread.alive else '✘'} the kit's loop thread {loop_thread.name!r} is running")
lab

# %% [markdown]
# Look at `docs=` in the `repr`, and at the next cell's output. In the copy you are
# reading they say `True`: that is **docs mode**. The notebooks were published from a run
# with a frozen clock, keys made from fixed seeds, and counters instead of random ids, so
# the output you read is exactly the output the test suite expects. Once you run the cell
# yourself they say `False`: `Lab()` picks docs mode only if the environment variable
# `AAUTH_KIT_DOCS=1` is set; otherwise keys are random, ids are random and the clock is
# real. Nothing else changes — the same servers, the same protocol.

# %%
from aauth_kit.explain import utc

print("docs mode:", lab.docs)
print("the lab's clock says:", utc(int(lab.clock())))

# %% [markdown]
# ## 3. The cast
#
# Four parties, each with the kind of name it would have on the internet. The kit routes
# those names to the in-process servers, so no `/etc/hosts` edits and no certificates are
# needed.

# %%
ROLES = {
    "ps": ("Person Server + Agent Provider",
           "acts for the person (mcp-user): person tokens, auth tokens, consent; also issues agent tokens"),
    "backend": ("agent", "the web app a person uses; calls the supply-chain agent"),
    "supply_chain": ("resource (and agent)", "inventory and optimization; calls market analysis when asked"),
    "market_analysis": ("resource", "laptop market trends, reached through the supply-chain agent"),
    "access_server": ("Access Server", "decides for the parts catalog (notebook 11)"),
    "catalog": ("resource", "laptop parts and orders; its auth tokens come from the Access Server"),
    "supplier": ("resource", "parts quotes and orders; asks the person itself, holds orders"),
}
print(f"{'party':16} {'identifier':33} {'AAuth role':31} what it does")
for name, identifier in lab.identifiers.items():
    role, does = ROLES[name]
    print(f"{name:16} {identifier:33} {role:31} {does}")

# %% [markdown]
# Every AAuth server publishes a small JSON document about itself at a **well-known**
# address (-11 "Metadata Documents"): `aauth-person.json` for a Person Server,
# `aauth-agent.json` for an Agent Provider, `aauth-resource.json` for a resource. The
# `issuer` inside must be the server's identifier, byte for byte, and `jwks_uri` says where
# its public keys are. Let's fetch each one, live, and check it with the kit's validator.
# (The backend is an agent, so it publishes no metadata; we ask its health endpoint.)

# %%
from aauth_kit.errors import AAuthError
from aauth_kit.metadata import validate_metadata

DOCUMENTS = {
    "ps": ["aauth-person.json", "aauth-agent.json"],
    "supply_chain": ["aauth-resource.json", "aauth-agent.json"],
    "market_analysis": ["aauth-resource.json"],
}
report = []
with lab.client(source="Notebook") as client:
    for name, documents in DOCUMENTS.items():
        identifier = lab.identifiers[name]
        for document in documents:
            response = client.get(f"{identifier}/.well-known/{document}")
            try:
                validate_metadata(response.json(), identifier, document, complete=True)
                verdict = f"✔ issuer {response.json()['issuer']}, keys at {response.json()['jwks_uri']}"
            except AAuthError as exc:
                verdict = f"✘ {exc.code}: {exc.detail}"
            report.append(f"{name:16} {document:20} {response.status_code} {verdict}")
    health = client.get(f"{lab.identifiers['backend']}/health")
    report.append(f"{'backend':16} {'/health':20} {health.status_code} {health.json()}")
print("\n".join(report))

# %% [markdown]
# ## 4. A first request, unsigned
#
# The supply-chain agent's `GET /inventory` lets in any **agent that says who it is** —
# no person, no consent (-11 "Agent Identity Access"). What happens if we call it
# without signing at all? `aauth_kit.show` prints each message as raw HTTP (long values
# such as tokens and signatures are cut in the middle, so they fit on a line).

# %%
from aauth_kit.show import show

lab.trace.clear()
with lab.client(source="Notebook") as client:
    client.get(f"{lab.identifiers['supply_chain']}/inventory")
show(lab.trace.last(path="/inventory", source="Notebook"), now=lab.clock)

# %% [markdown]
# `401 Unauthorized` with `AAuth-Requirement: requirement=agent-token`: the resource does
# not say "go away", it says **what to bring** — sign the request with an agent token.
# AAuth uses this header for all its challenges (-11 "Requirement Responses"), never
# `WWW-Authenticate`.
#
# (Every request also carries `accept`, `accept-encoding`, `connection` and `user-agent`
# headers that the HTTP library adds; `show` leaves them out unless a signature covers
# them. Nothing else is hidden.)

# %% [markdown]
# ## 5. A first signed request
#
# `lab.new_agent("notebook")` creates an agent: a fresh Ed25519 key pair, and an **agent
# token** from the Agent Provider (run by the PS here) binding that key to the agent's
# name. `lab.client(agent)` is an ordinary `httpx` client that signs every request as
# that agent and follows AAuth challenges.

# %%
from aauth_kit.jws import decode_unverified

agent = lab.new_agent("notebook")
claims = decode_unverified(agent.agent_token).payload
print("agent identifier:          ", claims["sub"])
print("issued by (Agent Provider): ", claims["iss"])
print("thumbprint of the agent key:", agent.key.thumbprint())

# %%
lab.trace.clear()
with lab.client(agent) as client:
    response = client.get(f"{lab.identifiers['supply_chain']}/inventory")
print(response.status_code, "— parts in the inventory:", len(response.json()["inventory"]))
show(lab.trace.last(path="/inventory", source="Agent"), now=lab.clock)

# %% [markdown]
# `200 OK`, and the answer names our agent. Look at the three headers the agent added:
#
# * **`Signature-Key: sig=jwt;jwt="…"`** — *which key signed*: the `jwt` scheme carries
#   the agent token, and the token's `cnf.jwk` claim is the agent's public key
#   (Signature Keys -09 "JWT Confirmation Key (jwt)"). Below the request, `show` decoded the token claim by claim.
# * **`Signature-Input: sig=("@method" "@authority" "@path" "signature-key");created=…`** —
#   *what was signed*: the method, the host, the path and the `Signature-Key` header
#   itself, and when (RFC 9421 §4.1). These four are the minimum every AAuth request
#   covers (-11 "HTTP Message Signatures Profile").
# * **`Signature: sig=:…:`** — the Ed25519 signature over exactly those parts
#   (RFC 9421 §4.2).
#
# The supply-chain agent checked the token against the Agent Provider's published keys,
# then checked the signature with the key inside the token. Notebook 01 rebuilds that
# signature by hand; notebook 02 looks at the `Signature-Key` schemes.

# %% [markdown]
# The same exchange, drawn. Every diagram in these notebooks is drawn from the traffic
# that actually flowed (the lab's **trace**), never from a script.

# %%
from aauth_kit.diagram import SequenceDiagram

SequenceDiagram(lab.trace, highlight=-1)

# %% [markdown]
# The **message inspector** widget shows the same request with the signed parts
# highlighted and the signature base rebuilt (it needs a running kernel; the text above
# shows the same facts).

# %% tags=["nbval-ignore-output"]
from aauth_kit.widgets import MessageInspector

MessageInspector(lab.trace.last(path="/inventory", source="Agent"), now=lab.clock)

# %% [markdown]
# ## 6. How to use these notebooks
#
# * **Run All.** Each notebook starts its own cast and runs top to bottom:
#   *Run → Run All Cells*. Cells depend on earlier ones, so run them in order.
# * **Restart.** *Kernel → Restart Kernel and Run All Cells* always gives a clean state:
#   the servers live in the kernel, so a restart stops them and the next run starts fresh.
#   No notebook stops its cast: it runs as long as the kernel, so the exercises can always
#   be checked against it. Re-running a single cell is safe too — a re-created party
#   replaces the old one, and cells find the messages they show by what they are, not by
#   their place in the trace.
# * **Docs mode** (above) is what makes the committed outputs reproducible. Set
#   `AAUTH_KIT_DOCS=1` before starting Jupyter to get exactly the outputs you read; leave it
#   unset to see real times and random keys.
# * **Exercises** (from notebook 01 on) end in `ex.q1.check(answer)`. Before you try, it
#   says *not attempted*; `ex.q1.hint()` and `ex.q1.solution()` help.
#
# **Troubleshooting**
#
# | what you see | what to do |
# | --- | --- |
# | a widget shows as text, or "Error displaying widget: model not found" | widgets exist only in a live kernel: *Run All* |
# | `check()` says "the lab is stopped: run the notebook from the top" | the cast of this kernel is gone (stopped, or replaced by a newer `Lab()`): *Run All* |
# | a cell runs for more than a minute | *Kernel → Restart Kernel and Run All Cells* |
# | `RuntimeError: asyncio.run() cannot be called from a running event loop` | never use `asyncio.run` in a notebook; use the sync `lab.client(...)` or top-level `await` |
# | `Address already in use` | the kit uses free ports, so this comes from another program; restart the kernel |
# | `ModuleNotFoundError: aauth_kit` | the notebook runs in another environment: pick the kernel of the kit's `.venv`, or run `make lab` |
# | an approve button does nothing while another cell runs | clicks wait until the running cell ends: run the flow one cell at a time, as the notebooks do |

# %% [markdown]
# ## 7. The map
#
# | notebook | you will see |
# | --- | --- |
# | **01_http_signatures** | RFC 9421 from scratch: components, the signature base, sign, verify, the RFC's own test vector, and a tamper lab |
# | **02_signature_keys** | the `Signature-Key` schemes: `hwk` (pseudonymous), `jwks_uri` (identified, with discovery), `jwt` (agent tokens); key thumbprints |
# | **03_agent_tokens** | how an agent gets its agent token from the Agent Provider, a person approving a new agent, key rotation |
# | **04_agent_identity_access** | `requirement=agent-token`, and policy on *who the agent is* |
# | **05_ps_authorization** | person tokens, the resource-token challenge, an auth token granted by policy |
# | **06_user_consent** | the consent walk-through: `202`, the interaction code, approve or deny, `Prefer: wait` |
# | **07_supply_chain_demo** | the whole supply-chain story, the call chain to market analysis, the audit trail |
# | **08_revocation** | taking a token back: the person revokes an auth token, the PS tells the resource, `revoked_jwt`, the cascade when an Agent Provider revokes an agent |
# | **09_missions** | the person approves a task: the agent's proposal, the mission blob and its `s256` recomputed by hand, `mission_s256` in every token, completion, `mission_terminated` |
# | **10_attacks** | the cast under fire: each attack of a stranger, a second person, a hostile Agent Provider, another site's page and a slow or huge client, refused — the raw answer, its code and the rule it follows |
# | **11_four_party** | a resource with its own Access Server: the PS's signed request to the AS, `requirement=claims`, `402`, the AS's errors relayed to the agent, forged auth tokens refused |
# | **12_clarification** | the person asks the agent a question from the consent page: the poll that carries it, the agent's answer, an updated request or a cancel, and the limits on the chat |
# | **13_resource_sessions** | a resource that asks the person itself: its authorization endpoint's `202`, its own consent page, `AAuth-Access` and `Authorization: AAuth`, a resource page inside the PS's consent, session tokens replayed and altered |
# | **14_governance** | the PS's governance endpoints: permission (a pre-approved tool, a denial), an audit record, a question answered, `424 interaction_unavailable`, and the mission log they feed |
# | **15_subagents_and_chaining** | sub-agents and the parent-mediated flow; call chaining with `upstream_token` and interaction chaining through the supply-chain agent; deferred delivery at a resource, replayed by `jti` |
