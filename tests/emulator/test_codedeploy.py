"""CodeDeploy really deploys: hooks on local hosts, configs, rollback, stop, telemetry.

The bundle is built here as post_build builds it (appspec.yml, scripts/, app/ with a
release.json) without running CodeBuild; the app has no runtime dependencies, so node
alone runs it. Every test ends with its instances terminated: no app outlives it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from opslib.emulator.codedeploy.agent import DEPLOYMENT_LOG
from opslib.emulator.core.procs import processes_with_env
from opslib.stack.hostconfig import APP_LOG
from opslib.stack.monitoring import APP_ERRORS_PATTERN
from tests.emulator.conftest import aws_cli, client
from tests.emulator.deploy_helpers import (
    APP,
    GROUP,
    app_bundle,
    create_group,
    deploy,
    endpoints,
    events_of,
    health,
    hook_bundle,
    host_root,
    launch,
    log_messages,
    processes_mentioning,
    put_agent_config,
    stack_names,
    terminate,
    terminate_all,
    upload,
    wait_deployment,
    wait_until,
)

pytestmark = pytest.mark.emulator

EVENTS_GROUP = "/aws/events/opslib-test"
BARE_AGENT_GROUP = "codedeploy-agent-deployments"  # the agent never writes CloudWatch itself
NAMES = stack_names()  # the stack whose agent config ``shared`` puts in SSM: its log groups


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """One emulator for the module (each test uses its own deployment group and tag).

    Host logs are shipped every half second; the stack's EventBridge rule and the
    CloudWatch agent's SSM parameter (the stack's own config) are in place, as after
    provisioning.
    """
    state_dir = tmp_path_factory.mktemp("codedeploy") / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPSLIB_LOGS_INTERVAL", "0.5")
        env.setenv("OPSLIB_METRICS_INTERVAL", "60")
        env.setenv("OPSLIB_ALARM_EVALUATION_INTERVAL", "1")  # the documented time scale
        info = emulator.start(state_dir, port=0)
    try:
        _route_events(info)
        put_agent_config(info)
        yield info
    finally:
        try:
            terminate_all(info)
        finally:
            emulator.stop(state_dir)


@pytest.fixture
def tmp_fleet(shared: EmulatorInfo) -> Iterator[list[str]]:
    """Instances a test launches (append their ids); terminated at the test's end."""
    ids: list[str] = []
    yield ids
    terminate(shared, ids)


def _route_events(info: EmulatorInfo) -> None:
    """The stack's EventBridge rule: aws.codedeploy events into a log group."""
    client(info, "logs").create_log_group(logGroupName=EVENTS_GROUP)
    events = client(info, "events")
    events.put_rule(Name="codedeploy", EventPattern=json.dumps({"source": ["aws.codedeploy"]}))
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{EVENTS_GROUP}"
    events.put_targets(Rule="codedeploy", Targets=[{"Id": "log", "Arn": arn}])


@dataclass
class Fleet:
    info: EmulatorInfo
    ids: list[str]
    deployment: dict[str, Any]


def _fleet(info: EmulatorInfo, tmp: Path, group: str) -> Fleet:
    """Three instances of ``group`` with sample-app 1.0.0+test1 deployed (OneAtATime)."""
    ids = launch(info, 3, group)
    create_group(info, group)
    revision = upload(info, f"{group}/v1.zip", app_bundle(tmp, "test1"))
    return Fleet(info, ids, wait_deployment(info, deploy(info, revision, group)))


