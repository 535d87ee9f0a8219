"""The sequence diagram (every exchange is traced): a trace
drawn as deterministic SVG, with AAuth labels, a highlighted step and ``to_mermaid()``.

The flow traced here is -11 "PS Authorization Access (Three-Party)" with "User
Interaction" in miniature, over real HTTP through
``runtime.Hosts`` with real signatures and real tokens: the resource answers
``401 requirement=auth-token`` with a resource token, the PS answers the auth-token
request ``202`` with an interaction code, the pending URL answers ``200`` with the
auth token, and the resource serves the retry.
"""

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aauth_kit import jws, tokens
from aauth_kit.claims import AUTH_TYP
from aauth_kit.diagram import BADGE_PAD, CHAR_W, MARGIN, MAX_LABEL, MAX_WIDTH, SequenceDiagram, label_for
from aauth_kit.errors import SignatureError, UsageError
from aauth_kit.headers import serialize_requirement
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import hwk_key, jwks_uri_key, jwt_key, parse_signature_key
from aauth_kit.trace import Exchange, Trace

SVG = "{http://www.w3.org/2000/svg}"
NOW = 1_760_000_000
RESOURCE, PS = "https://resource.example", "https://ps.example"
PENDING_ID = "Qx7pZ2mK9vR4tY8w"  # looks like secrets.token_urlsafe: drawn as "…"

AP_KEY = Key.from_seed("diagram-ap", kid="ap-1")
PS_KEY = Key.from_seed("diagram-ps", kid="ps-1")
RESOURCE_KEY = Key.from_seed("diagram-resource", kid="r-1")
AGENT_KEY = Key.from_seed("diagram-agent")

AGENT_TOKEN = tokens.mint_agent_token(
    AP_KEY, iss="https://ap.example", sub="aauth:backend@ap.example", cnf=AGENT_KEY, iat=NOW, jti="agent-1"
)
PERSON_TOKEN = tokens.mint_person_token(
    PS_KEY, iss=PS, aud=RESOURCE, sub="person-1", cnf=AGENT_KEY, iat=NOW, jti="person-1"
)
RESOURCE_TOKEN = tokens.mint_resource_token(
    RESOURCE_KEY,
    iss=RESOURCE,
    aud=PS,
    ps=PS,
    sub="person-1",
    presented_jti="person-1",
    agent_jkt=AGENT_KEY,
    scope="data.read",
    iat=NOW,
    jti="resource-1",
)
AUTH_TOKEN = tokens.mint_auth_token(
    PS_KEY,
    iss=PS,
    aud=RESOURCE,
    ps=PS,
    sub="person-1",
    cnf=AGENT_KEY,
    scope="data.read",
    iat=NOW,
    jti="auth-1",
)

FLOW_LABELS = [
    ("GET /data with agent token", "401 requirement=auth-token with resource token"),
    ("POST /auth-token with agent token (Prefer: wait=30)", "202 interaction code ABCD-EFGH"),
    ("GET /pending/… with agent token (Prefer: wait=30)", "200 auth_token"),
    ("GET /data with auth token", "200 OK"),
]


# -- the cast in miniature ---------------------------------------------------------------
def presented_typ(request: Request) -> str | None:
    value = request.headers.get("signature-key")
    if value is None:
        return None
    return jws.decode_unverified(parse_signature_key(value, "sig").jwt).header["typ"]


async def data(request):
    if presented_typ(request) == AUTH_TYP:
        return Response(b"the data", media_type="text/plain")
    challenge = serialize_requirement("auth-token", resource_token=RESOURCE_TOKEN)
    return Response(status_code=401, headers={"AAuth-Requirement": challenge})


async def auth_token(request):
    interaction = serialize_requirement("interaction", url=f"{PS}/interaction", code="ABCD-EFGH")
    return JSONResponse(
        {"status": "pending"},
        status_code=202,
        headers={
            "Location": f"/pending/{PENDING_ID}",
            "Retry-After": "0",
            "Cache-Control": "no-store",
            "AAuth-Requirement": interaction,
        },
    )


