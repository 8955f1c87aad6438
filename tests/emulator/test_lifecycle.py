from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from opslib import emulator
from opslib.emulator.core.lifecycle import EmulatorInfo, health
from tests.emulator.conftest import aws_cli, client


def test_start_binds_loopback_and_answers(running: EmulatorInfo) -> None:
    assert running.endpoint.startswith("http://127.0.0.1:")
    doc = health(running.endpoint)
    assert doc is not None and doc["status"] == "ok" and doc["pid"] == running.pid


def test_start_twice_returns_the_running_emulator(
    running: EmulatorInfo, start_emulator: Callable[..., EmulatorInfo]
) -> None:
    assert start_emulator().pid == running.pid


def test_status_reports_endpoint_and_state(running: EmulatorInfo, state_dir: Path) -> None:
    current = emulator.status(state_dir)
    assert current.running and current.info is not None
    assert current.info.endpoint == running.endpoint
    assert current.state_bytes > 0


def test_stop_ends_the_process(running: EmulatorInfo, state_dir: Path) -> None:
    assert emulator.stop(state_dir)
    assert not emulator.status(state_dir).running
    with pytest.raises(ProcessLookupError):
        os.kill(running.pid, 0)
    assert not emulator.stop(state_dir)


def test_reset_deletes_state(running: EmulatorInfo, state_dir: Path) -> None:
    client(running, "s3").create_bucket(Bucket="to-be-forgotten")
    emulator.reset(state_dir)
    assert not state_dir.exists()


def test_the_aws_cli_works_against_it(running: EmulatorInfo) -> None:
    aws_cli(running, "s3api", "create-bucket", "--bucket", "cli-bucket")
    listed = aws_cli(running, "s3api", "list-buckets")
    assert [b["Name"] for b in listed["Buckets"]] == ["cli-bucket"]


def test_cli_status_and_stop(running: EmulatorInfo, state_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "opslib.yml"
    config.write_text(f"emulator:\n  state_dir: {state_dir}\n  port: 0\n")
    opslib = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), "emulator"]
    shown = subprocess.run([*opslib, "status"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert running.endpoint in shown.stdout
    stopped = subprocess.run([*opslib, "stop"], capture_output=True, text=True, check=False)
    assert "emulator stopped" in stopped.stdout
    after = subprocess.run([*opslib, "status"], capture_output=True, text=True, check=False)
    assert after.returncode == 3 and "not running" in after.stdout


def test_a_stale_info_file_does_not_block_start(
    running: EmulatorInfo, state_dir: Path, start_emulator: Callable[..., EmulatorInfo]
) -> None:
    os.kill(running.pid, signal.SIGKILL)
    os.waitpid(running.pid, 0) if _is_child(running.pid) else None
    restarted = start_emulator()
    assert restarted.pid != running.pid


def _is_child(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False
