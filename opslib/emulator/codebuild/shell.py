"""Run a build's commands the way CodeBuild does: a fresh shell per command, state carried over.

CodeBuild writes each command to a script (``/codebuild/output/tmp/script.sh``) run by a new
shell that restores the exported environment and directory the previous command saved, and
saves them on exit: ``cd`` and ``export`` persist, ``exit 3`` ends only that command, and a
variable assigned without ``export`` is gone by the next command.

A small bash *launcher* (our code, never a buildspec command) leads the build's session and
process group; it starts each command's shell and reports its status on a control pipe (fd 3)
tagged with a nonce. Whatever a command leaves running stays in that group, so a timeout,
StopBuild or the build's end clears everything with one ``killpg``. stdout and stderr share
one pipe, the build log, read by a ``poll`` loop that also watches the deadline and stop event.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from opslib.exceptions import ExecutionError

logger = logging.getLogger(__name__)

LOG_BATCH_LINES = 50  # hand the observer at most this many lines at once ...
LOG_BATCH_SECONDS = 0.5  # ... and never hold a line longer than this
STOP_POLL_SECONDS = 0.05  # how often a running command checks the stop event
KILL_GRACE_SECONDS = 3.0  # TERM, then KILL after this long
OUTPUT_CHUNK = 65536  # bytes read from the log pipe at a time
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# bash sets these itself and makes them read-only: exporting them from a script only errors.
_SHELL_OWNED = frozenset({"BASHOPTS", "SHELLOPTS", "EUID", "PPID", "UID"})
_STATE_END = "# saved by opslib\n"  # last line of a completely written state file

LogLines = list[tuple[datetime, str]]


# --- the build log -------------------------------------------------------------------------


def now() -> datetime:
    """The current UTC time, the clock of every log line and phase record."""
    return datetime.now(UTC)


def container_line(message: str, at: datetime | None = None) -> str:
    """A CodeBuild agent log line: ``[Container] 2026/11/28 02:10:01.123 <message>``."""
    at = at or now()
    return f"[Container] {at:%Y/%m/%d %H:%M:%S}.{at.microsecond // 1000:03d} {message}"


class LogBatcher:
    """Batches log lines for the observer; shell bytes are split into decoded lines.

    Batches keep log consumers cheap, yet no line waits longer than LOG_BATCH_SECONDS.
    """

    def __init__(self, output: Callable[[LogLines], None]) -> None:
        self._output = output
        self._lines: LogLines = []
        self._first_at = 0.0
        self._partial = b""

    def container(self, message: str) -> None:
        """Add ``[Container]`` lines; a multi-line message (a multi-line command) is split."""
        at = now()
        for index, text in enumerate(message.rstrip("\n").split("\n")):
            self._add(at, container_line(text, at) if index == 0 else text)

    def feed(self, data: bytes) -> None:
        """Add shell output; an unfinished last line waits for its newline (or flush_all)."""
        *complete, self._partial = (self._partial + data).split(b"\n")
        at = now()
        for raw in complete:
            self._add(at, raw.decode("utf-8", "replace").rstrip("\r"))
        if len(self._partial) > 65536:  # a line without end (progress bars): cut it
            self._add(at, self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def seconds_to_flush(self) -> float | None:
        """Time left before buffered lines are due; None when nothing is buffered."""
        if not self._lines:
            return None
        return max(0.0, self._first_at + LOG_BATCH_SECONDS - time.monotonic())

    def flush_if_due(self) -> None:
        """Hand over the buffered lines once the oldest has waited long enough."""
        due = self.seconds_to_flush()
        if due is not None and (due <= 0 or len(self._lines) >= LOG_BATCH_LINES):
            self.flush()

    def flush(self) -> None:
        """Hand over the complete lines buffered so far."""
        if self._lines:
            lines, self._lines = self._lines, []
            self._output(lines)

    def flush_all(self) -> None:
        """Flush including an unterminated last line (phase end: the log must be complete)."""
        if self._partial:
            self._add(now(), self._partial.decode("utf-8", "replace"))
            self._partial = b""
        self.flush()

    def _add(self, at: datetime, text: str) -> None:
        if not self._lines:
            self._first_at = time.monotonic()
        self._lines.append((at, text))
        if len(self._lines) >= LOG_BATCH_LINES:
            self.flush()


# --- limits --------------------------------------------------------------------------------


class Interruption(StrEnum):
    """Why a build stopped waiting for its commands; values match the build statuses."""

    TIMED_OUT = "TIMED_OUT"  # the build timeout elapsed
    STOPPED = "STOPPED"  # StopBuild


class Interrupted(Exception):
    """The build timed out or was stopped while waiting for a command."""

    def __init__(self, reason: Interruption) -> None:
        super().__init__(reason.value)
        self.reason = reason


class ShellGone(Exception):
    """The launcher itself died (a command killed its process group); carries its status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"build shell exited with status {status}")
        self.status = status


