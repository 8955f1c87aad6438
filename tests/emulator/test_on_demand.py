"""The local target starts the emulator on demand; S3 sizes are published as metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opslib import emulator
from opslib.config import load_config
from opslib.emulator import EmulatorInfo
from opslib.target import connect
from tests.emulator.conftest import client


@pytest.fixture
def metrics_interval() -> float:
    """The bucket-size test reads BucketSizeBytes: sampled each half second, not each minute."""
    return 0.5


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "opslib.yml"
    path.write_text("emulator:\n  port: 0\n  state_dir: state\n")
    yield path
    emulator.stop(tmp_path / "state")


def test_connect_starts_the_emulator_when_none_runs(config_file: Path) -> None:
    config = load_config(config_file)
    assert not emulator.status(config.state_dir()).running
    session = connect(config)
    assert emulator.status(config.state_dir()).running
    session.client("s3").create_bucket(Bucket="on-demand")
    again = connect(config)
    assert again.target.endpoint_url == session.target.endpoint_url
    assert [b["Name"] for b in again.client("s3").list_buckets()["Buckets"]] == ["on-demand"]


def test_bucket_size_is_published(running: EmulatorInfo) -> None:
    s3 = client(running, "s3")
    s3.create_bucket(Bucket="measured")
    s3.put_object(Bucket="measured", Key="a", Body=b"x" * 1000)
    s3.put_object(Bucket="measured", Key="b", Body=b"y" * 234)
    cloudwatch = client(running, "cloudwatch")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName="BucketSizeBytes",
            Dimensions=[
                {"Name": "BucketName", "Value": "measured"},
                {"Name": "StorageType", "Value": "StandardStorage"},
            ],
            StartTime=time.time() - 600,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        if stats and max(d["Maximum"] for d in stats) == 1234:
            return
        time.sleep(0.25)
    raise AssertionError("BucketSizeBytes of 1234 was never published")