async def pending(request):
    return JSONResponse({"auth_token": AUTH_TOKEN, "expires_in": 3600})


RESOURCE_APP = Starlette(routes=[Route("/data", data)])
PS_APP = Starlette(
    routes=[
        Route("/auth-token", auth_token, methods=["POST"]),
        Route("/pending/{id}", pending),
    ]
)


def signed(client, method: str, url: str, token: str, *, body: bytes = b"", headers=()):
    """Send a request signed with the agent key, presenting ``token`` (Signature Keys -09 "JWT Confirmation Key (jwt)")."""
    message = HttpMessage(method, url, list(headers), body)
    sign_request(message, AGENT_KEY, jwt_key(token), created=NOW)
    return client.request(method, url, headers=message.headers, content=body)


def run_flow(mode: str) -> Trace:
    """The four exchanges of the consent flow, traced with an injected clock."""
    trace = Trace(names={RESOURCE: "Resource", PS: "PS"}, clock=iter(range(100)).__next__)
    with Hosts(mode) as hosts:
        hosts.add(RESOURCE, RESOURCE_APP)
        hosts.add(PS, PS_APP)
        with hosts.client(event_hooks=trace.sync_event_hooks("Agent"), timeout=30) as client:
            assert signed(client, "GET", f"{RESOURCE}/data", AGENT_TOKEN).status_code == 401
            wait = [("Prefer", "wait=30")]
            body = json.dumps({"resource_token": RESOURCE_TOKEN, "presented_token": PERSON_TOKEN}).encode()
            started = signed(client, "POST", f"{PS}/auth-token", AGENT_TOKEN, body=body, headers=wait)
            assert started.status_code == 202
            polled = signed(client, "GET", f"{PS}{started.headers['location']}", AGENT_TOKEN, headers=wait)
            assert polled.json()["auth_token"] == AUTH_TOKEN
            assert signed(client, "GET", f"{RESOURCE}/data", AUTH_TOKEN).text == "the data"
    return trace


@pytest.fixture(scope="module")
def flow() -> Trace:
    return run_flow("asgi")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, tag: str, word: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if word in e.get("class", "").split()]


def texts(root: ET.Element, word: str) -> list[str]:
    return [e.text for e in by_class(root, "text", word)]


def message(method="GET", uri=f"{RESOURCE}/data", headers=(), body=b"") -> HttpMessage:
    return HttpMessage(method=method, target_uri=uri, headers=list(headers), body=body)


def reply(status: int, headers=(), body=b"") -> HttpMessage:
    return HttpMessage(status=status, headers=list(headers), body=body)


def exchange(request=None, response=None, *, index=0, source="Agent", target="Resource", note="") -> Exchange:
    return Exchange(index, source, target, request or message(), response, note=note)


# -- the SVG of a real flow --------------------------------------------------------------
def test_flow_labels_speak_aauth(flow):
    """-11 "PS Authorization Access (Three-Party)", "User Interaction": requirement, interaction code, deferred wait and delivered token by name;
    the presented token is read from Signature-Key (Signature Keys -09 "JWT Confirmation Key (jwt)") by its JWT typ."""
    assert [label_for(e) for e in flow.exchanges] == FLOW_LABELS


