"""EventBridge Scheduler's schedule expressions, parsed and matched (pure).

Three forms (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):

- ``at(yyyy-mm-ddThh:mm:ss)``: one time, a wall-clock time in the schedule's time zone;
- ``rate(value unit)``: a positive whole ``value``, ``unit`` minute(s), hour(s) or day(s);
- ``cron(minutes hours day-of-month month day-of-week year)``, EventBridge's cron
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html):

  ===========  ================  ==================
  field        values            wildcards
  ===========  ================  ==================
  minutes      0-59              , - * /
  hours        0-23              , - * /
  day-of-month 1-31              , - * ? / L W
  month        1-12 or JAN-DEC   , - * /
  day-of-week  1-7 or SUN-SAT    , - * ? L #
  year         1970-2199         , - * /
  ===========  ================  ==================

  "You can't use * in both the Day-of-month and Day-of-week fields. If you use it in one,
  you must use ? in the other"; "you cannot specify the Day-of-month and Day-of-week fields
  in the same cron expression" (one of them is ``?``). ``L`` is the last day of the month
  (day-of-month) or of the week (day-of-week: 7, Saturday; ``5L`` the month's last
  Thursday); ``3W`` is the weekday nearest the 3rd (never leaving the month; ``LW`` the
  last weekday); ``3#2`` the month's second Tuesday, and with ``#`` the day-of-week
  field holds only that one expression ("3#1,6#3" is invalid).

AWS answers an expression it cannot read with ``ValidationException: Invalid Schedule
Expression <expression>.`` (the wording LocalStack's provider matches against AWS).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

_MONTH_NAMES = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, start=1)}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MIN_YEAR, MAX_YEAR = 1970, 2199
MAX_LENGTH = 256  # the API model's ScheduleExpression maximum

_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_RATE = re.compile(r"rate\((\d+) +(minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ExpressionError(ValueError):
    """An expression AWS refuses; the message is AWS's ValidationException text."""

    def __init__(self, expression: str, detail: str = "") -> None:
        super().__init__(f"Invalid Schedule Expression {expression}.")
        self.expression = expression
        self.detail = detail  # why, for the emulator's log (AWS does not say)


@dataclass(frozen=True)
class At:
    """A one-time schedule: a wall-clock time, read in the schedule's time zone."""

    when: datetime  # naive


@dataclass(frozen=True)
class Rate:
    """A recurring schedule every ``seconds`` (days are 24 h steps, whatever DST does)."""

    value: int
    unit: str  # minute, hour or day

    @property
    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class DayOfMonth:
    """The day-of-month field: days, ``L``, ``nW``, ``LW`` (empty when it is ``?``)."""

    days: frozenset[int] = frozenset()
    last: bool = False  # L
    nearest_weekday: int | None = None  # nW
    last_weekday: bool = False  # LW
    any: bool = False  # ?

    def matches(self, day: date) -> bool:
        length = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days or (self.last and day.day == length):
            return True
        if self.last_weekday:
            return day == _nearest_weekday(day.year, day.month, length)
        if self.nearest_weekday is not None:
            target = min(self.nearest_weekday, length)
            return day == _nearest_weekday(day.year, day.month, target)
        return False


@dataclass(frozen=True)
class DayOfWeek:
    """The day-of-week field, 1 = Sunday: days, ``nL`` (last n-day), ``n#k`` (k-th n-day)."""

    days: frozenset[int] = frozenset()
    last_of_month: int | None = None  # nL
    nth: tuple[int, int] | None = None  # n#k
    any: bool = False  # ?

    def matches(self, day: date) -> bool:
        weekday = (day.isoweekday() % 7) + 1  # Monday=2 .. Sunday=1
        if weekday in self.days:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        if self.last_of_month is not None:
            return weekday == self.last_of_month and day.day + 7 > length
        if self.nth is not None:
            return weekday == self.nth[0] and (day.day - 1) // 7 + 1 == self.nth[1]
        return False


