"""The notebook widgets (aauth_kit.widgets), driven headless with ``button.click()``.

Everything they show is real: tokens minted with aauth_kit.tokens, requests signed with
profile.sign_request, and traffic between a real Person Server, a real resource and a
real agent over runtime.Hosts (ASGI mode; one flow also over loopback sockets).  The
widgets' state and HTML are asserted, hostile strings included.  In Jupyter clicks
cannot reach a running cell, so consent is given while the flow runs on the loop thread.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from aauth_kit.servers.ps import PersonServer
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from aauth_kit import httpsig, jws, tokens
from aauth_kit.agent import Agent
from aauth_kit.consent_policy import ConsentPolicy
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.loop import get_loop_thread
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.resource import Resource
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import hwk_key, jwt_key
from aauth_kit.trace import Trace
from aauth_kit.widgets import ConsentPanel, FlowRunner, MessageInspector, SequenceView, TokenInspector

PS = "https://ps.example"
FILES = "https://files.example"
NOW = 1_790_000_000
HANG_GUARD = 60  # seconds: only ever a guard against hangs, never a timing assertion
HOSTILE = '<script>alert("x")</script>'
DESCRIPTIONS = {"files:read": "Read your files.", "files:delete": "Delete <b>all</b> your files."}


def wait_until(condition, what: str):
    """Poll ``condition`` until it is truthy (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def assert_escaped(html: str) -> None:
    """No hostile markup survives: the script tag appears only as text."""
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html


# -- a small real world: PS + resource + agent -----------------------------------------------
async def read_files(request):
    return JSONResponse({"files": ["notes.txt"], "for": request.state.caller.person[1]})


async def delete_files(request):
    return JSONResponse({"deleted": 1})


class World:
    """The Person Server (consent for ``files:delete``) and a files resource, on one Hosts network."""

    def __init__(self, data_dir, mode: str = "asgi"):
        self.hosts = Hosts(mode)
        resolver = HttpResolver(self.hosts.fetch())
        self.trace = Trace(names={PS: "PS", FILES: "Files"})
        self.ps = PersonServer(
            PS,
            key=Key.from_seed("widgets ps", kid="ps-1"),
            resolver=resolver,
            data_dir=data_dir,
            policy=ConsentPolicy(scopes=["files:delete"], prefixes=[]),
        )
        self.hosts.add(PS, self.ps.app)
        self.files = Resource(
            FILES,
            key=Key.from_seed("widgets files", kid="files-1"),
            resolver=resolver,
            name="Files",
            scope_descriptions=DESCRIPTIONS,
        )
        self.hosts.add(
            FILES,
            self.files.app(
                [
                    self.files.route("/files", read_files, scope="files:read"),
                    self.files.route("/files/delete", delete_files, methods=("POST",), scope="files:delete"),
                ]
            ),
        )

    def agent(self, name: str = "Notebook", **options) -> Agent:
        key = Key.from_seed(f"widgets agent {name}")
        token = self.ps.issue_agent_token("notebook", key, name=name)
        return Agent(key, token, **options)

    def flow(self, agent: Agent, method: str = "GET", path: str = "/files"):
        async def flow():
            async with self.hosts.async_client(
                auth=agent.auth(), event_hooks=self.trace.event_hooks("Agent"), timeout=HANG_GUARD
            ) as client:
                return await client.request(method, f"{FILES}{path}")

        return flow

    def stop(self):
        self.hosts.stop()
        self.ps.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.stop()


@pytest.fixture
def keys():
    return {
        "ps": Key.from_seed("tokens ps", kid="ps-1"),
        "agent": Key.from_seed("tokens agent"),
        "files": Key.from_seed("tokens files", kid="files-1"),
    }


def minted(keys) -> dict[str, str]:
    """One token of each -11 type, issued at NOW."""
    person = tokens.mint_person_token(
        keys["ps"], iss=PS, aud=FILES, sub="pairwise-1", cnf=keys["agent"], iat=NOW, jti="person-1"
    )
    return {
        "agent": tokens.mint_agent_token(
            keys["ps"], iss=PS, sub="aauth:notebook@ps.example", cnf=keys["agent"], iat=NOW, jti="agent-1"
        ),
        "person": person,
        "resource": tokens.mint_resource_token(
            keys["files"],
            iss=FILES,
            aud=PS,
            ps=PS,
            sub="pairwise-1",
            presented_jti="person-1",
            agent_jkt=keys["agent"],
            scope="files:read",
            iat=NOW,
            jti="resource-1",
        ),
        "auth": tokens.mint_auth_token(
            keys["ps"],
            iss=PS,
            aud=FILES,
            ps=PS,
            sub="pairwise-1",
            cnf=keys["agent"],
            scope="files:read",
            iat=NOW,
            jti="auth-1",
        ),
    }


# -- no Jupyter outside aauth_kit.widgets ------------------------------------------------------
def test_the_kit_imports_without_jupyter():
    """Only aauth_kit.widgets imports ipywidgets; every other module works without it."""
    script = (
        "import importlib, pkgutil, sys, aauth_kit, aauth_kit.servers\n"
        "names = [f'{package.__name__}.{m.name}' for package in (aauth_kit, aauth_kit.servers)"
        " for m in pkgutil.iter_modules(package.__path__) if m.name != 'widgets']\n"
        "[importlib.import_module(n) for n in names]\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'IPython', 'ipykernel'))\n"
        "print(len(names), leaked)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    count, leaked = run.stdout.split(" ", 1)
    assert int(count) > 10 and leaked.strip() == "[]"


# -- TokenInspector ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, typ, words",
    [
        ("agent", "aa-agent+jwt", "an agent token"),
        ("person", "aa-person+jwt", "a person token"),
        ("resource", "aa-resource+jwt", "a resource token"),
        ("auth", "aa-auth+jwt", "an auth token"),
    ],
)
def test_token_inspector_explains_each_token_type_and_verifies_it(keys, kind, typ, words):
    """-11 "Agent Token Structure" and its siblings: typ explained first, every header member and
    claim on one line, times in words; verified with the issuer's key (the token verification
    sections, e.g. "Agent Token Verification")."""
    token = minted(keys)[kind]
    issuer = keys["files"] if kind == "resource" else keys["ps"]
    inspector = TokenInspector(token, jwks=issuer, now=NOW + 60)
    assert inspector.status.valid and inspector.typ == typ
    html = inspector.view.value
    assert f"{typ} is {words}" in html
    for section_title in ("Header", "Payload", "Signature"):
        assert f">{section_title}</summary>" in html
    decoded = jws.decode_unverified(token)
    for name in [*decoded.header, *decoded.payload]:
        assert f">{name}</td>" in html
    assert "2026-09-21 14:13:20 UTC (1 minute ago)" in html  # iat, seen a minute later
    assert "lifetime (exp - iat)" in html
    assert ("cnf.jwk thumbprint (RFC 7638, SHA-256): " + keys["agent"].thumbprint() in html) == (
        kind != "resource"
    )
    assert "aauth-badge aauth-ok" in html and ">valid<" in html
    assert repr(inspector) == f"<TokenInspector: {typ}, valid>"


def test_token_inspector_selects_the_key_from_a_jwks_and_check_again_sees_expiry(keys):
    """-11 "Agent Token Verification": exp allows no tolerance; "Check again" re-reads the clock."""
    token = minted(keys)["auth"]
    clock = [NOW]
    inspector = TokenInspector(token, jwks=jwks([keys["files"], keys["ps"]]), now=lambda: clock[0])
    assert inspector.status.valid
    clock[0] = NOW + 3600  # exp: "exp is not strictly after now"
    inspector.check_button.click()
    assert (inspector.status.state, inspector.status.code) == ("invalid", "expired_jwt")
    assert "expired_jwt" in inspector.view.value and "aauth-badge aauth-error" in inspector.view.value
    assert "(now)" in inspector.view.value  # exp in words, relative to the new clock


def test_token_inspector_names_the_failing_check(keys):
    token = minted(keys)["agent"]
    wrong_key = TokenInspector(token, jwks=keys["files"].public_jwk(), now=NOW)
    assert (wrong_key.status.state, wrong_key.status.code) == ("invalid", "invalid_jwt")
    unknown_kid = TokenInspector(token, jwks=jwks([keys["files"], keys["agent"]]), now=NOW)
    assert unknown_kid.status.code == "unknown_key"
    unusable = TokenInspector(token, jwks={"kty": "RSA", "n": "AQAB", "e": "AQAB"}, now=NOW)
    assert unusable.status.code == "unsupported_algorithm"  # -11 "Signature Algorithms": alg required
    unverified = TokenInspector(token, now=NOW)
    assert unverified.status.state == "unverified" and "not verified" in unverified.view.value


def test_token_inspector_shows_garbage_without_raising():
    inspector = TokenInspector(f"{HOSTILE}.x.y")
    assert (inspector.status.state, inspector.status.code) == ("malformed", "invalid_jwt")
    assert repr(inspector) == "<TokenInspector: not a JWT, not a JWT>"
    assert_escaped(inspector.view.value)


def test_token_inspector_escapes_hostile_claims(keys):
    token = tokens.mint_agent_token(
        keys["ps"],
        iss=PS,
        sub="aauth:notebook@ps.example",
        cnf=keys["agent"],
        iat=NOW,
        extra={"note": HOSTILE, HOSTILE: 1},
    )
    html = TokenInspector(token, jwks=keys["ps"], now=NOW).view.value
    assert_escaped(html)
    assert "not an AAuth claim; verifiers ignore it" in html


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
claims = st.dictionaries(
    st.sampled_from(["iss", "sub", "aud", "exp", "iat", "cnf", "scope", "dwk", HOSTILE]),
    json_values,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    header=st.fixed_dictionaries(
        {
            "typ": st.sampled_from(["aa-agent+jwt", "aa-auth+jwt", "JWT"]) | json_values,
            "alg": st.sampled_from(["Ed25519", "EdDSA", "none"]) | json_values,
        },
        optional={"kid": json_values, "crit": json_values},
    ),
    payload=claims,
)
def test_token_inspector_never_raises_on_any_signed_json(header, payload):
    """Whatever an issuer signed, the inspector names the failing check instead of raising."""
    key = Key.from_seed("fuzz issuer", kid="fuzz")
    token = jws.sign_compact(header, payload, key)
    inspector = TokenInspector(token, jwks=key, now=NOW)
    assert inspector.status.state in ("valid", "invalid")
    assert "<script" not in inspector.view.value.lower()


def test_widgets_carry_a_stable_html_snapshot_for_viewers_without_a_kernel(keys):
    """nbval skips the widget view and compares text/plain and text/html,
    so both are deterministic — the same token at the same time gives the same bytes."""
    token = minted(keys)["person"]
    first = TokenInspector(token, jwks=keys["ps"], now=NOW)._repr_mimebundle_()
    second = TokenInspector(token, jwks=keys["ps"], now=NOW)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in first
    assert first["text/plain"] == second["text/plain"] == "<TokenInspector: aa-person+jwt, valid>"
    assert first["text/html"] == second["text/html"]
    assert "<style" not in first["text/html"]


# -- MessageInspector -------------------------------------------------------------------------
def signed_request(keys, body: bytes = b'{"name": "notes.txt"}') -> HttpMessage:
    message = HttpMessage(
        method="POST", target_uri=f"{FILES}/files?page=2", headers=[("Host", "files.example")], body=body
    )
    sign_request(message, keys["agent"], jwt_key(minted(keys)["agent"]), created=NOW)
    return message


def test_message_inspector_shows_the_signature_base_and_marks_covered_components(keys):
    """RFC 9421 §2.5: the base the signer signed, rebuilt; AAuth profile: @method,
    @authority, @path, content-type, content-digest and signature-key covered."""
    message = signed_request(keys)
    inspector = MessageInspector(message, now=NOW + 5)
    sig = httpsig.read_signature(message)
    assert inspector.base == httpsig.signature_base(message, sig.params)
    assert inspector.covered == [
        '"@method"',
        '"@authority"',
        '"@path"',
        '"content-type"',
        '"content-digest"',
        '"signature-key"',
    ]
    html = inspector.view.value
    marked = re.findall(r'title="covered as ([^"]+)"', html)
    # request line, then each covered field's name and value, in header order
    assert marked == [
        "@method",
        "@path",
        "@authority",
        "signature-key",
        "signature-key",
        "content-digest",
        "content-digest",
        "content-type",
        "content-type",
    ]
    assert "?page=2" in html and 'title="covered as @query"' not in html  # the query is not covered
    assert 'title="covered through content-digest"' in html
    assert "created=1790000000" in html and "(5 seconds ago)" in html
    assert "signature matches" in html
    assert "aa-agent+jwt is an agent token" in html  # Signature-Key: sig=jwt, typ explained
    assert inspector.tokens == {"signature-key": minted(keys)["agent"]}
    assert repr(inspector) == "<MessageInspector: Request, 6 covered components>"


def test_message_inspector_finds_a_tampered_body_and_escapes_it(keys):
    """RFC 9530: the covered Content-Digest no longer matches the body → invalid_signature."""
    message = signed_request(keys)
    message.body = json.dumps({"name": HOSTILE}).encode()
    message.headers.append(("X-Note", HOSTILE))
    html = MessageInspector(message, now=NOW).view.value
    assert "aauth-badge aauth-error" in html and "invalid_signature" in html
    assert "Content-Digest sha-256 does not match the body" in html
    assert "signature matches" not in html
    assert_escaped(html)


def test_message_inspector_checks_an_hwk_signature_and_a_changed_header(keys):
    """Signature Keys -09 "Header Web Key (hwk)": an hwk key is the key; changing a covered component breaks the signature."""
    message = HttpMessage(method="GET", target_uri=f"{FILES}/files", headers=[("Host", "files.example")])
    sign_request(message, keys["agent"], hwk_key(keys["agent"]), created=NOW)
    assert "signature matches" in MessageInspector(message, now=NOW).view.value
    message.method = "DELETE"
    html = MessageInspector(message, now=NOW).view.value
    assert "invalid_signature" in html and "a bare public key" in html


def test_message_inspector_decodes_the_challenge_ladder_and_the_token_response(world):
    """-11 "Requirement Responses" as the resource sends them: person-token, then
    auth-token with a resource token; the PS's token response carries the auth token."""
    agent = world.agent()
    with world.hosts.client(
        auth=agent.auth(), event_hooks=world.trace.sync_event_hooks("Agent"), timeout=HANG_GUARD
    ) as client:
        response = client.get(f"{FILES}/files")
    assert response.status_code == 200
    by_summary = {exchange.summary(): exchange for exchange in world.trace.exchanges}
    person = MessageInspector(by_summary["GET /files → 401 (requirement=person-token)"])
    assert ">person-token<" in person.view.value and "get a person token" in person.view.value
    challenge = MessageInspector(by_summary["GET /files → 401 (requirement=auth-token)"])
    html = challenge.view.value
    assert "take the resource token to the PS auth token endpoint" in html
    assert "aa-resource+jwt is a resource token" in html and "files:read" in html
    assert set(challenge.tokens) == {"signature-key", "resource-token"}
    token_response = MessageInspector(by_summary["POST /auth-token → 200"])
    assert {"signature-key", "resource_token", "presented_token", "auth_token"} <= set(token_response.tokens)
    assert "aa-auth+jwt is an auth token" in token_response.view.value
    assert token_response.title == f"{token_response.exchange.index + 1}. Agent → PS"
    assert TokenInspector(token_response.tokens["auth_token"]).typ == "aa-auth+jwt"


def test_message_inspector_decodes_signature_error_with_required_input(world, keys):
    """Signature Keys -09 "Error Codes": a signature missing required components is invalid_input with required_input."""
    message = HttpMessage(method="GET", target_uri=f"{FILES}/files", headers=[("Host", "files.example")])
    sign_request(
        message,
        keys["agent"],
        jwt_key(minted(keys)["agent"]),
        components=["@method", "signature-key"],
        created=int(time.time()),
    )
    with world.hosts.client(event_hooks=world.trace.sync_event_hooks("Agent"), timeout=HANG_GUARD) as client:
        response = client.get(f"{FILES}/files", headers=message.headers[1:])
    assert response.status_code == 401
    html = MessageInspector(world.trace.exchanges[-1]).view.value
    assert ">invalid_input<" in html and "does not cover every required component" in html
    assert "required_input" in html and "@authority" in html


# header values a peer might send: printable ASCII with the structured-field punctuation
field_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120) | st.sampled_from(
    [
        'sig=("@method" "@nope");created=1',
        "sig=:AAAA:",
        'sig=jwt;jwt="a.b.c"',
        'sig=hwk;kty="OKP"',
        "requirement=interaction",
        'requirement=auth-token;resource-token="x"',
        "error=invalid_input",
        "wait=abc",
    ]
)
AAUTH_FIELDS = (
    "Signature-Input",
    "Signature",
    "Signature-Key",
    "AAuth-Requirement",
    "AAuth-Challenge",
    "Signature-Error",
    "Prefer",
    "Retry-After",
    "Content-Digest",
    "Content-Type",
)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(st.sampled_from(AAUTH_FIELDS), field_text, max_size=6),
    status=st.sampled_from([None, 200, 202, 401, 403]),
    body=st.binary(max_size=200) | st.just(b'{"x_token": "a.b"}'),
)
def test_message_inspector_never_raises_on_what_a_peer_sends(fields, status, body):
    """Bad input is shown with the draft's code, never a traceback."""
    message = HttpMessage(
        method="POST" if status is None else "",
        target_uri=f"{FILES}/x" if status is None else "",
        headers=[("Host", "files.example"), *fields.items(), ("X-Evil", HOSTILE)],
        body=body,
        status=status,
    )
    html = MessageInspector(message, now=NOW).view.value
    assert "<script" not in html.lower()


