"""AAuth in words: what each token type is, what each JOSE header member and claim
means, NumericDates as dates and durations, and what each ``AAuth-Requirement`` value
and ``Signature-Error`` code asks of the agent.

The text follows draft -11 "Agent Token", "Person Token", "Resource Token", "Auth Token"
(their structure and verification subsections), "JWT Type Registrations" and "Requirement
Responses", and Signature Keys -09 "Signature-Error HTTP Response Header".
``aauth-kit decode`` prints :func:`describe_token`; the widgets show the same lines one
by one.  Nothing here verifies anything.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from . import jws
from .claims import (
    AGENT_TYP,
    AUTH_TYP,
    FORBIDDEN_CLAIMS,
    MAX_LIFETIME,
    OPTIONAL_CLAIMS,
    PERSON_TYP,
    REQUIRED_CLAIMS,
    RESOURCE_TYP,
    TYPES,
)
from .errors import SignatureError
from .keys import SUPPORTED_ALGS, jwk_thumbprint

#: One line per token type: what it is, who signs it, what it is for (draft -11).
TYP_EXPLANATIONS = {
    AGENT_TYP: "an agent token: the Agent Provider (AP) in iss signs it to bind the agent's key "
    "(cnf.jwk) to the agent identifier in sub; the agent presents it in Signature-Key "
    '(-11 "Agent Token Structure")',
    PERSON_TYP: "a person token: the Person Server (PS) in iss signs it to tell one resource (aud) "
    "which person (sub) the agent holding cnf.jwk acts for; the agent presents it in Signature-Key "
    '(-11 "Person Token Structure")',
    RESOURCE_TYP: "a resource token: the resource in iss signs it in a challenge, asking the PS or AS "
    "in aud to authorize scope for the agent whose key thumbprint is agent_jkt; the agent passes it on "
    'to the auth token endpoint (-11 "Resource Token Structure")',
    AUTH_TYP: "an auth token: the PS (dwk aauth-person.json) or AS (aauth-access.json) in iss signs it "
    "to grant the agent holding cnf.jwk access to the resource in aud for the person sub; the agent "
    'presents it in Signature-Key (-11 "Auth Token Structure")',
}
LEGACY_TYPS = {
    "agent+jwt": "the pre -oauth drafts' agent token type; -11 uses aa-agent+jwt",
    "auth+jwt": "the pre -oauth drafts' auth token type; -11 uses aa-auth+jwt",
    "resource+jwt": "the pre -oauth drafts' resource token type; -11 uses aa-resource+jwt",
    "jkt-s256+jwt": 'a jkt-jwt (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)"): self-issued by the key in its header, not an AAuth token',
    "jkt-s512+jwt": 'a jkt-jwt (Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)"): self-issued by the key in its header, not an AAuth token',
}
SIGNERS = {
    AGENT_TYP: "the Agent Provider",
    PERSON_TYP: "the Person Server",
    RESOURCE_TYP: "the resource",
    AUTH_TYP: "the Person Server or Access Server",
}
HEADER_EXPLANATIONS = {
    "alg": "signature algorithm",
    "typ": 'token type, checked before anything else (-11 "Agent Token Verification" step 1, the same for every token)',
    "kid": "key id: selects the issuer's key in its JWKS",
    "crit": "critical extensions: the kit understands none, so verification fails",
    "jwk": 'the signing key itself (jkt-jwt, Signature Keys -09 "JKT JWT Self-Issued Key Delegation (jkt-jwt)")',
}
_PERSON_SUB = (
    "subject: the person, as a pairwise identifier the PS directs at this audience; identity is (iss, sub)"
)
#: Claim explanations; a dict value is keyed by token type (None: any other type).
CLAIM_EXPLANATIONS = {
    "iss": "issuer",
    "dwk": "well-known document: the issuer's keys are found at {iss}/.well-known/{dwk} -> jwks_uri",
    "sub": {
        AGENT_TYP: "subject: the agent identifier (aauth:local@domain), stable across key rotation",
        RESOURCE_TYP: "subject: the person, copied from the token the agent presented",
        None: _PERSON_SUB,
    },
    "aud": {
        PERSON_TYP: "audience: the one resource this person token is for",
        RESOURCE_TYP: "audience: the PS (three-party) or AS (four-party) that may exchange this token",
        AUTH_TYP: "audience: the one resource this auth token is for",
        None: "audience",
    },
    "jti": "token id: unique per token; revocation and presented_jti refer to it",
    "iat": "issued at (not a validity check under -11)",
    "exp": "expires (verifiers allow no tolerance)",
    "nbf": "not before (AAuth does not use it)",
    "cnf": "confirmation: every request presenting this token must be signed by cnf.jwk",
    "ps": {
        AGENT_TYP: "Person Server hint: the agent's PS (only a hint; the PS that counts is the person token's iss)",
        RESOURCE_TYP: "Person Server: whose token the agent presented (person token iss / auth token ps)",
        AUTH_TYP: "Person Server: the person's PS (equals iss when the PS issued this token)",
        None: "Person Server",
    },
    "agent_jkt": "agent key thumbprint (RFC 7638): the key that must sign the auth token request",
    "presented_jti": "jti of the person or auth token the agent presented to the resource",
    "person_token_jti": "the intermediate -11 name of presented_jti (read as presented_jti)",
    "scope": {
        RESOURCE_TYP: "scope: the access the agent asks for (space-separated)",
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
#: What each -11 ``requirement`` value asks the agent to do ("Requirement Responses").
REQUIREMENT_WORDS = {
    "agent-token": "the resource wants to know which agent calls: sign again presenting an agent token",
    "person-token": "the resource wants to know which person the agent acts for: get a person token "
    "from the PS and present it",
    "auth-token": "take the resource token to the PS auth token endpoint and come back presenting "
    "the auth token it grants",
    "interaction": "a person must act: open url, enter code, then keep polling the pending URL",
    "approval": "the server is getting a person's approval itself: keep polling the pending URL",
    "clarification": "the person asks a question (in the body): answer it at the pending URL",
    "claims": "the access server needs identity claims (listed in the body) from the PS",
}
#: What each Signature-Error code (Signature Keys -09 "Error Codes") says went wrong.
SIGNATURE_ERROR_WORDS = {
    "unsupported_algorithm": "the signing algorithm is not one the server accepts (see Accept-Signature-Alg)",
    "unsupported_scheme": "the Signature-Key scheme is not one the server accepts (see Accept-Signature-Scheme)",
    "cache_miss": "the server no longer holds the cached key: send the full Signature-Key again",
    "invalid_signature": "the signature is missing, malformed, too old, or does not verify over the signature base",
    "invalid_input": "the signature does not cover every required component (see required_input)",
    "invalid_request": "the signature headers cannot be parsed",
    "invalid_key": "the key is unusable, or not the key the token binds (cnf.jwk)",
    "unknown_key": "no key with that kid in the signer's JWKS",
    "issuer_missing": "the issuer's metadata or JWKS could not be fetched",
    "issuer_mismatch": "the metadata names another issuer than the one asked",
    "invalid_jwt": "the token in Signature-Key is malformed, of the wrong typ, or its signature or claims fail",
    "expired_jwt": "the token in Signature-Key has expired",
    "revoked_jwt": "the token in Signature-Key has been revoked",
    "clock_skew": "created (or iat) lies too far in the future: the clocks disagree",
}
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


def utc(value: int) -> str:
    """``1770000000 = 2026-02-02 02:40:00 UTC``."""
    try:
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{value} (out of the range of dates)"
    return f"{value} = {moment:%Y-%m-%d %H:%M:%S} UTC"


def time_in_words(value, now: int) -> str:
    """A NumericDate as absolute UTC plus ``in 5 minutes`` / ``3 minutes ago`` relative to ``now``."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{show(value)} (not an integer NumericDate)"
    delta = value - now
    relative = (
        "now"
        if delta == 0
        else f"in {duration_in_words(delta)}"
        if delta > 0
        else f"{duration_in_words(delta)} ago"
    )
    return f"{utc(value)} ({relative})"


