"""Start, stop and inspect the emulator process from the outside (CLI, tests, runbooks).

The emulator is one background process bound to 127.0.0.1. Its state directory holds
``emulator.json`` (pid, port, start time, written by the server once it listens), the
log ``emulator.log`` and the durable state. A health endpoint (``/opslib/health``) says
whether it answers. Readiness is signalled, not guessed: the server writes one line to a
pipe :func:`start` hands it once it listens (``--ready-fd``), and :func:`start` waits on
that pipe with a deadline; an exit before that closes the pipe and is reported at once.

The configured port is a preference: when another program holds it (another checkout's
emulator, say), the emulator listens on the port it had last time (``emulator.port``) or
else on any free one, and :func:`start` says so in one warning. Clients never assume the
port: they read it from ``emulator.json``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opslib.emulator.core.launch import ServerProcess, launch
from opslib.exceptions import EmulatorError, EmulatorNotRunning

logger = logging.getLogger(__name__)

INFO_FILE = "emulator.json"
PORT_FILE = "emulator.port"  # the port it listened on last: the first fallback next time
LOG_FILE = "emulator.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
EXIT_NO_SPACE = 28  # the server's exit status when its state dir's device is full (ENOSPC)


@dataclass(frozen=True)
class EmulatorInfo:
    """A running emulator: where it answers and since when."""

    pid: int
    port: int
    started: float
    state_dir: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class EmulatorStatus:
    """What ``opslib emulator status`` shows."""

    running: bool
    state_dir: Path
    state_bytes: int
    info: EmulatorInfo | None = None
    health: dict[str, Any] | None = None

    @property
    def uptime_seconds(self) -> float:
        return time.time() - self.info.started if self.info else 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def read_info(state_dir: Path) -> EmulatorInfo | None:
    """The info file of a live emulator, or None (a stale file is ignored)."""
    try:
        data = json.loads((state_dir / INFO_FILE).read_text())
        info = EmulatorInfo(int(data["pid"]), int(data["port"]), float(data["started"]), state_dir)
    except (OSError, ValueError, KeyError):
        return None
    return info if _pid_alive(info.pid) else None


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The emulator's health document, or None when nothing answers."""
    import urllib.error  # here: urllib (http.client, ssl) is most of the CLI's imports
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint}/opslib/health", timeout=timeout) as response:
            data = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return data if isinstance(data, dict) else None


def status(state_dir: Path) -> EmulatorStatus:
    info = read_info(state_dir)
    doc = health(info.endpoint) if info else None
    return EmulatorStatus(doc is not None, state_dir, directory_size(state_dir), info, doc)