@pytest.fixture(scope="module")
def fleet(shared: EmulatorInfo, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """The module's deployed fleet, for tests that only read (nothing changes it)."""
    return _fleet(shared, tmp_path_factory.mktemp("fleet"), GROUP)


def test_first_deployment_serves_the_revision_on_every_host(fleet: Fleet) -> None:
    assert fleet.deployment["status"] == "Succeeded", fleet.deployment
    assert fleet.deployment["deploymentOverview"]["Succeeded"] == 3
    for endpoint in endpoints(fleet.info, fleet.ids).values():
        assert (health(endpoint) or {}).get("version") == "1.0.0+test1"


def test_every_lifecycle_event_is_reported(fleet: Fleet) -> None:
    deployment_id = fleet.deployment["deploymentId"]
    codedeploy = client(fleet.info, "codedeploy")
    listed = codedeploy.list_deployment_instances(deploymentId=deployment_id)["instancesList"]
    assert sorted(listed) == sorted(fleet.ids)
    for instance_id in fleet.ids:
        events = events_of(fleet.info, deployment_id, instance_id)
        assert list(events) == [
            "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
            "ApplicationStart", "ValidateService",
        ]  # fmt: skip
        assert events.pop("ApplicationStop")["status"] == "Skipped"  # first deployment
        assert {e["status"] for e in events.values()} == {"Succeeded"}
        assert all(e["endTime"] >= e["startTime"] for e in events.values())


def test_aws_cli_sees_the_real_status(fleet: Fleet) -> None:
    deployment_id = fleet.deployment["deploymentId"]
    found = aws_cli(fleet.info, "deploy", "get-deployment", "--deployment-id", deployment_id)
    assert found["deploymentInfo"]["status"] == "Succeeded"
    assert found["deploymentInfo"]["creator"] == "user"


def test_state_change_events_reach_the_log_group(fleet: Fleet) -> None:
    deployment_id = fleet.deployment["deploymentId"]

    def states() -> set[tuple[str, str]]:
        found = [json.loads(m) for m in log_messages(fleet.info, EVENTS_GROUP)]
        return {(e["detail-type"], e["detail"]["state"]) for e in found
                if e["detail"]["deploymentId"] == deployment_id}  # fmt: skip

    wanted = {
        ("CodeDeploy Deployment State-change Notification", "START"),
        ("CodeDeploy Deployment State-change Notification", "SUCCESS"),
        ("CodeDeploy Instance State-change Notification", "START"),
        ("CodeDeploy Instance State-change Notification", "SUCCESS"),
    }
    assert wait_until(lambda: wanted <= states(), what="codedeploy events")


def test_the_agent_writes_its_deployment_log_on_the_host(fleet: Fleet) -> None:
    deployment_id = fleet.deployment["deploymentId"]
    log = host_root(fleet.info, fleet.ids[0]) / DEPLOYMENT_LOG.lstrip("/")
    lines = log.read_text().splitlines()
    # the real agent's format: [YYYY-MM-DD HH:MM:SS.mmm] [d-XXXX]<message>
    pattern = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[d-[0-9A-Z]+\]")
    assert lines and all(pattern.match(line) for line in lines), lines[:5]
    assert any(
        line.endswith(f"[{deployment_id}]LifecycleEvent - ValidateService") for line in lines
    )
    assert any(f"[{deployment_id}][stdout]" in line for line in lines)


def test_deployment_logs_reach_the_group_of_the_cloudwatch_agent_config(fleet: Fleet) -> None:
    deployment_id = fleet.deployment["deploymentId"]

    def shipped(instance_id: str) -> list[str]:
        lines = log_messages(fleet.info, NAMES.deploy_log_group, instance_id)
        done = f"[{deployment_id}]LifecycleEvent - ValidateService"
        return lines if any(done in line for line in lines) else []

    for instance_id, endpoint in endpoints(fleet.info, fleet.ids).items():
        # stream = instance id: that host's lines (its validate hook names its own port)
        lines = wait_until(lambda i=instance_id: shipped(i), what=f"{instance_id}'s agent log")
        port = endpoint.rsplit(":", 1)[1]
        assert any("[stdout]" in line and f"healthy on port {port} after" in line for line in lines)
    assert log_messages(fleet.info, BARE_AGENT_GROUP) == []


def test_app_logs_reach_the_group_of_the_cloudwatch_agent_config(fleet: Fleet) -> None:
    def listening() -> list[str]:
        lines = log_messages(fleet.info, NAMES.app_log_group, fleet.ids[1])
        return [line for line in lines if '"msg":"listening"' in line]

    assert wait_until(listening, what="the app's log lines in CloudWatch")


def test_list_deployments_and_the_group_history(fleet: Fleet) -> None:
    codedeploy = client(fleet.info, "codedeploy")
    ids = codedeploy.list_deployments(
        applicationName=APP, deploymentGroupName=GROUP, includeOnlyStatuses=["Succeeded"]
    )["deployments"]
    assert ids == [fleet.deployment["deploymentId"]]
    group = codedeploy.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)
    last = group["deploymentGroupInfo"]["lastSuccessfulDeployment"]
    assert last["deploymentId"] == fleet.deployment["deploymentId"]


