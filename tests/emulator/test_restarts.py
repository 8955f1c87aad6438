"""After a restart the fleet is as EC2 and CodeDeploy would leave it.

- A running instance serves its app again, as a rebooted EC2 instance does (systemd starts
  the enabled unit; on an emulator host, the boot entry ApplicationStart wrote).
- A deployment a crash cut short ends Failed (INTERNAL_ERROR) and, where the group rolls
  back on failure, CodeDeploy's automatic rollback restores the last good revision.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import (
    app_bundle,
    create_group,
    deploy,
    endpoints,
    events_of,
    health,
    launch,
    processes_mentioning,
    terminate_all,
    upload,
    wait_deployment,
    wait_until,
)

pytestmark = pytest.mark.emulator


def _restart(start: Callable[..., EmulatorInfo], info: EmulatorInfo, how: str) -> EmulatorInfo:
    if how == "stop":
        emulator.stop(info.state_dir)
    else:
        os.kill(info.pid, signal.SIGKILL)
    return start()


def _versions(info: EmulatorInfo, ids: list[str]) -> dict[str, str | None]:
    answers = {i: health(e) for i, e in endpoints(info, ids).items()}
    return {i: (a or {}).get("version") for i, a in answers.items()}


def _serving(info: EmulatorInfo, ids: list[str], version: str) -> bool:
    return set(_versions(info, ids).values()) == {version}


@pytest.mark.parametrize("how", ["stop", "kill -9"])
def test_running_instances_serve_their_app_after_a_restart(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path, how: str
) -> None:
    first = start_emulator()
    ids = launch(first, 2, "Reboot-Group")
    create_group(first, "Reboot-Group")
    revision = upload(first, "Reboot-Group/v1.zip", app_bundle(tmp_path, "boot1"))
    assert wait_deployment(first, deploy(first, revision, "Reboot-Group"))["status"] == "Succeeded"
    assert _serving(first, ids, "1.0.0+boot1")
    stopped = ids[1]
    client(first, "ec2").stop_instances(InstanceIds=[stopped])
    second = _restart(start_emulator, first, how)
    try:
        running = ids[0]
        wait_until(lambda: _serving(second, [running], "1.0.0+boot1"), what="the app after boot")
        assert _versions(second, [stopped]) == {stopped: None}  # a stopped instance stays down
        client(second, "ec2").start_instances(InstanceIds=[stopped])
        wait_until(lambda: _serving(second, [stopped], "1.0.0+boot1"), what="a started instance")
    finally:
        terminate_all(second)


@pytest.mark.parametrize("how", ["stop", "kill -9"])
def test_a_deployment_cut_short_by_a_restart_rolls_back(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path, how: str
) -> None:
    first = start_emulator()
    ids = launch(first, 2, "Crash-Rollback")
    create_group(first, "Crash-Rollback")
    good = upload(first, "Crash-Rollback/v1.zip", app_bundle(tmp_path, "good1"))
    assert wait_deployment(first, deploy(first, good, "Crash-Rollback"))["status"] == "Succeeded"
    first_host = sorted(ids)[0]
    bad = upload(
        first, "Crash-Rollback/v2.zip", app_bundle(tmp_path, "bad2", hang_validate_on=first_host)
    )
    cut = deploy(first, bad, "Crash-Rollback")
    host = wait_until(
        lambda: next(
            (i for i in ids if events_of(first, cut, i)["ValidateService"]["status"]
             == "InProgress"), None),
        what="ValidateService to run",
    )  # fmt: skip
    wait_until(lambda: processes_mentioning("sleep 2718", cut), what="the hanging hook")
    second = _restart(start_emulator, first, how)
    try:
        failed = client(second, "codedeploy").get_deployment(deploymentId=cut)["deploymentInfo"]
        assert failed["status"] == "Failed"
        assert failed["errorInformation"]["code"] == "INTERNAL_ERROR"
        assert not processes_mentioning("sleep 2718", cut)
        rollback_id = wait_until(
            lambda: client(second, "codedeploy").get_deployment(deploymentId=cut)[
                "deploymentInfo"].get("rollbackInfo", {}).get("rollbackDeploymentId"),
            what="the automatic rollback",
        )  # fmt: skip
        rolled = wait_deployment(second, rollback_id)
        assert rolled["status"] == "Succeeded", rolled
        assert rolled["creator"] == "codeDeployRollback"
        assert rolled["rollbackInfo"]["rollbackTriggeringDeploymentId"] == cut
        assert host in ids
        wait_until(lambda: _serving(second, ids, "1.0.0+good1"), what="the good version back")
    finally:
        terminate_all(second)
