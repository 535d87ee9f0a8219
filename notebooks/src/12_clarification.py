# %% [markdown]
# # 12 · Clarification chat: the person asks the agent
#
# On the consent page of notebook 06 the person had three buttons: Approve, Deny, Not now.
# But a person reading "this agent asks for `supply-chain:optimize`" often has a question
# first — *why? all of it?* — and the agent is not in the room. It only polls its pending
# URL at the Person Server (PS).
#
# Draft -11 "Clarification Chat" turns that pending URL into a channel: "the user may ask
# questions about the agent's stated justification. The PS delivers these questions to the
# agent, and the agent responds."
#
# * the person asks on the consent page; the agent's next poll comes back `202` with
#   `AAuth-Requirement: requirement=clarification` and the question in the body (-11
#   "Clarification Required");
# * the agent must answer with one of three actions (-11 "Agent Response to
#   Clarification"): `POST` a `clarification_response`, `POST` an `updated_request` with a
#   new resource token, or `DELETE` the pending URL to withdraw;
# * the PS bounds the chat (-11 "Clarification Limits") and treats every text in it as
#   untrusted (-11 "Clarification Chat Security", "Untrusted Input").
#
# This notebook plays all three answers, the limits, and then tampers with the chat.

# %%
import json
import re
from concurrent.futures import ThreadPoolExecutor

from aauth_kit import jws, show
from aauth_kit.agent_clarification import UpdatedRequest
from aauth_kit.diagram import SequenceDiagram
from aauth_kit.flow import FlowError
from aauth_kit.headers import parse_requirement
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.problem import error_code
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key
from aauth_kit.waiting import held_poll, wait_until

lab = Lab()
PS, SCA = lab.identifiers["ps"], lab.identifiers["supply_chain"]
ANSWER = "Only the **north** warehouse is short. I will re-plan it alone; nothing gets ordered."


def clarify(clarification):
    """The agent's answer to the person's question (a str: a clarification response)."""
    questions.append(clarification)
    return ANSWER


person = lab.client(source="Person")
login = person.post(f"{PS}/login", json={"username": "mcp-user", "password": "user123"})
person.headers["Authorization"] = f"Bearer {login.json()['session']}"
background = ThreadPoolExecutor(1)  # the agent's flows run here while the cells play the person


def optimize(which):
    """``which`` calls ``POST /optimize`` at the supply-chain agent (it needs the person's consent)."""
    with lab.client(which) as client:
        return client.post(f"{SCA}/optimize", json={})


def persons_turn(flow, interaction):
    """Wait until the agent's poll is held at the PS: the person's turn.  A flow that is over
    (its section ran before, the cell runs again) has nothing left to wait for."""
    if not flow.done():
        held_poll(lab.ps, interaction.code, flow=flow)


lab

# %% [markdown]
# ## 1 · The agent says it can be asked
#
# An agent that can hold a conversation says so: `clarification` among the `capabilities`
# of its token request (-11 "Agent Token Request"; "Agents that support clarification chat
# declare this", -11 "Clarification Chat"). The kit's agent declares it when it is given a
# `clarify` callback. Without it the PS asks the agent nothing — "recipients MUST NOT
# assume any capabilities" (-11 "AAuth-Capabilities Request Header").
#
# The agent calls `POST /optimize`; the person's consent is needed, so the flow stops at the
# PS's `202` and a held poll, as in notebook 06.

# %%
questions = []  # every question the agent's callback is given
agent = lab.new_agent("planner", clarify=clarify)
flow = background.submit(optimize, agent)
interaction = wait_until(lambda: agent.last_interaction, flow=flow, what="the interaction code")
held_poll(lab.ps, interaction.code, flow=flow)
token_request = lab.trace.last(path="/auth-token")
print("capabilities:", token_request.request.json_object()["capabilities"])
pending_url = token_request.response.header("location")
for exchange in lab.trace.exchanges:
    print(show.title(exchange))