def test_svg_has_lifelines_arrows_and_numbered_steps(flow):
    root = parse(SequenceDiagram(flow).to_svg())
    assert root.tag == f"{SVG}svg"
    assert [e.get("data-party") for e in by_class(root, "line", "lifeline")] == ["Agent", "Resource", "PS"]
    assert [e.findtext(f"{SVG}text") for e in by_class(root, "g", "party")] == ["Agent", "Resource", "PS"]
    steps = by_class(root, "g", "step")
    assert [s.get("data-step") for s in steps] == ["1", "2", "3", "4"]
    for step in steps:  # one solid request arrow, one dashed response arrow, each with a head
        arrows = by_class(step, "path", "arrow")
        assert [a.get("class") for a in arrows] == ["arrow request", "arrow response"]
        assert arrows[0].get("stroke-dasharray") is None and arrows[1].get("stroke-dasharray")
        assert len(by_class(step, "polygon", "arrowhead")) == 2
    assert texts(root, "step-number") == ["1", "2", "3", "4"]
    assert list(zip(texts(root, "request"), texts(root, "response"))) == FLOW_LABELS
    tooltips = [s.findtext(f"{SVG}title") for s in steps]
    assert tooltips[2] == f"3. GET {PS}/pending/{PENDING_ID} → 200 auth_token"


def test_arrows_point_from_source_to_target_and_back(flow):
    root = parse(SequenceDiagram(flow).to_svg())
    x = {e.get("data-party"): e.get("x1") for e in by_class(root, "line", "lifeline")}
    request, response = by_class(by_class(root, "g", "step")[1], "path", "arrow")  # Agent → PS
    assert request.get("d").split()[1] == x["Agent"] and request.get("d").split()[-1] == x["PS"]
    assert response.get("d").split()[1] == x["PS"] and response.get("d").split()[-1] == x["Agent"]


def test_a_flow_of_its_own_is_numbered_from_first(flow):
    """A flow runner's run, or a flow started again in a cell: step 1 is its first exchange."""
    later = flow.find(since=2)  # trace steps 3 and 4
    assert [s.number for s in SequenceDiagram(later).steps()] == [3, 4]
    own = SequenceDiagram(later, first=1, highlight=2)
    assert [s.number for s in own.steps()] == [1, 2] and own.steps()[0].tooltip.startswith("1. ")
    root = parse(own.to_svg())
    assert [g.get("data-step") for g in by_class(root, "g", "current")] == ["2"]


def test_highlight_marks_exactly_one_step(flow):
    root = parse(SequenceDiagram(flow, highlight=2).to_svg())
    current = by_class(root, "g", "current")
    assert [g.get("data-step") for g in current] == ["2"]
    assert current[0].get("aria-current") == "step" and by_class(current[0], "rect", "highlight")
    colours = {by_class(g, "path", "arrow")[0].get("stroke") for g in by_class(root, "g", "step")}
    assert len(colours) == 2  # the current step's arrows have their own colour
    last = parse(SequenceDiagram(flow, highlight=-1).to_svg())
    assert [g.get("data-step") for g in by_class(last, "g", "current")] == ["4"]
    for highlight in (None, 99, -99):
        assert by_class(parse(SequenceDiagram(flow, highlight=highlight).to_svg()), "g", "current") == []


def test_failures_are_drawn_in_their_own_colour_challenges_are_not():
    """A 401 carrying AAuth-Requirement is a step of the flow (-11 "Requirement Responses");
    a Signature-Error or a 403 denial is a failure."""
    ex = [
        exchange(response=reply(401, [("AAuth-Requirement", "requirement=agent-token")])),
        exchange(response=reply(401, SignatureError("invalid_signature").response_headers()), index=1),
        exchange(response=reply(403, [PROBLEM], b'{"error":"denied"}'), index=2),
        exchange(response=reply(200), index=3),
    ]
    fills = [e.get("fill") for e in by_class(parse(SequenceDiagram(ex).to_svg()), "text", "response")]
    assert fills[0] == fills[3] != fills[1] == fills[2]


def test_svg_is_deterministic():
    """nbval compares image/svg+xml: two runs of the same flow give the same bytes,
    and so do real sockets and ASGI (the diagram shows no times, ids or ports)."""
    first, second, sockets = run_flow("asgi"), run_flow("asgi"), run_flow("socket")
    svgs = {
        SequenceDiagram(t, highlight=3, title="Consent").to_svg().encode() for t in (first, second, sockets)
    }
    assert len(svgs) == 1
    mermaid = {SequenceDiagram(t).to_mermaid() for t in (first, second, sockets)}
    assert len(mermaid) == 1


