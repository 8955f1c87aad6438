"""EventBridge Scheduler's pure core: expressions, next fire times, windows, checks, targets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opslib.emulator.core.restops import rest_json_operation as rest_operation
from opslib.emulator.scheduler.expressions import ExpressionError, Rate, parse
from opslib.emulator.scheduler.model import Schedule
from opslib.emulator.scheduler.run import Invocation
from opslib.emulator.scheduler.targets import (
    Context,
    Exhausted,
    TargetError,
    exhausted,
    resolve,
    with_context,
)
from opslib.emulator.scheduler.timing import Occurrence, Timing, next_occurrence, next_time
from opslib.emulator.scheduler.validate import schedule_problem


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(instant: float | None) -> str | None:
    return None if instant is None else datetime.fromtimestamp(instant, UTC).isoformat()[:19]


def times(timing: Timing, after: str, count: int = 3) -> list[str | None]:
    out: list[str | None] = []
    cursor = ts(after)
    for _ in range(count):
        found = next_time(timing, cursor)
        out.append(iso(found))
        if found is None:
            break
        cursor = found
    return out


def timing(expression: str, zone: str = "UTC", **extra: Any) -> Timing:
    created = ts(extra.pop("created", "2026-01-01T00:00:00"))
    bounds = {k: ts(v) for k, v in extra.items()}
    return Timing(parse(expression), ZoneInfo(zone), created, **bounds)


# -- expressions ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)", "rate(-1 minutes)", "rate(5 weeks)", "rate(5)", "rate(1.5 hours)",
        "cron(0 10 * * ?)", "cron(0 10 * * ? * *)", "cron(60 10 * * ? *)", "cron(0 24 * * ? *)",
        "cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(0 10 32 * ? *)",
        "cron(0 10 ? * 8 *)", "cron(0 10 * 13 ? *)", "cron(0 10 * * ? 1969)",
        "cron(0 10 * * ? 2200)", "cron(0 10 ? * 3#6 *)", "cron(0 10 * FOO ? *)",
        "at(2030-02-30T00:00:00)", "at(2030-01-01 00:00:00)", "at(2030-01-01T25:00:00)",
        "every(5 minutes)", "", "rate(1 minute) ", "cron(" + "1," * 130 + "2 * * * ? *)",
    ],
)  # fmt: skip
def test_expressions_aws_refuses(expression: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(expression)
    assert str(caught.value) == f"Invalid Schedule Expression {expression}."


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
     ("rate(2 hours)", 7200), ("rate(1 day)", 86400), ("rate(7 days)", 604800)],
)  # fmt: skip
def test_rates(expression: str, seconds: int) -> None:
    rate = parse(expression)
    assert isinstance(rate, Rate) and rate.seconds == seconds


# -- next fire times --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 10 * * ? *)", "2026-01-01T11:00:00",
         ["2026-01-02T10:00:00", "2026-01-03T10:00:00", "2026-01-04T10:00:00"]),
        ("cron(0/15 * * * ? *)", "2026-01-01T10:07:00",
         ["2026-01-01T10:15:00", "2026-01-01T10:30:00", "2026-01-01T10:45:00"]),
        ("cron(5,35 9-10 * * ? *)", "2026-01-01T09:40:00",
         ["2026-01-01T10:05:00", "2026-01-01T10:35:00", "2026-01-02T09:05:00"]),
        ("cron(0 22-1 * * ? *)", "2026-01-01T21:00:00",  # a range that wraps midnight
         ["2026-01-01T22:00:00", "2026-01-01T23:00:00", "2026-01-02T00:00:00"]),
        ("cron(0 18 ? * MON-FRI *)", "2026-01-02T19:00:00",  # Friday evening
         ["2026-01-05T18:00:00", "2026-01-06T18:00:00", "2026-01-07T18:00:00"]),
        ("cron(0 12 ? * 6#3 *)", "2026-01-01T00:00:00",  # third Friday
         ["2026-01-16T12:00:00", "2026-02-20T12:00:00", "2026-03-20T12:00:00"]),
        ("cron(0 0 L * ? *)", "2026-02-01T00:00:00",
         ["2026-02-28T00:00:00", "2026-03-31T00:00:00", "2026-04-30T00:00:00"]),
        ("cron(0 0 LW * ? *)", "2026-05-01T00:00:00",  # May 31st 2026 is a Sunday
         ["2026-05-29T00:00:00", "2026-06-30T00:00:00", "2026-07-31T00:00:00"]),
        ("cron(0 0 1W * ? *)", "2026-02-02T00:00:00",  # March 1st is a Sunday: Monday 2nd
         ["2026-03-02T00:00:00", "2026-04-01T00:00:00", "2026-05-01T00:00:00"]),
        ("cron(0 0 15W * ? *)", "2026-08-01T00:00:00",  # Aug 15th Saturday: Friday 14th
         ["2026-08-14T00:00:00", "2026-09-15T00:00:00", "2026-10-15T00:00:00"]),
        ("cron(0 0 ? * 6L *)", "2026-01-01T00:00:00",  # last Friday
         ["2026-01-30T00:00:00", "2026-02-27T00:00:00", "2026-03-27T00:00:00"]),
        ("cron(0 0 ? * L *)", "2026-01-01T00:00:00",  # L: the week's last day, Saturday
         ["2026-01-03T00:00:00", "2026-01-10T00:00:00", "2026-01-17T00:00:00"]),
        ("cron(0 0 29 FEB ? *)", "2026-01-01T00:00:00",
         ["2028-02-29T00:00:00", "2032-02-29T00:00:00", "2036-02-29T00:00:00"]),
        ("cron(0 0 1 1 ? 2027-2028)", "2026-06-01T00:00:00",
         ["2027-01-01T00:00:00", "2028-01-01T00:00:00", None]),
        ("rate(5 minutes)", "2026-01-01T00:00:00",  # counted from creation, 00:00
         ["2026-01-01T00:05:00", "2026-01-01T00:10:00", "2026-01-01T00:15:00"]),
        ("rate(1 hour)", "2026-01-01T05:30:00",
         ["2026-01-01T06:00:00", "2026-01-01T07:00:00", "2026-01-01T08:00:00"]),
        ("at(2026-06-01T09:00:00)", "2026-01-01T00:00:00", ["2026-06-01T09:00:00", None]),
        ("at(2026-06-01T09:00:00)", "2026-07-01T00:00:00", [None]),
    ],
)  # fmt: skip
def test_next_fire_times(expression: str, after: str, expected: list[str | None]) -> None:
    assert times(timing(expression), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # New York springs forward on 2026-03-08 at 02:00: 02:30 does not exist that day
        ("cron(30 2 * * ? *)", "America/New_York", "2026-03-07T12:00:00",
         ["2026-03-09T06:30:00", "2026-03-10T06:30:00"]),
        # ... and falls back on 2026-11-01: 01:30 happens twice and runs once (EDT's)
        ("cron(30 1 * * ? *)", "America/New_York", "2026-10-31T12:00:00",
         ["2026-11-01T05:30:00", "2026-11-02T06:30:00"]),
        # hourly across the repeated hour: 01:00 once, then 02:00 EST
        ("cron(0 * * * ? *)", "America/New_York", "2026-11-01T04:30:00",
         ["2026-11-01T05:00:00", "2026-11-01T07:00:00", "2026-11-01T08:00:00"]),
        # a daily time keeps its wall clock across DST: 09:00 Paris is 08:00 then 07:00 UTC
        ("cron(0 9 * * ? *)", "Europe/Paris", "2026-03-28T00:00:00",
         ["2026-03-28T08:00:00", "2026-03-29T07:00:00"]),
        # rate(1 day) is 24-hour steps: it drifts on the wall clock instead
        ("rate(1 day)", "Europe/Paris", "2026-03-28T00:00:00",
         ["2026-03-29T00:00:00", "2026-03-30T00:00:00"]),
        ("at(2026-06-01T09:00:00)", "Asia/Tokyo", "2026-01-01T00:00:00",
         ["2026-06-01T00:00:00", None]),
        ("at(2026-03-08T02:30:00)", "America/New_York", "2026-01-01T00:00:00", [None]),
    ],
)  # fmt: skip
def test_time_zones_and_daylight_saving(
    expression: str, zone: str, after: str, expected: list[str | None]
) -> None:
    assert times(timing(expression, zone), after, len(expected)) == expected


def test_start_date_anchors_a_rate_and_its_first_fire() -> None:
    anchored = timing("rate(10 minutes)", start="2026-01-01T12:03:20")
    assert times(anchored, "2026-01-01T00:00:00") == [
        "2026-01-01T12:03:20", "2026-01-01T12:13:20", "2026-01-01T12:23:20",
    ]  # fmt: skip


def test_start_and_end_dates_bound_a_cron() -> None:
    bounded = timing("cron(0 * * * ? *)", start="2026-01-01T10:00:00", end="2026-01-01T12:00:00")
    assert times(bounded, "2026-01-01T00:00:00", 4) == [
        "2026-01-01T10:00:00", "2026-01-01T11:00:00", None,
    ]  # fmt: skip


def test_one_time_schedules_ignore_start_and_end() -> None:
    once = timing("at(2026-06-01T09:00:00)", start="2026-07-01T00:00:00", end="2026-02-01T00:00:00")
    assert times(once, "2026-01-01T00:00:00") == ["2026-06-01T09:00:00", None]


# -- flexible windows ---------------------------------------------------------------------
def test_a_flexible_window_offsets_each_fire_within_it_repeatably() -> None:
    flexible = Timing(parse("rate(1 hour)"), ZoneInfo("UTC"), ts("2026-01-01T00:00:00"),
                      window_minutes=15)  # fmt: skip
    cursor, offsets = ts("2026-01-01T00:00:00"), []
    for _ in range(50):
        occurrence = next_occurrence(flexible, cursor, "arn:schedule/a")
        assert occurrence is not None
        offsets.append(occurrence.fire_at - occurrence.scheduled)
        assert next_occurrence(flexible, cursor, "arn:schedule/a") == occurrence  # repeatable
        cursor = occurrence.scheduled
    assert all(0 <= o < 15 * 60 for o in offsets)
    assert len(set(offsets)) == 50  # random, not one fixed delay
    other = next_occurrence(flexible, ts("2026-01-01T00:00:00"), "arn:schedule/b")
    assert other is not None and other.fire_at - other.scheduled != offsets[0]


def test_window_off_fires_at_the_scheduled_time() -> None:
    occurrence = next_occurrence(timing("rate(1 hour)"), ts("2026-01-01T00:00:00"), "k")
    assert occurrence == Occurrence(ts("2026-01-01T01:00:00"), ts("2026-01-01T01:00:00"))


# -- what CreateSchedule refuses -----------------------------------------------------------
NOW = ts("2026-06-01T12:00:30")
TARGET = {"Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild", "RoleArn": "r"}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"ScheduleExpression": "rate(1 hour)"}, None),
        ({"ScheduleExpression": "rate(0 hours)"}, "Invalid Schedule Expression rate(0 hours)."),
        ({"ScheduleExpression": "cron(0 10 * * * *)"}, "Invalid Schedule Expression"),
        ({"ScheduleExpression": "rate(1 hour)", "ScheduleExpressionTimezone": "Mars/Base"},
         "Invalid ScheduleExpressionTimezone Mars/Base."),
        ({"ScheduleExpression": "at(2026-06-01T11:59:59)"}, "is in the past"),
        ({"ScheduleExpression": "at(2026-06-01T12:00:00)"}, None),  # this minute: not past
        ({"ScheduleExpression": "at(2026-06-01T21:00:10)", "ScheduleExpressionTimezone":
          "Asia/Tokyo"}, None),  # 12:00:10 UTC
        ({"ScheduleExpression": "at(2026-06-01T20:59:00)", "ScheduleExpressionTimezone":
          "Asia/Tokyo"}, "is in the past"),
        ({"ScheduleExpression": "rate(1 hour)", "StartDate": NOW - 299}, None),
        ({"ScheduleExpression": "rate(1 hour)", "StartDate": NOW - 301},
         "The StartDate you specify cannot be earlier than 5 minutes ago."),
        ({"ScheduleExpression": "cron(0 1 * * ? *)", "StartDate": "2026-01-01T00:00:00Z"},
         "cannot be earlier than 5 minutes ago"),
        ({"ScheduleExpression": "at(2026-06-02T00:00:00)", "StartDate": NOW - 9999}, None),
        ({"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
         "MaximumWindowInMinutes is required"),
        ({"ScheduleExpression": "rate(1 hour)",
          "FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}},
         "only when FlexibleTimeWindow Mode is FLEXIBLE"),
        ({"ScheduleExpression": "rate(1 hour)",
          "Target": {**TARGET, "Arn": "arn:aws:scheduler:::aws-sdk:sqs:getQueueUrl"}},
         "read-only API action"),
        ({"ScheduleExpression": "rate(1 hour)", "Target": TARGET}, None),
    ],
)  # fmt: skip
def test_what_create_schedule_refuses(params: dict[str, Any], problem: str | None) -> None:
    found = schedule_problem(params, NOW)
    assert (found is None) if problem is None else (found is not None and problem in found)


# -- targets ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "payload", "call"),
    [
        ({"Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"}, '{"projectName": "p"}',
         ("codebuild", "StartBuild", "us-east-1", {"projectName": "p"})),
        ({"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage"},
         '{"QueueUrl": "u", "MessageBody": "m"}',
         ("sqs", "SendMessage", "us-east-1", {"QueueUrl": "u", "MessageBody": "m"})),
        ({"Arn": "arn:aws:codebuild:eu-west-1:123456789012:project/reports"},
         '{"sourceVersion": "main", "projectName": "ignored"}',
         ("codebuild", "StartBuild", "eu-west-1", {"sourceVersion": "main",
                                                   "projectName": "reports"})),
        ({"Arn": "arn:aws:sns:us-east-1:123456789012:alerts"}, "hello",
         ("sns", "Publish", "us-east-1",
          {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Message": "hello"})),
        ({"Arn": "arn:aws:sqs:us-east-1:123456789012:jobs.fifo",
          "SqsParameters": {"MessageGroupId": "g"}}, "body",
         ("sqs", "SendMessage", "us-east-1", {"MessageBody": "body", "MessageGroupId": "g"})),
    ],
)  # fmt: skip
def test_targets_resolve_to_their_api_call(
    target: dict[str, Any], payload: str, call: tuple[str, str, str, dict[str, Any]]
) -> None:
    resolved = resolve(target, payload, "us-east-1")
    assert (resolved.service, resolved.operation, resolved.region, resolved.params) == call


@pytest.mark.parametrize(
    ("target", "payload"),
    [
        ({"Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"}, "not json"),
        ({"Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"}, "[1]"),
        ({"Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}, "{}"),
    ],
)
def test_targets_that_cannot_be_invoked(target: dict[str, Any], payload: str) -> None:
    with pytest.raises(TargetError):
        resolve(target, payload, "us-east-1")


def test_context_attributes_are_substituted() -> None:
    context = Context("arn:aws:scheduler:us-east-1:1:schedule/default/s",
                      ts("2022-03-22T18:59:43"), "d32c5kddcf5bb8c3", 2)  # fmt: skip
    text = (
        '{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>",'
        ' "id": "<aws.scheduler.execution-id>", "n": <aws.scheduler.attempt-number>}'
    )
    assert with_context(text, context) == (
        '{"arn": "arn:aws:scheduler:us-east-1:1:schedule/default/s", "at": "2022-03-22T18:59:43Z",'
        ' "id": "d32c5kddcf5bb8c3", "n": 2}'
    )


@pytest.mark.parametrize(
    ("policy", "retries", "age", "expected"),
    [
        ({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}, 0, 0, Exhausted.ATTEMPTS),
        ({"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}, 2, 3, None),
        ({"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}, 3, 7, Exhausted.ATTEMPTS),
        ({"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}, 5, 31, Exhausted.AGE),
        ({"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}, 5, 27, None),
        ({}, 184, 0, None),  # AWS's defaults: 185 retries within 24 h
        ({}, 185, 0, Exhausted.ATTEMPTS),
    ],
)  # fmt: skip
def test_the_retry_policy_ends_retries(
    policy: dict[str, Any], retries: int, age: float, expected: Exhausted | None
) -> None:
    assert exhausted(policy, retries, age) == expected


class _Stored:
    """A moto schedule's attributes, as Schedule.from_moto reads them."""

    def __init__(self, **values: Any) -> None:
        defaults = {
            "arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s",
            "name": "s", "group_name": "default", "schedule_expression": "at(2026-01-01T00:05:00)",
            "schedule_expression_timezone": "UTC", "flexible_time_window": {"Mode": "OFF"},
            "target": {"Arn": "arn:aws:sns:us-east-1:123456789012:t", "RoleArn": "r",
                       "RetryPolicy": {"MaximumRetryAttempts": 3,
                                       "MaximumEventAgeInSeconds": 3600}},
            "state": "ENABLED", "start_date": None, "end_date": None,
            "action_after_completion": None, "creation_date": ts("2026-01-01T00:00:00"),
            "last_modified_date": ts("2026-01-01T00:00:00"),
        }  # fmt: skip
        self.__dict__.update({**defaults, **values})


