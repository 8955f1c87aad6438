"""A full disk: writes are refused with AWS's 500 and leave no trace; a start says so.

The state dir lives on its own small tmpfs, which the test really fills (mounting needs
root; without it the tests are skipped, saying why). The sampler is slowed down so that
no background write of the emulator's own competes for the last free blocks.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import REGION

QUIET = {"OPSLIB_METRICS_INTERVAL": "3600"}
BIG_TAGS = [{"Key": f"k{i}", "Value": "v" * 256} for i in range(1000)]  # ~300 KB of record


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """The state dir on a 24 MiB tmpfs of its own (unmounted after the emulator stopped)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)]
    mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield disk / "state"
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _fill(disk: Path) -> Path:
    """Take every free block of ``disk``; the file returned holds them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
    return filler


def _client(info: EmulatorInfo, service: str) -> Any:
    """A client that does not retry, so each refusal is seen as it is answered."""
    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=info.endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


def _refused(call: Callable[..., Any], code: str, **params: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, 500)


def _temp_files(state_dir: Path) -> list[Path]:
    return sorted(state_dir.rglob(".*.tmp"))


def _listed(info: EmulatorInfo) -> dict[str, list[str]]:
    s3, logs = _client(info, "s3"), _client(info, "logs")
    connections = _client(info, "codestar-connections").list_connections()["Connections"]
    return {
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "objects": [o["Key"] for o in s3.list_objects_v2(Bucket="kept").get("Contents", [])],
        "groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "connections": [c["ConnectionName"] for c in connections],
    }


def _write_everything(info: EmulatorInfo) -> None:
    s3 = _client(info, "s3")
    s3.create_bucket(Bucket="second")
    s3.put_object(Bucket="kept", Key="refused.txt", Body=b"x" * 65536)
    _client(info, "logs").create_log_group(logGroupName="/refused/group")
    _client(info, "codestar-connections").create_connection(
        ConnectionName="refused", ProviderType="GitHub", Tags=BIG_TAGS
    )


def test_a_write_the_full_disk_cannot_hold_is_refused_and_leaves_no_trace(
    start_emulator: Callable[..., EmulatorInfo], state_dir: Path
) -> None:
    info = start_emulator(**QUIET)
    _client(info, "s3").create_bucket(Bucket="kept")
    _client(info, "s3").put_object(Bucket="kept", Key="kept.txt", Body=b"kept")
    before = _listed(info)

    filler = _fill(state_dir.parent)
    s3, logs = _client(info, "s3"), _client(info, "logs")
    _refused(s3.create_bucket, "InternalError", Bucket="second")
    _refused(s3.put_object, "InternalError", Bucket="kept", Key="refused.txt", Body=b"x" * 65536)
    _refused(logs.create_log_group, "InternalFailure", logGroupName="/refused/group")
    connections = _client(info, "codestar-connections")
    _refused(
        connections.create_connection,
        "InternalFailure",
        ConnectionName="refused",
        ProviderType="GitHub",
        Tags=BIG_TAGS,
    )
    assert _listed(info) == before  # nothing listed that was not stored
    assert _temp_files(state_dir) == []

    filler.unlink()
    _write_everything(info)  # the retries succeed: no BucketAlreadyExists, no AlreadyExists
    after = {
        "buckets": ["kept", "second"],
        "objects": ["kept.txt", "refused.txt"],
        "groups": ["/refused/group"],
        "connections": ["refused"],
    }
    assert _listed(info) == after
    emulator.stop(state_dir)
    assert _listed(start_emulator(**QUIET)) == after
    assert _temp_files(state_dir) == []


def test_a_start_on_a_full_disk_says_so_in_one_line(
    start_emulator: Callable[..., EmulatorInfo], state_dir: Path, tmp_path: Path
) -> None:
    _client(start_emulator(**QUIET), "s3").create_bucket(Bucket="kept")
    emulator.stop(state_dir)
    filler = _fill(state_dir.parent)

    config = tmp_path / "opslib.yml"
    config.write_text(f"emulator:\n  state_dir: {state_dir}\n  port: 0\n")
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(config)]
    started = subprocess.run(
        [*command, "emulator", "start"], capture_output=True, text=True, check=False
    )
    assert started.returncode == 1
    assert started.stdout == ""
    assert started.stderr.splitlines() == [
        f"Error: the emulator cannot start: no space left on device in {state_dir} "
        "(0 KiB free); free some space there and start it again"
    ]

    filler.unlink()
    info = start_emulator(**QUIET)
    assert [b["Name"] for b in _client(info, "s3").list_buckets()["Buckets"]] == ["kept"]
    assert _temp_files(state_dir) == []


def test_temp_files_a_crash_left_are_removed_at_start(
    start_emulator: Callable[..., EmulatorInfo], state_dir: Path
) -> None:
    """A kill -9 between a snapshot's write and its rename left a temp file filling the disk."""
    _client(start_emulator(**QUIET), "s3").create_bucket(Bucket="kept")
    emulator.stop(state_dir)
    (state_dir / ".emulator.json.140245.tmp").write_bytes(b"{}")
    _fill(state_dir.parent).rename(state_dir / "moto" / ".s3.pickle.140245.tmp")

    info = start_emulator(**QUIET)
    assert _temp_files(state_dir) == []
    assert [b["Name"] for b in _client(info, "s3").list_buckets()["Buckets"]] == ["kept"]
