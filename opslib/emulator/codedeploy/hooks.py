"""Run one CodeDeploy hook script the way the agent does, with deadlines everywhere.

Mirrors the agent's HookExecutor: the script runs from the deployment archive in its own
process group; at its timeout the group gets TERM and the event fails ScriptTimedOut; a
non-zero exit is ScriptFailed; a missing file ScriptMissing; a file that is not
executable is made executable first (ScriptNotExecutable if that fails). Output lines are
kept as ``[stdout]...`` / ``[stderr]...``, the last ~4 KB becoming the event's logTail.

Unlike the agent, output is read with a deadline: a script may start a daemon that
inherits its pipes (a hook that forgets to redirect); once the script itself has exited
the pipes are read for a short grace period only, so such a daemon cannot hang the
deployment. A stop request (StopDeployment) ends the script's group like a timeout.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import stat
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opslib.emulator.codedeploy.model import ScriptError

logger = logging.getLogger(__name__)

TAIL_CHARS = 4096  # logTail: the end of the event's output
EXIT_GRACE = 1.0  # seconds to keep reading pipes after the script exited
KILL_GRACE = 5.0  # seconds between TERM and KILL of a timed-out or stopped group


class ScriptOutput:
    """The lines of one event's scripts: each goes to ``sink``; the end is kept."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink = sink
        self._lines: deque[str] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        self.sink(line)
        self._lines.append(line)
        self._size += len(line) + 1
        while self._size > TAIL_CHARS and len(self._lines) > 1:
            self._size -= len(self._lines.popleft()) + 1

    @property
    def tail(self) -> str:
        return "\n".join(self._lines)


@dataclass(frozen=True)
class ScriptResult:
    """How one script ended: SUCCESS or the agent's error code, with its message."""

    error: ScriptError
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is ScriptError.SUCCESS


@dataclass(frozen=True)
class ScriptCall:
    """Everything needed to run one script of one event."""

    archive: Path
    location: str
    timeout: float
    env: dict[str, str]
    runas: str | None = None

    @property
    def path(self) -> Path:
        return self.archive / self.location.lstrip("/")


def run_script(call: ScriptCall, output: ScriptOutput, stop: threading.Event) -> ScriptResult:
    """Run one hook script to its end, its timeout, or a stop; never raises for its faults."""
    problem = _check_file(call)
    if problem is not None:
        return problem
    try:
        proc = subprocess.Popen(
            [str(call.path)],
            cwd=call.archive,
            env=call.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, as the agent's pgroup: true
        )
    except OSError as exc:
        return ScriptResult(ScriptError.SCRIPT_FAILED, f"{_where(call)} could not start: {exc}")
    try:
        interrupted = _pump(proc, output, time.monotonic() + call.timeout, stop)
    finally:
        if proc.poll() is None or interrupted:
            _end_group(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return _result(call, proc, interrupted)


def _where(call: ScriptCall) -> str:
    return f"Script at specified location: {call.location}"


def _check_file(call: ScriptCall) -> ScriptResult | None:
    path = call.path
    if not path.is_file():
        return ScriptResult(
            ScriptError.SCRIPT_MISSING,
            f"Script does not exist at specified location: {path}",
        )
    if not os.access(path, os.X_OK):
        try:  # the agent warns, then tries chmod +x
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            return ScriptResult(
                ScriptError.SCRIPT_NOT_EXECUTABLE,
                f"Unable to set script at specified location: {call.location} as executable",
            )
    return None


def _result(
    call: ScriptCall, proc: subprocess.Popen[bytes], interrupted: str | None
) -> ScriptResult:
    if interrupted == "timeout":
        return ScriptResult(
            ScriptError.SCRIPT_TIMED_OUT,
            f"{_where(call)} failed to complete in {call.timeout:g} seconds",
        )
    if interrupted == "stopped":
        return ScriptResult(
            ScriptError.UNKNOWN_ERROR, f"{_where(call)} was ended: the deployment was stopped"
        )
    code = proc.returncode
    if code == 0:
        return ScriptResult(ScriptError.SUCCESS)
    code = 128 - code if code < 0 else code  # killed by signal N: the shell's 128+N
    user = f" run as user {call.runas}" if call.runas else ""
    return ScriptResult(
        ScriptError.SCRIPT_FAILED, f"{_where(call)}{user} failed with exit code {code}"
    )


def _pump(
    proc: subprocess.Popen[bytes], output: ScriptOutput, deadline: float, stop: threading.Event
) -> str | None:
    """Follow the script to its exit; returns 'timeout' or 'stopped' if it was cut short."""
    pipes = _Pipes(proc, output)
    try:
        while True:
            if stop.is_set():
                return "stopped"
            if time.monotonic() > deadline:
                return "timeout"
            if proc.poll() is not None:
                pipes.drain(time.monotonic() + EXIT_GRACE)
                return None
            if pipes.open:
                pipes.read(0.1)
            else:  # it closed its output but still runs: wait for it
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
    finally:
        pipes.close()


class _Pipes:
    """Non-blocking, line-splitting reader of a script's stdout and stderr."""

    def __init__(self, proc: subprocess.Popen[bytes], output: ScriptOutput) -> None:
        self.output = output
        self.selector = selectors.DefaultSelector()
        self.partial: dict[int, tuple[str, bytes]] = {}
        for stream, prefix in ((proc.stdout, "[stdout]"), (proc.stderr, "[stderr]")):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.selector.register(stream.fileno(), selectors.EVENT_READ, prefix)
            self.partial[stream.fileno()] = (prefix, b"")

    @property
    def open(self) -> bool:
        return bool(self.selector.get_map())

    def read(self, wait: float) -> None:
        for key, _ in self.selector.select(timeout=wait):
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                self._flush(key.fd)
                self.selector.unregister(key.fd)
                continue
            prefix, rest = self.partial[key.fd]
            *lines, tail = (rest + chunk).split(b"\n")
            self.partial[key.fd] = (prefix, tail)
            for line in lines:
                self.output.add(prefix + _text(line))

    def drain(self, until: float) -> None:
        """Read to EOF, but not past ``until`` (a daemon may hold the pipes open)."""
        while self.open and time.monotonic() < until:
            self.read(min(0.1, max(until - time.monotonic(), 0)))

    def _flush(self, fd: int) -> None:
        prefix, rest = self.partial[fd]
        if rest:
            self.output.add(prefix + _text(rest))
        self.partial[fd] = (prefix, b"")

    def close(self) -> None:
        for fd in list(self.partial):
            self._flush(fd)
        self.selector.close()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the script's process group (the agent's signal), KILL it if it lingers."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=grace)
            if not _group_alive(proc.pid):
                break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.wait(timeout=KILL_GRACE)
    # The signals are delivered asynchronously: "the hook was ended" holds only once no
    # process of its group still runs (an ended one may linger as a zombie; that is fine).
    deadline = time.monotonic() + KILL_GRACE
    while _group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _group_running(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies have ended)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
