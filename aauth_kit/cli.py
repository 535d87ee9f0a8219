"""``aauth-kit``: the command line.

``sign-http`` and ``verify-http`` work on raw HTTP/1.1 requests (RFC 9112 text) so
that implementers in any language can compare bytes with the kit; ``decode``
explains an AAuth token.  Exit codes: 0 success / valid, 1 invalid, 2 unusable input.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from . import httpsig, profile, tokens
from .errors import AAuthError, SignatureError, TokenError, UsageError
from .keys import SUPPORTED_ALGS, Key, jwk_thumbprint
from .message import HttpMessage, parse_raw_request, serialize_raw_request
from .metadata import select_key
from .signature_key import key_from_hwk, parse_cli_spec

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
        components = httpsig.parse_components(args.components) if args.components else None
    except (UsageError, SignatureError) as exc:
        raise Unusable(str(exc)) from None
    if components is not None:
        names = [item.value for item in components]
        if "content-digest" in names and message.header("content-digest") is None:
            message.set_header("Content-Digest", httpsig.content_digest(message.body))
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

        return confirmation_key(signature_key), "the JWT's own signature was not checked (its issuer's keys are not at hand)"
    raise Unusable(f"scheme {signature_key.scheme} names a key this command cannot fetch offline; pass --key")


def verify_message(message: HttpMessage, *, key: Key | None, label: str | None, now: int, window: int | None) -> tuple[str, str | None]:
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
    named, note = (None, None) if signature_key.scheme == "jwks_uri" else _key_named_by_signature_key(signature_key)
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
#: One line per token type: what it is, who signs it, what it is for (draft -11).
TYP_EXPLANATIONS = {
    tokens.AGENT_TYP: "an agent token: the Agent Provider (AP) in iss signs it to bind the agent's key "
    "(cnf.jwk) to the agent identifier in sub; the agent presents it in Signature-Key "
    '(-11 "Agent Tokens")',
    tokens.PERSON_TYP: "a person token: the Person Server (PS) in iss signs it to tell one resource (aud) "
    "which person (sub) the agent holding cnf.jwk acts for; the agent presents it in Signature-Key "
    '(-11 "Person Tokens")',
    tokens.RESOURCE_TYP: "a resource token: the resource in iss signs it in a challenge, asking the PS or AS "
    "in aud to authorize scope for the agent whose key thumbprint is agent_jkt; the agent passes it on "
    'to the auth token endpoint (-11 "Resource Tokens")',
    tokens.AUTH_TYP: "an auth token: the PS (dwk aauth-person.json) or AS (aauth-access.json) in iss signs it "
    "to grant the agent holding cnf.jwk access to the resource in aud for the person sub; the agent "
    'presents it in Signature-Key (-11 "Auth Tokens")',
}
LEGACY_TYPS = {
    "agent+jwt": "the pre -oauth drafts' agent token type; -11 uses aa-agent+jwt",
    "auth+jwt": "the pre -oauth drafts' auth token type; -11 uses aa-auth+jwt",
    "resource+jwt": "the pre -oauth drafts' resource token type; -11 uses aa-resource+jwt",
    "jkt-s256+jwt": "a jkt-jwt (Signature Keys -09 §3.5): self-issued by the key in its header, not an AAuth token",
    "jkt-s512+jwt": "a jkt-jwt (Signature Keys -09 §3.5): self-issued by the key in its header, not an AAuth token",
}
SIGNERS = {
    tokens.AGENT_TYP: "the Agent Provider",
    tokens.PERSON_TYP: "the Person Server",
    tokens.RESOURCE_TYP: "the resource",
    tokens.AUTH_TYP: "the Person Server or Access Server",
}
HEADER_EXPLANATIONS = {
    "alg": "signature algorithm",
    "typ": 'token type, checked before anything else (-11 "Common JWT Verification")',
    "kid": "key id: selects the issuer's key in its JWKS",
    "crit": "critical extensions: the kit understands none, so verification fails",
    "jwk": "the signing key itself (jkt-jwt, Signature Keys -09 §3.5)",
}
_PERSON_SUB = "subject: the person, as a pairwise identifier the PS directs at this audience; identity is (iss, sub)"
#: Claim explanations; a dict value is keyed by token type (None: any other type).
CLAIM_EXPLANATIONS = {
    "iss": "issuer",
    "dwk": "well-known document: the issuer's keys are found at {iss}/.well-known/{dwk} -> jwks_uri",
    "sub": {
        tokens.AGENT_TYP: "subject: the agent identifier (aauth:local@domain), stable across key rotation",
        tokens.RESOURCE_TYP: "subject: the person, copied from the token the agent presented",
        None: _PERSON_SUB,
    },
    "aud": {
        tokens.PERSON_TYP: "audience: the one resource this person token is for",
        tokens.RESOURCE_TYP: "audience: the PS (three-party) or AS (four-party) that may exchange this token",
        tokens.AUTH_TYP: "audience: the one resource this auth token is for",
        None: "audience",
    },
    "jti": "token id: unique per token; revocation and presented_jti refer to it",
    "iat": "issued at (not a validity check under -11)",
    "exp": "expires (verifiers allow no tolerance)",
    "nbf": "not before (AAuth does not use it)",
    "cnf": "confirmation: every request presenting this token must be signed by cnf.jwk",
    "ps": {
        tokens.AGENT_TYP: "Person Server hint: the agent's PS (only a hint; the PS that counts is the person token's iss)",
        tokens.RESOURCE_TYP: "Person Server: whose token the agent presented (person token iss / auth token ps)",
        tokens.AUTH_TYP: "Person Server: the person's PS (equals iss when the PS issued this token)",
        None: "Person Server",
    },
    "agent_jkt": "agent key thumbprint (RFC 7638): the key that must sign the auth token request",
    "presented_jti": "jti of the person or auth token the agent presented to the resource",
    "person_token_jti": "the intermediate -11 name of presented_jti (read as presented_jti)",
    "scope": {
        tokens.RESOURCE_TYP: "scope: the access the agent asks for (space-separated)",
        None: "scope: the access granted (space-separated)",
    },
    "account": "account: the account at the resource the agent asked for",
    "mission_s256": "mission: base64url SHA-256 of the approved mission blob",
    "tenant": "tenant: the organisation context (not part of the identity)",
    "parent_agent": "parent agent: marks a sub-agent and names the agent that created it",
    "interaction": "interaction: the resource needs its own user interaction (url + code) first",
    "login_hint": "login hint: the agent copies it into its auth token request",
    "agent": "agent identifier, a -09 claim that -11 removed from resource and auth tokens",
    "act": "actor chain, removed in -11",
}
TIME_CLAIMS = ("iat", "exp", "nbf")
_UNITS = (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration_in_words(seconds: int) -> str:
    """Seconds in words: the largest unit and the next one, rounded down
    (``3600`` → ``1 hour``, ``3720`` → ``1 hour 2 minutes``, ``3650`` → ``1 hour``)."""
    parts, rest = [], abs(seconds)
    for name, size in _UNITS:
        if rest >= size and len(parts) < 2:
            count, rest = divmod(rest, size)
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        elif parts:
            break
    return " ".join(parts) or "0 seconds"


def _utc(value: int) -> str:
    """``1770000000 = 2026-02-02 02:40:00 UTC``."""
    try:
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{value} (out of the range of dates)"
    return f"{value} = {moment:%Y-%m-%d %H:%M:%S} UTC"


def time_in_words(value, now: int) -> str:
    """A NumericDate as absolute UTC plus ``in 5 minutes`` / ``3 minutes ago`` relative to ``now``."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{_show(value)} (not an integer NumericDate)"
    delta = value - now
    relative = "now" if delta == 0 else f"in {duration_in_words(delta)}" if delta > 0 else f"{duration_in_words(delta)} ago"
    return f"{_utc(value)} ({relative})"


