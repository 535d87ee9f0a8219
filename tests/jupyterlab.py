"""Browser-test helper: a real JupyterLab server in a subprocess, and the page steps
that drive a notebook in it.

The server runs ``python -m jupyterlab`` from this environment on a free loopback port
with a fixed token, over a temporary copy of the notebooks (the committed files are
never touched).  Its settings are Galata's (``jupyterlab.galata.configure_jupyter_server``:
no browser, no XSRF check, the app exposed as ``window.jupyterapp``) plus ours: no
news, no update checks, a read-only extension manager, no terminals, every cell
attached to the page, and all of Jupyter's per-user directories inside the test's own
folder.  The kernel gets ``AAUTH_KIT_DOCS=1`` (docs mode, as in ``make notebooks``).

The page steps go through JupyterLab's command registry and notebook model
(``notebook:run-all-cells``, ``cell.executionCount``, output JSON) rather than menus
and prompts, which change between JupyterLab versions.  Every wait is bounded, as a
hang guard only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

TOKEN = "aauth-kit-browser-test"  # the server listens on loopback only
START_TIMEOUT = 90.0  # seconds; hang guards, not timing assertions
STOP_TIMEOUT = 20.0
RUN_TIMEOUT_MS = 180_000
PORT_ATTEMPTS = 3

#: JupyterLab user settings for a quiet, predictable page.
USER_SETTINGS = {
    # no "Would you like to receive official Jupyter news?" toast, no update check
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell in the DOM, so any cell's output can be read and clicked
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

SERVER_CONFIG = """\
# Written by tests/jupyterlab.py for one test run: Galata's test settings, then ours.
from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.port_retries = 0
c.ServerApp.allow_root = True  # CI runs as root
c.ServerApp.root_dir = {root!r}
c.ServerApp.terminals_enabled = False
c.IdentityProvider.token = {token!r}
c.LabApp.user_settings_dir = {settings!r}
c.LabApp.workspaces_dir = {workspaces!r}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
"""


class JupyterLabFailed(RuntimeError):
    """The server did not start (or stop); the message ends with its log."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the server is told not to try others)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_notebooks(source: Path, destination: Path) -> Path:
    """Copy the notebooks folder (``.ipynb`` files, sources, data) to ``destination``."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return destination


@dataclass
class JupyterLabServer:
    """A running ``jupyter lab``: :meth:`url` opens a notebook, :meth:`stop` ends it."""

    process: subprocess.Popen
    root: Path
    port: int
    log_path: Path
    token: str = TOKEN

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """The address that opens ``notebook`` (relative to :attr:`root`) in a fresh workspace."""
        return f"{self.base_url}/lab/tree/{quote(notebook)}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, bytes]:
        """One call to the server's REST API with the token."""
        request = urllib.request.Request(
            f"{self.base_url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Poll ``/api/status`` until it answers 200; fail if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JupyterLabFailed(
                    f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if self.api("/api/status", timeout=2.0)[0] == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.2)
        self.stop()
        raise JupyterLabFailed(
            f"jupyter lab did not answer /api/status within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the server to shut down (it stops its kernels), then SIGTERM, then SIGKILL."""
        if self.process.poll() is None:
            try:
                self.api("/api/shutdown", method="POST")
            except OSError:
                pass
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self.process.poll() is None:
                os.killpg(self.process.pid, sig)  # the server's own process group (start_new_session)
            try:
                self.process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue
        raise JupyterLabFailed(f"jupyter lab (pid {self.process.pid}) did not stop:\n{self.log_tail()}")


def start_jupyterlab(root: Path, workdir: Path, *, timeout: float = START_TIMEOUT) -> JupyterLabServer:
    """Start JupyterLab over ``root``; its config, settings, runtime files and log go in ``workdir``.

    Returns once ``/api/status`` answers.  A port taken between :func:`free_port` and the
    server's bind is retried with another port.
    """
    dirs = {
        name: workdir / name
        for name in ("config", "data", "runtime", "settings", "workspaces", "tmp", "ipython")
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for relative, values in USER_SETTINGS.items():
        settings_file = dirs["settings"] / relative
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(values, indent=2))
    env = {
        **os.environ,
        "AAUTH_KIT_DOCS": "1",  # the kernel's labs run in docs mode
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_GALATA_ROOT_DIR": str(root),
        "IPYTHONDIR": str(dirs["ipython"]),
        "TMPDIR": str(dirs["tmp"]),  # Galata's helper makes temporary folders: keep them here
    }
    env.pop("JUPYTER_TOKEN", None)
    attempt = 0
    while True:
        attempt += 1
        port = free_port()
        (dirs["config"] / "jupyter_server_config.py").write_text(
            SERVER_CONFIG.format(
                port=port,
                root=str(root),
                token=TOKEN,
                settings=str(dirs["settings"]),
                workspaces=str(dirs["workspaces"]),
            )
        )
        log_path = workdir / f"server-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab"],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = JupyterLabServer(process=process, root=root, port=port, log_path=log_path)
        try:
            server.wait_ready(timeout)
            return server
        except JupyterLabFailed:
            if attempt >= PORT_ATTEMPTS or "already in use" not in server.log_tail():
                raise


