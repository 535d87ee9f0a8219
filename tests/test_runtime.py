"""The lab runtime over real loopback sockets and over ASGI: kernel safety and identifiers.

Facts under test, measured in Jupyter kernels: servers on a private loop thread,
port 0, bounded start and stop, no stale SIGINT handler, no SystemExit on a port clash,
sync clients that work while the calling thread runs its own event loop (a kernel cell).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import socket
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from aauth_kit.errors import UsageError
from aauth_kit.http_client import httpx, identifier_origin, make_fetch
from aauth_kit.lifespan import ServerStartError
from aauth_kit.loop import LoopThread, get_loop_thread
from aauth_kit.runtime import Hosts
from aauth_kit.transport import SyncBridgeTransport, UnknownHostError, VirtualHostTransport
from aauth_kit.uvicorn_server import servers, start_server, stop_all

PS = "https://ps.example"
MODES = ["socket", "asgi"]


def make_app(lifespan=None) -> Starlette:
    async def echo(request):
        return JSONResponse(
            {
                "host": request.headers["host"],
                "url": str(request.url),
                "thread": threading.current_thread().name,
                "body": (await request.body()).decode(),
                "state": dict(request.state._state),
            }
        )

    async def slow(request):
        await asyncio.sleep(float(request.query_params.get("s", "30")))
        return PlainTextResponse("late")

    return Starlette(
        routes=[Route("/echo", echo, methods=["GET", "POST"]), Route("/slow", slow)], lifespan=lifespan
    )


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


@pytest.fixture(autouse=True)
def _clean():
    yield
    stop_all()


@pytest.fixture(params=MODES)
def hosts(request):
    with Hosts(request.param) as hosts:
        hosts.add(PS, make_app())
        yield hosts


# ---------------------------------------------------------------- requests in both modes


def test_sync_client_keeps_identifier_host_and_url(hosts):
    """Identifiers: the app sees Host: ps.example and the https identifier URL in both modes."""
    with hosts.client() as client:
        response = client.post(f"{PS}/echo?x=1", content=b"hi")
    assert response.status_code == 200
    body = response.json()
    assert body["host"] == "ps.example"
    assert body["url"] == f"{PS}/echo?x=1"
    assert body["body"] == "hi"


def test_apps_always_run_on_the_loop_thread(hosts):
    """Kernel safety: one private loop runs every server, whichever client calls."""
    with hosts.client() as client:
        assert client.get(f"{PS}/echo").json()["thread"] == get_loop_thread().name


def test_async_client_from_inside_the_loop_thread(hosts):
    async def call():
        async with hosts.async_client() as client:
            return (await client.get(f"{PS}/echo")).json()

    assert get_loop_thread().run(call(), timeout=10)["url"] == f"{PS}/echo"


def test_async_client_from_a_foreign_event_loop(hosts):
    """A cell's top-level ``await`` runs on the kernel's loop; the request hops to the kit's loop."""

    async def cell():
        async with hosts.async_client() as client:
            return (await client.get(f"{PS}/echo")).json()

    body = asyncio.run(cell())
    assert body["host"] == "ps.example"
    assert body["thread"] == get_loop_thread().name


def test_sync_client_while_calling_thread_runs_a_loop(hosts):
    """A sync call from a kernel cell must not deadlock (the kernel runs a loop)."""

    async def cell():
        assert asyncio.get_running_loop().is_running()
        with hosts.client(timeout=5) as client:
            return client.get(f"{PS}/echo").json()

    assert asyncio.run(cell())["url"] == f"{PS}/echo"


def test_fifty_concurrent_requests(hosts):
    async def burst():
        async with hosts.async_client() as client:
            responses = await asyncio.gather(*(client.get(f"{PS}/echo?i={i}") for i in range(50)))
        return [r.json()["url"] for r in responses]

    assert get_loop_thread().run(burst(), timeout=30) == [f"{PS}/echo?i={i}" for i in range(50)]

    with hosts.client() as client, concurrent.futures.ThreadPoolExecutor(10) as pool:
        urls = list(pool.map(lambda i: client.get(f"{PS}/echo?i={i}").json()["url"], range(50)))
    assert urls == [f"{PS}/echo?i={i}" for i in range(50)]


