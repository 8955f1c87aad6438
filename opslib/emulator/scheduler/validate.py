"""What CreateSchedule and UpdateSchedule refuse that moto stores anyway (pure).

moto 5.2 keeps any ScheduleExpression (``rate(0 fortnights)``), any time zone, a FLEXIBLE
window without its size. AWS answers those with ``ValidationException`` (400):

- an expression it cannot read: "Invalid Schedule Expression <expression>." (the wording
  LocalStack's provider checks against AWS);
- a time zone that is not an IANA name (our wording);
- ``FlexibleTimeWindow`` ``FLEXIBLE`` without ``MaximumWindowInMinutes``, or ``OFF`` with
  one (API reference: the window is set only in FLEXIBLE mode; our wording);
- a recurring schedule's StartDate more than 5 minutes ago: "The StartDate you specify
  cannot be earlier than 5 minutes ago." (moto checks this only for a cron with ``*``);
- an ``at()`` time already past. AWS's docs are silent; a public deployment note
  (DefangLabs/pulumi-defang, cd/program/selfdestruct_aws.go) records that "AWS rejects a
  fire time in the past at create". Within the current minute is not past: the guide's
  60-second precision runs a 1:00 schedule any time up to 1:00:59 (our wording);
- a universal target naming a read-only action ("EventBridge Scheduler does not support
  read-only API actions ... that begin with the following list of prefixes", user guide,
  managing-targets-universal.html). That page does not say when it refuses; the emulator
  refuses at CreateSchedule, where the mistake can still be fixed (our wording).

The API model's own limits (lengths, patterns, enums, ranges such as
``MaximumRetryAttempts`` 0-185) are checked by :func:`core.limits.model_violations`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opslib.emulator.scheduler.expressions import At, ExpressionError, parse
from opslib.emulator.scheduler.timing import wall_to_instant

START_DATE_GRACE = 5 * 60  # seconds a recurring StartDate may lie in the past
UNIVERSAL_RE = re.compile(r"arn:aws[a-z-]*:scheduler:::aws-sdk:([a-z0-9-]+):([A-Za-z0-9]+)")
READ_ONLY_PREFIXES = (
    "get", "describe", "list", "poll", "receive", "search", "scan", "query", "select",
    "read", "lookup", "discover", "validate", "batchGet", "batchDescribe", "batchRead",
    "transactGet", "adminGet", "adminList", "testMigration", "retrieve", "testConnection",
    "translateDocument", "isAuthorized", "invokeModel",
)  # fmt: skip


def zone(name: str | None) -> ZoneInfo:
    """The schedule's time zone (UTC when unset); ValueError for an unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Invalid ScheduleExpressionTimezone {name}.") from exc


def instant(value: Any) -> float | None:
    """A timestamp member as epoch seconds: botocore sends numbers, a CLI may send text."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def schedule_problem(params: dict[str, Any], now: float) -> str | None:
    """AWS's ValidationException message for a Create/UpdateSchedule body, or None."""
    for check in (_expression, _window, _start_date, _universal_target):
        problem = check(params, now)
        if problem:
            return problem
    return None


def _expression(params: dict[str, Any], now: float) -> str | None:
    text = params.get("ScheduleExpression")
    if not isinstance(text, str):
        return None  # missing: the model's required-member check answers
    try:
        expression = parse(text)
        tz = zone(params.get("ScheduleExpressionTimezone"))
    except (ExpressionError, ValueError) as exc:
        return str(exc)
    if isinstance(expression, At):
        when = wall_to_instant(expression.when, tz)
        if when is None or when < now - now % 60:
            return f"The one-time schedule's time {text} is in the past."
    return None


def _window(params: dict[str, Any], now: float) -> str | None:
    window = params.get("FlexibleTimeWindow") or {}
    mode, size = window.get("Mode"), window.get("MaximumWindowInMinutes")
    if mode == "FLEXIBLE" and size is None:
        return "MaximumWindowInMinutes is required when FlexibleTimeWindow Mode is FLEXIBLE."
    if mode == "OFF" and size is not None:
        return "MaximumWindowInMinutes can be set only when FlexibleTimeWindow Mode is FLEXIBLE."
    return None


def _start_date(params: dict[str, Any], now: float) -> str | None:
    text = params.get("ScheduleExpression", "")
    start = instant(params.get("StartDate"))
    if start is None or str(text).startswith("at("):
        return None  # one-time schedules ignore StartDate
    if start < now - START_DATE_GRACE:
        return "The StartDate you specify cannot be earlier than 5 minutes ago."
    return None


def _universal_target(params: dict[str, Any], now: float) -> str | None:
    arn = (params.get("Target") or {}).get("Arn", "")
    match = UNIVERSAL_RE.fullmatch(str(arn))
    if match and match.group(2).startswith(READ_ONLY_PREFIXES):
        return (
            f"The universal target {arn} names a read-only API action, "
            "which EventBridge Scheduler does not support."
        )
    return None