@dataclass(frozen=True)
class Cron:
    """A cron expression's six fields as sets (or the day rules)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonth
    months: frozenset[int]
    day_of_week: DayOfWeek
    years: frozenset[int]

    def matches_day(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month.any:
            return self.day_of_week.matches(day)
        return self.day_of_month.matches(day)


Expression = At | Rate | Cron


def parse(expression: str) -> Expression:
    """The expression, or ExpressionError with AWS's message."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(expression, f"longer than {MAX_LENGTH} characters")
    if match := _AT.fullmatch(expression):
        try:
            year, month, day, hour, minute, second = (int(g) for g in match.groups())
            return At(datetime(year, month, day, hour, minute, second))
        except ValueError as exc:
            raise ExpressionError(expression, str(exc)) from exc
    if match := _RATE.fullmatch(expression):
        value = int(match.group(1))
        if value < 1:
            raise ExpressionError(expression, "the value must be a positive whole number")
        return Rate(value, match.group(2).rstrip("s"))
    if match := _CRON.fullmatch(expression):
        return _cron(expression, match.group(1))
    raise ExpressionError(expression, "not at(...), rate(...) or cron(...)")


def _cron(expression: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ExpressionError(expression, f"{len(fields)} fields, cron has 6")
    minute, hour, dom, month, dow, year = fields
    try:
        cron = Cron(
            minutes=tuple(sorted(_values(minute, 0, 59))),
            hours=tuple(sorted(_values(hour, 0, 23))),
            day_of_month=_day_of_month(dom),
            months=frozenset(_values(month, 1, 12, MONTHS)),
            day_of_week=_day_of_week(dow),
            years=frozenset(_values(year, MIN_YEAR, MAX_YEAR)),
        )
    except ValueError as exc:
        raise ExpressionError(expression, str(exc)) from exc
    if cron.day_of_month.any == cron.day_of_week.any:
        raise ExpressionError(expression, "exactly one of day-of-month and day-of-week is ?")
    return cron


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """``*``, ``a``, ``a-b``, ``*/s``, ``a/s``, ``a-b/s`` and lists of them."""
    out: set[int] = set()
    for item in field.split(","):
        out |= _item(item, low, high, names or {})
    return out


def _item(item: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    span, slash, step_text = item.partition("/")
    step = _number(step_text, 1, high - low + 1 if high > low else 1, {}) if slash else 1
    if span == "*":
        first, last = low, high
    elif "-" in span:
        start, _, end = span.partition("-")
        first, last = _number(start, low, high, names), _number(end, low, high, names)
    else:
        first = _number(span, low, high, names)
        last = high if slash else first  # "1/10": from 1 on, every 10th
    if first <= last:
        return set(range(first, last + 1, step))
    # A range that wraps (FRI-MON, 22-2): from its start to the end, then from the start.
    size = high - low + 1
    return {low + (first - low + i) % size for i in range(0, (last - first) % size + 1, step)}


def _number(text: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}-{high}")
    return value


def _day_of_month(field: str) -> DayOfMonth:
    if field == "?":
        return DayOfMonth(any=True)
    if field == "L":
        return DayOfMonth(last=True)
    if field == "LW":
        return DayOfMonth(last_weekday=True)
    if field.endswith("W"):
        return DayOfMonth(nearest_weekday=_number(field[:-1], 1, 31, {}))
    return DayOfMonth(days=frozenset(_values(field, 1, 31)))


def _day_of_week(field: str) -> DayOfWeek:
    if field == "?":
        return DayOfWeek(any=True)
    if field == "L":
        return DayOfWeek(days=frozenset({7}))  # the last day of the week: Saturday
    if "#" in field:
        day, _, nth = field.partition("#")
        return DayOfWeek(nth=(_number(day, 1, 7, DAYS), _number(nth, 1, 5, {})))
    if field.endswith("L"):
        return DayOfWeek(last_of_month=_number(field[:-1], 1, 7, DAYS))
    return DayOfWeek(days=frozenset(_values(field, 1, 7, DAYS)))


def _nearest_weekday(year: int, month: int, day: int) -> date:
    """The weekday nearest ``day``, never leaving the month (Quartz's ``W``)."""
    target = date(year, month, day)
    weekday = target.weekday()  # Monday = 0
    if weekday < 5:
        return target
    length = calendar.monthrange(year, month)[1]
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return target.replace(day=day - 1) if day > 1 else target.replace(day=3)
    # Sunday: the Monday after, or the Friday before on the last day
    return target.replace(day=day + 1) if day < length else target.replace(day=day - 2)