def test_fetch_for_metadata_resolver(hosts):
    """``make_fetch``: the ``async def fetch(url) -> (status, headers, body)`` a resolver takes."""
    fetch = hosts.fetch()
    status, headers, body = asyncio.run(fetch(f"{PS}/echo"))
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert b'"host":"ps.example"' in body
    status, _, _ = get_loop_thread().run(fetch(f"{PS}/missing"), timeout=10)
    assert status == 404


# ---------------------------------------------------------------- the virtual network


@pytest.mark.parametrize("mode", MODES)
def test_unknown_virtual_host_raises_without_network(mode, monkeypatch):
    """The lab never uses the real network: no DNS, no environment proxy, a clear error."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

    def no_dns(*args, **kwargs):
        raise AssertionError("DNS lookup attempted")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)

    async def cell(hosts):
        async with hosts.async_client() as client:
            await client.get("https://nowhere.example/")

    with Hosts(mode) as hosts, hosts.client() as client:
        with pytest.raises(UnknownHostError, match="nowhere.example"):
            client.get("https://nowhere.example/")
        with pytest.raises(httpx.ConnectError):
            asyncio.run(cell(hosts))


def test_environment_proxies_are_ignored(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with Hosts("socket") as hosts:
        hosts.add(PS, make_app())
        with hosts.client() as client:
            assert client.get(f"{PS}/echo").status_code == 200


def test_dev_mode_loopback_urls_pass_through():
    """``aauth-kit serve`` identifiers are plain http://127.0.0.1:PORT."""
    with Hosts("socket") as hosts:
        hosts.add(PS, make_app())
        url = hosts.url_of(PS)
        assert url.startswith("http://127.0.0.1:")
        with hosts.client() as client:
            body = client.get(f"{url}/echo").json()
        assert body["url"] == f"{url}/echo"


