"""The agent: an ``httpx.Auth`` flow that signs every request and follows AAuth
requirements to a result (draft -11 §5.2 agent identity, §5.4 person tokens, §5.5 PS
authorization, §5.6 deferred consent, §5.9 deferred auth-token delivery; wire notes
§3.6 ``AAuth-Requirement``, §3.9 deferred responses, §7.7 what an agent verifies).

One generator, :meth:`AAuthFlow.auth_flow`, reads like the sequence diagram::

    sign with the best token held for the resource (auth > person > agent token)
    401 requirement=agent-token   → sign with the agent token, retry
    401 requirement=person-token  → POST person_token_endpoint at the PS,
                                    check the person token, retry with it
    401 requirement=auth-token    → check the resource token, POST auth_token_endpoint
                                    (Prefer: wait) → 202 → interaction → poll → 200
                                  → check the auth token, retry with it
    202 requirement=auth-token    → the same, then poll the resource's Location with it

Every token the PS hands out is checked before it is kept: its claims (-11 §5.5
step 8, MUST) and its signature (SHOULD), with the key its ``kid`` names in the JWKS
the PS's metadata points to (``jwks_uri``; fetched once per PS and kept for its
``Cache-Control`` lifetime by a :class:`metadata.HttpResolver`, which also refetches on
an unknown ``kid`` at most once a minute).

PS calls — metadata and JWKS discovery included — are yielded from the same
generator, so they travel over the client's transport and its event hooks record them
in the trace.  Waiting between polls is yielded too (:class:`Pause`); the sync and
async drivers sleep their own way, so one generator serves ``httpx.Client`` and
``httpx.AsyncClient``.

Missions (-11 §8, wire §4.5, §5.12): :meth:`Agent.start_mission` asks the PS's
``mission_endpoint`` (following a ``202`` like any deferred request), checks ``s256``
against the decoded blob bytes and keeps both (:attr:`Agent.mission`); from then on every
person token request carries ``mission_s256``.  :meth:`Agent.update_mission` sends a new
description (the blob and ``s256`` stay; the PS answers the update's own ``s256``) and
:meth:`Agent.complete_mission` ends it.  All drive the same kind of generator over a
client's transport (``async`` twins: :meth:`Agent.astart_mission`,
:meth:`Agent.aupdate_mission`, :meth:`Agent.acomplete_mission`).

Failures raise :class:`FlowError` with the draft's code: a PS error passes through
(``denied``, ``abandoned``, ``expired``, ``invalid_code``, ``invalid_resource_token``,
…); the agent's own checks use ``invalid_resource_token``, ``invalid_person_token``,
``invalid_auth_token``, ``invalid_metadata`` and ``invalid_response`` (a server broke
the deferred-response rules); a token whose signature does not hold gets the
Signature-Error code (``invalid_jwt``, ``unknown_key``, ``invalid_key``, …) and
metadata or a JWKS that cannot be used the discovery code (``issuer_mismatch``,
``invalid_key``, …), all with status 502.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import jws, tokens
from .claims import AUTH_TYP, PERSON_TYP, RESOURCE_TYP
from .errors import AAuthError
from .headers import (
    DEFAULT_RETRY_AFTER,
    HeaderError,
    Requirement,
    parse_requirement,
    parse_retry_after,
    parse_signature_error,
    serialize_prefer_wait,
)
from .http_client import httpx, origin_of
from .identifiers import check_endpoint_url
from .interaction import interaction_url
from .keys import b64url, b64url_decode, jwk_thumbprint
from .message import HttpMessage
from .metadata import PERSON_DWK, HttpResolver, validate_metadata
from .profile import sign_request
from .signature_key import jwt_key

#: Tokens are dropped from the cache this many seconds before they expire.
EXPIRY_MARGIN = 30
#: -11 "Deferred Responses" (wire §3.9): each ``429 slow_down`` adds 5 s to the interval.
SLOW_DOWN_STEP = 5
#: A 401 ``Signature-Error`` with these codes means a cached token is no longer taken.
_STALE_TOKEN_ERRORS = ("expired_jwt", "revoked_jwt")


class FlowError(AAuthError):
    """The flow cannot finish; ``code`` is the draft's (``denied``, ``expired``, …).

    ``response`` is the HTTP response that ended it, when there was one.
    """

    def __init__(self, code: str, detail: str = "", *, status: int | None = None, response=None, **members):
        super().__init__(code, detail, status=status, **members)
        self.response = response


@dataclass
class Interaction:
    """What the person must do (seed step 6; -11 §5.6): open ``url`` and enter ``code``."""

    url: str
    code: str
    pending_url: str
    resource: str | None = None
    scope: str | None = None

    def link(self, callback: str | None = None) -> str:
        """``{url}?code={code}[&callback={callback}]``, the link to show or open."""
        return interaction_url(self.url, self.code, callback)


@dataclass(frozen=True)
class Mission:
    """An approved mission as the agent keeps it (-11 §8.2): ``s256``, the ``blob`` bytes
    verbatim (never re-serialized) and ``document``, the blob decoded."""

    s256: str
    blob: bytes
    document: dict

    @property
    def description(self) -> str:
        return self.document["description"]


@dataclass(frozen=True)
class Pause:
    """Yielded by the flow instead of a request: wait ``seconds`` before the next poll."""

    seconds: float


class Agent:
    """An agent: its signing ``key`` and ``agent_token`` (an ``aa-agent+jwt`` binding it).

    ``ps`` names the Person Server (default: the agent token's ``ps`` claim); ``wait``
    is the ``Prefer: wait`` sent to the PS; ``on_interaction`` is told once per consent
    request what the person must do.  ``clock`` (Unix seconds) dates signatures and
    expiry checks and ages cached discovery documents; ``sleep`` replaces the wait
    between polls (tests, docs mode).  ``verify_token_signatures=False`` skips the
    signature check of the tokens the PS hands out (-11 §5.5 step 8 says SHOULD; the
    claim checks, MUST, always run) — for a lesson that contrasts the two.

    ``tokens`` holds the person and auth tokens obtained, per resource origin, until
    they expire; ``last_interaction`` the last :class:`Interaction` (for notebooks);
    ``resolver`` the PS metadata and JWKS fetched so far (an :class:`HttpResolver`
    whose GETs travel through the flow); ``mission`` the active :class:`Mission`, if any.
    """

    def __init__(
        self,
        key,
        agent_token: str,
        *,
        ps: str | None = None,
        wait: int = 30,
        on_interaction: Callable[[Interaction], None] | None = None,
        justification: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        dev: bool = False,
        verify_token_signatures: bool = True,
    ):
        self.key = key
        self.agent_token = agent_token
        claims = jws.decode_unverified(agent_token).payload
        self.ps = ps or claims.get("ps")
        self.wait = wait
        self.on_interaction = on_interaction
        self.justification = justification
        self.clock = clock
        self.sleep = sleep
        self.dev = dev
        self.verify_token_signatures = verify_token_signatures
        self.jkt = key.thumbprint()
        self.tokens: dict[str, dict[str, str]] = {}
        self.mission: Mission | None = None
        self.last_interaction: Interaction | None = None
        self.resolver = HttpResolver(_fetch_through_flow, clock=clock, dev=dev)

    def auth(self, *, upstream_token: str | None = None, justification: str | None = None) -> AAuthFlow:
        """An ``httpx.Auth`` for any client: ``httpx.Client(auth=agent.auth())``.

        ``upstream_token`` makes it a call chain (-11 §10.1): the token this agent was
        called with, sent to the PS with every token request.
        """
        return AAuthFlow(
            self, upstream_token=upstream_token, justification=justification or self.justification
        )

    # -- missions (-11 §8) ------------------------------------------------------------------
    def start_mission(
        self, client, description: str, *, tools: list[dict] | None = None, resources: list[str] | None = None
    ) -> Mission:
        """``POST {mission_endpoint}`` through the sync ``client`` (its own auth is not used):
        the person approves on their PS; the approved :class:`Mission` becomes :attr:`mission`
        and the cached tokens (issued outside it) are dropped."""
        flow = AAuthFlow(self)._start_mission(_mission_body(description, tools, resources))
        return self._began(_drive(client, flow, self.sleep or time.sleep))

    async def astart_mission(
        self, client, description: str, *, tools: list[dict] | None = None, resources: list[str] | None = None
    ) -> Mission:
        """:meth:`start_mission` through an ``httpx.AsyncClient``."""
        flow = AAuthFlow(self)._start_mission(_mission_body(description, tools, resources))
        return self._began(await _adrive(client, flow, self.sleep or asyncio.sleep))

    def update_mission(self, client, description: str) -> str:
        """``POST {mission_endpoint}/{s256}`` ``{"action": "update", "description"}`` (-11 §8):
        :attr:`mission` (blob and ``s256``) stays as it is.  Returns the ``s256`` the PS answers,
        the SHA-256 of the update bytes it persisted."""
        return _drive(client, AAuthFlow(self)._update_mission(description), self.sleep or time.sleep)

    async def aupdate_mission(self, client, description: str) -> str:
        """:meth:`update_mission` through an ``httpx.AsyncClient``."""
        return await _adrive(
            client, AAuthFlow(self)._update_mission(description), self.sleep or asyncio.sleep
        )

    def complete_mission(self, client, summary: str) -> dict:
        """``POST {mission_endpoint}/{s256}`` ``{"action": "completion", "summary"}``; once the PS
        accepts (``200``) :attr:`mission` is cleared with the tokens issued under it.  Returns
        the PS's answer."""
        return self._ended(
            _drive(client, AAuthFlow(self)._complete_mission(summary), self.sleep or time.sleep)
        )

    async def acomplete_mission(self, client, summary: str) -> dict:
        """:meth:`complete_mission` through an ``httpx.AsyncClient``."""
        return self._ended(
            await _adrive(client, AAuthFlow(self)._complete_mission(summary), self.sleep or asyncio.sleep)
        )

    def _began(self, mission: Mission) -> Mission:
        self.mission = mission
        self.forget()
        return mission

    def _ended(self, answer: dict) -> dict:
        self.mission = None
        self.forget()
        return answer

    # -- the token cache -------------------------------------------------------------------
    def auth_token_for(self, resource: str) -> str | None:
        """The cached auth token for ``resource`` (an origin), if still valid."""
        return self._fresh(self.tokens.get(origin_of(resource), {}).get("auth_token"))

    def person_token_for(self, resource: str) -> str | None:
        """The cached person token for ``resource`` (an origin), if still valid."""
        return self._fresh(self.tokens.get(origin_of(resource), {}).get("person_token"))

    def forget(self, resource: str | None = None) -> None:
        """Drop the cached tokens of ``resource``, or of every resource."""
        if resource is None:
            self.tokens.clear()
        else:
            self.tokens.pop(origin_of(resource), None)

    def _fresh(self, token: str | None) -> str | None:
        if token is None:
            return None
        exp = jws.decode_unverified(token).payload.get("exp")
        return token if isinstance(exp, int) and exp - EXPIRY_MARGIN > self.clock() else None

    def _remember(self, resource: str, name: str, token: str, upstream_token: str | None) -> None:
        entry = self.tokens.setdefault(resource, {})
        if entry.get("upstream_token") != upstream_token:  # tokens of another call chain
            entry.clear()
        entry[name] = token
        if upstream_token is not None:
            entry["upstream_token"] = upstream_token

    def _best_token(self, resource: str, upstream_token: str | None) -> str:
        """The token to present: the cached auth token, else the person token, else the agent token."""
        entry = self.tokens.get(resource, {})
        if entry.get("upstream_token") == upstream_token:
            for name in ("auth_token", "person_token"):
                token = self._fresh(entry.get(name))
                if token is not None:
                    return token
        return self.agent_token


class AAuthFlow(httpx.Auth):
    """The agent's ``httpx.Auth``: one generator from the first request to the result."""

    requires_request_body = True
    requires_response_body = True

    def __init__(self, agent: Agent, *, upstream_token: str | None = None, justification: str | None = None):
        self.agent = agent
        self.upstream_token = upstream_token
        self.justification = justification

    # -- the flow --------------------------------------------------------------------------
    def auth_flow(self, request):
        agent = self.agent
        resource = origin_of(request.url)
        presented = agent._best_token(resource, self.upstream_token)
        response = yield self._sign(request, presented)

        if presented != agent.agent_token and _stale_token(response):
            agent.forget(resource)  # a cached token the resource no longer takes
            presented = agent.agent_token
            response = yield self._sign(request, presented)

        if _requires(response, "agent-token") and presented != agent.agent_token:
            presented = agent.agent_token  # -11 §5.2: the resource wants the agent's identity
            response = yield self._sign(request, presented)

        if _requires(response, "person-token"):  # -11 §5.4
            agent.forget(resource)
            presented = yield from self._person_token(resource)
            response = yield self._sign(request, presented)

        challenge = _requires(response, "auth-token", statuses=(401, 202))
        if challenge is not None:  # -11 §5.5, §5.9
            resource_token = self._check_resource_token(
                challenge.resource_token, resource, presented, response
            )
            auth_token = yield from self._auth_token(resource, resource_token, presented)
            if response.status_code == 202:  # deferred delivery: the resource holds the call
                response = yield from self._deferred(
                    response, auth_token, resource, resource_token.get("scope")
                )
            else:
                response = yield self._sign(request, auth_token)
        return response

    # -- person token (-11 §5.4, §7.1) -----------------------------------------------------
    def _person_token(self, resource: str):
        ps = self._person_server()
        metadata = yield from self._discover(ps)
        body = {"resource": resource}
        if self.agent.mission is not None:  # -11 §7.1: the token is issued within the mission
            body["mission_s256"] = self.agent.mission.s256
        if self.upstream_token is not None:
            body["upstream_token"] = self.upstream_token
        response = yield self._ps_request(metadata["person_token_endpoint"], body)
        person_token = yield from self._result(response, "person_token", resource, None)
        self._check_person_token(person_token, resource, ps)
        yield from self._check_signature(person_token, PERSON_TYP)
        self.agent._remember(resource, "person_token", person_token, self.upstream_token)
        return person_token

    def _person_server(self) -> str:
        """The PS that speaks for the person: the upstream token's (call chain, -11 §10.1 step 2),
        else the configured one, else the agent token's ``ps`` hint."""
        if self.upstream_token is not None:
            upstream = jws.decode_unverified(self.upstream_token)
            ps = upstream.payload.get("ps") if upstream.header.get("typ") == AUTH_TYP else None
            ps = ps or upstream.payload.get("iss")
        else:
            ps = self.agent.ps
        if not isinstance(ps, str):
            raise FlowError(
                "invalid_request",
                "no Person Server is known: pass Agent(ps=...) or use an agent token with a ps claim",
            )
        return ps

    # -- auth token (-11 §5.5 steps 5-8, §7.2) ---------------------------------------------
    def _auth_token(self, resource: str, resource_token: dict, presented: str):
        ps = resource_token["ps"]
        metadata = yield from self._discover(ps)
        body = {"resource_token": resource_token["token"], "presented_token": presented}
        if self.upstream_token is not None:
            body["upstream_token"] = self.upstream_token
        if self.justification:
            body["justification"] = self.justification
        response = yield self._ps_request(metadata["auth_token_endpoint"], body)
        auth_token = yield from self._result(response, "auth_token", resource, resource_token.get("scope"))
        self._check_auth_token(auth_token, resource, resource_token, presented)
        yield from self._check_signature(auth_token, AUTH_TYP)
        self.agent._remember(resource, "auth_token", auth_token, self.upstream_token)
        return auth_token

    # -- missions (-11 §8, wire §4.5, §5.12) -------------------------------------------------
    def _mission_endpoint(self):
        ps = self._person_server()
        metadata = yield from self._discover(ps)
        endpoint = metadata.get("mission_endpoint")
        if not isinstance(endpoint, str):
            raise FlowError("invalid_metadata", f"{ps} names no mission_endpoint", status=502)
        return endpoint

    def _start_mission(self, body: dict):
        """Ask for the mission; follow a ``202``; check the approval (-11 §8.2): ``s256`` is the
        SHA-256 of exactly the decoded ``mission`` bytes (SHOULD; a mismatch is
        ``invalid_response``) and the blob is a JSON object naming this agent."""
        endpoint = yield from self._mission_endpoint()
        response = yield self._ps_request(endpoint, body)
        answer = yield from self._final_json(response)

        def fail(why: str) -> FlowError:
            return FlowError(
                "invalid_response",
                f"the mission approval from {endpoint}: {why}",
                status=502,
                response=response,
            )

        s256, encoded = answer.get("s256"), answer.get("mission")
        if not isinstance(s256, str) or not isinstance(encoded, str):
            raise fail("s256 and mission must be strings")
        try:
            blob = b64url_decode(encoded)
        except ValueError:
            raise fail("mission is not base64url") from None
        if b64url(hashlib.sha256(blob).digest()) != s256:
            raise fail("s256 is not the SHA-256 of the mission bytes")
        try:
            document = json.loads(blob)
        except (ValueError, UnicodeDecodeError):
            document = None
        agent_id = jws.decode_unverified(self.agent.agent_token).payload.get("sub")
        if not isinstance(document, dict) or not isinstance(document.get("description"), str):
            raise fail("the blob is no JSON object with a description")
        if document.get("agent") != agent_id:
            raise fail(f"the blob names agent {document.get('agent')!r}, not {agent_id!r}")
        return Mission(s256, blob, document)

    def _update_mission(self, description: str):
        """``{"action": "update", "description"}`` to ``{mission_endpoint}/{mission_s256}``; the
        answer's ``s256`` must be a base64url SHA-256 (43 characters)."""
        if self.agent.mission is None:
            raise FlowError("invalid_request", "the agent has no mission to update")
        endpoint = yield from self._mission_endpoint()
        body = {"action": "update", "description": description}
        response = yield self._ps_request(f"{endpoint}/{self.agent.mission.s256}", body)
        s256 = (yield from self._final_json(response)).get("s256")
        if not isinstance(s256, str) or len(s256) != 43:
            raise FlowError(
                "invalid_response",
                f"the update answer from {endpoint} has no s256",
                status=502,
                response=response,
            )
        return s256

    def _complete_mission(self, summary: str):
        """``{"action": "completion", "summary"}`` to ``{mission_endpoint}/{mission_s256}``."""
        if self.agent.mission is None:
            raise FlowError("invalid_request", "the agent has no mission to complete")
        endpoint = yield from self._mission_endpoint()
        body = {"action": "completion", "summary": summary}
        response = yield self._ps_request(f"{endpoint}/{self.agent.mission.s256}", body)
        return (yield from self._final_json(response))

    def _final_json(self, response):
        """The JSON object of the ``200`` a PS request ends with, after following a ``202``."""
        if response.status_code == 202:
            response = yield from self._deferred(response, self.agent.agent_token, None, None)
        if response.status_code != 200:
            raise _flow_error(response)
        answer = _json(response)
        if not isinstance(answer, dict):
            raise FlowError(
                "invalid_response",
                f"the 200 from {response.request.url} is no JSON object",
                status=502,
                response=response,
            )
        return answer

    # -- talking to the PS -----------------------------------------------------------------
    def _discover(self, ps: str):
        """``GET {ps}/.well-known/aauth-person.json`` (cached), validated (-11 "Metadata Documents")."""
        try:
            document = yield from _through_flow(self.agent.resolver.metadata(ps, PERSON_DWK))
            return validate_metadata(document, ps, PERSON_DWK, dev=self.agent.dev, complete=True)
        except AAuthError as exc:
            raise FlowError(exc.code, exc.detail, status=502) from None

    def _ps_request(self, endpoint: str, body: dict):
        """A token request: JSON body (content-type and content-digest covered), signed with the
        agent token, ``Prefer: wait`` (-11 "Deferred Responses")."""
        request = httpx.Request(
            "POST",
            endpoint,
            json=body,
            headers={"Prefer": serialize_prefer_wait(self.agent.wait)},
            extensions={"timeout": _timeout(self.agent.wait)},
        )
        request.read()
        return self._sign(request, self.agent.agent_token)

    def _result(self, response, member: str, resource: str, scope: str | None):
        """The token in a ``200`` body, after following a ``202`` to its end."""
        if response.status_code == 202:
            response = yield from self._deferred(response, self.agent.agent_token, resource, scope)
        if response.status_code != 200:
            raise _flow_error(response)
        body = _json(response)
        value = body.get(member) if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise FlowError(
                "invalid_response",
                f"the 200 from {response.request.url} has no {member}",
                status=502,
                response=response,
            )
        return value

    # -- deferred responses (-11 "Deferred Responses", wire §3.9, §5.6, §5.9) ----------------
    def _deferred(self, response, token: str, resource: str, scope: str | None):
        """Poll a ``202``'s ``Location`` (signed with ``token``) until something else comes back.

        Retry-After is honoured unless the server already held the poll that long
        (``Prefer: wait``); each ``429`` adds 5 s.  An ``interaction`` requirement is
        handed to ``on_interaction`` once.  Returns the first response that is neither
        ``202`` nor ``429``.
        """
        responder = origin_of(response.request.url)
        pending_url = _pending_url(response, responder)
        backoff = 0
        told = False
        while response.status_code in (202, 429):
            if response.status_code == 429:  # slow_down
                backoff += SLOW_DOWN_STEP
                yield Pause(_retry_after(response, default=0) + backoff)
            else:
                if not told:
                    told = self._tell_interaction(response, pending_url, resource, scope)
                delay = _retry_after(response)
                if _held(response) < delay:
                    yield Pause(delay + backoff)
            poll = httpx.Request(
                "GET",
                pending_url,
                headers={"Prefer": serialize_prefer_wait(self.agent.wait)},
                extensions={"timeout": _timeout(self.agent.wait)},
            )
            response = yield self._sign(poll, token)
        return response

    def _tell_interaction(self, response, pending_url: str, resource: str, scope: str | None) -> bool:
        """``requirement=interaction`` (-11 §5.6): the person must visit ``url`` with ``code``."""
        requirement = _requirement(response)
        if requirement is None or requirement.requirement != "interaction":
            return False
        try:
            check_endpoint_url(requirement.url, dev=self.agent.dev)
        except AAuthError as exc:
            raise FlowError(
                "invalid_response", f"interaction url: {exc.detail}", status=502, response=response
            ) from None
        interaction = Interaction(requirement.url, requirement.code, pending_url, resource, scope)
        self.agent.last_interaction = interaction
        if self.agent.on_interaction is not None:
            self.agent.on_interaction(interaction)
        return True

    # -- checks of what the agent receives (-11 §5.5 steps 4 and 8, wire §7.7) --------------
    def _check_resource_token(self, token: str, resource: str, presented: str, response) -> dict:
        """The challenge is for this agent and this request: ``iss`` the origin called,
        ``agent_jkt`` our key, ``presented_jti``/``sub``/``ps`` those of the presented token,
        ``exp`` in the future."""

        def fail(why: str) -> FlowError:
            return FlowError("invalid_resource_token", why, status=502, response=response)

        claims = _claims(token, RESOURCE_TYP, fail)
        if presented == self.agent.agent_token:
            raise fail(
                "the resource challenged with a resource token although only the agent token was presented"
            )
        shown = jws.decode_unverified(presented)
        shown_ps = (
            shown.payload.get("ps") if shown.header.get("typ") == AUTH_TYP else shown.payload.get("iss")
        )
        expected = {
            "iss": resource,
            "agent_jkt": self.agent.jkt,
            "presented_jti": shown.payload.get("jti"),
            "sub": shown.payload.get("sub"),
            "ps": shown_ps,
        }
        claims.setdefault("presented_jti", claims.get("person_token_jti"))
        _expect(claims, expected, fail)
        self._check_exp(claims, fail)
        if not isinstance(claims.get("aud"), str):
            raise fail("the resource token names no aud")
        return {**claims, "token": token}

    def _check_person_token(self, token: str, resource: str, ps: str) -> None:
        def fail(why: str) -> FlowError:
            return FlowError("invalid_person_token", why, status=502)

        claims = _claims(token, PERSON_TYP, fail)
        _expect(claims, {"iss": ps, "aud": resource}, fail)
        self._check_cnf(claims, fail)
        self._check_exp(claims, fail)

    def _check_auth_token(self, token: str, resource: str, resource_token: dict, presented: str) -> None:
        """-11 §5.5 step 8: ``iss`` = resource token ``aud``, ``aud`` = the resource,
        ``cnf.jwk`` = our key, ``sub`` = the presented token's ``sub``."""

        def fail(why: str) -> FlowError:
            return FlowError("invalid_auth_token", why, status=502)

        claims = _claims(token, AUTH_TYP, fail)
        sub = jws.decode_unverified(presented).payload.get("sub")
        _expect(claims, {"iss": resource_token["aud"], "aud": resource, "sub": sub}, fail)
        self._check_cnf(claims, fail)
        self._check_exp(claims, fail)

    def _check_signature(self, token: str, typ: str):
        """-11 §5.5 step 8 (SHOULD) and "Common JWT Verification": the token is signed by
        its issuer's key — ``kid`` selected from the JWKS its ``{iss}/.well-known/{dwk}``
        names — with the ``alg`` that key declares.  Runs after the claim checks, which
        pin ``iss`` to the server the agent asked, so keys are only fetched from it."""
        if not self.agent.verify_token_signatures:
            return
        check = tokens.verify_token(
            token, typ=typ, resolver=self.agent.resolver, now=int(self.agent.clock()), dev=self.agent.dev
        )
        try:
            yield from _through_flow(check)
        except AAuthError as exc:
            raise FlowError(exc.code, f"the {typ} does not verify: {exc.detail}", status=502) from None

    def _check_cnf(self, claims: dict, fail) -> None:
        cnf = claims.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        try:
            bound = jwk_thumbprint(jwk) if isinstance(jwk, dict) else None
        except AAuthError:
            bound = None
        if bound != self.agent.jkt:
            raise fail("cnf.jwk is not this agent's key")

    def _check_exp(self, claims: dict, fail) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.agent.clock():
            raise fail(f"exp {exp!r} is not in the future")

    # -- signing ---------------------------------------------------------------------------
    def _sign(self, request, token: str):
        """Sign ``request`` in place with the agent's key, presenting ``token``
        (``Signature-Key: sig=jwt;jwt="…"``); a body gets ``content-digest`` covered."""
        message = HttpMessage(
            request.method, str(request.url), list(request.headers.multi_items()), request.content
        )
        for name in ("Signature-Input", "Signature"):  # a retry is signed afresh, not on top of the old one
            message.remove_header(name)
        sign_request(message, self.agent.key, jwt_key(token), created=int(self.agent.clock()))
        for name in ("Content-Type", "Content-Digest", "Signature-Key", "Signature-Input", "Signature"):
            value = message.header(name)
            if value is not None:
                request.headers[name] = value
        return request

    # -- drivers: one generator, two ways of waiting -----------------------------------------
    def sync_auth_flow(self, request):
        request.read()
        flow = self.auth_flow(request)
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                (self.agent.sleep or time.sleep)(step.seconds)
                reply = None
            else:
                reply = yield step
                reply.read()
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    async def async_auth_flow(self, request):
        await request.aread()
        flow = self.auth_flow(request)
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                slept = (self.agent.sleep or asyncio.sleep)(step.seconds)
                if inspect.isawaitable(slept):
                    await slept
                reply = None
            else:
                reply = yield step
                await reply.aread()
            try:
                step = flow.send(reply)
            except StopIteration:
                return


# -- running a flow outside httpx.Auth (missions) ----------------------------------------------
def _mission_body(description: str, tools, resources) -> dict:
    body = {"description": description}
    if tools is not None:
        body["tools"] = tools
    if resources is not None:
        body["resources"] = resources
    return body


def _drive(client, flow, sleep):
    """Run a flow generator with a sync ``httpx.Client``: each request it yields is sent as it
    is (already signed; ``auth=None``), each :class:`Pause` slept.  Returns its result."""
    reply = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(step, Pause):
            sleep(step.seconds)
            reply = None
        else:
            reply = client.send(step, auth=None)


async def _adrive(client, flow, sleep):
    """:func:`_drive` with an ``httpx.AsyncClient``; ``sleep`` may return an awaitable."""
    reply = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(step, Pause):
            slept = sleep(step.seconds)
            if inspect.isawaitable(slept):
                await slept
            reply = None
        else:
            reply = await client.send(step, auth=None)


# -- discovery inside the flow ---------------------------------------------------------------
class _Get:
    """What :func:`_fetch_through_flow` awaits: a GET of ``url`` for the flow to send."""

    def __init__(self, url: str):
        self.url = url

    def __await__(self):
        response = yield self
        return response


async def _fetch_through_flow(url: str):
    """The ``fetch`` of the agent's :class:`HttpResolver` (``metadata.Fetch``): the GET is
    handed to :func:`_through_flow`, which yields it from the flow like any PS call."""
    response = await _Get(url)
    return response.status_code, dict(response.headers), response.content


def _through_flow(coroutine):
    """Run a resolver coroutine inside the flow generator (``yield from``): each GET it
    awaits is yielded as a request — so it goes over the client's own transport, sync or
    async, and shows in the trace — and the response is sent back in.  Returns what the
    coroutine returns; raises what it raises."""
    reply = None
    try:
        while True:
            try:
                get = coroutine.send(reply)
            except StopIteration as done:
                return done.value
            reply = yield httpx.Request("GET", get.url, extensions={"timeout": _timeout(0)})
    finally:
        coroutine.close()


# -- reading responses -----------------------------------------------------------------------
def _json(response):
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _requirement(response) -> Requirement | None:
    value = response.headers.get("aauth-requirement")
    if value is None:
        return None
    try:
        return parse_requirement(value)
    except HeaderError as exc:
        raise FlowError(
            "invalid_response", f"{response.request.url} sent a {exc.detail}", status=502, response=response
        ) from None


def _requires(response, requirement: str, *, statuses=(401,)) -> Requirement | None:
    """The ``AAuth-Requirement`` of ``response`` if it asks for ``requirement`` (wire §3.6)."""
    if response.status_code not in statuses:
        return None
    found = _requirement(response)
    return found if found is not None and found.requirement == requirement else None


def _stale_token(response) -> bool:
    """401 ``Signature-Error: error=expired_jwt|revoked_jwt`` with no requirement to follow."""
    value = response.headers.get("signature-error")
    if response.status_code != 401 or value is None or "aauth-requirement" in response.headers:
        return False
    try:
        return parse_signature_error(value)[0] in _STALE_TOKEN_ERRORS
    except HeaderError:
        return False


def _flow_error(response) -> FlowError:
    """The error a PS answered with: problem+json ``error`` (or pre -09 ``error_description``),
    a ``Signature-Error``, or ``server_error`` for anything unreadable."""
    body = _json(response)
    code = detail = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code, detail = body["error"], body.get("detail") or body.get("error_description")
    elif response.status_code == 401 and "signature-error" in response.headers:
        try:
            code = parse_signature_error(response.headers["signature-error"])[0]
        except HeaderError:
            code = None
    if code is None:
        code = "server_error" if response.status_code >= 500 else "invalid_response"
    detail = (
        detail
        if isinstance(detail, str)
        else f"{response.request.method} {response.request.url} answered {response.status_code}"
    )
    return FlowError(code, detail, status=response.status_code, response=response)


def _pending_url(response, responder: str) -> str:
    """The ``Location`` of a ``202``, resolved against the request URL and required to be on
    the responder's origin (wire §3.9, §7.7)."""
    location = response.headers.get("location")
    if not location:
        raise FlowError(
            "invalid_response", f"the 202 from {responder} has no Location", status=502, response=response
        )
    try:
        url = response.request.url.join(location)
        same = origin_of(url) == responder
    except (httpx.InvalidURL, AAuthError):
        same = False
    if not same:
        raise FlowError(
            "invalid_response",
            f"the pending URL {location!r} is not on {responder}",
            status=502,
            response=response,
        )
    return str(url)


def _retry_after(response, default: int = DEFAULT_RETRY_AFTER) -> int:
    """``Retry-After`` in seconds (absent: ``default``; unreadable: the -11 default of 5)."""
    try:
        return parse_retry_after(response.headers.get("retry-after"), default=default)
    except HeaderError:
        return DEFAULT_RETRY_AFTER


def _held(response) -> float:
    """How long the server took to answer: a poll held under ``Prefer: wait`` already waited."""
    try:
        return response.elapsed.total_seconds()
    except RuntimeError:  # not read yet
        return 0.0


def _timeout(wait: int) -> dict:
    """httpx timeouts for a request the server may hold ``wait`` seconds."""
    return httpx.Timeout(10.0, read=wait + 10.0).as_dict()


def _claims(token, typ: str, fail) -> dict:
    try:
        decoded = jws.decode_unverified(token)
    except AAuthError as exc:
        raise fail(exc.detail) from None
    if decoded.header.get("typ") != typ:
        raise fail(f"expected a {typ}, got typ {decoded.header.get('typ')!r}")
    return dict(decoded.payload)


def _expect(claims: dict, expected: dict, fail) -> None:
    for name, value in expected.items():
        if claims.get(name) != value:
            raise fail(f"{name} is {claims.get(name)!r}, expected {value!r}")


__all__ = ["Agent", "AAuthFlow", "FlowError", "Interaction", "Mission", "Pause"]
