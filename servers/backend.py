"""The backend: the agent behind the seed's UI, with the seed's job API and a web page.

``POST /optimization/start`` starts a job that calls the supply-chain agent as an AAuth
agent (sign → 401 → person token → resource token → auth token, maybe with consent →
retry).  While the person's consent is pending the job reports
``interaction_required`` with the interaction URL and code (seed step 6); the agent
keeps polling the PS's pending URL and the job completes the moment consent lands.

Job API (seed-compatible):

* ``POST /optimization/start`` ``{"custom_prompt"?, "optimization_type"?}`` →
  ``{"request_id", "status": "started"}``; any other field → 422; not ``application/json``
  → 415; from another origin → 403; more than ``max_live_jobs`` unfinished → 429.
* ``GET /optimization/progress/{request_id}`` → ``{"request_id", "status",
  "current_step", "interaction_url"?, "interaction_code"?, "callback_url"?, "error"?}``
* ``GET /optimization/results/{request_id}`` → ``{"summary", "recommendations",
  "market_analysis"?, "authorizations"}`` — auth tokens decoded, never raw.

Starting a job needs no session of the person, and the kit argues it so: the backend holds
no authority of its own over the person's resources — every job's access is granted by the
person on the PS's consent page, which shows the agent, the scopes and the job's text and
is protected there (framing, CSRF, sign-in).  What an anonymous start can do is make the PS
*ask*: a consent request with a text of the caller's choosing.  A web page must not be able
to do that through a visitor's browser, so the start is refused as a cross-site simple
request (a JSON body is required, which a form cannot send and a foreign ``fetch`` cannot
send without a CORS preflight the backend never grants; a foreign ``Origin`` is 403); a
script on a host that can reach the backend is bounded by ``max_live_jobs`` (and the PS's
own limits on pending requests).  A session would need the backend to sign persons in
itself, which AAuth does not define and the seed's API never had; a backend reachable by
strangers belongs behind its operator's sign-in (the lab binds it to loopback).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from aauth_kit.agent import Agent
from aauth_kit.agent_deferred import Interaction
from aauth_kit.asgi import check_origin, exception_handlers, middleware
from aauth_kit.errors import AAuthError
from aauth_kit.flow import FlowError
from aauth_kit.identifiers import check_callback_url
from aauth_kit.interaction import interaction_url
from aauth_kit.keys import Key
from aauth_kit.problem import error_code

from .backend_page import CALLBACK_CSP, CALLBACK_PAGE, INDEX_CSP, INDEX_PAGE
from .supply_chain import decoded_authorization

START_FIELDS = ("custom_prompt", "optimization_type")
DEFAULT_PROMPT = "Optimize laptop supply chain"
STATUSES = ("pending", "running", "interaction_required", "completed", "failed")
UNFINISHED = ("pending", "running", "interaction_required")
#: Unfinished jobs at once before ``429`` (each may be a consent request waiting at the PS).
MAX_LIVE_JOBS = 10


@dataclass
class Job:
    request_id: str
    prompt: str
    optimization_type: str
    status: str = "pending"
    current_step: str = "queued"
    interaction: Interaction | None = None
    callback_url: str | None = None
    error: str | None = None
    detail: str | None = None
    results: dict | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def progress(self, browser_url: Callable[[str], str]) -> dict:
        """The job's progress; the interaction link as ``browser_url`` makes it a link a browser opens."""
        body = {"request_id": self.request_id, "status": self.status, "current_step": self.current_step}
        if self.status == "interaction_required" and self.interaction is not None:
            body["interaction_url"] = interaction_url(
                browser_url(self.interaction.url), self.interaction.code, _callback(self.callback_url)
            )
            body["interaction_code"] = self.interaction.code
            body["callback_url"] = self.callback_url
        if self.error:
            body["error"] = self.error
            body["detail"] = self.detail
        return body