def test_diagram_of_a_trace_follows_it_live():
    trace = Trace(names={RESOURCE: "Resource"})
    diagram = SequenceDiagram(trace)
    assert by_class(parse(diagram.to_svg()), "g", "step") == []
    trace.finish(trace.begin("Agent", message()), reply(200))
    assert [g.get("data-step") for g in by_class(parse(diagram.to_svg()), "g", "step")] == ["1"]
    assert repr(diagram) == "<SequenceDiagram: 1 step, 2 parties>"


IMAGE = re.compile(
    r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="[^"]*" width="(\d+)" style="([^"]*)">'
)
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_jupyter_display_is_the_svg_as_an_image_that_fits_and_a_stable_repr(flow):
    """An ``<img>`` shows in untrusted notebooks too (JupyterLab drops untrusted SVG); scaled
    to the cell's width, with the same image at full size one click away."""
    diagram = SequenceDiagram(flow)
    html = diagram._repr_html_()
    assert html == diagram.to_html() and not hasattr(diagram, "_repr_svg_")
    (fitted, full) = IMAGE.findall(html)
    assert base64.b64decode(fitted[0]).decode() == diagram.to_svg() and fitted[0] == full[0]
    assert "max-width:100%" in fitted[2] and "max-width:none" in full[2]
    assert fitted[1] == parse(diagram.to_svg()).get("width") == full[1]
    assert "<details><summary" in html and f"Full size ({fitted[1]} px wide)" in html
    assert repr(diagram) == "<SequenceDiagram: 4 steps, 3 parties>"  # no object address


def test_the_svg_scales_to_its_container(flow):
    root = parse(SequenceDiagram(flow).to_svg())
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert "max-width: 100%" in root.get("style") and "height: auto" in root.get("style")


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_committed_diagrams_show_without_running(path):
    """Opened without a run (untrusted), a notebook shows each diagram: its stored output
    carries the image as HTML, not only ``<SequenceDiagram: N steps, M parties>``."""
    diagrams = [
        output["data"]
        for cell in json.loads(path.read_text())["cells"]
        for output in cell.get("outputs", [])
        if "".join(output.get("data", {}).get("text/plain", "")).startswith("<SequenceDiagram")
    ]
    assert diagrams, "every notebook draws its traffic"
    for data in diagrams:
        html = "".join(data.get("text/html", ""))
        assert len(IMAGE.findall(html)) == 2, sorted(data)


# -- labels --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            message(headers=[("Signature-Key", jwt_key(PERSON_TOKEN).to_member())]),
            "GET /data with person token",
        ),
        (
            message(
                headers=[
                    ("Signature-Key", jwt_key(AUTH_TOKEN).to_member()),
                    ("Authorization", "AAuth abc.def"),
                ]
            ),
            "GET /data with auth token + session token",
        ),  # -11 "AAuth-Access Response Header": session token in Authorization
        (
            message(headers=[("Signature-Key", jwks_uri_key(PS, "aauth-person.json", "ps-1").to_member())]),
            "GET /data with jwks_uri key",
        ),
        (message(headers=[("Signature-Key", hwk_key(AGENT_KEY).to_member())]), "GET /data with hwk key"),
        (message(headers=[("Signature-Key", 'sig=jwt;jwt="not.a.jwt"')]), "GET /data with malformed JWT"),
        (message(headers=[("Signature-Key", "sig=(")]), "GET /data with malformed Signature-Key"),
        (message(headers=[("Signature-Key", "")]), "GET /data with malformed Signature-Key"),
        (message(headers=[("Prefer", "respond-async, wait=45")]), "GET /data (Prefer: wait=45)"),
        (message(headers=[("Prefer", "wait=soon")]), "GET /data"),
        (message(uri=f"{PS}/interaction?code=ABCD-EFGH"), "GET /interaction?…"),
        (message(uri=f"{PS}/mission/{'A1b2' * 11}"), "GET /mission/…"),
        (message(uri=f"{PS}/.well-known/aauth-person.json"), "GET /.well-known/aauth-person.json"),
        (message(uri="https://[::1"), "GET https://[::1"),
    ],
)
def test_request_labels(request_, expected):
    """The presented credential by Signature Keys -09 "Signature-Key HTTP Request Header" scheme and
    JWT typ (-11 "JWT Type Registrations");
    Prefer: wait per RFC 7240 §4.3; opaque path segments and queries elided."""
    assert label_for(exchange(request_))[0] == expected


