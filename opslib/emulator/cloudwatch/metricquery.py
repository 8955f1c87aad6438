"""Reading metrics from the store: one MetricStat's series, a GetMetricData request.

The glue between :mod:`metricstore` and the pure cores: samples are read for the (rounded)
range, bucketed by period (:func:`statistics.bucketize`), the statistic computed per period
(:func:`statistics.series`), and the query list answered by :func:`metricdata.run_queries`.
AWS's rule for old data is kept: a period that does not fit the age of the StartTime
answers no datapoints (:func:`statistics.check_period`). Used by the API (GetMetricData,
GetMetricStatistics) and by the alarm evaluator alike, so an alarm sees what a dashboard
sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opslib.emulator.cloudwatch.metricdata import (
    MetricDataResult,
    MetricQuery,
    MetricStat,
    run_queries,
)
from opslib.emulator.cloudwatch.metricmath import MathContext
from opslib.emulator.cloudwatch.metricstore import MetricId, MetricStore
from opslib.emulator.cloudwatch.statistics import (
    InvalidStatistic,
    PeriodData,
    Statistic,
    bucketize,
    check_period,
    metric_stat_error,
    parse_statistic,
    series,
    summarize,
    validate_period,
)


@dataclass(frozen=True)
class PeriodValue:
    """One period's value of a statistic and the samples behind it."""

    value: float
    sample_count: float


def metric_id(stat: MetricStat) -> MetricId:
    return MetricId(stat.namespace, stat.metric_name, tuple(sorted(stat.dimensions)))


def buckets(
    store: MetricStore, region: str, stat: MetricStat, start: int, end: int, period: int, now: float
) -> dict[int, PeriodData]:
    """The metric's samples in ``[start, end)`` grouped by period (none if the period
    does not fit the age of ``start``)."""
    if not check_period(period, start, now).valid:
        return {}
    samples = store.samples(region, metric_id(stat), start, end, stat.unit)
    return bucketize(samples, start, end, period)


def stat_series(
    store: MetricStore,
    region: str,
    stat: MetricStat,
    statistic: Statistic,
    start: int,
    end: int,
    now: float,
) -> dict[int, PeriodValue]:
    """timestamp -> the statistic's value and sample count, for the alarm evaluator."""
    grouped = buckets(store, region, stat, start, end, stat.period, now)
    values = series(grouped, statistic)
    out: dict[int, PeriodValue] = {}
    for timestamp, value in values.items():
        summary = summarize(grouped[timestamp])
        out[timestamp] = PeriodValue(value, summary.sample_count if summary else 0.0)
    return out


def metric_points(
    store: MetricStore,
    region: str,
    queries: Sequence[MetricQuery],
    start: int,
    end: int,
    now: float,
) -> dict[str, dict[int, float]]:
    """Each MetricStat query's series over ``[start, end)`` (statistics checked first)."""
    parsed: dict[str, Statistic] = {}
    for member, query in enumerate(queries, start=1):
        if query.metric_stat is None:
            continue
        validate_period(query.metric_stat.period, f"MetricDataQueries.member.{member}.Period")
        try:
            parsed[query.id] = parse_statistic(query.metric_stat.stat)
        except InvalidStatistic:
            raise metric_stat_error(query.metric_stat.stat, member) from None
    out: dict[str, dict[int, float]] = {}
    shared: dict[tuple[MetricId, str | None, int], dict[int, PeriodData]] = {}
    done: dict[tuple[tuple[MetricId, str | None, int], str], dict[int, float]] = {}
    for query in queries:
        stat = query.metric_stat
        if stat is None:
            continue
        key = (metric_id(stat), stat.unit, stat.period)  # queries of one metric read it once
        if key not in shared:
            shared[key] = buckets(store, region, stat, start, end, stat.period, now)
        computed = (key, stat.stat)  # and compute each of its statistics once
        if computed not in done:
            done[computed] = series(shared[key], parsed[query.id])
        out[query.id] = done[computed]
    return out


def answer(
    store: MetricStore,
    region: str,
    queries: Sequence[MetricQuery],
    start: int,
    end: int,
    now: float,
) -> list[MetricDataResult]:
    """GetMetricData's results, before pagination (points ascending)."""
    points = metric_points(store, region, queries, start, end, now)
    periods = [q.metric_stat.period for q in queries if q.metric_stat is not None]
    periods += [q.period for q in queries if q.period]
    ctx = MathContext(start, end, min(periods) if periods else 60)
    return run_queries(queries, points, ctx)
