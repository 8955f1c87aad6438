"""Benchmark: GetMetricData's pure core, 500 queries over 90 days of 1-minute data.

No emulator, no store: what the metrics API will spend in opslib.emulator.cloudwatch once the
samples are fetched. The data are ``--metrics`` metrics of raw 1-minute samples over
``--days`` days (a few hours of each metric missing, so FILL and the missing-value rules have
work to do), generated with a fixed seed. The request is the one AWS allows for a range that
starts more than 63 days ago: period 3600. It holds the metrics' MetricStat queries (Sum,
Average, p90, tm90, Maximum in turn) and enough math expressions to make 500 queries
(arithmetic, SUM/MAX of arrays, FILL with a value and LINEAR, IF, RATE, DIFF, scalar AVG,
PERIOD, METRICS() and METRICS("filter")).

Two timings are printed: the statistics (bucketing every raw sample into its hour and
computing each query's statistic; generating the samples is not timed) and the math
(run_queries over the 500 queries), then the total. One run; the machine is shared, so
compare runs made back to back.

    .venv/bin/python bench/metric_math.py [--metrics 100] [--days 90] [--queries 500]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib.emulator.cloudwatch.metricdata import MetricQuery, MetricStat, run_queries  # noqa: E402
from opslib.emulator.cloudwatch.metricmath import MathContext  # noqa: E402
from opslib.emulator.cloudwatch.statistics import (  # noqa: E402
    Sample,
    bucketize,
    parse_statistic,
    series,
)

PERIOD = 3600
STATS = ("Sum", "Average", "p90", "tm90", "Maximum")
TEMPLATES = (
    "m{a} + m{b}",
    "100 * m{a} / m{b}",
    "SUM([m{a}, m{b}, m{c}])",
    "FILL(m{a}, 0)",
    "FILL(m{a}, LINEAR)",
    "IF(m{a} > 50, m{a}, 0)",
    "RATE(m{a})",
    "DIFF(m{a})",
    "m{a} - AVG(m{a})",
    "MAX([m{a}, m{b}]) / PERIOD(m{a})",
    "SUM(METRICS())",
    'SUM(METRICS("m{a}"))',
)


def raw_samples(metric: int, start: int, minutes: int) -> Iterator[Sample]:
    """One metric's 1-minute samples; three random 2-hour gaps, values around 50."""
    rng = random.Random(metric)
    gaps = {rng.randrange(0, minutes // 60) for _ in range(3)}
    for minute in range(minutes):
        hour = minute // 60
        if hour in gaps or hour - 1 in gaps:
            continue
        yield Sample(start + minute * 60 + rng.random() * 59, 50 + 30 * rng.random())


def metric_queries(count: int) -> list[MetricQuery]:
    return [
        MetricQuery(
            f"m{i}",
            metric_stat=MetricStat(
                "Bench", f"Metric{i}", (("Index", str(i)),), PERIOD, STATS[i % 5]
            ),
            return_data=i % 10 == 0,
        )
        for i in range(count)
    ]


def expression_queries(count: int, metrics: int) -> list[MetricQuery]:
    rng = random.Random(0)
    out = []
    for i in range(count):
        a, b, c = (rng.randrange(metrics) for _ in range(3))
        text = TEMPLATES[i % len(TEMPLATES)].format(a=a, b=b, c=c)
        out.append(MetricQuery(f"e{i}", expression=text, label=f"expression {i}"))
    return out


def fetch(
    queries: list[MetricQuery], start: int, end: int, minutes: int
) -> tuple[dict[str, dict[int, float]], int, float]:
    """Every MetricStat query's hourly series from its raw samples.

    Returns the series, how many samples, and the seconds spent bucketing and computing
    statistics (generating the samples is not timed).
    """
    points: dict[str, dict[int, float]] = {}
    samples = 0
    seconds = 0.0
    for index, query in enumerate(queries):
        assert query.metric_stat is not None
        raw = list(raw_samples(index, start, minutes))
        samples += len(raw)
        began = time.perf_counter()
        buckets = bucketize(raw, start, end, PERIOD)
        points[query.id] = series(buckets, parse_statistic(query.metric_stat.stat))
        seconds += time.perf_counter() - began
    return points, samples, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    minutes = args.days * 1440
    start = 1_700_000_000 // PERIOD * PERIOD
    end = start + minutes * 60
    metrics = metric_queries(args.metrics)
    expressions = expression_queries(args.queries - args.metrics, args.metrics)

    points, samples, stats_seconds = fetch(metrics, start, end, minutes)

    began = time.perf_counter()
    results = run_queries(metrics + expressions, points, MathContext(start, end, PERIOD))
    math_seconds = time.perf_counter() - began

    out_points = sum(len(r.points) for r in results)
    total = len(metrics) + len(expressions)
    print(f"queries: {total} ({len(metrics)} MetricStat, {len(expressions)} math)")
    print(f"raw samples: {samples:,} over {args.days} days; period {PERIOD} s")
    print(f"results: {len(results)} series, {out_points:,} datapoints")
    print(f"statistics: {stats_seconds:.2f} s ({samples / stats_seconds / 1e6:.2f} M samples/s)")
    per_expression = math_seconds / max(len(expressions), 1) * 1000
    print(f"math: {math_seconds:.2f} s ({per_expression:.2f} ms per expression)")
    print(f"total: {stats_seconds + math_seconds:.2f} s")


if __name__ == "__main__":
    main()
