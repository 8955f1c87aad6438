"""The stack's history in one object: every frame, the window each covers, the calls made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas

from opslib.config import StackConfig
from opslib.exceptions import ConfigError
from opslib.target import Session
from opslib.telemetry import fetch, parse
from opslib.telemetry.fetch import Coverage, Reader, Sources, Window, pages_for


@dataclass
class History:
    """Frames by name (see :data:`opslib.telemetry.schema.SCHEMAS`) and their coverage."""

    window: Window
    frames: dict[str, pandas.DataFrame]
    coverage: dict[str, Coverage]
    calls: Counter[str] = field(default_factory=Counter)

    def covered_since(self, *sources: str) -> datetime:
        """The latest start among ``sources`` (all when none named): what all of them cover."""
        names = sources or tuple(self.coverage)
        return max((self.coverage[n].covered_since for n in names), default=self.window.since)

    def simulated_fraction(self) -> float | None:
        """The share of executions simulate-history backfilled; None with no executions."""
        executions = self.frames["executions"]
        if executions.empty:
            return None
        return float(executions["simulated"].fillna(False).mean())


def report_window(days: float, since: str = "", until: datetime | None = None) -> Window:
    """The window a report asks about: ``since`` (ISO 8601) to now, else ``days`` before now."""
    until = until or datetime.now(UTC)
    if not since:
        return Window.last(days, until)
    start = parse.when(since)
    if start is None:
        raise ConfigError(
            f"since: expected an ISO 8601 time such as 2026-12-01T00:00Z or empty, got {since!r}"
        )
    if start >= until:
        raise ConfigError(f"since: {since} is not before now ({until.isoformat()})")
    return Window(start, until)


def from_month_start(window: Window) -> Window:
    """The window reaching back to its last month's start too (month-to-date needs it)."""
    first = window.until.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Window(min(window.since, first), window.until) if first < window.until else window


def collect(
    session: Session,
    config: StackConfig,
    window: Window,
    *,
    metrics: Sequence[Mapping[str, Any]] = (),
    with_events: bool = True,
    with_tests: bool = True,
) -> History:
    """Read every source of the stack's history over ``window``."""
    sources = Sources.from_config(config)
    reader = Reader(session)
    frames: dict[str, pandas.DataFrame] = {}
    coverage: dict[str, Coverage] = {}
    frames["executions"], coverage["executions"] = fetch.pipeline_executions(
        reader, sources.pipeline, window
    )
    frames["actions"], coverage["actions"] = fetch.action_executions(
        reader, sources.pipeline, window
    )
    frames["builds"], frames["phases"], coverage["builds"] = fetch.builds(
        reader, sources.project, window
    )
    frames["deployments"], frames["deployment_targets"], coverage["deployments"] = (
        fetch.deployments(reader, sources.application, sources.group, window)
    )
    frames["alarm_changes"], coverage["alarms"] = fetch.alarm_changes(
        reader, sources.alarm_prefix, window
    )
    if metrics:
        frames["metrics"], coverage["metrics"] = fetch.metric_data(reader, metrics, window)
    if with_events:
        frames["events"], coverage["events"] = fetch.events(
            reader, sources.events_log_group, window
        )
    if with_tests:
        frames["test_cases"] = fetch.test_cases(reader, frames["builds"])
    return History(window, frames, coverage, reader.calls)


def minimum_calls(history: History) -> dict[str, int]:
    """The fewest requests the frames' data needs at the APIs' page and batch sizes.

    Listings that stop at the window's start may read one page past it; that page is
    counted here too, since no API filters executions or builds by time.
    """
    f = history.frames
    executions, actions = len(f["executions"]), len(f["actions"])
    builds, deployments = len(f["builds"]), len(f["deployments"])
    need = {
        "codepipeline.ListPipelineExecutions": pages_for(executions + 1, fetch.EXECUTIONS_PAGE),
        "codepipeline.ListActionExecutions": pages_for(actions + 1, fetch.EXECUTIONS_PAGE),
        "codebuild.ListBuildsForProject": pages_for(builds + 1, fetch.BUILDS_BATCH),
        "codebuild.BatchGetBuilds": pages_for(builds + 1, fetch.BUILDS_BATCH),
        "codedeploy.ListDeployments": pages_for(deployments, fetch.DEPLOYMENTS_PAGE),
        "codedeploy.BatchGetDeployments": (
            pages_for(deployments, fetch.DEPLOYMENTS_BATCH) if deployments else 0
        ),
        "cloudwatch.DescribeAlarmHistory": pages_for(
            len(f["alarm_changes"]), fetch.ALARM_HISTORY_PAGE
        ),
        **_target_calls(f["deployment_targets"]),
    }
    if "events" in f:
        need["logs.DescribeLogGroups"] = 1
        need["logs.FilterLogEvents"] = pages_for(len(f["events"]), fetch.LOG_EVENTS_PAGE)
    return need


def _target_calls(targets: pandas.DataFrame) -> dict[str, int]:
    """Per deployment whose instances were read: its listing, then its batches of 25.

    CodeDeploy lists and gets targets one deployment at a time (no call spans several),
    so a deployment read costs at least these two calls.
    """
    per = targets.groupby("deployment_id").size() if not targets.empty else pandas.Series()
    return {
        "codedeploy.ListDeploymentTargets": sum(
            pages_for(int(n), fetch.DEPLOYMENTS_PAGE) for n in per
        ),
        "codedeploy.BatchGetDeploymentTargets": sum(
            pages_for(int(n), fetch.TARGETS_BATCH) for n in per
        ),
    }
