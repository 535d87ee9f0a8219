"""Judging what a resource publishes and challenges with: its metadata (-11 "Resource
Metadata"), its ``AAuth-Requirement`` headers (-11 "AAuth-Requirement Header Structure",
"Requirement Values") and the resource token in ``requirement=auth-token`` (-11 "Resource
Token Structure", "Resource Challenge Verification").

Each function takes the :class:`~.target.Target` and returns ``(outcome, why, answer)``;
it raises :class:`~.target.Skipped` when the target gives it nothing to judge.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .. import headers, metadata
from ..claims import RESOURCE_TYP
from ..errors import AAuthError
from ..http_client import httpx
from ..identifiers import check_endpoint_url
from ..jwks import select_key
from ..jws import decode_unverified
from ..token_verification import check_token
from .report import FAIL, INFO, PASS, Answer
from .target import Skipped, Target, Unanswered

#: What status each requirement value comes with (-11 "Requirement Values"); ``auth-token``
#: may also come as ``402`` (payment) or ``202`` (-11 "Deferred Delivery").
STATUSES = {
    "agent-token": (401,),
    "person-token": (401,),
    "auth-token": (401, 402, 202),
    "interaction": (202,),
    "approval": (202,),
    "clarification": (202,),
}
#: The longest a resource token SHOULD live (-11 "Resource Token Structure").
RESOURCE_TOKEN_LIFETIME = 300


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def judge_metadata(target: Target):
    """-11 "Resource Metadata", "Metadata Documents": ``issuer`` is the URL it was fetched
    from, every member well formed, ``jwks_uri`` a JWKS (absent only for a resource that
    issues no resource tokens)."""
    doc = target.metadata()
    try:
        metadata.validate_metadata(doc, target.origin, metadata.RESOURCE_DWK, dev=target.dev, complete=True)
    except AAuthError as exc:
        return FAIL, f"{metadata.RESOURCE_DWK}: {exc.detail}", None
    if "jwks_uri" not in doc:
        return (
            INFO,
            "no jwks_uri: fine for identity-only access, required once it issues resource tokens",
            None,
        )
    try:
        keys = target.jwks()["keys"]
    except AAuthError as exc:
        return FAIL, exc.detail, None
    return PASS, f"issuer {doc['issuer']}, {len(keys)} key(s) at jwks_uri", None


def judge_authorization_endpoint(target: Target):
    """-11 "Resource Metadata": ``authorization_endpoint``, when present, is an https endpoint
    of the resource itself (the agent sends its person token there, -11 "Authorization
    Endpoint Request")."""
    endpoint = target.metadata().get("authorization_endpoint")
    if endpoint is None:
        raise Skipped("the metadata names no authorization_endpoint")
    try:
        check_endpoint_url(endpoint, dev=target.dev)
    except AAuthError as exc:
        return FAIL, f"authorization_endpoint {endpoint!r}: {exc.detail}", None
    if _origin(endpoint) != target.origin:
        return (
            FAIL,
            (
                f"authorization_endpoint {endpoint} is not on the resource's origin {target.origin}: the agent "
                "would sign its person token over to another server"
            ),
            None,
        )
    return PASS, "", None


def _judge_requirement(response: httpx.Response) -> tuple[str, str]:
    try:
        requirement = headers.parse_requirement(response.headers["aauth-requirement"])
    except AAuthError as exc:
        return FAIL, f"AAuth-Requirement is malformed: {exc.detail}"
    value = requirement.requirement
    if value not in STATUSES:
        known = "an Access Server's value" if requirement.known else "no value -11 defines"
        return INFO, f"requirement={value} is {known}; an agent cannot act on it at a resource"
    if response.status_code not in STATUSES[value]:
        wanted = " or ".join(map(str, STATUSES[value]))
        return FAIL, f"requirement={value} comes with {wanted}, not {response.status_code}"
    return PASS, f"requirement={value} with {response.status_code}"


def judge_requirement_header(target: Target):
    """Every ``AAuth-Requirement`` the probe met (to an unsigned request and, with an Agent
    Provider, on the way up the challenge ladder): a Dictionary whose ``requirement`` is a
    Token with the parameters its value needs, on the status -11 "Requirement Values" gives it."""
    answers = [target.request(target.prober.message())]
    if target.prober.agent_provider is not None:
        target.challenge()
        answers += target.seen
    judged = [(*_judge_requirement(r), r) for r in answers if "aauth-requirement" in r.headers]
    if not judged:
        raise Skipped("no answer carried AAuth-Requirement")
    for outcome in (FAIL, INFO):
        for found, why, response in judged:
            if found == outcome:
                return found, why, Answer.of(response)
    _, why, response = judged[-1]
    return PASS, why, Answer.of(response)


def judge_resource_token(target: Target):
    """-11 "Resource Challenge Verification" as an agent does it, and -11 "Resource Token
    Structure": ``typ``, signature by a key of the resource's JWKS, ``iss`` the resource,
    ``agent_jkt`` the probe's key, ``ps``/``sub`` from the probe's person token, ``aud`` its
    PS or an Access Server, ``exp`` ahead, an ``interaction`` at an https URL."""
    if target.prober.agent_provider is None:
        raise Skipped("needs an Agent Provider the resource trusts (--agent-provider)")
    response, person_token = target.challenge()
    answer = Answer.of(response)
    try:
        requirement = headers.parse_requirement(response.headers.get("aauth-requirement", ""))
    except AAuthError:
        requirement = None
    if requirement is None or requirement.requirement != "auth-token":
        raise Skipped(f"this URL asks for no auth token (answered {answer.describe()})")
    try:
        why = _verify_resource_token(target, requirement.resource_token, person_token)
    except AAuthError as exc:
        return FAIL, f"the resource token does not verify: {exc.detail}", answer
    return (INFO if why else PASS), why, answer


def _verify_resource_token(target: Target, token: str, person_token: str | None) -> str:
    decoded = decode_unverified(token)
    if decoded.header.get("typ") != RESOURCE_TYP:
        raise AAuthError("invalid_jwt", f"typ is {decoded.header.get('typ')!r}, not {RESOURCE_TYP}")
    key = select_key(target.jwks(), decoded.header.get("kid"), where="the resource's JWKS")
    now = target.prober.now()
    verified = check_token(token, typ=RESOURCE_TYP, key=key, now=now, dev=target.dev)
    claims = verified.payload
    issuer = target.metadata().get("issuer")
    if claims["iss"] not in (target.origin, issuer):
        raise AAuthError("invalid_jwt", f"iss is {claims['iss']!r}, not the resource {target.origin}")
    if claims.get("agent_jkt") != target.prober.key.thumbprint():
        raise AAuthError("invalid_jwt", "agent_jkt is not the thumbprint of the key that signed the request")
    if person_token is not None:
        person = decode_unverified(person_token).payload
        for name, wanted in (("ps", person["iss"]), ("sub", person["sub"]), ("presented_jti", person["jti"])):
            if claims.get(name) != wanted:
                raise AAuthError(
                    "invalid_jwt", f"{name} is {claims.get(name)!r}, not {wanted!r} from the person token"
                )
        if claims["aud"] != person["iss"] and not _is_access_server(target, claims["aud"]):
            raise AAuthError(
                "invalid_jwt", f"aud {claims['aud']!r} is neither the agent's PS nor an Access Server"
            )
    interaction = claims.get("interaction")
    if interaction is not None:
        # -11 "Resource Token Structure": "url: HTTPS URL of the resource's interaction endpoint"
        check_endpoint_url(interaction["url"], dev=target.dev)
    if claims["exp"] - claims["iat"] > RESOURCE_TOKEN_LIFETIME:
        return f"the resource token lives {claims['exp'] - claims['iat']} s; it SHOULD NOT exceed 5 minutes"
    return ""


def _is_access_server(target: Target, aud: str) -> bool:
    """Four-party: ``aud`` publishes ``aauth-access.json`` naming itself (-11 "Access Server Metadata")."""
    try:
        response, doc = target.get_json(metadata.well_known_url(aud, metadata.ACCESS_DWK))
    except (Unanswered, httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200 and isinstance(doc, dict) and doc.get("issuer") == aud
