"""How the server process is launched: the command line forks it (it runs no other thread),
a caller with threads starts a new interpreter; either way the server keeps nothing of its
starter but the log, in a session of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until

START_TIMEOUT = 120  # seconds; a hang here (a pipe the server kept open) fails, not blocks


def _opslib(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT)


@pytest.fixture
def config(tmp_path: Path, state_dir: Path) -> Iterator[Path]:
    path = tmp_path / "opslib.yml"
    path.write_text(f"emulator:\n  state_dir: {state_dir}\n  port: 0\n")
    yield path
    emulator.stop(state_dir)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descriptors(pid: int) -> dict[int, str]:
    fds = Path(f"/proc/{pid}/fd")
    return {int(fd.name): os.readlink(fd) for fd in fds.iterdir()}


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _info(state_dir: Path) -> EmulatorInfo:
    info = emulator.status(state_dir).info
    assert info is not None, "no emulator runs on the state dir"
    return info


def _assert_detached(info: EmulatorInfo) -> None:
    """Its own session; stdin /dev/null; stdout and stderr the log; no pipe of the starter.

    The ready pipe is the server's to close just after it wrote its line, which is when
    ``start`` returns: so that one may still be open for a moment.
    """
    session = int(_stat(info.pid)[3])
    assert session == info.pid
    fds = _descriptors(info.pid)
    log = str(info.state_dir / "emulator.log")
    assert (fds[0], fds[1], fds[2]) == ("/dev/null", log, log)

    def no_pipe() -> bool:
        return not [t for t in _descriptors(info.pid).values() if t.startswith("pipe:")]

    wait_until(no_pipe, timeout=10, what="the server to hold no pipe")


def test_the_command_line_forks_a_detached_server(config: Path, state_dir: Path) -> None:
    started = _opslib(config, "emulator", "start")
    assert started.returncode == 0, started.stderr
    info = _info(state_dir)
    assert "opslib.emulator.server" not in _cmdline(info.pid)  # a fork: no new interpreter
    _assert_detached(info)
    client(info, "s3").create_bucket(Bucket="forked")
    log = (state_dir / "emulator.log").read_text()
    assert "listening on" in log and "Traceback" not in log

    stopped = _opslib(config, "emulator", "stop")
    assert stopped.returncode == 0 and "emulator stopped" in stopped.stdout
    assert not Path(f"/proc/{info.pid}").exists() or _stat(info.pid)[0] == "Z"
    assert (state_dir / "emulator.log").read_text().rstrip().endswith("stopped")
    restarted = emulator.start(state_dir, port=0)  # what the forked server saved is there
    assert [b["Name"] for b in client(restarted, "s3").list_buckets()["Buckets"]] == ["forked"]


def test_a_caller_with_threads_starts_a_new_interpreter(state_dir: Path) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        info = emulator.start(state_dir, port=0)
    finally:
        release.set()
        other.join()
    try:
        assert "-m opslib.emulator.server" in _cmdline(info.pid)
        _assert_detached(info)
    finally:
        emulator.stop(state_dir)


def test_a_forked_server_that_fails_at_start_is_one_error_with_its_log(
    config: Path, state_dir: Path
) -> None:
    (state_dir / "records.sqlite").mkdir(parents=True)  # the records store cannot open
    started = _opslib(config, "emulator", "start")
    assert started.returncode == 1
    lines = started.stderr.splitlines()
    assert lines[0].startswith("Error: the emulator exited at start (status 1); log "), lines
    assert "unable to open database file" in lines[-1]  # the log's tail: the server's error
    assert emulator.status(state_dir).info is None
