"""The build executor runs real shell commands with CodeBuild's phase semantics."""

from __future__ import annotations

import textwrap
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from opslib.emulator.codebuild.phases import (
    BuildOutcome,
    BuildRequest,
    PhaseRecord,
    PhaseType,
    StatusType,
    run_build,
    runtime_message,
)
from opslib.specs import load_buildspec

pytestmark = pytest.mark.unit

# A command printing its process group: the build's group, shared by every command.
PGID = """'read -r _ _ _ _ g _ < /proc/$$/stat; echo "pgid=$g"'"""
ALL_PHASES = ["INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING"]


@dataclass
class Recorder:
    """A BuildObserver that keeps everything; optionally sets ``stop`` when a phase starts."""

    stop_at: PhaseType | None = None
    fail_at: PhaseType | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    events: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)
    uploads: int = 0

    def phase_started(self, phase: PhaseType, at: datetime) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(("start", str(phase)))
        if phase is self.stop_at:
            self.stop.set()
        if phase is self.fail_at:
            raise RuntimeError("observer broke")

    def phase_ended(self, record: PhaseRecord) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(("end", str(record.phase_type)))

    def output(self, lines: list[tuple[datetime, str]]) -> None:
        self.threads.add(threading.get_ident())
        self.lines.extend(text for _, text in lines)

    def upload(self) -> list[tuple[str, str]]:
        self.uploads += 1
        return [("primary", "arn:aws:s3:::bucket/app.zip")]

    def index(self, fragment: str) -> int:
        return next(i for i, line in enumerate(self.lines) if fragment in line)

    def logged(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)


def build(
    tmp_path: Path,
    yaml: str,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    recorder: Recorder | None = None,
    upload: object = None,
) -> tuple[BuildOutcome, Recorder]:
    spec = load_buildspec(tmp_path / "buildspec.yml", text=textwrap.dedent(yaml), check_paths=False)
    rec = recorder or Recorder()
    request = BuildRequest("demo:1", tmp_path, spec, env or {}, timeout)
    outcome = run_build(request, rec, rec.stop, upload or rec.upload)  # type: ignore[arg-type]
    return outcome, rec


def phases(outcome: BuildOutcome) -> list[tuple[str, str]]:
    return [(str(r.phase_type), str(r.status)) for r in outcome.phases]


def live_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def pgid_from(rec: Recorder) -> int:
    """The build's process group, as a command printed it (its field 5 of /proc/$$/stat)."""
    return int(next(line for line in rec.lines if line.startswith("pgid="))[5:])


