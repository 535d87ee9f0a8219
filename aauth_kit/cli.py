"""``aauth-kit``: the command line.

``sign-http`` and ``verify-http`` work on raw HTTP/1.1 requests (RFC 9112 text) so
that implementers in any language can compare bytes with the kit; ``decode``
explains an AAuth token; ``probe`` checks someone else's resource against -11
"Verification (Server)"; ``progress`` reads the exercise results of students' notebooks.  Exit codes: 0 success / valid, 1 invalid, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import httpsig, jws, profile
from .claims import TYPES
from .components import parse_components
from .digest import content_digest
from .errors import AAuthError, SignatureError, TokenError, UsageError
from .explain import describe_token, utc
from .jwks import issuer_key
from .keys import Key
from .message import HttpMessage, parse_raw_request, serialize_raw_request
from .signature_key import key_from_hwk, parse_cli_spec
from .token_verification import check_token

EXIT_VALID, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2


class Unusable(Exception):
    """The input cannot be worked on at all (exit 2)."""


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise Unusable(f"cannot read {path}: {exc.strerror or exc}") from None


def load_key(path: str) -> Key:
    """A key file: a JWK (JSON object, private or public) or a PEM key."""
    data = _read(path)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return Key.from_pem(data)
        jwk = json.loads(data)
        return Key.from_jwk(jwk)
    except (ValueError, TypeError, UsageError, AAuthError) as exc:
        raise Unusable(f"{path} is not a usable key: {exc}") from None


def _request(path: str, scheme: str) -> HttpMessage:
    try:
        return parse_raw_request(_read(path), scheme=scheme)
    except AAuthError as exc:
        raise Unusable(f"{path}: {exc.detail}") from None


# -- sign-http -------------------------------------------------------------------------
def cmd_sign_http(args) -> int:
    message = _request(args.file, args.scheme)
    key = load_key(args.key)
    if not key.has_private:
        raise Unusable(f"{args.key} holds no private key")
    try:
        signature_key = parse_cli_spec(args.signature_key, key, label=args.label)
        components = parse_components(args.components) if args.components else None
    except (UsageError, SignatureError) as exc:
        raise Unusable(str(exc)) from None
    if components is not None:
        names = [item.value for item in components]
        if "content-digest" in names and message.header("content-digest") is None:
            message.set_header("Content-Digest", content_digest(message.body))
        cover_body = False
    else:
        cover_body = None
    try:
        profile.sign_request(
            message,
            key,
            signature_key,
            created=args.created,
            expires=args.expires,
            keyid=args.keyid,
            label=args.label,
            components=components,
            cover_body=cover_body,
        )
    except (UsageError, SignatureError) as exc:
        raise Unusable(str(exc)) from None
    sys.stdout.buffer.write(serialize_raw_request(message))
    sys.stdout.flush()
    return EXIT_VALID


# -- verify-http -----------------------------------------------------------------------
def _key_named_by_signature_key(signature_key) -> tuple[Key, str | None]:
    """The key a Signature-Key member names, offline; a note when a token was not checked."""
    if signature_key.scheme == "hwk":
        return key_from_hwk(signature_key), None
    if signature_key.scheme in ("jwt", "jkt-jwt"):
        from .tokens import confirmation_key

        return confirmation_key(
            signature_key
        ), "the JWT's own signature was not checked (its issuer's keys are not at hand)"
    raise Unusable(f"scheme {signature_key.scheme} names a key this command cannot fetch offline; pass --key")


def verify_message(
    message: HttpMessage, *, key: Key | None, label: str | None, now: int, window: int | None
) -> tuple[str, str | None]:
    """Verify one request; return (label, note) or raise SignatureError."""
    if message.header("signature-key") is None:
        if key is None:
            raise Unusable("a plain RFC 9421 signature needs --key")
        sig = httpsig.read_signature(message, label)
        httpsig.check_times(sig, now, window, require_created=False)
        keyid = sig.param("keyid")
        if keyid is not None and not httpsig.keyid_names(keyid, key):
            raise SignatureError("unknown_key", f"keyid {keyid!r} does not name the given key")
        httpsig.verify_signature(message, sig, key)
        return sig.label, None
    sig, signature_key = profile.check_profile(
        message,
        now=now,
        window=profile.DEFAULT_WINDOW if window is None else window,
        accept_schemes=("jwt", "jwks_uri", "hwk", "jkt-jwt"),
        label=label,
    )
    named, note = (
        (None, None) if signature_key.scheme == "jwks_uri" else _key_named_by_signature_key(signature_key)
    )
    if key is None:
        if named is None:
            raise Unusable("the jwks_uri scheme needs --key (this command does not fetch keys)")
        key = named
    elif named is not None and named.thumbprint() != key.thumbprint():
        raise SignatureError("invalid_key", "the --key key is not the key Signature-Key names")
    profile.finish_verification(message, sig, signature_key, key)
    return sig.label, note


def cmd_verify_http(args) -> int:
    message = _request(args.file, args.scheme)
    key = load_key(args.key) if args.key else None
    now = int(time.time()) if args.now is None else args.now
    try:
        label, note = verify_message(message, key=key, label=args.label, now=now, window=args.window)
    except SignatureError as exc:
        print(f"{exc.code}: {exc.detail}")
        return EXIT_INVALID
    except UsageError as exc:
        raise Unusable(str(exc)) from None
    print("valid")
    if note:
        print(f"note: {note}")
    return EXIT_VALID


# -- decode ----------------------------------------------------------------------------
def load_jwks(path: str) -> tuple[list[dict], bool]:
    """A ``--jwks`` file: the public JWKs of a JWKS, or of a single JWK (then True)."""
    try:
        doc = json.loads(_read(path))
    except (ValueError, RecursionError):
        raise Unusable(f"{path} is not JSON") from None
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("keys"), list)
        and all(isinstance(k, dict) for k in doc["keys"])
    ):
        keys, single_jwk = doc["keys"], False
    elif isinstance(doc, dict) and "kty" in doc:
        keys, single_jwk = [doc], True
    else:
        raise Unusable(f"{path} holds neither a JWKS (an object with a keys array) nor a JWK")
    return [{name: value for name, value in jwk.items() if name != "d"} for jwk in keys], single_jwk


def _read_token(arg: str) -> str:
    """TOKEN as given, or read from standard input for ``-``; surrounding whitespace dropped."""
    if arg != "-":
        return arg.strip()
    try:
        return _read("-").decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Unusable("the token on standard input is not UTF-8") from None


def cmd_decode(args) -> int:
    """Explain a token; with ``--jwks`` also verify it (exit 0 valid, 1 invalid, 2 unusable)."""
    token = _read_token(args.token)
    jwks = load_jwks(args.jwks) if args.jwks else None
    now = int(time.time()) if args.now is None else args.now
    try:
        decoded = jws.decode_unverified(token)
    except TokenError as exc:
        raise Unusable(f"not a JWT ({exc.code}): {exc.detail}") from None
    _write(describe_token(decoded, now))
    if jwks is None:
        return EXIT_VALID
    _write("")
    _write(f"Verification with the keys in {args.jwks} at {utc(now)}:")
    try:
        key = issuer_key(*jwks, decoded.header.get("kid"))
        check_token(token, typ=TYPES, key=key, now=now, dev=args.dev)
    except AAuthError as exc:
        _write(f"{exc.code}: {exc.detail}")
        return EXIT_INVALID
    _write("valid")
    return EXIT_VALID


def _write(text: str) -> None:
    """Print ``text``; characters the terminal cannot encode are escaped, never fatal."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))


