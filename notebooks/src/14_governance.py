# %% [markdown]
# # 14 · Governance: permission, audit, and reaching the person
#
# Scopes govern what an agent does **at a resource**. Much of an agent's work touches no
# resource at all: it runs a tool, writes a file, sends an e-mail. Draft -11 "PS Governance
# Endpoints" gives the person's Person Server (PS) three endpoints for that:
#
# * the **permission endpoint** — "may I run this action?" (-11 "Permission Endpoint");
# * the **audit endpoint** — "I ran this action, here is what happened" (-11 "Audit Endpoint");
# * the **interaction endpoint** — "please reach my person for me" (-11 "Interaction Endpoint").
#
# Inside a mission (notebook 09) every one of these calls joins the mission's **log**
# (-11 "Mission Log"), which the person can read. This notebook calls each endpoint, looks at
# the raw messages, reads the log, and then tampers.

# %%
import json

from aauth_kit import show
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.loop import get_loop_thread
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
PS = lab.identifiers["ps"]
# the person approves what the agent shows them at once (the mission below)
agent = lab.new_agent("travel", on_interaction=lambda i: lab.ps.decide(i.code, True))
with lab.client(agent) as client:
    mission = agent.start_mission(
        client,
        "# Plan a trip to Tokyo\n\nSearch flights, propose an itinerary.",
        tools=[{"name": "WebSearch", "description": "Search the web"}],
    )
print("mission_s256:", mission.s256)
lab

# %% [markdown]
# ## 1 · Where the endpoints are
#
# The PS names them in its metadata (-11 "Person Server Metadata"), next to
# `scopes_supported` and `claims_supported` — the identity scopes and claims it can provide.
# The kit's PS provides two identity claims: the pairwise `sub` of every token it issues, and
# the person's `name`, which an Access Server may ask it for (-11 "Claims Required"); no identity scopes.

# %%
metadata = lab.client().get(f"{PS}/.well-known/aauth-person.json").json()
for name in ("permission_endpoint", "audit_endpoint", "interaction_endpoint", "scopes_supported", "claims_supported"):
    print(f"{name:22}", metadata[name])

# %% [markdown]
# ## 2 · Permission for a pre-approved tool
#
# The mission's approval lists `WebSearch` among its `approved_tools`. Asking for it, the
# agent gets `200 {"permission": "granted"}` at once (-11 "Permission Response"). The request
# is signed with the agent token like every call to the PS, and names the mission.

# %%
start = lab.trace.mark()
with lab.client(agent) as client:
    print(agent.ask_permission(client, "WebSearch", parameters={"query": "flights to Tokyo in May"}))
asked = lab.trace.last(url=metadata["permission_endpoint"])
show.show(asked, now=lab.clock)

# %% [markdown]
# ## 3 · Permission the person must give
#
# `SendEmail` is no pre-approved tool. The person is signed in at their PS, so the PS can
# reach them itself: it answers `202` with `requirement=approval` — no code for the agent to
# show — and puts the request in the person's inbox.

# %%
person = lab.client(source="Person")
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"


async def ask_to_send():
    async with lab.async_client(source="Agent") as client:
        return await agent.governance.aask_permission(
            client, "SendEmail", description="Send the itinerary", parameters={"to": "me@example.com"}
        )


flow = get_loop_thread().submit(ask_to_send())
waiting = wait_until(lambda: lab.ps.store.live_pending(kind="permission"), flow=flow, what="the request")
held_poll(lab.ps, waiting[0].code, flow=flow)  # the agent waits at its pending URL
item = person.get(f"{PS}/inbox").json()[0]  # the person's inbox: what waits for them
request = lab.trace.last(url=metadata["permission_endpoint"])
print(show.raw(request.response))
print("requirement:", parse_requirement(request.response.header("aauth-requirement")).requirement)

# %% [markdown]
# The person opens it and sees what the agent asks: the action, its description, its
# parameters. They deny. The agent's poll ends with `200 {"permission": "denied", "reason"}`:
# a denial is an answer, and the agent MUST NOT proceed.

# %%
context = person.get(f"{PS}/consent", params={"code": item["code"]}).json()
print(json.dumps(context["asked"], indent=2))
person.post(f"{PS}/consent/{item['pending_id']}/decision", json={"approved": False})
print("the agent's answer:", flow.result(timeout=30))

# %% [markdown]
# ## 4 · Audit: what the agent did
#
# After the search, the agent records it (-11 "Audit Request"). The PS answers `201
# Created` with no body (-11 "Audit Response"); the agent need not wait for it.

# %%
with lab.client(agent) as client:
    agent.send_audit_record(
        client,
        "WebSearch",
        description="Searched for flights to Tokyo in May",
        result={"status": "completed", "summary": "Found 12 flight options"},
    )
show.show(lab.trace.last(url=metadata["audit_endpoint"]), now=lab.clock)

