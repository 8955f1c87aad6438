"""AWS FIS experiments have their effects: hosts really stop, stop conditions really stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import REGION, client
from tests.emulator.deploy_helpers import wait_until

ROLE = "arn:aws:iam::123456789012:role/opslib-fis"
NO_STOP = [{"source": "none"}]


@pytest.fixture
def fis_emulator(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    """FIS durations scaled down (PT1M is 3 s) so experiments run in seconds."""
    return start_emulator(OPSLIB_TIMEOUT_SCALE="0.05")


def _launch(info: EmulatorInfo, count: int, tags: dict[str, str]) -> list[dict[str, Any]]:
    ec2 = client(info, "ec2")
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    started = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=count, MaxCount=count, TagSpecifications=spec
    )["Instances"]
    reservations = ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in started])
    return [i for r in reservations["Reservations"] for i in r["Instances"]]


def _tag(instance: dict[str, Any], key: str) -> str:
    return next(t["Value"] for t in instance["Tags"] if t["Key"] == key)


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Any]], subprocess.Popen[bytes]]]:
    """Start an HTTP app 'on' an instance's host (marked by its env), on the host's port."""
    apps: list[subprocess.Popen[bytes]] = []

    def start(instance: dict[str, Any]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "OPSLIB_HOST_ID": instance["InstanceId"]}
        port = _tag(instance, "opslib:app-port")
        app = subprocess.Popen(
            [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1"],
            cwd=_tag(instance, "opslib:host-root"), env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        apps.append(app)
        wait_until(lambda: _serves(instance), 10, "the app to serve")
        return app

    yield start
    for app in apps:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()


def _serves(instance: dict[str, Any]) -> bool:
    try:
        with urllib.request.urlopen(_tag(instance, "opslib:endpoint"), timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _template(info: EmulatorInfo, **fields: Any) -> str:
    fields.setdefault("stopConditions", NO_STOP)
    created = client(info, "fis").create_experiment_template(
        description="drill", roleArn=ROLE, **fields
    )
    return str(created["experimentTemplate"]["id"])


def _finished(info: EmulatorInfo, experiment_id: str, timeout: float = 30) -> dict[str, Any]:
    fis = client(info, "fis")

    def ended() -> dict[str, Any] | None:
        experiment = fis.get_experiment(id=experiment_id)["experiment"]
        done = experiment["state"]["status"] in ("completed", "stopped", "failed")
        return experiment if done else None

    return dict(wait_until(ended, timeout, f"experiment {experiment_id} to end"))


def _states(info: EmulatorInfo, ids: list[str]) -> dict[str, str]:
    found = client(info, "ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def test_terminate_count_1_of_tagged_instances_ends_one_host(
    fis_emulator: EmulatorInfo, serve: Callable[[dict[str, Any]], subprocess.Popen[bytes]]
) -> None:
    fleet = _launch(fis_emulator, 2, {"opslib:stack": "drill"})
    bystander = _launch(fis_emulator, 1, {"opslib:stack": "other"})[0]
    for instance in [*fleet, bystander]:
        serve(instance)
    template = _template(
        fis_emulator,
        targets={
            "Fleet": {
                "resourceType": "aws:ec2:instance",
                "resourceTags": {"opslib:stack": "drill"},
                "filters": [{"path": "State.Name", "values": ["running"]}],
                "selectionMode": "COUNT(1)",
            }
        },
        actions={
            "kill-one": {
                "actionId": "aws:ec2:terminate-instances",
                "targets": {"Instances": "Fleet"},
            }
        },
    )
    fis = client(fis_emulator, "fis")
    started = fis.start_experiment(experimentTemplateId=template)["experiment"]
    assert started["state"] == {"status": "initiating", "reason": "Experiment is initiating."}
    experiment = _finished(fis_emulator, started["id"])

    assert experiment["state"] == {"status": "completed", "reason": "Experiment completed."}
    action = experiment["actions"]["kill-one"]
    assert action["state"]["status"] == "completed"
    assert experiment["startTime"] <= action["startTime"] <= action["endTime"]
    assert action["endTime"] <= experiment["endTime"]
    states = _states(fis_emulator, [i["InstanceId"] for i in [*fleet, bystander]])
    terminated = [i for i in fleet if states[i["InstanceId"]] == "terminated"]
    assert len(terminated) == 1
    assert states[bystander["InstanceId"]] == "running"
    wait_until(lambda: not _serves(terminated[0]), 10, "the terminated host's app to go")
    survivor = next(i for i in fleet if i is not terminated[0])
    assert _serves(survivor) and _serves(bystander)
    resolved = fis.list_experiment_resolved_targets(experimentId=started["id"])
    victim_arn = f"arn:aws:ec2:{REGION}:123456789012:instance/{terminated[0]['InstanceId']}"
    assert [t["targetInformation"]["arn"] for t in resolved["resolvedTargets"]] == [victim_arn]
    listed = fis.list_experiments()["experiments"]
    assert [(e["id"], e["state"]["status"]) for e in listed] == [(started["id"], "completed")]


def test_stop_condition_alarm_stops_a_running_wait(fis_emulator: EmulatorInfo) -> None:
    cloudwatch = client(fis_emulator, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="app-errors", Namespace="Drill", MetricName="Errors", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    alarm = cloudwatch.describe_alarms(AlarmNames=["app-errors"])["MetricAlarms"][0]
    template = _template(
        fis_emulator,
        stopConditions=[{"source": "aws:cloudwatch:alarm", "value": alarm["AlarmArn"]}],
        actions={
            "hold": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT10M"}},
            "after": {
                "actionId": "aws:fis:wait",
                "parameters": {"duration": "PT1M"},
                "startAfter": ["hold"],
            },
        },
    )
    fis = client(fis_emulator, "fis")
    experiment_id = fis.start_experiment(experimentTemplateId=template)["experiment"]["id"]

    def holding() -> bool:
        state = fis.get_experiment(id=experiment_id)["experiment"]
        return bool(state["actions"]["hold"]["state"]["status"] == "running")

    wait_until(holding, 10, "the wait action to run")
    assert fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"] == "running"
    cloudwatch.set_alarm_state(AlarmName="app-errors", StateValue="ALARM", StateReason="drill")
    experiment = _finished(fis_emulator, experiment_id, timeout=10)

    assert experiment["state"]["status"] == "stopped"
    assert alarm["AlarmArn"] in experiment["state"]["reason"]
    assert experiment["actions"]["hold"]["state"]["status"] == "stopped"
    assert experiment["actions"]["after"]["state"]["status"] == "cancelled"


def test_stop_experiment_restarts_instances_it_stopped(fis_emulator: EmulatorInfo) -> None:
    instance = _launch(fis_emulator, 1, {"role": "web"})[0]
    arn = f"arn:aws:ec2:{REGION}:123456789012:instance/{instance['InstanceId']}"
    template = _template(
        fis_emulator,
        targets={
            "Web": {
                "resourceType": "aws:ec2:instance",
                "resourceArns": [arn],
                "selectionMode": "ALL",
            }
        },  # fmt: skip
        actions={
            "pause": {
                "actionId": "aws:ec2:stop-instances",
                "targets": {"Instances": "Web"},
                "parameters": {"startInstancesAfterDuration": "PT10M"},
            }
        },
    )
    fis = client(fis_emulator, "fis")
    experiment_id = fis.start_experiment(experimentTemplateId=template)["experiment"]["id"]
    stopped = {instance["InstanceId"]: "stopped"}
    wait_until(lambda: _states(fis_emulator, [instance["InstanceId"]]) == stopped, 10, "the stop")
    answer = fis.stop_experiment(id=experiment_id)["experiment"]
    assert answer["state"]["status"] == "stopping"
    experiment = _finished(fis_emulator, experiment_id)

    assert experiment["state"]["status"] == "stopped"
    assert experiment["actions"]["pause"]["state"]["status"] == "stopped"
    assert _states(fis_emulator, [instance["InstanceId"]]) == {instance["InstanceId"]: "running"}


def test_api_fault_injection_fails_only_the_target_roles_calls(
    fis_emulator: EmulatorInfo,
) -> None:
    iam = client(fis_emulator, "iam")
    trust = '{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    template = _template(
        fis_emulator,
        targets={
            "App": {"resourceType": "aws:iam:role", "resourceArns": [role], "selectionMode": "ALL"}
        },  # fmt: skip
        actions={
            "unavailable": {
                "actionId": "aws:fis:inject-api-unavailable-error",
                "targets": {"Roles": "App"},
                "parameters": {
                    "service": "ec2",
                    "operations": "DescribeVpcs",
                    "percentage": "100",
                    "duration": "PT2M",
                },  # fmt: skip
            }
        },
    )
    fis = client(fis_emulator, "fis")
    experiment_id = fis.start_experiment(experimentTemplateId=template)["experiment"]["id"]
    creds = client(fis_emulator, "sts").assume_role(RoleArn=role, RoleSessionName="drill")
    keys = creds["Credentials"]
    as_role = boto3.session.Session(
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    ).client("ec2", region_name=REGION, endpoint_url=fis_emulator.endpoint,
             config=botocore.config.Config(retries={"max_attempts": 1}))  # fmt: skip

    def refused() -> str:
        try:
            as_role.describe_vpcs()
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return ""

    assert wait_until(refused, 10, "the fault to be injected") == "ServiceUnavailable"
    as_role.describe_instances()  # another operation: untouched
    client(fis_emulator, "ec2").describe_vpcs()  # another caller: untouched
    experiment = _finished(fis_emulator, experiment_id)
    assert experiment["state"]["status"] == "completed"
    as_role.describe_vpcs()  # the fault ended with its action
    assert emulator.list_faults(fis_emulator.endpoint) == []


def test_a_template_fis_refuses_is_a_validation_error(running: EmulatorInfo) -> None:
    """The rules are unit-tested (tests/unit/test_fis_targets.py); here the wire shape."""
    with pytest.raises(ClientError) as raised:
        _template(running, actions={"a": {"actionId": "aws:ec2:melt-instances"}})
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "actions.a.actionId" in raised.value.response["Error"]["Message"]
    assert client(running, "fis").list_experiment_templates()["experimentTemplates"] == []


def test_unknown_experiment_is_resource_not_found(running: EmulatorInfo) -> None:
    with pytest.raises(ClientError) as raised:
        client(running, "fis").get_experiment(id="EXPNOPE")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_experiment_running_at_a_crash_ends_failed(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    info = start_emulator(OPSLIB_TIMEOUT_SCALE="0.05")
    template = _template(
        info, actions={"hold": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT12H"}}}
    )
    fis = client(info, "fis")
    experiment_id = fis.start_experiment(experimentTemplateId=template)["experiment"]["id"]

    def running() -> bool:
        state = fis.get_experiment(id=experiment_id)["experiment"]["state"]
        return bool(state["status"] == "running")

    wait_until(running, 10, "the experiment to run")
    os.kill(info.pid, signal.SIGKILL)
    wait_until(lambda: emulator.status(info.state_dir).info is None, 10, "the emulator to die")

    again = start_emulator(OPSLIB_TIMEOUT_SCALE="0.05")
    experiment = client(again, "fis").get_experiment(id=experiment_id)["experiment"]
    assert experiment["state"]["status"] == "failed"
    assert "emulator stopped" in experiment["state"]["reason"]
    assert experiment["actions"]["hold"]["state"]["status"] == "failed"
    template_back = client(again, "fis").get_experiment_template(id=template)
    assert template_back["experimentTemplate"]["actions"]["hold"]["actionId"] == "aws:fis:wait"
