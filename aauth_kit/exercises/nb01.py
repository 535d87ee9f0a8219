"""Exercises for notebook 01 (HTTP Message Signatures, RFC 9421).

* ``q1`` — ``my_signature_base(message, components, created)``: build the signature base
  of RFC 9421 §2.5 by hand for the derived components ``@method``, ``@authority``,
  ``@path`` (§2.2) and header fields (§2.1), ending in ``@signature-params``.
* ``q2`` — ``changed_component(original, tampered)``: an attacker changed a signed
  request; name the covered component whose value changed, or ``None`` when only
  uncovered parts changed (RFC 9421 §1.4: a signature protects only what it covers).

The graders build their own requests and sign them with seeded keys: no lab needed.
"""

from __future__ import annotations

import json

from .. import httpsig
from ..components import component
from ..digest import content_digest
from ..keys import Key
from ..message import HttpMessage
from ..profile import sign_request
from ..signature_key import jwt_key
from ..tokens import mint_agent_token
from . import Exercise, NotAttempted

#: The components every AAuth request covers (-11 "HTTP Message Signatures Profile").
AAUTH_COMPONENTS = ["@method", "@authority", "@path", "signature-key"]
#: ... and with a body sent to a Person Server.
BODY_COMPONENTS = ["@method", "@authority", "@path", "content-type", "content-digest", "signature-key"]
CREATED = 1_790_000_000

_AP = Key.from_seed("nb01 grader provider", kid="ap-1")
_AGENT = Key.from_seed("nb01 grader agent")
_MALLORY = Key.from_seed("nb01 grader mallory")


def _agent_token(key: Key, local: str) -> str:
    return mint_agent_token(
        _AP,
        iss="https://ps.example",
        sub=f"aauth:{local}@ps.example",
        cnf=key,
        iat=CREATED,
        exp=CREATED + 3600,
        jti=f"grader-{local}",
    )


def _request(method: str, url: str, body: bytes = b"", content_type: str | None = None) -> HttpMessage:
    host = url.split("/")[2]
    headers = [
        ("Host", host),
        ("Accept", "*/*"),
        ("Signature-Key", jwt_key(_agent_token(_AGENT, "notebook")).to_member()),
    ]
    if body:
        headers += [
            ("Content-Type", content_type or "application/json"),
            ("Content-Digest", content_digest(body)),
        ]
    return HttpMessage(method=method, target_uri=url, headers=headers, body=body)


def example_request() -> HttpMessage:
    """The request the notebook shows for q1: ``GET https://supply-chain.example/inventory``."""
    return _request("GET", "https://supply-chain.example/inventory")


def _call(answer, *args):
    result = answer(*args)
    if result is None:
        raise NotAttempted
    return result


# -- q1: the signature base ------------------------------------------------------------------
def _q1_cases() -> list[tuple[str, HttpMessage, list[str], int]]:
    body = json.dumps({"resource": "https://supply-chain.example"}).encode()
    return [
        ("GET https://supply-chain.example/inventory", example_request(), AAUTH_COMPONENTS, CREATED),
        (
            "POST https://ps.example/person-token with a JSON body",
            _request("POST", "https://ps.example/person-token", body),
            BODY_COMPONENTS,
            CREATED + 5,
        ),
        (
            "GET https://Supply-Chain.example:443/check?part=display",
            _request("GET", "https://Supply-Chain.example:443/check?part=display"),
            AAUTH_COMPONENTS,
            CREATED + 9,
        ),
        (
            "GET http://127.0.0.1:8765/inventory (a dev-mode server)",
            _request("GET", "http://127.0.0.1:8765/inventory"),
            ["@path", "@method", "@authority"],
            CREATED,
        ),
    ]


def _grade_base(answer) -> str | None:
    for words, message, components, created in _q1_cases():
        got = _call(answer, message, list(components), created)
        if not isinstance(got, str):
            return f"return the signature base as a str, not {type(got).__name__}"
        params = httpsig.signature_params([component(c) for c in components], {"created": created})
        expected = httpsig.signature_base(message, params)
        if got == expected:
            continue
        if got.endswith("\n"):
            return f"for {words}: the base must not end with a newline (RFC 9421 §2.5)"
        mine, theirs = got.split("\n"), expected.split("\n")
        for number, (line, right) in enumerate(zip(mine, theirs), start=1):
            if line != right:
                name = right.split(": ", 1)[0]
                return (
                    f"for {words}: line {number} should be the {name} line, but yours is {line!r}. "
                    f"Try q1.hint() for the rules."
                )
        return (
            f"for {words}: the base has {len(theirs)} lines (one per component, then "
            f'"@signature-params"), yours has {len(mine)}'
        )
    return None


