"""The functions metric math offers, as a registry: name -> how to compute it.

Semantics from the CloudWatch User Guide (using-metric-math, "Functions supported for metric
math" and "Using IF expressions"):

- ABS, CEIL, FLOOR, LOG, LOG10: per point of a TS or of each TS in a TS[] (scalars too).
- SUM, AVG, MIN, MAX: of one TS -> a scalar over its points; of a TS[] -> one TS, point by
  point over the union of timestamps. AVG of a TS[] treats a missing value as 0 (documented);
  SUM, MIN and MAX use the values present.
- FILL(TS|TS[], S|TS|REPEAT|LINEAR): fills the missing periods of the query range; REPEAT
  repeats the most recent real value before the gap (none before the first real value);
  LINEAR interpolates in time between the values that bound the gap (none at the edges).
- IF(cond, a[, b]) exactly as the guide's tables: a true point takes a (0 when a is a TS
  without that point), a false point takes b, and is dropped when b has no point there or is
  omitted; only timestamps of cond exist in the result. A scalar cond picks a or b whole.
- RATE, DIFF, DIFF_TIME: between consecutive present points, stamped at the later one.
- PERIOD(m): the metric's period; only metrics, not expression results.
- METRICS() / METRICS("s"): every MetricStat query of the request (in request order) whose
  Id contains ``s``; expressions are not included.
- DATAPOINT_COUNT, RUNNING_SUM, TIME_SERIES, METRIC_COUNT, REMOVE_EMPTY, FIRST, LAST.

Deliberately left out (no dashboard or alarm of the stack uses them): SEARCH, SORT, SLICE,
STDDEV, ANOMALY_DETECTION_BAND, INSIGHT_RULE_METRIC, SERVICE_QUOTA, the MINUTE/HOUR/DAY/DATE/
MONTH/YEAR/EPOCH family and Metrics Insights queries. They are unknown functions here, and an
expression using one is answered with an error naming it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from opslib.emulator.cloudwatch.timeseries import (
    Keyword,
    SeriesArray,
    Text,
    TimeSeries,
    UnaryFn,
    Value,
    describe,
    grid,
    guarded_unary,
    map_points,
    union_timestamps,
)


class CallContext(Protocol):
    """What a function may ask of the evaluation it runs in."""

    start: int
    end: int
    period: int

    def metrics(self) -> SeriesArray:
        """Every MetricStat query's series, in request order."""
        ...

    def fail(self, message: str) -> NoReturn:
        """Raise the expression error for this call, with its position."""
        ...


Function = Callable[[CallContext, Sequence[Value]], Value]


@dataclass(frozen=True)
class FunctionSpec:
    """One registered function: its name, argument count bounds and implementation."""

    name: str
    min_args: int
    max_args: int
    run: Function


FUNCTIONS: dict[str, FunctionSpec] = {}


def register(name: str, min_args: int, max_args: int) -> Callable[[Function], Function]:
    def add(fn: Function) -> Function:
        FUNCTIONS[name] = FunctionSpec(name, min_args, max_args, fn)
        return fn

    return add


# ---------------------------------------------------------------------------------------------
# argument helpers


def series_list(ctx: CallContext, value: Value, name: str) -> SeriesArray:
    """A TS[] argument (a single TS counts as an array of one)."""
    if isinstance(value, TimeSeries):
        return (value,)
    if isinstance(value, tuple):
        return value
    ctx.fail(f"{name} expects an array of time series, not {describe(value)}")


def pointwise(ctx: CallContext, value: Value, fn: UnaryFn, name: str) -> Value:
    """Apply ``fn`` to a scalar, every point of a TS, or every TS of a TS[]."""
    if isinstance(value, float):
        return guarded_unary(fn)(value)
    if isinstance(value, TimeSeries):
        return map_points(value, guarded_unary(fn))
    if isinstance(value, tuple):
        return tuple(map_points(s, guarded_unary(fn)) for s in value)
    ctx.fail(f"{name} expects a time series, not {describe(value)}")


def per_series(
    ctx: CallContext, value: Value, fn: Callable[[TimeSeries], TimeSeries], name: str
) -> Value:
    """Apply a series transform to a TS or to each TS of a TS[]."""
    if isinstance(value, TimeSeries):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(fn(s) for s in value)
    ctx.fail(f"{name} expects a time series, not {describe(value)}")


def _unary(name: str, fn: UnaryFn) -> None:
    register(name, 1, 1)(lambda ctx, args: pointwise(ctx, args[0], fn, name))


