"""The lab: the whole cast of the seed's story running in this process, in one call.

``Lab()`` starts the Person Server (with its Agent Provider), the supply-chain,
market-analysis and parts-supplier resources, the backend agent, and the parts catalog with
its Access Server, each behind a spec-shaped identifier
(``https://ps.example``, …) routed to real loopback sockets (``mode="socket"``) or to
the apps directly (``mode="asgi"``), every exchange recorded in one :class:`Trace`.
``dev=True`` instead gives each party the identifier ``http://127.0.0.1:PORT`` it really
listens on, for browsers, curl and agents written in other languages.

Docs mode (``docs=True``, or the environment variable ``AAUTH_KIT_DOCS=1``) fixes what would otherwise change between runs: the clock
(frozen; move it with ``lab.clock.advance(seconds)``), every key (seeded), and the
PS's ids and interaction codes — so a notebook's outputs are the same on every run.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from . import key_files
from .agent import Agent
from .connection_limits import ConnectionLimits
from .egress import Egress, no_network
from .http_client import IDENTITY, arefuse_content_coding
from .interaction import new_code
from .jwks import HttpResolver
from .key_files import private_directory
from .keys import Key
from .lab_clock import DOCS_EPOCH, LabClock
from .message import HttpMessage
from .runtime import Hosts
from .server_proxy import BrowserLink, browser_url
from .trace import Exchange, Trace

if TYPE_CHECKING:
    from .servers.ps.context import Caps
    from .servers.ps.store.persons import PersonAccount

IDENTIFIERS = {
    "ps": "https://ps.example",
    "backend": "https://backend.example",
    "supply_chain": "https://supply-chain.example",
    "market_analysis": "https://market-analysis.example",
    "access_server": "https://as.example",
    "catalog": "https://catalog.example",
    "supplier": "https://supplier.example",
}
NAMES = {
    "ps": "PS",
    "backend": "Backend",
    "supply_chain": "Supply chain",
    "market_analysis": "Market analysis",
    "access_server": "AS",
    "catalog": "Catalog",
    "supplier": "Supplier",
}
SEED_PORTS = {
    "ps": 8765,
    "backend": 8000,
    "supply_chain": 9999,
    "market_analysis": 9998,
    "access_server": 9997,
    "catalog": 9996,
    "supplier": 9995,
}
DOCS_ENV = "AAUTH_KIT_DOCS"  # "1": labs start in docs mode unless told otherwise (make notebooks, nbval)
KEYS_DIR = "keys"  # the cast's keys, under the data directory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """Start the cast; use :attr:`ps`, :attr:`supply_chain`, :attr:`market_analysis`,
    :attr:`supplier`, :attr:`backend`, :attr:`access_server`, :attr:`catalog`, :attr:`trace`,
    :meth:`new_agent` and :meth:`client`.

    Every request the cast makes passes egress admission (:mod:`aauth_kit.egress`): the
    cast's own origins, plus ``allow_origins`` (say, an outside Agent Provider on loopback
    in dev mode); nothing else.  ``limits`` bounds each server's connections, header size
    and header-read time (:mod:`aauth_kit.connection_limits`); ``caps`` what one agent or
    client may hold at the PS (:class:`~aauth_kit.servers.ps.context.Caps`)."""

    def __init__(
        self,
        *,
        mode: str = "socket",
        docs: bool | None = None,
        dev: bool = False,
        ports: dict[str, int] | None = None,
        consent_scopes: list[str] | None = None,
        consent_prefixes: list[str] | None = None,
        pending_ttl: float = 600,
        data_dir: str | Path | None = None,
        persons: Iterable[PersonAccount] = (),
        allow_origins: Collection[str] = (),
        limits: ConnectionLimits | None = None,
        caps: Caps | None = None,
    ):
        from .consent_policy import ConsentPolicy
        from .servers.backend import Backend
        from .servers.market_analysis import MarketAnalysisAgent
        from .servers.ps.store.persons import DEMO_PERSON
        from .servers.supplier import Supplier
        from .servers.supply_chain import SupplyChainAgent

        if docs is None:
            docs = os.environ.get(DOCS_ENV) == "1"
        if dev and mode != "socket":
            raise ValueError("dev mode serves real loopback ports, so it needs mode='socket'")
        self.docs = docs
        self.dev = dev
        self.clock = LabClock(DOCS_EPOCH if docs else None)
        #: No ``data_dir`` given: the state lives in a new temporary directory (lost to the next start).
        self.temporary = not data_dir
        self.data_dir = (
            private_directory(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="aauth-lab-"))
        )
        self.pending_ttl = pending_ttl
        self.caps = caps
        named = {p.username for p in persons}
        #: Who signs in at the PS: the demo administrator mcp-user (unless ``persons`` names it) and ``persons``.
        self.persons = [*(() if DEMO_PERSON.username in named else (DEMO_PERSON,)), *persons]
        self.ports = {
            name: (ports or {}).get(name, 0) or (_free_port() if dev else 0) for name in IDENTIFIERS
        }
        self.identifiers = (
            {name: f"http://127.0.0.1:{self.ports[name]}" for name in IDENTIFIERS}
            if dev
            else dict(IDENTIFIERS)
        )
        self.trace = Trace(names={self.identifiers[n]: NAMES[n] for n in IDENTIFIERS}, clock=self.clock)
        self.hosts = Hosts(mode, limits=limits)
        self.hosts.egress = Egress(dev=dev, routes=self.hosts.routes, allow=allow_origins, resolve=no_network)
        self.resolver = HttpResolver(self.hosts.fetch(), dev=dev)
        self._random = random.Random(20260207)

        policy = ConsentPolicy.from_env()
        if consent_scopes is not None:
            policy.scopes = list(consent_scopes)
        if consent_prefixes is not None:
            policy.prefixes = list(consent_prefixes)
        self.policy = policy

        self.keys = {  # kept in the data directory: a restart on it keeps every server's identity
            name: self.key(name)
            if docs
            else key_files.load_or_create(self.data_dir / KEYS_DIR, name, kid=name)
            for name in (
                "ps",
                "supply_chain",
                "supply_chain_agent",
                "market_analysis",
                "backend",
                "access_server",
                "catalog",
                "supplier",
            )
        }
        self._start_ps()
        self.market_analysis = MarketAnalysisAgent(
            self.identifiers["market_analysis"],
            key=self.keys["market_analysis"],
            resolver=self.resolver,
            clock=self.clock,
            id_factory=self._ids("maa") if docs else None,
            dev=dev,
        )
        self._add("market_analysis", self.market_analysis.app)
        self.supply_chain = SupplyChainAgent(
            self.identifiers["supply_chain"],
            key=self.keys["supply_chain"],
            agent_key=self.keys["supply_chain_agent"],
            resolver=self.resolver,
            client_factory=self._client_factory("Supply chain"),
            market_analysis=self.identifiers["market_analysis"],
            clock=self.clock,
            id_factory=self._ids("sca") if docs else None,
            code_factory=self._code if docs else None,
            dev=dev,
        )
        self._add("supply_chain", self.supply_chain.app)
        self.supplier = Supplier(
            self.identifiers["supplier"],
            key=self.keys["supplier"],
            resolver=self.resolver,
            clock=self.clock,
            id_factory=self._ids("held") if docs else None,
            code_factory=self._code if docs else None,
            session_ids=self._ids("session") if docs else None,
            dev=dev,
            persons=self.supplier_accounts(),
        )
        self._add("supplier", self.supplier.app)
        backend_token = self.ps.issue_agent_token("backend", self.keys["backend"], person="mcp-user")
        self.backend = Backend(
            self.identifiers["backend"],
            key=self.keys["backend"],
            agent_token=backend_token,
            client_factory=self._client_factory("Backend"),
            supply_chain=self.identifiers["supply_chain"],
            clock=self.clock,
            id_factory=self._ids("job") if docs else None,
            dev=dev,
            browser_url=self.browser_url,
        )
        self._add("backend", self.backend.app)
        self._start_four_party()

    # -- building ------------------------------------------------------------------------------
    def key(self, name: str) -> Key:
        """A new Ed25519 key: seeded by ``name`` in docs mode, random otherwise."""
        return Key.from_seed(f"aauth-lab/{name}", kid=name) if self.docs else Key.generate(kid=name)

    def supplier_accounts(self) -> dict[str, tuple[str, tuple[str, str]]]:
        """The lab's persons as the supplier knows them: the same username and password, and the
        person their PS's person tokens name there (``(iss, sub)``, the ``sub`` pairwise)."""
        ps, supplier = self.identifiers["ps"], self.identifiers["supplier"]
        return {p.username: (p.password, (ps, self.ps.subject(p.username, supplier))) for p in self.persons}

    def _ids(self, prefix: str):
        counter = itertools.count(1)
        return lambda: f"{prefix}-{next(counter):04d}"

    def _code(self) -> str:
        return new_code(random_bytes=lambda n: bytes(self._random.getrandbits(8) for _ in range(n)))

    def _add(self, name: str, app) -> None:
        self.hosts.add(self.identifiers[name], app, port=self.ports[name] if self.dev else 0)

    def _client_factory(self, source: str):
        def factory(**kwargs):
            hooks = self.trace.event_hooks(source)  # a stranger's compressed answer refused unread
            hooks["response"].insert(0, arefuse_content_coding)
            kwargs.setdefault("event_hooks", hooks)
            kwargs.setdefault("headers", IDENTITY)
            kwargs.setdefault("timeout", 60)
            return self.hosts.async_client(**kwargs)

        return factory

    def _start_ps(self) -> None:
        from .servers.ps import PersonServer

        self.ps = PersonServer(
            self.identifiers["ps"],
            key=self.keys["ps"],
            resolver=self.resolver,
            data_dir=self.data_dir,
            policy=self.policy,
            pending_ttl=self.pending_ttl,
            clock=self.clock,
            code_factory=self._code if self.docs else None,
            id_factory=self._ids("pending") if self.docs else None,
            dev=self.dev,
            client_factory=self._client_factory("PS"),
            persons=self.persons,
            caps=self.caps,
            egress=self.hosts.egress,
        )
        self._add("ps", self.ps.app)

    def _start_four_party(self) -> None:
        """The parts catalog and its Access Server, which trusts the lab's PS (-11
        "Federated Authorization Access (Four-Party)")."""
        from .servers.access_server import AccessPolicy, AccessServer
        from .servers.catalog import SCOPES, Catalog

        self.access_server = AccessServer(
            self.identifiers["access_server"],
            key=self.keys["access_server"],
            resolver=self.resolver,
            resources=[self.identifiers["catalog"]],
            policy=AccessPolicy(
                trusted={self.identifiers["ps"]}, grants=set(SCOPES), claims={"catalog:order": ("name",)}
            ),
            name="Catalog Access Server",
            clock=self.clock,
            client_factory=self._client_factory("AS"),
            id_factory=self._ids("as") if self.docs else None,
            dev=self.dev,
            owners={p.username: p.password for p in self.persons},  # the catalog's owners sign in there
            resource_owners={p.username: [self.identifiers["catalog"]] for p in self.persons},
            code_factory=self._code if self.docs else None,
        )
        self._add("access_server", self.access_server.app)
        self.catalog = Catalog(
            self.identifiers["catalog"],
            key=self.keys["catalog"],
            resolver=self.resolver,
            access_server=self.identifiers["access_server"],
            clock=self.clock,
            id_factory=self._ids("cat") if self.docs else None,
            dev=self.dev,
        )
        self._add("catalog", self.catalog.app)

    def restart_ps(self) -> None:
        """Start a new PS on the same data directory in place of the running one (the PS
        keeps its state on disk): pending requests, decisions and issued tokens carry over."""
        old = self.ps
        self._start_ps()
        old.close()

    # -- using -------------------------------------------------------------------------------------
    def url(self, name: str) -> str:
        """Where a browser reaches ``name``: its loopback URL (the identifier in dev mode) or,
        on JupyterHub and Binder, that URL through the Jupyter server's proxy (:mod:`.server_proxy`)."""
        loopback = self.identifiers[name] if self.dev else self.hosts.url_of(self.identifiers[name])
        return browser_url(loopback)

    def browser_url(self, url: str) -> str:
        """``url`` on one of the cast's identifiers with :meth:`url` in its place (the backend
        page's links to the PS and back); unchanged in ASGI mode, where a browser reaches nothing."""
        for name, identifier in self.identifiers.items():
            rest = url[len(identifier) :]
            if url.startswith(identifier) and rest[:1] in ("", "/", "?") and self.hosts.mode == "socket":
                return self.url(name) + rest
        return url

    def link(self, name: str, path: str = "/") -> BrowserLink:
        """A link to ``path`` on ``name`` for a cell to show (:meth:`url` + ``path``)."""
        return BrowserLink(self.url(name) + path)

    def new_agent(self, local: str = "notebook", *, person: str = "mcp-user", **options) -> Agent:
        """A new agent bootstrapped at the PS's Agent Provider and bound to ``person``."""
        key = self.key(f"agent/{local}")
        token = self.ps.issue_agent_token(local, key, person=person)
        return Agent(key, token, clock=self.clock, dev=self.dev, **options)

    def client(self, agent: Agent | None = None, *, source: str = "Agent", **auth_options):
        """A sync ``httpx.Client`` on the lab's network, signing as ``agent`` and traced as ``source``."""
        return self.hosts.client(
            **self._client_options(self.trace.sync_event_hooks(source), agent, auth_options)
        )

    def send(self, message: HttpMessage, *, source: str = "Agent") -> Exchange:
        """Send a hand-built (e.g. hand-signed) ``message`` exactly as it is — no agent
        logic — and return the traced exchange with the response."""
        headers = [(name, value) for name, value in message.headers if name.lower() != "host"]
        with self.client(source=source) as client:
            response = client.request(
                message.method, message.target_uri, headers=headers, content=message.body
            )
        return response.request.extensions["aauth_trace"]  # this one, whatever else ran meanwhile

    def async_client(self, agent: Agent | None = None, *, source: str = "Agent", **auth_options):
        """The same as :meth:`client`, as an ``httpx.AsyncClient`` (for ``await`` in a cell)."""
        return self.hosts.async_client(
            **self._client_options(self.trace.event_hooks(source), agent, auth_options)
        )

    @staticmethod
    def _client_options(hooks: dict, agent: Agent | None, auth_options: dict) -> dict:
        options = {"event_hooks": hooks, "timeout": 60}
        if agent is not None:
            options["auth"] = agent.auth(**auth_options)
        return options

    @property
    def stopped(self) -> bool:
        """The cast no longer answers: :meth:`stop` ran, or a newer lab in this process took
        over its servers.  A notebook never stops its lab; the kernel's exit does."""
        return not self.hosts.serving

    def stop(self) -> None:
        """Stop every server and close the PS's store (the process's exit does the same)."""
        self.hosts.stop()
        self.ps.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        parties = ", ".join(f"{NAMES[n]}={self.identifiers[n]}" for n in IDENTIFIERS)
        return f"Lab(mode={self.hosts.mode!r}, docs={self.docs}, {parties})"
