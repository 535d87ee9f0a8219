"""The backend: the agent behind the seed's UI, with the seed's job API and a web page.

``POST /optimization/start`` starts a job that calls the supply-chain agent as an AAuth
agent (sign → 401 → person token → resource token → auth token, maybe with consent →
retry).  While the person's consent is pending the job reports
``interaction_required`` with the interaction URL and code (seed step 6); the agent
keeps polling the PS's pending URL and the job completes the moment consent lands.

Job API (seed-compatible):

* ``POST /optimization/start`` ``{"custom_prompt"?, "optimization_type"?}`` →
  ``{"request_id", "status": "started"}``; any other field → 422.
* ``GET /optimization/progress/{request_id}`` → ``{"request_id", "status",
  "current_step", "interaction_url"?, "interaction_code"?, "callback_url"?, "error"?}``
* ``GET /optimization/results/{request_id}`` → ``{"summary", "recommendations",
  "market_analysis"?, "authorizations"}`` — auth tokens decoded, never raw.
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

from aauth_kit.agent import Agent, Interaction
from aauth_kit.asgi import exception_handlers, middleware
from aauth_kit.errors import AAuthError
from aauth_kit.flow import FlowError
from aauth_kit.keys import Key

from .backend_page import CALLBACK_CSP, CALLBACK_PAGE, INDEX_CSP, INDEX_PAGE
from .supply_chain import decoded_authorization

START_FIELDS = ("custom_prompt", "optimization_type")
DEFAULT_PROMPT = "Optimize laptop supply chain"
STATUSES = ("pending", "running", "interaction_required", "completed", "failed")


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

    def progress(self) -> dict:
        body = {"request_id": self.request_id, "status": self.status, "current_step": self.current_step}
        if self.status == "interaction_required" and self.interaction is not None:
            body["interaction_url"] = self.interaction.link(self.callback_url)
            body["interaction_code"] = self.interaction.code
            body["callback_url"] = self.callback_url
        if self.error:
            body["error"] = self.error
            body["detail"] = self.detail
        return body


class Backend:
    """The backend app.  ``client_factory(auth=…)`` gives an ``httpx.AsyncClient`` on the
    lab's network; the agent's key and agent token come from the PS's Agent Provider."""

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
    ):
        self.identifier = identifier
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
                    _error_code(response), f"the supply-chain agent answered {response.status_code}"
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
        """A malformed body is ``400``; a body of the wrong shape ``422`` (as in the seed)."""
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
        job.callback_url = f"{self.identifier}/callback?request_id={request_id}"
        self.jobs[request_id] = job
        job.task = asyncio.get_running_loop().create_task(self.run(job))
        return JSONResponse({"request_id": request_id, "status": "started"})

    def _job(self, request: Request) -> Job | None:
        return self.jobs.get(request.path_params["request_id"])

    async def progress(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            raise AAuthError("not_found", "no such optimization request")
        return JSONResponse(job.progress())

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


def _error_code(response) -> str:
    try:
        code = response.json().get("error")
    except ValueError:
        code = None
    return code if isinstance(code, str) else "server_error"