# -- ConsentPanel, FlowRunner: the consent flow --------------------------------------------------
def test_flow_runner_and_consent_panel_play_the_consent_flow(world):
    """Seed step 6 / -11 "Deferred Responses": the flow runs on the loop thread and waits
    at the PS (202 + interaction code, held poll); Approve in the panel wakes it; the
    retried request succeeds."""
    runner = FlowRunner(
        world.flow(
            agent := world.agent(
                justification=f"Clean up {HOSTILE}",
                wait=30,
                on_interaction=lambda interaction: runner.report(
                    f"enter {interaction.code} at {interaction.url}"
                ),
            ),
            "POST",
            "/files/delete",
        ),
        trace=world.trace,
        title="Delete files",
    )
    assert runner.state == "idle" and "Press Run" in runner.view.value
    runner.run_button.click()
    assert runner.run() is runner.future  # a second click does not start a second run
    (code,) = wait_until(world.ps.pending_codes, "the pending request")
    wait_until(lambda: runner.notes, "the interaction callback")
    assert runner.notes == [f"enter {code} at {PS}/interaction"]
    assert runner.state == "running" and runner.run_button.disabled

    panel = ConsentPanel(world.ps)
    assert panel.code == code and panel.live
    html = panel.view.value
    assert "aauth:notebook@ps.example (Notebook)" in html and "asks for access to a resource" in html
    assert "https://files.example (Files)" in html and "files:delete" in html
    assert_escaped(html)  # the justification
    assert "Delete &lt;b&gt;all&lt;/b&gt; your files." in html  # the resource's scope description
    panel.approve_button.click()
    # the held poll wakes at once and may already have collected the token ("completed")
    assert panel.outcome == "approved" and panel.pending.status in ("approved", "completed")
    assert panel.approve_button.disabled and panel.deny_button.disabled
    assert "mcp-user approved this request" in panel.view.value

    response = runner.future.result(timeout=HANG_GUARD)
    assert response.status_code == 200 and response.json() == {"deleted": 1}
    assert runner.state == "done" and runner.result is response and not runner.run_button.disabled
    html = runner.view.value
    assert f"202 interaction code {code}" in html
    assert "POST /files/delete with auth token → 200 OK" in html
    assert "200 OK\n{&quot;deleted&quot;:1}" in html
    assert "<svg" in html and 'class="step current"' in html  # the run's own diagram, last step current
    assert [e.index for e in runner.exchanges] == sorted(e.index for e in runner.exchanges)
    assert agent.auth_token_for(FILES)
    panel.refresh_button.click()  # nothing else is waiting: the decided request stays on view
    assert panel.pending.status == "completed" and "completed" in panel.view.value