# --------------------------------------------------------------------------- the page

# The notebook panel showing ``name``, found among the main area's widgets; undefined while
# the page has not exposed the app yet (a predicate that throws ends a wait at once).
_PANEL = (
    "const app = window.jupyterapp;"
    "const panel = app && app.shell && [...app.shell.widgets('main')]"
    ".find(w => w.context && w.context.path === name && w.content && w.content.model);"
)

_STATE = (
    _PANEL
    + """
  if (!panel) return null;
  const cells = panel.content.model.cells;
  const end = Math.min(stop === null ? cells.length : stop, cells.length);
  let pending = 0; const errors = [];
  for (let i = start || 0; i < end; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.executionCount === null) pending++;
    for (let j = 0; j < cell.outputs.length; j++) {
      const output = cell.outputs.get(j).toJSON();
      if (output.output_type === 'error') errors.push({cell: i, ename: output.ename, evalue: output.evalue});
    }
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {pending, errors, idle: !!kernel && kernel.status === 'idle'};
"""
)


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, server: JupyterLabServer, name: str):
        self.page, self.server, self.name = page, server, name

    def open(self, timeout_ms: int = 90_000) -> NotebookPage:
        """Load the notebook and wait until its kernel is connected and idle."""
        self.page.goto(self.server.url(self.name))
        self.page.wait_for_function(
            "(name) => {"
            + _PANEL
            + """
              if (!panel || !panel.context.isReady || !panel.sessionContext.isReady) return false;
              const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
              return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
            }""",
            arg=self.name,
            timeout=timeout_ms,
        )
        return self

    def command(self, command: str, active_cell: int | None = None, *, awaited: bool = False) -> None:
        """Run a JupyterLab command on this notebook, with cell ``active_cell`` active.

        Not awaited unless ``awaited``: a run is waited for by :meth:`wait_until_run`,
        which is bounded (a page evaluation is not).
        """
        self.page.evaluate(
            "async ([name, command, active, awaited]) => {"
            + _PANEL
            + """
              window.jupyterapp.shell.activateById(panel.id);
              if (active !== null) panel.content.activeCellIndex = active;
              const done = window.jupyterapp.commands.execute(command);
              if (awaited) await done;
            }""",
            [self.name, command, active_cell, awaited],
        )

    def run(
        self,
        command: str,
        *,
        stop: int | None = None,
        active_cell: int | None = None,
        timeout_ms: int = RUN_TIMEOUT_MS,
    ) -> None:
        """Clear all outputs, run ``command`` (``notebook:run-all-cells``, ...) and wait until
        every code cell before ``stop`` (default: all) has run, or one failed.

        Raises ``AssertionError`` naming the cells that raised.
        """
        self.command("notebook:clear-all-cell-outputs", awaited=True)  # execution counts back to null
        self.command(command, active_cell)
        self.wait_until_run(stop=stop, timeout_ms=timeout_ms)

    def wait_until_run(
        self, *, start: int = 0, stop: int | None = None, timeout_ms: int = RUN_TIMEOUT_MS
    ) -> dict:
        """Wait until the code cells from ``start`` to ``stop`` have run (or one failed) and
        the kernel is idle; raise ``AssertionError`` naming the cells that raised."""
        self.page.wait_for_function(
            "([name, start, stop]) => { const state = (() => {" + _STATE + "})();"
            " return !!state && state.idle && (state.pending === 0 || state.errors.length > 0); }",
            arg=[self.name, start, stop],
            timeout=timeout_ms,
        )
        state = self.state(stop, start=start)
        assert not state["errors"], f"{self.name}: cells raised: {state['errors']}"
        return state

    def state(self, stop: int | None = None, *, start: int = 0) -> dict:
        """``{"pending": n, "errors": [...], "idle": bool}`` for the code cells from ``start``
        to ``stop``."""
        return self.page.evaluate("([name, start, stop]) => {" + _STATE + "}", [self.name, start, stop])

    def cell_index(self, source_contains: str) -> int:
        """The index of the first code cell whose source contains ``source_contains``."""
        index = self.page.evaluate(
            "([name, text]) => {"
            + _PANEL
            + """
              const cells = panel.content.model.cells;
              for (let i = 0; i < cells.length; i++) {
                const cell = cells.get(i);
                if (cell.type === 'code' && cell.sharedModel.getSource().includes(text)) return i;
              }
              return -1;
            }""",
            [self.name, source_contains],
        )
        assert index >= 0, f"{self.name}: no code cell contains {source_contains!r}"
        return index

    def cell(self, index: int):
        """The Playwright locator of cell ``index`` (all cells are in the DOM: windowingMode none)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int):
        return self.cell(index).locator(".jp-OutputArea")

    def outputs(self, index: int) -> list[dict]:
        """The outputs of cell ``index`` as nbformat JSON (from the notebook model)."""
        return self.page.evaluate(
            "([name, index]) => {"
            + _PANEL
            + " return panel.content.model.cells.get(index).outputs.toJSON(); }",
            [self.name, index],
        )

    def code_sources(self) -> list[tuple[int, str]]:
        """``(index, source)`` of every code cell, in order."""
        return self.page.evaluate(
            "(name) => {"
            + _PANEL
            + """
              const found = []; const cells = panel.content.model.cells;
              for (let i = 0; i < cells.length; i++) {
                const cell = cells.get(i);
                if (cell.type === 'code') found.push([i, cell.sharedModel.getSource()]);
              }
              return found;
            }""",
            self.name,
        )

    def append_and_run(self, source: str, timeout_ms: int = RUN_TIMEOUT_MS) -> list[dict]:
        """Add a code cell with ``source`` at the end, run it as the learner would (the cell
        active, ``notebook:run-cell``), and return its outputs once the kernel is idle."""
        index = self.page.evaluate(
            "([name, source]) => {"
            + _PANEL
            + """
              const model = panel.content.model;
              model.sharedModel.insertCell(model.cells.length, {cell_type: 'code', source});
              return model.cells.length - 1;
            }""",
            [self.name, source],
        )
        self.command("notebook:run-cell", index)
        self.wait_until_run(start=index, timeout_ms=timeout_ms)
        return self.outputs(index)

    def rerun_from(self, index: int, timeout_ms: int = RUN_TIMEOUT_MS) -> dict:
        """Run cell ``index`` and every cell below it again (``notebook:run-all-below``) and
        wait until they have all run; their earlier outputs are cleared first."""
        self.page.evaluate(
            "([name, start]) => {"
            + _PANEL
            + """
              const cells = panel.content.model.cells;
              for (let i = start; i < cells.length; i++) {
                const cell = cells.get(i);
                if (cell.type === 'code') { cell.outputs.clear(); cell.executionCount = null; }
              }
            }""",
            [self.name, index],
        )
        self.command("notebook:run-all-below", index)
        return self.wait_until_run(start=index, timeout_ms=timeout_ms)