def test_phases_run_in_order_and_their_output_is_the_log(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install: {commands: [echo install-out]}
          pre_build: {commands: [echo pre-out]}
          build: {commands: [echo build-out]}
          post_build: {commands: [echo post-out]}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert phases(outcome) == [(p, "SUCCEEDED") for p in ALL_PHASES]
    order = ["Entering phase INSTALL", "Running command echo install-out", "install-out",
             "Entering phase PRE_BUILD", "pre-out", "Entering phase BUILD", "build-out",
             "Entering phase POST_BUILD", "post-out", "Phase complete: FINALIZING"]  # fmt: skip
    assert [rec.index(f) for f in order] == sorted(rec.index(f) for f in order)
    assert rec.events[:2] == [("start", "INSTALL"), ("end", "INSTALL")]
    assert rec.lines[0].startswith("[Container] ") and rec.lines[0][12:13].isdigit()
    assert rec.threads == {threading.get_ident()}


def test_cd_persists_across_commands_and_phases(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands: [mkdir -p sub/deeper, cd sub]
          build:
            commands: [cd deeper, 'echo "dir=$(basename "$PWD")"']
          post_build:
            commands: ['echo "back=$(cd - >/dev/null && basename "$PWD")"']
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("dir=deeper") and rec.logged("back=sub")


def test_variable_exported_in_install_is_seen_in_post_build(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install: {commands: ['export GREETING="hello world"']}
          post_build: {commands: ['echo "greeting=$GREETING"']}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("greeting=hello world")


def test_non_exported_variables_do_not_persist(tmp_path: Path) -> None:
    """Each command is its own script in a fresh shell (CodeBuild's script.sh).

    Only the exported environment and the directory are saved between commands, so a plain
    assignment is gone by the next command while an unset of an exported variable sticks.
    """
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - PLAIN=1; unset FROM_REQUEST
              - 'echo "plain=${PLAIN-gone} req=${FROM_REQUEST-gone}"'
        """,
        env={"FROM_REQUEST": "set"},
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("plain=gone req=gone")


def test_shell_options_and_tracing_stay_within_their_command(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: ["set -eux; echo traced", 'echo "options=$-"']}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("+ echo traced")
    assert not rec.logged("opslib")  # the state saving in the EXIT trap is never traced
    options = next(line for line in rec.lines if line.startswith("options="))
    assert not set("eux") & set(options.removeprefix("options="))


def test_failing_command_skips_the_rest_runs_finally_and_fails_the_phase(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: [echo one, "false", echo never]
            finally: [echo cleanup]
        """,
    )
    record = next(r for r in outcome.phases if r.phase_type is PhaseType.BUILD)
    message = "Error while executing command: false. Reason: exit status 1"
    assert record.status is StatusType.FAILED
    assert record.contexts == [("COMMAND_EXECUTION_ERROR", message)]
    assert outcome.failure == f"COMMAND_EXECUTION_ERROR: {message}"
    assert rec.logged("cleanup") and not rec.logged("never")
    assert rec.index("Command did not exit successfully false exit status 1") < rec.index("cleanup")
    assert rec.logged(f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {message}")


def test_failing_finally_command_fails_the_phase(tmp_path: Path) -> None:
    outcome, _ = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [echo ok], finally: ["exit_code() { return 4; }; exit_code"]}
        """,
    )
    assert ("BUILD", "FAILED") in phases(outcome)
    assert outcome.failure is not None and outcome.failure.endswith("exit status 4")


@pytest.mark.parametrize(
    ("failing", "ran"),
    [
        ("install", ["INSTALL", "FINALIZING"]),
        ("pre_build", ["INSTALL", "PRE_BUILD", "FINALIZING"]),
    ],
)
def test_unset_on_failure_before_build_goes_to_finalizing(
    tmp_path: Path, failing: str, ran: list[str]
) -> None:
    yaml = "version: 0.2\nphases:\n" + "".join(
        f"  {name}: {{commands: [{'false' if name == failing else 'true'}]}}\n"
        for name in ("install", "pre_build", "build", "post_build")
    )
    outcome, rec = build(tmp_path, yaml)
    assert [p for p, _ in phases(outcome)] == ran
    assert outcome.status is StatusType.FAILED
    assert not outcome.reached_build and rec.uploads == 0


def test_build_failure_still_runs_post_build_not_succeeding_and_uploads(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: ['echo "during=$CODEBUILD_BUILD_SUCCEEDING"', "false"]}
          post_build: {commands: ['echo "after=$CODEBUILD_BUILD_SUCCEEDING"']}
        """,
    )
    assert phases(outcome) == [
        ("INSTALL", "SUCCEEDED"), ("PRE_BUILD", "SUCCEEDED"), ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"), ("UPLOAD_ARTIFACTS", "SUCCEEDED"), ("FINALIZING", "SUCCEEDED"),
    ]  # fmt: skip
    assert rec.logged("during=1") and rec.logged("after=0")
    assert rec.uploads == 1 and outcome.reached_build
    assert outcome.status is StatusType.FAILED
    assert outcome.artifacts == [("primary", "arn:aws:s3:::bucket/app.zip")]


def test_version_0_1_runs_each_command_from_the_initial_state(tmp_path: Path) -> None:
    """Buildspec 0.1: "each command runs in isolation from all other commands" (AWS)."""
    (tmp_path / "sub").mkdir()
    outcome, rec = build(
        tmp_path,
        """
        version: 0.1
        environment_variables:
          plaintext: {GREETING: hello}
        phases:
          install:
            commands: [cd sub, 'echo "dir=$(basename "$PWD")"', export LATER=set]
          build:
            commands: ['echo "later=${LATER:-unset} greeting=$GREETING"', 'false']
          post_build:
            commands: ['echo "after=$CODEBUILD_BUILD_SUCCEEDING"']
        """,
    )
    assert rec.logged(f"dir={tmp_path.name}")  # the cd did not carry over
    assert rec.logged("later=unset greeting=hello")
    assert rec.logged("after=0")  # the build's own state still reaches later commands
    assert outcome.status is StatusType.FAILED


@pytest.mark.parametrize(
    ("phase", "on_failure", "ran", "uploads"),
    [
        ("pre_build", "ABORT", ["INSTALL", "PRE_BUILD", "FINALIZING"], 0),
        ("pre_build", "CONTINUE", ALL_PHASES, 1),
        ("build", "ABORT", ["INSTALL", "PRE_BUILD", "BUILD", "FINALIZING"], 0),
        ("build", "CONTINUE", ALL_PHASES, 1),
        ("post_build", "ABORT", ["INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "FINALIZING"], 0),
    ],
)
def test_on_failure_abort_ends_the_build_and_continue_goes_on(
    tmp_path: Path, phase: str, on_failure: str, ran: list[str], uploads: int
) -> None:
    yaml = "version: 0.2\nphases:\n" + "".join(
        f"  {name}: {{commands: [{'false' if name == phase else 'true'}]"
        + (f", on-failure: {on_failure}" if name == phase else "")
        + "}\n"
        for name in ("install", "pre_build", "build", "post_build")
    )
    outcome, rec = build(tmp_path, yaml)
    assert [p for p, _ in phases(outcome)] == ran
    assert rec.uploads == uploads
    assert outcome.status is StatusType.FAILED


def test_exported_variables_are_read_from_the_saved_state_at_the_end(tmp_path: Path) -> None:
    outcome, _ = build(
        tmp_path,
        """
        version: 0.2
        env:
          exported-variables: [VERSION, NOTES, PLAIN, UNSET]
        phases:
          build:
            commands:
              - export VERSION=1.2.3
              - |
                export NOTES="two words
                second line"
              - PLAIN=never-exported
        """,
    )
    assert outcome.exported_variables == {
        "VERSION": "1.2.3", "NOTES": "two words\nsecond line", "PLAIN": "", "UNSET": ""
    }  # fmt: skip


def test_exported_variables_survive_a_command_that_exits(tmp_path: Path) -> None:
    outcome, _ = build(
        tmp_path,
        """
        version: 0.2
        env:
          exported-variables: [VERSION]
        phases:
          build: {commands: ["export VERSION=2.0; exit 0"]}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert outcome.exported_variables == {"VERSION": "2.0"}


def test_request_env_beats_buildspec_variables_and_host_credentials_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables: {ONLY_SPEC: spec, BOTH: spec}
        phases:
          build:
            commands: ['echo "vars=$ONLY_SPEC,$BOTH,${AWS_SECRET_ACCESS_KEY-none}"']
        """,
        env={"BOTH": "request"},
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("vars=spec,request,none")


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [PGID, "sleep 30 &", sleep 30]}
          post_build: {commands: [echo never]}
        """.replace("PGID", PGID),
        timeout=0.5,
    )
    assert time.monotonic() - started < 5
    assert outcome.status is StatusType.TIMED_OUT
    assert phases(outcome)[-2:] == [("BUILD", "TIMED_OUT"), ("FINALIZING", "SUCCEEDED")]
    assert outcome.phases[-2].contexts == [("BUILD_TIMED_OUT", "Build has timed out. ")]
    assert rec.uploads == 0 and not rec.logged("never")
    assert live_members(pgid_from(rec)) == []


def test_stop_event_stops_a_running_command_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [sleep 30]}
        """,
        recorder=Recorder(stop_at=PhaseType.BUILD),
    )
    assert time.monotonic() - started < 2
    assert outcome.status is StatusType.STOPPED
    assert phases(outcome)[-2:] == [("BUILD", "STOPPED"), ("FINALIZING", "SUCCEEDED")]


def test_a_command_reading_stdin_gets_end_of_file(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [cat, 'read -r line; echo "read=$?"', echo done]}
        """,
        timeout=10,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("read=1") and rec.logged("done")


def test_exit_in_build_fails_only_that_command_and_post_build_runs(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [PGID, "sleep 30 & exit 3", echo after]}
          post_build: {commands: ['echo "post succeeding=$CODEBUILD_BUILD_SUCCEEDING"']}
        """.replace("PGID", PGID),
    )
    assert phases(outcome) == [
        ("INSTALL", "SUCCEEDED"), ("PRE_BUILD", "SUCCEEDED"), ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"), ("UPLOAD_ARTIFACTS", "SUCCEEDED"), ("FINALIZING", "SUCCEEDED"),
    ]  # fmt: skip
    assert outcome.failure is not None and outcome.failure.endswith("Reason: exit status 3")
    assert not rec.logged("after") and rec.logged("post succeeding=0")
    assert live_members(pgid_from(rec)) == []  # the background sleep ended with the build


def test_exit_in_pre_build_with_continue_keeps_earlier_exports(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: [export KEPT=yes, "export ALSO=yes; exit 3", echo skipped]
          build: {commands: ['echo "build kept=$KEPT also=$ALSO"']}
          post_build: {commands: ['echo "post kept=$KEPT"']}
        """,
    )
    assert phases(outcome) == [
        ("INSTALL", "SUCCEEDED"), ("PRE_BUILD", "FAILED"), ("BUILD", "SUCCEEDED"),
        ("POST_BUILD", "SUCCEEDED"), ("UPLOAD_ARTIFACTS", "SUCCEEDED"), ("FINALIZING", "SUCCEEDED"),
    ]  # fmt: skip
    assert rec.logged("build kept=yes also=yes") and rec.logged("post kept=yes")
    assert not rec.logged("skipped")


def test_multi_line_command_runs_as_one_script(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                for n in 1 2; do
                  echo "line-$n"
                done
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.index("line-1") < rec.index("line-2")
    assert rec.logged("Running command for n in 1 2; do")


def test_syntax_error_fails_the_command_without_hanging(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: ['echo "unterminated']}
          post_build: {commands: [echo post-ran]}
        """,
        timeout=10,
    )
    assert ("BUILD", "FAILED") in phases(outcome)
    assert rec.logged("post-ran")  # only that command's script ended (bash: status 2)


def test_sh_shell_keeps_state_too(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        env: {shell: sh}
        phases:
          install: {commands: [export VIA=sh, cd /]}
          build: {commands: ['echo "via=$VIA pwd=$PWD"']}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("via=sh pwd=/")


def test_upload_exception_fails_upload_artifacts_as_client_error(tmp_path: Path) -> None:
    def upload() -> list[tuple[str, str]]:
        raise ValueError("no matching artifact paths found")

    outcome, _ = build(
        tmp_path, "version: 0.2\nphases:\n  build: {commands: [true]}\n", upload=upload
    )
    record = next(r for r in outcome.phases if r.phase_type is PhaseType.UPLOAD_ARTIFACTS)
    assert record.status is StatusType.FAILED
    assert record.contexts == [("CLIENT_ERROR", "no matching artifact paths found")]
    assert outcome.status is StatusType.FAILED


def test_undecodable_output_is_logged_with_replacement_characters(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path, "version: 0.2\nphases:\n  build: {commands: [\"printf 'a\\\\377b'\"]}\n"
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("a\ufffdb")


def test_run_as_another_user_is_logged_as_a_warning(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path, "version: 0.2\nrun-as: someone-else\nphases:\n  build: {commands: [true]}\n"
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged("WARNING: run-as someone-else is ignored")


def test_unknown_runtime_says_local_tools_are_used(tmp_path: Path) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            runtime-versions: {golang: "1.22"}
        """,
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert rec.logged('Running command echo "Installing golang version 1.22 ..."')
    assert rec.logged("golang 1.22: the emulator uses this machine's tools")


@pytest.mark.parametrize(
    ("runtime", "requested", "local", "expected"),
    [
        ("nodejs", "20", "v20.11.1", "Using local nodejs v20.11.1"),
        ("nodejs", "20.x", "v20.11.1", "Using local nodejs"),
        ("nodejs", "18", "v20.11.1", "WARNING: runtime-versions nodejs: 18 requested"),
        ("nodejs", "latest", "v22.1.0", "Using local nodejs"),
        ("nodejs", "20", None, "'node' was not found"),
        ("python", "3.12", "Python 3.11.9", "WARNING"),
        ("java", "corretto17", None, "this machine's tools"),
    ],
)
def test_runtime_message(runtime: str, requested: str, local: str | None, expected: str) -> None:
    assert expected in runtime_message(runtime, requested, local)


class BrokenOutput(Recorder):
    def output(self, lines: list[tuple[datetime, str]]) -> None:
        super().output(lines)
        if any(text.startswith("pgid=") for _, text in lines):
            raise RuntimeError("observer broke")


@pytest.mark.parametrize(
    "recorder",
    [Recorder(fail_at=PhaseType.BUILD), BrokenOutput()],
    ids=["phase_started-raises", "output-raises"],
)
def test_observer_error_is_a_fault_and_leaves_no_process(
    tmp_path: Path, recorder: Recorder
) -> None:
    outcome, rec = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install: {commands: [PGID, "sleep 30 &"]}
          build: {commands: [echo never]}
        """.replace("PGID", PGID),
        recorder=recorder,
    )
    assert outcome.status is StatusType.FAULT
    assert outcome.failure == "RuntimeError: observer broke"
    assert not rec.logged("never")
    assert live_members(pgid_from(rec)) == []


def test_quick_commands_finish_without_added_latency(tmp_path: Path) -> None:
    commands = ", ".join(["true"] * 40)
    started = time.monotonic()
    outcome, _ = build(tmp_path, f"version: 0.2\nphases:\n  build: {{commands: [{commands}]}}\n")
    assert outcome.status is StatusType.SUCCEEDED
    assert time.monotonic() - started < 1.5


def test_output_reaches_the_observer_while_the_command_still_runs(tmp_path: Path) -> None:
    class StopOnEarly(Recorder):
        def output(self, lines: list[tuple[datetime, str]]) -> None:
            super().output(lines)
            if any(text == "early" for _, text in lines):
                self.stop.set()

    outcome, _ = build(
        tmp_path,
        "version: 0.2\nphases:\n  build: {commands: ['echo early; sleep 30']}\n",
        recorder=StopOnEarly(),
    )
    assert outcome.status is StatusType.STOPPED


def test_output_is_delivered_in_batches_of_at_most_fifty_lines(tmp_path: Path) -> None:
    sizes: list[int] = []

    class Sizes(Recorder):
        def output(self, lines: list[tuple[datetime, str]]) -> None:
            sizes.append(len(lines))
            super().output(lines)

    outcome, rec = build(
        tmp_path, "version: 0.2\nphases:\n  build: {commands: [seq 1 120]}\n", recorder=Sizes()
    )
    assert outcome.status is StatusType.SUCCEEDED
    assert max(sizes) <= 50
    assert [line for line in rec.lines if line.isdigit()] == [str(n) for n in range(1, 121)]
