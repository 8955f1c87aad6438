"""The CodeDeploy hook scripts (scripts/*.sh) run for real against a temporary host root.

Each test does what the emulator's agent does for one host: a bundle laid out like
buildspec.yml's post_build makes it, the `app` files installed into <root>/opt/sample-app,
and the hooks run in their lifecycle order with the agent's environment (LIFECYCLE_EVENT,
DEPLOYMENT_ID, ..., OPSLIB_HOST_ROOT, OPSLIB_APP_PORT). The app really starts on a free port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
SAMPLE_APP = REPO / "sample-app"
NODE = shutil.which("node")
BASH = shutil.which("bash")

if not sys.platform.startswith("linux"):
    pytest.skip("the hook scripts target Linux hosts", allow_module_level=True)
if NODE is None or BASH is None:
    pytest.skip("node and bash are needed to run the hook scripts", allow_module_level=True)

HOOK_TIMEOUT = 60  # seconds; a hook that leaks the agent's pipes to the app would hang here
PACKAGE_VERSION = json.loads((SAMPLE_APP / "package.json").read_text())["version"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_alive(pid: int) -> bool:
    """True when pid is a live process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z"


def pids_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains text."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and proc_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def make_bundle(dest: Path, version: str, commit: str) -> Path:
    """The deploy bundle as post_build assembles it (the app has no runtime dependencies)."""
    shutil.copy2(REPO / "appspec.yml", dest / "appspec.yml")
    shutil.copytree(SCRIPTS, dest / "scripts")
    app = dest / "app"
    shutil.copytree(SAMPLE_APP / "src", app / "src")
    shutil.copy2(SAMPLE_APP / "package.json", app / "package.json")
    release = {"version": version, "commit": commit, "buildId": "local"}
    (app / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    return dest


@dataclass
class Host:
    """One emulated instance: a host root, a port, and a deployment bundle to install."""

    root: Path
    port: int
    bundle: Path
    work: Path
    deployment: int = 0
    results: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    @property
    def install_dir(self) -> Path:
        return self.root / "opt" / "sample-app"

    @property
    def pid_file(self) -> Path:
        return self.root / "var" / "run" / "sample-app.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "var" / "log" / "sample-app" / "app.log"

    def new_bundle(self, version: str, commit: str) -> None:
        self.deployment += 1
        dest = self.work / f"bundle-{self.deployment}"
        dest.mkdir()
        self.bundle = make_bundle(dest, version, commit)

    def install(self) -> None:
        """The agent's Install step: copy the bundle's `app` files to the destination."""
        shutil.copytree(self.bundle / "app", self.install_dir, dirs_exist_ok=True)

    def env(self, event: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("APP_VERSION", "APP_COMMIT")}
        env.update(
            LIFECYCLE_EVENT=event,
            DEPLOYMENT_ID=f"d-TEST{self.deployment:05d}",
            APPLICATION_NAME="sample-app",
            DEPLOYMENT_GROUP_NAME="sample-app-dg",
            DEPLOYMENT_GROUP_ID="00000000-0000-0000-0000-000000000000",
            OPSLIB_HOST_ROOT=str(self.root),
            OPSLIB_APP_PORT=str(self.port),
        )
        env.update(extra)
        return env

    def hook(self, event: str, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run one hook script like the agent: own process group, output captured."""
        result = subprocess.run(
            [str(self.bundle / "scripts" / script)],
            env=self.env(event, **extra),
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT,
            start_new_session=True,
            check=False,
        )
        self.results.append(result)
        return result

    def ok(self, event: str, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = self.hook(event, script, **extra)
        assert result.returncode == 0, (
            f"{event} ({script}) exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def get(self, path: str) -> dict[str, object]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    root = tmp_path / "host"
    work = tmp_path / "agent"
    work.mkdir()
    h = Host(root=root, port=free_port(), bundle=work, work=work)
    h.new_bundle(f"{PACKAGE_VERSION}+abc1234", "abc1234" + "0" * 33)
    try:
        yield h
    finally:
        # Whatever happened in the test, leave no app of this host running.
        for pid in pids_mentioning(str(root)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def deploy(h: Host) -> None:
    """An in-place deployment's hooks in CodeDeploy's order (Install between them)."""
    h.ok("ApplicationStop", "stop_server.sh")
    h.ok("BeforeInstall", "before_install.sh")
    h.install()
    h.ok("ApplicationStart", "start_server.sh")
    h.ok("ValidateService", "validate_service.sh")


def test_lifecycle_start_validate_stop(host: Host) -> None:
    deploy(host)

    version = f"{PACKAGE_VERSION}+abc1234"
    health = host.get("/health")
    assert health["status"] == "ok"
    assert health["version"] == version
    assert host.get("/version") == {"version": version, "commit": "abc1234" + "0" * 33}
    assert "healthy on port" in host.results[-1].stdout

    pid = host.pid()
    assert proc_alive(pid)
    assert pids_mentioning(str(host.root)) == [pid]
    listening = [json.loads(line) for line in host.log_file.read_text().splitlines()]
    assert listening[0]["msg"] == "listening"
    assert listening[0]["port"] == host.port
    assert listening[0]["versionSource"] == "release.json"

    host.ok("ApplicationStop", "stop_server.sh")
    assert not proc_alive(pid)
    assert not host.pid_file.exists()
    assert '"msg":"shutdown complete"' in host.log_file.read_text()
    assert pids_mentioning(str(host.root)) == []


def test_redeploy_replaces_the_running_version(host: Host) -> None:
    deploy(host)
    first_pid = host.pid()

    host.new_bundle(f"{PACKAGE_VERSION}+def5678", "def5678" + "1" * 33)
    deploy(host)

    assert not proc_alive(first_pid)
    assert host.get("/health")["version"] == f"{PACKAGE_VERSION}+def5678"
    assert pids_mentioning(str(host.root)) == [host.pid()]
    host.ok("ApplicationStop", "stop_server.sh")
    assert pids_mentioning(str(host.root)) == []


def test_start_while_running_restarts(host: Host) -> None:
    deploy(host)
    first_pid = host.pid()
    host.ok("ApplicationStart", "start_server.sh")
    assert not proc_alive(first_pid)
    assert host.pid() != first_pid
    host.ok("ValidateService", "validate_service.sh")
    assert pids_mentioning(str(host.root)) == [host.pid()]


def test_validate_fails_clearly_when_no_app_runs(host: Host) -> None:
    host.ok("BeforeInstall", "before_install.sh")
    result = host.hook(
        "ValidateService", "validate_service.sh", VALIDATE_RETRIES="2", VALIDATE_INTERVAL="0.2"
    )
    assert result.returncode != 0
    assert f"ValidateService: app not healthy on port {host.port} after 2 tries:" in result.stderr


def test_validate_fails_when_another_version_answers(host: Host) -> None:
    deploy(host)
    # The installed release changed but the running process still serves the old one.
    release = host.install_dir / "release.json"
    release.write_text(json.dumps({"version": "9.9.9+fffffff", "commit": "f" * 40}))
    result = host.hook(
        "ValidateService", "validate_service.sh", VALIDATE_RETRIES="2", VALIDATE_INTERVAL="0.2"
    )
    assert result.returncode != 0
    assert "expected 9.9.9+fffffff" in result.stderr
    assert '"msg":"listening"' in result.stderr  # the tail of the app log


def test_start_fails_when_the_port_is_taken(host: Host) -> None:
    host.ok("BeforeInstall", "before_install.sh")
    host.install()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", host.port))
        blocker.listen()
        result = host.hook("ApplicationStart", "start_server.sh")
    assert result.returncode != 0
    assert "exited with status 1 right after start" in result.stderr
    assert "EADDRINUSE" in result.stderr
    assert not host.pid_file.exists()
    assert pids_mentioning(str(host.root)) == []


def test_stop_succeeds_when_nothing_runs(host: Host) -> None:
    result = host.ok("ApplicationStop", "stop_server.sh")
    assert "nothing to stop" in result.stdout
    assert not host.root.exists() or not host.pid_file.exists()


def test_stop_ignores_a_stale_pid_file(host: Host) -> None:
    # A pid file naming a live process that is not the app (this test runner): never kill it.
    host.pid_file.parent.mkdir(parents=True)
    host.pid_file.write_text(f"{os.getpid()}\n")
    result = host.ok("ApplicationStop", "stop_server.sh")
    assert "stale pid file" in result.stdout
    assert not host.pid_file.exists()
    assert proc_alive(os.getpid())


def test_scripts_are_executable_bash_with_strict_mode() -> None:
    for script in ("stop_server.sh", "before_install.sh", "start_server.sh", "validate_service.sh"):
        path = SCRIPTS / script
        assert os.access(path, os.X_OK), f"{path} is not executable"
        text = path.read_text()
        assert text.startswith("#!/bin/bash\n"), path
        assert "set -euo pipefail" in text, path
        syntax = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
