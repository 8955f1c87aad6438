"""S3 object bodies live beside the snapshot, not in it: a write costs what it writes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opslib.emulator.core import motofixes, s3bodies
from opslib.emulator.core.store import MotoSnapshots, _clear
from opslib.exceptions import StateNotDurable

MB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator[Any]:
    motofixes.install()
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1").client("s3")


def _bodies(snapshots: MotoSnapshots) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in snapshots.bodies.iterdir()}


def _restart(tmp_path: Path) -> MotoSnapshots:
    """moto's memory gone, the snapshot loaded back, as at an emulator start."""
    _clear("s3")
    snapshots = MotoSnapshots(tmp_path)
    assert snapshots.restore() == ["s3"]
    return snapshots


def test_the_snapshot_names_the_body_and_the_body_is_written_once(s3: Any, tmp_path: Path) -> None:
    snapshots = MotoSnapshots(tmp_path)
    s3.create_bucket(Bucket="artifacts")
    big = os.urandom(3 * MB)
    etag = s3.put_object(Bucket="artifacts", Key="build.zip", Body=big)["ETag"]
    snapshots.save(["s3"])
    assert (tmp_path / "s3.pickle").stat().st_size < 100_000  # no 3 MB inside
    ((digest, size),) = _bodies(snapshots).items()
    assert size == len(big)
    written = (snapshots.bodies / digest).stat().st_mtime_ns

    s3.put_object(Bucket="artifacts", Key="tiny.txt", Body=b"x")
    snapshots.save(["s3"])
    assert (snapshots.bodies / digest).stat().st_mtime_ns == written  # not written again
    assert len(_bodies(snapshots)) == 2

    _restart(tmp_path)
    assert s3.get_object(Bucket="artifacts", Key="build.zip")["Body"].read() == big
    assert s3.get_object(Bucket="artifacts", Key="tiny.txt")["Body"].read() == b"x"
    assert s3.head_object(Bucket="artifacts", Key="build.zip")["ETag"] == etag


def test_every_version_restores_and_copies_share_one_body(s3: Any, tmp_path: Path) -> None:
    snapshots = MotoSnapshots(tmp_path)
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="versioned", Key="a", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket="versioned", Key="a", Body=b"two")["VersionId"]
    s3.copy_object(Bucket="versioned", Key="b", CopySource={"Bucket": "versioned", "Key": "a"})
    snapshots.save(["s3"])
    assert len(_bodies(snapshots)) == 2  # "one", "two"; the copy of "two" is the same bytes

    _restart(tmp_path)
    for version, body in ((first, b"one"), (second, b"two")):
        found = s3.get_object(Bucket="versioned", Key="a", VersionId=version)
        assert found["Body"].read() == body
    assert s3.get_object(Bucket="versioned", Key="b")["Body"].read() == b"two"
    s3.put_object(Bucket="versioned", Key="a", Body=b"three")  # a restored key takes new bytes
    assert s3.get_object(Bucket="versioned", Key="a")["Body"].read() == b"three"


def test_deleted_objects_lose_their_bodies_once_the_snapshot_is_stored(
    s3: Any, tmp_path: Path
) -> None:
    snapshots = MotoSnapshots(tmp_path)
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="gone", Body=b"soon deleted")
    s3.put_object(Bucket="plain", Key="kept", Body=b"kept")
    snapshots.save(["s3"])
    assert len(_bodies(snapshots)) == 2
    s3.delete_object(Bucket="plain", Key="gone")
    snapshots.save(["s3"])
    assert len(_bodies(snapshots)) == 1
    _restart(tmp_path)
    assert s3.get_object(Bucket="plain", Key="kept")["Body"].read() == b"kept"


def test_a_full_disk_while_writing_a_body_stores_nothing(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = MotoSnapshots(tmp_path)
    s3.create_bucket(Bucket="full")
    snapshots.save(["s3"])
    before = (tmp_path / "s3.pickle").read_bytes()
    s3.put_object(Bucket="full", Key="refused", Body=b"no room")

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(s3bodies.os, "fsync", fsync)
    with pytest.raises(StateNotDurable) as caught:
        snapshots.save(["s3"])
    assert caught.value.no_space
    assert (tmp_path / "s3.pickle").read_bytes() == before
    assert list(snapshots.bodies.iterdir()) == []  # no body, no temp file
    monkeypatch.undo()
    snapshots.revert(["s3"])
    assert s3.list_objects_v2(Bucket="full").get("Contents") is None
