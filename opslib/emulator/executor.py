"""Run a build's buildspec phases for real, in one local shell, the way CodeBuild does.

Buildspec v0.2 runs every command of a build in one shell instance, so ``cd`` and ``export``
carry over between commands and phases. The executor keeps one long-lived ``bash`` (or ``sh``)
in its own session (process group), feeds it one command at a time on stdin and learns each
exit status from a private control pipe (fd 3 in the shell) tagged with a per-build nonce. The
shell's stdout and stderr share one pipe: that is the build log, interleaved with the
``[Container]`` lines CodeBuild writes, and handed to the observer in small batches.

Everything happens in the calling thread: one ``poll`` loop reads the log and the control
pipe, watches the deadline and the stop event, and makes every observer call. The phases'
flow on failure (``on-failure``, ``finally``, POST_BUILD after a failed BUILD, the
always-attempted UPLOAD_ARTIFACTS) mirrors CodeBuild; the caller records SUBMITTED ..
DOWNLOAD_SOURCE before and COMPLETED after, zips and uploads the artifacts and parses reports.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import secrets
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from opslib.exceptions import ExecutionError
from opslib.specs import Buildspec, OnFailure, Phase, PhaseName

logger = logging.getLogger(__name__)

LOG_BATCH_LINES = 50  # hand the observer at most this many lines at once ...
LOG_BATCH_SECONDS = 0.5  # ... and never hold a line longer than this
STOP_POLL_SECONDS = 0.05  # how often a running command checks the stop event
KILL_GRACE_SECONDS = 3.0  # TERM, then KILL after this long
OUTPUT_CHUNK = 65536  # bytes read from the log pipe at a time
# Host credentials must not leak into builds: a CodeBuild container gets the service role's
# credentials, never the workstation's.
HOST_ONLY_VARIABLES = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
     "AWS_PROFILE"}
)  # fmt: skip
SHELLS = {"bash": "bash", "sh": "sh", "/bin/sh": "sh"}  # env.shell values run on Linux
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PhaseType(StrEnum):
    """Build phases as BatchGetBuilds reports them, in order."""

    SUBMITTED = "SUBMITTED"  # StartBuild accepted (recorded by the caller)
    QUEUED = "QUEUED"  # waiting for capacity (caller)
    PROVISIONING = "PROVISIONING"  # environment set-up (caller)
    DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"  # source unpacked into CODEBUILD_SRC_DIR (caller)
    INSTALL = "INSTALL"  # buildspec install phase (this module)
    PRE_BUILD = "PRE_BUILD"
    BUILD = "BUILD"
    POST_BUILD = "POST_BUILD"
    UPLOAD_ARTIFACTS = "UPLOAD_ARTIFACTS"  # the caller's upload callback
    FINALIZING = "FINALIZING"  # shell and its process group shut down
    COMPLETED = "COMPLETED"  # terminal marker (caller)


class StatusType(StrEnum):
    """Build and phase statuses, AWS's values."""

    SUCCEEDED = "SUCCEEDED"  # every phase succeeded
    FAILED = "FAILED"  # a command, finally command or the upload failed
    FAULT = "FAULT"  # the emulator itself broke
    TIMED_OUT = "TIMED_OUT"  # the build timeout elapsed
    IN_PROGRESS = "IN_PROGRESS"  # still running
    STOPPED = "STOPPED"  # StopBuild


@dataclass
class PhaseRecord:
    """One phase of one build: BatchGetBuilds' ``phases[]`` entry before serialization."""

    phase_type: PhaseType
    status: StatusType | None
    start: datetime
    end: datetime | None = None
    contexts: list[tuple[str, str]] = field(default_factory=list)  # (statusCode, message)

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds like AWS's ``durationInSeconds``; None while the phase runs."""
        if self.end is None:
            return None
        return int((self.end - self.start).total_seconds())