@dataclass
class Limits:
    """The build's deadline (monotonic) and stop event, checked while waiting."""

    deadline: float
    stop: threading.Event

    def check(self) -> None:
        """Raise Interrupted once the build was stopped or ran out of time."""
        if self.stop.is_set():
            raise Interrupted(Interruption.STOPPED)
        if time.monotonic() >= self.deadline:
            raise Interrupted(Interruption.TIMED_OUT)

    def wait_seconds(self) -> float:
        """How long one wait may block and still notice a stop within STOP_POLL_SECONDS."""
        return max(0.0, min(STOP_POLL_SECONDS, self.deadline - time.monotonic()))


# --- the state carried from one command to the next ----------------------------------------


def _export_line(name: str, value: str) -> str:
    return f"export {name}={shlex.quote(value)}\n"


def _exportable(name: str) -> bool:
    """Names a shell can export; others (``BASH_FUNC_f%%``, ``a.b``) cannot reach a command."""
    return _NAME.fullmatch(name) is not None and name not in _SHELL_OWNED


class SavedState:
    """The exported environment and working directory between commands, as sourceable files.

    Line 1 is ``# <cwd>`` (a comment, so sourcing skips it), then ``export -p`` output, then
    the end marker. Each command saves into a new generation's file, adopted only when the
    marker made it to the end: a shell killed while saving leaves the previous state, never a
    torn one. That is the atomicity of temp file + ``mv`` without starting ``mv`` per command.
    """

    def __init__(self, directory: Path, env: dict[str, str], cwd: Path) -> None:
        self._dir = directory
        self._generation = 0
        self.path = self._file(0)
        exports = "".join(_export_line(k, v) for k, v in env.items() if _exportable(k))
        self._write(f"# {os.path.abspath(cwd)}\n{exports}{_STATE_END}", "w")

    def export(self, name: str, value: str) -> None:
        """Set a variable for the next commands (appended: later lines win when sourced)."""
        self._write(_export_line(name, value), "a")

    def restore(self) -> str:
        """Shell code re-exporting the saved variables and re-entering the saved directory.

        OLDPWD is kept as saved, so ``cd -`` goes where it would have in one long shell.
        """
        path = shlex.quote(str(self.path))
        return (f". {path}\nIFS= read -r __opslib_cwd < {path}\n__opslib_old=${{OLDPWD-}}\n"
                'command cd -- "${__opslib_cwd#"# "}" >/dev/null\n'
                "OLDPWD=$__opslib_old\nunset __opslib_cwd __opslib_old\n")  # fmt: skip

    def save_on_exit(self) -> str:
        """An EXIT trap saving the next generation; it keeps the command's exit status.

        Quiet even under a command's ``set -x``, and immune to ``set -eu`` and to functions
        shadowing ``pwd``/``export``/``printf``.
        """
        target = shlex.quote(str(self._file(self._generation + 1)))
        action = ("{ __opslib_status=$?; set +eux; } 2>/dev/null; { command printf '# '; "
                  f"command pwd; command export -p; command printf '{_STATE_END.strip()}\\n'; "
                  f'}} >{target}; exit "$__opslib_status"')  # fmt: skip
        return f"trap {shlex.quote(action)} EXIT\n"

    def commit(self) -> None:
        """Adopt what the last command saved if it is complete; drop it otherwise."""
        saved = self._file(self._generation + 1)
        if not _complete(saved):
            saved.unlink(missing_ok=True)
            return
        self.path.unlink(missing_ok=True)
        self.path, self._generation = saved, self._generation + 1

    def _file(self, generation: int) -> Path:
        return self._dir / f"env-{generation}.sh"

    def _write(self, text: str, mode: str) -> None:
        with self.path.open(mode, encoding="utf-8", errors="surrogateescape") as state:
            state.write(text)


