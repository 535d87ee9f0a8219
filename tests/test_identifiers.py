"""Server identifiers, agent identifiers and endpoint URLs.

[N] = draft-hardt-oauth-aauth-protocol-11: "Server Identifiers", "Agent Identifiers",
"Metadata Documents" (endpoint URLs).  aauth-go vectors track -09 with some -11 parts;
each case below states the rule it checks and where -11 decides differently.
"""

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aauth_kit.errors import AAuthError, UsageError
from aauth_kit.headers import serialize_requirement
from aauth_kit.identifiers import (
    check_agent_identifier,
    check_callback_url,
    check_endpoint_url,
    check_host,
    check_server_identifier,
    check_url,
    is_dev_url,
    parse_agent_identifier,
    subagent_identifier,
)
from aauth_kit.probe import ProbeError, check_target

from .conftest import load_vector

SERVER_VECTORS = load_vector("aauth-go/server-identifier.json")["cases"]
AGENT_VECTORS = load_vector("aauth-go/agent-identifier.json")["cases"]

#: The [N] "Server Identifiers" rule each aauth-go server-identifier case exercises.
SERVER_RULES = {
    "https://agent.example": "https + lowercase host",
    "https://xn--nxasmq6b.example": "IDN in A-label form",
    "https://localhost": "a single-label host is still a host",
    "http://agent.example": "scheme MUST be https",
    "https://Agent.Example": "host MUST be lowercase",
    "https://agent.example:8443": "no port",
    "https://agent.example/v1": "no path",
    "https://agent.example/": "no trailing slash",
    "https://agent.example?x=1": "no query",
    "https://agent.example#f": "no fragment",
    "https://user@agent.example": "no userinfo",
    "https://": "a host is required",
    "agent.example": "scheme MUST be https",
}


@pytest.mark.parametrize("case", SERVER_VECTORS, ids=lambda c: f"{c['input']}: {SERVER_RULES[c['input']]}")
def test_server_identifier_vectors(case):
    """[N] "Server Identifiers" — aauth-go agrees with -11 on every case."""
    if case["valid"]:
        assert check_server_identifier(case["input"]) == case["input"]
    else:
        with pytest.raises(AAuthError) as exc:
            check_server_identifier(case["input"])
        assert exc.value.code == "invalid_request"


@pytest.mark.parametrize(
    "value",
    [
        "https://agent.example.",  # empty last label (trailing dot)
        "https://-agent.example",  # label starts with a hyphen
        "https://agent-.example",  # label ends with a hyphen
        "https://ägent.example",  # U-label instead of A-label
        "https://xn--a.example",  # "xn--" label decoding to a control character
        "https://xn--abc-.example",  # "xn--" label decoding to plain ASCII
        "https://xn--zz.example",  # "xn--" label that is not punycode at all
        "https://" + "a" * 64 + ".example",  # label longer than 63
        "https://" + ".".join(["a" * 63] * 5),  # host longer than 253
        "https://[::1]",  # IP literal brackets are not a host name
        "https://agent.example ",
        None,
        42,
    ],
)
def test_server_identifier_host_rules(value):
    """[N] "Server Identifiers": the host is a lowercase DNS name in A-label form."""
    with pytest.raises(AAuthError):
        check_server_identifier(value)


@pytest.mark.parametrize("value", ["http://127.0.0.1:8765", "http://localhost:1", "http://localhost:65535"])
def test_dev_mode_accepts_loopback_http(value):
    """Kit decision (kit decision): `aauth-kit serve` runs an explicit dev mode
    whose identifiers are loopback http with a port; only dev=True accepts them."""
    assert check_server_identifier(value, dev=True) == value
    with pytest.raises(AAuthError):
        check_server_identifier(value)


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1",  # no port
        "http://127.0.0.1:0",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:08080",
        "http://10.0.0.1:8080",  # not loopback
        "http://localhost:80/path",
        "http://agent.example:8080",
    ],
)
def test_dev_mode_is_narrow(value):
    """Dev mode adds exactly http://127.0.0.1:PORT and http://localhost:PORT."""
    with pytest.raises(AAuthError):
        check_server_identifier(value, dev=True)


def test_dev_mode_still_accepts_https_identifiers():
    assert check_server_identifier("https://ps.example", dev=True) == "https://ps.example"


