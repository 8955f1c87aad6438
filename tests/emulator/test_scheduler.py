"""EventBridge Scheduler fires: schedules start real CodeBuild builds, retry, dead-letter.

No test waits a minute: a ``rate(1 minute)`` schedule's first invocation is at its
StartDate (a few seconds ahead), and ``at()`` times are seconds ahead. Time passing is
waited for by polling the API for what it should have caused, with a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/opslib-test-scheduler"
START_BUILD = "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"
SPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo scheduled $FIRED_AT\n"
TERMINAL = {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"}


def _project(info: EmulatorInfo, name: str) -> str:
    """A tiny NO_SOURCE project (one echo); its ARN."""
    project = client(info, "codebuild").create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": SPEC},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/opslib-test-codebuild",
    )
    return str(project["project"]["arn"])


def _builds(info: EmulatorInfo, project: str) -> list[dict[str, Any]]:
    codebuild = client(info, "codebuild")
    ids = codebuild.list_builds_for_project(projectName=project)["ids"]
    return list(codebuild.batch_get_builds(ids=ids)["builds"]) if ids else []


def _at(seconds: float, zone: timedelta = timedelta(0)) -> str:
    when = datetime.now(UTC) + zone + timedelta(seconds=seconds)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def _schedule(info: EmulatorInfo, name: str, expression: str, target: dict[str, Any],
              **extra: Any) -> None:  # fmt: skip
    client(info, "scheduler").create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
        **extra,
    )


def _gone(info: EmulatorInfo, name: str) -> bool:
    try:
        client(info, "scheduler").get_schedule(Name=name)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_a_rate_schedule_with_a_universal_target_starts_real_builds(running: EmulatorInfo) -> None:
    _project(running, "every-minute")
    start = datetime.now(UTC) + timedelta(seconds=3)
    _schedule(
        running,
        "every-minute",
        "rate(1 minute)",
        {
            "Arn": START_BUILD,
            "Input": json.dumps(
                {
                    "projectName": "every-minute",
                    "environmentVariablesOverride": [
                        {"name": "FIRED_AT", "value": "<aws.scheduler.scheduled-time>"}
                    ],
                }
            ),
        },
        StartDate=start,
    )
    builds = wait_until(lambda: _builds(running, "every-minute"), 90, "a scheduled build")
    assert len(builds) == 1  # the next one is a minute after the first
    env = {v["name"]: v["value"] for v in builds[0]["environment"]["environmentVariables"]}
    assert env["FIRED_AT"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")  # the scheduled time
    done = wait_until(
        lambda: [b for b in _builds(running, "every-minute") if b["buildStatus"] in TERMINAL],
        120,
        "the scheduled build to end",
    )
    assert done[0]["buildStatus"] == "SUCCEEDED"


def test_a_one_time_schedule_fires_once_and_is_deleted(running: EmulatorInfo) -> None:
    arn = _project(running, "once")
    _schedule(running, "once", _at(2), {"Arn": arn}, ActionAfterCompletion="DELETE")
    wait_until(lambda: _gone(running, "once"), 90, "the completed schedule's deletion")
    assert len(_builds(running, "once")) == 1


def test_a_one_time_schedule_in_its_time_zone_is_kept_without_delete(
    running: EmulatorInfo,
) -> None:
    """at() is read in ScheduleExpressionTimezone: Tokyo's wall clock, 9 h ahead of UTC."""
    arn = _project(running, "tokyo")
    _schedule(running, "tokyo", _at(2, timedelta(hours=9)), {"Arn": arn},
              ScheduleExpressionTimezone="Asia/Tokyo")  # fmt: skip
    wait_until(lambda: _builds(running, "tokyo"), 90, "the Tokyo schedule's build")
    schedule = client(running, "scheduler").get_schedule(Name="tokyo")
    assert schedule["State"] == "ENABLED"  # ActionAfterCompletion NONE: kept


def test_a_disabled_schedule_does_not_fire(running: EmulatorInfo) -> None:
    off, witness = _project(running, "off"), _project(running, "witness")
    _schedule(running, "off", _at(1), {"Arn": off}, State="DISABLED")
    _schedule(running, "witness", _at(3), {"Arn": witness})
    wait_until(lambda: _builds(running, "witness"), 90, "the later schedule's build")
    assert _builds(running, "off") == []


