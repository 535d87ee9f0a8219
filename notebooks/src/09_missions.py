# %% [markdown]
# # 09 · Missions: the person approves a task
#
# Until now the person approved **scopes**: "this agent may call `supply-chain:optimize`
# at that resource". A scope says *what* an agent may touch, never *why*. An agent that
# works on a task for an afternoon asks for many tokens at many resources, and each one,
# seen alone, looks fine.
#
# Draft -11 "Mission" lets the person approve the **task** itself. The agent writes
# down what it means to do — a description in Markdown, and optionally the tools and
# resources it expects to use — and sends it to the Person Server (PS). The person reads
# it and approves. From then on:
#
# * the mission is named by one value, `mission_s256`: the SHA-256 of the exact bytes of
#   the approved mission (the *blob*), in base64url;
# * the agent names it in every token request, and every person, resource and auth token
#   issued under it carries the claim `mission_s256` — so the PS, the resources and the
#   audit trail can tell which task each call served;
# * it ends — the person accepts the agent's report of completion, the person revokes it,
#   or it expires — and after that the PS issues nothing more under it.
#
# This notebook proposes a mission, approves it as the person, works under it, completes
# it, and then tampers with it.

# %%
import base64
import hashlib
import json
import re

from aauth_kit import jws, show
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.problem import error_code
from aauth_kit.profile import sign_request
from aauth_kit.loop import get_loop_thread
from aauth_kit.signature_key import jwt_key
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
PS, SCA = lab.identifiers["ps"], lab.identifiers["supply_chain"]
agent = lab.new_agent("planner")  # bound to mcp-user by the PS's Agent Provider


def signed_post(url, body, *, signer=agent):
    """A JSON POST signed by ``signer`` with its agent token — no agent logic, just the message."""
    message = HttpMessage("POST", url, [("Content-Type", "application/json")], json.dumps(body).encode())
    sign_request(message, signer.key, jwt_key(signer.agent_token), created=int(lab.clock()))
    return lab.send(message)


lab

# %% [markdown]
# ## 1 · The agent proposes a mission
#
# The PS names the endpoint in its metadata: `mission_endpoint` (-11 "Metadata
# Documents", OPTIONAL for a PS).

# %%
metadata = lab.client().get(f"{PS}/.well-known/aauth-person.json").json()
print("mission_endpoint:", metadata["mission_endpoint"])

# %% [markdown]
# The agent's proposal is a JSON body (-11 "Mission Creation"): `description` (Markdown, required),
# and optionally `tools` — each `{name, description}` — and `resources`, the resource
# identifiers it means to call.
#
# A person has to approve it, so the request will stop halfway, as in notebook 06. We
# start it on the kit's background loop and wait until the agent holds an interaction
# code and its poll is held at the PS.

# %%
DESCRIPTION = """# Reorder laptops for Q4

Check the laptop stock at the supply-chain agent and propose a reorder plan.
**Do not place any orders.**"""
TOOLS = [{"name": "check", "description": "Read stock levels at the supply-chain agent"}]


async def propose():
    async with lab.async_client(source="Agent") as client:
        return await agent.astart_mission(client, DESCRIPTION, tools=TOOLS, resources=[SCA])


flow = get_loop_thread().submit(propose())
interaction = wait_until(lambda: agent.last_interaction, flow=flow, what="the interaction code")
pending = held_poll(lab.ps, interaction.code, flow=flow)
for exchange in lab.trace.exchanges:
    print(show.title(exchange))

# %% [markdown]
# After our own look at the metadata (step 1), the agent read it too (step 2) and sent its
# proposal (step 3). Here it is raw. It is signed like every token request: `Signature-Key: sig=jwt` with the **agent
# token** — the PS learns which agent proposes — and the signature covers `content-type`
# and `content-digest`, so nobody can change the description on the way.

# %%
proposal = lab.trace.last(url=metadata["mission_endpoint"])
show.show(proposal.request, now=lab.clock)

