"""Benchmark: CloudWatch metrics and alarms served by the emulator, through boto3.

1. GetMetricData with ``--queries`` queries over ``--days`` days of 1-minute data of
   ``--metrics`` metrics (MetricStat queries Sum/Average/p90/Maximum in turn, every fifth
   query a math expression over two of them), period 3600 as AWS requires for a range that
   starts more than 63 days ago, all pages (NextToken) read. PutMetricData refuses data
   older than two weeks, so the history is written with sqlite3 into the store the
   emulator created (``metrics.sqlite``) before it starts again, the way it would have
   accumulated; the reads go through the API. Printed: rows stored, the first page's
   and all pages' time.
2. Alarm transition latency: an alarm evaluated every ``--interval`` s (the documented
   time scale ``OPSLIB_ALARM_EVALUATION_INTERVAL``); the time from the PutMetricData of a
   breaching datapoint (in an ended minute) to DescribeAlarms showing ALARM, over
   ``--runs`` alarms; p50 and max. On AWS's own schedule the evaluation adds up to 60 s.

    .venv/bin/python bench/metric_service.py [--metrics 10] [--days 90] [--queries 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402

STATS = ("Sum", "Average", "p90", "Maximum")


def _client(info: Any) -> Any:
    return boto3.session.Session().client(
        "cloudwatch", region_name="us-east-1", endpoint_url=info.endpoint,
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=botocore.config.Config(read_timeout=600, retries={"max_attempts": 1}),
    )  # fmt: skip


def seed_history(state_dir: Path, metrics: int, days: int) -> int:
    """Write the history into the store the emulator made (its ``metrics``/``points`` tables,
    see opslib/emulator/cloudwatch/metricstore.py), as it would have accumulated."""
    emulator.start(state_dir, port=0)
    emulator.stop(state_dir)
    db = sqlite3.connect(state_dir / "metrics.sqlite")
    rng = random.Random(12)
    end = int(time.time()) // 60 * 60
    start = end - days * 86400
    rows = 0
    with db:
        for m in range(metrics):
            dims = json.dumps([["Host", f"h{m}"]], separators=(",", ":"))
            (metric,) = db.execute(
                "INSERT INTO metrics (region, namespace, name, dims, last_put) "
                "VALUES ('us-east-1', 'Bench', ?, ?, ?) RETURNING id",
                (f"m{m}", dims, float(end)),
            ).fetchone()
            db.executemany(
                "INSERT INTO points (metric, ts, value, count, resolution) VALUES (?,?,?,1,60)",
                ((metric, float(ts), rng.random() * 100) for ts in range(start, end, 60)),
            )
            rows += (end - start) // 60
    db.close()
    return rows


def queries(metrics: int, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(count):
        if i % 5 == 4:
            out.append({"Id": f"e{i}", "Expression": f"q{i - 4} + q{i - 3}"})
            continue
        m = i % metrics
        metric = {"Namespace": "Bench", "MetricName": f"m{m}",
                  "Dimensions": [{"Name": "Host", "Value": f"h{m}"}]}  # fmt: skip
        stat = {"Metric": metric, "Period": 3600, "Stat": STATS[i % len(STATS)]}
        out.append({"Id": f"q{i}", "MetricStat": stat})
    return out


def bench_get_metric_data(args: argparse.Namespace, root: Path) -> None:
    state = root / "gmd"
    state.mkdir()
    began = time.perf_counter()
    rows = seed_history(state, args.metrics, args.days)
    print(f"stored {rows:,} datapoints in {time.perf_counter() - began:.1f} s")
    info = emulator.start(state, port=0)
    try:
        cloudwatch = _client(info)
        end = datetime.now(UTC)
        request = {
            "MetricDataQueries": queries(args.metrics, args.queries),
            "StartTime": end - timedelta(days=args.days),
            "EndTime": end,
        }
        began = time.perf_counter()
        page = cloudwatch.get_metric_data(**request)
        first = time.perf_counter() - began
        points = sum(len(r["Values"]) for r in page["MetricDataResults"])
        pages = 1
        while page.get("NextToken"):
            page = cloudwatch.get_metric_data(**request, NextToken=page["NextToken"])
            points += sum(len(r["Values"]) for r in page["MetricDataResults"])
            pages += 1
        total = time.perf_counter() - began
        print(
            f"GetMetricData {args.queries} queries, {args.days} days: first page {first:.2f} s, "
            f"{pages} page(s) {total:.2f} s, {points:,} datapoints"
        )
    finally:
        emulator.stop(state)


def bench_alarm_latency(args: argparse.Namespace, root: Path) -> None:
    state = root / "alarms"
    os.environ["OPSLIB_ALARM_EVALUATION_INTERVAL"] = str(args.interval)
    info = emulator.start(state, port=0)
    try:
        cloudwatch = _client(info)
        latencies = []
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        for run in range(args.runs):
            name = f"latency-{run}"
            cloudwatch.put_metric_alarm(
                AlarmName=name, Namespace="Bench", MetricName=name, Statistic="Maximum",
                Period=60, EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
            )  # fmt: skip
            began = time.perf_counter()
            datum = {"MetricName": name, "Value": 5, "Timestamp": minute}
            cloudwatch.put_metric_data(Namespace="Bench", MetricData=[datum])
            deadline = began + 30
            while time.perf_counter() < deadline:
                alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
                if alarm["StateValue"] == "ALARM":
                    latencies.append(time.perf_counter() - began)
                    break
                time.sleep(0.02)
        print(
            f"alarm transition latency (interval {args.interval} s, {len(latencies)} alarms): "
            f"p50 {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s"
        )
    finally:
        emulator.stop(state)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_alarm_latency(args, Path(tmp))
        bench_get_metric_data(args, Path(tmp))


if __name__ == "__main__":
    main()