def test_deny_ends_the_flow_with_the_draft_code(world):
    """-11 "Polling Error Codes": a denied request ends the poll with 403 denied."""
    runner = FlowRunner(world.flow(world.agent(wait=30), "POST", "/files/delete"), trace=world.trace)
    future = runner.run()
    wait_until(world.ps.pending_codes, "the pending request")
    panel = ConsentPanel(world.ps)
    panel.deny_button.click()
    assert panel.outcome == "denied"
    with pytest.raises(Exception) as raised:
        future.result(timeout=HANG_GUARD)
    assert getattr(raised.value, "code", None) == "denied"
    assert runner.state == "failed" and runner.error is raised.value
    assert ">failed: denied<" in runner.view.value
    assert repr(runner).startswith("<FlowRunner 'Flow': failed, ")


def test_consent_panel_reports_a_decision_made_elsewhere(world):
    """A second decision is refused (409 conflict at the consent API): the panel shows it."""
    runner = FlowRunner(world.flow(world.agent(wait=30), "POST", "/files/delete"), trace=world.trace)
    future = runner.run()
    (code,) = wait_until(world.ps.pending_codes, "the pending request")
    panel = ConsentPanel(world.ps, code)
    world.ps.decide(code, True)  # e.g. on the consent page
    panel.deny_button.click()
    assert panel.outcome is None and panel.error.code == "conflict"
    assert panel.pending.status in ("approved", "completed")  # as decided elsewhere (the poll may have woken)
    assert ">conflict<" in panel.view.value and f">{panel.pending.status}<" in panel.view.value
    assert future.result(timeout=HANG_GUARD).status_code == 200


