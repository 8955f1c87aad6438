"""API response dicts -> telemetry rows and frames, table by table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from opslib.telemetry import parse
from opslib.telemetry.schema import SCHEMAS, columns, frame
from tests.unit import telemetry_fixtures as fx

pytestmark = pytest.mark.unit


def test_the_fixtures_are_real_api_shapes() -> None:
    executions, actions, builds, deployments = fx.scripted()
    fx.assert_shape("codepipeline", "ListPipelineExecutions",
                    {"pipelineExecutionSummaries": executions})  # fmt: skip
    fx.assert_shape("codepipeline", "ListActionExecutions", {"actionExecutionDetails": actions})
    fx.assert_shape("codebuild", "BatchGetBuilds", {"builds": builds})
    fx.assert_shape("codedeploy", "BatchGetDeployments", {"deploymentsInfo": deployments})


def test_the_shape_check_catches_a_made_up_field() -> None:
    with pytest.raises(AssertionError, match="buildMinutes"):
        fx.assert_shape("codebuild", "BatchGetBuilds", {"builds": [{"buildMinutes": 3}]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 1, 12), datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("2026-01-01T12:00:00Z", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("2026-01-01T13:00:00+01:00", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        (1767268800, datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_when(value: Any, expected: datetime | None) -> None:
    assert parse.when(value) == expected


@pytest.mark.parametrize(
    ("summary", "field", "expected"),
    [
        (fx.execution("e1", "Succeeded", 0, 10, "a1"), "duration_s", 600.0),
        (fx.execution("e1", "InProgress", 0, 10, "a1"), "duration_s", None),
        (fx.execution("e1", "Succeeded", 0, 10, "a1"), "revision", "a1"),
        (fx.execution("e1", "Succeeded", 0, 10, "a1"), "simulated", False),
        ({**fx.execution("e1", "Failed", 0, 1, "a1"),
          "trigger": {"triggerType": "StartPipelineExecution",
                      "triggerDetail": parse.SIMULATED_MARK}}, "simulated", True),
        ({**fx.execution("e1", "Failed", 0, 1, "a1"), "sourceRevisions": [
            {"actionName": "Source", "revisionId": "x",
             "revisionSummary": json.dumps({"ProviderType": "GitHub",
                                            "CommitMessage": "fix it\n\nbody"})}]},
         "revision_summary", "fix it"),
        ({"pipelineExecutionId": "e9", "status": "Stopped",
          "stopTrigger": {"reason": "by hand"}}, "stop_reason", "by hand"),
        ({"pipelineExecutionId": "e9"}, "execution_type", "STANDARD"),
    ],
)  # fmt: skip
def test_pipeline_execution(summary: dict[str, Any], field: str, expected: Any) -> None:
    fx.assert_shape("codepipeline", "ListPipelineExecutions",
                    {"pipelineExecutionSummaries": [summary]})  # fmt: skip
    assert parse.pipeline_execution(summary, "p")[field] == expected


def test_action_execution_reads_the_commit_time_and_the_error() -> None:
    _, actions, _, _ = fx.scripted()
    source, failed = parse.action_execution(actions[3]), parse.action_execution(actions[4])
    assert source["commit_time"] == fx.COMMITS["b2"]
    assert (source["category"], source["provider"]) == ("Source", "CodeStarSourceConnection")
    assert failed["error_message"] == "Build terminated with state: FAILED"
    assert failed["external_id"] == "demo-build:b2"
    assert failed["duration_s"] == 240.0


def test_build_and_phases() -> None:
    doc = fx.build("demo-build:b1", "SUCCEEDED", 1, 61, "a1")
    row = parse.build(doc)
    assert (row["duration_s"], row["compute_type"], row["source_version"]) == (
        61.0, "BUILD_GENERAL1_SMALL", "a1"
    )  # fmt: skip
    assert row["report_arns"] == tuple(doc["reportArns"])
    assert [(p["phase"], p["duration_s"]) for p in parse.build_phases(doc)] == [
        ("SUBMITTED", 1.0), ("BUILD", 60.0)
    ]  # fmt: skip


def test_deployment_links_its_rollback_both_ways() -> None:
    *_, deployments = fx.scripted()
    failed, rollback = parse.deployment(deployments[2]), parse.deployment(deployments[3])
    assert failed["rollback_deployment_id"] == "d-5" and failed["rolls_back"] is None
    assert rollback["rolls_back"] == "d-4" and rollback["creator"] == "codeDeployRollback"
    assert (failed["instances_failed"], failed["error_code"]) == (1, "HEALTH_CONSTRAINTS")


def test_deployment_target_names_the_failed_event() -> None:
    target = {
        "deploymentTargetType": "InstanceTarget",
        "instanceTarget": {
            "deploymentId": "d-4", "targetId": "i-1", "status": "Failed",
            "lifecycleEvents": [
                {"lifecycleEventName": "ApplicationStart", "status": "Succeeded",
                 "startTime": fx.at(66), "endTime": fx.at(67)},
                {"lifecycleEventName": "ValidateService", "status": "Failed",
                 "startTime": fx.at(67), "endTime": fx.at(70),
                 "diagnostics": {"errorCode": "ScriptFailed", "message": "curl failed"}},
            ],
        },
    }  # fmt: skip
    fx.assert_shape("codedeploy", "BatchGetDeploymentTargets", {"deploymentTargets": [target]})
    row = parse.deployment_target(target)
    assert row == {
        "deployment_id": "d-4", "instance_id": "i-1", "status": "Failed",
        "failed_event": "ValidateService", "error_message": "curl failed", "duration_s": 240.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"AlarmName": "demo-cpu", "AlarmType": "MetricAlarm", "Timestamp": fx.at(1),
          "HistoryItemType": "StateUpdate", "HistorySummary": "Alarm updated from OK to ALARM",
          "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": "OK"},
                                     "newState": {"stateValue": "ALARM",
                                                  "stateReason": "Threshold Crossed"}})},
         ("OK", "ALARM", "Threshold Crossed")),
        ({"AlarmName": "demo-cpu", "Timestamp": fx.at(1), "HistoryItemType": "StateUpdate",
          "HistorySummary": "Alarm updated from ALARM to OK", "HistoryData": "not json"},
         (None, None, "Alarm updated from ALARM to OK")),
        ({"AlarmName": "demo-cpu", "Timestamp": fx.at(1), "HistoryItemType": "Action",
          "HistorySummary": "Successfully executed action"}, None),
    ],
)  # fmt: skip
def test_alarm_change(item: dict[str, Any], expected: tuple[Any, ...] | None) -> None:
    fx.assert_shape("cloudwatch", "DescribeAlarmHistory", {"AlarmHistoryItems": [item]})
    row = parse.alarm_change(item)
    assert (row and (row["old_state"], row["new_state"], row["reason"])) == expected


def test_metric_points_pair_timestamps_with_values() -> None:
    result = {"Id": "b", "Label": "Builds", "Timestamps": [fx.at(0), fx.at(5)],
              "Values": [1.0, 3.0], "StatusCode": "Complete"}  # fmt: skip
    fx.assert_shape("cloudwatch", "GetMetricData", {"MetricDataResults": [result]})
    assert [(r["time"], r["value"]) for r in parse.metric_points(result)] == [
        (fx.at(0), 1.0), (fx.at(5), 3.0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "state", "subject"),
    [
        ({"source": "aws.codepipeline",
          "detail-type": "CodePipeline Pipeline Execution State Change",
          "detail": {"pipeline": "p", "execution-id": "e1", "state": "FAILED"}},
         "FAILED", "e1"),
        ({"source": "aws.codebuild", "detail-type": "CodeBuild Build State Change",
          "detail": {"build-status": "SUCCEEDED", "build-id": "arn:b1"}}, "SUCCEEDED", "arn:b1"),
        ({"source": "aws.codebuild", "detail-type": "CodeBuild Build Phase Change",
          "detail": {"completed-phase-status": "FAILED", "build-id": "arn:b1"}},
         "FAILED", "arn:b1"),
        ({"source": "aws.codedeploy",
          "detail-type": "CodeDeploy Deployment State-change Notification",
          "detail": {"deploymentId": "d-4", "state": "FAILURE"}}, "FAILURE", "d-4"),
        ({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
          "detail": {"alarmName": "demo-cpu", "state": {"value": "ALARM"}}}, "ALARM", "demo-cpu"),
    ],
)  # fmt: skip
def test_event(event: dict[str, Any], state: str, subject: str) -> None:
    row = parse.event(json.dumps({**event, "time": "2026-11-02T09:00:00Z"}))
    assert row is not None
    assert (row["state"], row["subject"], row["time"]) == (state, subject, fx.T0)


@pytest.mark.parametrize("message", ["not json", "[1]", '{"detail": "x"}'])
def test_a_line_that_is_no_event_is_skipped(message: str) -> None:
    assert parse.event(message) is None


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_an_empty_frame_still_has_its_columns(kind: str) -> None:
    assert list(frame(kind, []).columns) == columns(kind)


def test_a_frame_has_its_schema_dtypes() -> None:
    executions, *_ = fx.scripted()
    out = frame("executions", [parse.pipeline_execution(e, "p") for e in executions])
    assert str(out["start"].dtype) == "datetime64[ns, UTC]"
    assert str(out["duration_s"].dtype) == "Float64"
    assert str(out["simulated"].dtype) == "boolean"
    assert out["status"].tolist() == ["Succeeded", "Failed", "Succeeded", "Failed"]