# %% [markdown]
# ## 2 · `202`: the person must decide
#
# The PS cannot approve a task on its own. It answers exactly as it did for the consent
# of notebook 06 (-11 "Deferred Responses"): `202`, a pending URL in `Location` for the
# agent, and `AAuth-Requirement: requirement=interaction` with the URL and code for the
# person.

# %%
show.show(proposal.response, now=lab.clock)

# %% [markdown]
# Step 4 is the agent's poll of the pending URL, held by the PS under `Prefer: wait`.
#
# ## 3 · The person reads the mission
#
# The person signs in and opens the request by its code — here through the consent REST
# API (`GET /consent?code=…`), which tells what the agent asks. For a mission that is the
# description, the tools and the resources, exactly as the agent sent them.

# %%
person = lab.client(source="Person")
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"

context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
print("kind:  ", context["kind"])
print("agent: ", context["agent"])
print("tools: ", context["mission"]["tools"])
print("resources:", context["mission"]["resources"])
print("description (Markdown):\n")
print(context["mission"]["description"])

# %% [markdown]
# That `GET` redeemed the code: -11 "Interaction Code Format" makes a code single use, so
# the consent page a browser would open with the same code now refuses it (its text,
# without the HTML):

# %%
page = person.get(f"{PS}/interaction", params={"code": interaction.code})
body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text.split("<h1>", 1)[1].split("<form", 1)[0]))
print(page.status_code, body.strip())

# %% [markdown]
# The person approves (`POST /consent/{pending_id}/decision`). The held poll wakes at
# once, and the agent's flow ends with the approved mission.

# %%
decision = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
print("decision →", decision.status_code, decision.json())
mission = flow.result(timeout=30)
poll = lab.trace.last(method="GET", url=proposal.response.header("location"))  # the last poll
for exchange in lab.trace.find(since=poll):
    print(show.title(exchange))

# %% [markdown]
# ## 4 · The approval: `{s256, mission, capabilities, person_tokens}`
#
# Step 4, the poll, came back `200` with four members (-11 "Mission Approval"):

# %%
approval = lab.trace.last(method="GET", url=proposal.response.header("location"))
print(show.raw(approval.response, limit=2000))

# %% [markdown]
# `mission` is the **blob**: the approved mission as JSON, base64url-encoded. It is not a
# JWT — nobody signs it; it is identified by its hash. Decoded, these are the exact bytes
# the PS stored:

# %%
encoded = approval.response.json_object()["mission"]
blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
print(blob.decode())
print()
print(json.dumps(json.loads(blob), indent=2, ensure_ascii=False))

# %% [markdown]
# The PS wrote into it who the mission is for (`agent`), when the person approved it
# (`approved_at`), the description, and what was approved of the tools and resources
# (`approved_tools`, `approved_resources`) — -11 "Mission Approval".
#
# `s256` is the SHA-256 of exactly these bytes, base64url without padding. We recompute
# it by hand:

# %%
digest = hashlib.sha256(blob).digest()
recomputed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
print("s256 from the PS:", approval.response.json_object()["s256"])
print("recomputed:      ", recomputed)
print("the agent keeps: ", mission.s256)

# %% [markdown]
# The hash is over **bytes**, not over "the JSON". Parse the blob and write it out again,
# and you get other bytes — other spacing, other escaping, perhaps another key order —
# and another hash:

# %%
reserialized = json.dumps(json.loads(blob)).encode()
print(reserialized.decode())
print("same bytes?", reserialized == blob)
print("its hash:  ", base64.urlsafe_b64encode(hashlib.sha256(reserialized).digest()).rstrip(b"=").decode())

# %% [markdown]
# That is why the agent checks `s256` against the decoded bytes (-11 "Mission Approval": SHOULD) and
# then **keeps the bytes verbatim**, never re-serializing them. The kit's agent holds
# both in `agent.mission`:

# %%
print("agent.mission.s256:", agent.mission.s256)
print("agent.mission.blob == blob:", agent.mission.blob == blob)

