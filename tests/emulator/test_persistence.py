"""Nothing acknowledged is lost: after stop/start and after kill -9/start."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client, create_project


def _acknowledge_everything(info: EmulatorInfo) -> None:
    client(info, "s3").create_bucket(Bucket="kept-bucket")
    client(info, "s3").put_object(Bucket="kept-bucket", Key="a/b.txt", Body=b"kept bytes")
    client(info, "iam").create_role(RoleName="kept-role", AssumeRolePolicyDocument="{}")
    logs = client(info, "logs")
    logs.create_log_group(logGroupName="/kept/group")
    logs.create_log_stream(logGroupName="/kept/group", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/kept/group",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": f"line {i}"} for i in range(3)],
    )
    client(info, "cloudwatch").put_metric_data(
        Namespace="Kept", MetricData=[{"MetricName": "M", "Value": 42.0, "Unit": "Count"}]
    )
    create_project(info, "kept-project")
    client(info, "ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)


def _assert_everything_kept(info: EmulatorInfo) -> None:
    body = client(info, "s3").get_object(Bucket="kept-bucket", Key="a/b.txt")["Body"].read()
    assert body == b"kept bytes"
    assert client(info, "iam").get_role(RoleName="kept-role")["Role"]["RoleName"] == "kept-role"
    events = client(info, "logs").get_log_events(logGroupName="/kept/group", logStreamName="s")
    assert [e["message"] for e in events["events"]] == ["line 0", "line 1", "line 2"]
    metrics = client(info, "cloudwatch").list_metrics(Namespace="Kept")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["M"]
    projects = client(info, "codebuild").list_projects()["projects"]
    assert projects == ["kept-project"]
    reservations = client(info, "ec2").describe_instances()["Reservations"]
    tags = {t["Key"] for r in reservations for i in r["Instances"] for t in i.get("Tags", [])}
    assert "opslib:endpoint" in tags


@pytest.mark.parametrize("how", ["stop", "kill -9"])
def test_state_survives_a_restart(start_emulator: Callable[..., EmulatorInfo], how: str) -> None:
    from opslib import emulator

    first = start_emulator()
    _acknowledge_everything(first)
    if how == "stop":
        emulator.stop(first.state_dir)
    else:
        os.kill(first.pid, signal.SIGKILL)
    second = start_emulator()
    assert second.pid != first.pid
    _assert_everything_kept(second)
