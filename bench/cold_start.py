"""Benchmark: emulator cold start to the first answered API call.

Each run starts an emulator on a fresh state directory, times until ListBuckets answers,
then stops it. Prints the median, min and max over the runs.

    .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        info = emulator.start(Path(tmp) / "state", port=0)
        s3 = boto3.session.Session().client(
            "s3", region_name="us-east-1", endpoint_url=info.endpoint,
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )  # fmt: skip
        s3.list_buckets()
        elapsed = time.perf_counter() - start
        emulator.stop(info.state_dir)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = [one_run() for _ in range(parser.parse_args().runs)]
    print(f"cold start to first answered call: median {statistics.median(runs):.2f}s "
          f"(min {min(runs):.2f}s, max {max(runs):.2f}s, {len(runs)} runs)")  # fmt: skip


if __name__ == "__main__":
    main()