JSON = ("Content-Type", "application/json")
PROBLEM = ("Content-Type", "application/problem+json")


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply(401, [("AAuth-Requirement", "requirement=person-token")]), "401 requirement=person-token"),
        (reply(401, [("AAuth-Requirement", "requirement=agent-token")]), "401 requirement=agent-token"),
        (
            reply(202, [("AAuth-Requirement", "requirement=approval"), JSON], b'{"status":"pending"}'),
            "202 requirement=approval",
        ),
        (reply(202, [JSON], b'{"status":"interacting"}'), "202 interacting"),
        (reply(202), "202 pending"),
        (reply(401, [("AAuth-Requirement", "requirement=interaction")]), "401 malformed AAuth-Requirement"),
        (
            reply(
                401,
                [
                    (
                        "AAuth-Challenge",
                        'require=auth-token; resource-token="x"; auth-server="https://a.example"',
                    )
                ],
            ),
            "401 require=auth-token with resource token (legacy)",
        ),
        (reply(401, SignatureError("expired_jwt").response_headers()), "401 Signature-Error: expired_jwt"),
        (reply(401, [("Signature-Error", "error=(")]), "401 Signature-Error: malformed"),
        (reply(403, [PROBLEM], b'{"error":"denied","status":403}'), "403 denied"),
        (reply(408, [PROBLEM], b'{"error":"expired"}'), "408 expired"),
        (reply(200, [JSON], b'{"person_token":"x","expires_in":3600}'), "200 person_token"),
        (reply(200, [JSON], b'{"resource_token":"x"}'), "200 resource_token"),
        (reply(200, [("AAuth-Access", "tok")]), "200 session token"),
        (reply(200, [JSON], b'{"keys":[]}'), "200 JWKS"),
        (reply(200, [JSON], b'{"issuer":"https://ps.example"}'), "200 metadata"),
        (reply(200, [JSON], b"[1, 2"), "200 OK"),
        (reply(404), "404 Not Found"),
        (reply(599), "599"),
    ],
)
def test_response_labels(response, expected):
    """-11 "Requirement Responses", "Deferred Responses" and problem+json ``error``;
    Signature Keys -09 "Signature-Error HTTP Response Header"; malformed headers are named, never raised."""
    assert label_for(exchange(response=response))[1] == expected


def test_labels_are_short_and_single_line():
    long = message(uri=f"{RESOURCE}/{'segment/' * 20}", headers=[("Prefer", "wait=30")])
    request, response = label_for(exchange(long, reply(200, [JSON], b'{"error":"a\\nb' + b"x" * 200 + b'"}')))
    assert len(request) == MAX_LABEL and request.endswith("…")
    assert len(response) == MAX_LABEL and "\n" not in response and response.startswith("200 a b")
    assert label_for(exchange(long))[1] == ""  # no response yet