def test_a_consent_panel_follows_a_decision_made_elsewhere_without_a_click(world):
    """A panel left on view while a later cell approves through the REST API (notebook 06)
    shows the final state by itself, its Approve and Deny dead, and stops looking."""
    future = FlowRunner(world.flow(world.agent(wait=30), "POST", "/files/delete"), trace=world.trace).run()
    (code,) = wait_until(world.ps.pending_codes, "the pending request")
    panel = ConsentPanel(world.ps, code)
    assert panel.live and not panel.approve_button.disabled and ">pending<" in panel.view.value
    world.ps.decide(code, True)  # e.g. on the consent page
    wait_until(lambda: panel.approve_button.disabled, "the panel to see the decision")
    assert panel.deny_button.disabled and not panel.live
    assert panel.pending.status in ("approved", "completed")
    html = panel.view.value
    assert "mcp-user decided elsewhere" in html and "Consent: aauth:notebook@ps.example asked" in html
    wait_until(lambda: not panel._watching, "the panel to stop looking")
    assert future.result(timeout=HANG_GUARD).status_code == 200


def test_a_closed_panel_or_a_closed_ps_ends_the_watch(world):
    future = FlowRunner(world.flow(world.agent(wait=30), "POST", "/files/delete"), trace=world.trace).run()
    (code,) = wait_until(world.ps.pending_codes, "the pending request")
    closed, orphan = ConsentPanel(world.ps, code), ConsentPanel(world.ps, code)
    assert closed._watching and orphan._watching
    closed.close()
    wait_until(lambda: not closed._watching, "a closed panel to stop looking")
    world.ps.decide(code, True)
    assert future.result(timeout=HANG_GUARD).status_code == 200
    wait_until(lambda: not orphan._watching, "the panel to stop looking")


