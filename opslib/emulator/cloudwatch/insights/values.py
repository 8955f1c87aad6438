"""Values inside a Logs Insights query: their types, comparisons, sort order and AWS text.

A field value is ``str``, ``int``, ``float``, ``bool`` (function results), a
:class:`Timestamp` (epoch milliseconds that print as AWS prints them) or ``None`` (absent).
Comparisons are numeric when both sides read as numbers (a field parsed from text as "200"
equals 200), else textual; an absent side makes every comparison false.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SORT_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CHUNKS = re.compile(r"[0-9]+|[^0-9]+")
MS_PER_UNIT = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MONTHS_PER_UNIT = {"mo": 1, "q": 3, "y": 12}
# AWS's bin() units with their spellings; multi-letter ones also take a plural "s".
UNIT_NAMES = {
    "ms": "ms",
    "msec": "ms",
    "millisecond": "ms",
    "s": "s",
    "sec": "s",
    "second": "s",
    "m": "m",
    "min": "m",
    "minute": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "d": "d",
    "day": "d",
    "w": "w",
    "week": "w",
    "mo": "mo",
    "mon": "mo",
    "month": "mo",
    "q": "q",
    "qtr": "q",
    "quarter": "q",
    "y": "y",
    "yr": "y",
    "year": "y",
}


class Timestamp(int):
    """Epoch milliseconds that print as ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC), as AWS returns them."""


@dataclass(frozen=True)
class Period:
    """A time period such as ``5m`` or ``1mo``: ``count`` of a canonical ``unit``."""

    count: int
    unit: str  # a value of UNIT_NAMES


def parse_period(text: str) -> Period | None:
    """``5m``, ``2hrs``, ``1quarter`` to a :class:`Period`; None if not a period."""
    match = re.fullmatch(r"(\d+)([A-Za-z]+)", text)
    if match is None or int(match.group(1)) == 0:
        return None
    name = match.group(2).lower()
    unit = UNIT_NAMES.get(name)
    if unit is None and len(name) > 2 and name.endswith("s"):
        unit = UNIT_NAMES.get(name[:-1])
    return None if unit is None else Period(int(match.group(1)), unit)


def floor_period(millis: int, period: Period) -> Timestamp:
    """The start of the period containing ``millis``: epoch multiples, Mondays, months."""
    if period.unit in MS_PER_UNIT:
        size = period.count * MS_PER_UNIT[period.unit]
        return Timestamp(millis - millis % size)
    if period.unit == "w":
        week = (millis // 86_400_000 + 3) // 7  # 1970-01-01 was a Thursday
        return Timestamp(((week - week % period.count) * 7 - 3) * 86_400_000)
    months = period.count * MONTHS_PER_UNIT[period.unit]
    moment = _EPOCH + timedelta(milliseconds=millis)
    index = (moment.year - 1970) * 12 + moment.month - 1
    return _month_start(index - index % months)


def ceil_period(millis: int, period: Period) -> Timestamp:
    """The first period boundary at or after ``millis``."""
    floor = floor_period(millis, period)
    if floor == millis:
        return floor
    if period.unit in MS_PER_UNIT or period.unit == "w":
        size = period.count * (MS_PER_UNIT.get(period.unit) or 7 * 86_400_000)
        return Timestamp(floor + size)
    moment = _EPOCH + timedelta(milliseconds=floor)
    index = (moment.year - 1970) * 12 + moment.month - 1
    return _month_start(index + period.count * MONTHS_PER_UNIT[period.unit])


def _month_start(index: int) -> Timestamp:
    start = datetime(1970 + index // 12, index % 12 + 1, 1, tzinfo=UTC)
    return Timestamp((start - _EPOCH) // timedelta(milliseconds=1))


def format_timestamp(millis: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis % 1000:03d}"


def format_value(value: Any) -> str:
    """A value as GetQueryResults prints it: whole floats without ``.0``, at most 4 decimals,
    booleans as 1/0 (the guide's ispresent example)."""
    if isinstance(value, Timestamp):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Computed numbers come back with at most 4 decimals ("27.6566" in a real capture).
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def to_number(value: Any) -> float | int | None:
    """The number a value reads as, or None (absent, boolean, non-numeric text)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def to_text(value: Any) -> str | None:
    return None if value is None else format_value(value)


def equals(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return a == b
    return format_value(left) == format_value(right)


def order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 comparing two values; None when one is absent."""
    if left is None or right is None:
        return None
    a: Any = to_number(left)
    b: Any = to_number(right)
    if a is None or b is None:
        a, b = format_value(left), format_value(right)
    return int(a > b) - int(a < b)


def truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value != ""
    return bool(value)


def natural_key(value: Any) -> tuple[int, Any]:
    """AWS's sort order (CWL_QuerySyntax-Sort): all text before all numbers; numbers by value;
    text chunked into digit runs (by length, then value) and other runs (by Unicode)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, (value, ""))
    text = format_value(value)
    if _SORT_NUMBER.fullmatch(text):
        return (1, (float(text), text))
    return (0, [_chunk_key(chunk) for chunk in _CHUNKS.findall(text)])


def _chunk_key(chunk: str) -> tuple[Any, ...]:
    # A digit chunk and a text chunk always differ at their first character, and no
    # non-digit lies between "0" and "9", so "0" stands for every digit chunk there.
    if chunk[0].isdigit():
        return ("0", len(chunk), int(chunk))
    return (chunk,)
