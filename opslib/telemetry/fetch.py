"""Read the stack's history through the AWS API, the same on both targets.

Every request goes through :meth:`Reader.call`, which translates botocore errors (the
one ``aws_errors`` seam) and counts the call, so a benchmark can set the calls made
beside :func:`minimum_calls`, what the data needs at the APIs' page sizes. Each source
also says the window it really covers (:class:`Coverage`): CodePipeline keeps 12 months
of executions, alarm history two weeks, the events log group what its retention keeps.
Listing stops as soon as a page reaches past the window's start (the APIs list newest
first), so a 1-day report does not read 90 days.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas

from opslib.config import StackConfig
from opslib.exceptions import AwsError, ConfigError, NotFoundError, TargetError
from opslib.stack.context import Names
from opslib.target import Session, aws_errors, paginate
from opslib.telemetry import parse
from opslib.telemetry.schema import frame

logger = logging.getLogger(__name__)

# Page and batch sizes the APIs allow (botocore's service models).
EXECUTIONS_PAGE = 100  # ListPipelineExecutions / ListActionExecutions maxResults
BUILDS_BATCH = 100  # BatchGetBuilds ids
DEPLOYMENTS_BATCH = 25  # BatchGetDeployments deploymentIds
DEPLOYMENTS_PAGE = 100  # ListDeployments / ListDeploymentTargets ids per page (AWS's pages)
TARGETS_BATCH = 25  # BatchGetDeploymentTargets targetIds
ALARM_HISTORY_PAGE = 100  # DescribeAlarmHistory MaxRecords
METRIC_QUERIES = 500  # GetMetricData MetricDataQueries
LOG_EVENTS_PAGE = 10_000  # FilterLogEvents limit
TEST_CASES_PAGE = 100  # DescribeTestCases maxResults
PIPELINE_HISTORY = timedelta(days=365)  # "history limited to 12 months"
ALARM_HISTORY = timedelta(days=14)  # "CloudWatch preserves alarm history for two weeks"
# GetMetricData keeps a period only so long: 60 s for 15 days, 300 s for 63, 3600 s 455.
METRIC_RETENTION = ((60, timedelta(days=15)), (300, timedelta(days=63)), (3600, timedelta(455)))


@dataclass(frozen=True)
class Window:
    """The time a report asks about: [since, until)."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ConfigError("telemetry window: since and until must be timezone-aware")
        if self.since >= self.until:
            raise ConfigError(f"telemetry window: since {self.since} is not before {self.until}")

    @classmethod
    def last(cls, days: float, until: datetime) -> Window:
        """The ``days`` before ``until``."""
        if days <= 0:
            raise ConfigError(f"days: expected a positive number of days, got {days}")
        return cls(until - timedelta(days=days), until)


@dataclass(frozen=True)
class Coverage:
    """How far back one source really reaches inside the window, and why."""

    source: str
    covered_since: datetime
    reason: str = ""


@dataclass(frozen=True)
class Sources:
    """The names of what the stack's history lives in."""

    pipeline: str
    project: str
    application: str
    group: str
    events_log_group: str
    alarm_prefix: str

    @classmethod
    def from_config(cls, config: StackConfig) -> Sources:
        names = Names(config.stack, "", config.region)
        return cls(
            pipeline=names.pipeline,
            project=names.project,
            application=names.application,
            group=names.deployment_group,
            events_log_group=names.events_log_group,
            alarm_prefix=names.alarm(""),
        )


@dataclass
class Reader:
    """One session's reads, each counted by ``service.Operation``."""

    session: Session
    calls: Counter[str] = field(default_factory=Counter)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API request: counted, its botocore errors translated."""
        self.calls[f"{service}.{operation}"] += 1
        method: Callable[..., dict[str, Any]] = getattr(
            self.session.client(service), _snake(operation)
        )
        with aws_errors(service, operation):
            return method(**params)

    def pages(self, service: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing (botocore's paginator), each page counted as one call."""
        key = f"{service}.{operation}"
        try:
            for page in paginate(self.session, service, operation, **params):
                self.calls[key] += 1
                yield page
        except (AwsError, TargetError):  # the request that failed was a call too
            self.calls[key] += 1
            raise


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _window_rows(rows: list[parse.Row], key: str, window: Window) -> list[parse.Row]:
    return [r for r in rows if r[key] is not None and window.since <= r[key] < window.until]


