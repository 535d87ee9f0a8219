"""aauth_kit.show: raw HTTP text with long values shortened the same way every time, and
the tokens a message carries (Signature Keys -09 "Signature-Key HTTP Request Header", -11 "Requirement Responses", JSON
bodies) decoded in words."""

import json

import pytest

from aauth_kit import show, tokens
from aauth_kit.headers import serialize_requirement
from aauth_kit.keys import Key
from aauth_kit.lab import Lab
from aauth_kit.message import HttpMessage
from aauth_kit.profile import sign_request
from aauth_kit.signature_key import jwt_key
from aauth_kit.trace import Trace

NOW = 1_790_000_000
AP = Key.from_seed("show/ap", kid="ap")
AGENT = Key.from_seed("show/agent")
RESOURCE = Key.from_seed("show/resource", kid="rs")


def agent_token() -> str:
    return tokens.mint_agent_token(
        AP,
        iss="https://ps.example",
        sub="aauth:show@ps.example",
        cnf=AGENT,
        iat=NOW,
        exp=NOW + 3600,
        jti="agent-1",
    )


def signed(method="GET", path="/inventory", body=b"", extra=()) -> HttpMessage:
    message = HttpMessage(
        method=method,
        target_uri=f"https://supply-chain.example{path}",
        headers=[
            ("host", "supply-chain.example"),
            ("accept", "*/*"),
            ("user-agent", "python-httpx/9"),
            ("accept-encoding", "gzip"),
            ("connection", "keep-alive"),
        ],
        body=body,
    )
    sign_request(message, AGENT, jwt_key(agent_token()), created=NOW, extra=extra)
    return message


# -- shortening ------------------------------------------------------------------------------
def test_short_values_stay_and_long_ones_keep_start_and_end():
    assert show.shorten("abc") == "abc"
    long = "A" * 30 + "B" * 30 + "12345678"
    cut = show.shorten(long)
    assert len(cut) == show.SHORT and cut.startswith("A" * 30) and cut.endswith("…12345678")
    assert show.shorten(long) == cut  # deterministic
    assert show.shorten(long, 20) == long[:14] + "…" + long[-5:]


def test_only_opaque_runs_are_shortened():
    jwt = agent_token()
    text = f'sig=jwt;jwt="{jwt}" for https://supply-chain.example/inventory, a short sentence'
    out = show.shorten_opaque(text)
    assert (
        out
        == f'sig=jwt;jwt="{show.shorten(jwt)}" for https://supply-chain.example/inventory, a short sentence'
    )


# -- raw HTTP --------------------------------------------------------------------------------
def test_a_signed_request_is_raw_http_with_transport_noise_hidden():
    message = signed()
    text = show.raw(message)
    lines = text.splitlines()
    assert lines[0] == "GET /inventory HTTP/1.1"
    assert lines[1] == "host: supply-chain.example"
    assert not any(line.split(":")[0] in show.NOISE for line in lines)  # the fields httpx adds
    assert 'Signature-Input: sig=("@method" "@authority" "@path" "signature-key");created=1790000000' in lines
    assert f'Signature-Key: sig=jwt;jwt="{show.shorten(agent_token())}"' in lines
    assert text.endswith("\n") and max(len(line) for line in lines) < 120
    # with nothing hidden every field line is there, in order
    assert [line.split(":")[0] for line in show.raw(message, hide=()).splitlines()[1:] if line] == [
        name for name, _ in message.headers
    ]


def test_a_covered_header_is_never_hidden():
    """RFC 9421 §2.1: what the signature covers is what the reader must see."""
    text = show.raw(signed(extra=("user-agent",)))
    assert "user-agent: python-httpx/9" in text and "accept: */*" not in text


def test_without_host_the_request_line_carries_the_absolute_uri():
    message = HttpMessage(method="GET", target_uri="https://ps.example/.well-known/aauth-person.json")
    assert show.raw(message) == "GET https://ps.example/.well-known/aauth-person.json HTTP/1.1\n"


def test_json_bodies_are_indented_with_tokens_shortened_or_shown_as_sent():
    body = json.dumps({"auth_token": agent_token(), "expires_in": 3600}).encode()
    response = HttpMessage(status=200, headers=[("content-type", "application/json")], body=body)
    text = show.raw(response)
    assert text.startswith("HTTP/1.1 200 OK\ncontent-type: application/json\n\n{\n")
    assert f'  "auth_token": "{show.shorten(agent_token())}",' in text
    as_sent = show.raw(response, pretty_json=False)
    assert as_sent.endswith(f'{{"auth_token": "{show.shorten(agent_token())}", "expires_in": 3600}}')


def test_long_bodies_are_cut_and_binary_bodies_counted():
    response = HttpMessage(status=299, headers=[], body="\n".join(f"line {i}" for i in range(30)).encode())
    text = show.raw(response)
    assert text.startswith("HTTP/1.1 299\n")  # no reason phrase for an unregistered status
    assert text.endswith("line 19\n… (10 more lines)")
    assert show.raw(response, body_lines=29).endswith("line 28\n… (1 more line)")
    assert show.raw(HttpMessage(status=200, body=b"\xff\xfe")).endswith("(2 bytes of binary data)")