# %% [markdown]
# ## 2 · The person asks
#
# The person opens the request by its code (`GET /consent?code=…`) and, instead of
# deciding, asks: `POST /consent/{pending_id}/clarification` with `{"question"}` (on the
# consent page it is the box under the buttons). The answer is the request as it stands,
# with the chat: the question, no answer yet, and how many rounds are left.

# %%
context = person.get(f"{PS}/consent", params={"code": interaction.code}).json()
QUESTION = "Why optimize **every** warehouse? I only worry about the north one."
asked = person.post(f"{PS}/consent/{context['pending_id']}/clarification", json={"question": QUESTION})
print(asked.status_code)
print(json.dumps(asked.json()["clarification"], indent=2))

# %% [markdown]
# ## 3 · The question reaches the agent
#
# The agent's held poll wakes at once and takes the question home. Here it is raw:
# still `202` (the request is pending), but `AAuth-Requirement: requirement=clarification`,
# and the body carries `clarification` — the question, Markdown — and `timeout`, the seconds
# the agent has to answer (-11 "Clarification Required": "The recipient MUST respond before
# this deadline").

# %%
wait_until(lambda: lab.trace.find(method="POST", url=pending_url), flow=flow, what="the agent's answer")
question_poll = next(
    e
    for e in lab.trace.find(method="GET", url=pending_url)
    if "clarification" in e.response.header("aauth-requirement")
)
show.show(question_poll.response, now=lab.clock)

# %% [markdown]
# The kit's agent hands it to its `clarify` callback as a `Clarification`:

# %%
print(questions[0])

# %% [markdown]
# ## 4 · The agent answers
#
# The callback returned text, so the agent POSTs a clarification response to the pending URL
# (-11 "Clarification Response"). The body says what it is — `"action":
# "clarification_response"` — and carries the answer, Markdown. It is signed like every poll,
# with the agent token, `content-digest` covered: only this agent may speak at this URL.

# %%
answer = lab.trace.last(method="POST", url=pending_url)
show.show(answer.request, now=lab.clock)

# %% [markdown]
# The PS's reply is the next poll's `202`: the question is answered, the person is on the
# page again (`requirement=interaction`), and "After posting, the agent resumes polling with
# GET" — here under `Prefer: wait`, so it may come back at once.

# %%
show.show(answer.response, now=lab.clock)

# %% [markdown]
# ## 5 · The person reads the answer and decides
#
# `GET /consent/{pending_id}` shows the request again, with the answer:

# %%
persons_turn(flow, interaction)
chat = person.get(f"{PS}/consent/{context['pending_id']}").json()["clarification"]
print(json.dumps(chat, indent=2))

# %% [markdown]
# Satisfied, the person approves. The held poll wakes with the auth token, and the agent's
# call goes through:

# %%
decision = person.post(f"{PS}/consent/{context['pending_id']}/decision", json={"approved": True})
print("decision →", decision.json())
print("POST /optimize →", flow.result(timeout=60).status_code)

# %% [markdown]
# ## 6 · The whole conversation
#
# The poll that carried the question is highlighted; the agent's answer follows it.

# %%
SequenceDiagram(lab.trace, highlight=question_poll.index + 1, parties=["Agent", "PS", "Person", "Supply chain"])

# %% [markdown]
# ## 7 · The second answer: an updated request
#
# An agent may also change what it asks for (-11 "Updated Request"): it gets a new resource
# token from the resource — say with a smaller scope — and POSTs it with `"action":
# "updated_request"`, the `presented_token` it showed the resource for it (REQUIRED, checked
# against the new token's `presented_jti` just as at the auth token endpoint) and a
# `justification`. The new resource token must keep the original's `iss`, `ps`, `sub`,
# `agent_jkt`, `mission_s256` and `tenant`: same resource, same person, same agent key, same
# mission. Then "The PS presents the updated request to the user."
#
# This agent's callback asks the supply-chain agent for `POST /check` — a narrower scope,
# `supply-chain:check` — with its person token, and hands back the resource token of that
# challenge and the person token it presented.

