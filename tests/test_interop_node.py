"""Cross-checks with @hellocoop/httpsig 2.2.0, a Node implementation of RFC 9421 with
Signature-Key -08 that this project did not write: the kit's
second-language peer.

``tests/node_peer.js`` runs the package on one JSON job at a time (sign with ``hwk``,
``jwt`` or ``jwks_uri`` at a pinned ``created``; verify), and reports the signature base
it handed to WebCrypto, so the bases can be compared byte for byte.
``scripts/install-node-peer`` puts the package in ``.npm-peers/`` (``make test`` runs it).

* node signs → the kit's ``verify_hwk`` / ``verify_request`` (keys discovered over HTTP) /
  ``verify_with_key`` accept, over the same signature base;
* the kit signs → node verifies (``hwk`` by the -08 rules, ``jwt``);
* a changed body, a changed path and the wrong key are refused by both;
* the known differences are asserted, not hidden: ``@query``
  without ``?`` as strict expected failures, so a fixed peer shows up;
* end to end: a node-signed request sent over real HTTP to a kit :class:`Resource`.

[N] = draft-hardt-oauth-aauth-protocol-11, [SK] = draft-hardt-httpbis-signature-key-09.
"""

import asyncio
import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aauth_kit import httpsig, tokens
from aauth_kit.claims import AGENT_TYP
from aauth_kit.components import authority
from aauth_kit.errors import SignatureError
from aauth_kit.headers import parse_signature_error
from aauth_kit.jwks import HttpResolver, jwks
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage
from aauth_kit.metadata import AGENT_DWK, PERSON_DWK, agent_metadata, person_metadata
from aauth_kit.profile import sign_request, verify_hwk, verify_request, verify_with_key
from aauth_kit.resource import Resource
from aauth_kit.runtime import Hosts
from aauth_kit.signature_key import SignatureKey, hwk_key, jwks_uri_key, jwt_key, parse_signature_key

ROOT = Path(__file__).resolve().parent.parent
PEER_PROGRAM = ROOT / "tests" / "node_peer.js"
INSTALL_SCRIPT = ROOT / "scripts" / "install-node-peer"
PEER_PACKAGE = Path(".npm-peers", "node_modules", "@hellocoop", "httpsig", "package.json")
PEER_VERSION = "2.2.0"
NODE = shutil.which("node")
NPM = shutil.which("npm")
TIMEOUT = 60  # seconds: a hang guard for one node process, not a timing assertion

NOW = 1_790_000_000
AP, PS, RES = "https://ap.example", "https://ps.example", "https://resource.example"
AGENT = "aauth:assistant@ap.example"
ap_key = Key.from_seed("node-interop-ap", kid="ap-1")
ps_key = Key.from_seed("node-interop-ps", kid="ps-1")
resource_key = Key.from_seed("node-interop-resource", kid="res-1")
agent_key = Key.from_seed("node-interop-agent")
other_key = Key.from_seed("node-interop-someone-else")


def installed_version(root: Path = ROOT) -> str | None:
    package = root / PEER_PACKAGE
    return json.loads(package.read_text())["version"] if package.exists() else None


# -- the peer ---------------------------------------------------------------------------
class NodePeerError(Exception):
    """The peer threw (its message), e.g. when asked to sign with a key it refuses."""