@dataclass
class BuildRequest:
    """What to run: the source tree, its buildspec and the already merged environment."""

    build_id: str
    source_dir: Path
    buildspec: Buildspec
    env: dict[str, str]  # CODEBUILD_* + project + StartBuild overrides; beats env.variables
    timeout_seconds: float
    shell: str = "bash"  # used when the buildspec sets no env.shell


class BuildObserver(Protocol):
    """Receives a build's progress; every call comes from the thread running run_build."""

    def phase_started(self, phase: PhaseType, at: datetime) -> None: ...

    def phase_ended(self, record: PhaseRecord) -> None: ...

    def output(self, lines: list[tuple[datetime, str]]) -> None: ...


@dataclass
class BuildOutcome:
    """How the executed part of a build ended; the caller turns it into the build's record."""

    status: StatusType
    phases: list[PhaseRecord]  # INSTALL .. POST_BUILD as run, UPLOAD_ARTIFACTS, FINALIZING
    exported_variables: dict[str, str]
    reached_build: bool
    failure: str | None  # "<statusCode>: <message>" of the first failed phase
    artifacts: list[tuple[str, str]] = field(default_factory=list)  # upload()'s result


Upload = Callable[[], list[tuple[str, str]]]


def run_build(
    request: BuildRequest, observer: BuildObserver, stop: threading.Event, upload: Upload
) -> BuildOutcome:
    """Run the buildspec's phases, the upload and FINALIZING; never raises, never leaks a shell.

    An unexpected error inside the executor ends the build as FAULT with the error in
    ``failure`` (CodeBuild's own faults look the same to a caller).
    """
    run = _BuildRun(request, observer, stop)
    try:
        return run.execute(upload)
    except Exception as exc:
        logger.exception("build %s: executor fault", request.build_id)
        return run.fault(exc)
    finally:
        run.close()


# --- the build log -------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def container_line(message: str, at: datetime | None = None) -> str:
    """A CodeBuild agent log line: ``[Container] 2026/11/28 02:10:01.123 <message>``."""
    at = at or _now()
    return f"[Container] {at:%Y/%m/%d %H:%M:%S}.{at.microsecond // 1000:03d} {message}"


class _Log:
    """Batches log lines for ``observer.output``; shell bytes are split into decoded lines."""

    def __init__(self, observer: BuildObserver) -> None:
        self._observer = observer
        self._lines: list[tuple[datetime, str]] = []
        self._first_at = 0.0
        self._partial = b""

    def container(self, message: str) -> None:
        """Add ``[Container]`` lines; a multi-line message (a multi-line command) is split."""
        at = _now()
        for index, text in enumerate(message.rstrip("\n").split("\n")):
            self._add(at, container_line(text, at) if index == 0 else text)

    def feed(self, data: bytes) -> None:
        """Add shell output; an unfinished last line waits for its newline (or flush_all)."""
        *complete, self._partial = (self._partial + data).split(b"\n")
        at = _now()
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
        due = self.seconds_to_flush()
        if due is not None and (due <= 0 or len(self._lines) >= LOG_BATCH_LINES):
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self._observer.output(lines)

    def flush_all(self) -> None:
        """Flush including an unterminated last line (phase end: the log must be complete)."""
        if self._partial:
            self._add(_now(), self._partial.decode("utf-8", "replace"))
            self._partial = b""
        self.flush()

    def _add(self, at: datetime, text: str) -> None:
        if not self._lines:
            self._first_at = time.monotonic()
        self._lines.append((at, text))
        if len(self._lines) >= LOG_BATCH_LINES:
            self.flush()


# --- the shell -----------------------------------------------------------------------------


class _ShellGone(Exception):
    """The shell exited (a command ran ``exit``); carries its exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"shell exited with status {status}")
        self.status = status


class _Interrupted(Exception):
    """The build timed out or was stopped while waiting for the shell."""

    def __init__(self, status: StatusType) -> None:
        super().__init__(status.value)
        self.status = status


@dataclass
class _Limits:
    """The build's deadline (monotonic) and stop event, checked while waiting."""

    deadline: float
    stop: threading.Event

    def check(self) -> None:
        if self.stop.is_set():
            raise _Interrupted(StatusType.STOPPED)
        if time.monotonic() >= self.deadline:
            raise _Interrupted(StatusType.TIMED_OUT)

    def wait_seconds(self) -> float:
        return max(0.0, min(STOP_POLL_SECONDS, self.deadline - time.monotonic()))