def _older(rows: Sequence[parse.Row], key: str, since: datetime) -> bool:
    stamps = [r[key] for r in rows if r[key] is not None]
    return bool(stamps) and min(stamps) < since


def _bounded(window: Window, source: str, keeps: timedelta, why: str) -> Coverage:
    floor = window.until - keeps
    if floor > window.since:
        return Coverage(source, floor, why)
    return Coverage(source, window.since)


# -- CodePipeline -------------------------------------------------------------------------
def pipeline_executions(
    reader: Reader, pipeline: str, window: Window
) -> tuple[pandas.DataFrame, Coverage]:
    """ListPipelineExecutions, newest first, until a page starts before the window."""
    rows: list[parse.Row] = []
    try:
        for page in reader.pages(
            "codepipeline", "ListPipelineExecutions",
            pipelineName=pipeline, maxResults=EXECUTIONS_PAGE,
        ):  # fmt: skip
            summaries = page["pipelineExecutionSummaries"]
            found = [parse.pipeline_execution(s, pipeline) for s in summaries]
            rows += found
            if _older(found, "start", window.since):
                break
    except NotFoundError:
        logger.info("pipeline %s not found: no executions", pipeline)
    coverage = _bounded(window, "executions", PIPELINE_HISTORY, "CodePipeline keeps 12 months")
    return frame("executions", _window_rows(rows, "start", window)), coverage


def action_executions(
    reader: Reader, pipeline: str, window: Window
) -> tuple[pandas.DataFrame, Coverage]:
    """ListActionExecutions over the whole pipeline (not one call per execution)."""
    rows: list[parse.Row] = []
    try:
        for page in reader.pages(
            "codepipeline", "ListActionExecutions",
            pipelineName=pipeline, maxResults=EXECUTIONS_PAGE,
        ):  # fmt: skip
            found = [parse.action_execution(d) for d in page["actionExecutionDetails"]]
            rows += found
            if _older(found, "start", window.since):
                break
    except NotFoundError:
        logger.info("pipeline %s not found: no action executions", pipeline)
    coverage = _bounded(window, "actions", PIPELINE_HISTORY, "CodePipeline keeps 12 months")
    return frame("actions", _window_rows(rows, "start", window)), coverage


# -- CodeBuild ----------------------------------------------------------------------------
def builds(
    reader: Reader, project: str, window: Window
) -> tuple[pandas.DataFrame, pandas.DataFrame, Coverage]:
    """ListBuildsForProject (newest first) and BatchGetBuilds by 100: builds and phases."""
    found: list[dict[str, Any]] = []
    try:
        for page in reader.pages("codebuild", "ListBuildsForProject", projectName=project):
            ids = list(page.get("ids") or [])
            if _read_builds(reader, ids, found, window.since):
                break
    except NotFoundError:
        logger.info("project %s not found: no builds", project)
    rows = _window_rows([parse.build(doc) for doc in found], "start", window)
    kept = {row["build_id"] for row in rows}
    phases = [p for doc in found if doc["id"] in kept for p in parse.build_phases(doc)]
    coverage = Coverage("builds", window.since)
    return frame("builds", rows), frame("phases", phases), coverage


def _read_builds(
    reader: Reader, ids: list[str], found: list[dict[str, Any]], since: datetime
) -> bool:
    """BatchGetBuilds for ids in batches; True once a batch reaches before ``since``."""
    for offset in range(0, len(ids), BUILDS_BATCH):
        docs = reader.call("codebuild", "BatchGetBuilds", ids=ids[offset : offset + BUILDS_BATCH])
        batch = list(docs.get("builds") or [])
        found += batch
        if _older([parse.build(d) for d in batch], "start", since):
            return True
    return False