def node(job: dict) -> dict:
    """Run one job through ``tests/node_peer.js``; skip when node or the package is absent."""
    if NODE is None:
        pytest.skip("node is not on PATH; scripts/install-node-peer installs it (as root, with apt-get)")
    if installed_version() != PEER_VERSION:
        pytest.skip(
            f"@hellocoop/httpsig {PEER_VERSION} is not in .npm-peers/: run scripts/install-node-peer "
            "(make test does)"
        )
    done = subprocess.run(
        [NODE, str(PEER_PROGRAM)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    answer = json.loads(done.stdout) if done.stdout.strip() else {}
    if done.returncode != 0:
        raise NodePeerError(answer.get("exception") or done.stderr)
    return answer


def node_scheme(signature_key: SignatureKey) -> dict:
    """The peer's ``signatureKey`` option for a kit ``Signature-Key`` member."""
    if signature_key.scheme == "hwk":
        return {"type": "hwk"}  # the peer writes the key itself, from the signing JWK
    return {"type": signature_key.scheme, **signature_key.params}


def node_sign(
    method: str,
    url: str,
    key: Key,
    signature_key: SignatureKey,
    *,
    body: bytes = b"",
    components: list[str] | None = None,
) -> tuple[HttpMessage, str]:
    """A request signed by the peer at ``created=NOW``, as the kit receives it, and the
    signature base the peer signed."""
    job = {
        "op": "sign",
        "method": method,
        "url": url,
        "key": key.private_jwk(),
        "signature_key": node_scheme(signature_key),
        "created": NOW,
        "headers": {"content-type": "application/json"} if body else {},
        "body": body.decode() if body else None,
    }
    if components:
        job["components"] = components
    answer = node(job)
    host = urlsplit(url).netloc
    return HttpMessage(method, url, [("Host", host), *answer["headers"].items()], body), answer["base"]


def node_verify(message: HttpMessage, *, require_content_digest: bool = False) -> dict:
    """The peer's verdict on a request: ``verified``, ``thumbprint``, ``code``, ``error``, ``base``.

    The peer takes the canonical authority from its caller (as the AAuth profile asks of
    a verifier) and the query without its ``?`` (its convention).
    """
    url = urlsplit(message.target_uri)
    return node(
        {
            "op": "verify",
            "method": message.method,
            "authority": authority(message.target_uri),
            "path": url.path,
            "query": url.query,
            "headers": dict(message.headers),
            "body": message.body.decode() if message.body else None,
            "now": NOW,
            "require_content_digest": require_content_digest,
        }
    )


def kit_sign(
    method: str,
    url: str,
    key: Key,
    signature_key: SignatureKey,
    *,
    body: bytes = b"",
    extra: tuple[str, ...] = (),
) -> tuple[HttpMessage, str]:
    message = HttpMessage(method, url, [("Host", urlsplit(url).netloc)], body)
    signed = sign_request(message, key, signature_key, created=NOW, extra=extra)
    return message, signed.base


def signature_bytes(message: HttpMessage) -> bytes:
    return httpsig.read_signature(message).signature


def agent_token(key: Key = agent_key) -> str:
    return tokens.mint_agent_token(
        ap_key, iss=AP, sub=AGENT, cnf=key, iat=NOW - 60, exp=NOW + 3600, jti="agent-1"
    )


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))  # a hang guard, not a timing assertion


# -- the network: the AP's and PS's documents, and a kit Resource, on loopback sockets ------
def documents_app(documents: dict[str, dict]) -> Starlette:
    """Serve fixed JSON documents by path (well-known metadata, JWKS)."""

    async def serve(request: Request):
        doc = documents.get(request.url.path)
        return JSONResponse(doc) if doc is not None else JSONResponse({"error": "not_found"}, status_code=404)

    return Starlette(routes=[Route("/{path:path}", serve)])


async def whoami(request: Request):
    caller = request.state.caller
    return JSONResponse({"agent": caller.agent, "jkt": caller.jkt, "body": (await request.body()).decode()})


@pytest.fixture(scope="module")
def network():
    """``network.resolver`` discovers keys over HTTP; ``RES`` is a kit :class:`Resource`
    whose ``/whoami`` admits any agent ([N] agent identity access), clock pinned at NOW."""
    with Hosts("socket") as hosts:
        hosts.add(
            AP,
            documents_app(
                {
                    f"/.well-known/{AGENT_DWK}": agent_metadata(AP, f"{AP}/.well-known/jwks.json"),
                    "/.well-known/jwks.json": jwks([ap_key]),
                }
            ),
        )
        hosts.add(
            PS,
            documents_app(
                {
                    f"/.well-known/{PERSON_DWK}": person_metadata(
                        PS, f"{PS}/.well-known/jwks.json", f"{PS}/token", f"{PS}/person-token"
                    ),
                    "/.well-known/jwks.json": jwks([ps_key]),
                }
            ),
        )
        resource = Resource(RES, key=resource_key, resolver=HttpResolver(hosts.fetch()), clock=lambda: NOW)
        hosts.add(
            RES,
            resource.app([resource.route("/whoami", whoami, methods=("GET", "POST"), access="agent-token")]),
        )
        hosts.resolver = HttpResolver(hosts.fetch())
        yield hosts