# %% [markdown]
# The two other members are **outside** the blob, so the hash does not cover them
# (-11 "Mission Approval"):
#
# * `capabilities` — what the PS can do for the person *right now*: the kit's PS reaches a
#   person through their active session, so it can relay an `interaction` or a `payment`
#   to them. "They describe this moment rather than a term of the mission."
# * `person_tokens` — the proposal named the SCA under `resources`, so the PS issued a
#   person token for it at once, "sparing the agent a separate request per resource".
#   It carries `mission_s256` and is bound to the agent's key, like any person token.

# %%
answer = approval.response.json_object()
print("capabilities:", answer["capabilities"], "→ agent.mission.capabilities:", agent.mission.capabilities)
for resource, token in answer["person_tokens"].items():
    print("person token for", resource)
    print(show.decoded(token, now=int(lab.clock())))

# %% [markdown]
# ## 5 · Working under the mission
#
# The agent now calls `POST /check` at the supply-chain agent (SCA), as in notebook 05:
# person token, resource token, auth token. The difference: the person token came with the
# approval, so the agent signs its first request with it — no person token request at all.

# %%
first = lab.trace.mark()
with lab.client(agent) as client:
    print("POST /check →", client.post(f"{SCA}/check").status_code)
for exchange in lab.trace.find(since=first):
    print(show.title(exchange))

# %%
print("person token requests:", len(lab.trace.find(path="/person-token", since=first)))
person_token = answer["person_tokens"][SCA]  # from the recorded approval: safe to run again
print("the approval's person token?", agent.person_token_for(SCA) == person_token)

# %% [markdown]
# For a resource the proposal did not name, the agent asks the person token endpoint with
# `mission_s256` in the body (-11 "Person Token Endpoint"); the PS checks that it names an
# **active** mission **of this agent**, and writes it into the person token.

# %% [markdown]
# The SCA copies the claim from the person token it was shown into its resource token
# (-11 "Resource Token Structure") — and the PS checks the two agree (-11 "Resource Token
# Verification"), so nobody can strip the mission on the way. The auth token the PS issues
# carries it too (-11 "Auth Token Structure"):

# %%
challenge = next(e for e in lab.trace.find(path="/check", status=401, since=first)
                 if "resource-token" in (e.response.header("aauth-requirement") or ""))
resource_token = show.found_tokens(challenge.response)[0][1]
auth_token_response = lab.trace.first(path="/auth-token", since=first).response
(auth_token,) = [token for _, token in show.found_tokens(auth_token_response)]
for name, token in (("person token", person_token), ("resource token", resource_token), ("auth token", auth_token)):
    claims = jws.decode_unverified(token).payload
    print(f"{name:15} mission_s256 = {claims.get('mission_s256')}")
print(f"{'the mission':15} s256         = {mission.s256}")

# %% [markdown]
# The auth token, decoded:

# %%
print(show.decoded(auth_token, now=int(lab.clock())))

# %% [markdown]
# ## 6 · The conversation so far
#
# The proposal (highlighted), the person's approval, and the work under the mission.

# %%
SequenceDiagram(lab.trace, highlight=proposal.index + 1, parties=["Agent", "PS", "Person", "Supply chain"])

# %% [markdown]
# ## 7 · Updating the mission
#
# Plans change. The agent learns that the docking stations run short too, and tells the
# PS: `POST {mission_endpoint}/{mission_s256}` with `{"action": "update", "description": …}`
# — the new description in Markdown (-11 "Mission Update"). Signed with the agent token like
# the proposal, body covered. Only the agent that owns the mission may update it.

# %%
NEW_DESCRIPTION = DESCRIPTION + "\n\nAlso check the docking stations: they run short too."

if agent.mission is not None:  # once the mission is completed, this cell shows the update it made
    updated_at = lab.trace.mark()
    with lab.client(agent) as client:
        agent.update_mission(client, NEW_DESCRIPTION)
update = lab.trace.first(url=f"{PS}/mission/{mission.s256}", since=updated_at)
show.show(update.request, now=lab.clock)