def _boot_script(control_fd: int) -> str:
    """Move the control pipe to fd 3 (dash cannot name fds above 9), then become the shell."""
    move = "" if control_fd == 3 else f"exec 3>&{control_fd} {control_fd}>&-; "
    return f'{move}exec "$0" -s'


class _Shell:
    """One shell process in its own session, driven over stdin with a control pipe on fd 3."""

    def __init__(self, binary: str, cwd: Path, env: dict[str, str], log: _Log, limits: _Limits):
        self._log = log
        self._limits = limits
        self._nonce = secrets.token_hex(8).encode()
        self._marker = re.compile(rb"\n" + self._nonce + rb" (\d+)\n")
        self._control = b""
        self._group_cleared = False  # once gone, its pgid may be reused: never signal it again
        self.alive = True
        ctl_r, ctl_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                ["bash", "-c", _boot_script(ctl_w), binary],
                stdin=subprocess.PIPE, stdout=out_w, stderr=out_w, cwd=cwd, env=env,
                start_new_session=True, pass_fds=(ctl_w,),
            )  # fmt: skip
        except OSError as exc:
            os.close(ctl_r)
            os.close(out_r)
            raise ExecutionError(f"cannot start the build shell {binary} in {cwd}: {exc}") from exc
        finally:
            os.close(ctl_w)
            os.close(out_w)
        self._ctl, self._out = ctl_r, out_r
        os.set_blocking(ctl_r, False)
        os.set_blocking(out_r, False)
        self._poller = select.poll()  # not select(): an emulator may hold more than 1024 fds
        self._poller.register(ctl_r, select.POLLIN)
        self._poller.register(out_r, select.POLLIN)
        self.pgid = self._proc.pid  # session leader: its pid is the group id

    def run(self, command: str) -> int:
        """Run one buildspec command in the shell with stdin at /dev/null; its exit status.

        The command travels single-quoted to ``eval`` so the outer shell never sees its syntax:
        a syntax error is the command's failure (bash: status 2), not a hung shell.
        """
        wrapped = f"{{ eval {shlex.quote(command)}\n}} 3>&- </dev/null"
        return self.exchange(wrapped)[1]

    def exchange(self, script: str) -> tuple[bytes, int]:
        """Run shell code; return what it wrote to fd 3 and its exit status."""
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
        """Move what the shell has written so far (up to limit bytes) into the log."""
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

    def _gone(self) -> _ShellGone:
        self.alive = False
        try:
            code = self._proc.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:  # closed fd 3 yet still running: treat as dead
            self.kill()
            code = self._proc.wait()
        self.drain()
        return _ShellGone(code if code >= 0 else 128 - code)

    def kill(self) -> None:
        """TERM the whole process group (background jobs too), KILL what is left."""
        self.alive = False
        if not self._group_cleared:
            _kill_group(self.pgid, self._proc.poll)
            self._group_cleared = True
        self._proc.wait()

    def close(self) -> None:
        """End of build: let the shell exit on EOF, then clear its process group; idempotent."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        self.drain()
        for fd in (self._out, self._ctl):
            if fd >= 0:
                os.close(fd)
        self._out = self._ctl = -1


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
        reap()  # our shell would otherwise linger as a zombie member of its group
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


def build_environment(request: BuildRequest) -> dict[str, str]:
    """The shell's environment: host minus its credentials, then buildspec, then request.

    CodeBuild's precedence is StartBuild override > project > buildspec; the request env
    already holds the first two, so it goes on top of the buildspec's ``env.variables``.
    """
    env = {k: v for k, v in os.environ.items() if k not in HOST_ONLY_VARIABLES}
    env.update(request.buildspec.env.variables)
    env.update(request.env)
    env["CODEBUILD_BUILD_SUCCEEDING"] = "1"  # CodeBuild sets 0 once a phase has failed
    return env


def _shell_binary(request: BuildRequest) -> str:
    name = request.buildspec.env.shell or request.shell
    if name not in SHELLS:
        raise ExecutionError(f"env.shell '{name}' cannot run locally; use bash or sh")
    return SHELLS[name]


# --- runtime-versions ----------------------------------------------------------------------


@dataclass(frozen=True)
class _RuntimeProbe:
    """How to ask this machine for a runtime's version and how much of it must match."""

    command: str
    parts: int  # leading version components compared with runtime-versions


