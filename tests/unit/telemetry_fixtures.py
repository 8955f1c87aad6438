"""API responses as boto3 returns them, for the telemetry and reports tests.

Every dict here is checked against botocore's output shape for its operation
(``assert_shape``), so a field name the real API does not have fails the tests.
The scripted history is the issue's: good, failing build, good, failing deployment
that rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_MODELS: dict[str, Any] = {}


def assert_shape(service: str, operation: str, response: Mapping[str, Any]) -> None:
    """Every key of ``response`` is a member of the operation's output shape, recursively."""
    if service not in _MODELS:
        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    shape = _MODELS[service].operation_model(operation).output_shape
    _check(shape, response, f"{service}.{operation}")


def _check(shape: Any, value: Any, where: str) -> None:
    if shape.type_name == "structure":
        assert isinstance(value, Mapping), f"{where}: expected a structure"
        for key, item in value.items():
            assert key in shape.members, f"{where}: {key!r} is not in {shape.name}"
            _check(shape.members[key], item, f"{where}.{key}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            _check(shape.value, item, f"{where}[{key}]")
    elif shape.type_name == "timestamp":
        assert isinstance(value, datetime), f"{where}: expected a datetime"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def execution(eid: str, status: str, start: float, end: float, sha: str) -> dict[str, Any]:
    return {
        "pipelineExecutionId": eid,
        "status": status,
        "startTime": at(start),
        "lastUpdateTime": at(end),
        "sourceRevisions": [
            {"actionName": "Source", "revisionId": sha, "revisionSummary": f"change {sha}"}
        ],
        "trigger": {"triggerType": "Webhook", "triggerDetail": "arn:aws:codestar"},
        "executionMode": "SUPERSEDED",
        "executionType": "STANDARD",
    }


def action(
    eid: str, stage: str, category: str, provider: str, status: str,
    start: float, end: float, external: str = "", error: str = "", commit: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    result: dict[str, Any] = {"externalExecutionId": external, "externalExecutionSummary": ""}
    if error:
        result["errorDetails"] = {"code": "JobFailed", "message": error}
    output: dict[str, Any] = {"executionResult": result}
    if commit is not None:
        output["outputVariables"] = {"AuthorDate": commit.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {
        "pipelineExecutionId": eid,
        "actionExecutionId": f"{eid}-{stage}",
        "pipelineVersion": 1,
        "stageName": stage,
        "actionName": stage,
        "startTime": at(start),
        "lastUpdateTime": at(end),
        "status": status,
        "input": {
            "actionTypeId": {
                "category": category, "owner": "AWS", "provider": provider, "version": "1"
            },
        },
        "output": output,
    }  # fmt: skip


def build(bid: str, status: str, start: float, seconds: float, sha: str) -> dict[str, Any]:
    return {
        "id": bid,
        "projectName": "demo-build",
        "buildStatus": status,
        "startTime": at(start),
        "endTime": at(start) + timedelta(seconds=seconds),
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        "sourceVersion": sha,
        "resolvedSourceVersion": sha,
        "initiator": "codepipeline/demo-pipeline",
        "reportArns": [f"arn:aws:codebuild:us-east-1:123456789012:report/demo-build-jest:{bid}"],
        "phases": [
            {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "startTime": at(start),
             "durationInSeconds": 1},
            {"phaseType": "BUILD", "phaseStatus": "SUCCEEDED" if status == "SUCCEEDED" else
             "FAILED", "startTime": at(start), "durationInSeconds": int(seconds) - 1},
        ],
    }  # fmt: skip


def deployment(
    did: str, status: str, start: float, end: float, *, creator: str = "user",
    rolls_back: str = "", rollback: str = "",
) -> dict[str, Any]:  # fmt: skip
    info: dict[str, Any] = {
        "applicationName": "demo-app",
        "deploymentGroupName": "demo-fleet",
        "deploymentId": did,
        "status": status,
        "creator": creator,
        "createTime": at(start),
        "startTime": at(start),
        "completeTime": at(end),
        "deploymentOverview": {
            "Pending": 0, "InProgress": 0, "Skipped": 0, "Ready": 0,
            "Succeeded": 2 if status == "Succeeded" else 1,
            "Failed": 0 if status == "Succeeded" else 1,
        },
    }  # fmt: skip
    if status == "Failed":
        info["errorInformation"] = {"code": "HEALTH_CONSTRAINTS", "message": "too few healthy"}
    if rolls_back or rollback:
        info["rollbackInfo"] = {
            k: v
            for k, v in (
                ("rollbackDeploymentId", rollback),
                ("rollbackTriggeringDeploymentId", rolls_back),
            )
            if v
        }
    return info


COMMITS = {sha: at(-30 - i) for i, sha in enumerate(("a1", "b2", "c3", "d4"))}


def scripted() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]],
                        list[dict[str, Any]]]:  # fmt: skip
    """Executions, actions, builds, deployments of: good, failing build, good, bad deploy.

    The bad deployment d-4 fails at minute 75 and CodeDeploy's rollback d-5 ends at 80.
    """
    executions = [
        execution("e1", "Succeeded", 0, 10, "a1"),
        execution("e2", "Failed", 20, 25, "b2"),
        execution("e3", "Succeeded", 40, 50, "c3"),
        execution("e4", "Failed", 60, 75, "d4"),
    ]
    actions = [
        action("e1", "Source", "Source", "CodeStarSourceConnection", "Succeeded", 0, 1,
               "a1", commit=COMMITS["a1"]),
        action("e1", "Build", "Build", "CodeBuild", "Succeeded", 1, 5, "demo-build:b1"),
        action("e1", "Deploy", "Deploy", "CodeDeploy", "Succeeded", 5, 10, "d-1"),
        action("e2", "Source", "Source", "CodeStarSourceConnection", "Succeeded", 20, 21,
               "b2", commit=COMMITS["b2"]),
        action("e2", "Build", "Build", "CodeBuild", "Failed", 21, 25, "demo-build:b2",
               error="Build terminated with state: FAILED"),
        action("e3", "Source", "Source", "CodeStarSourceConnection", "Succeeded", 40, 41,
               "c3", commit=COMMITS["c3"]),
        action("e3", "Build", "Build", "CodeBuild", "Succeeded", 41, 45, "demo-build:b3"),
        action("e3", "Deploy", "Deploy", "CodeDeploy", "Succeeded", 45, 50, "d-3"),
        action("e4", "Source", "Source", "CodeStarSourceConnection", "Succeeded", 60, 61,
               "d4", commit=COMMITS["d4"]),
        action("e4", "Build", "Build", "CodeBuild", "Succeeded", 61, 65, "demo-build:b4"),
        action("e4", "Deploy", "Deploy", "CodeDeploy", "Failed", 65, 75, "d-4",
               error="Deployment d-4 failed: too few healthy"),
    ]  # fmt: skip
    builds = [
        build("demo-build:b1", "SUCCEEDED", 1, 61, "a1"),  # 61 s -> 2 billed minutes
        build("demo-build:b2", "FAILED", 21, 45, "b2"),  # 45 s -> 1
        build("demo-build:b3", "SUCCEEDED", 41, 120, "c3"),  # 120 s -> 2
        build("demo-build:b4", "SUCCEEDED", 61, 180.5, "d4"),  # 180.5 s -> 4
    ]
    deployments = [
        deployment("d-1", "Succeeded", 5, 10),
        deployment("d-3", "Succeeded", 45, 50),
        deployment("d-4", "Failed", 65, 75, rollback="d-5"),
        deployment("d-5", "Succeeded", 75, 80, creator="codeDeployRollback", rolls_back="d-4"),
    ]
    return executions, actions, builds, deployments