def test_upgrade_then_a_failing_revision_rolls_back(shared: EmulatorInfo, tmp_path: Path) -> None:
    info = shared
    fleet = _fleet(info, tmp_path, "Upgrade-Fleet")
    ids = fleet.ids
    try:
        second = _upgrade(info, ids, tmp_path)
        failed = _failing_revision(info, ids, tmp_path)
        rollback = wait_deployment(info, failed["rollbackInfo"]["rollbackDeploymentId"])
        assert rollback["status"] == "Succeeded", rollback
        assert rollback["creator"] == "codeDeployRollback"
        assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == failed["deploymentId"]
        assert rollback["revision"] == second["revision"]
        assert _versions(info, ids) == {"1.0.0+test2"}
        _terminating_takes_the_app_down(info, ids[0])
    finally:
        terminate(info, ids)


def _versions(info: EmulatorInfo, ids: list[str]) -> set[str | None]:
    return {(health(e) or {}).get("version") for e in endpoints(info, ids).values()}


def _upgrade(info: EmulatorInfo, ids: list[str], tmp: Path) -> dict[str, Any]:
    """test2 replaces test1; ApplicationStop ran test1's stop script first."""
    revision = upload(info, "Upgrade-Fleet/v2.zip", app_bundle(tmp, "test2"))
    second = wait_deployment(info, deploy(info, revision, "Upgrade-Fleet"))
    assert second["status"] == "Succeeded", second
    assert (
        events_of(info, second["deploymentId"], ids[0])["ApplicationStop"]["status"] == "Succeeded"
    )
    marker = f"[{second['deploymentId']}][stdout]"

    def stopped() -> bool:
        log = log_messages(info, NAMES.deploy_log_group, ids[0])
        return any(marker in line and "stopped sample-app" in line for line in log)

    assert wait_until(stopped, what="test1's stop script output in the agent log group")
    assert _versions(info, ids) == {"1.0.0+test2"}
    return second


