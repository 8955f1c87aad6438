"""API response dicts -> telemetry rows: pure, one function per shape.

Each function takes one item exactly as boto3 returns it (the botocore output shape:
``datetime`` for timestamps) or, for events, the JSON text EventBridge wrote to the log
group (ISO strings), and returns a row whose keys are the frame's columns in
:mod:`opslib.telemetry.schema`. Missing fields become ``None``, never a made-up value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]

# The mark simulate-history leaves on what it backfills (AWS has no backfill): in an
# execution's trigger.triggerDetail, a build's initiator, a deployment's description.
SIMULATED_MARK = "opslib:simulated"


def when(value: Any) -> datetime | None:
    """A UTC datetime from what the APIs give: a datetime, an ISO string or epoch seconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def seconds(start: Any, end: Any) -> float | None:
    """``end - start`` in seconds, or None when either is unknown."""
    first, last = when(start), when(end)
    return (last - first).total_seconds() if first and last else None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _get(doc: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)  # type: ignore[assignment]
    return doc


def pipeline_execution(summary: Mapping[str, Any], pipeline: str) -> Row:
    """One ``pipelineExecutionSummaries`` item of ListPipelineExecutions."""
    revisions = summary.get("sourceRevisions") or [{}]
    message = str(revisions[0].get("revisionSummary") or "")
    return {
        "execution_id": summary["pipelineExecutionId"],
        "pipeline": pipeline,
        "status": summary.get("status"),
        "start": when(summary.get("startTime")),
        "end": when(summary.get("lastUpdateTime")),
        "duration_s": (
            seconds(summary.get("startTime"), summary.get("lastUpdateTime"))
            if summary.get("status") not in ("InProgress", "Stopping")
            else None
        ),
        "trigger": _get(summary, "trigger", "triggerType"),
        "execution_type": summary.get("executionType") or "STANDARD",
        "revision": _text(revisions[0].get("revisionId")),
        "revision_summary": _text(_commit_message(message).split("\n")[0]),
        "stop_reason": _get(summary, "stopTrigger", "reason"),
        "simulated": _get(summary, "trigger", "triggerDetail") == SIMULATED_MARK,
    }


def _commit_message(summary: str) -> str:
    """A CodeStarSourceConnection revisionSummary is JSON with the CommitMessage inside."""
    if summary.startswith("{"):
        try:
            doc = json.loads(summary)
        except ValueError:
            return summary
        if isinstance(doc, dict):
            return str(doc.get("CommitMessage") or "")
    return summary


def action_execution(detail: Mapping[str, Any]) -> Row:
    """One ``actionExecutionDetails`` item of ListActionExecutions."""
    result = _get(detail, "output", "executionResult") or {}
    type_id = _get(detail, "input", "actionTypeId") or {}
    variables = _get(detail, "output", "outputVariables") or {}
    return {
        "execution_id": detail.get("pipelineExecutionId"),
        "action_execution_id": detail.get("actionExecutionId"),
        "stage": detail.get("stageName"),
        "action": detail.get("actionName"),
        "category": type_id.get("category"),
        "provider": type_id.get("provider"),
        "status": detail.get("status"),
        "start": when(detail.get("startTime")),
        "end": when(detail.get("lastUpdateTime")),
        "duration_s": seconds(detail.get("startTime"), detail.get("lastUpdateTime")),
        "external_id": _text(result.get("externalExecutionId")),
        "error_code": _get(result, "errorDetails", "code"),
        "error_message": _get(result, "errorDetails", "message"),
        "commit_time": when(variables.get("AuthorDate")),
    }


def build(doc: Mapping[str, Any]) -> Row:
    """One ``builds`` item of BatchGetBuilds."""
    return {
        "build_id": doc["id"],
        "project": doc.get("projectName"),
        "status": doc.get("buildStatus"),
        "start": when(doc.get("startTime")),
        "end": when(doc.get("endTime")),
        "duration_s": seconds(doc.get("startTime"), doc.get("endTime")),
        "compute_type": _get(doc, "environment", "computeType"),
        "source_version": _text(doc.get("resolvedSourceVersion") or doc.get("sourceVersion")),
        "initiator": doc.get("initiator"),
        "report_arns": tuple(doc.get("reportArns") or ()),
        "simulated": doc.get("initiator") == SIMULATED_MARK,
    }


def build_phases(doc: Mapping[str, Any]) -> list[Row]:
    """The ``phases`` of one BatchGetBuilds item, one row each."""
    return [
        {
            "build_id": doc["id"],
            "phase": phase.get("phaseType"),
            "status": phase.get("phaseStatus"),
            "start": when(phase.get("startTime")),
            "duration_s": (
                float(phase["durationInSeconds"]) if "durationInSeconds" in phase else None
            ),
        }
        for phase in doc.get("phases") or []
    ]


