"""Run a build's buildspec phases for real, locally, with CodeBuild's phase flow.

Each command runs in a fresh shell that restores what the previous one exported and where it
``cd``-ed, like CodeBuild's per-command ``script.sh`` (shell.py); ``exit 3`` fails just
that command. A version 0.1 buildspec carries nothing over: each command starts afresh in
the source directory with the build's initial environment, as CodeBuild runs 0.1. The flow
on failure (``on-failure``, ``finally``, POST_BUILD after a failed BUILD with
``CODEBUILD_BUILD_SUCCEEDING=0``, the always-attempted UPLOAD_ARTIFACTS) mirrors CodeBuild.
Everything, every observer call included, happens in the calling thread. The caller records
SUBMITTED .. DOWNLOAD_SOURCE before and COMPLETED after, and uploads artifacts and reports.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from opslib.emulator.codebuild.shell import (
    BuildShell,
    Interrupted,
    Limits,
    LogBatcher,
    ShellGone,
    container_line,
    now,
)
from opslib.exceptions import ExecutionError
from opslib.specs import Buildspec, OnFailure, Phase, PhaseName
from opslib.specs.buildspec import LEGACY_VERSION

__all__ = [  # container_line lives in shell.py now and stays importable from here
    "HOST_ONLY_VARIABLES", "INTERRUPT_CONTEXTS", "RUNTIME_PROBES", "SHELLS", "BuildObserver",
    "BuildOutcome", "BuildRequest", "PhaseRecord", "PhaseType", "StatusType", "Upload",
    "build_environment", "container_line", "run_build", "runtime_message",
]  # fmt: skip

logger = logging.getLogger(__name__)

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
    FINALIZING = "FINALIZING"  # the build's process group shut down
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
    # Where the shell keeps its script and saved environment (CodeBuild's
    # /codebuild/output/tmp): the build's work directory, which recovery removes after a
    # crash; a new temporary directory when None.
    scratch_dir: Path | None = None


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


# --- the environment ----------------------------------------------------------------------


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
        self.log = LogBatcher(observer.output)
        self.limits = Limits(time.monotonic() + request.timeout_seconds, stop)
        self.records: list[PhaseRecord] = []
        self.shell: BuildShell | None = None
        self.interrupted: StatusType | None = None
        self.reached_build = False
        self.failing = False  # a phase failed: CODEBUILD_BUILD_SUCCEEDING must read 0
        self.exported: dict[str, str] = {}
        self.artifacts: list[tuple[str, str]] = []

    def execute(self, upload: Upload) -> BuildOutcome:
        binary = _shell_binary(self.request)
        self.shell = BuildShell(
            binary, self.request.source_dir, build_environment(self.request), self.log,
            self.limits, carry_state=self.spec.version != LEGACY_VERSION,
            scratch_parent=self.request.scratch_dir,
        )  # fmt: skip
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
                return False  # a command killed the build's process group: nothing runs any more
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
        except Interrupted as exc:
            assert self.shell is not None
            self.shell.kill()
            self.interrupted = StatusType(exc.reason)  # Interruption values are build statuses
            return self._end(record, self.interrupted, INTERRUPT_CONTEXTS[self.interrupted])
        context = failure or final
        return self._end(record, StatusType.FAILED if context else StatusType.SUCCEEDED, context)

    def _mark_failing(self) -> None:
        """CodeBuild flips CODEBUILD_BUILD_SUCCEEDING to 0 for the phases after a failure."""
        if self.failing and self.shell is not None:
            self.shell.state.export("CODEBUILD_BUILD_SUCCEEDING", "0")
            self.failing = False

    def _run_commands(self, commands: list[str]) -> Context | None:
        """Run commands until one fails; its context. Nothing runs once the launcher is gone."""
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
        except ShellGone as gone:
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
        payload, status = self.shell.query(f"{{ {probe.command}; }} 2>/dev/null >&3")
        text = payload.decode("utf-8", "replace").strip()
        return text if status == 0 and text else None

    def _warn_run_as(self, user: str | None) -> None:
        current = getpass.getuser()
        if user and user != current:
            self.log.container(f"WARNING: run-as {user} is ignored: the emulator runs commands "
                               f"as the current user ({current})")  # fmt: skip

    def _read_exports(self) -> dict[str, str]:
        """Read env.exported-variables from the saved state, NUL-separated so any value survives.

        Only exported variables are saved between commands, so only they can be read here.
        """
        names = [n for n in self.spec.env.exported_variables if _NAME.fullmatch(n)]
        if not names or self.shell is None:
            return {}
        args = " ".join(f'"${{{name}-}}"' for name in names)
        try:
            payload, _ = self.shell.query(f"command printf '%s\\0' {args} >&3")
        except (ShellGone, Interrupted):
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
        record = PhaseRecord(phase_type, None, now())
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
        record.end = now()
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
