"""The resource under probe as the resource-side checks see it: its metadata and keys
(-11 "Resource Metadata"), the requirement it answers a well-formed request with (-11
"Requirement Responses") and, when a person approves, the session token it issues (-11
"AAuth-Access Response Header").  Each is fetched once per run and shared by the checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import headers, metadata
from ..deferred_headers import parse_retry_after
from ..errors import AAuthError
from ..http_client import httpx
from ..keys import Key
from ..message import HttpMessage
from ..profile import sign_request
from ..signature_key import jwt_key
from .access_server import ProbeAccessServer
from .prober import Prober
from .report import Answer

#: Seconds the probe polls a pending URL while it waits for the person (-11 "Deferred Responses").
PERSON_WAIT = 120


class Unanswered(Exception):
    """A request of a resource-side check got no answer (a hang or a broken connection)."""


class Skipped(Exception):
    """The probe cannot do the check against this target; the message says why."""


class ServerError(Exception):
    """The resource answered a well-formed request (its metadata, a signed call) with a ``5xx``:
    whatever the check, a ``FAIL``."""

    def __init__(self, response: httpx.Response):
        super().__init__(
            f"the resource answered a well-formed request {response.status_code}, a server error"
        )
        self.answer = Answer.of(response)


def _sound(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 500:
        raise ServerError(response)
    return response


def served(response: httpx.Response) -> bool:
    """Whether the resource did what was asked: a ``2xx`` with no further ``AAuth-Requirement``."""
    return 200 <= response.status_code < 300 and "aauth-requirement" not in response.headers


@dataclass
class Target:
    """One probe run's view of the resource: ``prober`` signs, ``client`` sends.

    ``access_server`` is the probe's own untrusted Access Server (when it can serve one);
    ``person`` is what a person does with an interaction ``(url, code)`` at the resource,
    or ``None``: then nothing that needs a person is tried.
    """

    prober: Prober
    client: httpx.Client
    timeout: float
    dev: bool = False
    access_server: ProbeAccessServer | None = None
    person: Callable[[str, str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    seen: list[httpx.Response] = field(default_factory=list)  # the answers of :meth:`challenge`
    _memo: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.prober.url)
        return f"{parts.scheme}://{parts.netloc}"

    def request(self, message: HttpMessage) -> httpx.Response:
        fields = [(name, value) for name, value in message.headers if name.lower() != "host"]
        try:
            return self.client.request(
                message.method, message.target_uri, headers=fields, content=message.body, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise Unanswered(f"no answer within {self.timeout:g} s from {message.target_uri}") from None
        except httpx.TransportError as exc:
            raise Unanswered(f"no answer from {message.target_uri} ({type(exc).__name__}: {exc})") from None

    def signed(
        self,
        token: str,
        *,
        method: str | None = None,
        url: str | None = None,
        body: bytes | None = None,
        key: Key | None = None,
        fields: tuple = (),
        components: list[str] | None = None,
    ) -> HttpMessage:
        """A request signed by ``key`` (the probe's) presenting ``token`` in ``Signature-Key``."""
        body = self.prober.body if body is None and url is None else (body or b"")
        message = HttpMessage(method or self.prober.method, url or self.prober.url, list(fields), body)
        sign_request(
            message, key or self.prober.key, jwt_key(token), created=self.prober.now(), components=components
        )
        return message

    def get_json(self, url: str) -> tuple[httpx.Response, object]:
        response = self.request(HttpMessage("GET", url, [("Accept", "application/json")]))
        try:
            return response, response.json()
        except ValueError:
            return response, None

    # -- what the checks share ------------------------------------------------------------------
    def metadata(self) -> dict:
        """``/.well-known/aauth-resource.json`` as published (an object), else :class:`Skipped`."""
        if "metadata" not in self._memo:
            response, doc = self.get_json(metadata.well_known_url(self.origin, metadata.RESOURCE_DWK))
            self._memo["metadata"] = (_sound(response), doc)
        response, doc = self._memo["metadata"]
        if response.status_code != 200 or not isinstance(doc, dict):
            raise Skipped(f"the resource publishes no metadata document (answered {response.status_code})")
        return doc

    def jwks(self) -> dict:
        """The JWKS its metadata's ``jwks_uri`` names."""
        if "jwks" not in self._memo:
            uri = self.metadata().get("jwks_uri")
            if not isinstance(uri, str):
                raise AAuthError(
                    "invalid_key", "the metadata names no jwks_uri to verify its resource tokens with"
                )
            response, doc = self.get_json(uri)
            if (
                response.status_code != 200
                or not isinstance(doc, dict)
                or not isinstance(doc.get("keys"), list)
            ):
                raise AAuthError("invalid_key", f"{uri} answered {response.status_code} without a JWKS")
            self._memo["jwks"] = doc
        return self._memo["jwks"]

    def challenge(self) -> tuple[httpx.Response, str | None]:
        """The answer to a well-formed request, past ``requirement=person-token`` when the probe's
        Agent Provider can issue a person token: ``(response, the person token presented)``."""
        if "challenge" not in self._memo:
            response = _sound(self.request(self.signed(self.prober.token)))
            self.seen.append(response)
            person_token = None
            if _requirement_of(response) == "person-token":
                person_token = self.person_token()
                response = _sound(self.request(self.signed(person_token)))
                self.seen.append(response)
            self._memo["challenge"] = (response, person_token)
        return self._memo["challenge"]

    def person_token(self) -> str:
        provider = self.prober.agent_provider
        return provider.person_token(self.prober.key, self.origin, now=self.prober.now())

    def session_token(self) -> str:
        """The ``AAuth-Access`` session token the resource issues for the probe's key, after the
        person approves at its interaction page (-11 "Resource-Managed Authorization")."""
        if "session" not in self._memo:
            self._memo["session"] = self._obtain_session()
        return self._memo["session"]

    def _obtain_session(self) -> str:
        response = _sound(self.request(self.signed(self.prober.token)))
        if response.status_code == 202 and _requirement_of(response) == "interaction":
            if self.person is None:
                raise Skipped(
                    "a session token needs a person to approve at the resource's interaction page "
                    "(--interactive)"
                )
            requirement = headers.parse_requirement(response.headers["aauth-requirement"])
            self.person(requirement.url, requirement.code)
            response = self._poll(response)
        if "aauth-access" not in response.headers:
            raise Skipped(
                f"the resource issued no AAuth-Access here (answered {Answer.of(response).describe()})"
            )
        return headers.parse_aauth_access(response.headers["aauth-access"])

    def _poll(self, response: httpx.Response) -> httpx.Response:
        deadline = time.monotonic() + PERSON_WAIT
        while time.monotonic() < deadline:
            location = response.headers.get("location")
            if response.status_code != 202 or not location:
                return response
            url = str(httpx.URL(self.prober.url).join(location))
            response = _sound(self.request(self.signed(self.prober.token, method="GET", url=url)))
            if response.status_code == 202:
                self.sleep(min(_retry_after(response), 2.0))
        raise Skipped(f"the person did not finish within {PERSON_WAIT} s")


def _requirement_of(response: httpx.Response) -> str | None:
    try:
        return headers.parse_requirement(response.headers["aauth-requirement"]).requirement
    except (KeyError, AAuthError):
        return None


def _retry_after(response: httpx.Response) -> float:
    """The target's ``Retry-After`` (RFC 9110 §10.2.3); unreadable → 1 s."""
    try:
        return parse_retry_after(response.headers.get("retry-after"), default=1)
    except headers.HeaderError:
        return 1.0