def test_dev_identifier_listens_on_its_own_port():
    """``aauth-kit serve``: the identifier http://127.0.0.1:PORT is where the server listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    identifier = f"http://127.0.0.1:{port}"
    with Hosts("socket") as hosts:
        hosts.add(identifier, make_app(), port=port)
        assert hosts.url_of(identifier) == identifier
        with hosts.client() as client:
            assert client.get(f"{identifier}/echo").json()["host"] == f"127.0.0.1:{port}"
    assert refuses(port)


def test_identifiers_are_bare_origins():
    assert identifier_origin("https://PS.example/") == PS
    assert identifier_origin("https://ps.example:443") == PS
    assert identifier_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in (
        "https://ps.example/path",
        "https://ps.example?q",
        "ftp://ps.example",
        "ps.example",
        "https://u@ps.example",
    ):
        with pytest.raises(UsageError):
            identifier_origin(bad)
    with pytest.raises(UsageError):
        VirtualHostTransport({"https://PS.example/": make_app()})


def test_hosts_rejects_unknown_mode():
    with pytest.raises(UsageError):
        Hosts("carrier-pigeon")
    assert Hosts("auto").mode == "socket"


def test_url_of_in_asgi_mode_is_a_usage_error():
    with Hosts("asgi") as hosts:
        hosts.add(PS, make_app())
        with pytest.raises(UsageError, match="ASGI mode"):
            hosts.url_of(PS)


def test_stopped_server_gives_a_clear_connect_error():
    with Hosts("socket") as hosts:
        hosts.add(PS, make_app())
        hosts._servers[PS].stop()
        with hosts.client() as client, pytest.raises(httpx.ConnectError, match="ps.example.*stopped"):
            client.get(f"{PS}/echo")


@pytest.mark.parametrize("mode", MODES)
def test_request_timeouts_are_bounded(mode):
    """Bounded waits: over ASGI nothing enforces httpx timeouts, so the runtime does."""
    with Hosts(mode, stop_timeout=1) as hosts:
        hosts.add(PS, make_app())
        started = time.monotonic()
        with hosts.client(timeout=0.3) as client, pytest.raises(httpx.TimeoutException):
            client.get(f"{PS}/slow?s=30")

        async def cell():
            async with hosts.async_client(timeout=0.3) as client:
                await client.get(f"{PS}/slow?s=30")

        with pytest.raises(httpx.TimeoutException):
            asyncio.run(cell())
        assert time.monotonic() - started < 8


def test_sync_bridge_on_the_loop_thread_refuses_instead_of_deadlocking():
    with Hosts("asgi") as hosts:
        hosts.add(PS, make_app())

        async def on_loop():
            with pytest.raises(UsageError, match="loop thread"):
                hosts.client().get(f"{PS}/echo")

        get_loop_thread().run(on_loop(), timeout=5)


def test_sync_bridge_over_a_plain_asgi_transport():
    bridge = SyncBridgeTransport(httpx.ASGITransport(app=make_app()), get_loop_thread())
    with httpx.Client(transport=bridge, base_url="http://rs.test") as client:
        assert client.get("/echo").json()["host"] == "rs.test"


def test_make_fetch_failures_are_oserror_or_timeout():
    """The ``jwks.Fetch`` contract: a request that cannot be made raises OSError or TimeoutError."""
    fetch = make_fetch(VirtualHostTransport({}))
    for url in ("https://ps.example/.well-known/aauth-person.json", "ftp://ps.example/x", "https://"):
        with pytest.raises(ConnectionError) as caught:
            asyncio.run(fetch(url))
        assert isinstance(caught.value, OSError)
    with pytest.raises(ConnectionError, match="no party is registered at https://ps.example"):
        asyncio.run(fetch("https://ps.example/"))
    slow = make_fetch(VirtualHostTransport({PS: make_app()}), timeout=0.1)
    with pytest.raises(TimeoutError):
        asyncio.run(slow(f"{PS}/slow?s=30"))


def test_non_http_urls_are_refused():
    with Hosts("asgi") as hosts, hosts.client() as client, pytest.raises(httpx.UnsupportedProtocol):
        client.get("ftp://ps.example/file")


# ---------------------------------------------------------------- loop thread


def test_run_from_the_loop_thread_raises():
    loop_thread = get_loop_thread()

    async def nested():
        loop_thread.run(asyncio.sleep(0))

    with pytest.raises(UsageError, match="loop thread"):
        loop_thread.run(nested(), timeout=5)


def test_run_is_bounded_and_cancels_the_work():
    cancelled = threading.Event()

    async def forever():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        get_loop_thread().run(forever(), timeout=0.2)
    assert cancelled.wait(5)


def test_run_returns_results_and_exceptions():
    async def value():
        return 42

    async def boom():
        raise TimeoutError("from the coroutine")

    loop_thread = get_loop_thread()
    assert loop_thread.run(value()) == 42
    with pytest.raises(TimeoutError, match="from the coroutine"):
        loop_thread.run(boom())
    with pytest.raises(UsageError):
        loop_thread.submit(value)


def test_private_loop_thread_starts_and_stops():
    loop_thread = LoopThread("scratch-loop")

    async def where():
        return threading.current_thread().name

    assert loop_thread.run(where()) == "scratch-loop"
    assert loop_thread.alive
    loop_thread.stop()
    assert not loop_thread.alive


# ---------------------------------------------------------------- servers


def test_port_zero_gives_a_real_port():
    handle = start_server(make_app(), "echo")
    assert handle.port > 0 and handle.url == f"http://127.0.0.1:{handle.port}"
    assert httpx.get(f"{handle.url}/echo", trust_env=False).json()["host"] == f"127.0.0.1:{handle.port}"
    assert servers() == {"echo": handle}


def test_restart_by_name_replaces_the_old_server():
    """Re-running a cell stops the old server first."""
    old = start_server(make_app(), "ps")
    new = start_server(make_app(), "ps")
    assert new.port != old.port
    assert refuses(old.port)
    assert not old.running and new.running
    assert servers() == {"ps": new}


def test_re_adding_an_identifier_replaces_its_server():
    with Hosts("socket") as hosts:
        hosts.add(PS, make_app())
        old_port = hosts.routes[PS][1]
        hosts.add(PS, make_app())
        assert refuses(old_port)
        with hosts.client() as client:
            assert client.get(f"{PS}/echo").status_code == 200


@pytest.mark.parametrize("mode", MODES)
def test_replacing_a_party_leaves_no_moment_without_a_server(mode):
    """A restarted party (Lab.restart_ps) takes over before the old one stops, so a client
    polling through the swap never meets a closed port or an unknown host."""
    with Hosts(mode) as hosts:
        hosts.add(PS, make_app())
        failures, done = [], threading.Event()

        def hammer():
            with hosts.client() as client:
                while not done.is_set():
                    try:
                        client.get(f"{PS}/echo").raise_for_status()
                    except Exception as exc:  # noqa: BLE001 - any failure is what this test counts
                        failures.append(repr(exc))

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            for _ in range(3):
                hosts.add(PS, make_app())
        finally:
            done.set()
            worker.join(30)
        assert failures == []


def test_stop_all():
    handles = [start_server(make_app(), name) for name in ("a", "b")]
    stop_all()
    assert servers() == {}
    assert all(refuses(h.port) for h in handles)
    handles[0].stop()  # idempotent


def test_port_clash_is_a_clear_error_not_systemexit():
    """uvicorn alone raises SystemExit(3) in the cell on a port clash, or hangs on a thread."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ServerStartError, match=f"127.0.0.1:{port}"):
            start_server(make_app(), "clash", port=port)
        assert time.monotonic() - started < 2
    assert "clash" not in servers()