def _failing_revision(info: EmulatorInfo, ids: list[str], tmp: Path) -> dict[str, Any]:
    """test3 fails ValidateService on the second host: third Skipped, deployment Failed."""
    bad = app_bundle(tmp, "test3", fail_validate_on=ids[1])
    revision = upload(info, "Upgrade-Fleet/v3.zip", bad)
    failed = wait_deployment(info, deploy(info, revision, "Upgrade-Fleet"))
    assert failed["status"] == "Failed"
    assert failed["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    validate = events_of(info, failed["deploymentId"], ids[1])["ValidateService"]
    assert validate["status"] == "Failed"
    assert validate["diagnostics"]["errorCode"] == "ScriptFailed"
    assert validate["diagnostics"]["scriptName"] == "scripts/validate_wrapper.sh"
    assert "forced failure" in validate["diagnostics"]["logTail"]
    assert events_of(info, failed["deploymentId"], ids[2])["DownloadBundle"]["status"] == "Skipped"
    assert failed["deploymentOverview"]["Skipped"] == 1
    return failed


def _terminating_takes_the_app_down(info: EmulatorInfo, instance_id: str) -> None:
    endpoint = endpoints(info, [instance_id])[instance_id]
    assert health(endpoint) is not None
    terminate(info, [instance_id])
    assert wait_until(lambda: health(endpoint) is None, what="the app to go down")


# -- stop, limits, timeouts, alarms -----------------------------------------------------------
SLOW = "echo waiting; exec sleep 3141"


def _slow_deployment(
    info: EmulatorInfo, tmp: Path, group: str, ids: list[str], **extra: Any
) -> tuple[str, str]:
    """A one-instance deployment whose BeforeInstall hook sleeps; (deployment, instance)."""
    ids += launch(info, 1, group)
    create_group(info, group, **extra)
    revision = upload(info, f"{group}/slow.zip", hook_bundle(tmp, "slow", {"BeforeInstall": SLOW}))
    deployment_id = deploy(info, revision, group)
    wait_until(
        lambda: events_of(info, deployment_id, ids[-1])["BeforeInstall"]["status"] == "InProgress",
        what="BeforeInstall to run",
    )
    wait_until(lambda: processes_mentioning("sleep 3141", deployment_id), what="the hook's process")
    return deployment_id, ids[-1]


def test_stop_deployment_ends_the_running_hook(
    shared: EmulatorInfo, tmp_path: Path, tmp_fleet: list[str]
) -> None:
    deployment_id, instance_id = _slow_deployment(shared, tmp_path, "Stop-Group", tmp_fleet)
    codedeploy = client(shared, "codedeploy")
    assert codedeploy.stop_deployment(deploymentId=deployment_id)["status"] == "Pending"
    stopped = wait_deployment(shared, deployment_id, timeout=30)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    assert not processes_mentioning("sleep 3141", deployment_id)
    assert events_of(shared, deployment_id, instance_id)["Install"]["status"] == "Skipped"
    with pytest.raises(ClientError) as refused:
        codedeploy.stop_deployment(deploymentId=deployment_id)
    assert refused.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_one_active_deployment_per_group(
    shared: EmulatorInfo, tmp_path: Path, tmp_fleet: list[str]
) -> None:
    deployment_id, _ = _slow_deployment(shared, tmp_path, "Limit-Group", tmp_fleet)
    revision = upload(shared, "Limit-Group/other.zip", hook_bundle(tmp_path, "other", {}))
    with pytest.raises(ClientError) as refused:
        deploy(shared, revision, "Limit-Group")
    error = refused.value.response["Error"]
    assert error["Code"] == "DeploymentLimitExceededException"
    assert deployment_id in error["Message"]
    client(shared, "codedeploy").stop_deployment(deploymentId=deployment_id)
    assert wait_deployment(shared, deployment_id, timeout=30)["status"] == "Stopped"


def test_a_hook_past_its_timeout_fails_script_timed_out(
    shared: EmulatorInfo, tmp_path: Path, tmp_fleet: list[str]
) -> None:
    tmp_fleet += launch(shared, 1, "Timeout-Group")
    create_group(shared, "Timeout-Group")
    bundle = hook_bundle(tmp_path, "hang", {"AfterInstall": "exec sleep 2718"}, timeout=1)
    deployment_id = deploy(shared, upload(shared, "hang.zip", bundle), "Timeout-Group")
    failed = wait_deployment(shared, deployment_id, timeout=30)
    assert failed["status"] == "Failed"
    event = events_of(shared, deployment_id, tmp_fleet[0])["AfterInstall"]
    assert event["diagnostics"]["errorCode"] == "ScriptTimedOut"
    assert "failed to complete in 1 seconds" in event["diagnostics"]["message"]
    assert not processes_mentioning("sleep 2718", deployment_id)
    assert "no earlier successful" in failed["rollbackInfo"]["rollbackMessage"]


def test_an_alarm_in_alarm_stops_the_deployment(
    shared: EmulatorInfo, tmp_path: Path, tmp_fleet: list[str]
) -> None:
    cloudwatch = client(shared, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="app-errors", MetricName="Errors", Namespace="App", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    alarms = {"enabled": True, "alarms": [{"name": "app-errors"}]}
    deployment_id, _ = _slow_deployment(
        shared, tmp_path, "Alarm-Group", tmp_fleet, alarmConfiguration=alarms
    )
    cloudwatch.set_alarm_state(AlarmName="app-errors", StateValue="ALARM", StateReason="test")
    stopped = wait_deployment(shared, deployment_id, timeout=30)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "app-errors" in stopped["errorInformation"]["message"]
    assert not processes_with_env("DEPLOYMENT_ID", deployment_id)  # its hook was ended


def test_app_errors_during_a_release_alarm_stop_and_roll_back(
    shared: EmulatorInfo, tmp_path: Path, tmp_fleet: list[str]
) -> None:
    """The seed's alarm chain with no SetAlarmState and no PutMetricData: the release writes
    error lines to the app's log on the host -> the CloudWatch agent ships them to the app
    log group -> the stack's app-errors metric filter counts them -> the app-errors alarm
    (as opslib/stack/monitoring.py defines it) evaluates to ALARM -> CodeDeploy's alarm poll
    stops the release and rolls back to the last good revision.
    """
    group, alarm = "Alarm-Rollback", "opslib-test-app-errors-e2e"
    logs = client(shared, "logs")
    if not logs.describe_log_groups(logGroupNamePrefix=NAMES.app_log_group)["logGroups"]:
        logs.create_log_group(logGroupName=NAMES.app_log_group)
    logs.put_metric_filter(
        logGroupName=NAMES.app_log_group, filterName="app-errors", filterPattern=APP_ERRORS_PATTERN,
        metricTransformations=[{"metricName": "AppErrors", "metricValue": "1",
                                "metricNamespace": NAMES.metric_namespace}],
    )  # fmt: skip
    cloudwatch = client(shared, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace=NAMES.metric_namespace, MetricName="AppErrors",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    tmp_fleet += launch(shared, 1, group)
    create_group(shared, group)
    client(shared, "codedeploy").update_deployment_group(
        applicationName=APP, currentDeploymentGroupName=group,
        alarmConfiguration={"enabled": True, "alarms": [{"name": alarm}]},
        autoRollbackConfiguration={
            "enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
        },
    )  # fmt: skip
    good = upload(shared, f"{group}/v1.zip", app_bundle(tmp_path, "test1"))
    assert wait_deployment(shared, deploy(shared, good, group))["status"] == "Succeeded"
    errors = "\n".join(['{"level":"error","msg":"upstream refused"}'] * 6 + ['{"level":"info"}'])
    log = f'"$OPSLIB_HOST_ROOT{APP_LOG}"'
    erroring = f"mkdir -p \"$(dirname {log})\"\nprintf '%s\\n' '{errors}' >> {log}\n{SLOW}"
    release = upload(
        shared, f"{group}/v2.zip",
        hook_bundle(tmp_path, "v2", {"AfterInstall": erroring}, timeout=600),
    )  # fmt: skip
    release_id = deploy(shared, release, group)
    wait_until(lambda: processes_mentioning("sleep 3141", release_id), what="the release's hook")
    # The minute of the errors must end before the alarm can see it (as on AWS).
    stopped = wait_deployment(shared, release_id, timeout=150)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert alarm in stopped["errorInformation"]["message"]
    rollback = wait_deployment(shared, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == release_id
    assert rollback["revision"] == good
    # The rollback watches the same alarms: while the errors' minute keeps the alarm in
    # ALARM, it is stopped too (ALARM_ACTIVE), as CodeDeploy does.
    assert rollback["status"] == "Succeeded" or (
        rollback["errorInformation"]["code"] == "ALARM_ACTIVE"
    ), rollback
    history = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    reasons = [json.loads(i["HistoryData"])["newState"]["stateReason"]
               for i in history["AlarmHistoryItems"]]  # fmt: skip
    assert any(r.startswith("Threshold Crossed: 1 datapoint [6.0 (") for r in reasons), reasons


# -- deployment configs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "status", "overview"),
    [
        ("CodeDeployDefault.AllAtOnce", "Succeeded", {"Succeeded": 2, "Failed": 1, "Skipped": 0}),
        ("CodeDeployDefault.HalfAtATime", "Failed", {"Succeeded": 1, "Failed": 1, "Skipped": 1}),
        ("OneHealthy", "Succeeded", {"Succeeded": 2, "Failed": 1, "Skipped": 0}),
    ],
)
def test_deployment_configs_decide_the_outcome(
    shared: EmulatorInfo,
    tmp_path: Path,
    tmp_fleet: list[str],
    config: str,
    status: str,
    overview: dict[str, int],
) -> None:
    codedeploy = client(shared, "codedeploy")
    if "OneHealthy" not in codedeploy.list_deployment_configs()["deploymentConfigsList"]:
        codedeploy.create_deployment_config(
            deploymentConfigName="OneHealthy",
            minimumHealthyHosts={"type": "HOST_COUNT", "value": 1},
        )
    group = f"Config-{config.rsplit('.', 1)[-1]}"
    tmp_fleet += launch(shared, 3, group)
    create_group(shared, group, config=config)
    fail_second = f'[[ "$OPSLIB_HOST_ID" != "{tmp_fleet[1]}" ]]'
    hooks = {"BeforeInstall": fail_second}
    revision = upload(shared, f"{group}/c.zip", hook_bundle(tmp_path, "c", hooks))
    done = wait_deployment(shared, deploy(shared, revision, group))
    assert done["status"] == status
    assert {k: done["deploymentOverview"][k] for k in overview} == overview


@pytest.mark.parametrize(
    ("instances", "config", "code"),
    [
        (0, "CodeDeployDefault.OneAtATime", "NO_INSTANCES"),
        (1, "CodeDeployDefault.HalfAtATime", "HEALTH_CONSTRAINTS_INVALID"),  # 1 healthy of 1
    ],
)
def test_deployments_that_cannot_start_fail_at_once(
    shared: EmulatorInfo,
    tmp_path: Path,
    tmp_fleet: list[str],
    instances: int,
    config: str,
    code: str,
) -> None:
    group = f"Cannot-{code}"
    tmp_fleet += launch(shared, instances, group) if instances else []
    create_group(shared, group, config=config)
    revision = upload(shared, f"{group}/n.zip", hook_bundle(tmp_path, "n", {}))
    failed = wait_deployment(shared, deploy(shared, revision, group), timeout=30)
    assert failed["status"] == "Failed"
    assert failed["errorInformation"]["code"] == code


def test_deployment_config_api(shared: EmulatorInfo) -> None:
    codedeploy = client(shared, "codedeploy")
    names = codedeploy.list_deployment_configs()["deploymentConfigsList"]
    assert {"CodeDeployDefault.OneAtATime", "CodeDeployDefault.HalfAtATime",
            "CodeDeployDefault.AllAtOnce"} <= set(names)  # fmt: skip
    half = codedeploy.get_deployment_config(deploymentConfigName="CodeDeployDefault.HalfAtATime")
    healthy = half["deploymentConfigInfo"]["minimumHealthyHosts"]
    assert healthy == {"type": "FLEET_PERCENT", "value": 50}
    codedeploy.create_deployment_config(
        deploymentConfigName="ThreeQuarters",
        minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 75},
    )
    got = codedeploy.get_deployment_config(deploymentConfigName="ThreeQuarters")
    assert got["deploymentConfigInfo"]["minimumHealthyHosts"]["value"] == 75
    codedeploy.delete_deployment_config(deploymentConfigName="ThreeQuarters")
    assert "ThreeQuarters" not in codedeploy.list_deployment_configs()["deploymentConfigsList"]


@pytest.mark.parametrize(
    ("operation", "kwargs", "code"),
    [
        ("create_deployment_config",
         {"deploymentConfigName": "CodeDeployDefault.AllAtOnce",
          "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 1}},
         "DeploymentConfigAlreadyExistsException"),
        ("create_deployment_config",
         {"deploymentConfigName": "Bad",
          "minimumHealthyHosts": {"type": "HOST_COUNT", "value": -1}},
         "InvalidMinimumHealthyHostValueException"),
        ("delete_deployment_config", {"deploymentConfigName": "CodeDeployDefault.AllAtOnce"},
         "InvalidOperationException"),
        ("get_deployment_config", {"deploymentConfigName": "Nope"},
         "DeploymentConfigDoesNotExistException"),
        ("get_deployment", {"deploymentId": "d-NOTHERE00"}, "DeploymentDoesNotExistException"),
        ("stop_deployment", {"deploymentId": "d-NOTHERE00"}, "DeploymentDoesNotExistException"),
        ("create_deployment",
         {"applicationName": "nope", "deploymentGroupName": "g",
          "revision": {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}}},
         "ApplicationDoesNotExistException"),
    ],
)  # fmt: skip
def test_errors_carry_the_aws_error_code(
    shared: EmulatorInfo, operation: str, kwargs: dict[str, Any], code: str
) -> None:
    with pytest.raises(ClientError) as refused:
        getattr(client(shared, "codedeploy"), operation)(**kwargs)
    assert refused.value.response["Error"]["Code"] == code


def test_an_interrupted_deployment_fails_after_a_restart(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    first = start_emulator()
    deployment_id, _ = _slow_deployment(first, tmp_path, "Crash-Group", [])
    os.kill(first.pid, signal.SIGKILL)
    second = start_emulator()
    try:
        assert not processes_with_env("DEPLOYMENT_ID", deployment_id)  # recovery ended them
        found = client(second, "codedeploy").get_deployment(deploymentId=deployment_id)
        assert found["deploymentInfo"]["status"] == "Failed"
        assert found["deploymentInfo"]["errorInformation"]["code"] == "INTERNAL_ERROR"
    finally:
        terminate_all(second)


def test_without_the_agent_config_the_deployment_log_stays_on_the_host(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    """No ``AmazonCloudWatch-linux`` parameter, no shipping (as on EC2); once it is put,
    the file is shipped from its start to the group it names."""
    info = start_emulator(OPSLIB_LOGS_INTERVAL="0.2")
    try:
        ids = launch(info, 1, "NoConfig-Group")
        create_group(info, "NoConfig-Group")
        hooks = {"BeforeInstall": "echo before-install-ran"}
        revision = upload(info, "NoConfig-Group/h.zip", hook_bundle(tmp_path, "h", hooks))
        done = wait_deployment(info, deploy(info, revision, "NoConfig-Group"), timeout=60)
        assert done["status"] == "Succeeded", done
        marker = f"[{done['deploymentId']}][stdout]before-install-ran"
        log = host_root(info, ids[0]) / DEPLOYMENT_LOG.lstrip("/")
        assert any(line.endswith(marker) for line in log.read_text().splitlines())
        time.sleep(1.0)  # five shipping passes
        groups = client(info, "logs").describe_log_groups()["logGroups"]
        assert not [g["logGroupName"] for g in groups if "codedeploy" in g["logGroupName"]]

        put_agent_config(info)

        def shipped() -> bool:
            lines = log_messages(info, NAMES.deploy_log_group, ids[0])
            return any(line.endswith(marker) for line in lines)

        assert wait_until(shipped, what="the deployment log after the agent config appeared")
    finally:
        terminate_all(info)
