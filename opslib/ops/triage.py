"""Triage: what went wrong in a time window, why, and which runbook to run next.

Reads only the service APIs and CloudWatch, as on a bad day in the console — the same on
both targets:

- failed pipeline executions (ListPipelineExecutions) with the failing stage/action and its
  reason (ListActionExecutions: GetPipelineState only knows the latest run), and failed
  deployments made outside the pipeline (a rollback, a manual redeploy);
- for each, the log lines that explain it: the build's log stream, the deployment's
  script output (GetDeploymentTarget diagnostics and the agent's log group) and the
  EventBridge events of that run in ``/aws/events/<stack>``;
- the stack's alarms (prefix ``<stack>-``) and the fleet's health;
- a suggested next runbook, from a small table of rules (:func:`suggest`).

A failure is *resolved* when a later run of the same kind succeeded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opslib.config import StackConfig
from opslib.exceptions import AwsError, NotFoundError, OpslibError
from opslib.ops import builds, deployments, pipeline, release
from opslib.ops.fleet import FleetReport
from opslib.ops.rollback import group_names
from opslib.render import Headline, Status
from opslib.runbooks.verdict import Verdict
from opslib.stack.context import Names
from opslib.target import Session, aws_errors

if TYPE_CHECKING:
    import pandas

FAILURE_WORDS = re.compile(
    r"error|fail|✕|exception|timed out|denied|not found|exit (status|code) [1-9]|ERR!", re.I
)
MAX_EVENTS = 10_000  # events read from the events log group per triage


@dataclass(frozen=True)
class Failure:
    """One failed pipeline execution or deployment, and where it failed."""

    source: str  # "pipeline" or "deployment"
    failure_id: str  # the execution id or deployment id
    started: datetime | None
    status: str
    stage: str = ""
    action: str = ""
    provider: str = ""  # CodeBuild, CodeDeploy, CodeStarSourceConnection, ...
    external_id: str = ""  # the build id or deployment id behind the action
    reason: str = ""
    revision: str = ""
    resolved: bool = False


@dataclass
class Failures:
    """The failures found in a window, with how many runs the window held."""

    since: datetime
    until: datetime
    executions: int
    items: list[Failure] = field(default_factory=list)

    @property
    def unresolved(self) -> list[Failure]:
        return [f for f in self.items if not f.resolved]

    def frame(self) -> pandas.DataFrame:
        import pandas

        columns = ["started", "source", "id", "status", "stage/action", "reason", "resolved"]
        rows = [
            [f.started, f.source, f.failure_id, f.status,
             f"{f.stage}/{f.action}" if f.stage else f.action, f.reason[:160], f.resolved]
            for f in self.items
        ]  # fmt: skip
        return pandas.DataFrame(rows, columns=columns)

    def summary(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "executions": self.executions,
            "failures": [_failure_summary(f) for f in self.items],
        }


def _failure_summary(failure: Failure) -> dict[str, Any]:
    data = dict(failure.__dict__)
    data["started"] = failure.started.isoformat() if failure.started else None
    return data


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _executions(session: Session, name: str, since: datetime) -> list[dict[str, Any]]:
    """The pipeline's executions started since ``since``, newest first."""
    client = session.client("codepipeline")
    found: list[dict[str, Any]] = []
    try:
        with aws_errors("codepipeline", "ListPipelineExecutions"):
            for page in client.get_paginator("list_pipeline_executions").paginate(
                pipelineName=name
            ):
                summaries = page["pipelineExecutionSummaries"]
                found += summaries
                oldest = _when(summaries[-1].get("startTime")) if summaries else None
                if oldest is not None and oldest < since:
                    break
    except NotFoundError:
        return []  # no pipeline (yet): nothing can have failed in it
    return sorted(
        (s for s in found if (_when(s.get("startTime")) or since) >= since),
        key=lambda s: _when(s.get("startTime")) or since,
        reverse=True,
    )