def _show(value) -> str:
    """A JSON value on one line, control characters escaped."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return "(too deeply nested to show)"


def _label(name: str) -> str:
    """A member name as a line label; odd names (control characters, ...) quoted."""
    return name if name and name.isprintable() and name == name.strip() else _show(name)


def _pretty(value: dict) -> str:
    """A JSON object indented, as the header and payload are shown."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return _show(value)


def explain_typ(typ) -> str:
    """Which of the four AAuth token types ``typ`` names, who signs it and what it is for."""
    if not isinstance(typ, str):
        return "typ is missing or not a string: not an AAuth token (AAuth verifiers check typ first and reject it)"
    found = typ.lower().removeprefix("application/")
    if found in TYP_EXPLANATIONS:
        return f"{found} is {TYP_EXPLANATIONS[found]}."
    if found in LEGACY_TYPS:
        return f"{_show(typ)} is {LEGACY_TYPS[found]}."
    return f"{_show(typ)} is not one of the four AAuth token types ({', '.join(tokens.TYPES)})."


def _explain_header(name: str, value) -> str:
    """``value — explanation`` for one JOSE header member."""
    text = HEADER_EXPLANATIONS.get(name, "not used by AAuth")
    if name == "alg":
        if value in SUPPORTED_ALGS:
            text += ", fully specified, accepted"
        elif value == "EdDSA":
            text += ", polymorphic: forbidden since draft -10 (use Ed25519)"
        elif value == "none":
            text += ": an unsigned token, never accepted"
        else:
            text += f", not accepted (the kit verifies {', '.join(SUPPORTED_ALGS)})"
    return f"{_show(value)} — {text}"