def _complete(path: Path) -> bool:
    """Whether a saved state file ends with the marker its EXIT trap writes last."""
    marker = _STATE_END.encode()
    try:
        with path.open("rb") as state:
            state.seek(-len(marker), os.SEEK_END)
            return state.read() == marker
    except OSError:  # missing (no trap ran: SIGKILL, exec) or shorter than the marker
        return False


# --- the launcher --------------------------------------------------------------------------


def _which(binary: str, path: str | None) -> str:
    """The shell's absolute path: commands may change PATH, the launcher must not care."""
    found = shutil.which(binary, path=path)
    if found is None:
        raise ExecutionError(f"cannot find the build shell '{binary}' on PATH")
    return found


def _boot_script(control_fd: int) -> str:
    """Move the control pipe to fd 3 (query scripts may run in dash), then read commands."""
    move = "" if control_fd == 3 else f"exec 3>&{control_fd} {control_fd}>&-; "
    return f'{move}exec "$0" -s'


class BuildShell:
    """The build's launcher and process group; each command runs in a fresh shell under it."""

    def __init__(self, binary: str, cwd: Path, env: dict[str, str], log: LogBatcher,
                 limits: Limits, *, carry_state: bool = True,
                 scratch_parent: Path | None = None) -> None:  # fmt: skip
        self._log = log
        self._carry = carry_state  # False: buildspec 0.1, every command starts from the start
        self._limits = limits
        self._binary = _which(binary, env.get("PATH", os.environ.get("PATH")))
        self._nonce = secrets.token_hex(8).encode()
        self._marker = re.compile(rb"\n" + self._nonce + rb" (\d+)\n")
        self._control = b""
        self._group_cleared = False  # once gone, its pgid may be reused: never signal it again
        self._dir = Path(tempfile.mkdtemp(prefix="opslib-build-", dir=scratch_parent))
        self._script = self._dir / "script.sh"  # CodeBuild's /codebuild/output/tmp/script.sh
        try:
            self.state = SavedState(self._dir, env, cwd)
            self._proc, self._ctl, self._out = _start_launcher(cwd)
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._poller = select.poll()  # not select(): an emulator may hold more than 1024 fds
        self._poller.register(self._ctl, select.POLLIN)
        self._poller.register(self._out, select.POLLIN)
        self.pgid = self._proc.pid  # session leader: its pid is the group id
        self.alive = True

    def run(self, command: str) -> int:
        """Run one buildspec command in a fresh shell; its exit status.

        The command text is the script's last part, as written: a syntax error or ``exit N``
        ends this script only (bash: status 2 / N), and the EXIT trap still saves the state.
        Without ``carry_state`` (buildspec version 0.1: "each command runs in isolation from
        all other commands") nothing is saved: every command starts in the initial directory
        and environment.
        """
        save = self.state.save_on_exit() if self._carry else ""
        self._write_script(self.state.restore() + save + command + "\n")
        status = self._exchange(f"{self._start_script()} 3>&-")[1]
        if self._carry:
            self.state.commit()
        return status

    def query(self, code: str) -> tuple[bytes, int]:
        """Run our own shell code in the saved state, unsaved; what it wrote to fd 3."""
        self._write_script(self.state.restore() + code + "\n")
        return self._exchange(self._start_script())

    def _write_script(self, text: str) -> None:
        """Write the script as a new file.

        Unlink + create: ext4 flushes a file renamed or truncated over another, which costs
        about as much as starting the shell.
        """
        self._script.unlink(missing_ok=True)
        self._script.write_text(text, encoding="utf-8", errors="surrogateescape")

    def _start_script(self) -> str:
        return f"{shlex.quote(self._binary)} {shlex.quote(str(self._script))} </dev/null 2>&1"

    def _exchange(self, script: str) -> tuple[bytes, int]:
        """Have the launcher run a line of our shell code; what fd 3 got and its status."""
        report = f"command printf '\\n%s %d\\n' {self._nonce.decode()} \"$?\" >&3"
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(f"{script}\n{report}\n".encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise self._gone() from None
        return self._wait_report()

    def _wait_report(self) -> tuple[bytes, int]:
        while True:
            self._limits.check()
            timeout = self._limits.wait_seconds()
            due = self._log.seconds_to_flush()
            timeout = timeout if due is None else min(timeout, due)
            ready = {fd for fd, _ in self._poller.poll(timeout * 1000)}
            if self._out in ready:
                self.drain(OUTPUT_CHUNK)  # bounded: a command printing forever must time out
            if self._ctl in ready:
                found = self._read_control()
                if found is not None:
                    return found
            self._log.flush_if_due()

    def _read_control(self) -> tuple[bytes, int] | None:
        data = os.read(self._ctl, 65536)
        if not data:
            raise self._gone()
        self._control += data
        match = self._marker.search(self._control)
        if match is None:
            return None
        self.drain()  # the command's output is in the pipe before its report: keep the order
        payload, self._control = self._control[: match.start()], self._control[match.end() :]
        return payload, int(match.group(1))

    def drain(self, limit: int = 1 << 20) -> None:
        """Move what the shells have written so far (up to limit bytes) into the log."""
        while limit > 0 and self._out >= 0:
            try:
                data = os.read(self._out, min(limit, OUTPUT_CHUNK))
            except (BlockingIOError, OSError):
                return
            if not data:  # every writer is gone; stop polling a pipe that only says HUP
                self._poller.unregister(self._out)
                os.close(self._out)
                self._out = -1
                return
            limit -= len(data)
            self._log.feed(data)

    def _gone(self) -> ShellGone:
        """The launcher closed fd 3: only its own death does that (commands never get fd 3)."""
        self.alive = False
        code = self._proc.wait()
        self.drain()
        return ShellGone(code if code >= 0 else 128 - code)

    def kill(self) -> None:
        """TERM the whole process group (background jobs too), KILL what is left."""
        self.alive = False
        if not self._group_cleared:
            _kill_group(self.pgid, self._proc.poll)
            self._group_cleared = True
        self._proc.wait()

    def close(self) -> None:
        """End of build: the launcher exits on EOF, then its process group is cleared."""
        with suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        with suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=KILL_GRACE_SECONDS)
        self.kill()
        self.drain()
        for fd in (self._out, self._ctl):
            if fd >= 0:
                os.close(fd)
        self._out = self._ctl = -1
        shutil.rmtree(self._dir, ignore_errors=True)


