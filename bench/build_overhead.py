"""Benchmark: a build of the sample app through the emulator vs the same commands in bash.

Runs A (emulator: StartBuild of this repository's buildspec.yml, until SUCCEEDED) and
B (bench/bare_build.sh: unzip, the buildspec's commands, zip the bundle) in turn, A B A B,
and prints each one's median wall time and the median of the pairwise ratios A/B. The
emulator is started once before the runs (its cold start is measured by cold_start.py).

    .venv/bin/python bench/build_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402
from opslib.ops.builds import package_source  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def client(endpoint: str, service: str):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        service, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


def setup(endpoint: str, source: bytes) -> None:
    s3, codebuild = client(endpoint, "s3"), client(endpoint, "codebuild")
    s3.create_bucket(Bucket="bench-src")
    s3.put_object(Bucket="bench-src", Key="src.zip", Body=source)
    codebuild.create_project(
        name="bench",
        source={"type": "S3", "location": "bench-src/src.zip"},
        artifacts={"type": "S3", "location": "bench-src", "packaging": "ZIP", "name": "out.zip"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/bench",
    )  # fmt: skip


def emulator_build(endpoint: str) -> float:
    codebuild = client(endpoint, "codebuild")
    start = time.perf_counter()
    build_id = codebuild.start_build(projectName="bench")["build"]["id"]
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if build["buildStatus"] != "SUCCEEDED":
        raise SystemExit(f"emulator build {build_id} ended {build['buildStatus']}")
    return elapsed


def bare_build(source_zip: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", str(REPO / "bench" / "bare_build.sh"), str(source_zip)], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    source = package_source(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        source_zip = Path(tmp) / "src.zip"
        source_zip.write_bytes(source)
        info = emulator.start(Path(tmp) / "state", port=0)
        try:
            setup(info.endpoint, source)
            emulator_build(info.endpoint)  # warm-up: npm's cache, page cache
            bare_build(source_zip)
            pairs = [
                (emulator_build(info.endpoint), bare_build(source_zip)) for _ in range(args.runs)
            ]
        finally:
            emulator.stop(info.state_dir)
    ratios = [x / y for x, y in pairs]
    print(f"runs: {args.runs} pairs (A B A B ...), after one warm-up each")
    for label, values in (
        ("A emulator build  ", [p[0] for p in pairs]),
        ("B bare bash script", [p[1] for p in pairs]),
        ("A/B ratio         ", ratios),
    ):
        print(f"{label} median {statistics.median(values):7.3f}"
              f"  min {min(values):7.3f}  max {max(values):7.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