def test_consent_panel_with_nothing_pending_and_refresh(world):
    panel = ConsentPanel(world.ps)
    assert panel.pending is None and panel.approve_button.disabled
    assert "No request is waiting" in panel.view.value and repr(panel) == "<ConsentPanel: nothing pending>"
    unknown = ConsentPanel(world.ps, "ABCD-EFGH")
    assert unknown.error.code == "invalid_code" and ">invalid_code<" in unknown.view.value
    future = FlowRunner(world.flow(world.agent(wait=30), "POST", "/files/delete"), trace=world.trace).run()
    (code,) = wait_until(world.ps.pending_codes, "the pending request")
    panel.refresh_button.click()
    assert panel.code == code and panel.live and not panel.approve_button.disabled
    assert repr(panel) == "<ConsentPanel: auth_token from aauth:notebook@ps.example, pending>"
    panel.approve()
    assert future.result(timeout=HANG_GUARD).status_code == 200


def test_flow_runner_runs_a_sync_flow_over_sockets(tmp_path):
    """A plain callable runs in a worker thread, so a sync client works (its transport
    submits to the loop thread); here over real loopback sockets, no consent needed."""
    world = World(tmp_path, mode="socket")
    try:
        agent = world.agent()

        def flow():
            with world.hosts.client(
                auth=agent.auth(), event_hooks=world.trace.sync_event_hooks("Agent"), timeout=HANG_GUARD
            ) as client:
                return client.get(f"{FILES}/files").json()

        runner = FlowRunner(flow, trace=world.trace)
        result = runner.run().result(timeout=HANG_GUARD)
        assert result["files"] == ["notes.txt"]
        assert runner.state == "done" and runner.result == result
        assert [exchange.summary() for exchange in runner.exchanges][-1] == "GET /files → 200"
        assert "&quot;files&quot;: [\n    &quot;notes.txt&quot;" in runner.view.value
        before = len(world.trace.exchanges)
        runner.run_button.click()  # again: the cached auth token goes straight through
        assert runner.future.result(timeout=HANG_GUARD) == result
        (again,) = runner.exchanges  # only this run's exchanges, numbered from 1 for this run
        assert again.index == before > 0
        html = runner.view.value
        assert (
            "<li>Agent → Files: GET /files with auth token → 200 OK</li>" in html and "<li value" not in html
        )
        assert 'data-step="1"' in html and f'data-step="{before + 1}"' not in html
    finally:
        world.stop()