def show(value) -> str:
    """A JSON value on one line, control characters escaped."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return "(too deeply nested to show)"


def label(name: str) -> str:
    """A member name as a line label; odd names (control characters, ...) quoted."""
    return name if name and name.isprintable() and name == name.strip() else show(name)


def pretty(value: dict) -> str:
    """A JSON object indented, as the header and payload are shown."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return show(value)


def explain_typ(typ) -> str:
    """Which of the four AAuth token types ``typ`` names, who signs it and what it is for."""
    if not isinstance(typ, str):
        return "typ is missing or not a string: not an AAuth token (AAuth verifiers check typ first and reject it)"
    found = typ.lower().removeprefix("application/")
    if found in TYP_EXPLANATIONS:
        return f"{found} is {TYP_EXPLANATIONS[found]}."
    if found in LEGACY_TYPS:
        return f"{show(typ)} is {LEGACY_TYPS[found]}."
    return f"{show(typ)} is not one of the four AAuth token types ({', '.join(TYPES)})."


def token_type(header: dict) -> str | None:
    """The header's ``typ`` as compared (RFC 7515 §4.1.9: case-insensitive, ``application/``
    optional), or None when it is not a string."""
    typ = header.get("typ")
    return typ.lower().removeprefix("application/") if isinstance(typ, str) else None


