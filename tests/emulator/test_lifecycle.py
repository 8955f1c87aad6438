from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
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


@pytest.fixture
def second_state_dir(tmp_path: Path) -> Iterator[Path]:
    """Another checkout's state dir; its emulator is stopped at teardown."""
    other = tmp_path / "other-checkout" / ".opslib" / "emulator"
    yield other
    emulator.stop(other)


def test_a_second_checkout_starts_beside_the_first_on_the_same_port(
    running: EmulatorInfo, second_state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Both use the configured port; the second takes a free one and says so."""
    with caplog.at_level(logging.WARNING, logger="opslib.emulator.core.lifecycle"):
        second = emulator.start(second_state_dir, port=running.port)
    assert second.pid != running.pid and second.port != running.port
    assert health(running.endpoint) is not None and health(second.endpoint) is not None
    client(second, "s3").create_bucket(Bucket="second-checkout")
    assert client(running, "s3").list_buckets()["Buckets"] == []  # two separate AWSes
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and f"port {running.port} is in use" in notices[0]
    assert second.endpoint in notices[0]


def test_a_taken_port_falls_back_to_the_one_used_last_time(
    second_state_dir: Path, tmp_path: Path
) -> None:
    """Any program on the configured port; a restart keeps the fallback port it had."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        first = emulator.start(second_state_dir, port=taken)
        assert first.port != taken
        emulator.stop(second_state_dir)
        again = emulator.start(second_state_dir, port=taken)
        assert again.port == first.port and health(again.endpoint) is not None


def test_cli_start_says_which_port_it_took(
    running: EmulatorInfo, second_state_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "opslib.yml"
    config.write_text(f"emulator:\n  state_dir: {second_state_dir}\n  port: {running.port}\n")
    opslib = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), "emulator"]
    started = subprocess.run([*opslib, "start"], capture_output=True, text=True, check=False)
    assert started.returncode == 0, started.stderr
    notice = [line for line in started.stderr.splitlines() if "in use" in line]
    assert len(notice) == 1 and f"port {running.port} is in use by another program" in notice[0]
    info = emulator.status(second_state_dir).info
    assert info is not None and info.endpoint in started.stdout and info.port != running.port