# %% [markdown]
# ## 5 · Reaching the person: a question
#
# The agent asks its person a question through the PS (-11 "Interaction Request", type
# `question`). The PS delivers it (the inbox again) and the poll's `200` carries the answer.

# %%
async def ask_question():
    async with lab.async_client(source="Agent") as client:
        return await agent.governance.arequest_interaction(
            client, "question", question="Refundable fare for 80 € more?"
        )


flow = get_loop_thread().submit(ask_question())
waiting = wait_until(lambda: lab.ps.store.live_pending(kind="interaction"), flow=flow, what="the question")
held_poll(lab.ps, waiting[0].code, flow=flow)
item = person.get(f"{PS}/inbox").json()[0]
print(person.get(f"{PS}/consent", params={"code": item["code"]}).json()["asked"]["question"])
person.post(f"{PS}/consent/{item['pending_id']}/answer", json={"answer": "Yes, refundable."})
print("the agent's answer:", flow.result(timeout=30))

# %% [markdown]
# ## 6 · When the PS cannot reach the person
#
# The person signs out. Now the PS has no channel. A relay of an interaction URL is answered
# `424 interaction_unavailable` — non-terminal: the agent shows the URL and code itself
# (-11 "Interaction Endpoint Errors"). A question would be `403 user_unreachable`, terminal.

# %%
person.post(f"{PS}/logout")
relay = {"type": "interaction", "url": "https://booking.example/confirm", "code": "X7K2-M9P4"}
with lab.client(agent) as client:
    try:
        agent.request_interaction(client, **relay)
    except Exception as error:
        print(type(error).__name__, error)
print(show.raw(lab.trace.last(url=metadata["interaction_endpoint"]).response))

# %% [markdown]
# ## 7 · The mission log
#
# Every call above named the mission, so each joined its log, after the mission's own
# entries. The person reads it at `GET /missions/{mission_s256}/log` (signed in again):

# %%
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"
for entry in person.get(f"{PS}/missions/{mission.s256}/log").json()["log"]:
    print(f"{entry['seq']:3}  {entry['action']:22} {entry['details'].get('action') or entry['details'].get('type') or ''}")

# %% [markdown]
# ## 8 · The conversation
#
# From the first permission request (highlighted) to the refused relay.

# %%
SequenceDiagram(lab.trace.find(since=start), highlight=asked.index + 1, parties=["Agent", "PS", "Person"])

# %% [markdown]
# ## 9 · Tampering
#
# An audit record rewritten after signing — the result changed on the way — no longer
# matches its `Content-Digest`, and the PS refuses it with `401` before reading it:

# %%
body = {"mission_s256": mission.s256, "action": "WebSearch", "result": {"summary": "Found 12"}}
message = HttpMessage("POST", metadata["audit_endpoint"], [("Content-Type", "application/json")], json.dumps(body).encode())
sign_request(message, agent.key, jwt_key(agent.agent_token), created=int(lab.clock()))
message.body = message.body.replace(b"Found 12", b"Found 0")
tampered = lab.send(message)
print(tampered.status, tampered.response.header("signature-error"))

# %% [markdown]
# And a record for a mission that is not this agent's is `404 mission_not_found` — the same
# answer as for a mission that does not exist:

# %%
other = lab.new_agent("other")
message = HttpMessage("POST", metadata["audit_endpoint"], [("Content-Type", "application/json")], json.dumps(body).encode())
sign_request(message, other.key, jwt_key(other.agent_token), created=int(lab.clock()))
print(show.raw(lab.send(message).response))

# %% [markdown]
# ## 10 · Exercises
#
# The person signs out first: the graders' questions assume the PS cannot reach them.

# %%
person.post(f"{PS}/logout")
from aauth_kit.exercises import nb14

ex = nb14.bind(lab)

# %% [markdown]
# **Q1 · An audit record.** Write `audit_record(mission_s256)`: the body recording a
# `WebSearch` that found 12 flights. The grader's agent sends it inside its own mission.

# %%
def audit_record(mission_s256):
    ...  # your code here: return the request body as a dict


ex.q1.check(audit_record)

# %% [markdown]
# **Q2 · What does the PS answer?** The person is not signed in. Predict `(status, error code)`.

# %%
answers = {
    "the agent sends an audit record without mission_s256": None,
    "the agent asks the PS to relay an interaction URL and code to the person": None,
    "the agent asks the PS to put a question to the person": None,
    "the agent asks permission for an action, naming a mission the person accepted as complete": None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()`; solutions: `ex.q1.solution()`, `ex.q2.solution()`.
#
# ## What to remember
#
# * the permission, audit and interaction endpoints are in the PS's metadata; every call is
#   signed with the agent token;
# * permission: `200 granted` at once for a pre-approved tool, else `202` until the person
#   decides — `granted` or `denied`;
# * audit: `201 Created`, only inside a mission;
# * interaction: a question comes back answered; with no channel, a relay is `424
#   interaction_unavailable` (the agent directs the person itself), a question `403
#   user_unreachable`;
# * within a mission, all of it joins the mission log the person reads.