# -- probe -----------------------------------------------------------------------------
def cmd_probe(args) -> int:
    """Check a resource against -11 "Verification (Server)": exit 0 when every required
    check passes, 1 when one fails, 2 when the probe cannot run."""
    from . import probe
    from .lifespan import ServerStartError
    from .runtime import Hosts

    if args.agent_provider and not args.dev:
        raise Unusable(
            "--agent-provider serves the Agent Provider at http://127.0.0.1:PORT, "
            "a dev-mode identifier: add --dev (and run the resource in dev mode)"
        )
    if not args.timeout > 0:
        raise Unusable("--timeout must be a positive number of seconds")
    hosts = agent_provider = access_server = None
    try:
        body = probe.parse_body(args.body)
        checks = probe.with_checks(*args.check) if args.check else probe.ALL_CHECKS
        url = probe.check_target(args.url, dev=args.dev)
        if args.agent_provider:
            hosts = Hosts("socket")
            agent_provider = probe.AgentProvider.on_loopback(hosts, port=args.ap_port)
            access_server = probe.ProbeAccessServer.on_loopback(hosts)
        report = probe.probe(
            url,
            method=args.method,
            body=body,
            dev=args.dev,
            agent_provider=agent_provider,
            timeout=args.timeout,
            checks=checks,
            access_server=access_server,
            person=_ask_the_person if args.interactive else None,
        )
    except (probe.ProbeError, ServerStartError) as exc:
        raise Unusable(str(exc)) from None
    finally:
        if hosts is not None:
            hosts.stop()
        if agent_provider is not None:
            agent_provider.close()
    _write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json else report.table())
    return report.exit_code


def _ask_the_person(url: str, code: str) -> None:
    """``--interactive``: the resource asks a person; say where, then the probe polls."""
    print(
        f"the resource asks a person: open {url} and enter {code} (the probe polls meanwhile)",
        file=sys.stderr,
    )