@dataclass(frozen=True)
class Explained:
    """One header member or claim: its ``name``, its ``value`` in words (a time as a date
    and a distance from now, ``cnf`` as a key summary) and what it ``means``."""

    name: str
    value: str
    means: str

    def line(self) -> str:
        return f"  {label(self.name)}: {self.value} — {self.means}"


def explain_header(name: str, value) -> Explained:
    """One JOSE header member explained (``alg`` also says whether AAuth accepts it)."""
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
    return Explained(name, show(value), text)


def cnf_summary(value) -> str:
    """The confirmation key in a few words: type, curve, ``alg`` and RFC 7638 thumbprint."""
    jwk = value.get("jwk") if isinstance(value, dict) else None
    if not isinstance(jwk, dict):
        return "no jwk object inside"
    try:
        return f"{show(jwk.get('kty'))}/{show(jwk.get('crv'))} key, alg {show(jwk.get('alg'))}, thumbprint {jwk_thumbprint(jwk)}"
    except SignatureError as exc:
        return f"unusable key: {exc.detail}"


def explain_claim(typ: str | None, name: str, value, payload: dict, now: int) -> Explained:
    """One claim explained for a token of type ``typ``: times in words, ``cnf`` summarized,
    claims the type forbids or does not define marked."""
    text = CLAIM_EXPLANATIONS.get(name, "not an AAuth claim; verifiers ignore it")
    if isinstance(text, dict):
        text = text.get(typ, text[None])
    if name == "iss" and typ in SIGNERS:
        text = f"issuer: {SIGNERS[typ]} that signed this token"
    if name == "dwk" and isinstance(payload.get("iss"), str) and isinstance(value, str):
        text = text.format(iss=payload["iss"], dwk=value)
    if name in FORBIDDEN_CLAIMS.get(typ, ()):
        text += f" (an {typ} must not contain it)"
    elif (
        typ in TYPES
        and name in CLAIM_EXPLANATIONS
        and name not in REQUIRED_CLAIMS[typ] + OPTIONAL_CLAIMS[typ]
    ):
        text += f" (not defined for an {typ}; ignored)"
    if name in TIME_CLAIMS:
        return Explained(name, time_in_words(value, now), text)
    if name == "cnf":
        return Explained(name, cnf_summary(value), text)
    return Explained(name, show(value), text)


def lifetime_in_words(payload: dict, typ: str | None) -> str | None:
    """``exp - iat`` in words; for person and auth tokens also whether it keeps within the
    -11 one-hour limit.  None unless both are integers."""
    iat, exp = payload.get("iat"), payload.get("exp")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        return None
    if exp < iat:
        return "lifetime: exp is before iat"
    text = f"lifetime (exp - iat): {duration_in_words(exp - iat)}"
    if typ in (PERSON_TYP, AUTH_TYP):
        verdict = "within" if exp - iat <= MAX_LIFETIME else "exceeds"
        text += f" ({verdict} the -11 limit of {duration_in_words(MAX_LIFETIME)} for an {typ})"
    return text


def cnf_thumbprint(payload: dict) -> str | None:
    """The RFC 7638 thumbprint line for ``cnf.jwk`` (None without one)."""
    cnf = payload.get("cnf")
    if not (isinstance(cnf, dict) and "jwk" in cnf):
        return None
    try:
        return f"cnf.jwk thumbprint (RFC 7638, SHA-256): {jwk_thumbprint(cnf['jwk'])}"
    except SignatureError as exc:
        return f"cnf.jwk thumbprint: none ({exc.detail})"


def describe_token(decoded: jws.Decoded, now: int) -> str:
    """The human-readable explanation ``decode`` prints: typ, header, payload, claims, times."""
    header, payload = decoded.header, decoded.payload
    typ = token_type(header)
    lines = [explain_typ(header.get("typ")), "", "JOSE header:", pretty(header)]
    lines += [explain_header(name, value).line() for name, value in header.items()]
    lines += ["", "Payload:", pretty(payload)]
    lines += [explain_claim(typ, name, value, payload, now).line() for name, value in payload.items()]
    lifetime = lifetime_in_words(payload, typ)
    if lifetime:
        lines.append(f"  {lifetime}")
    thumbprint = cnf_thumbprint(payload)
    if thumbprint:
        lines.append(thumbprint)
    return "\n".join(lines)