# %%
def narrower(clarification):
    message = HttpMessage("POST", f"{SCA}/check", [("Content-Type", "application/json")], b"{}")
    person_token = checker.person_token_for(SCA)
    sign_request(message, checker.key, jwt_key(person_token), created=int(lab.clock()))
    challenge = lab.send(message, source="Agent").response
    resource_token = parse_requirement(challenge.header("aauth-requirement")).resource_token
    reason = "Checking the stock is enough; I will not optimize."
    return UpdatedRequest(resource_token, reason, presented_token=person_token)


checker = lab.new_agent("checker", clarify=narrower)
checking = background.submit(optimize, checker)
checks = wait_until(lambda: checker.last_interaction, flow=checking, what="the interaction code")
held_poll(lab.ps, checks.code, flow=checking)
check_context = person.get(f"{PS}/consent", params={"code": checks.code}).json()
print("asked for:", check_context["scope"])
person.post(
    f"{PS}/consent/{check_context['pending_id']}/clarification", json={"question": "Do you need to optimize?"}
)
check_url = lab.trace.last(path="/auth-token").response.header("location")
wait_until(lambda: lab.trace.find(method="POST", url=check_url), flow=checking, what="the updated request")
show.show(lab.trace.last(method="POST", url=check_url).request, now=lab.clock)

# %% [markdown]
# The person now sees the new scope and the agent's reason, and approves that:

# %%
persons_turn(checking, checks)
updated = person.get(f"{PS}/consent/{check_context['pending_id']}").json()
print("now asks for:", updated["scope"], "—", updated["justification"])
person.post(f"{PS}/consent/{check_context['pending_id']}/decision", json={"approved": True})
print("POST /optimize →", checking.result(timeout=60).status_code)
print("the auth token's scope:", jws.decode_unverified(checker.auth_token_for(SCA)).payload["scope"])

# %% [markdown]
# The reduced grant is what the agent holds now. `POST /optimize` needs more, so the
# resource refuses that call (`401`, asking again for `supply-chain:optimize`): the person
# approved less than the call needed — exactly what the agent offered.
#
# ## 8 · The third answer: withdraw
#
# An agent that will not answer withdraws its request: `DELETE` on the pending URL (-11
# "Cancel Request"). The kit's agent does that when its callback returns `None` — and when
# it has no callback at all, since cancelling is the one response it can always give.

# %%
quitter = lab.new_agent("quitter", clarify=lambda clarification: None)
quitting = background.submit(optimize, quitter)
quits = wait_until(lambda: quitter.last_interaction, flow=quitting, what="the interaction code")
held_poll(lab.ps, quits.code, flow=quitting)
quit_context = person.get(f"{PS}/consent", params={"code": quits.code}).json()
person.post(f"{PS}/consent/{quit_context['pending_id']}/clarification", json={"question": "Why now?"})
try:
    quitting.result(timeout=60)
except FlowError as error:
    print("the agent's flow:", error.code, "—", error.detail)
quit_url = lab.trace.last(path="/auth-token").response.header("location")
show.show(lab.trace.last(method="DELETE", url=quit_url), tokens=False)

# %% [markdown]
# "The PS terminates the consent session and informs the user that the agent withdrew its
# request. Subsequent requests to the pending URL return 410 Gone." The person's view, and
# the decision they can no longer make:

# %%
print("status:", person.get(f"{PS}/consent/{quit_context['pending_id']}").json()["status"])
late = person.post(f"{PS}/consent/{quit_context['pending_id']}/decision", json={"approved": True})
print("decision →", late.status_code, late.json()["error"])

