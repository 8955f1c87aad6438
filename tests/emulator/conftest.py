"""Emulator tier: a real emulator process on an ephemeral port with a temp state dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from opslib import emulator
from opslib.emulator import EmulatorInfo
from opslib.emulator.ec2.sampler import DEFAULT_INTERVAL as DEFAULT_METRICS_INTERVAL

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/opslib-test-codebuild"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def metrics_interval() -> float:
    """Seconds between the emulator's CPU and bucket samples: the product's default.

    A module whose tests read those metrics overrides this fixture with a short interval.
    Sampling every half second costs an emulator with two hosts about 5 % of a core.
    """
    return DEFAULT_METRICS_INTERVAL


@pytest.fixture
def start_emulator(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, metrics_interval: float
) -> Iterator[Callable[..., EmulatorInfo]]:
    """Start (or restart) the emulator on this test's state dir; stopped at teardown."""
    monkeypatch.setenv("OPSLIB_METRICS_INTERVAL", str(metrics_interval))

    def start(**env: str) -> EmulatorInfo:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return emulator.start(state_dir, port=0)

    yield start
    emulator.stop(state_dir)


@pytest.fixture
def running(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    return start_emulator()


def client(info: EmulatorInfo, service: str) -> Any:
    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=info.endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def aws_cli(info: EmulatorInfo, *args: str) -> Any:
    """Run the AWS CLI (the awscli package) against the emulator; parsed JSON output."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": info.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
    }
    aws = Path(sys.executable).with_name("aws")
    result = subprocess.run(
        [str(aws), *args, "--output", "json"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def make_zip(files: dict[str, str], dest: Path) -> bytes:
    with zipfile.ZipFile(dest, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return dest.read_bytes()


def create_project(
    info: EmulatorInfo, name: str, bucket: str = "opslib-test-src", **extra: Any
) -> None:
    s3 = client(info, "s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    client(info, "codebuild").create_project(
        name=name,
        source={"type": "S3", "location": f"{bucket}/{name}/source.zip"},
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}),
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE_ARN,
        **extra,
    )


def upload_source(
    info: EmulatorInfo, name: str, data: bytes, bucket: str = "opslib-test-src"
) -> None:
    client(info, "s3").put_object(Bucket=bucket, Key=f"{name}/source.zip", Body=data)
