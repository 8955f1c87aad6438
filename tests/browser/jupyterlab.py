"""A JupyterLab server for one test: 127.0.0.1, an ephemeral port, a token, its own settings.

Its Jupyter config, data, runtime and IPython folders are temp folders, so the user's
settings and workspaces neither leak in nor get written; two settings keep the page
deterministic (no news or update prompts, the notebook's kernel starts without a dialog,
every cell stays in the DOM). Stopping asks the server to shut down (it ends its kernels),
then makes sure the server and every kernel it started have exited.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0

# user-settings/<plugin>.jupyterlab-settings: what a person would click away once.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
}


@dataclass
class JupyterLab:
    """A running JupyterLab server started by :func:`start`."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, path: str) -> str:
        """The address of a file in JupyterLab, token included."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> list[int]:
        """Shut the server and its kernels down; the pids that outlived it (killed then)."""
        started = descendants(self.process.pid)
        if self.process.poll() is None:
            try:
                self.api("shutdown", method="POST")
            except OSError:
                self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        return kill_survivors(started)


def start(root: Path, work: Path, env: dict[str, str]) -> JupyterLab:
    """JupyterLab serving ``root``; its settings and log under ``work``."""
    dirs = {name: work / name for name in ("config", "data", "runtime", "ipython")}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    for plugin, values in SETTINGS.items():
        path = dirs["config"] / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token = secrets.token_hex(24)
    log = work / "jupyterlab.log"
    server_env = {
        **env,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", "--port=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--LabApp.news_url=None"],
            env=server_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = JupyterLab(process, 0, token, log)
    try:
        server.port = _wait_for_port(process, dirs["runtime"], log)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_port(process: subprocess.Popen[bytes], runtime: Path, log: Path) -> int:
    """The port from the server's runtime file, written once it listens."""
    info = runtime / f"jpserver-{process.pid}.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n{log.read_text()}")
        if info.exists():
            try:
                return int(json.loads(info.read_text())["port"])
            except (ValueError, KeyError):
                pass  # being written
        time.sleep(0.1)  # nothing to wait on but the file
    raise RuntimeError(f"JupyterLab did not listen in {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children first."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not count: it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_survivors(pids: list[int], timeout: float = STOP_TIMEOUT) -> list[int]:
    """Wait for the processes to end; kill the ones still running at the deadline."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)  # other processes exiting: nothing to wait on
    survivors = [p for p in pids if alive(p)]
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return survivors