# -- the install script ------------------------------------------------------------------
@pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are needed to install the Node peer")
def test_install_script_is_quiet_when_the_pinned_peer_is_there():
    """``make test`` ran ``scripts/install-node-peer`` already (see the test below): run
    again it finds @hellocoop/httpsig 2.2.0 in ``.npm-peers/`` and changes nothing — no
    npm call, so no network."""
    assert installed_version(ROOT) == PEER_VERSION
    lock = ROOT / ".npm-peers" / "package-lock.json"
    stamp = lock.stat().st_mtime_ns
    again = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=60)
    assert (again.returncode, again.stdout, lock.stat().st_mtime_ns) == (0, "", stamp)


def test_install_script_without_node_explains_and_succeeds(tmp_path):
    """Without node (and not root) the script cannot install anything: it says why and
    exits 0, so ``make test`` goes on and these tests skip with their reason."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "bash"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")  # as an unprivileged user would see it
    (bin_dir / "id").chmod(0o755)
    done = subprocess.run(
        [str(bin_dir / "bash"), str(INSTALL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(bin_dir)},
    )
    assert done.returncode == 0
    assert "node or npm is missing" in done.stdout and "skip" in done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_installs_the_peer_before_running_pytest():
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    lines = plan.splitlines()
    pytest_line = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert lines.index("scripts/install-node-peer") < pytest_line


def test_the_repository_peer_is_the_pinned_version():
    """What ``make test`` installed is what the peer program loads."""
    assert node({"op": "version"}) == {"version": PEER_VERSION}


# -- node signs, the kit verifies --------------------------------------------------------
@pytest.mark.parametrize(
    "method, url, body",
    [
        ("GET", f"{RES}/data", b""),
        ("POST", f"{RES}/items", b'{"name":"laptop"}'),
    ],
)
def test_node_signs_hwk_the_kit_verifies(method, url, body):
    """[SK] "Header Web Key (hwk)" and RFC 9421 §2.5: the kit's ``verify_hwk`` accepts the peer's
    request (``alg;kty;crv;x`` order, ``content-type`` and ``content-digest`` covered on a
    body) over exactly the base the peer signed; Ed25519 being deterministic, the kit
    signing that base gives the peer's signature bytes."""
    message, node_base = node_sign(method, url, agent_key, hwk_key(agent_key), body=body)
    assert parse_signature_key(message.header("signature-key"), "sig").params["alg"] == "Ed25519"
    verified = verify_hwk(message, now=NOW, body_required=True)
    assert verified.key.thumbprint() == agent_key.thumbprint()
    assert verified.base == node_base
    assert agent_key.sign(verified.base.encode()) == signature_bytes(message)


