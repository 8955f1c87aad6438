"""When a schedule fires next (pure): expression, time zone, start and end, window.

The rules, from EventBridge Scheduler's user guide (schedule-types.html, managing-schedule-
flexible-time-windows.html) and AWS's DST note
(https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst):

- ``at()`` and ``cron()`` are wall-clock times in ``ScheduleExpressionTimezone`` (UTC by
  default). A cron time that falls in the hour DST skips does not run; a time the repeated
  hour shows twice runs once (the first time). ``rate(n days)`` is 24-hour steps, DST or
  not: rates are elapsed time.
- StartDate and EndDate (UTC instants) bound recurring schedules: invocations on or after
  StartDate and before EndDate; one-time schedules ignore both.
- A rate schedule counts from its StartDate, whose time is its first invocation; without
  one it counts from its creation, first firing one period later (the period "starts when
  the schedule is created"; AWS does not document the first instant further, so this is
  the emulator's reading).
- ``FlexibleTimeWindow`` ``FLEXIBLE`` with ``MaximumWindowInMinutes`` n: the target is
  invoked at some moment within n minutes after the scheduled time. The emulator picks that
  moment at random, seeded by the schedule's ARN and the scheduled time, so the same
  occurrence always gets the same offset (repeatable in tests and across a restart).

The emulator invokes at the scheduled second; AWS promises "60 second precision" (a 1:00
schedule runs between 1:00:00 and 1:00:59), which the exact second satisfies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opslib.emulator.scheduler.expressions import MAX_YEAR, At, Cron, Expression, Rate


@dataclass(frozen=True)
class Timing:
    """What decides a schedule's times; instants are epoch seconds."""

    expression: Expression
    zone: ZoneInfo
    created: float
    start: float | None = None
    end: float | None = None
    window_minutes: int = 0  # 0: FlexibleTimeWindow OFF


@dataclass(frozen=True)
class Occurrence:
    """One invocation: the time the schedule names, and when the emulator makes it."""

    scheduled: float
    fire_at: float  # scheduled + the flexible window's offset


def next_time(timing: Timing, after: float) -> float | None:
    """The first scheduled instant strictly after ``after`` (None: the schedule is done)."""
    expression = timing.expression
    if isinstance(expression, At):
        when = wall_to_instant(expression.when, timing.zone)
        return when if when is not None and when > after else None
    found: float | None
    if isinstance(expression, Rate):
        found = _next_rate(expression, timing, after)
    else:
        found = _next_cron(expression, timing, after)
    if found is None or (timing.end is not None and found >= timing.end):
        return None
    return found


def next_occurrence(timing: Timing, after: float, key: str) -> Occurrence | None:
    """The next invocation after ``after``, its flexible-window offset drawn from ``key``."""
    scheduled = next_time(timing, after)
    if scheduled is None:
        return None
    return Occurrence(scheduled, scheduled + window_offset(timing.window_minutes, key, scheduled))


def window_offset(window_minutes: int, key: str, scheduled: float) -> float:
    """Seconds after the scheduled time, in [0, window): random, but fixed per occurrence."""
    if window_minutes <= 0:
        return 0.0
    return random.Random(f"{key}@{scheduled}").uniform(0, window_minutes * 60)


def _next_rate(rate: Rate, timing: Timing, after: float) -> float:
    step = rate.seconds
    first = timing.start if timing.start is not None else timing.created + step
    if after < first:
        return first
    return first + (int((after - first) // step) + 1) * step


def _next_cron(cron: Cron, timing: Timing, after: float) -> float | None:
    """Day by day from the local date of ``after``; each matching day's times in order."""
    lower = after if timing.start is None else max(after, timing.start - 1e-6)
    local = datetime.fromtimestamp(lower, timing.zone)
    day = local.date()
    while day.year <= MAX_YEAR:
        if day.year not in cron.years:
            day = date(day.year + 1, 1, 1)
            continue
        if day.month not in cron.months:
            day = _first_of_next_month(day)
            continue
        if cron.matches_day(day):
            found = _first_time_on(cron, day, timing.zone, lower)
            if found is not None:
                return found
        day += timedelta(days=1)
    return None


def _first_time_on(cron: Cron, day: date, zone: ZoneInfo, lower: float) -> float | None:
    for hour in cron.hours:
        for minute in cron.minutes:
            instant = wall_to_instant(datetime.combine(day, time(hour, minute)), zone)
            if instant is not None and instant > lower:
                return instant
    return None


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> float | None:
    """A local wall-clock time as an instant: None in a DST gap, the first of a repeat."""
    aware = wall.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != wall:
        return None  # the hour the clocks skipped: this time does not exist there
    return aware.timestamp()


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
