"""EventBridge Scheduler's schedule expressions: the syntax check and the next fire times.

Pure and on the ground floor (it imports nothing of opslib), so the config can refuse a bad
``schedules[].expression`` before anything is created, and ``opslib schedule list`` can say
when each schedule fires next. It is a syntax check of what the Scheduler documents
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), not the
emulator's engine that fires schedules (that lives inside the emulator, which the library
may not import):

- ``rate(value unit)``: a positive integer and ``minute | minutes | hour | hours | day |
  days`` (the API reference's list);
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields, AWS's cron with
  ``, - * / ? L W #``; one of day-of-month and day-of-week must be ``?`` ("You can't specify
  the Day-of-month and Day-of-week fields in the same cron expression"); day-of-week 1-7 is
  SUN-SAT; year 1970-2199;
- ``at(yyyy-mm-ddThh:mm:ss)``: one time, in the schedule's timezone.

An expression is at most 256 characters and a timezone at most 50 (CreateSchedule's
limits), a timezone an IANA name. Next fire times follow the Scheduler's daylight-saving
rules: a cron time in a skipped hour is skipped, a repeated hour fires once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_EXPRESSION = 256
MAX_TIMEZONE = 50
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>[a-z]+)\)")
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_EXAMPLES = "rate(1 hour), cron(0 6 * * ? *) or at(2030-01-31T06:00:00)"
_SEARCH_DAYS = 3700  # how far ahead next fire times are looked for (Feb 29 every 4-8 years)


class ExpressionError(ValueError):
    """Why an expression is not one the Scheduler accepts (one line, for the config error)."""


@dataclass(frozen=True)
class FieldSpec:
    """One cron field: its name, range, names for its values and the special characters."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    question: bool = False  # ? (no specific value) allowed


_FIELDS = (
    FieldSpec("minutes", 0, 59),
    FieldSpec("hours", 0, 23),
    FieldSpec("day-of-month", 1, 31, question=True),
    FieldSpec("month", 1, 12, MONTHS),
    FieldSpec("day-of-week", 1, 7, WEEKDAYS, question=True),
    FieldSpec("year", 1970, 2199),
)


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every ``seconds`` from the schedule's start."""

    seconds: int


@dataclass(frozen=True)
class At:
    """``at(...)``: once, at ``when`` (naive: in the schedule's timezone)."""

    when: datetime


@dataclass(frozen=True)
class DayRule:
    """A day-of-month or day-of-week field: plain values and the L/W/# specials."""

    values: frozenset[int] = frozenset()
    any: bool = False  # "?": this field does not choose the day
    last: bool = False  # day-of-month L: the last day of the month
    weekday_near: int | None = None  # day-of-month nW (0 for LW): nearest weekday
    last_weekday: int | None = None  # day-of-week nL: the last such day of the month
    nth: tuple[int, int] | None = None  # day-of-week d#k: the k-th such day of the month


