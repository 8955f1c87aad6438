"""The stack's report schedules from the operator's side: when they fire, and fire one now.

``run_now`` does what the Scheduler does when a schedule fires — StartBuild with the
schedule's own target Input, read back from the Scheduler API — then follows the build
phase by phase and reads the run's verdict from the reports bucket, so a hand-started run
and a scheduled one leave the same record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opslib import schedexpr
from opslib.config import ScheduleSettings, StackConfig
from opslib.exceptions import ConfigError, ExecutionError, NotFoundError
from opslib.ops.reports import ReportRun, find_run, reports_bucket
from opslib.stack.context import Names
from opslib.target import Session, aws_errors

POLL_SECONDS = 2.0
FOLLOW_TIMEOUT = 45 * 60.0  # the project's 30-minute timeout, and the queue before it
_DONE = ("SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT")


@dataclass(frozen=True)
class ScheduleView:
    """One configured schedule: as the config says, as the Scheduler holds it, next fires."""

    name: str
    runbook: str
    expression: str
    timezone: str
    state: str  # ENABLED, DISABLED, or "not created" (run opslib up)
    next_fires: tuple[datetime, ...]


@dataclass(frozen=True)
class RunNowResult:
    """A run started by hand: the build, how it ended and the report it left."""

    build_id: str
    build_status: str
    run: ReportRun | None

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok and self.build_status == "SUCCEEDED"

    def failure(self) -> str:
        if self.run is None:
            return f"build {self.build_id} ended {self.build_status} and left no report"
        return f"report {self.run.runbook}: {self.run.verdict} ({self.run.uri})"


def _group(config: StackConfig) -> str:
    return Names(config.stack, "", config.region).schedule_group


def _get_schedule(session: Session, config: StackConfig, name: str) -> dict[str, Any] | None:
    try:
        with aws_errors("scheduler", "GetSchedule"):
            found: dict[str, Any] = session.client("scheduler").get_schedule(
                GroupName=_group(config), Name=name
            )
    except NotFoundError:
        return None
    return found


def _view(
    schedule: ScheduleSettings, found: dict[str, Any] | None, now: datetime, count: int
) -> ScheduleView:
    state = str(found["State"]) if found else "not created (run opslib up)"
    start = found.get("StartDate") or found.get("CreationDate") if found else None
    fires: list[datetime] = []
    if state == "ENABLED":
        anchor = start if isinstance(start, datetime) else None
        fires = schedexpr.next_fires(
            schedule.expression, schedule.timezone, now, count, start=anchor
        )
    return ScheduleView(
        schedule.name, schedule.runbook, schedule.expression, schedule.timezone, state,
        tuple(fires),
    )  # fmt: skip


def list_schedules(
    session: Session, config: StackConfig, now: datetime | None = None, count: int = 3
) -> list[ScheduleView]:
    """Every schedule of the config, its state on the target and its next fire times."""
    now = now or datetime.now(UTC)
    return [_view(s, _get_schedule(session, config, s.name), now, count) for s in config.schedules]


def _configured(config: StackConfig, name: str) -> ScheduleSettings:
    for schedule in config.schedules:
        if schedule.name == name:
            return schedule
    known = ", ".join(s.name for s in config.schedules) or "none"
    raise ConfigError(f"schedule {name!r}: not in the config's schedules (known: {known})")


def start_now(session: Session, config: StackConfig, name: str) -> str:
    """StartBuild with the schedule's target Input, as a firing does; returns the build id."""
    _configured(config, name)
    found = _get_schedule(session, config, name)
    if found is None:
        raise ConfigError(f"schedule {name!r}: not created yet; run 'opslib up' first")
    request = json.loads(found["Target"]["Input"])
    with aws_errors("codebuild", "StartBuild"):
        build = session.client("codebuild").start_build(**request)["build"]
    return str(build["id"])


Progress = Callable[[str, str, float], None]  # phase, status, elapsed seconds


def follow_build(
    session: Session,
    build_id: str,
    on_phase: Progress | None = None,
    timeout: float = FOLLOW_TIMEOUT,
    poll: float = POLL_SECONDS,
) -> str:
    """Poll the build until it ends, reporting each phase change; returns its status."""
    client = session.client("codebuild")
    started = time.monotonic()
    seen = ""
    while time.monotonic() - started < timeout:
        with aws_errors("codebuild", "BatchGetBuilds"):
            build = client.batch_get_builds(ids=[build_id])["builds"][0]
        phase, status = str(build.get("currentPhase", "")), str(build["buildStatus"])
        if on_phase is not None and phase != seen:
            on_phase(phase, status, time.monotonic() - started)
            seen = phase
        if status in _DONE:
            return status
        time.sleep(poll)  # CodeBuild offers no push to wait on
    raise ExecutionError(f"build {build_id}: still running after {timeout / 60:.0f} minutes")


def run_now(
    session: Session, config: StackConfig, name: str, on_phase: Progress | None = None
) -> RunNowResult:
    """Fire schedule ``name`` now, follow its build, read its report's verdict."""
    schedule = _configured(config, name)
    build_id = start_now(session, config, name)
    status = follow_build(session, build_id, on_phase)
    run_id = build_id.rsplit(":", 1)[-1]
    run = find_run(session, reports_bucket(session, config), schedule.runbook, run_id)
    return RunNowResult(build_id, status, run)