# %% [markdown]
# The PS answers at once — no person to ask: `200` and one member, `s256`. It stored the
# update, and `s256` is the SHA-256 of the exact bytes of the request body it persisted:

# %%
show.show(update.response, now=lab.clock)
print("recomputed:", base64.urlsafe_b64encode(hashlib.sha256(update.request.body).digest()).rstrip(b"=").decode())

# %% [markdown]
# The update does **not** make a new mission. The blob the person approved stays as it was,
# byte for byte, and so does its hash, `mission_s256`: every token issued under the mission
# still names it. The update is kept beside the mission, for the person and the audit trail.

# %%
stored = lab.ps.store.get_mission(mission.s256)
print("blob unchanged?        ", stored.blob == blob)
print("mission_s256 unchanged?", stored.s256 == mission.s256)
print("updates kept at the PS:", [u.s256 for u in lab.ps.store.list_mission_updates(mission.s256)])

# %% [markdown]
# ## 8 · Completion: the person reviews it
#
# The task is done. The agent **proposes** completion: `POST {mission_endpoint}/{mission_s256}`
# with `{"action": "completion", "summary": …}` — the summary is Markdown for the person.
# It does not declare the mission over: the PS shows the summary to the person and answers
# `202` while they review — -11 "Mission Completion": "The agent proposes completion; it does
# not declare it. Only the person's acceptance terminates the mission."
#
# As with the proposal, the agent's flow runs in the background until its poll is held.

# %%
SUMMARY = "Stock checked: 40 laptops left. Plan: reorder 60 in October."


async def finish():
    async with lab.async_client(source="Agent") as client:
        return await agent.acomplete_mission(client, SUMMARY)


if agent.mission is not None:  # once the person has accepted, this cell shows the completion it made
    before = lab.trace.mark()
    flow = get_loop_thread().submit(finish())
    review = wait_until(
        lambda: agent.last_interaction if agent.last_interaction.code != interaction.code else None,
        flow=flow,
        what="the completion's interaction code",
    )
    held_poll(lab.ps, review.code, flow=flow)
completion = lab.trace.first(url=f"{PS}/mission/{mission.s256}", since=before)
show.show(completion.response, now=lab.clock)

# %% [markdown]
# A `202` with a pending URL and an interaction code, as for the proposal. Meanwhile the
# mission is still **active** — the agent could go on asking for tokens under it:

# %%
print("at the PS while the person reviews:", lab.ps.store.get_mission(mission.s256).status)

# %% [markdown]
# The person opens the request by its code and reads the summary next to the mission it
# reports on:

# %%
looked_up = person.get(f"{PS}/consent", params={"code": review.code})
if looked_up.status_code == 200:
    review_context = looked_up.json()
else:  # run again after the person's answer: the code is used up, the request is the one read before
    print("the PS:", looked_up.status_code, error_code(looked_up.content))
print("kind:   ", review_context["kind"])
print("mission:", review_context["completion"]["mission_s256"])
print("summary:", review_context["completion"]["summary"])

# %% [markdown]
# The person accepts. Only now does the PS terminate the mission, with the reason
# `completed`, and the agent's held poll gets `200`. (Had the person denied, the poll would
# get `403 denied` and the mission would stay active.)

# %%
decision = person.post(f"{PS}/consent/{review_context['pending_id']}/decision", json={"approved": True})
print("decision →", decision.status_code, decision.json())
print("the agent's answer:", flow.result(timeout=30))
pending_url = completion.response.header("location")
answered = lab.trace.last(url=pending_url, status=200, since=before)
show.show(answered, tokens=False)

# %% [markdown]
# The kit's agent forgets the mission and the tokens issued under it. The PS keeps the
# mission, its state and the summary:

# %%
stored = lab.ps.store.get_mission(mission.s256)
print("agent.mission:", agent.mission)
print("at the PS:    ", stored.status, "—", stored.termination_reason, "—", stored.summary)

# %% [markdown]
# ## 9 · After the end
#
# A token request naming the ended mission — say, from a copy of the agent that did not
# hear about the completion — is refused with `403 mission_terminated` (-11 "Mission Status Errors"). The
# answer is `application/problem+json` with two more members: `mission_status` and
# `termination_reason`, so the agent knows the mission is over and why.