_unary("ABS", abs)
_unary("CEIL", lambda v: float(math.ceil(v)))
_unary("FLOOR", lambda v: float(math.floor(v)))
_unary("LOG", math.log)
_unary("LOG10", math.log10)


# ---------------------------------------------------------------------------------------------
# aggregates: TS -> scalar, TS[] -> TS

Fold = Callable[[float, float], float]


def _across(array: SeriesArray, fold: Fold) -> dict[int, float]:
    """Fold the values present at each timestamp of an array of series (one pass per series)."""
    out: dict[int, float] = {}
    for series in array:
        for t, v in series.points.items():
            out[t] = fold(out[t], v) if t in out else v
    return out


def _aggregate(
    name: str, over_values: Callable[[list[float]], float], fold: Fold, average: bool = False
) -> None:
    def run(ctx: CallContext, args: Sequence[Value]) -> Value:
        value = args[0]
        if isinstance(value, TimeSeries):
            values = list(value.points.values())
            return over_values(values) if values else math.nan
        array = series_list(ctx, value, name)
        points = _across(array, fold)
        if average:  # AVG of a TS[] counts a missing value as 0 (documented)
            points = {t: v / len(array) for t, v in points.items()}
        label = array[0].label if len(array) == 1 else name
        return TimeSeries(label).with_points(points)

    register(name, 1, 1)(run)


_aggregate("SUM", math.fsum, operator.add)
_aggregate("AVG", lambda v: math.fsum(v) / len(v), operator.add, average=True)
_aggregate("MIN", min, min)
_aggregate("MAX", max, max)


@register("DATAPOINT_COUNT", 1, 1)
def _datapoint_count(ctx: CallContext, args: Sequence[Value]) -> Value:
    value = args[0]
    if isinstance(value, TimeSeries):
        return float(len(value.points))
    array = series_list(ctx, value, "DATAPOINT_COUNT")
    counts = {t: float(sum(t in s.points for s in array)) for t in union_timestamps(array)}
    return TimeSeries("DATAPOINT_COUNT").with_points(counts)


@register("METRIC_COUNT", 1, 1)
def _metric_count(ctx: CallContext, args: Sequence[Value]) -> Value:
    return float(len(series_list(ctx, args[0], "METRIC_COUNT")))


# ---------------------------------------------------------------------------------------------
# FILL


def _fill_points(ctx: CallContext, series: TimeSeries, filler: Value) -> TimeSeries:
    period = series.period or ctx.period
    points = dict(series.points)
    slots = [t for t in grid(ctx.start, ctx.end, period) if t not in points]
    if isinstance(filler, float):
        points.update(dict.fromkeys(slots, filler))
    elif isinstance(filler, TimeSeries):
        points.update({t: filler.points[t] for t in slots if t in filler.points})
    elif isinstance(filler, Keyword) and filler.name == "REPEAT":
        points.update(_repeat(points, slots))
    elif isinstance(filler, Keyword) and filler.name == "LINEAR":
        points.update(_linear(points, slots))
    else:
        ctx.fail(
            f"FILL cannot fill with {describe(filler)}; use a number, a series, REPEAT or LINEAR"
        )
    return series.with_points(points)


def _repeat(points: dict[int, float], slots: list[int]) -> dict[int, float]:
    known = sorted(points)
    filled: dict[int, float] = {}
    index = 0
    for slot in slots:
        while index < len(known) and known[index] < slot:
            index += 1
        if index > 0:
            filled[slot] = points[known[index - 1]]
    return filled


def _linear(points: dict[int, float], slots: list[int]) -> dict[int, float]:
    known = sorted(points)
    filled: dict[int, float] = {}
    index = 0
    for slot in slots:
        while index < len(known) and known[index] < slot:
            index += 1
        if 0 < index < len(known):
            t0, t1 = known[index - 1], known[index]
            v0, v1 = points[t0], points[t1]
            filled[slot] = v0 + (v1 - v0) * (slot - t0) / (t1 - t0)
    return filled


@register("FILL", 2, 2)
def _fill(ctx: CallContext, args: Sequence[Value]) -> Value:
    target, filler = args
    return per_series(ctx, target, lambda s: _fill_points(ctx, s, filler), "FILL")


# ---------------------------------------------------------------------------------------------
# IF


def _if_point(cond: float, t: int, a: Value, b: Value | None) -> float | None:
    chosen = a if cond != 0 else b
    if chosen is None:
        return None
    if isinstance(chosen, float):
        return chosen
    assert isinstance(chosen, TimeSeries)
    if cond != 0:
        return chosen.points.get(t, 0.0)  # true and no point in a: 0 (documented)
    return chosen.points.get(t)  # false and no point in b: dropped


