"""What a store keeps when a write fails: nothing (the real full disk is in tests/emulator)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opslib.emulator.core import store
from opslib.emulator.core.store import MotoSnapshots, RecordStore, remove_stale_temp_files
from opslib.exceptions import StateNotDurable


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto in this process (its module-level backends, which the snapshots pickle)."""
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        yield {name: session.client(name) for name in ("s3", "sns")}


def _files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (S3 bodies in their folder included), by relative path."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _fail_second_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(store.os, "fsync", fsync)


def test_a_failed_save_changes_no_snapshot_and_revert_forgets_the_change(
    aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = MotoSnapshots(tmp_path)
    aws["s3"].create_bucket(Bucket="kept")
    aws["sns"].create_topic(Name="kept")
    snapshots.save(["s3", "sns"])
    before = _files(tmp_path)
    aws["s3"].create_bucket(Bucket="refused")
    aws["sns"].create_topic(Name="refused")

    _fail_second_fsync(monkeypatch)
    with pytest.raises(StateNotDurable) as caught:
        snapshots.save(["s3", "sns"])
    assert caught.value.no_space
    assert _files(tmp_path) == before  # neither snapshot replaced, no temp file left

    snapshots.revert(["s3", "sns"])
    assert [b["Name"] for b in aws["s3"].list_buckets()["Buckets"]] == ["kept"]
    topics = aws["sns"].list_topics()["Topics"]
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in topics] == ["kept"]
    aws["s3"].create_bucket(Bucket="refused")  # moto's bucket index forgot it too


def test_revert_without_a_snapshot_is_a_fresh_backend(aws: dict[str, Any], tmp_path: Path) -> None:
    aws["sns"].create_topic(Name="never-stored")
    MotoSnapshots(tmp_path).revert(["sns"])
    assert aws["sns"].list_topics()["Topics"] == []


def test_an_unchanged_service_is_not_written_again(aws: dict[str, Any], tmp_path: Path) -> None:
    snapshots = MotoSnapshots(tmp_path)
    aws["sns"].create_topic(Name="kept")
    snapshots.save(["sns"])
    written = (tmp_path / "sns.pickle").stat().st_ino
    snapshots.save(["sns"])
    assert (tmp_path / "sns.pickle").stat().st_ino == written
    aws["sns"].create_topic(Name="more")
    snapshots.save(["sns"])
    assert (tmp_path / "sns.pickle").stat().st_ino != written


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path: Path) -> None:
    stale = [".s3.pickle.140245.tmp", ".emulator.json.7.tmp"]
    for name in [*stale, "notes.tmp", ".cache.tmp", "s3.pickle"]:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache.tmp", "notes.tmp", "s3.pickle"]


def test_a_transaction_stores_all_of_its_writes_or_none(tmp_path: Path) -> None:
    records = RecordStore(tmp_path / "records.sqlite")
    records.put("group", "kept", {"n": 1})
    with pytest.raises(RuntimeError), records.transaction():
        records.put("group", "half", {"n": 2})
        records.delete("group", "kept")
        raise RuntimeError("the second write failed")
    assert records.get("group", "half") is None
    assert records.get("group", "kept") == {"n": 1}
    with records.transaction():
        records.put("group", "whole", {"n": 3})
        records.delete("group", "kept")
    assert [r["n"] for r in records.all("group")] == [3]
    records.close()