# %%
refused = signed_post(f"{PS}/person-token", {"resource": SCA, "mission_s256": mission.s256})
print(show.raw(refused.response))

# %% [markdown]
# Every PS endpoint answers a dead mission this way — the auth token endpoint too, given
# a still-valid person token that carries the mission. And completing it twice gets the
# same `403`:

# %%
again = signed_post(f"{PS}/mission/{mission.s256}", {"action": "completion", "summary": "Done again"})
print(again.status, again.response.json_object())

# %% [markdown]
# ## 10 · Tampering with the blob
#
# Suppose someone changes the approved mission — one byte: `Do not place` becomes
# `Do now place`. The hash no longer matches, so the agent's check rejects such an
# approval:

# %%
tampered = blob.replace(b"Do not place", b"Do now place")
print("bytes that differ:", sum(a != b for a, b in zip(blob, tampered)))
tampered_s256 = base64.urlsafe_b64encode(hashlib.sha256(tampered).digest()).rstrip(b"=").decode()
print("s256 of the original:", mission.s256)
print("s256 of the tampered:", tampered_s256)
print("match?", tampered_s256 == mission.s256)

# %% [markdown]
# And a `mission_s256` of altered bytes names no mission at the PS at all: `404
# mission_not_found`. The same answer comes for a mission that exists but belongs to
# another agent — the PS never tells an agent which missions exist.

# %%
print(signed_post(f"{PS}/person-token", {"resource": SCA, "mission_s256": tampered_s256}).response.json_object())

# %% [markdown]
# ## 11 · Exercises
#
# The graders check your answers against this lab: their own agents propose missions the
# person approves, and they send requests to the PS.
#
# **Q1 · A mission's `s256`.** Write `mission_s256(mission)`: given the `mission` member of
# an approval (the base64url blob string), return its `s256`. The grader gives you the
# blob of a mission the lab's PS approved and compares with the `s256` the PS returned.

# %%
from aauth_kit.exercises import nb09

ex = nb09.bind(lab)


def mission_s256(mission):
    ...  # your code here: return the base64url SHA-256 of the decoded bytes


ex.q1.check(mission_s256)

# %% [markdown]
# **Q2 · What does the PS answer?** For each request, predict the PS's answer as
# `(status, error code)`. The grader sends all four and compares.

# %%
answers = {
    "the agent asks for a person token naming a mission_s256 the PS never issued": None,
    "the agent asks for a person token naming its own mission, which it has completed": None,
    "another agent asks for a person token naming this agent's active mission": None,
    'the agent completes a mission at {mission_endpoint}/not-a-hash ({"action": "completion", …})': None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()` (`hint(2)` says more); solutions: `ex.q1.solution()`,
# `ex.q2.solution()`.

# %% [markdown]
# ## What to remember
#
# * a mission is a task the person approved: the agent proposes a Markdown description
#   (and tools, resources) at the PS's `mission_endpoint`, signed with its agent token,
#   body covered; the person decides on the consent page (`202`, then `200 {s256,
#   mission}`);
# * `POST {mission_endpoint}/{s256}` `{"action": "update", "description"}` tells the PS of a
#   new description: `200 {s256}` of the update's bytes; the blob and `mission_s256` stay;
# * `mission` is the blob, base64url; `s256` is the SHA-256 of **exactly its bytes** — the
#   agent checks it and keeps the bytes verbatim, never re-serialized;
# * under the mission, every person, resource and auth token carries `mission_s256`;
# * `POST {mission_endpoint}/{s256}` `{"action": "completion", "summary"}` proposes its end:
#   `202` while the person reviews the summary, and only their acceptance terminates it;
#   then every request naming it gets `403 mission_terminated` (with `mission_status`,
#   `termination_reason`);
# * an unknown mission and another agent's get the same `404 mission_not_found`; a
#   malformed `mission_s256` is `400 invalid_request`.
