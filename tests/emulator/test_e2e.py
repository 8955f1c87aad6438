"""This repository's own pipeline, end to end on a 3-instance fleet (OneAtATime).

opslib up provisions the stack on a fresh emulator; creating the pipeline starts it (as on
AWS); jest really runs in the build; CodeDeploy really runs the hook scripts on three local
hosts. Then a release whose ValidateService fails on the second host rolls itself back.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from opslib import stack
from opslib.cli.main import cli
from opslib.config import StackConfig, parse_config
from opslib.emulator import EmulatorInfo
from opslib.ops import pipeline
from opslib.target import Session, Target, TargetKind
from tests.emulator.conftest import REPO, client
from tests.emulator.pipeline_helpers import commit, git

STACK = "e2e"
FAIL_ON_SECOND_HOST = """
# test-only: the first host to validate leaves a mark; every later host fails.
mark="${OPSLIB_HOST_ROOT:?}/../../.validated-once"
if [ -e "$mark" ]; then echo "ValidateService: failing on purpose (second host)" >&2; exit 1; fi
touch "$mark"
"""


def _served(info: EmulatorInfo) -> dict[str, dict[str, Any]]:
    """What every running fleet instance's app answers on /version."""
    reservations = client(info, "ec2").describe_instances(
        Filters=[{"Name": "tag:DeploymentGroup", "Values": ["Production-Fleet"]},
                 {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]  # fmt: skip
    served = {}
    for instance in (i for r in reservations for i in r["Instances"]):
        endpoint = {t["Key"]: t["Value"] for t in instance["Tags"]}["opslib:endpoint"]
        with urllib.request.urlopen(f"{endpoint}/version", timeout=5) as response:
            served[instance["InstanceId"]] = json.loads(response.read())
    return served


def _release(session: Session, timeout: float = 600) -> pipeline.ExecutionReport:
    name = pipeline.pipeline_name(STACK)
    execution_id, _ = pipeline.start_or_attach(session, name)
    return pipeline.follow(session, name, execution_id, timeout=timeout)


def _status(info: EmulatorInfo, config: StackConfig, tmp_path: Path) -> str:
    """What ``opslib status`` prints for the stack."""
    settings = {**config.to_dict(), "emulator": {"port": info.port,
                                                 "state_dir": str(info.state_dir)}}  # fmt: skip
    config = tmp_path / "opslib.yml"
    config.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    return result.output


def _wait_for_rollback(info: EmulatorInfo, failed_id: str, timeout: float = 300) -> dict[str, Any]:
    codedeploy = client(info, "codedeploy")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = codedeploy.get_deployment(deploymentId=failed_id)["deploymentInfo"]
        rollback_id = failed.get("rollbackInfo", {}).get("rollbackDeploymentId")
        if rollback_id:
            rollback = codedeploy.get_deployment(deploymentId=rollback_id)["deploymentInfo"]
            if rollback["status"] in ("Succeeded", "Failed", "Stopped"):
                return dict(rollback)
        time.sleep(0.5)
    raise AssertionError(f"no finished rollback of {failed_id}")


def test_release_then_a_broken_release_rolls_back(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    info = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="3600")  # releases start explicitly
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    git(repo, "checkout", "-q", "-B", "main")  # a clone of a detached checkout has no branch
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "test")
    good = git(repo, "rev-parse", "HEAD")
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD")  # the clone's: main or a branch
    source = {"repository": str(repo), "branch": branch}
    config = parse_config({"stack": STACK, "source": source, "fleet": {"size": 3}})
    session = Session(Target(TargetKind.LOCAL, "us-east-1", endpoint_url=info.endpoint))
    try:
        stack.apply(session, config)

        report = _release(session)  # attaches to the execution CreatePipeline started
        assert report.succeeded, (report.failed_action, report.log_tail)
        assert report.revision == good
        served = _served(info)
        assert len(served) == 3
        assert {v["commit"] for v in served.values()} == {good}
        status = _status(info, config, tmp_path)
        assert f"Succeeded · commit {good[:12]}" in status.split("last pipeline execution:")[1]
        assert status.split("serving:")[1].count(f"(commit {good[:12]}), health ok") == 3

        script = (repo / "scripts" / "validate_service.sh").read_text()
        header, _, body = script.partition("\n")
        broken = commit(
            repo,
            {"scripts/validate_service.sh": f"{header}\n{FAIL_ON_SECOND_HOST}{body}"},
            "break ValidateService",
        )
        report = _release(session)
        assert report.status == "Failed"
        assert report.failed_action is not None and report.failed_action.action == "Deploy"
        assert any("failing on purpose" in line for line in report.log_tail or [])
        rollback = _wait_for_rollback(info, report.failed_action.external_id)
        assert rollback["status"] == "Succeeded"
        assert (
            rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"]
            == report.failed_action.external_id
        )
        assert {v["commit"] for v in _served(info).values()} == {good} != {broken}
    finally:
        stack.destroy(session, config)