def test_uvicorn_sys_exit_during_startup_does_not_kill_the_loop(monkeypatch):
    import uvicorn

    async def exits(self, sockets=None):
        raise SystemExit(3)

    monkeypatch.setattr(uvicorn.Server, "startup", exits)
    with pytest.raises(ServerStartError, match="code 3"):
        start_server(make_app(), "exits", start_timeout=5)
    monkeypatch.undo()
    assert get_loop_thread().alive
    assert start_server(make_app(), "after").running


def test_start_is_bounded_when_lifespan_hangs():
    @contextlib.asynccontextmanager
    async def hangs(app):
        await asyncio.sleep(60)
        yield

    started = time.monotonic()
    with pytest.raises(ServerStartError, match="within 0.5 s"):
        start_server(make_app(hangs), "hangs", start_timeout=0.5, stop_timeout=1)
    assert time.monotonic() - started < 4
    assert servers() == {}


def test_stop_is_bounded_with_a_request_in_flight():
    handle = start_server(make_app(), "busy", stop_timeout=1)

    def slow_request():
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{handle.url}/slow?s=30", timeout=40, trust_env=False)

    pending = threading.Thread(target=slow_request)
    pending.start()
    time.sleep(0.3)
    started = time.monotonic()
    handle.stop()
    assert time.monotonic() - started < 2
    assert refuses(handle.port)
    pending.join(5)
    assert not pending.is_alive()  # the in-flight request was ended, not left hanging


def test_sigint_handler_is_unchanged():
    """uvicorn alone leaves a stale SIGINT handler behind in a kernel."""

    def handler(signum, frame):
        """Stands in for the kernel's own handler."""

    previous = signal.signal(signal.SIGINT, handler)
    try:
        start_server(make_app(), "sig").stop()
        with Hosts("socket") as hosts:
            hosts.add(PS, make_app())
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_start_server_on_the_loop_thread_refuses():
    async def on_loop():
        start_server(make_app(), "nested")

    with pytest.raises(UsageError):
        get_loop_thread().run(on_loop(), timeout=5)


# ---------------------------------------------------------------- ASGI lifespan


@pytest.mark.parametrize("mode", MODES)
def test_lifespan_state_startup_and_shutdown(mode):
    """ASGI lifespan runs the same way in both modes; its state reaches every request."""
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"db": "ready"}
        events.append("shutdown")

    with Hosts(mode) as hosts:
        hosts.add(PS, make_app(lifespan))
        assert events == ["startup"]
        with hosts.client() as client:
            assert client.get(f"{PS}/echo").json()["state"] == {"db": "ready"}
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize("mode", MODES)
def test_lifespan_failure_is_a_clear_start_error(mode):
    @contextlib.asynccontextmanager
    async def broken(app):
        raise RuntimeError("database missing")
        yield

    with Hosts(mode) as hosts, pytest.raises(ServerStartError, match="database missing"):
        hosts.add(PS, make_app(broken))
    assert servers() == {}


@pytest.mark.parametrize("mode", MODES)
def test_app_without_lifespan_support_is_served(mode):
    """uvicorn "auto": an app that raises on the lifespan scope is served anyway."""
    inner = make_app()

    async def plain(scope, receive, send):
        if scope["type"] != "http":
            raise ValueError("http only")
        await inner(scope, receive, send)

    with Hosts(mode) as hosts:
        hosts.add(PS, plain)
        with hosts.client() as client:
            assert client.get(f"{PS}/echo").status_code == 200
