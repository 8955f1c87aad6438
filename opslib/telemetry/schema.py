"""Every telemetry frame's columns, their dtypes and meaning: the one place they are written.

A frame is built only through :func:`frame`, so a frame always has exactly its schema's
columns in this order and dtype, even when empty (a report over no runs still has the
columns it groups by). Times are UTC (``datetime64[ns, UTC]``); durations are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas

TIME = "datetime64[ns, UTC]"
TEXT = "string"
REAL = "Float64"
COUNT = "Int64"
FLAG = "boolean"


@dataclass(frozen=True)
class Column:
    """One column: its name, pandas dtype and what it holds."""

    name: str
    dtype: str
    doc: str


def _columns(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


SCHEMAS: dict[str, tuple[Column, ...]] = {
    # ListPipelineExecutions: one row per execution
    "executions": _columns(
        ("execution_id", TEXT, "pipelineExecutionId"),
        ("pipeline", TEXT, "the pipeline's name"),
        ("status", TEXT, "Succeeded | Failed | Stopped | Superseded | InProgress | ..."),
        ("start", TIME, "startTime"),
        ("end", TIME, "lastUpdateTime (the end once the status is final)"),
        ("duration_s", REAL, "end - start, for a finished execution"),
        ("trigger", TEXT, "trigger.triggerType"),
        ("execution_type", TEXT, "STANDARD | ROLLBACK"),
        ("revision", TEXT, "the first source revision's id (the commit SHA)"),
        ("revision_summary", TEXT, "the commit message's first line"),
        ("stop_reason", TEXT, "stopTrigger.reason"),
        ("simulated", FLAG, "backfilled by simulate-history, not a real run"),
    ),
    # ListActionExecutions: one row per action execution (stages are their groups)
    "actions": _columns(
        ("execution_id", TEXT, "pipelineExecutionId"),
        ("action_execution_id", TEXT, "actionExecutionId"),
        ("stage", TEXT, "stageName"),
        ("action", TEXT, "actionName"),
        ("category", TEXT, "input.actionTypeId.category: Source | Build | Deploy | ..."),
        ("provider", TEXT, "input.actionTypeId.provider: CodeBuild | CodeDeploy | ..."),
        ("status", TEXT, "InProgress | Abandoned | Succeeded | Failed"),
        ("start", TIME, "startTime"),
        ("end", TIME, "lastUpdateTime"),
        ("duration_s", REAL, "end - start"),
        ("external_id", TEXT, "executionResult.externalExecutionId (build or deployment id)"),
        ("error_code", TEXT, "executionResult.errorDetails.code"),
        ("error_message", TEXT, "executionResult.errorDetails.message"),
        ("commit_time", TIME, "a Source action's AuthorDate output variable"),
    ),
    # BatchGetBuilds: one row per build
    "builds": _columns(
        ("build_id", TEXT, "id"),
        ("project", TEXT, "projectName"),
        ("status", TEXT, "SUCCEEDED | FAILED | FAULT | TIMED_OUT | STOPPED | IN_PROGRESS"),
        ("start", TIME, "startTime"),
        ("end", TIME, "endTime"),
        ("duration_s", REAL, "endTime - startTime"),
        ("compute_type", TEXT, "environment.computeType: BUILD_GENERAL1_SMALL, ..."),
        ("source_version", TEXT, "resolvedSourceVersion, else sourceVersion"),
        ("initiator", TEXT, "initiator (codepipeline/<pipeline> for a pipeline's build)"),
        ("report_arns", "object", "reportArns, a tuple"),
        ("simulated", FLAG, "backfilled by simulate-history"),
    ),
    # BatchGetBuilds' phases: one row per build phase
    "phases": _columns(
        ("build_id", TEXT, "the build's id"),
        ("phase", TEXT, "phaseType: SUBMITTED, PROVISIONING, INSTALL, BUILD, ..."),
        ("status", TEXT, "phaseStatus"),
        ("start", TIME, "startTime"),
        ("duration_s", REAL, "durationInSeconds"),
    ),
    # BatchGetDeployments: one row per deployment
    "deployments": _columns(
        ("deployment_id", TEXT, "deploymentId"),
        ("application", TEXT, "applicationName"),
        ("group", TEXT, "deploymentGroupName"),
        ("status", TEXT, "Created | Queued | InProgress | Baking | Succeeded | Failed | ..."),
        ("creator", TEXT, "user | autoscaling | codeDeployRollback | ..."),
        ("create", TIME, "createTime"),
        ("start", TIME, "startTime"),
        ("end", TIME, "completeTime"),
        ("duration_s", REAL, "completeTime - startTime"),
        ("error_code", TEXT, "errorInformation.code"),
        ("error_message", TEXT, "errorInformation.message"),
        ("rollback_deployment_id", TEXT, "rollbackInfo.rollbackDeploymentId (its rollback)"),
        ("rolls_back", TEXT, "rollbackInfo.rollbackTriggeringDeploymentId (what it undoes)"),
        ("instances_succeeded", COUNT, "deploymentOverview.Succeeded"),
        ("instances_failed", COUNT, "deploymentOverview.Failed"),
        ("instances_skipped", COUNT, "deploymentOverview.Skipped"),
        ("simulated", FLAG, "backfilled by simulate-history"),
    ),
    # BatchGetDeploymentTargets: one row per instance of a deployment
    "deployment_targets": _columns(
        ("deployment_id", TEXT, "deploymentId"),
        ("instance_id", TEXT, "instanceTarget.targetId"),
        ("status", TEXT, "Pending | InProgress | Succeeded | Failed | Skipped | Unknown | Ready"),
        ("failed_event", TEXT, "the lifecycle event that failed"),
        ("error_message", TEXT, "that event's diagnostics.message"),
        ("duration_s", REAL, "first event's start to last event's end"),
    ),
    # DescribeAlarmHistory (StateUpdate): one row per state change
    "alarm_changes": _columns(
        ("alarm", TEXT, "AlarmName"),
        ("alarm_type", TEXT, "MetricAlarm | CompositeAlarm"),
        ("time", TIME, "Timestamp"),
        ("old_state", TEXT, "HistoryData.oldState.stateValue"),
        ("new_state", TEXT, "HistoryData.newState.stateValue"),
        ("reason", TEXT, "HistoryData.newState.stateReason, else HistorySummary"),
    ),
    # GetMetricData: one row per datapoint
    "metrics": _columns(
        ("id", TEXT, "the query's Id"),
        ("label", TEXT, "Label"),
        ("time", TIME, "Timestamps[i]"),
        ("value", REAL, "Values[i]"),
    ),
    # FilterLogEvents on /aws/events/<stack>: one row per EventBridge event
    "events": _columns(
        ("time", TIME, "the event's top-level time"),
        ("source", TEXT, "aws.codepipeline | aws.codebuild | aws.codedeploy | ..."),
        ("detail_type", TEXT, "detail-type"),
        ("state", TEXT, "detail.state / build-status / new-state of the kind"),
        ("subject", TEXT, "execution-id, build-id, deploymentId, instance-id or alarmName"),
        ("stage", TEXT, "detail.stage (pipeline stage and action events)"),
        ("action", TEXT, "detail.action (pipeline action events)"),
        ("detail", "object", "the whole detail, a dict"),
    ),
    # DescribeTestCases: one row per test case of a report
    "test_cases": _columns(
        ("report_arn", TEXT, "reportArn"),
        ("build_id", TEXT, "the build that made the report"),
        ("source_version", TEXT, "that build's commit"),
        ("suite", TEXT, "testSuiteName, else prefix"),
        ("name", TEXT, "name"),
        ("status", TEXT, "SUCCEEDED | FAILED | ERROR | SKIPPED | UNKNOWN"),
        ("duration_s", REAL, "durationInNanoSeconds / 1e9"),
        ("time", TIME, "the build's start (a test case carries no run time of its own)"),
    ),
    # What the cost report prices beside the history (opslib.telemetry.inventory).
    # DescribeInstances: one row per instance of the stack (its tag)
    "instances": _columns(
        ("instance_id", TEXT, "InstanceId"),
        ("type", TEXT, "InstanceType"),
        ("state", TEXT, "State.Name"),
        ("launch", TIME, "LaunchTime"),
    ),
    # DescribeVolumes: one row per EBS volume attached to the stack's instances
    "volumes": _columns(
        ("volume_id", TEXT, "VolumeId"),
        ("type", TEXT, "VolumeType: gp2 | gp3 | ..."),
        ("size_gb", REAL, "Size (GiB)"),
        ("create", TIME, "CreateTime"),
    ),
    # ListObjectVersions: one row per object version of the artifact bucket
    "object_versions": _columns(
        ("bucket", TEXT, "the bucket"),
        ("key", TEXT, "Key"),
        ("version_id", TEXT, "VersionId"),
        ("size_bytes", REAL, "Size"),
        ("latest", FLAG, "IsLatest (False: a noncurrent version, billed as well)"),
        ("modified", TIME, "LastModified"),
    ),
    # DescribeLogGroups: one row per log group of the stack
    "log_groups": _columns(
        ("name", TEXT, "logGroupName"),
        ("stored_bytes", REAL, "storedBytes"),
        ("created", TIME, "creationTime"),
        ("retention_days", COUNT, "retentionInDays (None: never expire)"),
    ),
    # DescribeAlarms: one row per alarm of the stack
    "alarms": _columns(
        ("name", TEXT, "AlarmName"),
        ("alarm_type", TEXT, "MetricAlarm | CompositeAlarm"),
        ("metrics", COUNT, "metrics it evaluates (1, or its metric math's MetricStat queries)"),
    ),
    # ListMetrics: one row per custom metric (the stack's namespace) with dimensions
    "custom_metrics": _columns(
        ("namespace", TEXT, "Namespace"),
        ("name", TEXT, "MetricName"),
        ("dimensions", TEXT, "Dimensions as name=value, joined by commas"),
    ),
    # ListDashboards: one row per dashboard of the stack
    "dashboards": _columns(
        ("name", TEXT, "DashboardName"),
        ("modified", TIME, "LastModified"),
    ),
}


def columns(kind: str) -> list[str]:
    """The column names of one frame, in order."""
    return [column.name for column in SCHEMAS[kind]]


def frame(kind: str, rows: Sequence[Mapping[str, Any]]) -> pandas.DataFrame:
    """A frame of ``kind`` from rows: exactly its schema's columns, each in its dtype."""
    schema = SCHEMAS[kind]
    data = {c.name: [row.get(c.name) for row in rows] for c in schema}
    out = pandas.DataFrame(data, columns=[c.name for c in schema])
    for column in schema:
        if column.dtype == TIME:
            out[column.name] = pandas.to_datetime(
                out[column.name], utc=True, format="mixed"
            ).astype(TIME)
        elif column.dtype != "object":
            out[column.name] = out[column.name].astype(column.dtype)
    return out