class _FakeRoles:
    """Fails the first ``failures`` calls with a throttle, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def client(self, role_arn: str, service: str, region: str) -> Any:
        roles = self

        class Client:
            def publish(self, **params: Any) -> None:
                roles.calls.append(("publish", params))
                if len(roles.calls) <= roles.failures:
                    raise TargetError("ThrottlingException", "slow down")

        return Client()


class _Stopping(threading.Event):
    """Never set; records the backoff waits instead of waiting them."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def test_an_invocation_retries_with_the_attempt_number_until_delivered() -> None:
    stored = _Stored(target={**_Stored().target, "Input": "attempt <aws.scheduler.attempt-number>"})
    schedule = Schedule.from_moto(stored, "us-east-1")
    roles = _FakeRoles(failures=2)
    stopping = _Stopping()
    occurrence = Occurrence(ts("2026-01-01T00:05:00"), ts("2026-01-01T00:05:00"))
    invocation = Invocation(schedule, occurrence, roles, stopping,  # type: ignore[arg-type]
                            clock=lambda: ts("2026-01-01T00:05:01"))  # fmt: skip
    assert invocation.run() is True
    assert [c[1]["Message"] for c in roles.calls] == ["attempt 1", "attempt 2", "attempt 3"]
    assert stopping.waits == [1.0, 2.0]  # the backoff: 1 s, then 2 s


def test_rest_json_operations_are_named_by_method_and_path() -> None:
    assert rest_operation("scheduler", "POST", "/schedules/nightly") == "CreateSchedule"
    assert rest_operation("scheduler", "PUT", "/schedules/nightly") == "UpdateSchedule"
    assert rest_operation("scheduler", "GET", "/schedules") == "ListSchedules"
    assert rest_operation("scheduler", "DELETE", "/schedule-groups/g") == "DeleteScheduleGroup"
    assert rest_operation("s3", "PUT", "/bucket/key") is None  # REST-XML keeps its names
    assert rest_operation("scheduler", "PATCH", "/schedules/nightly") is None