def _cnf_summary(value) -> str:
    """The confirmation key in a few words: type, curve, ``alg`` and RFC 7638 thumbprint."""
    jwk = value.get("jwk") if isinstance(value, dict) else None
    if not isinstance(jwk, dict):
        return "no jwk object inside"
    try:
        return f"{_show(jwk.get('kty'))}/{_show(jwk.get('crv'))} key, alg {_show(jwk.get('alg'))}, thumbprint {jwk_thumbprint(jwk)}"
    except SignatureError as exc:
        return f"unusable key: {exc.detail}"


def _explain_claim(typ: str | None, name: str, value, payload: dict, now: int) -> str:
    """``value — explanation`` for one claim, times in words, ``cnf`` summarized."""
    text = CLAIM_EXPLANATIONS.get(name, "not an AAuth claim; verifiers ignore it")
    if isinstance(text, dict):
        text = text.get(typ, text[None])
    if name == "iss" and typ in SIGNERS:
        text = f"issuer: {SIGNERS[typ]} that signed this token"
    if name == "dwk" and isinstance(payload.get("iss"), str) and isinstance(value, str):
        text = text.format(iss=payload["iss"], dwk=value)
    if name in tokens.FORBIDDEN_CLAIMS.get(typ, ()):
        text += f" (an {typ} must not contain it)"
    elif typ in tokens.TYPES and name in CLAIM_EXPLANATIONS and name not in tokens.REQUIRED_CLAIMS[typ] + tokens.OPTIONAL_CLAIMS[typ]:
        text += f" (not defined for an {typ}; ignored)"
    if name in TIME_CLAIMS:
        return f"{time_in_words(value, now)} — {text}"
    if name == "cnf":
        return f"{_cnf_summary(value)} — {text}"
    return f"{_show(value)} — {text}"


def describe_token(decoded: tokens.Decoded, now: int) -> str:
    """The human-readable explanation ``decode`` prints: typ, header, payload, claims, times."""
    header, payload = decoded.header, decoded.payload
    raw_typ = header.get("typ")
    typ = raw_typ.lower().removeprefix("application/") if isinstance(raw_typ, str) else None
    lines = [explain_typ(raw_typ), "", "JOSE header:", _pretty(header)]
    lines += [f"  {_label(name)}: {_explain_header(name, value)}" for name, value in header.items()]
    lines += ["", "Payload:", _pretty(payload)]
    lines += [f"  {_label(name)}: {_explain_claim(typ, name, value, payload, now)}" for name, value in payload.items()]
    iat, exp = payload.get("iat"), payload.get("exp")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        lifetime = f"lifetime (exp - iat): {duration_in_words(exp - iat)}" if exp >= iat else "lifetime: exp is before iat"
        if typ in (tokens.PERSON_TYP, tokens.AUTH_TYP):
            verdict = "within" if exp - iat <= tokens.MAX_LIFETIME else "exceeds"
            lifetime += f" ({verdict} the -11 limit of {duration_in_words(tokens.MAX_LIFETIME)} for an {typ})"
        lines.append(f"  {lifetime}")
    cnf = payload.get("cnf")
    if isinstance(cnf, dict) and "jwk" in cnf:
        try:
            lines.append(f"cnf.jwk thumbprint (RFC 7638, SHA-256): {jwk_thumbprint(cnf['jwk'])}")
        except SignatureError as exc:
            lines.append(f"cnf.jwk thumbprint: none ({exc.detail})")
    return "\n".join(lines)