#: The [N] "Agent Identifiers" rule each aauth-go agent-identifier case exercises.
AGENT_RULES = {
    "aauth:assistant-v2@agent.example": "local of [a-z0-9-]",
    "aauth:planner.7f3c@vendor.example": "'.' allowed in local",
    "aauth:planner.7f3c+search1@vendor.example": "sub-agent: parent local + discriminator",
    "aauth:Agent@agent.example": "[N] allows A-Z in local (-09/intermediate -11 did not)",
    "aauth:agent_1@xn--nxasmq6b.example": "'_' in local, A-label domain",
    "aauth:My Agent@agent.example": "space not allowed",
    "aauth:@agent.example": "local is 1-255 chars",
    "aauth:agent@http://agent.example": "domain is a host, not a URL",
    "aauth:agent@agent.example:8443": "domain has no port",
    "aauth:agent@Agent.Example": "domain lowercase",
    "aauth:agent@agent.example/": "domain has no path",
    "aauth:agent@-agent.example": "domain labels are LDH",
    "aauth:agent@agent..example": "no empty domain label",
    "aauth:agént@agent.example": "local is ASCII only",
    "aauth:assistant@": "domain required",
    "aauth:+worker@agent.example": "'+' needs a parent local before it",
    "aauth:assistant+@agent.example": "'+' needs a discriminator after it",
    "assistant@agent.example": "the aauth: prefix is required",
}


def _agent_rule(case):
    text = case["input"]
    if len(text) > 255:
        return "local of 255 chars" if case["valid"] else "local longer than 255"
    return AGENT_RULES[text]


@pytest.mark.parametrize("case", AGENT_VECTORS, ids=lambda c: f"{c['input'][:40]}: {_agent_rule(c)}")
def test_agent_identifier_vectors(case):
    """[N] "Agent Identifiers".  aauth-go's uppercase case ("aauth:Agent@…") is valid under
    -11, which added A-Z to the local part; the -11 rule is what is asserted."""
    if case["valid"]:
        local, domain = parse_agent_identifier(case["input"])
        expected_local = case["name"] + (f"+{case['discriminator']}" if "discriminator" in case else "")
        assert (local, domain) == (expected_local, case["domain"])
        assert check_agent_identifier(case["input"]) == case["input"]
    else:
        with pytest.raises(AAuthError) as exc:
            check_agent_identifier(case["input"])
        assert exc.value.code == "invalid_request"


def test_top_level_agent_must_not_contain_plus():
    """[N] "Agent Identifiers": '+' is reserved; a top-level agent's local MUST NOT contain it."""
    sub = "aauth:planner.7f3c+search1@vendor.example"
    assert check_agent_identifier(sub) == sub
    with pytest.raises(AAuthError):
        check_agent_identifier(sub, top_level=True)
    assert check_agent_identifier("aauth:planner@vendor.example", top_level=True)


def test_subagents_cannot_nest():
    """[N] "Sub-Agents": sub-agents cannot have sub-agents, so '+' appears at most once."""
    with pytest.raises(AAuthError):
        parse_agent_identifier("aauth:a+b+c@agent.example")


def test_agent_identifiers_are_case_sensitive_strings():
    """[N]: exact, case-sensitive comparison — Agent and agent are different agents."""
    assert parse_agent_identifier("aauth:Agent@agent.example") != parse_agent_identifier(
        "aauth:agent@agent.example"
    )


def test_subagent_identifier_helper():
    """[N] "Sub-Agents" (informative naming): <parent local>+<discriminator>@<domain>."""
    assert (
        subagent_identifier("aauth:assistant@agent.example", "worker1")
        == "aauth:assistant+worker1@agent.example"
    )
    with pytest.raises(AAuthError):
        subagent_identifier("aauth:assistant+x@agent.example", "worker1")
    with pytest.raises(AAuthError):
        subagent_identifier("aauth:assistant@agent.example", "bad disc")


@pytest.mark.parametrize(
    "value", [None, 7, "aauth:agent", "aauth:agent@", "aauth:" + "a" * 256 + "@agent.example"]
)
def test_agent_identifier_junk(value):
    with pytest.raises(AAuthError):
        parse_agent_identifier(value)


def test_check_host():
    assert check_host("127.0.0.1") == "127.0.0.1"
    for bad in ("", "a..b", "A.b", None):
        with pytest.raises(AAuthError):
            check_host(bad)


