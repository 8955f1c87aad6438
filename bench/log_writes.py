"""Benchmark: CloudWatch Logs on the emulator as its store grows (one run, paired sizes).

Starts an emulator on a temporary state directory and, through boto3 as any client:

1. fills a log group to ``--small`` events, then times ``--samples`` PutLogEvents of 100
   events (p50);
2. fills the same group to ``--large`` events and times the same PutLogEvents again: the
   growth ratio p50(large) / p50(small) says whether a write costs what it wrote (goal
   <= 1.5x; moto's pickled backend grew 7x from 5k to 40k events);
3. FilterLogEvents with a JSON pattern over all events (every page, as a paginator);
4. a Logs Insights ``stats count(*) by bin(1h)`` over all events, StartQuery to Complete.

The filled events are JSON lines spread over the last 12 days (so each 10,000-event batch
stays within a day, and retention and the 14-day rule keep them). ``--sync`` also times a
100-row SQLite transaction into the store's events table under synchronous=NORMAL and
=FULL, the choice ``logstore.py`` explains.

    .venv/bin/python bench/log_writes.py [--small 10000] [--large 1000000] [--samples 50]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402

GROUP = "/bench/logs"
FILL_BATCH = 10_000
SPAN_MS = 12 * 24 * 3600 * 1000
JSON_PATTERN = '{ $.level = "error" && $.latency > 900 }'
QUERY = "stats count(*) by bin(1h)"


def _client(info: Any) -> Any:
    return boto3.session.Session().client(
        "logs", region_name="us-east-1", endpoint_url=info.endpoint,
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


class Filler:
    """Writes the background events in 10,000-event batches, oldest first."""

    def __init__(self, logs: Any, large: int) -> None:
        self.logs = logs
        self.written = 0
        # A batch spans at most 20 hours (PutLogEvents' limit is 24).
        self.step = min(SPAN_MS / large, 20 * 3600 * 1000 / FILL_BATCH)
        self.start = int(time.time() * 1000 - self.step * large)

    def fill_to(self, total: int) -> float:
        began = time.perf_counter()
        while self.written < total:
            count = min(FILL_BATCH, total - self.written)
            events = [self._event(self.written + i) for i in range(count)]
            self.logs.put_log_events(logGroupName=GROUP, logStreamName="fill", logEvents=events)
            self.written += count
        return time.perf_counter() - began

    def _event(self, n: int) -> dict[str, Any]:
        level = "error" if n % 3 == 0 else "info"
        message = json.dumps({"level": level, "n": n, "latency": n % 1000})
        return {"timestamp": int(self.start + n * self.step), "message": message}


def put_p50(logs: Any, samples: int) -> float:
    """Median seconds of a 100-event PutLogEvents to the probe stream."""
    times = []
    for sample in range(samples):
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": f"probe {sample} {i}"} for i in range(100)]
        began = time.perf_counter()
        logs.put_log_events(logGroupName=GROUP, logStreamName="probe", logEvents=events)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def filter_all(logs: Any) -> tuple[float, int]:
    began = time.perf_counter()
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, logStreamNames=["fill"], filterPattern=JSON_PATTERN
    )
    found = sum(len(page["events"]) for page in pages)
    return time.perf_counter() - began, found


def insights(logs: Any) -> tuple[float, int]:
    began = time.perf_counter()
    now = int(time.time())
    qid = logs.start_query(
        logGroupName=GROUP, startTime=now - SPAN_MS // 1000 - 60, endTime=now, queryString=QUERY
    )["queryId"]
    while (answer := logs.get_query_results(queryId=qid))["status"] in ("Scheduled", "Running"):
        time.sleep(0.05)
    assert answer["status"] == "Complete", answer["status"]
    return time.perf_counter() - began, len(answer["results"])


def sync_costs(samples: int) -> dict[str, float]:
    """p50 of a 100-row transaction into an indexed WAL table, per synchronous mode."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("NORMAL", "FULL"):
            db = sqlite3.connect(Path(tmp) / f"{mode}.sqlite", isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={mode}")
            db.execute("CREATE TABLE events (eid INTEGER PRIMARY KEY, sid, ts, message)")
            db.execute("CREATE INDEX by_stream ON events (sid, ts, eid)")
            times = []
            for sample in range(samples):
                rows = [(1, sample, f"probe {sample} {i}") for i in range(100)]
                began = time.perf_counter()
                db.execute("BEGIN")
                db.executemany("INSERT INTO events (sid, ts, message) VALUES (?, ?, ?)", rows)
                db.execute("COMMIT")
                times.append(time.perf_counter() - began)
            db.close()
            out[mode] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--sync", action="store_true", help="also time NORMAL vs FULL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        info = emulator.start(state, port=0)
        try:
            logs = _client(info)
            logs.create_log_group(logGroupName=GROUP)
            for stream in ("fill", "probe"):
                logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            filler = Filler(logs, args.large)
            filler.fill_to(args.small)
            small = put_p50(logs, args.samples)
            fill_time = filler.fill_to(args.large)
            large = put_p50(logs, args.samples)
            filtered, found = filter_all(logs)
            queried, rows = insights(logs)
        finally:
            emulator.stop(state)
    print(f"PutLogEvents (100 events) p50: {small * 1000:.1f} ms with {args.small:,} stored,"
          f" {large * 1000:.1f} ms with {args.large:,}: growth {large / small:.2f}x")  # fmt: skip
    print(f"filled {args.large - args.small:,} events in {fill_time:.1f} s")
    print(f"FilterLogEvents {JSON_PATTERN!r} over {args.large:,}: {filtered:.1f} s,"
          f" {found:,} events")  # fmt: skip
    print(f"Insights {QUERY!r} over {args.large:,}: {queried:.1f} s to Complete, {rows} rows")
    if args.sync:
        costs = sync_costs(args.samples)
        print(f"100-row transaction p50: NORMAL {costs['NORMAL'] * 1000:.2f} ms,"
              f" FULL {costs['FULL'] * 1000:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