def failed_action(details: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The action execution that failed (the first one in time), if any."""
    failed = [d for d in details if d.get("status") == "Failed"]
    latest = datetime.max.replace(tzinfo=UTC)
    return min(failed, key=lambda d: _when(d.get("startTime")) or latest) if failed else None


def pipeline_failure(
    summary: dict[str, Any], details: Sequence[dict[str, Any]], resolved: bool
) -> Failure:
    """A failed execution as a Failure, from its summary and its action executions."""
    action = failed_action(details) or {}
    result = (action.get("output") or {}).get("executionResult") or {}
    reason = (
        (result.get("errorDetails") or {}).get("message")
        or result.get("externalExecutionSummary")
        or summary.get("statusSummary")
        or ""
    )
    revisions = summary.get("sourceRevisions") or [{}]
    return Failure(
        source="pipeline",
        failure_id=str(summary["pipelineExecutionId"]),
        started=_when(summary.get("startTime")),
        status=str(summary.get("status", "")),
        stage=str(action.get("stageName", "")),
        action=str(action.get("actionName", "")),
        provider=str((action.get("input") or {}).get("actionTypeId", {}).get("provider", "")),
        external_id=str(result.get("externalExecutionId") or ""),
        reason=str(reason),
        revision=str(revisions[0].get("revisionId", "")),
        resolved=resolved,
    )


def _succeeded_after(runs: Iterable[dict[str, Any]], when: datetime | None, key: str) -> bool:
    return any(
        r.get("status") == "Succeeded" and (when is None or (_when(r.get(key)) or when) > when)
        for r in runs
    )


def pipeline_failures(session: Session, config: StackConfig, since: datetime) -> Failures:
    """Failed executions of the stack's pipeline since ``since``, newest first."""
    name = pipeline.pipeline_name(config.stack)
    runs = _executions(session, name, since)
    items = []
    for summary in runs:
        if summary.get("status") != "Failed":
            continue
        details = release.action_executions(session, name, summary["pipelineExecutionId"])
        started = _when(summary.get("startTime"))
        items.append(
            pipeline_failure(summary, details, _succeeded_after(runs, started, "startTime"))
        )
    return Failures(since, datetime.now(UTC), len(runs), items)


def deployment_failures(
    session: Session, config: StackConfig, since: datetime, known: set[str]
) -> list[Failure]:
    """Failed or stopped deployments of the group since ``since`` that no pipeline run explains."""
    application, group = group_names(config)
    client = session.client("codedeploy")
    ids: list[str] = []
    try:
        with aws_errors("codedeploy", "ListDeployments"):
            for page in client.get_paginator("list_deployments").paginate(
                applicationName=application,
                deploymentGroupName=group,
                createTimeRange={"start": since},
            ):
                ids += page.get("deployments", [])
    except AwsError:
        return []  # no application or group (yet)
    infos = []
    for offset in range(0, len(ids), deployments.BATCH_LIMIT):
        with aws_errors("codedeploy", "BatchGetDeployments"):
            chunk = ids[offset : offset + deployments.BATCH_LIMIT]
            infos += client.batch_get_deployments(deploymentIds=chunk)["deploymentsInfo"]
    failures = []
    for info in infos:
        if info.get("status") not in ("Failed", "Stopped") or info["deploymentId"] in known:
            continue
        created = _when(info.get("createTime"))
        error = info.get("errorInformation") or {}
        failures.append(
            Failure(
                source="deployment",
                failure_id=info["deploymentId"],
                started=created,
                status=info["status"],
                action=f"deployment by {info.get('creator', 'user')}",
                provider="CodeDeploy",
                external_id=info["deploymentId"],
                reason=f"{error.get('code', '')}: {error.get('message', '')}".strip(": "),
                revision=deployments.revision_key(info.get("revision") or {}),
                resolved=_succeeded_after(infos, created, "createTime"),
            )
        )
    return failures


def find_failures(session: Session, config: StackConfig, hours: int = 24) -> Failures:
    """Every failed execution and deployment of the last ``hours``, newest first."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    found = pipeline_failures(session, config, since)
    known = {f.external_id for f in found.items if f.external_id}
    found.items += deployment_failures(session, config, since, known)
    found.items.sort(key=lambda f: f.started or since, reverse=True)
    return found


# -- log excerpts --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogExcerpt:
    """Lines of one log that explain one failure."""

    failure_id: str
    source: str  # "build log", "deployment", "events", ...
    location: str  # log group/stream or API the lines came from
    lines: tuple[str, ...]


@dataclass
class Excerpts:
    """All excerpts found, shown as one code block per excerpt."""

    items: list[LogExcerpt] = field(default_factory=list)

    def _repr_markdown_(self) -> str:
        if not self.items:
            return "_no failures, so no log excerpts_"
        blocks = []
        for item in self.items:
            body = "\n".join(item.lines) or "(no lines)"
            blocks.append(
                f"**{item.failure_id}** — {item.source} `{item.location}`\n```\n{body}\n```"
            )
        return "\n\n".join(blocks)

    def summary(self) -> list[dict[str, Any]]:
        return [dict(e.__dict__, lines=list(e.lines)) for e in self.items]


def matching_lines(lines: Sequence[str], limit: int = 20, context: int = 1) -> list[str]:
    """The lines that say what failed (with ``context`` lines around), else the tail."""
    hits = [n for n, line in enumerate(lines) if FAILURE_WORDS.search(line)]
    if not hits:
        return list(lines[-limit:])
    keep: set[int] = set()
    for n in hits:
        keep.update(range(max(0, n - context), min(len(lines), n + context + 1)))
    chosen = sorted(keep)
    return [lines[n] for n in chosen][-limit:]


def _build_excerpt(session: Session, failure: Failure, limit: int) -> LogExcerpt | None:
    view = builds.get_build(session, failure.external_id)
    if not view.log_group:
        return None
    lines = [
        line.rstrip("\n") for line in builds.log_events(session, view.log_group, view.log_stream)
    ]
    location = f"{view.log_group}/{view.log_stream}"
    return LogExcerpt(
        failure.failure_id, "build log", location, tuple(matching_lines(lines, limit))
    )


def _deployment_excerpts(
    session: Session, config: StackConfig, failure: Failure, limit: int
) -> list[LogExcerpt]:
    view = deployments.describe_deployment(session, failure.external_id)
    excerpts = []
    for host in view.hosts:
        event = host.failed_event
        if event is not None:
            lines = [f"{event.event}: {event.error_code} {event.message}".strip()]
            lines += event.log_tail.splitlines()
            excerpts.append(
                LogExcerpt(
                    failure.failure_id,
                    "deployment script",
                    f"GetDeploymentTarget {host.instance_id}",
                    tuple(lines[-limit:]),
                )
            )
    # The agent's deployment log, shipped by the CloudWatch agent (both targets alike).
    group = Names(config.stack, "", config.region).deploy_log_group
    lines = _log_lines(session, group, failure.started, contains=failure.external_id)
    if lines:
        picked = tuple(matching_lines(lines, limit))
        excerpts.append(LogExcerpt(failure.failure_id, "agent log", group, picked))
    return excerpts


def _log_lines(
    session: Session, group: str, since: datetime | None, contains: str = ""
) -> list[str]:
    """Lines of a log group since ``since`` that contain ``contains`` (missing group: none)."""
    kwargs: dict[str, Any] = {"logGroupName": group}
    if since is not None:
        kwargs["startTime"] = int((since - timedelta(minutes=1)).timestamp() * 1000)
    lines: list[str] = []
    try:
        with aws_errors("logs", "FilterLogEvents"):
            for page in (
                session.client("logs").get_paginator("filter_log_events").paginate(**kwargs)
            ):
                lines += [
                    e["message"].rstrip("\n") for e in page["events"] if contains in e["message"]
                ]
                if len(lines) >= MAX_EVENTS:
                    break
    except NotFoundError:
        return []
    return lines


def event_lines(messages: Iterable[str], ids: set[str]) -> list[str]:
    """The failure-side EventBridge events naming one of ``ids``, one line each."""
    lines = []
    for message in messages:
        try:
            event = json.loads(message)
        except ValueError:
            continue
        detail = event.get("detail") or {}
        named = {
            str(detail.get(k, ""))
            for k in ("execution-id", "build-id", "deploymentId", "instanceId")
        }
        named |= {str(detail.get("build-id", "")).rsplit("/", 1)[-1]}
        state = str(detail.get("state") or detail.get("build-status") or "")
        if not (named & ids) or state not in ("FAILED", "FAILURE", "STOP", "STOPPED", "TIMED_OUT"):
            continue
        where = "/".join(str(detail[k]) for k in ("stage", "action") if detail.get(k))
        lines.append(
            f"{event.get('time', '')} {event.get('detail-type', '')} {where} {state}".replace(
                "  ", " "
            )
        )
    return lines


def _events_excerpt(session: Session, config: StackConfig, failure: Failure) -> LogExcerpt | None:
    group = Names(config.stack, "", config.region).events_log_group
    ids = {i for i in (failure.failure_id, failure.external_id) if i}
    lines = event_lines(_log_lines(session, group, failure.started), ids)
    return LogExcerpt(failure.failure_id, "events", group, tuple(lines)) if lines else None


def log_excerpts(
    session: Session, config: StackConfig, found: Failures, lines: int = 20
) -> Excerpts:
    """For each unresolved failure (all, when every one is resolved): its log excerpts."""
    chosen = found.unresolved or found.items
    excerpts: list[LogExcerpt] = []
    for failure in chosen:
        excerpts += _excerpts_of(session, config, failure, lines)
    return Excerpts(excerpts)


def _excerpts_of(
    session: Session, config: StackConfig, failure: Failure, lines: int
) -> list[LogExcerpt]:
    """One failure's excerpts; a log that cannot be read is reported, not fatal."""
    found: list[LogExcerpt | None] = []
    try:
        if failure.provider == "CodeBuild" and failure.external_id:
            found.append(_build_excerpt(session, failure, lines))
        elif failure.provider == "CodeDeploy" and failure.external_id:
            found += _deployment_excerpts(session, config, failure, lines)
        found.append(_events_excerpt(session, config, failure))
    except OpslibError as exc:  # e.g. a build that failed before it had a log stream
        found.append(LogExcerpt(failure.failure_id, "unreadable", failure.external_id, (str(exc),)))
    return [e for e in found if e is not None]


# -- alarms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmState:
    """One alarm of the stack and its state."""

    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str
    updated: datetime | None


@dataclass
class Alarms:
    """The stack's alarms."""

    items: list[AlarmState]

    @property
    def firing(self) -> list[AlarmState]:
        return [a for a in self.items if a.state == "ALARM"]

    def frame(self) -> pandas.DataFrame:
        import pandas

        rows = [(a.name, a.state, a.updated, a.reason[:160]) for a in self.items]
        return pandas.DataFrame(rows, columns=["alarm", "state", "since", "reason"])

    def summary(self) -> list[dict[str, Any]]:
        return [{"name": a.name, "state": a.state, "reason": a.reason} for a in self.items]


def alarm_states(session: Session, config: StackConfig) -> Alarms:
    """Every alarm whose name starts with ``<stack>-``, firing ones first."""
    items = []
    with aws_errors("cloudwatch", "DescribeAlarms"):
        for page in (
            session.client("cloudwatch")
            .get_paginator("describe_alarms")
            .paginate(AlarmNamePrefix=f"{config.stack}-")
        ):
            items += [
                AlarmState(
                    a["AlarmName"],
                    a.get("StateValue", ""),
                    a.get("StateReason", ""),
                    _when(a.get("StateUpdatedTimestamp")),
                )
                for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
            ]
    items.sort(key=lambda a: (a.state != "ALARM", a.name))
    return Alarms(items)


# -- what next ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """The runbook to run next ('' when nothing needs doing) and why."""

    runbook: str
    reason: str

    def _repr_markdown_(self) -> str:
        if not self.runbook:
            return f"**Next:** nothing to do — {self.reason}"
        return f"**Next:** run `{self.runbook}` — {self.reason}"


def _short(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _failure_advice(failure: Failure) -> Suggestion:
    where = f"{failure.stage}/{failure.action}" if failure.stage else failure.action
    reason = _short(failure.reason)
    if failure.provider == "CodeDeploy" or failure.stage == "Deploy":
        return Suggestion(
            "rollback",
            f"the deployment failed ({where}: {reason}); roll back to the "
            "previous good revision, then fix the release",
        )
    if failure.provider == "CodeBuild" or failure.stage == "Build":
        return Suggestion(
            "release",
            f"the build failed ({reason}); the fleet still runs the last good "
            "release — fix the commit (see the build log) and run release",
        )
    if failure.stage == "Source" or "Source" in failure.provider:
        return Suggestion(
            "provision",
            f"the source stage failed ({reason}); check the GitHub connection "
            "with 'opslib status' and run provision",
        )
    return Suggestion("release", f"{where} failed ({reason}); fix it and release")


def suggest(found: Failures, alarms: Alarms, fleet_report: FleetReport | None) -> Suggestion:
    """The next runbook: missing fleet > newest unresolved failure > unhealthy > alarms."""
    if fleet_report is not None and not fleet_report.instances:
        return Suggestion("provision", "the stack has no fleet instances; provision recreates them")
    stopped = [i for i in (fleet_report.instances if fleet_report else []) if i.state != "running"]
    if stopped:
        names = ", ".join(f"{i.name or i.instance_id} ({i.state})" for i in stopped)
        return Suggestion("provision", f"instance(s) not running: {names}")
    if found.unresolved:
        return _failure_advice(found.unresolved[0])
    if fleet_report is not None and fleet_report.unhealthy:
        names = ", ".join(f"{i.name or i.instance_id} ({i.health})" for i in fleet_report.unhealthy)
        return Suggestion(
            "rollback", f"instance(s) unhealthy: {names}; roll back to the last good revision"
        )
    if alarms.firing:
        names = ", ".join(a.name for a in alarms.firing)
        return Suggestion("fleet-health", f"alarm(s) in ALARM: {names}")
    return Suggestion("", "no unresolved failures, no alarm firing, every instance healthy")


def headline(found: Failures) -> str:
    """The figure a history of triage runs shows: ``2 failure(s) in 24 h``."""
    hours = round((found.until - found.since).total_seconds() / 3600)
    return f"{len(found.items)} failure(s) in {hours} h"


def verdict(
    found: Failures, alarms: Alarms, fleet_report: FleetReport | None, advice: Suggestion
) -> Verdict:
    """✓ all clear, or ✗ with the counts and the suggested next runbook."""
    hours = round((found.until - found.since).total_seconds() / 3600)
    healthy = (
        f"{len(fleet_report.instances) - len(fleet_report.unhealthy)}/"
        f"{len(fleet_report.instances)} instance(s) healthy"
        if fleet_report is not None
        else "fleet not checked"
    )
    counts = (
        f"{len(found.items)} failure(s) in the last {hours} h ({len(found.unresolved)} "
        f"unresolved) of {found.executions} execution(s), {len(alarms.firing)} alarm(s) "
        f"firing, {healthy}"
    )
    if not advice.runbook:
        return Verdict(True, f"all clear: {counts}")
    return Verdict(False, f"{counts}; next: {advice.runbook} — {advice.reason}")


def headlines(
    found: Failures, alarms: Alarms, fleet_report: FleetReport | None
) -> tuple[Headline, ...]:
    """The triage card: failures (unresolved ones bad), alarms firing, the fleet."""
    from opslib.ops.fleet import healthy_headline

    unresolved = len(found.unresolved)
    return (
        Headline("failures", str(len(found.items)), f"{unresolved} unresolved, of "
                 f"{found.executions} execution(s)", Status.BAD if unresolved else Status.GOOD),
        Headline("alarms firing", str(len(alarms.firing)), f"of {len(alarms.items)} alarm(s)",
                 Status.BAD if alarms.firing else Status.GOOD),
        healthy_headline(fleet_report),
    )  # fmt: skip