@pytest.mark.parametrize(
    "url",
    ["https://ps.example/token", "https://ps.example:8443/a/b", "https://PS.example/x", "https://ps.example"],
)
def test_endpoint_urls(url):
    """[N] "Metadata Documents": endpoint URLs are https with no query and no fragment
    (a port or path is fine)."""
    assert check_endpoint_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://ps.example/token",
        "https://ps.example/token?x=1",
        "https://ps.example/token?",
        "https://ps.example/token#frag",
        "https://user@ps.example/token",
        "https:///token",
        "https://ps.example:99999/token",
        "https://[::1/token",
        "https://ps.example/to ken",
        "https://ps.example/\x00",
        "/relative",
        None,
    ],
)
def test_endpoint_url_rejects(url):
    with pytest.raises(AAuthError) as exc:
        check_endpoint_url(url)
    assert exc.value.code == "invalid_request"


def test_endpoint_url_dev_mode():
    """Dev mode (kit decision): http endpoints on 127.0.0.1/localhost only."""
    assert check_endpoint_url("http://127.0.0.1:8765/token", dev=True)
    assert check_endpoint_url("http://localhost:8765/token", dev=True)
    for url in ("http://127.0.0.1:8765/token", "http://10.1.1.1:8765/token"):
        with pytest.raises(AAuthError):
            check_endpoint_url(url, dev=url.startswith("http://10."))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"(https?://|aauth:)[^\s]{0,40}", fullmatch=True), st.booleans())
def test_checkers_raise_only_kit_errors(value, dev):
    """Bad input gets the kit's AAuthError (kit decision), never another exception type."""
    for check in (
        lambda v: check_server_identifier(v, dev=dev),
        lambda v: check_endpoint_url(v, dev=dev),
        parse_agent_identifier,
        check_host,
    ):
        try:
            assert check(value) is not None
        except AAuthError:
            pass


# -- one URL policy ------------------------------------------------------------------------
#: (url, accepted in dev mode, accepted outside it): every checker of the kit agrees.
POLICY = [
    ("https://ps.example/interaction", True, True),
    ("https://ps.example:8443/a", True, True),
    ("http://127.0.0.1:8765/interaction", True, False),
    ("http://localhost:3000/interaction", True, False),
    ("http://127.0.0.1/interaction", False, False),  # dev http needs a port, everywhere
    ("http://localhost/interaction", False, False),
    ("http://[::1]:8765/interaction", False, False),  # ::1 is not a dev host (see DEV_HOSTS)
    ("http://10.0.0.1:8765/interaction", False, False),
    ("http://ps.example/interaction", False, False),
    ("https://ps.example/interaction#top", False, False),
    ("https://u:p@ps.example/interaction", False, False),
    ("ftp://127.0.0.1:21/interaction", False, False),
]


def _judged(check, url, **options) -> bool:
    try:
        check(url, **options)
    except (AAuthError, UsageError, ProbeError):
        return False
    return True


def _interaction(url, *, dev):
    return serialize_requirement("interaction", url=url, code="A1B2", dev=dev)


@pytest.mark.parametrize("url, in_dev, outside", POLICY)
def test_every_checker_judges_a_url_alike(url, in_dev, outside):
    """Endpoint URLs, interaction URLs (headers), a probe's target and callbacks follow one
    policy; the lab's virtual network passes exactly the dev-mode http URLs through."""
    for dev, expected in ((True, in_dev), (False, outside)):
        judges = {
            "endpoint": _judged(check_endpoint_url, url, dev=dev),
            "interaction": _judged(_interaction, url, dev=dev),
            "probe": _judged(check_target, url, dev=dev),
            "policy": _judged(check_url, url, dev=dev),
        }
        assert judges == dict.fromkeys(judges, expected), (dev, judges)
    assert _judged(check_callback_url, url) == in_dev
    assert is_dev_url(urlsplit(url)) == (in_dev and not outside)


def test_queries_only_where_the_policy_allows_them():
    """Endpoint URLs take no query (-11 "Endpoint URLs"); a callback or a probe target may."""
    url = "https://app.example/cb?x=1"
    assert not _judged(check_endpoint_url, url)
    assert check_callback_url(url) == url and check_target(url) == url
    assert check_url(url, query=True) == url