def _start_launcher(cwd: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start the launcher in its own session; it, its control and its log pipe's read ends.

    Its environment is empty: each command restores the saved state, so what a command unset
    stays unset. Its stderr is discarded: bash's "123 Killed .../script.sh" notices are about
    our script, not the build (the commands' stderr goes to the log with their stdout).
    """
    bash = _which("bash", os.environ.get("PATH"))
    ctl_r, ctl_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [bash, "-c", _boot_script(ctl_w), bash], stdin=subprocess.PIPE, stdout=out_w,
            stderr=subprocess.DEVNULL, cwd=cwd, env={}, start_new_session=True,
            pass_fds=(ctl_w,),
        )  # fmt: skip
    except OSError as exc:
        os.close(ctl_r)
        os.close(out_r)
        raise ExecutionError(f"cannot start the build shell in {cwd}: {exc}") from exc
    finally:
        os.close(ctl_w)
        os.close(out_w)
    os.set_blocking(ctl_r, False)
    os.set_blocking(out_r, False)
    return proc, ctl_r, out_r


# --- ending a process group ----------------------------------------------------------------


def _kill_group(pgid: int, reap: Callable[[], object]) -> None:
    """Mirror the end of a CodeBuild container: nothing started by the build survives it."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, 1.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if _group_gone(pgid, reap, wait):
            return
    logger.warning("process group %d still has members after SIGKILL", pgid)


def _group_gone(pgid: int, reap: Callable[[], object], within: float) -> bool:
    """Poll (kill path only) until no live process of the group is left."""
    end = time.monotonic() + within
    while True:
        reap()  # the launcher would otherwise linger as a zombie member of its group
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.01)


def _group_alive(pgid: int) -> bool:
    """Whether a group member is more than a zombie (orphans wait for init to reap them)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):  # no procfs (macOS): a zombie counts as alive
        return True
    return any(_is_live_member(entry.name, pgid) for entry in os.scandir("/proc"))


def _is_live_member(pid: str, pgid: int) -> bool:
    if not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # after "pid (comm)"
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in ("Z", "X")