def test_node_signs_jwks_uri_the_kit_discovers_the_key(network):
    """[SK] "JWKS URI Discovery (jwks_uri)": a server signing in its own right.  The kit resolves
    ``{id}/.well-known/{dwk}`` → ``jwks_uri`` → ``kid`` over HTTP and verifies the base
    the peer signed; with the key in hand ``verify_with_key`` agrees."""
    body = b'{"jti":"t-1","exp":1790000600}'
    message, node_base = node_sign(
        "POST", f"{RES}/revoke", ps_key, jwks_uri_key(PS, PERSON_DWK, "ps-1"), body=body
    )
    verified = run(
        verify_request(
            message, resolver=network.resolver, now=NOW, accept_schemes=("jwks_uri",), body_required=True
        )
    )
    assert (verified.scheme, verified.key.thumbprint(), verified.base) == (
        "jwks_uri",
        ps_key.thumbprint(),
        node_base,
    )
    assert verify_with_key(message, ps_key.public(), now=NOW).base == node_base


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("GET", f"{RES}/data", b""),
        ("POST", f"{PS}/person-token", b'{"resource":"https://resource.example"}'),
    ],
)
def test_node_signs_jwt_with_a_kit_agent_token(network, method, url, body):
    """[N] "HTTP Message Signatures Profile" and "Verification (Server)" steps 1-7, [SK] "JWT Confirmation Key (jwt)":
    the peer signs with an agent token the kit's AP minted; the kit verifies the token
    against the AP's JWKS over HTTP, binds ``cnf.jwk`` to the signing key and checks the
    peer's signature over the same base (on a PS body, ``content-*`` coverage required)."""
    message, node_base = node_sign(method, url, agent_key, jwt_key(agent_token()), body=body)
    verified = run(verify_request(message, resolver=network.resolver, now=NOW, body_required=True))
    assert (verified.token.typ, verified.token.sub) == (AGENT_TYP, AGENT)
    assert verified.key.thumbprint() == agent_key.thumbprint()
    assert verified.base == node_base


# -- the kit signs, node verifies --------------------------------------------------------
@pytest.mark.parametrize("body", [b"", b'{"name":"laptop"}'])
def test_kit_signs_hwk_node_verifies(body):
    """[SK] "Header Web Key (hwk)" as of -08: the kit's ``hwk`` member carries ``alg`` and no ``kid``; the peer,
    which enforces both, verifies over the kit's base (``content-digest`` required on a body)."""
    message, base = kit_sign(
        "POST" if body else "GET", f"{RES}/data", agent_key, hwk_key(agent_key), body=body
    )
    params = parse_signature_key(message.header("signature-key"), "sig").params
    assert params["alg"] == "Ed25519" and "kid" not in params
    verdict = node_verify(message, require_content_digest=True)
    assert verdict["verified"] is True, verdict["error"]
    assert (verdict["thumbprint"], verdict["base"]) == (agent_key.thumbprint(), base)


@pytest.mark.parametrize("body", [b"", b'{"resource":"https://resource.example"}'])
def test_kit_signs_jwt_node_verifies(body):
    """[SK] "JWT Confirmation Key (jwt)": the peer decodes the kit's agent token (it does not check the
    issuer's signature), takes ``cnf.jwk`` and verifies over the kit's base."""
    message, base = kit_sign(
        "POST" if body else "GET", f"{PS}/person-token", agent_key, jwt_key(agent_token()), body=body
    )
    verdict = node_verify(message, require_content_digest=True)
    assert verdict["verified"] is True, verdict["error"]
    assert (verdict["thumbprint"], verdict["base"]) == (agent_key.thumbprint(), base)
    assert verdict["jwt_payload"]["sub"] == AGENT and verdict["jwt_payload"]["cnf"]["jwk"]["alg"] == "Ed25519"


@pytest.mark.parametrize(
    "params, kit_code",
    [
        # -05 form: no alg.  The kit follows [N] "Signature Algorithms" (a key without alg is
        # unsupported_algorithm); the peer calls the member malformed (invalid_key)
        ({"kty": "OKP", "crv": "Ed25519", "x": agent_key.public_jwk()["x"]}, "unsupported_algorithm"),
        # a kid in hwk: both invalid_key
        ({**hwk_key(agent_key).params, "kid": "agent-1"}, "invalid_key"),
    ],
    ids=["no alg", "kid"],
)
def test_hwk_outside_the_08_rules_is_refused_by_both(params, kit_code):
    """[SK] "Header Web Key (hwk)" (-08 and later): ``alg`` is REQUIRED and ``kid`` MUST NOT appear."""
    message, _ = kit_sign("GET", f"{RES}/data", agent_key, SignatureKey("sig", "hwk", params))
    with pytest.raises(SignatureError) as info:
        verify_hwk(message, now=NOW)
    assert info.value.code == kit_code
    verdict = node_verify(message)
    assert (verdict["verified"], verdict["code"]) == (False, "invalid_key")