@dataclass(frozen=True)
class Cron:
    """``cron(...)`` as sets of allowed values per field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayRule
    months: frozenset[int]
    day_of_week: DayRule
    years: frozenset[int]


Expression = Rate | Cron | At


def parse(expression: object) -> Expression:
    """The expression as data, or ExpressionError saying what is wrong."""
    if not isinstance(expression, str) or not expression:
        raise ExpressionError(f"expected a schedule expression such as {_EXAMPLES}")
    if len(expression) > MAX_EXPRESSION:
        raise ExpressionError(f"at most {MAX_EXPRESSION} characters")
    if expression.startswith("rate("):
        return _rate(expression)
    if expression.startswith("cron("):
        return _cron(expression)
    if expression.startswith("at("):
        return _at(expression)
    raise ExpressionError(f"expected rate(...), cron(...) or at(...), such as {_EXAMPLES}")


def problem(expression: object) -> str | None:
    """Why ``expression`` is not valid (one line), or None."""
    try:
        parse(expression)
    except ExpressionError as exc:
        return str(exc)
    return None


def _rate(expression: str) -> Rate:
    match = _RATE.fullmatch(expression)
    usage = "expected rate(value unit): a positive integer and minute(s), hour(s) or day(s)"
    if not match or match["unit"] not in RATE_UNITS:
        raise ExpressionError(usage)
    value = int(match["value"])
    if value < 1:
        raise ExpressionError(f"{usage}; the value must be at least 1")
    return Rate(value * RATE_UNITS[match["unit"]])


def _at(expression: str) -> At:
    match = _AT.fullmatch(expression)
    if not match:
        raise ExpressionError("expected at(yyyy-mm-ddThh:mm:ss), such as at(2030-01-31T06:00:00)")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return At(datetime(year, month, day, hour, minute, second))
    except ValueError as exc:
        raise ExpressionError(f"at(...): not a real date and time ({exc})") from None


def _cron(expression: str) -> Cron:
    match = _CRON.fullmatch(expression)
    parts = match["fields"].split() if match else []
    if len(parts) != len(_FIELDS):
        raise ExpressionError(
            "expected cron(minutes hours day-of-month month day-of-week year): six fields, "
            "such as cron(0 6 * * ? *)"
        )
    minutes, hours, dom, months, dow, years = parts
    day_of_month = _day_of_month(dom)
    day_of_week = _day_of_week(dow)
    if day_of_month.any == day_of_week.any:
        raise ExpressionError(
            "cron(...): exactly one of day-of-month and day-of-week must be '?' "
            "(a value or * in one needs ? in the other)"
        )
    return Cron(
        _values(minutes, _FIELDS[0]),
        _values(hours, _FIELDS[1]),
        day_of_month,
        _values(months, _FIELDS[3]),
        day_of_week,
        _values(years, _FIELDS[5]),
    )


def _fail(spec: FieldSpec, text: str, why: str) -> ExpressionError:
    return ExpressionError(f"cron(...): {spec.name} {text!r}: {why}")


def _number(text: str, spec: FieldSpec) -> int:
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.low
    if not text.isdigit():
        named = f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        raise _fail(spec, text, f"expected a number from {spec.low} to {spec.high}{named}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise _fail(spec, text, f"out of range {spec.low}-{spec.high}")
    return value


def _span(start: int, end: int, step: int, spec: FieldSpec) -> list[int]:
    """start..end by step; a range that wraps (FRI-MON, 22-2) goes round the field's end."""
    size = spec.high - spec.low + 1
    count = (end - start) % size + 1 if spec.name != "year" else end - start + 1
    if count < 1:
        raise _fail(spec, f"{start}-{end}", "a range must not run backwards")
    return [spec.low + (start - spec.low + i) % size for i in range(0, count, step)]


def _item(item: str, spec: FieldSpec) -> list[int]:
    body, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise _fail(spec, item, "expected a positive step after '/'")
        step = int(step_text)
    if body == "*":
        return _span(spec.low, spec.high, step, spec)
    start_text, dash, end_text = body.partition("-")
    start = _number(start_text, spec)
    end = _number(end_text, spec) if dash else (spec.high if slash else start)
    return _span(start, end, step, spec)


def _values(text: str, spec: FieldSpec) -> frozenset[int]:
    if text == "?":
        raise _fail(spec, text, "'?' is allowed only in day-of-month or day-of-week")
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _fail(spec, text, "empty item in a list")
        values.update(_item(item, spec))
    return frozenset(values)


def _day_of_month(text: str) -> DayRule:
    spec = _FIELDS[2]
    if text == "?":
        return DayRule(any=True)
    if text == "L":
        return DayRule(last=True)
    if text == "LW":
        return DayRule(weekday_near=0)
    if text.endswith("W"):
        return DayRule(weekday_near=_number(text[:-1], spec))
    if "L" in text or "W" in text or "#" in text:
        raise _fail(spec, text, "L, LW and nW stand alone; # belongs to day-of-week")
    return DayRule(values=_values(text, spec))


def _day_of_week(text: str) -> DayRule:
    spec = _FIELDS[4]
    if text == "?":
        return DayRule(any=True)
    if text == "L":  # the last day of the week: Saturday
        return DayRule(values=frozenset({7}))
    if text.endswith("L"):
        return DayRule(last_weekday=_number(text[:-1], spec))
    if "#" in text:
        day, _, nth = text.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise _fail(spec, text, "expected day#n with n from 1 to 5 (3#2: the second TUE)")
        return DayRule(nth=(_number(day, spec), int(nth)))
    if "W" in text:
        raise _fail(spec, text, "W belongs to day-of-month")
    return DayRule(values=_values(text, spec))


