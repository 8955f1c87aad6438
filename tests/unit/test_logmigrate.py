"""The upgrade: moto's pickled logs backend is imported into the Logs store once."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import boto3
from moto import mock_aws

from opslib.emulator.cloudwatch.logmigrate import import_moto_logs
from opslib.emulator.cloudwatch.logstore import LogStore
from opslib.emulator.core.store import _plain

ACCOUNT = "123456789012"


def _old_snapshot(moto_dir: Path, now: int) -> None:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName="/old", tags={"k": "v"})
        logs.put_retention_policy(logGroupName="/old", retentionInDays=30)
        logs.create_log_stream(logGroupName="/old", logStreamName="s")
        logs.put_log_events(
            logGroupName="/old",
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)],
        )
        logs.put_metric_filter(
            logGroupName="/old", filterName="f", filterPattern="ERROR",
            metricTransformations=[{"metricName": "E", "metricNamespace": "N", "metricValue": "1"}],
        )  # fmt: skip
        logs.put_resource_policy(policyName="p", policyDocument="{}")
        moto_dir.mkdir()
        (moto_dir / "logs.pickle").write_bytes(pickle.dumps(_plain("logs")))


def test_old_snapshot_is_imported_once_then_set_aside(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    _old_snapshot(tmp_path / "moto", now)
    store = LogStore(tmp_path / "logs.sqlite")
    assert import_moto_logs(store, tmp_path / "moto") == 3
    group = store.group(ACCOUNT, "us-east-1", "/old")
    assert group is not None
    assert (group.retention, group.tags, group.stored_bytes) == (30, {"k": "v"}, 18)
    stream = store.stream(group.gid, "s")
    assert stream is not None and (stream.first_ts, stream.last_ts) == (now, now + 2)
    events = list(store.scan(group.gid, 0, 2**62))
    assert [e.message for e in events] == ["line 0", "line 1", "line 2"]
    assert [f["filterName"] for f in store.filters(group.gid)] == ["f"]
    assert [p["policyName"] for p in store.policies(ACCOUNT, "us-east-1")] == ["p"]
    assert not (tmp_path / "moto" / "logs.pickle").exists()
    assert (tmp_path / "moto" / "logs.pickle.imported").exists()
    assert import_moto_logs(store, tmp_path / "moto") == 0  # nothing left to import


def test_a_crash_after_the_import_only_renames_next_time(tmp_path: Path) -> None:
    _old_snapshot(tmp_path / "moto", int(time.time() * 1000))
    store = LogStore(tmp_path / "logs.sqlite")
    import_moto_logs(store, tmp_path / "moto")
    (tmp_path / "moto" / "logs.pickle.imported").rename(tmp_path / "moto" / "logs.pickle")
    assert import_moto_logs(store, tmp_path / "moto") == 0
    group = store.group(ACCOUNT, "us-east-1", "/old")
    assert group is not None and len(list(store.scan(group.gid, 0, 2**62))) == 3
