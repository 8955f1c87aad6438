"""Benchmark: filter-pattern matching throughput, JSON pattern vs term pattern (pure core).

Messages are the app's kind of JSON log lines (a third of them errors). Each pattern is
parsed once and matched against N messages; the time is the median of ``--runs`` passes.
Two sizes are timed in the same run, so the growth ratio (cost per event at the large
size over the cost per event at the small one) says whether matching stays linear:
1.0 is flat. An Insights ``stats count(*) by bin(1h)`` over the same events is timed the
same way, for the later service benchmark to compare against.

    .venv/bin/python bench/log_patterns.py [--runs 3] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib.emulator.cloudwatch.insights import LogEvent, parse_query, run_query  # noqa: E402
from opslib.emulator.cloudwatch.patterns import parse_filter_pattern  # noqa: E402

PATTERNS = {
    "json": '{ $.level = "error" && $.latency > 100 }',
    "terms": '"error" latency -DEBUG',
    "delimited": "[..., status = 5*, bytes > 1000]",
}
INSIGHTS = "stats count(*) as n, avg(latency) by bin(1h)"


def messages(count: int) -> list[str]:
    return [
        json.dumps(
            {
                "level": "error" if i % 3 == 0 else "info",
                "latency": i % 250,
                "path": f"/api/items/{i % 97}",
                "requestId": f"req-{i:08d}",
            }
        )
        for i in range(count)
    ]


def access_lines(count: int) -> list[str]:
    return [
        f"10.0.{i % 255}.{i % 7} - user{i % 13} [31/Jan/2024:12:00:{i % 60:02d} +0000] "
        f'"GET /items/{i} HTTP/1.1" {500 if i % 5 == 0 else 200} {i % 4000}'
        for i in range(count)
    ]


def timed(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def match_all(pattern: str, lines: list[str]) -> Callable[[], int]:
    matches = parse_filter_pattern(pattern).matches
    return lambda: sum(1 for line in lines if matches(line))


def insights(lines: list[str]) -> Callable[[], object]:
    start = 1_706_702_400_000
    events = [
        LogEvent(timestamp=start + i * 1000, message=m, logStream="s", logGroup="/app")
        for i, m in enumerate(lines)
    ]
    query = parse_query(INSIGHTS)
    return lambda: run_query(query, events)


def report(name: str, sizes: list[int], seconds: list[float]) -> None:
    rates = [size / s for size, s in zip(sizes, seconds, strict=True)]
    growth = (seconds[-1] / sizes[-1]) / (seconds[0] / sizes[0])
    pairs = zip(sizes, rates, strict=True)
    cells = "  ".join(f"{size:>7} ev: {rate:>12,.0f} ev/s" for size, rate in pairs)
    print(f"{name:<10} {cells}  growth {growth:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    json_lines = {size: messages(size) for size in sizes}
    text_lines = {size: access_lines(size) for size in sizes}
    print(f"median of {args.runs} runs; growth = cost per event at {sizes[-1]} / at {sizes[0]}")
    for name, pattern in PATTERNS.items():
        corpus = text_lines if name == "delimited" else json_lines
        seconds = [timed(match_all(pattern, corpus[size]), args.runs) for size in sizes]
        report(name, sizes, seconds)
    seconds = [timed(insights(json_lines[size]), args.runs) for size in sizes]
    report("insights", sizes, seconds)
    json_time = timed(match_all(PATTERNS["json"], json_lines[sizes[-1]]), args.runs)
    term_time = timed(match_all(PATTERNS["terms"], json_lines[sizes[-1]]), args.runs)
    print(f"json pattern costs {json_time / term_time:.1f}x a term pattern per event")


if __name__ == "__main__":
    main()