RUNTIME_PROBES = {
    "nodejs": _RuntimeProbe("node --version", 1),  # runtime-versions nodejs: 20 = major 20
    "python": _RuntimeProbe("python3 --version", 2),  # python: 3.12 = 3.12.x
}


def _numbers(version: str) -> list[str]:
    """Leading numeric components: "20.x" -> ["20"], "v20.11.1" -> ["20", "11", "1"]."""
    match = re.search(r"\d+(?:\.\d+)*", version)
    return match.group(0).split(".") if match else []


def runtime_message(runtime: str, requested: str, local: str | None) -> str:
    """The log line saying which local runtime stands in for the requested one."""
    probe = RUNTIME_PROBES.get(runtime)
    if probe is None:
        return f"Runtime {runtime} {requested}: the emulator uses this machine's tools as they are"
    if local is None:
        return (f"WARNING: runtime-versions {runtime}: {requested} requested but "
                f"'{probe.command.split()[0]}' was not found on this machine")  # fmt: skip
    wanted = _numbers(requested)[: probe.parts]
    if wanted and _numbers(local)[: len(wanted)] != wanted:
        return (f"WARNING: runtime-versions {runtime}: {requested} requested, this machine has "
                f"{local}; the emulator uses the local one")  # fmt: skip
    return f"Using local {runtime} {local} for runtime-versions {runtime}: {requested}"


# --- the build -----------------------------------------------------------------------------


class _Flow(StrEnum):
    """What follows a failed phase."""

    NEXT = "NEXT"  # run the next phase
    END_PHASES = "END_PHASES"  # no more command phases; upload only if BUILD was reached
    ABORT = "ABORT"  # straight to FINALIZING


def _flow_after_failure(phase: PhaseName, on_failure: OnFailure | None) -> _Flow:
    """CodeBuild's rule: explicit on-failure wins; unset, INSTALL/PRE_BUILD end the phases."""
    if on_failure is OnFailure.ABORT:
        return _Flow.ABORT
    if on_failure is OnFailure.CONTINUE:
        return _Flow.NEXT
    if phase in (PhaseName.INSTALL, PhaseName.PRE_BUILD):
        return _Flow.END_PHASES
    return _Flow.NEXT  # BUILD: POST_BUILD still runs with CODEBUILD_BUILD_SUCCEEDING=0


INTERRUPT_CONTEXTS = {
    StatusType.TIMED_OUT: ("BUILD_TIMED_OUT", "Build has timed out. "),
    StatusType.STOPPED: ("BUILD_STOPPED", "Build was stopped. "),
}
Context = tuple[str, str]