# -- drawing edge cases ------------------------------------------------------------------
def test_hostile_strings_are_escaped():
    script = '<script>alert("x")</script>'
    ex = [
        exchange(
            message(method="G&T", uri=f"{RESOURCE}/<b>?q=1"),
            reply(403, [PROBLEM], json.dumps({"error": script}).encode()),
            source=script,
            target='Tom & Jerry\'s "café"',
            note="Zoë 🚀 東京\nline two;#1",
        ),
        exchange(
            message(uri="https://x.example/\x00\x1b\ud800"), reply(200), index=1, source=script, target="東京"
        ),
    ]
    diagram = SequenceDiagram(ex, title='</svg><svg onload="x">', highlight=1)
    svg = diagram.to_svg()
    root = parse(svg)  # well-formed despite everything
    assert "<script" not in svg and "<b>" not in svg and 'onload="' not in svg
    parties = [e.get("data-party") for e in by_class(root, "line", "lifeline")]
    assert parties == [script, 'Tom & Jerry\'s "café"', "東京"]  # round-trips exactly
    assert texts(root, "request")[0] == "G&T /<b>?…"
    assert texts(root, "response")[0] == f"403 {script}"
    assert texts(root, "note") == ["Zoë 🚀 東京 line two;#1"]
    assert root.findtext(f"{SVG}title") == '</svg><svg onload="x">'
    assert texts(root, "request")[1] == "GET /\ufffd\ufffd\ufffd"  # XML-forbidden characters replaced

    mermaid = diagram.to_mermaid()
    lines = mermaid.splitlines()
    assert lines[0:3] == ["---", 'title: "</svg><svg onload=\\"x\\">"', "---"]
    body = lines[4:]
    assert len(body) == 3 + 1 + 3 + 1 + 2  # 3 participants, rect, 2 arrows + note, end, 2 arrows
    for line in body:
        text = line.split(":", 1)[1] if ":" in line else line.split(" as ", 1)[-1]
        cleaned = text
        for code in ("#35;", "#59;", "#60;", "#62;", "#38;", "#34;"):
            cleaned = cleaned.replace(code, "")
        assert not set(cleaned) & set('#;<>&"'), line
    assert "    participant P1 as #60;script#62;alert(#34;x#34;)#60;/script#62;" in lines
    assert "        Note over P1,P2: Zoë 🚀 東京 line two#59;#35;1" in lines


def test_long_labels_are_cut_to_fit_a_fixed_width():
    ex = [exchange(message(uri=f"{RESOURCE}/{'very-long-segment/' * 3}"), reply(200))]
    root = parse(SequenceDiagram(ex, width=300).to_svg())
    assert root.get("width") == "300" and root.get("viewBox").startswith("0 0 300 ")
    (label,) = by_class(root, "text", "request")
    assert label.text.endswith("…")
    half = len(label.text) * CHAR_W / 2  # from the step badge on, to the diagram's edge at most
    (lifeline, _) = by_class(root, "line", "lifeline")
    assert float(lifeline.get("x1")) + BADGE_PAD <= float(label.get("x")) - half
    assert float(label.get("x")) + half <= 300 - MARGIN


def test_wide_casts_keep_their_text_readable_in_a_1280_px_window():
    """Six lanes share MAX_WIDTH; a label longer than its arrow runs on past the arrow's end
    on a background halo (each step has its row to itself), cut only at the diagram's edge."""
    parties = ["UI", "Backend", "Supply chain", "PS", "Person", "Market analysis"]
    trace = Trace(names={f"https://{n.lower().replace(' ', '-')}.example": n for n in parties})
    long = "/pending/pending-0002"
    for source, target in zip(parties, parties[1:]):
        trace.finish(
            trace.begin(source, message(uri=f"https://{target.lower().replace(' ', '-')}.example{long}")),
            reply(200),
        )
    root = parse(SequenceDiagram(trace, parties=parties).to_svg())
    assert float(root.get("width")) <= MAX_WIDTH
    for label in by_class(root, "text", "request"):
        assert label.text == f"GET {long}" and label.get("paint-order") == "stroke"
        half = len(label.text) * CHAR_W / 2
        assert MARGIN <= float(label.get("x")) - half and float(label.get("x")) + half <= MAX_WIDTH - MARGIN