# --- timezones ------------------------------------------------------------------------------


@functools.cache
def known_timezones() -> frozenset[str]:
    """The IANA timezone names this Python knows (tzdata), UTC included."""
    return frozenset(available_timezones() | {"UTC"})


def timezone_problem(name: object) -> str | None:
    """Why ``name`` is not a timezone the Scheduler takes (an IANA name), or None."""
    if not isinstance(name, str) or not name or len(name) > MAX_TIMEZONE:
        return f"expected an IANA timezone name of at most {MAX_TIMEZONE} characters, such as UTC"
    if name not in known_timezones():
        return "expected an IANA timezone name such as UTC, Europe/Paris or America/New_York"
    return None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"unknown timezone {name!r}") from exc


# --- next fire times ------------------------------------------------------------------------


def next_fires(
    expression: object,
    timezone: str,
    after: datetime,
    count: int = 3,
    start: datetime | None = None,
) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after`` (aware, UTC).

    ``start`` anchors a rate: the schedule fires at start, start + rate, ... (the
    Scheduler starts a rate schedule at its StartDate, or at once when it has none).
    """
    parsed = parse(expression)
    after = after.astimezone(UTC)
    if isinstance(parsed, Rate):
        return _rate_fires(parsed, start or after, after, count)
    tz = zone(timezone)
    if isinstance(parsed, At):
        when = parsed.when.replace(tzinfo=tz).astimezone(UTC)
        return [when] if when > after else []
    fires: list[datetime] = []
    for when in _cron_times(parsed, tz, after):
        fires.append(when)
        if len(fires) == count:
            break
    return fires


def _rate_fires(rate: Rate, start: datetime, after: datetime, count: int) -> list[datetime]:
    start = start.astimezone(UTC)
    step = timedelta(seconds=rate.seconds)
    first = start if start > after else start + step * ((after - start) // step + 1)
    return [first + step * i for i in range(count)]


def _cron_times(cron: Cron, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    day = after.astimezone(tz).date()
    for offset in range(_SEARCH_DAYS):
        current = day + timedelta(days=offset)
        if current.year > max(cron.years):
            return
        if not day_matches(cron, current):
            continue
        for hour in sorted(cron.hours):
            for minute in sorted(cron.minutes):
                when = _local(current, hour, minute, tz)
                if when is not None and when > after:
                    yield when


def _local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime | None:
    """A wall-clock time in ``tz`` as UTC; None when DST skips it (the Scheduler skips it)."""
    naive = datetime(day.year, day.month, day.day, hour, minute)
    aware = naive.replace(tzinfo=tz)  # fold=0: a repeated hour fires once, the first time
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return aware.astimezone(UTC) if back == naive else None


def cron_weekday(day: date) -> int:
    """AWS cron's day-of-week: 1 is Sunday, 7 is Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _nearest_weekday(day: date, target: int) -> int:
    """The weekday (MON-FRI) nearest to day ``target`` of the month, within the month."""
    last = _last_day(day)
    target = last if target == 0 or target > last else target
    weekday = date(day.year, day.month, target).weekday()
    if weekday == 5:  # Saturday: the Friday before, or Monday when that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or Friday when that leaves the month
        return target + 1 if target < last else target - 2
    return target


def _day_of_month_matches(rule: DayRule, day: date) -> bool:
    if rule.last:
        return day.day == _last_day(day)
    if rule.weekday_near is not None:
        return day.day == _nearest_weekday(day, rule.weekday_near)
    return day.day in rule.values


def _day_of_week_matches(rule: DayRule, day: date) -> bool:
    weekday = cron_weekday(day)
    if rule.last_weekday is not None:
        return weekday == rule.last_weekday and day.day + 7 > _last_day(day)
    if rule.nth is not None:
        return weekday == rule.nth[0] and (day.day - 1) // 7 + 1 == rule.nth[1]
    return weekday in rule.values


def day_matches(cron: Cron, day: date) -> bool:
    """Whether the cron fires on ``day`` at all (year, month and the one day field)."""
    if day.year not in cron.years or day.month not in cron.months:
        return False
    if cron.day_of_month.any:
        return _day_of_week_matches(cron.day_of_week, day)
    return _day_of_month_matches(cron.day_of_month, day)
