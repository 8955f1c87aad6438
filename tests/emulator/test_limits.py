"""The emulator refuses what AWS refuses, with AWS's error codes (issue 11, item 14)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import ROLE_ARN, client
from tests.emulator.test_codebuild import run_spec

PROJECT = {
    "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {build: {commands: [ls]}}"},
    "artifacts": {"type": "NO_ARTIFACTS"},
    "environment": {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:7.0",
        "computeType": "BUILD_GENERAL1_SMALL",
    },
    "serviceRole": ROLE_ARN,
}


def _refused(call: Any, *args: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"description": "d" * 5_000_000}, "Member must have length less than or equal to 255"),
        ({"description": "d" * 256}, "at 'description' failed to satisfy constraint"),
        ({"name": "has space"}, "Member must satisfy regular expression pattern"),
        ({"name": "n" * 151}, "Member must have length less than or equal to 150"),
    ],
    ids=["description-5MB", "description-256", "name-pattern", "name-151"],
)
def test_create_project_limits(
    running: EmulatorInfo, changes: dict[str, str], message: str
) -> None:
    codebuild = client(running, "codebuild")
    error = _refused(codebuild.create_project, **{"name": "limits", **PROJECT, **changes})
    assert error.response["Error"]["Code"] == "InvalidInputException"
    assert message in error.response["Error"]["Message"]
    assert codebuild.list_projects()["projects"] == []  # nothing was stored


def test_update_project_description_limit_and_what_fits(running: EmulatorInfo) -> None:
    codebuild = client(running, "codebuild")
    codebuild.create_project(name="limits", description="d" * 255, **PROJECT)
    error = _refused(codebuild.update_project, name="limits", description="x" * 256)
    assert error.response["Error"]["Code"] == "InvalidInputException"
    (project,) = codebuild.batch_get_projects(names=["limits"])["projects"]
    assert project["description"] == "d" * 255


@pytest.fixture
def stream(running: EmulatorInfo) -> Any:
    logs = client(running, "logs")
    logs.create_log_group(logGroupName="/opslib/limits")
    logs.create_log_stream(logGroupName="/opslib/limits", logStreamName="s")
    return logs


def _put(logs: Any, *messages: str, step_ms: int = 1) -> dict[str, Any]:
    now = int(time.time() * 1000) - len(messages) * step_ms
    events = [{"timestamp": now + i * step_ms, "message": m} for i, m in enumerate(messages)]
    return dict(
        logs.put_log_events(logGroupName="/opslib/limits", logStreamName="s", logEvents=events)
    )


MIB = 1_048_576


@pytest.mark.parametrize(
    ("messages", "step_ms", "message"),
    [
        (["x" * (5 * MIB)], 1, f"Log event too large: {5 * MIB + 26} bytes exceeds limit of {MIB}"),
        (["x" * (MIB // 2)] * 2, 1, f"Upload too large: {MIB + 52} bytes exceeds limit of {MIB}"),
        (["m"] * 10_001, 0, "Member must have length less than or equal to 10000"),
        (["a", "b"], 25 * 3600 * 1000, "cannot span more than 24 hours"),
    ],
    ids=["event-5MiB", "batch-over-1MiB", "10001-events", "span-25h"],
)
def test_put_log_events_limits(
    stream: Any, messages: list[str], step_ms: int, message: str
) -> None:
    error = _refused(_put, stream, *messages, step_ms=step_ms)
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert message in error.response["Error"]["Message"]


def test_put_log_events_at_the_limit_is_accepted(stream: Any) -> None:
    half = MIB // 2 - 26  # two events of exactly half the batch size each
    _put(stream, "a" * half, "b" * half)
    events = stream.get_log_events(logGroupName="/opslib/limits", logStreamName="s")["events"]
    assert [len(e["message"]) for e in events] == [half, half]


def test_retention_must_be_a_value_cloudwatch_offers(stream: Any) -> None:
    error = _refused(stream.put_retention_policy, logGroupName="/opslib/limits", retentionInDays=15)
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14" in str(error)
    stream.put_retention_policy(logGroupName="/opslib/limits", retentionInDays=14)


def test_a_build_printing_megabytes_at_once_ships_every_line(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    """The emulator's own log shipper keeps PutLogEvents' limits (batches of at most 1 MiB)."""
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - python3 -c \"[print('L%04d ' % i + 'x' * 1000) for i in range(3000)]\"\n"
    )
    build = run_spec(running, tmp_path, "chatty", spec)
    assert build["buildStatus"] == "SUCCEEDED"
    logs = client(running, "logs")
    group, name = build["logs"]["groupName"], build["logs"]["streamName"]
    lines: list[str] = []
    token: dict[str, str] = {}
    while True:  # GetLogEvents pages hold at most 1 MB: follow the forward token to the end
        page = logs.get_log_events(
            logGroupName=group, logStreamName=name, startFromHead=True, **token
        )
        lines += [e["message"] for e in page["events"] if e["message"].startswith("L")]
        if token.get("nextToken") == page["nextForwardToken"]:
            break
        token = {"nextToken": page["nextForwardToken"]}
    assert [line[:5] for line in lines] == [f"L{i:04d}" for i in range(3000)]