# -- CodeDeploy ---------------------------------------------------------------------------
def deployments(
    reader: Reader, application: str, group: str, window: Window, *, targets: str = "failed"
) -> tuple[pandas.DataFrame, pandas.DataFrame, Coverage]:
    """ListDeployments in the window, BatchGetDeployments by 25; instances of ``targets``.

    ``targets`` is ``failed`` (the instances of failed deployments: which host, which
    event), ``all`` or ``none``; every deployment's instance counts come without them.
    """
    if targets not in ("failed", "all", "none"):
        raise ConfigError(f"targets: expected failed, all or none, got {targets!r}")
    ids: list[str] = []
    try:
        for page in reader.pages(
            "codedeploy", "ListDeployments",
            applicationName=application, deploymentGroupName=group,
            createTimeRange={"start": window.since, "end": window.until},
        ):  # fmt: skip
            ids += page.get("deployments") or []
    except NotFoundError:
        logger.info("deployment group %s/%s not found: no deployments", application, group)
    infos: list[dict[str, Any]] = []
    for offset in range(0, len(ids), DEPLOYMENTS_BATCH):
        chunk = ids[offset : offset + DEPLOYMENTS_BATCH]
        infos += reader.call("codedeploy", "BatchGetDeployments", deploymentIds=chunk)[
            "deploymentsInfo"
        ]
    rows = [parse.deployment(info) for info in infos]
    wanted = [r["deployment_id"] for r in rows if targets == "all" or
              (targets == "failed" and r["status"] in ("Failed", "Stopped"))]  # fmt: skip
    instances = [t for d in wanted for t in deployment_targets(reader, d)]
    coverage = Coverage("deployments", window.since)
    return frame("deployments", rows), frame("deployment_targets", instances), coverage


def deployment_targets(reader: Reader, deployment_id: str) -> list[parse.Row]:
    """ListDeploymentTargets, then BatchGetDeploymentTargets by 25."""
    ids: list[str] = []
    for page in reader.pages("codedeploy", "ListDeploymentTargets", deploymentId=deployment_id):
        ids += page.get("targetIds") or []
    rows = []
    for offset in range(0, len(ids), TARGETS_BATCH):
        found = reader.call(
            "codedeploy", "BatchGetDeploymentTargets",
            deploymentId=deployment_id, targetIds=ids[offset : offset + TARGETS_BATCH],
        )  # fmt: skip
        rows += [parse.deployment_target(t) for t in found.get("deploymentTargets") or []]
    return rows


# -- CloudWatch ---------------------------------------------------------------------------
def alarm_changes(reader: Reader, prefix: str, window: Window) -> tuple[pandas.DataFrame, Coverage]:
    """DescribeAlarmHistory's state changes of the stack's alarms (metric and composite)."""
    rows: list[parse.Row] = []
    for page in reader.pages(
        "cloudwatch", "DescribeAlarmHistory",
        AlarmTypes=["MetricAlarm", "CompositeAlarm"], HistoryItemType="StateUpdate",
        StartDate=window.since, EndDate=window.until, MaxRecords=ALARM_HISTORY_PAGE,
    ):  # fmt: skip
        for item in page.get("AlarmHistoryItems") or []:
            row = parse.alarm_change(item)
            if row is not None and str(row["alarm"] or "").startswith(prefix):
                rows.append(row)
    coverage = _bounded(window, "alarms", ALARM_HISTORY, "CloudWatch keeps alarm history 2 weeks")
    return frame("alarm_changes", rows), coverage


