"""The values metric math computes with: scalars, time series, arrays of time series.

A time series is a mapping from period-start timestamps (epoch seconds) to values; a missing
datapoint is simply absent, and the mapping's order carries no meaning. Pointwise helpers
follow the metric math rules of the CloudWatch User Guide (using-metric-math): between two
series "missing values ... are treated as 0", a point whose computation fails (division by
zero, overflow, a complex power) "is dropped".
A failed scalar computation is NaN, and NaN points never reach a result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TimeSeries:
    """One time series; ``period`` is set only for metrics (what PERIOD() may read)."""

    label: str
    points: Mapping[int, float] = field(default_factory=dict)  # timestamp -> value, any order
    period: int | None = None
    query_id: str = ""

    def with_points(self, points: Mapping[int, float]) -> TimeSeries:
        """The same series (label, id) with other points; no longer a metric."""
        return TimeSeries(self.label, clean(points), None, self.query_id)

    def timestamps(self) -> list[int]:
        return sorted(self.points)


SeriesArray = tuple[TimeSeries, ...]


@dataclass(frozen=True)
class Text:
    """A string literal, as METRICS("filter") takes."""

    value: str


@dataclass(frozen=True)
class Keyword:
    """A bare keyword argument such as FILL's REPEAT or LINEAR."""

    name: str


Value = float | TimeSeries | SeriesArray | Text | Keyword
BinaryFn = Callable[[float, float], float]
UnaryFn = Callable[[float], float]


def describe(value: Value) -> str:
    """The metric math type name of a value, for error messages."""
    if isinstance(value, float):
        return "a scalar"
    if isinstance(value, TimeSeries):
        return "a time series"
    if isinstance(value, tuple):
        return "an array of time series"
    if isinstance(value, Text):
        return "a string"
    return f"the keyword {value.name}"


def clean(points: Mapping[int, float]) -> dict[int, float]:
    """The points without the ones a failed computation left as NaN or infinite.

    Insertion order is kept, not re-sorted: whatever needs time order sorts the timestamps
    (:meth:`TimeSeries.timestamps`), so every operation need not pay for a sort.
    """
    isfinite = math.isfinite
    return {t: v for t, v in points.items() if isfinite(v)}


def guarded(fn: BinaryFn) -> BinaryFn:
    """``fn`` that answers NaN instead of raising on division by zero, overflow or domain."""

    def run(a: float, b: float) -> float:
        try:
            return fn(a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            return math.nan

    return run


def guarded_unary(fn: UnaryFn) -> UnaryFn:
    """The one-argument form of :func:`guarded`."""

    def run(a: float) -> float:
        try:
            return fn(a)
        except (ZeroDivisionError, OverflowError, ValueError):
            return math.nan

    return run


def map_points(series: TimeSeries, fn: UnaryFn) -> TimeSeries:
    """Apply ``fn`` to every point; failed points are dropped."""
    return series.with_points({t: fn(v) for t, v in series.points.items()})


def with_scalar(series: TimeSeries, scalar: float, fn: BinaryFn, scalar_left: bool) -> TimeSeries:
    """``series op scalar`` (or ``scalar op series``) point by point."""
    if scalar_left:
        return series.with_points({t: fn(scalar, v) for t, v in series.points.items()})
    return series.with_points({t: fn(v, scalar) for t, v in series.points.items()})


def combine(left: TimeSeries, right: TimeSeries, fn: BinaryFn) -> TimeSeries:
    """``left op right`` over the union of timestamps; a point missing on one side counts 0."""
    a, b = left.points, right.points
    if a.keys() == b.keys():
        return left.with_points({t: fn(v, b[t]) for t, v in a.items()})
    times = a.keys() | b.keys()
    return left.with_points({t: fn(a.get(t, 0.0), b.get(t, 0.0)) for t in times})


def union_timestamps(series: Iterable[TimeSeries]) -> list[int]:
    """Every timestamp present in at least one series, ascending."""
    times: set[int] = set()
    for one in series:
        times.update(one.points)
    return sorted(times)


def grid(start: int, end: int, period: int) -> range:
    """The period starts of ``[start, end)``: where a gap-free series has its points."""
    return range(start, end, max(period, 1))
