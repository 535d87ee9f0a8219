"""Running the probe: check the target, send each check's request, judge the answer
(-11 "Verification (Server)"), then the resource-side checks (:mod:`.resource_checks`).
A hang or a broken connection is a ``FAIL``; a target that cannot be reached at all is a
:class:`ProbeError`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from ..errors import AAuthError, UsageError
from ..http_client import IDENTITY, httpx, refuse_content_coding
from ..identifiers import DEV_HOSTS, check_url, is_dev_url
from ..message import HttpMessage
from .access_server import ProbeAccessServer
from .agent_provider import AgentProvider
from .checks import CHECKS, Check
from .judging import judge
from .prober import Prober
from .report import FAIL, SKIP, Answer, Report, Result
from .resource_checks import RESOURCE_CHECKS, ResourceCheck
from .target import ServerError, Skipped, Target, Unanswered

#: Every check the probe knows, the signature battery first.
ALL_CHECKS: tuple[Check | ResourceCheck, ...] = CHECKS + RESOURCE_CHECKS

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ProbeError(UsageError):
    """The probe cannot run at all: a bad URL or an unreachable host (CLI exit 2)."""


def check_target(url: str, *, dev: bool = False) -> str:
    """The probe's target: an https URL (a query is fine), or with ``dev`` loopback http with a
    port, by the kit's one URL policy (:func:`identifiers.check_url`).  Raises :class:`ProbeError`."""
    if not dev and isinstance(url, str) and is_dev_url(urlsplit(url)):
        raise ProbeError(f"{url} is http: AAuth resources are https; add --dev for a loopback dev resource")
    try:
        return check_url(url, what="a probe target", dev=dev, query=True)
    except AAuthError as exc:
        raise ProbeError(exc.detail) from None


def check_method(method: str) -> str:
    if not _METHOD.fullmatch(method or ""):
        raise ProbeError(f"not an HTTP method: {method!r}")
    return method.upper()


def send(client: httpx.Client, message: HttpMessage, timeout: float, *, first: bool = False) -> Answer:
    """Send ``message`` as it is; a hang or a broken connection is an :class:`Answer` with
    ``failure``.  A connection that breaks is tried once more on a new one, so that a
    server closing a kept-alive connection after the previous answer does not count
    against this check.  When the ``first`` request cannot connect at all,
    :class:`ProbeError`: the host is unreachable."""
    fields = [(name, value) for name, value in message.headers if name.lower() != "host"]
    for attempt in (1, 2):
        try:
            response = client.request(
                message.method, message.target_uri, headers=fields, content=message.body, timeout=timeout
            )
        except httpx.TimeoutException:
            return Answer(
                failure=f"no answer within {timeout:g} s: the resource hangs instead of refusing the request"
            )
        except httpx.ConnectError as exc:
            if first:
                raise ProbeError(f"cannot reach {message.target_uri}: {exc}") from None
            return Answer(failure=f"the resource stopped accepting connections ({exc})")
        except httpx.TransportError as exc:
            if attempt == 1:
                continue
            return Answer(failure=f"the connection broke without an answer ({type(exc).__name__}: {exc})")
        return Answer.of(response)


def probe(
    url: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    dev: bool = False,
    client: httpx.Client | None = None,
    agent_provider: AgentProvider | None = None,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    checks: tuple[Check | ResourceCheck, ...] = ALL_CHECKS,
    access_server: ProbeAccessServer | None = None,
    person: Callable[[str, str], None] | None = None,
) -> Report:
    """Run ``checks`` against ``url`` and return the :class:`Report`.

    ``client`` is the ``httpx.Client`` to send with (the lab's, for a virtual host);
    ``agent_provider`` enables the checks that need a trusted agent token;
    ``access_server`` the one that needs an auth token from an AS nobody trusts; ``person``
    (called with an interaction URL and code) the ones that need a session token; ``timeout``
    bounds every request (a hang is a ``FAIL``).  Raises :class:`ProbeError` for a bad
    URL or method, or when the host cannot be reached.
    """
    url, method = check_target(url, dev=dev), check_method(method)
    prober = Prober(url, method, body, agent_provider, clock)
    own_client = client is None
    if own_client:
        # the resource is a stranger: its answers as sent, a compressed one refused unread
        client = httpx.Client(
            trust_env=urlsplit(url).hostname not in DEV_HOSTS,
            headers=IDENTITY,
            event_hooks={"response": [refuse_content_coding]},
        )
    report = Report(method, url)
    target = Target(prober, client, timeout, dev, access_server, person)
    try:
        for check in checks:
            if check.needs_agent_provider and agent_provider is None:
                report.results.append(
                    Result(check, SKIP, "needs an Agent Provider the resource trusts (--agent-provider)")
                )
                continue
            if isinstance(check, ResourceCheck):
                report.results.append(run_resource_check(check, target))
                continue
            first = not any(result.answer for result in report.results)
            answer = send(client, check.build(prober), timeout, first=first)
            report.results.append(Result(check, *judge(check, answer), answer=answer))
    finally:
        if own_client:
            client.close()
    return report


def run_resource_check(check: ResourceCheck, target: Target) -> Result:
    """One resource-side check: ``SKIP`` when the probe cannot do it here, ``FAIL`` on a hang or
    a ``5xx`` to a well-formed request."""
    try:
        return Result(check, *check.judge(target))
    except Skipped as skipped:
        return Result(check, SKIP, str(skipped))
    except Unanswered as unanswered:
        return Result(check, FAIL, str(unanswered), answer=Answer(failure=str(unanswered)))
    except ServerError as error:
        return Result(check, FAIL, str(error), answer=error.answer)


def with_checks(*ids: str) -> tuple[Check | ResourceCheck, ...]:
    """The checks named ``ids``, in battery order (for a focused run)."""
    unknown = set(ids) - {check.id for check in ALL_CHECKS}
    if unknown:
        raise ProbeError(f"no such check: {', '.join(sorted(unknown))}")
    return tuple(check for check in ALL_CHECKS if check.id in ids)


def parse_body(text: str | None) -> bytes:
    """``--body``: a JSON text, sent as ``application/json``."""
    if text is None:
        return b""
    try:
        json.loads(text)
    except ValueError as exc:
        raise ProbeError(f"--body is not JSON: {exc}") from None
    return text.encode()
