"""Benchmark: S3 on the emulator as its store grows, and the restart with it (one run).

Starts an emulator on a temporary state directory and, through boto3 as any client:

1. times ``--samples`` PutObject calls of 1 KB with nothing else stored (p50);
2. stores ``--gigabytes`` of objects (100 MB each, random bytes, in a versioned bucket as the
   stack's artifact bucket is), then times the same 1 KB PutObject again: the growth ratio
   p50(large) / p50(small) says whether a write costs what it wrote (goal <= 1.5x; with the
   bodies pickled into the snapshot a 1-byte PutObject took 712 ms with 100 MB stored);
3. stops the emulator and times a start until its first answered call with that store (goal
   <= 3 s), beside a start on an empty state in the same run, then reads one 100 MB object
   back and checks its bytes.

Before the second series the fill's writeback is flushed (``os.sync()``): what is measured is
a write with 1 GB stored, not one queued behind 1 GB of page cache the kernel is writing out.

    .venv/bin/python bench/s3_writes.py [--gigabytes 1] [--samples 50] [--log-events 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402

BUCKET = "bench-artifacts"
OBJECT_MB = 100


def _client(info: Any) -> Any:
    return boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url=info.endpoint,
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


def put_p50(s3: Any, samples: int) -> float:
    """Median seconds of a 1 KB PutObject."""
    body = os.urandom(1024)
    times = []
    for n in range(samples):
        began = time.perf_counter()
        s3.put_object(Bucket=BUCKET, Key=f"probe/{n}.bin", Body=body)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def fill(s3: Any, gigabytes: float) -> tuple[float, str]:
    """Store ``gigabytes`` in 100 MB objects; (seconds, sha256 of the first object)."""
    began = time.perf_counter()
    first = ""
    for n in range(max(1, round(gigabytes * 1024 / OBJECT_MB))):
        body = os.urandom(OBJECT_MB * 1024 * 1024)
        first = first or hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket=BUCKET, Key=f"fill/{n}.zip", Body=body)
    return time.perf_counter() - began, first


def fill_logs(info: Any, events: int) -> None:
    """Store ``events`` log events the way bench/log_writes.py fills its group."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import log_writes

    logs = log_writes._client(info)
    logs.create_log_group(logGroupName=log_writes.GROUP)
    logs.create_log_stream(logGroupName=log_writes.GROUP, logStreamName="fill")
    log_writes.Filler(logs, events).fill_to(events)


def first_answer(state: Path) -> float:
    """Seconds from start to the first answered call on an empty state (the baseline)."""
    began = time.perf_counter()
    info = emulator.start(state, port=0)
    try:
        _client(info).list_buckets()
        return time.perf_counter() - began
    finally:
        emulator.stop(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument(
        "--log-events", type=int, default=0,
        help="also store this many log events (1000000 for the issue's restart figure)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opslib-bench-s3-") as tmp:
        state = Path(tmp) / "state"
        info = emulator.start(state, port=0)
        try:
            s3 = _client(info)
            s3.create_bucket(Bucket=BUCKET)
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            small = put_p50(s3, args.samples)
            filled, digest = fill(s3, args.gigabytes)
            if args.log_events:
                fill_logs(info, args.log_events)
            os.sync()  # the fill's own writeback, which the kernel does within 30 s anyway
            large = put_p50(s3, args.samples)
        finally:
            emulator.stop(state)
        snapshot = (state / "moto" / "s3.pickle").stat().st_size
        empty = first_answer(Path(tmp) / "empty")
        began = time.perf_counter()
        info = emulator.start(state, port=0)
        try:
            s3 = _client(info)
            s3.list_buckets()
            restart = time.perf_counter() - began
            body = s3.get_object(Bucket=BUCKET, Key="fill/0.zip")["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest, "the restored object differs"
        finally:
            emulator.stop(state)
    print(f"1 KB PutObject p50, nothing stored:      {small * 1000:7.1f} ms")
    print(f"1 KB PutObject p50, {args.gigabytes:g} GB stored:      {large * 1000:7.1f} ms")
    print(f"growth ratio (goal <= 1.5x):             {large / small:7.2f}x")
    print(
        f"filling {args.gigabytes:g} GB took {filled:.1f} s; s3.pickle is {snapshot / 1024:.0f} KB"
    )
    print(f"start to the first answer, empty state:    {empty:6.2f} s")
    also = f" and {args.log_events:,} log events" if args.log_events else ""
    print(f"restart to the first answer with {args.gigabytes:g} GB{also} stored (goal <= 3 s): "
          f"{restart:6.2f} s (body read back intact)")  # fmt: skip


if __name__ == "__main__":
    main()