def deployment(info: Mapping[str, Any]) -> Row:
    """One ``deploymentsInfo`` item of BatchGetDeployments."""
    overview = info.get("deploymentOverview") or {}
    rollback = info.get("rollbackInfo") or {}
    return {
        "deployment_id": info["deploymentId"],
        "application": info.get("applicationName"),
        "group": info.get("deploymentGroupName"),
        "status": info.get("status"),
        "creator": info.get("creator"),
        "create": when(info.get("createTime")),
        "start": when(info.get("startTime") or info.get("createTime")),
        "end": when(info.get("completeTime")),
        "duration_s": seconds(
            info.get("startTime") or info.get("createTime"), info.get("completeTime")
        ),  # fmt: skip
        "error_code": _get(info, "errorInformation", "code"),
        "error_message": _get(info, "errorInformation", "message"),
        "rollback_deployment_id": _text(rollback.get("rollbackDeploymentId")),
        "rolls_back": _text(rollback.get("rollbackTriggeringDeploymentId")),
        "instances_succeeded": overview.get("Succeeded"),
        "instances_failed": overview.get("Failed"),
        "instances_skipped": overview.get("Skipped"),
        "simulated": info.get("description") == SIMULATED_MARK,
    }


def deployment_target(target: Mapping[str, Any]) -> Row:
    """One ``deploymentTargets`` item of BatchGetDeploymentTargets (an EC2 instance)."""
    instance = target.get("instanceTarget") or {}
    events = instance.get("lifecycleEvents") or []
    failed: Mapping[str, Any] = next((e for e in events if e.get("status") == "Failed"), {})
    starts = [e["startTime"] for e in events if e.get("startTime")]
    ends = [e["endTime"] for e in events if e.get("endTime")]
    return {
        "deployment_id": instance.get("deploymentId"),
        "instance_id": instance.get("targetId"),
        "status": instance.get("status"),
        "failed_event": failed.get("lifecycleEventName"),
        "error_message": _get(failed, "diagnostics", "message"),
        "duration_s": seconds(min(starts), max(ends)) if starts and ends else None,
    }


def alarm_change(item: Mapping[str, Any]) -> Row | None:
    """One StateUpdate ``AlarmHistoryItems`` item of DescribeAlarmHistory; others -> None."""
    if item.get("HistoryItemType") != "StateUpdate":
        return None
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    return {
        "alarm": item.get("AlarmName"),
        "alarm_type": item.get("AlarmType") or "MetricAlarm",
        "time": when(item.get("Timestamp")),
        "old_state": _get(data, "oldState", "stateValue"),
        "new_state": _get(data, "newState", "stateValue"),
        "reason": _get(data, "newState", "stateReason") or item.get("HistorySummary"),
    }


def metric_points(result: Mapping[str, Any]) -> list[Row]:
    """One ``MetricDataResults`` item of GetMetricData, a row per datapoint."""
    stamps, values = result.get("Timestamps") or [], result.get("Values") or []
    return [
        {"id": result.get("Id"), "label": result.get("Label"), "time": when(t), "value": v}
        for t, v in zip(stamps, values, strict=True)
    ]


# What each kind of event calls its state and its subject (REFERENCE.md, EventBridge events).
_EVENT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "aws.codepipeline": (("state",), ("execution-id",)),
    "aws.codebuild": (("build-status", "completed-phase-status"), ("build-id",)),
    "aws.codedeploy": (("state",), ("deploymentId",)),
    "aws.ec2": (("state",), ("instance-id",)),
    "aws.cloudwatch": (("state", "value"), ("alarmName",)),
}


def event(message: str) -> Row | None:
    """One FilterLogEvents message of the events log group (an EventBridge event), or None."""
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("detail"), dict):
        return None
    detail: dict[str, Any] = doc["detail"]
    state_path, subject_path = _EVENT_FIELDS.get(str(doc.get("source")), (("state",), ()))
    state = detail.get(state_path[0])
    if isinstance(state, dict):  # CloudWatch alarms: {"value": "ALARM", ...}
        state = state.get(state_path[-1])
    elif state is None and len(state_path) > 1:
        state = detail.get(state_path[1])
    return {
        "time": when(doc.get("time")),
        "source": doc.get("source"),
        "detail_type": doc.get("detail-type"),
        "state": _text(state),
        "subject": _text(detail.get(subject_path[0])) if subject_path else None,
        "stage": detail.get("stage"),
        "action": detail.get("action"),
        "detail": detail,
    }


def test_case(case: Mapping[str, Any], build_row: Mapping[str, Any]) -> Row:
    """One ``testCases`` item of DescribeTestCases, joined to the build that ran it."""
    nanos = case.get("durationInNanoSeconds")
    return {
        "report_arn": case.get("reportArn"),
        "build_id": build_row.get("build_id"),
        "source_version": build_row.get("source_version"),
        "suite": case.get("testSuiteName") or case.get("prefix"),
        "name": case.get("name"),
        "status": case.get("status"),
        "duration_s": int(nanos) / 1e9 if nanos is not None else None,
        "time": build_row.get("start"),
    }