q1 = Exercise(
    notebook="01",
    title="Q1 · the signature base",
    grade=_grade_base,
    hints=(
        'One line per covered component, in the order given: the identifier in double quotes, ": ", the value. '
        'Then a last line "@signature-params": (the identifiers, quoted, space-separated);created=N. '
        "Lines are joined with \\n, with no newline at the end (RFC 9421 §2.5).",
        '@method is the method; @path is the path without the query ("/" if empty); a header field\'s value '
        "is message.header(name). urllib.parse.urlsplit(message.target_uri) splits the URI.",
        "@authority is the host in lower case, with the port only when it is not the scheme's default "
        "(443 for https, 80 for http) — RFC 9421 §2.2.3. urlsplit(...).hostname is already lower case.",
    ),
    reference=(
        "from urllib.parse import urlsplit\n\n"
        "def my_signature_base(message, components, created):\n"
        "    url = urlsplit(message.target_uri)\n"
        "    default_port = {'https': 443, 'http': 80}[url.scheme]\n"
        "    lines = []\n"
        "    for name in components:\n"
        "        if name == '@method':\n"
        "            value = message.method\n"
        "        elif name == '@authority':\n"
        "            value = url.hostname if url.port in (None, default_port) else f'{url.hostname}:{url.port}'\n"
        "        elif name == '@path':\n"
        "            value = url.path or '/'\n"
        "        else:\n"
        "            value = message.header(name)\n"
        "        lines.append(f'\"{name}\": {value}')\n"
        "    covered = ' '.join(f'\"{name}\"' for name in components)\n"
        "    lines.append(f'\"@signature-params\": ({covered});created={created}')\n"
        "    return '\\n'.join(lines)"
    ),
    success="that is exactly the text the signer signs and the verifier rebuilds (RFC 9421 §2.5).",
)


# -- q2: which component did the attacker change? ---------------------------------------------
def _signed(method: str, url: str, body: bytes = b"") -> HttpMessage:
    message = HttpMessage(
        method=method, target_uri=url, headers=[("Host", url.split("/")[2]), ("Accept", "*/*")], body=body
    )
    sign_request(message, _AGENT, jwt_key(_agent_token(_AGENT, "notebook")), created=CREATED)
    return message


def _copy(message: HttpMessage, **changes) -> HttpMessage:
    fields = {
        "method": message.method,
        "target_uri": message.target_uri,
        "headers": list(message.headers),
        "body": message.body,
    }
    fields.update(changes)
    if "target_uri" in changes:  # the Host field follows the new target, in its place
        host = changes["target_uri"].split("/")[2]
        fields["headers"] = [
            (name, host if name.lower() == "host" else value) for name, value in fields["headers"]
        ]
    return HttpMessage(**fields)


def _replace_header(message: HttpMessage, name: str, value: str) -> HttpMessage:
    tampered = _copy(message)
    tampered.set_header(name, value)
    return tampered


def tamper_cases() -> list[tuple[str, HttpMessage, HttpMessage, str | None]]:
    """``(what the attacker did, original, tampered, changed component or None)``."""
    get = _signed("GET", "https://supply-chain.example/inventory")
    body = b'{"parts": "all"}'
    post = _signed("POST", "https://supply-chain.example/check", body)
    other_body = b'{"parts": "none"}'
    mallory = jwt_key(_agent_token(_MALLORY, "mallory")).to_member()
    return [
        (
            "sent the GET to another path",
            get,
            _copy(get, target_uri="https://supply-chain.example/check"),
            "@path",
        ),
        (
            "replayed it at another server",
            get,
            _copy(get, target_uri="https://market-analysis.example/inventory"),
            "@authority",
        ),
        ("added a header", get, _copy(get, headers=get.headers + [("X-Forwarded-For", "203.0.113.9")]), None),
        ("turned the POST into a GET", post, _copy(post, method="GET"), "@method"),
        (
            "put in their own agent token",
            post,
            _replace_header(post, "Signature-Key", mallory),
            "signature-key",
        ),
        (
            "changed the body and recomputed the digest",
            post,
            _replace_header(_copy(post, body=other_body), "Content-Digest", content_digest(other_body)),
            "content-digest",
        ),
        ("changed the Accept header", post, _replace_header(post, "Accept", "text/html"), None),
        ("sent it as text", post, _replace_header(post, "Content-Type", "text/plain"), "content-type"),
    ]


def _grade_changed(answer) -> str | None:
    cases = tamper_cases()
    answers = [answer(original, tampered) for _words, original, tampered, _expected in cases]
    if all(got is None for got in answers):  # the stub; None is right only where nothing covered changed
        raise NotAttempted
    for number, ((_words, _original, _tampered, expected), got) in enumerate(zip(cases, answers), start=1):
        if isinstance(got, str):
            got = got.strip().strip('"')
        if got != expected:
            if expected is None:
                return (
                    f"in case {number} of {len(cases)} no covered component changed (only an uncovered part "
                    f"did), so the answer is None; yours was {got!r}"
                )
            return f"in case {number} of {len(cases)} the answer is not {got!r}"
    return None


q2 = Exercise(
    notebook="01",
    title="Q2 · what did the attacker change?",
    grade=_grade_changed,
    hints=(
        "The original's Signature-Input lists the covered components: httpsig.read_signature(original).params "
        "iterates over them.",
        "components.component_value(message, item) gives one component's value. Compare the original's and the "
        "tampered message's value for each covered component; if none differs, return None.",
    ),
    reference=(
        "from aauth_kit import components, httpsig\n\n"
        "def changed_component(original, tampered):\n"
        "    for item in httpsig.read_signature(original).params:\n"
        "        if components.component_value(original, item) != components.component_value(tampered, item):\n"
        "            return item.value\n"
        "    return None"
    ),
    success="and a change outside the covered components goes unnoticed: that is why AAuth fixes what must be covered.",
)