def test_a_failing_target_is_retried_then_dead_lettered(running: EmulatorInfo) -> None:
    sqs = client(running, "sqs")
    url = sqs.create_queue(QueueName="schedule-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    payload = json.dumps({"projectName": "no-such-project"})
    _schedule(
        running,
        "doomed",
        _at(1),
        {
            "Arn": START_BUILD,
            "Input": payload,
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": queue_arn},
        },
    )

    def received() -> list[dict[str, Any]]:
        # No long polling: the emulator serves one request at a time, and a waiting
        # ReceiveMessage would hold back the dead letter it waits for.
        messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])
        return list(messages.get("Messages", []))

    message = wait_until(received, 90, "the dead-letter event")[0]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert message["Body"] == payload
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert "no-such-project" in attributes["ERROR_MESSAGE"]
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["TARGET_ARN"] == START_BUILD
    assert attributes["SCHEDULE_ARN"].endswith(":schedule/default/doomed")
    assert attributes["IS_PAYLOAD_TRUNCATED"] == "false"
    assert attributes["EXECUTION_ID"]


# What AWS refuses, over the wire (the whole table of cases is in tests/unit/test_scheduler.py).
REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("rate(0 minutes)", {}),
    ("cron(0 10 * * * *)", {}),  # day-of-month and day-of-week both given
    ("at(2020-01-01T00:00:00)", {}),  # in the past
    ("rate(1 hour)", {"ScheduleExpressionTimezone": "Mars/Olympus"}),
    ("rate(1 hour)", {"StartDate": datetime.now(UTC) - timedelta(hours=1)}),
]


def test_schedules_aws_refuses_are_refused_and_not_stored(running: EmulatorInfo) -> None:
    codes = []
    for expression, extra in REFUSED:
        with pytest.raises(ClientError) as caught:
            _schedule(running, "refused", expression, {"Arn": START_BUILD, "Input": "{}"},
                      **extra)  # fmt: skip
        codes.append(caught.value.response["Error"]["Code"])
    assert codes == ["ValidationException"] * len(REFUSED)
    assert _gone(running, "refused")


def test_a_flexible_window_needs_its_size(running: EmulatorInfo) -> None:
    scheduler = client(running, "scheduler")
    with pytest.raises(ClientError) as caught:
        scheduler.create_schedule(
            Name="flexible", ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "FLEXIBLE"},
            Target={"Arn": START_BUILD, "RoleArn": ROLE, "Input": "{}"},
        )  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        scheduler.create_schedule(
            Name="flexible", ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441},
            Target={"Arn": START_BUILD, "RoleArn": ROLE, "Input": "{}"},
        )  # fmt: skip
    assert "1440" in caught.value.response["Error"]["Message"]


def test_update_keeps_action_after_completion_and_wakes_the_schedule(
    running: EmulatorInfo,
) -> None:
    """moto's UpdateSchedule drops ActionAfterCompletion; a new time fires at once."""
    arn = _project(running, "moved")
    _schedule(running, "moved", "at(2099-01-01T00:00:00)", {"Arn": arn})
    client(running, "scheduler").update_schedule(
        Name="moved", ScheduleExpression=_at(1), FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE}, ActionAfterCompletion="DELETE",
    )  # fmt: skip
    wait_until(lambda: _gone(running, "moved"), 90, "the updated schedule's fire and deletion")
    assert len(_builds(running, "moved")) == 1


def test_schedules_survive_a_restart_and_missed_fires_are_not_replayed(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    """Restored schedules fire with no Scheduler request after the start; missed ones don't."""
    first = start_emulator()
    missed, restored = _project(first, "missed"), _project(first, "restored")
    _schedule(first, "restored", _at(30), {"Arn": restored})
    # Due a few seconds on: time to stop the emulator first even on a loaded machine.
    due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    _schedule(first, "missed", f"at({due:%Y-%m-%dT%H:%M:%S})", {"Arn": missed})
    emulator.stop(first.state_dir)
    assert datetime.now(UTC) < due, "the emulator took too long to stop to test a missed fire"
    deadline = due + timedelta(seconds=1.5)
    while datetime.now(UTC) < deadline:  # the emulator is down while "missed" is due
        time.sleep(0.2)
    second = start_emulator()
    wait_until(lambda: _builds(second, "restored"), 90, "the restored schedule's build")
    assert _builds(second, "missed") == []  # not replayed
    assert client(second, "scheduler").get_schedule(Name="missed")["State"] == "ENABLED"