def load_jwks(path: str) -> tuple[list[dict], bool]:
    """A ``--jwks`` file: the public JWKs of a JWKS, or of a single JWK (then True)."""
    try:
        doc = json.loads(_read(path))
    except (ValueError, RecursionError):
        raise Unusable(f"{path} is not JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("keys"), list) and all(isinstance(k, dict) for k in doc["keys"]):
        keys, single_jwk = doc["keys"], False
    elif isinstance(doc, dict) and "kty" in doc:
        keys, single_jwk = [doc], True
    else:
        raise Unusable(f"{path} holds neither a JWKS (an object with a keys array) nor a JWK")
    return [{name: value for name, value in jwk.items() if name != "d"} for jwk in keys], single_jwk


def issuer_key(keys: list[dict], single_jwk: bool, kid) -> Key:
    """The key that must have signed the token: the one the header ``kid`` selects, or
    the only key (a single JWK, or a JWKS of one when the header has no ``kid``).
    The key must carry a fully-specified ``alg`` (-11 "Signature Algorithms")."""
    if single_jwk or (kid is None and len(keys) == 1):
        return Key.from_jwk(keys[0], require_alg=True)
    if kid is None:
        raise SignatureError("unknown_key", f"the token names no kid and the JWKS holds {len(keys)} keys")
    if not isinstance(kid, str):
        raise TokenError("invalid_jwt", "kid must be a string")
    return select_key({"keys": keys}, kid, where="the JWKS")


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
        decoded = tokens.decode_unverified(token)
    except TokenError as exc:
        raise Unusable(f"not a JWT ({exc.code}): {exc.detail}") from None
    _write(describe_token(decoded, now))
    if jwks is None:
        return EXIT_VALID
    _write("")
    _write(f"Verification with the keys in {args.jwks} at {_utc(now)}:")
    try:
        key = issuer_key(*jwks, decoded.header.get("kid"))
        tokens.check_token(token, typ=tokens.TYPES, key=key, now=now, dev=args.dev)
    except AAuthError as exc:
        _write(f"{exc.code}: {exc.detail}")
        return EXIT_INVALID
    _write("valid")
    return EXIT_VALID


def _write(text: str) -> None:
    """Print ``text``; characters the terminal cannot encode are escaped, never fatal."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))


# -- entry point -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aauth-kit", description="AAuth (Agent Auth) teaching kit and reference tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sign-http", help="sign a raw HTTP/1.1 request (RFC 9421, AAuth profile)")
    s.add_argument("file", help="raw request file, or - for standard input")
    s.add_argument("--key", required=True, help="private key: JWK (JSON) or PEM file")
    s.add_argument("--label", default="sig")
    s.add_argument("--components", help="component identifiers as in Signature-Input, e.g. '\"@method\" \"@path\"'")
    s.add_argument("--created", type=int, help="created parameter (default: now)")
    s.add_argument("--expires", type=int)
    s.add_argument("--keyid")
    s.add_argument("--signature-key", default="hwk", help="none | hwk | jwt:TOKEN | jwks_uri:ID,DWK,KID (default hwk)")
    s.add_argument("--scheme", default="https", help="scheme for @target-uri when the request line is origin-form")
    s.set_defaults(run=cmd_sign_http)

    v = sub.add_parser("verify-http", help="verify the signature of a raw HTTP/1.1 request")
    v.add_argument("file", help="raw request file, or - for standard input")
    v.add_argument("--key", help="public key: JWK (JSON) or PEM file (default: the key Signature-Key names)")
    v.add_argument("--label", help="signature label (default: the first one present)")
    v.add_argument("--now", type=int, help="pin the clock (Unix seconds)")
    v.add_argument("--window", type=int, help="accepted age of created, seconds (default 60 with Signature-Key, none without)")
    v.add_argument("--scheme", default="https")
    v.set_defaults(run=cmd_verify_http)

    d = sub.add_parser("decode", help="explain an AAuth token (JWT); optionally verify it")
    d.add_argument("token", help="the compact JWT, or - for standard input")
    d.add_argument("--jwks", help="issuer keys: a JWKS or a single JWK (JSON file); verifies the token")
    d.add_argument("--now", type=int, help="pin the clock (Unix seconds) for relative times and verification")
    d.add_argument("--dev", action="store_true", help="dev mode: accept http://127.0.0.1:PORT and http://localhost:PORT issuers")
    d.set_defaults(run=cmd_decode)

    from . import serve  # the cast's commands (issue 3); imported here to keep the others light

    r = sub.add_parser("serve", help="run the whole cast on 127.0.0.1 (dev mode) until Ctrl-C")
    serve.add_cast_options(r, seed_ports=True)
    r.set_defaults(run=serve.serve)

    m = sub.add_parser("demo", help="play the seed's consent story in the terminal, printing each message")
    serve.add_cast_options(m, seed_ports=False)
    decision = m.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve the consent request automatically")
    decision.add_argument("--deny", action="store_true", help="deny the consent request automatically")
    m.add_argument("--prompt", default="Optimize laptop supply chain", help='the job prompt (say "market" for the call chain)')
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
