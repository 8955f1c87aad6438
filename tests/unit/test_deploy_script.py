"""Hook scripts run as the CodeDeploy agent runs them: codes, output, timeouts, stops."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from opslib.emulator.codedeploy.hooks import (
    TAIL_CHARS,
    ScriptCall,
    ScriptOutput,
    ScriptResult,
    run_script,
)
from opslib.emulator.codedeploy.model import ScriptError

pytestmark = pytest.mark.unit


def _script(archive: Path, body: str, name: str = "hook.sh", mode: int = 0o755) -> str:
    path = archive / "scripts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(mode)
    return f"scripts/{name}"


def _run(
    archive: Path, location: str, timeout: float = 10, stop: threading.Event | None = None
) -> tuple[ScriptResult, list[str], ScriptOutput]:
    lines: list[str] = []
    output = ScriptOutput(lines.append)
    env = {**os.environ, "LIFECYCLE_EVENT": "BeforeInstall"}
    call = ScriptCall(archive, location, timeout, env, runas=None)
    return run_script(call, output, stop or threading.Event()), lines, output


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_output_lines_are_prefixed_and_the_env_is_passed(tmp_path: Path) -> None:
    location = _script(tmp_path, 'echo "event=$LIFECYCLE_EVENT cwd=$PWD"; echo oops >&2')
    result, lines, _ = _run(tmp_path, location)
    assert result.ok
    assert f"[stdout]event=BeforeInstall cwd={tmp_path}" in lines
    assert "[stderr]oops" in lines


def test_a_leading_slash_in_the_location_is_relative_to_the_archive(tmp_path: Path) -> None:
    location = _script(tmp_path, "exit 0")
    assert _run(tmp_path, "/" + location)[0].ok


@pytest.mark.parametrize(
    ("body", "mode", "code", "message"),
    [
        ("exit 3", 0o755, ScriptError.SCRIPT_FAILED, "failed with exit code 3"),
        ("kill -9 $$", 0o755, ScriptError.SCRIPT_FAILED, "failed with exit code 137"),
        ("exit 0", 0o644, ScriptError.SUCCESS, ""),  # made executable first, as the agent does
    ],
)
def test_exit_codes(tmp_path: Path, body: str, mode: int, code: ScriptError, message: str) -> None:
    result = _run(tmp_path, _script(tmp_path, body, mode=mode))[0]
    assert result.error is code
    assert message in result.message


def test_a_missing_script_is_script_missing(tmp_path: Path) -> None:
    result = _run(tmp_path, "scripts/nope.sh")[0]
    assert result.error is ScriptError.SCRIPT_MISSING
    assert "nope.sh" in result.message


def test_a_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    location = _script(tmp_path, f"sleep 300 & echo $! > {pid_file}; wait")
    started = time.monotonic()
    result = _run(tmp_path, location, timeout=1)[0]
    assert result.error is ScriptError.SCRIPT_TIMED_OUT
    assert "failed to complete in 1 seconds" in result.message
    assert time.monotonic() - started < 8
    assert not _alive(int(pid_file.read_text()))


def test_a_stop_ends_the_script(tmp_path: Path) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = _run(tmp_path, _script(tmp_path, "exec sleep 300"), stop=stop)[0]
    assert result.error is ScriptError.UNKNOWN_ERROR
    assert "stopped" in result.message


def test_a_daemon_holding_the_pipes_cannot_hang_the_hook(tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    # The daemon inherits stdout/stderr (no redirect) and outlives the script.
    location = _script(tmp_path, f"setsid sleep 300 & echo $! > {pid_file}; echo started")
    started = time.monotonic()
    try:
        result, lines, _ = _run(tmp_path, location, timeout=60)
        assert result.ok
        assert "[stdout]started" in lines
        assert time.monotonic() - started < 5
    finally:
        os.kill(int(pid_file.read_text()), 9)


def test_the_log_tail_keeps_the_end(tmp_path: Path) -> None:
    location = _script(tmp_path, "for i in $(seq 1 2000); do echo line-$i; done; exit 1")
    result, lines, output = _run(tmp_path, location)
    assert result.error is ScriptError.SCRIPT_FAILED
    assert len(lines) == 2000
    assert output.tail.endswith("[stdout]line-2000")
    assert len(output.tail) <= TAIL_CHARS
    assert "line-1\n" not in output.tail