def test_a_broken_signature_input_still_shows_the_message():
    message = HttpMessage(
        method="GET",
        target_uri="https://a.example/",
        headers=[("host", "a.example"), ("signature-input", "sig=(((("), ("accept", "*/*")],
    )
    assert show.raw(message) == "GET / HTTP/1.1\nhost: a.example\nsignature-input: sig=((((\n"


# -- tokens ----------------------------------------------------------------------------------
def test_tokens_are_found_in_signature_key_requirement_and_json_bodies():
    resource_token = tokens.mint_resource_token(
        RESOURCE,
        iss="https://supply-chain.example",
        aud="https://ps.example",
        ps="https://ps.example",
        sub="person-1",
        presented_jti="person-0001",
        agent_jkt=AGENT,
        scope="supply-chain:check",
        iat=NOW,
        exp=NOW + 300,
        jti="rt-1",
    )
    challenge = HttpMessage(
        status=401,
        headers=[
            ("aauth-requirement", serialize_requirement("auth-token", resource_token=resource_token)),
            ("content-type", "application/json"),
        ],
        body=json.dumps({"nested": [{"token": agent_token()}]}).encode(),
    )
    assert show.found_tokens(signed()) == [("Signature-Key sig=jwt", agent_token())]
    assert show.found_tokens(challenge) == [
        ("AAuth-Requirement resource-token", resource_token),
        ("body nested[0].token", agent_token()),
    ]


def test_malformed_headers_and_bodies_yield_no_tokens():
    message = HttpMessage(
        status=401,
        headers=[
            ("signature-key", 'sig=jwt;jwt="a.b.c"'),
            ("aauth-requirement", "requirement=auth-token"),
            ("content-type", "application/json"),
        ],
        body=b"[not json",
    )
    assert show.found_tokens(message) == []
    assert show.found_tokens(HttpMessage(headers=[("signature-key", "((")])) == []


def test_a_token_is_decoded_in_words():
    text = show.decoded(agent_token(), now=NOW + 600)
    lines = text.splitlines()
    assert lines[0].startswith("aa-agent+jwt is an agent token")
    assert lines[1] == '  header: {"alg": "Ed25519", "kid": "ap", "typ": "aa-agent+jwt"}'
    assert '  sub: "aauth:show@ps.example" — subject: the agent identifier' in text
    assert "  iat: 1790000000 = 2026-09-21 14:13:20 UTC (10 minutes ago)" in text
    assert f"thumbprint {AGENT.thumbprint()}" in text
    assert lines[-1] == "  lifetime (exp - iat): 1 hour"
    assert show.decoded("no-jwt", now=NOW).startswith("(not a JWT:")


# -- exchanges and traces over the real lab --------------------------------------------------
@pytest.fixture(scope="module")
def traces():
    """The same three calls in a docs-mode lab over sockets and over ASGI."""
    texts = []
    for mode in ("socket", "asgi"):
        with Lab(mode=mode, docs=True) as lab:
            agent = lab.new_agent("show")
            with lab.client(agent) as client:
                assert client.get("https://supply-chain.example/inventory").status_code == 200
                assert client.get("https://supply-chain.example/check").status_code == 200
            texts.append(
                (show.text(lab.trace, now=lab.clock), show.text(lab.trace.exchanges[0], now=lab.clock))
            )
    return texts


def test_a_trace_reads_step_by_step_each_token_decoded_once(traces):
    whole, first = traces[0]
    assert whole.startswith("── 1. Agent → Supply chain: GET /inventory → 200 ──\nGET /inventory HTTP/1.1\n")
    assert "── 2. Agent → Supply chain: GET /check → 401 (requirement=person-token) ──" in whole
    assert whole.count("aa-agent+jwt is an agent token") == 1
    assert (
        "▸ token in Signature-Key sig=jwt: the same token as step 1's request (Signature-Key sig=jwt)"
        in whole
    )
    assert "▸ token in body person_token:\naa-person+jwt is a person token" in whole
    assert "the same token as step 4's response (body person_token)" in whole
    assert whole.startswith(first) and "\n\nHTTP/1.1 200 OK\n" in first


def test_the_text_is_the_same_on_every_run(traces):
    """Docs mode + deterministic shortening: what nbval compares never changes."""
    assert traces[0] == traces[1]


def test_show_prints_the_text(capsys):
    show.show(signed(), now=NOW)
    out = capsys.readouterr().out
    assert out == show.text(signed(), now=NOW) + "\n" and "▸ token in Signature-Key sig=jwt:" in out
    assert show.text(signed(), now=NOW, tokens=False) == show.raw(signed()).rstrip("\n")


def test_nothing_to_show_is_said_in_words_never_raised(capsys):
    """A cell run again or out of order may hand show() nothing: it says what is missing."""
    trace = Trace()
    show.show(None)
    show.show(trace.last(method="GET", path="/pending/*"))
    show.show(trace.find(status=200))
    show.show(trace)
    show.show([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Nothing to show: this is None. An exchange has no response until")
    assert lines[1] == (
        "Nothing to show: no exchange in the trace matches method='GET' path='/pending/*' (yet). "
        "Run the cells above first."
    )
    assert lines[2].startswith("Nothing to show: no exchange in the trace matches status=200 (yet).")
    assert lines[3:] == ["Nothing to show: the trace is empty.", "Nothing to show: no exchanges."]