class Backend:
    """The backend app.  ``client_factory(auth=…)`` gives an ``httpx.AsyncClient`` on the
    lab's network; the agent's key and agent token come from the PS's Agent Provider.
    ``browser_url`` turns a URL on a party's identifier into the URL a browser opens (the
    lab's loopback socket, or its proxied URL): the page's links to the PS and back."""

    def __init__(
        self,
        identifier: str,
        *,
        key: Key,
        agent_token: str,
        client_factory: Callable,
        supply_chain: str,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
        dev: bool = False,
        max_live_jobs: int = MAX_LIVE_JOBS,
        browser_url: Callable[[str], str] | None = None,
    ):
        self.identifier = identifier
        self.browser_url = browser_url or (lambda url: url)
        self.max_live_jobs = max_live_jobs
        self.key = key
        self.agent_token = agent_token
        self.client_factory = client_factory
        self.supply_chain = supply_chain
        self.clock = clock
        self.id_factory = id_factory or (lambda: secrets.token_hex(8))
        self.dev = dev
        self.jobs: dict[str, Job] = {}
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Route("/health", self.health),
                Route("/callback", self.callback),
                Route("/optimization/start", self.start, methods=["POST"]),
                Route("/optimization/progress/{request_id}", self.progress),
                Route("/optimization/results/{request_id}", self.results),
            ],
            exception_handlers=exception_handlers(),
            middleware=middleware(),
        )

    # -- the job ---------------------------------------------------------------------------
    async def run(self, job: Job) -> None:
        def on_interaction(interaction: Interaction) -> None:
            job.interaction = interaction
            job.status, job.current_step = (
                "interaction_required",
                "waiting for the person's consent at the PS",
            )

        agent = Agent(
            self.key, self.agent_token, on_interaction=on_interaction, clock=self.clock, dev=self.dev
        )
        job.status, job.current_step = "running", "calling the supply-chain agent"
        try:
            async with self.client_factory(auth=agent.auth(justification=f"Run: {job.prompt}")) as client:
                response = await client.post(
                    f"{self.supply_chain}/optimize",
                    json={"prompt": job.prompt, "optimization_type": job.optimization_type},
                )
            if response.status_code != 200:
                raise AAuthError(
                    error_code(response.content) or "server_error",
                    f"the supply-chain agent answered {response.status_code}",
                )
            body = response.json()
            job.results = {
                "summary": body["summary"],
                "recommendations": body["recommendations"],
                "authorizations": [
                    decoded_authorization(self.supply_chain, agent.auth_token_for(self.supply_chain))
                ]
                + body.get("authorizations", []),
            }
            if "market_analysis" in body:
                job.results["market_analysis"] = body["market_analysis"]
            job.status, job.current_step = "completed", "done"
        except (FlowError, AAuthError) as exc:
            job.status, job.current_step, job.error, job.detail = "failed", "stopped", exc.code, exc.detail
        except Exception as exc:  # a job must end in a status, whatever happened
            job.status, job.current_step, job.error, job.detail = (
                "failed",
                "stopped",
                "server_error",
                repr(exc),
            )

    # -- routes ----------------------------------------------------------------------------
    async def start(self, request: Request) -> Response:
        """Refused first as a cross-site request (``403`` foreign origin, ``415`` not JSON:
        a form or a ``text/plain`` POST is what another site can send unasked); a malformed
        body is ``400``, a body of the wrong shape ``422`` (as in the seed); ``429`` when
        ``max_live_jobs`` are unfinished."""
        check_origin(request, self.identifier)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise AAuthError("invalid_request", "send the job as application/json", status=415)
        if sum(job.status in UNFINISHED for job in self.jobs.values()) >= self.max_live_jobs:
            raise AAuthError("rate_limited", "too many jobs are unfinished; try again later", retry_after=5)
        raw = await request.body()
        try:
            body = await request.json() if raw.strip() else {}
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            raise AAuthError("invalid_request", "the body must be JSON") from None
        if not isinstance(body, dict):
            raise AAuthError(
                "invalid_request", f"the body must be an object with {', '.join(START_FIELDS)}", status=422
            )
        unknown = sorted(set(body) - set(START_FIELDS))
        if unknown:
            allowed = ", ".join(START_FIELDS)
            raise AAuthError(
                "invalid_request", f"unknown field(s) {', '.join(unknown)}; allowed: {allowed}", status=422
            )
        for name in START_FIELDS:
            if name in body and body[name] is not None and not isinstance(body[name], str):
                raise AAuthError("invalid_request", f"{name} must be a string", status=422)
        request_id = self.id_factory()
        job = Job(
            request_id,
            body.get("custom_prompt") or DEFAULT_PROMPT,
            body.get("optimization_type") or "inventory",
        )
        job.callback_url = self.browser_url(f"{self.identifier}/callback?request_id={request_id}")
        self.jobs[request_id] = job
        job.task = asyncio.get_running_loop().create_task(self.run(job))
        return JSONResponse({"request_id": request_id, "status": "started"})

    def _job(self, request: Request) -> Job | None:
        return self.jobs.get(request.path_params["request_id"])

    async def progress(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            raise AAuthError("not_found", "no such optimization request")
        return JSONResponse(job.progress(self.browser_url))

    async def results(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            raise AAuthError("not_found", "no such optimization request")
        if job.status != "completed":
            raise AAuthError("conflict", f"the request is {job.status}, not completed")
        return JSONResponse({"request_id": job.request_id, **job.results})

    async def index(self, request: Request) -> HTMLResponse:
        return HTMLResponse(INDEX_PAGE, headers={"content-security-policy": INDEX_CSP})

    async def callback(self, request: Request) -> HTMLResponse:
        return HTMLResponse(CALLBACK_PAGE, headers={"content-security-policy": CALLBACK_CSP})

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "agent": self.identifier})


def _callback(url: str | None) -> str | None:
    """``url`` if the PS accepts it as a callback (-11 "User Interaction"), else ``None``: a
    path under a Jupyter server's proxy names no host, and without a callback the PS's page
    ends with "you can close this window" while the backend's page sees the job go on."""
    try:
        return check_callback_url(url) if url is not None else None
    except AAuthError:
        return None