def _if_series(cond: TimeSeries, a: Value, b: Value | None) -> TimeSeries:
    label = a.label if isinstance(a, TimeSeries) else cond.label
    points: dict[int, float] = {}
    for t, v in cond.points.items():
        chosen = _if_point(v, t, a, b)
        if chosen is not None:
            points[t] = chosen
    return TimeSeries(label, query_id=cond.query_id).with_points(points)


@register("IF", 2, 3)
def _if(ctx: CallContext, args: Sequence[Value]) -> Value:
    cond, a = args[0], args[1]
    b = args[2] if len(args) == 3 else None
    for branch in (a, b):
        if branch is not None and not isinstance(branch, float | TimeSeries):
            ctx.fail(f"IF branches must be scalars or time series, not {describe(branch)}")
    if isinstance(cond, float):
        if cond != 0:
            return a
        return b if b is not None else (TimeSeries("IF") if isinstance(a, TimeSeries) else math.nan)
    if isinstance(cond, TimeSeries):
        return _if_series(cond, a, b)
    if isinstance(cond, tuple):
        return tuple(_if_series(c, a, b) for c in cond)
    ctx.fail(f"IF condition must be a scalar or a time series, not {describe(cond)}")


# ---------------------------------------------------------------------------------------------
# consecutive-point functions


def _consecutive(series: TimeSeries, fn: Callable[[int, float, int, float], float]) -> TimeSeries:
    times = series.timestamps()
    values = series.points
    return series.with_points(
        {t1: fn(t0, values[t0], t1, values[t1]) for t0, t1 in zip(times, times[1:], strict=False)}
    )


def _consecutive_fn(name: str, fn: Callable[[int, float, int, float], float]) -> None:
    register(name, 1, 1)(
        lambda ctx, args: per_series(ctx, args[0], lambda s: _consecutive(s, fn), name)
    )


_consecutive_fn("RATE", lambda t0, v0, t1, v1: (v1 - v0) / (t1 - t0))
_consecutive_fn("DIFF", lambda t0, v0, t1, v1: v1 - v0)
_consecutive_fn("DIFF_TIME", lambda t0, v0, t1, v1: float(t1 - t0))


def _running_sum(series: TimeSeries) -> TimeSeries:
    total = 0.0
    points: dict[int, float] = {}
    for t in series.timestamps():
        total += series.points[t]
        points[t] = total
    return series.with_points(points)


@register("RUNNING_SUM", 1, 1)
def _running(ctx: CallContext, args: Sequence[Value]) -> Value:
    return per_series(ctx, args[0], _running_sum, "RUNNING_SUM")


# ---------------------------------------------------------------------------------------------
# metrics and arrays


@register("PERIOD", 1, 1)
def _period(ctx: CallContext, args: Sequence[Value]) -> Value:
    value = args[0]
    if not isinstance(value, TimeSeries) or value.period is None:
        ctx.fail(f"PERIOD takes a metric, not {describe(value)} computed by an expression")
    return float(value.period)


@register("METRICS", 0, 1)
def _metrics(ctx: CallContext, args: Sequence[Value]) -> Value:
    if not args:
        return ctx.metrics()
    pattern = args[0]
    if not isinstance(pattern, Text):
        ctx.fail(f'METRICS takes a string such as METRICS("errors"), not {describe(pattern)}')
    return tuple(s for s in ctx.metrics() if pattern.value in s.query_id)


@register("TIME_SERIES", 1, 1)
def _time_series(ctx: CallContext, args: Sequence[Value]) -> Value:
    value = args[0]
    if not isinstance(value, float):
        ctx.fail(f"TIME_SERIES takes a scalar, not {describe(value)}")
    return TimeSeries("TIME_SERIES").with_points(
        dict.fromkeys(grid(ctx.start, ctx.end, ctx.period), value)
    )


@register("REMOVE_EMPTY", 1, 1)
def _remove_empty(ctx: CallContext, args: Sequence[Value]) -> Value:
    return tuple(s for s in series_list(ctx, args[0], "REMOVE_EMPTY") if s.points)


def _pick(name: str, index: int) -> None:
    def run(ctx: CallContext, args: Sequence[Value]) -> Value:
        array = series_list(ctx, args[0], name)
        if not array:
            ctx.fail(f"{name} of an empty array of time series")
        return array[index]

    register(name, 1, 1)(run)


_pick("FIRST", 0)
_pick("LAST", -1)
