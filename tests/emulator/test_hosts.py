"""EC2 instances get local hosts: a root dir and a port, found through the API."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client


@pytest.fixture
def metrics_interval() -> float:
    """These tests read the hosts' CPUUtilization: sampled each half second, not each minute."""
    return 0.5


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def _launch(info: EmulatorInfo, count: int = 1) -> list[dict[str, Any]]:
    ec2 = client(info, "ec2")
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)[
            "Instances"
        ]
    ]
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def _start_on_host(instance_id: str, root: str) -> subprocess.Popen[bytes]:
    """A process 'on' the host, as the deploy agent starts hook scripts: marked by env."""
    env = {**os.environ, "OPSLIB_HOST_ID": instance_id}
    return subprocess.Popen(["sleep", "300"], cwd=root, env=env, start_new_session=True)


def test_each_instance_gets_its_own_root_and_port(running: EmulatorInfo) -> None:
    instances = _launch(running, 3)
    tags = [_tags(i) for i in instances]
    ports = {t["opslib:app-port"] for t in tags}
    assert len(ports) == 3
    for tag in tags:
        assert tag["opslib:endpoint"] == f"http://127.0.0.1:{tag['opslib:app-port']}"
        assert Path(tag["opslib:host-root"]).is_dir()
    assert len({t["opslib:host-root"] for t in tags}) == 3


def test_terminate_ends_the_hosts_processes(running: EmulatorInfo) -> None:
    instance = _launch(running)[0]
    app = _start_on_host(instance["InstanceId"], _tags(instance)["opslib:host-root"])
    try:
        client(running, "ec2").terminate_instances(InstanceIds=[instance["InstanceId"]])
        assert app.wait(timeout=10) != 0  # killed, not exited by itself
        assert not Path(_tags(instance)["opslib:host-root"]).exists()
    finally:
        app.kill()


def test_stop_ends_processes_but_keeps_the_root(running: EmulatorInfo) -> None:
    instance = _launch(running)[0]
    root = _tags(instance)["opslib:host-root"]
    app = _start_on_host(instance["InstanceId"], root)
    try:
        client(running, "ec2").stop_instances(InstanceIds=[instance["InstanceId"]])
        assert app.wait(timeout=10) != 0
        assert Path(root).is_dir()
    finally:
        app.kill()


def test_state_change_events_and_cpu_metric(running: EmulatorInfo) -> None:
    logs, events = client(running, "logs"), client(running, "events")
    logs.create_log_group(logGroupName="/aws/events/ec2")
    events.put_rule(Name="ec2", EventPattern=json.dumps({"source": ["aws.ec2"]}))
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/ec2"
    events.put_targets(Rule="ec2", Targets=[{"Id": "log", "Arn": arn}])
    instance = _launch(running)[0]
    busy = subprocess.Popen(
        ["python3", "-c", "while True: pass"],
        env={**os.environ, "OPSLIB_HOST_ID": instance["InstanceId"]},
        start_new_session=True,
    )
    try:
        datapoints = _wait_for_cpu(running, instance["InstanceId"])
    finally:
        busy.kill()
        busy.wait()
    assert max(datapoints) > 20  # a busy loop on one core
    states = _wait_for_states(running, instance["InstanceId"], {"pending", "running"})
    assert states >= {"pending", "running"}


def _wait_for_cpu(info: EmulatorInfo, instance_id: str, timeout: float = 30) -> list[float]:
    cloudwatch = client(info, "cloudwatch")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
            StartTime=time.time() - 600,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        if stats and max(d["Maximum"] for d in stats) > 20:
            return [d["Maximum"] for d in stats]
        time.sleep(0.25)
    raise AssertionError("no CPUUtilization datapoint for the busy host")


def _wait_for_states(
    info: EmulatorInfo, instance_id: str, wanted: set[str], timeout: float = 10
) -> set[str]:
    logs = client(info, "logs")
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline and not wanted <= seen:
        found = logs.filter_log_events(logGroupName="/aws/events/ec2")["events"]
        seen = {json.loads(e["message"])["detail"]["state"] for e in found
                if json.loads(e["message"])["detail"]["instance-id"] == instance_id}  # fmt: skip
        time.sleep(0.1)
    return seen