def test_a_request_without_response_draws_one_arrow():
    root = parse(SequenceDiagram([exchange()]).to_svg())
    (step,) = by_class(root, "g", "step")
    assert [a.get("class") for a in by_class(step, "path", "arrow")] == ["arrow request"]
    assert texts(root, "response") == []
    assert SequenceDiagram([exchange()]).to_mermaid().splitlines()[-1] == "    P1->>P2: 1. GET /data"


def test_a_call_to_itself_loops_back():
    ex = [exchange(response=reply(204), source="Backend", target="Backend")]
    root = parse(SequenceDiagram(ex).to_svg())
    assert len(by_class(root, "line", "lifeline")) == 1
    assert len(by_class(root, "path", "arrow")) == 2
    assert "P1->>P1: 1. GET /data" in SequenceDiagram(ex).to_mermaid()


def test_empty_trace_is_a_valid_placeholder():
    root = parse(SequenceDiagram(Trace()).to_svg())
    assert texts(root, "placeholder") == ["No exchanges yet."]
    assert by_class(root, "line", "lifeline") == [] and by_class(root, "g", "step") == []
    with_parties = parse(SequenceDiagram([], parties=["Agent", "PS"]).to_svg())
    assert [e.get("data-party") for e in by_class(with_parties, "line", "lifeline")] == ["Agent", "PS"]
    assert texts(with_parties, "placeholder") == ["No exchanges yet."]
    assert SequenceDiagram([]).to_mermaid() == "sequenceDiagram\n"


def test_given_parties_come_first_in_their_order(flow):
    diagram = SequenceDiagram(flow, parties=["PS", "Person", "Agent"])
    assert diagram.parties() == ["PS", "Person", "Agent", "Resource"]


def test_mermaid_golden():
    """A small fixed trace: aliases P1…, numbered requests, dashed (-->>) responses, the
    current step in a rect, notes, and ``;`` / ``#`` as entity codes."""
    ex = [
        exchange(
            message(headers=[("Signature-Key", jwt_key(AGENT_TOKEN).to_member())]),
            reply(401, [("AAuth-Requirement", "requirement=person-token")]),
        ),
        exchange(
            message("POST", f"{PS}/person-token", [("Signature-Key", jwt_key(AGENT_TOKEN).to_member())]),
            reply(200, [JSON], b'{"person_token":"x"}'),
            index=1,
            target="PS; #1",
            note="first use of the resource",
        ),
        exchange(
            message(headers=[("Signature-Key", jwt_key(PERSON_TOKEN).to_member())]), reply(200), index=2
        ),
    ]
    assert SequenceDiagram(ex, highlight=2, title="Person token").to_mermaid() == (
        "---\n"
        'title: "Person token"\n'
        "---\n"
        "sequenceDiagram\n"
        "    participant P1 as Agent\n"
        "    participant P2 as Resource\n"
        "    participant P3 as PS#59; #35;1\n"
        "    P1->>P2: 1. GET /data with agent token\n"
        "    P2-->>P1: 401 requirement=person-token\n"
        "    rect rgb(255, 241, 214)\n"
        "        P1->>P3: 2. POST /person-token with agent token\n"
        "        P3-->>P1: 200 person_token\n"
        "        Note over P1,P3: first use of the resource\n"
        "    end\n"
        "    P1->>P2: 3. GET /data with person token\n"
        "    P2-->>P1: 200 OK\n"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"highlight": "2"},
        {"highlight": True},
        {"width": 10},
        {"width": 300.0},
        {"first": "1"},
        {"first": True},
    ],
)
def test_bad_arguments_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        SequenceDiagram([], **kwargs)


def test_only_exchanges_can_be_drawn():
    with pytest.raises(UsageError, match="Exchange"):
        SequenceDiagram([message()])