def metric_data(
    reader: Reader, queries: Sequence[Mapping[str, Any]], window: Window
) -> tuple[pandas.DataFrame, Coverage]:
    """GetMetricData for ``queries`` (MetricDataQuery dicts), 500 to a call, every page."""
    rows: list[parse.Row] = []
    for offset in range(0, len(queries), METRIC_QUERIES):
        chunk = [dict(q) for q in queries[offset : offset + METRIC_QUERIES]]
        for page in reader.pages(
            "cloudwatch", "GetMetricData",
            MetricDataQueries=chunk, StartTime=window.since, EndTime=window.until,
            ScanBy="TimestampAscending",
        ):  # fmt: skip
            for result in page.get("MetricDataResults") or []:
                rows += parse.metric_points(result)
    return frame("metrics", rows), metric_coverage(queries, window)


def metric_coverage(queries: Sequence[Mapping[str, Any]], window: Window) -> Coverage:
    """The finest period asked bounds how far back its datapoints exist."""
    periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
    finest = min(periods, default=3600)
    keeps = next((k for p, k in METRIC_RETENTION if finest <= p), METRIC_RETENTION[-1][1])
    why = f"CloudWatch keeps {finest}-second datapoints {keeps.days} days"
    return _bounded(window, "metrics", keeps, why)


# -- the events log group -----------------------------------------------------------------
def events(reader: Reader, group: str, window: Window) -> tuple[pandas.DataFrame, Coverage]:
    """FilterLogEvents over the events log group, bounded by its retention and creation."""
    found = reader.call("logs", "DescribeLogGroups", logGroupNamePrefix=group)["logGroups"]
    info = next((g for g in found if g.get("logGroupName") == group), None)
    if info is None:
        return frame("events", []), Coverage("events", window.until, f"no log group {group}")
    rows: list[parse.Row] = []
    for page in reader.pages(
        "logs", "FilterLogEvents", logGroupName=group, limit=LOG_EVENTS_PAGE,
        startTime=_ms(window.since), endTime=_ms(window.until) - 1,
    ):  # fmt: skip
        rows += [r for e in page.get("events") or [] if (r := parse.event(e["message"]))]
    return frame("events", _window_rows(rows, "time", window)), _events_coverage(info, window)


def _events_coverage(info: Mapping[str, Any], window: Window) -> Coverage:
    created = parse.when(info["creationTime"] / 1000) if "creationTime" in info else None
    days = info.get("retentionInDays")
    floors = [(window.since, "")]
    if created:
        floors.append((created, "the events log group was created then"))
    if days:
        floors.append((window.until - timedelta(days=int(days)), f"its retention is {days} days"))
    when, why = max(floors, key=lambda f: f[0])
    return Coverage("events", when, why)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- CodeBuild reports --------------------------------------------------------------------
def test_cases(reader: Reader, builds_frame: pandas.DataFrame) -> pandas.DataFrame:
    """DescribeTestCases for the reports of commits built more than once.

    A flaky test is one that failed and passed on the same commit; a commit built once
    cannot show one, so its reports are not read (the minimum the question needs).
    """
    built = builds_frame.dropna(subset=["source_version"])
    repeated = built[built.duplicated("source_version", keep=False)]
    rows: list[parse.Row] = []
    for record in repeated.to_dict("records"):
        for arn in record["report_arns"] or ():
            rows += _report_cases(reader, arn, record)
    return frame("test_cases", rows)


def _report_cases(reader: Reader, arn: str, record: Mapping[str, Any]) -> list[parse.Row]:
    """One report's test cases; none for a report that has none to give.

    A build's reportArns hold its code-coverage reports too, which have no test cases
    (the emulator answers ResourceNotFoundException for them), and CodeBuild deletes
    reports after their report group's retention: both are skipped, not an error.
    """
    rows: list[parse.Row] = []
    try:
        for page in reader.pages(
            "codebuild", "DescribeTestCases", reportArn=arn, maxResults=TEST_CASES_PAGE
        ):
            rows += [parse.test_case(c, record) for c in page.get("testCases") or []]
    except NotFoundError:
        logger.info("report %s has no test cases to read", arn)
    return rows


def pages_for(items: int, page: int) -> int:
    """Requests a listing of ``items`` needs at ``page`` per request (at least one)."""
    return max(1, math.ceil(items / page))