def directory_size(path: Path) -> int:
    """Bytes under ``path`` (for ``opslib emulator status``).

    Here, not beside the store: the CLI imports this module, and the store imports moto.
    """
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _log_tail(state_dir: Path, lines: int = 15) -> str:
    try:
        return "\n".join((state_dir / LOG_FILE).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_port(state_dir: Path) -> int | None:
    try:
        port = int((state_dir / PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _fallbacks(state_dir: Path, port: int) -> list[int]:
    """Ports to try when ``port`` is taken: the one used last time, then any free one."""
    if port == 0:
        return []
    last = _last_port(state_dir)
    return [p for p in (last, 0) if p is not None and p != port]


def _spawn(state_dir: Path, port: int) -> tuple[ServerProcess, int]:
    """The server process and the read end of the pipe it says "ready" on."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a read-only file system: a user's setting, no traceback
        reason = exc.strerror or str(exc)
        message = f"cannot create the state directory {state_dir} ({reason})"
        raise EmulatorError(f"{message}: set emulator.state_dir to a writable place") from exc
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    ready_read, ready_write = os.pipe()
    args = ["--state-dir", str(state_dir), "--port", str(port), "--ready-fd", str(ready_write)]
    for fallback in _fallbacks(state_dir, port):
        args += ["--fallback-port", str(fallback)]
    try:
        process = launch(args, state_dir / LOG_FILE, ready_write)
    except BaseException:
        os.close(ready_read)
        raise
    finally:
        os.close(ready_write)  # the child's copy is the only writer: EOF when it exits
    return process, ready_read


def _exited(process: ServerProcess, state_dir: Path) -> EmulatorError:
    if process.returncode == EXIT_NO_SPACE:
        return EmulatorError(_no_space_message(state_dir))
    return EmulatorError(
        f"the emulator exited at start (status {process.returncode}); "
        f"log {state_dir / LOG_FILE}:\n{_log_tail(state_dir)}"
    )


def _wait_ready(
    process: ServerProcess, ready: int, state_dir: Path, timeout: float
) -> EmulatorInfo:
    """Wait for the server's "ready" line (or its exit): it then listens where its info says."""
    deadline = time.monotonic() + timeout
    signalled = False
    while not signalled and time.monotonic() < deadline:
        readable, _, _ = select.select([ready], [], [], max(deadline - time.monotonic(), 0))
        if not readable:
            continue
        signalled = bool(os.read(ready, 64))
        if not signalled:  # end of file: the server closed the pipe without being ready
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                break
            raise _exited(process, state_dir)
    while signalled and time.monotonic() < deadline:
        info = read_info(state_dir)  # written before the ready line: it listens there
        if info and info.pid == process.pid:
            return info
        if process.poll() is not None:
            raise _exited(process, state_dir)
        time.sleep(0.01)  # a stale or foreign info file: poll, fixed and short, with a deadline
    process.kill()
    raise EmulatorError(
        f"the emulator did not answer within {timeout:.0f}s; see {state_dir / LOG_FILE}"
    )


def _no_space_message(state_dir: Path) -> str:
    """One line for a start on a full disk (the log, on that disk, may hold nothing)."""
    existing = next(p for p in (state_dir, *state_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    return (
        f"the emulator cannot start: no space left on device in {state_dir} "
        f"({free // 1024} KiB free); free some space there and start it again"
    )


def start(state_dir: Path, port: int = 0, timeout: float = START_TIMEOUT) -> EmulatorInfo:
    """Start the emulator (or return the one already running on this state dir)."""
    state_dir = state_dir.resolve()
    running = read_info(state_dir)
    if running and health(running.endpoint):
        return running
    if running and not _gone_within(running.pid, 5.0):
        raise EmulatorError(
            f"an emulator process ({running.pid}) holds {state_dir} but does not answer; "
            "run 'opslib emulator stop' first"
        )
    try:
        process, ready = _spawn(state_dir, port)
    except OSError as exc:  # the state dir cannot be made or its log opened
        message = f"the emulator cannot start: {exc.strerror} ({exc.filename or state_dir})"
        no_space = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        raise EmulatorError(_no_space_message(state_dir) if no_space else message) from exc
    try:
        info = _wait_ready(process, ready, state_dir, timeout)
    finally:
        os.close(ready)
    if port and info.port != port:
        logger.warning(
            "port %d is in use by another program: this emulator (%s) listens on %s instead",
            port,
            state_dir,
            info.endpoint,
        )
    return info


def stop(state_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the emulator gracefully (TERM, then KILL at the deadline); False if none ran."""
    info = read_info(state_dir.resolve())
    if info is None:
        return False
    _signal(info.pid, signal.SIGTERM)
    if not _gone_within(info.pid, timeout):
        _signal(info.pid, signal.SIGKILL)
        _gone_within(info.pid, 5.0)
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    return True


def _gone_within(pid: int, timeout: float) -> bool:
    """Whether a process exits in time; collects its exit status if it is our child.

    For our own child only the collected exit status says it is gone: its main thread shows
    as a zombie while its other threads are still ending and still hold its files open (a
    state dir's file system cannot be unmounted yet). For another's process, no longer
    alive (or a zombie) is all there is to know.
    """
    deadline = time.monotonic() + timeout
    while True:
        reaped = _reap(pid)
        if reaped or (reaped is None and not _pid_alive(pid)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # a process exiting: nothing to wait on across processes


def _reap(pid: int) -> bool | None:
    """Collect our child's exit status: True once collected, False while it runs, None when
    it is not our child (an emulator another command started)."""
    try:
        collected, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return collected == pid


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def reset(state_dir: Path) -> None:
    """Stop the emulator and delete its whole state: a fresh, empty AWS."""
    stop(state_dir)
    if state_dir.exists():
        shutil.rmtree(state_dir)


def log_lines(state_dir: Path, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of the emulator's log."""
    path = state_dir / LOG_FILE
    if not path.exists():
        raise EmulatorNotRunning(f"no emulator log at {path}: the emulator never ran here")
    return path.read_text(errors="replace").splitlines()[-lines:] if lines > 0 else []
