"""``make lab``: what it installs, and the JupyterLab it starts (``scripts/start-lab``).

The start script runs for real, headless, on a free loopback port: as the current user
(root in CI, so ``--allow-root`` is exercised there) and, when the tests run as root, once
more as an unprivileged user.  JupyterLab's REST API must then list the notebooks; the
shipped notebooks must be trusted and the news pop-up switched off.  Jupyter's per-user
folders point into the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from .jupyterlab import free_port

REPO = Path(__file__).resolve().parents[1]
START_LAB = REPO / "scripts" / "start-lab"
VENV = Path(sys.prefix)
TOKEN = "aauth-kit-make-lab-test"
START_TIMEOUT = 90.0  # a hang guard, not a timing assertion
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"


def make_dry_run(*args: str) -> str:
    """The commands ``make`` would run (``-n``), with no lab stamp so the install shows."""
    done = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_make_lab_installs_only_what_the_lab_needs():
    """The lab's install step asks for ``.[lab]``: no Playwright, hypothesis or nbval."""
    commands = make_dry_run("lab")
    installs = [line for line in commands.splitlines() if "pip install" in line and "-e" in line]
    assert installs == [installs[0]] and "'.[lab]'" in installs[0], commands
    assert "test" not in installs[0]


def test_make_lab_passes_lab_args_on():
    commands = make_dry_run("lab", "LAB_ARGS=--ip 0.0.0.0 --no-browser")
    assert "scripts/start-lab --ip 0.0.0.0 --no-browser" in commands


def start_lab(tmp_path: Path, *, user: str | None = None) -> tuple[subprocess.Popen, int, Path]:
    """``scripts/start-lab`` headless on a free port, Jupyter's folders under ``tmp_path``."""
    home = tmp_path / "jupyter"
    for name in ("data", "config", "runtime"):
        (home / name).mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "VENV": str(VENV),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "HOME": str(home),
    }
    command = [
        str(START_LAB), "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", "--LabApp.check_for_updates_class="
        "jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]  # fmt: skip
    if user is not None:
        uid = pwd.getpwnam(user)
        shutil.chown(tmp_path, uid.pw_uid, uid.pw_gid)
        for path in tmp_path.rglob("*"):
            shutil.chown(path, uid.pw_uid, uid.pw_gid)
        command = ["setpriv", f"--reuid={uid.pw_uid}", f"--regid={uid.pw_gid}", "--clear-groups", *command]
    log = tmp_path / "lab.log"
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, port, log


def wait_for_contents(process: subprocess.Popen, port: int, log: Path) -> dict:
    """``GET /api/contents`` once the server answers (bounded)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/contents", headers={"Authorization": f"token {TOKEN}"}
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def check_started_lab(tmp_path: Path, *, user: str | None = None) -> str:
    """Start the lab, list the notebooks through its API, stop it; return its log."""
    process, port, log = start_lab(tmp_path, user=user)
    try:
        contents = wait_for_contents(process, port, log)
    finally:
        stop(process)
    shipped = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
    listed = sorted(item["name"] for item in contents["content"] if item["type"] == "notebook")
    assert listed == shipped and "00_start.ipynb" in listed
    return log.read_text()


def test_start_lab_serves_the_notebooks_as_the_current_user(tmp_path):
    """Headless, as whoever runs the tests: root gets ``--allow-root``, others do not need it."""
    text = check_started_lab(tmp_path)
    assert "Running as root is not recommended" not in text


@pytest.mark.skipif(os.geteuid() != 0, reason="the test above already ran the lab as a user who is not root")
def test_start_lab_serves_the_notebooks_as_an_unprivileged_user():
    """The same script run by ``nobody`` (no ``--allow-root``: JupyterLab would refuse it)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed, so the tests cannot switch user")
    reach = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", f"{VENV}/bin/jupyter --version"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if reach.returncode != 0:
        pytest.skip(f"this environment's Python cannot be run by nobody ({reach.stderr.strip()[-160:]})")
    folder = Path(tempfile.mkdtemp(prefix="aauth-kit-lab-"))  # pytest's own tmp is root-only
    try:
        folder.chmod(0o755)
        check_started_lab(folder, user="nobody")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_start_lab_trusts_the_notebooks_and_turns_the_news_off(tmp_path):
    """After a start, every shipped notebook is trusted (its diagrams show) and the news
    plug-in is disabled in this environment's lab config."""
    check_started_lab(tmp_path)
    notary = NotebookNotary(data_dir=str(tmp_path / "jupyter" / "data"))
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert notary.check_signature(nbformat.read(path, as_version=4)), f"{path.name} is not trusted"
    page_config = json.loads((VENV / "etc" / "jupyter" / "labconfig" / "page_config.json").read_text())
    assert page_config["disabledExtensions"].get(NEWS_PLUGIN) is True