class _BuildRun:
    """State of one run_build call: the shell, the records, the first failure."""

    def __init__(self, request: BuildRequest, observer: BuildObserver, stop: threading.Event):
        self.request = request
        self.spec = request.buildspec
        self.observer = observer
        self.log = _Log(observer)
        self.limits = _Limits(time.monotonic() + request.timeout_seconds, stop)
        self.records: list[PhaseRecord] = []
        self.shell: _Shell | None = None
        self.interrupted: StatusType | None = None
        self.reached_build = False
        self.failing = False  # a phase failed: CODEBUILD_BUILD_SUCCEEDING must read 0
        self.exported: dict[str, str] = {}
        self.artifacts: list[tuple[str, str]] = []

    def execute(self, upload: Upload) -> BuildOutcome:
        binary = _shell_binary(self.request)
        self.shell = _Shell(
            binary, self.request.source_dir, build_environment(self.request), self.log, self.limits
        )
        aborted = self._run_phases()
        if self.shell.alive and self.interrupted is None:
            self.exported = self._read_exports()
        if self.reached_build and not aborted and self.interrupted is None:
            self._upload(upload)
        self._finalize()
        return self._outcome(self.interrupted or self._status())

    def fault(self, exc: Exception) -> BuildOutcome:
        """Close the open phase as FAULT, record FINALIZING, report the executor's error."""
        if self.shell is not None:
            self.shell.kill()  # a command may still be running: no grace period
        try:
            open_record = next((r for r in self.records if r.end is None), None)
            if open_record is not None:
                self._end(open_record, StatusType.FAULT, ("EMULATOR_FAULT", str(exc)))
            if not any(r.phase_type is PhaseType.FINALIZING for r in self.records):
                self._finalize()
        except Exception:  # the observer itself may be what broke
            logger.exception("build %s: cannot record the fault", self.request.build_id)
        outcome = self._outcome(StatusType.FAULT)
        outcome.failure = f"{type(exc).__name__}: {exc}"
        return outcome

    def close(self) -> None:
        """Never leave a shell behind; a broken observer must not turn this into a raise."""
        if self.shell is not None:
            self.shell.close()
        try:
            self.log.flush_all()
        except Exception:
            logger.exception("build %s: cannot hand over the last log lines", self.request.build_id)

    # phases

    def _run_phases(self) -> bool:
        """Run INSTALL..POST_BUILD; True when the build was aborted or interrupted."""
        self._warn_run_as(self.spec.run_as)
        for name in PhaseName:
            assert self.shell is not None
            if not self.shell.alive:
                return False  # a command ran `exit`: nothing left to run the phases in
            phase = self.spec.phases.get(name, Phase())
            record = self._run_phase(PhaseType[name.name], phase)
            if record.status is StatusType.SUCCEEDED:
                continue
            if self.interrupted is not None:
                return True
            flow = _flow_after_failure(name, phase.on_failure)
            if flow is not _Flow.NEXT:
                return flow is _Flow.ABORT
            self.failing = True
        return False

    def _run_phase(self, phase_type: PhaseType, phase: Phase) -> PhaseRecord:
        record = self._begin(phase_type)
        self.reached_build = self.reached_build or phase_type is PhaseType.BUILD
        try:
            self.limits.check()  # a stop or timeout is noticed between phases too
            self._mark_failing()
            self._warn_run_as(phase.run_as)
            self._install_runtimes(phase.runtime_versions)
            failure = self._run_commands(phase.commands)
            final = self._run_commands(phase.finally_)
        except _Interrupted as exc:
            assert self.shell is not None
            self.shell.kill()
            self.interrupted = exc.status
            return self._end(record, exc.status, INTERRUPT_CONTEXTS[exc.status])
        context = failure or final
        return self._end(record, StatusType.FAILED if context else StatusType.SUCCEEDED, context)

    def _mark_failing(self) -> None:
        """CodeBuild flips CODEBUILD_BUILD_SUCCEEDING to 0 for the phases after a failure."""
        if self.failing and self.shell is not None:
            self.shell.exchange("export CODEBUILD_BUILD_SUCCEEDING=0")
            self.failing = False

    def _run_commands(self, commands: list[str]) -> Context | None:
        """Run commands until one fails; its context. Nothing runs once the shell is gone."""
        assert self.shell is not None
        for command in commands:
            if not self.shell.alive:
                return None
            context = self._run_command(command)
            if context is not None:
                return context
        return None

    def _run_command(self, command: str) -> Context | None:
        assert self.shell is not None
        self.log.container(f"Running command {command}")
        try:
            status = self.shell.run(command)
        except _ShellGone as gone:
            status = gone.status
        if status == 0:
            return None
        reason = f"exit status {status}"
        self.log.container(f"Command did not exit successfully {command} {reason}")
        return ("COMMAND_EXECUTION_ERROR",
                f"Error while executing command: {command}. Reason: {reason}")  # fmt: skip

    def _install_runtimes(self, runtimes: dict[str, str]) -> None:
        """CodeBuild installs runtime-versions; the emulator says which local tool stands in."""
        assert self.shell is not None
        for runtime, requested in runtimes.items():
            echo = f'echo "Installing {runtime} version {requested} ..."'
            self.log.container(f"Running command {echo}")
            self.log.container(runtime_message(runtime, requested, self._local_version(runtime)))

    def _local_version(self, runtime: str) -> str | None:
        probe = RUNTIME_PROBES.get(runtime)
        if probe is None or self.shell is None:
            return None
        payload, status = self.shell.exchange(f"{{ {probe.command}; }} 2>/dev/null >&3")
        text = payload.decode("utf-8", "replace").strip()
        return text if status == 0 and text else None

    def _warn_run_as(self, user: str | None) -> None:
        current = getpass.getuser()
        if user and user != current:
            self.log.container(f"WARNING: run-as {user} is ignored: the emulator runs commands "
                               f"as the current user ({current})")  # fmt: skip

    def _read_exports(self) -> dict[str, str]:
        """Read env.exported-variables from the shell, NUL-separated so any value survives."""
        names = [n for n in self.spec.env.exported_variables if _NAME.fullmatch(n)]
        if not names or self.shell is None:
            return {}
        args = " ".join(f'"${{{name}-}}"' for name in names)
        try:
            payload, _ = self.shell.exchange(f"command printf '%s\\0' {args} >&3")
        except (_ShellGone, _Interrupted):
            return {}
        values = payload.decode("utf-8", "replace").split("\0")
        return dict(zip(names, values, strict=False))

    def _upload(self, upload: Upload) -> None:
        record = self._begin(PhaseType.UPLOAD_ARTIFACTS)
        try:
            self.artifacts = upload()
        except Exception as exc:  # CodeBuild reports any upload problem as CLIENT_ERROR
            self._end(record, StatusType.FAILED, ("CLIENT_ERROR", str(exc)))
            return
        for artifact_id, location in self.artifacts:
            self.log.container(f"Uploaded artifact {artifact_id} to {location}")
        self._end(record, StatusType.SUCCEEDED, None)

    def _finalize(self) -> None:
        record = self._begin(PhaseType.FINALIZING)
        if self.shell is not None:
            self.shell.close()
        self._end(record, StatusType.SUCCEEDED, None)

    # records

    def _begin(self, phase_type: PhaseType) -> PhaseRecord:
        record = PhaseRecord(phase_type, None, _now())
        self.records.append(record)
        self.log.container(f"Entering phase {phase_type}")
        self.observer.phase_started(phase_type, record.start)
        return record

    def _end(self, record: PhaseRecord, status: StatusType, context: Context | None) -> PhaseRecord:
        if self.shell is not None:
            self.shell.drain()
        record.status = status
        if context is not None:
            record.contexts.append(context)
        self.log.container(f"Phase complete: {record.phase_type} State: {status}")
        if context is not None:
            self.log.container(f"Phase context status code: {context[0]} Message: {context[1]}")
        self.log.flush_all()
        record.end = _now()
        self.observer.phase_ended(record)
        return record

    def _status(self) -> StatusType:
        ok = all(r.status is StatusType.SUCCEEDED for r in self.records)
        return StatusType.SUCCEEDED if ok else StatusType.FAILED

    def _outcome(self, status: StatusType) -> BuildOutcome:
        failed = next((r for r in self.records if r.contexts), None)
        failure = f"{failed.contexts[0][0]}: {failed.contexts[0][1]}" if failed else None
        return BuildOutcome(status, list(self.records), self.exported, self.reached_build,
                            failure, self.artifacts)  # fmt: skip