def test_node_refuses_to_sign_hwk_without_alg():
    """[SK] "Header Web Key (hwk)" (-08): the peer will not even emit an ``hwk`` member without ``alg``."""
    jwk = {name: value for name, value in agent_key.private_jwk().items() if name != "alg"}
    with pytest.raises(NodePeerError, match="alg"):
        node(
            {
                "op": "sign",
                "method": "GET",
                "url": f"{RES}/data",
                "key": jwk,
                "signature_key": {"type": "hwk"},
                "created": NOW,
                "headers": {},
            }
        )


# -- tampering: both refuse --------------------------------------------------------------
def signed_by(signer: str, *, key: Key = agent_key, body: bytes = b'{"amount":10}') -> HttpMessage:
    """A payment request with the kit's agent token, signed by ``signer`` with ``key``."""
    sign = node_sign if signer == "node" else kit_sign
    message, _ = sign("POST", f"{RES}/pay", key, jwt_key(agent_token()), body=body)
    return message


def changed_body(signer):
    message = signed_by(signer)
    message.body = b'{"amount":1000}'
    return message


def changed_path(signer):
    message = signed_by(signer)
    message.target_uri = f"{RES}/admin"
    return message


def wrong_key(signer):
    return signed_by(signer, key=other_key)  # the token binds agent_key


@pytest.mark.parametrize("signer", ["node", "kit"])
@pytest.mark.parametrize(
    "tamper, node_code",
    [
        # RFC 9530 §2 / [N] "Verification (Server)": the covered Content-Digest no longer
        # matches the body.  The draft names no code; the kit says invalid_signature, the
        # peer invalid_input (a digest failure is reported like a coverage failure)
        (changed_body, "invalid_input"),
        # [N] step 7: a covered component (@path) changed; the peer says verified=false and
        # gives no Signature-Error code (its callers answer invalid_signature)
        (changed_path, None),
        # [N] step 5-7: signed by a key other than the token's cnf.jwk
        (wrong_key, None),
    ],
    ids=["body", "path", "key"],
)
def test_tampering_is_refused_by_both(network, signer, tamper, node_code):
    message = tamper(signer)
    with pytest.raises(SignatureError) as info:
        run(verify_request(message, resolver=network.resolver, now=NOW, body_required=True))
    assert info.value.code == "invalid_signature"
    verdict = node_verify(message, require_content_digest=True)
    assert (verdict["verified"], verdict["code"]) == (False, node_code)


# -- documented differences -----------------------------------------------------------------
QUERY_BUG = (
    "@hellocoop/httpsig 2.2.0 uses @query without the leading '?' that "
    "RFC 9421 §2.2.7 requires, in its signer and its verifier"
)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=QUERY_BUG)
def test_node_verifies_kit_query_coverage():
    """RFC 9421 §2.2.7: ``@query`` is ``?`` + the query.  The kit covers it; the peer
    rebuilds ``q=laptops`` and the signature fails."""
    message, _ = kit_sign(
        "GET", f"{RES}/search?q=laptops&n=3", agent_key, hwk_key(agent_key), extra=("@query",)
    )
    assert node_verify(message)["verified"] is True


@pytest.mark.xfail(strict=True, raises=SignatureError, reason=QUERY_BUG)
def test_kit_verifies_node_query_coverage():
    """RFC 9421 §2.2.7, the other way: the peer signs ``"@query": q=laptops&n=3``."""
    components = ["@method", "@authority", "@path", "@query", "signature-key"]
    message, node_base = node_sign(
        "GET", f"{RES}/search?q=laptops&n=3", agent_key, hwk_key(agent_key), components=components
    )
    assert '"@query": q=laptops&n=3\n' in node_base  # the bug, as it stands
    verify_hwk(message, now=NOW, extra=("@query",))


def test_node_leaves_the_query_unsigned_by_default():
    """[N] profile: only ``@method @authority @path signature-key`` are mandatory, and the
    peer covers no more on a GET, so a changed query still verifies
    at both; a resource that needs it protected lists ``@query`` as a required component."""
    message, _ = node_sign("GET", f"{RES}/search?q=laptops", agent_key, hwk_key(agent_key))
    message.target_uri = f"{RES}/search?q=everything"
    assert verify_hwk(message, now=NOW).key.thumbprint() == agent_key.thumbprint()
    assert node_verify(message)["verified"] is True
    with pytest.raises(SignatureError) as info:
        verify_hwk(message, now=NOW, extra=("@query",))
    assert info.value.code == "invalid_input"