# %% [markdown]
# ## 9 · The limits
#
# A chat with a machine could go on forever, and each round holds the person's request
# open. -11 "Clarification Limits": "PSes SHOULD enforce limits on clarification rounds
# (recommended: 5 rounds maximum)"; -11 "Clarification Chat Security" makes a maximum a
# MUST. The kit's PS allows 5 questions per request, 4000 characters per text, and gives
# the agent 120 seconds per answer.
#
# To see them we drive a request by hand — signed requests, no agent logic — for an agent
# that declares `clarification`:

# %%
hand = lab.new_agent("hand")


def signed(method, url, body=None, *, signer=hand, token=None):
    """``method url`` signed by ``signer`` with ``token`` (default its agent token); the answer."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = [("Prefer", "wait=1")] + ([("Content-Type", "application/json")] if body is not None else [])
    message = HttpMessage(method, url, headers, data)
    sign_request(message, signer.key, jwt_key(token or signer.agent_token), created=int(lab.clock()))
    return lab.send(message, source="Agent").response


def new_request(*, opened=True):
    """Person token, resource token, then the auth token request; the person opens it by its
    code through the consent API (``opened``): ``(pending URL, pending id or code)``."""
    person_token = signed("POST", f"{PS}/person-token", {"resource": SCA}).json_object()["person_token"]
    challenge = signed("POST", f"{SCA}/optimize", {}, token=person_token)
    resource_token = parse_requirement(challenge.header("aauth-requirement")).resource_token
    body = {
        "resource_token": resource_token,
        "presented_token": person_token,
        "capabilities": ["interaction", "clarification"],
    }
    deferred = signed("POST", f"{PS}/auth-token", body)
    code = parse_requirement(deferred.header("aauth-requirement")).code
    if not opened:
        return deferred.header("location"), code
    opened_context = person.get(f"{PS}/consent", params={"code": code}).json()
    return deferred.header("location"), opened_context["pending_id"]


def ask(pending_id, question):
    response = person.post(f"{PS}/consent/{pending_id}/clarification", json={"question": question})
    return response.status_code, error_code(response.content)


def reply(url, text="Because."):
    response = signed("POST", url, {"action": "clarification_response", "clarification_response": text})
    return response.status, error_code(response.body)


url, pending_id = new_request()
for n in range(1, 6):
    first, again = ask(pending_id, f"Question {n}?"), ask(pending_id, "And?")
    print(f"question {n}:", first, "  a second one at once:", again, "  answer:", reply(url))
print("question 6:", ask(pending_id, "One more?"))

# %% [markdown]
# Five rounds, then `409 conflict`; a second question while one is open is refused the same
# way. Texts are capped too — a question or answer over 4000 characters is `400
# invalid_request`:

# %%
url, pending_id = new_request()
print("a huge question:", ask(pending_id, "?" * 4001))
print("a fair one:     ", ask(pending_id, "How long will it take?"))
print("a huge answer:  ", reply(url, "x" * 4001))

# %% [markdown]
# And the time: the question's `timeout` is the agent's deadline. While a question is open
# the request expires when the deadline passes; an agent that answers late is told `408
# expired` (-11 "Polling Error Codes"), and the pending URL is gone after.

# %%
lab.clock.advance(121)
print("the late answer:", reply(url))
print("a poll after:   ", signed("GET", url).status)

# %% [markdown]
# ## 10 · Tampering with the chat
#
# **A POST that does not say what it is.** The `action` member is REQUIRED: "A server MUST
# reject a POST with a missing or unrecognized action value with 400 Bad Request."

# %%
tampered_url, tampered_id = new_request()
ask(tampered_id, "Which warehouse?")
print(show.raw(signed("POST", tampered_url, {"clarification_response": "north"}), limit=600))

# %% [markdown]
# **Another agent answers.** The pending URL answers only the agent that made the request
# (-11 "Pending URL Security": "Servers MUST verify the agent's identity on every poll").
# To another agent — even one of the same person — it does not exist:

# %%
intruder = lab.new_agent("intruder")
forged_answer = {"action": "clarification_response", "clarification_response": "Approve it!"}
forged = signed("POST", tampered_url, forged_answer, signer=intruder)
print(forged.status, forged.json_object())

# %% [markdown]
# **An answer with a script in it.** "Clarification responses from agents are untrusted
# input and MUST be sanitized before display" (-11 "Clarification Limits"). The agent's
# answer is Markdown; the consent page shows it as text, escaped, under a content security
# policy that runs no script at all. The person opens a new request's consent page (its
# form carries a CSRF token bound to the session and the request), asks from it, and after
# the agent's answer looks again:

# %%
page_url, code = new_request(opened=False)
consent_page = person.get(f"{PS}/interaction", params={"code": code}).text
form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', consent_page))
person.post(f"{PS}/interaction", data={**form, "decision": "ask", "question": "Which warehouse?"})
print(reply(page_url, "<script>fetch('/consent')</script> The north one."))
page = person.post(f"{PS}/interaction", data={**form, "decision": "refresh"})
chat = page.text.split('<div class="chat">', 1)[1].split("</div>", 1)[0]
print(re.sub(r"<(/?)(p|blockquote)[^>]*>", lambda m: "" if m.group(1) else "\n", chat).strip())
print("content-security-policy:", page.headers["content-security-policy"][:60], "…")

# %% [markdown]
# `&lt;script&gt;`: text, not markup. A forged form — the wrong CSRF token — is refused
# before anything is asked:

# %%
forged_form = person.post(f"{PS}/interaction", data={**form, "csrf": "x", "decision": "ask", "question": "?"})
print(forged_form.status_code, forged_form.json()["error"])

# %% [markdown]
# ## 11 · Exercises
#
# The graders use agents of their own against this lab.
#
# **Q1 · Answer the person's question.** Write `answer_body(poll)`: given the JSON body of
# a poll that came back `202` with `requirement=clarification`, return the JSON body (a dict)
# the agent POSTs to its pending URL to answer it. The grader asks a real question, POSTs
# your body signed as its agent, and checks that the person sees the answer.

# %%
from aauth_kit.exercises import nb12

ex = nb12.bind(lab)


def answer_body(poll):
    ...  # your code here: return the dict to POST


ex.q1.check(answer_body)

# %% [markdown]
# **Q2 · What does the PS answer?** For each request, predict `(status, error code)`. The
# grader sends all four and compares.

# %%
answers = {
    'the agent POSTs {"clarification_response": "…"} (no action) to its pending URL': None,
    "another agent POSTs a clarification_response to this agent's pending URL": None,
    "the person asks a sixth question about the same request (five were asked and answered)": None,
    "the agent polls its pending URL after it cancelled the request with DELETE": None,
}

ex.q2.check(answers)

# %% [markdown]
# Hints: `ex.q1.hint()`, `ex.q2.hint()` (`hint(2)` says more); solutions: `ex.q1.solution()`,
# `ex.q2.solution()`.

# %% [markdown]
# ## What to remember
#
# * during consent the person may ask; the agent's poll gets `202` with
#   `requirement=clarification` and `{"status", "clarification", "timeout", "options"?}`;
# * the agent MUST answer with one of three: `POST {"action": "clarification_response", …}`,
#   `POST {"action": "updated_request", "resource_token", "presented_token", "justification"?}`
#   (the same `iss`, `ps`, `sub`, `agent_jkt`, `mission_s256` and `tenant`, and the token shown
#   for it), or `DELETE` — then resumes polling, or is done;
# * a POST without a known `action` is `400`; the pending URL answers its own agent only
#   (`404` to others); after a cancel it is gone (`410`);
# * the PS bounds the chat — rounds (5), text sizes, the answer's deadline (`408 expired`) —
#   and shows every text escaped: the agent's answer is untrusted input;
# * an agent declares `clarification` in its `capabilities` to be asked at all; the person
#   may also answer a mission's completion with a question, and the mission stays active
#   (-11 "Mission Completion").