def test_flow_runner_shows_unexpected_errors_without_raising_into_the_view(world):
    def flow():
        raise ValueError(HOSTILE)

    runner = FlowRunner(flow, trace=world.trace)
    with pytest.raises(ValueError):
        runner.run().result(timeout=HANG_GUARD)
    assert runner.state == "failed" and ">failed: ValueError<" in runner.view.value
    assert_escaped(runner.view.value)


# -- SequenceView -------------------------------------------------------------------------------
def unsigned_get(hosts, trace, source="Agent"):
    """One more exchange on the trace (401 requirement=agent-token)."""
    with hosts.client(event_hooks=trace.sync_event_hooks(source), timeout=HANG_GUARD) as client:
        assert client.get(f"{FILES}/files").status_code == 401


def test_sequence_view_follows_the_trace_and_steps_through_it(world):
    """The diagram is drawn from the traffic that flowed, and redraws (from the
    loop thread, by trait assignment) as each exchange completes."""
    view = SequenceView(world.trace, title="Files")
    assert view.step is None and "No exchanges yet" in view.caption.value
    assert view.previous_button.disabled and view.next_button.disabled
    get_loop_thread().run(
        world.flow(world.agent())(), timeout=HANG_GUARD
    )  # async client: hooks on the loop thread
    count = len(world.trace.exchanges)
    assert count >= 5 and view.step == count  # followed every new step
    assert f"Step {count} of {count}" in view.caption.value and "→ 200 OK" in view.caption.value
    assert f'data-step="{count}" aria-current="step"' in view.drawing.value

    view.previous_button.click()
    assert view.step == count - 1 and not view.follow
    assert f'data-step="{count - 1}" aria-current="step"' in view.drawing.value
    for _ in range(count + 2):
        view.previous_button.click()
    assert view.step == 1 and view.previous_button.disabled
    assert "Step 1 of" in view.caption.value

    unsigned_get(world.hosts, world.trace)
    assert view.step == 1  # not following: a new exchange does not move the highlight
    for _ in range(count + 2):
        view.next_button.click()
    assert view.step == count + 1 and view.follow and view.next_button.disabled

    view.mermaid_toggle.value = True
    (output,) = view.mermaid_output.outputs
    assert output["data"]["text/vnd.mermaid"].startswith('---\ntitle: "Files"\n---\nsequenceDiagram')
    assert view.drawing.layout.display == "none" and view.mermaid_output.layout.display is None
    assert "<pre" in view.to_html() and "<svg" not in view.to_html()
    view.mermaid_toggle.value = False
    assert view.mermaid_output.layout.display == "none" and "<svg" in view.to_html()

    view.close()
    unsigned_get(world.hosts, world.trace)
    assert view.step == count + 1  # closed: no longer following the trace


def test_sequence_view_escapes_hostile_party_names(world):
    trace = Trace(names={FILES: HOSTILE})
    view = SequenceView(trace)
    unsigned_get(world.hosts, trace, f"Agent {HOSTILE}")
    assert_escaped(view.caption.value)
    assert "<script" not in view.drawing.value.lower()
    assert repr(view) == "<SequenceView: 1 step, highlighted 1>"