@pytest.mark.parametrize("raw_path, sent_path", [("/a/b/../c", "/a/c"), ("/a%2Fb/../c", "/c")])
def test_difference_dot_segments_in_path(raw_path, sent_path):
    """RFC 9421 §2.2.6: ``@path`` is the target path as sent.  The peer parses URLs the
    WHATWG way, which removes dot-segments (``%2F`` is no separator) before signing, and its
    fetch would send that path; the kit keeps the path it is given.
    Signed for ``raw_path``, the request verifies at the kit only as actually sent."""
    message, node_base = node_sign("GET", f"{RES}{raw_path}", agent_key, hwk_key(agent_key))
    assert f'"@path": {sent_path}\n' in node_base
    with pytest.raises(SignatureError) as info:
        verify_hwk(message, now=NOW)
    assert info.value.code == "invalid_signature"
    message.target_uri = f"{RES}{sent_path}"
    assert verify_hwk(message, now=NOW).base == node_base


# -- end to end over HTTP: a node-signed request at a kit Resource ------------------------
def send(network, message: HttpMessage):
    """Send a signed request through ``aauth_kit.transport`` to the loopback servers."""
    headers = [(name, value) for name, value in message.headers if name.lower() != "host"]
    with network.client(timeout=30) as client:
        return client.request(message.method, message.target_uri, headers=headers, content=message.body)


@pytest.mark.parametrize("method, body", [("GET", b""), ("POST", b'{"note":"from node"}')])
def test_end_to_end_node_agent_calls_a_kit_resource(network, method, body):
    """[N] agent identity access over real HTTP: the peer signs with the kit AP's agent
    token; the :class:`Resource` (sockets, ``runtime.Hosts``) verifies signature and token
    and admits the agent, telling it who it is."""
    message, _ = node_sign(method, f"{RES}/whoami", agent_key, jwt_key(agent_token()), body=body)
    response = send(network, message)
    assert response.status_code == 200, response.text
    assert response.json() == {"agent": AGENT, "jkt": agent_key.thumbprint(), "body": body.decode()}


def test_end_to_end_resource_refuses_node_hwk(network):
    """[N] "HTTP Message Signatures Profile": a resource accepts ``jwt`` only, so the peer's
    valid ``hwk`` request gets ``401`` + ``Signature-Error: error=unsupported_scheme`` and
    ``Accept-Signature-Scheme: jwt`` ([N] "Signature-Key Scheme Rejection")."""
    message, _ = node_sign("GET", f"{RES}/whoami", agent_key, hwk_key(agent_key))
    response = send(network, message)
    assert response.status_code == 401
    assert parse_signature_error(response.headers["signature-error"])[0] == "unsupported_scheme"
    assert response.headers["accept-signature-scheme"] == "jwt"


def test_end_to_end_resource_refuses_a_changed_body(network):
    """RFC 9530 / [N] step 7 over HTTP: a body changed after the peer signed it no longer
    matches the covered ``Content-Digest``: ``401 invalid_signature``."""
    message, _ = node_sign("POST", f"{RES}/whoami", agent_key, jwt_key(agent_token()), body=b'{"amount":10}')
    message.body = b'{"amount":1000}'
    response = send(network, message)
    assert response.status_code == 401
    assert parse_signature_error(response.headers["signature-error"])[0] == "invalid_signature"


def test_peer_signature_is_standard_base64():
    """RFC 9421 §4.2 / RFC 8941 byte sequence: padded standard base64."""
    message, _ = node_sign("GET", f"{RES}/data", agent_key, hwk_key(agent_key))
    value = message.header("signature")
    assert value.startswith("sig=:") and value.endswith("==:")
    assert base64.b64decode(value[5:-1], validate=True) == signature_bytes(message)