# -- entry point -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aauth-kit", description="AAuth (Agent Auth) teaching kit and reference tools."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sign-http", help="sign a raw HTTP/1.1 request (RFC 9421, AAuth profile)")
    s.add_argument("file", help="raw request file, or - for standard input")
    s.add_argument("--key", required=True, help="private key: JWK (JSON) or PEM file")
    s.add_argument("--label", default="sig")
    s.add_argument(
        "--components", help='component identifiers as in Signature-Input, e.g. \'"@method" "@path"\''
    )
    s.add_argument("--created", type=int, help="created parameter (default: now)")
    s.add_argument("--expires", type=int)
    s.add_argument("--keyid")
    s.add_argument(
        "--signature-key", default="hwk", help="none | hwk | jwt:TOKEN | jwks_uri:ID,DWK,KID (default hwk)"
    )
    s.add_argument(
        "--scheme", default="https", help="scheme for @target-uri when the request line is origin-form"
    )
    s.set_defaults(run=cmd_sign_http)

    v = sub.add_parser("verify-http", help="verify the signature of a raw HTTP/1.1 request")
    v.add_argument("file", help="raw request file, or - for standard input")
    v.add_argument("--key", help="public key: JWK (JSON) or PEM file (default: the key Signature-Key names)")
    v.add_argument("--label", help="signature label (default: the first one present)")
    v.add_argument("--now", type=int, help="pin the clock (Unix seconds)")
    v.add_argument(
        "--window",
        type=int,
        help="accepted age of created, seconds (default 60 with Signature-Key, none without)",
    )
    v.add_argument("--scheme", default="https")
    v.set_defaults(run=cmd_verify_http)

    d = sub.add_parser("decode", help="explain an AAuth token (JWT); optionally verify it")
    d.add_argument("token", help="the compact JWT, or - for standard input")
    d.add_argument("--jwks", help="issuer keys: a JWKS or a single JWK (JSON file); verifies the token")
    d.add_argument("--now", type=int, help="pin the clock (Unix seconds) for relative times and verification")
    d.add_argument(
        "--dev",
        action="store_true",
        help="dev mode: accept http://127.0.0.1:PORT and http://localhost:PORT issuers",
    )
    d.set_defaults(run=cmd_decode)

    pr = sub.add_parser(
        "probe",
        help='check YOUR resource against draft -11 "Verification (Server)" error rules and its resource-side rules',
        description="Send deliberately wrong (and well-formed) AAuth-signed requests to URL, read its "
        "metadata, requirements, resource tokens, authorization endpoint and session tokens, and "
        "report, per check, what the draft requires, what came back and PASS / FAIL / INFO / SKIP. "
        "Exit 0 when every required check passes, 1 when one fails, 2 when the probe cannot run.",
    )
    pr.add_argument("url", help="the protected resource URL, e.g. https://resource.example/api")
    pr.add_argument("--method", default="GET", help="request method (default GET)")
    pr.add_argument("--body", help="JSON request body, sent as application/json")
    pr.add_argument(
        "--dev",
        action="store_true",
        help="dev mode: allow http://127.0.0.1:PORT and http://localhost:PORT targets",
    )
    pr.add_argument(
        "--agent-provider",
        action="store_true",
        help="also serve the kit's Agent Provider at http://127.0.0.1:PORT (needs --dev) for the checks "
        "that need an agent token the resource trusts, and an Access Server nobody trusts",
    )
    pr.add_argument(
        "--interactive",
        action="store_true",
        help="when the resource asks a person (requirement=interaction), print where and wait, "
        "so the session-token checks can run",
    )
    pr.add_argument("--ap-port", type=int, default=0, help="the Agent Provider's port (default: a free one)")
    pr.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)"
    )
    pr.add_argument("--check", action="append", metavar="ID", help="run only this check (repeatable)")
    pr.add_argument("--json", action="store_true", help="print the report as JSON")
    pr.set_defaults(run=cmd_probe)

    from . import progress, serve  # imported here to keep the other commands light

    progress.add_command(sub)

    r = sub.add_parser("serve", help="run the whole cast on 127.0.0.1 (dev mode) until Ctrl-C")
    serve.add_cast_options(r, seed_ports=True)
    r.set_defaults(run=serve.serve)

    m = sub.add_parser("demo", help="play the seed's consent story in the terminal, printing each message")
    serve.add_cast_options(m, seed_ports=False)
    decision = m.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve the consent request automatically")
    decision.add_argument("--deny", action="store_true", help="deny the consent request automatically")
    m.add_argument(
        "--prompt",
        default="Optimize laptop supply chain",
        help='the job prompt (say "market" for the call chain)',
    )
    m.set_defaults(run=serve.demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except Unusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
