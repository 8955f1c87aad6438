"""Helpers for the CodeDeploy emulator tests: bundles, fleets, waiting, probing hosts."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from opslib.emulator import EmulatorInfo
from opslib.emulator.core.procs import processes_with_env
from opslib.emulator.core.zips import write_zip
from opslib.stack.context import Names
from opslib.stack.hostconfig import agent_config
from tests.emulator.conftest import REGION, REPO, client

BUCKET = "opslib-test-bundles"
APP = "sample-app"
GROUP = "Production-Fleet"
TAG_KEY = "DeploymentGroup"
ROLE = "arn:aws:iam::123456789012:role/opslib-test-codedeploy"
TERMINAL = {"Succeeded", "Failed", "Stopped"}
STACK = "opslib-test"  # the stack whose CloudWatch agent config the tests put in SSM

# ValidateService that fails on one host (named by OPSLIB_FAIL_ON), else the real script.
FAILING_VALIDATE = """#!/bin/bash
if [[ "$OPSLIB_HOST_ID" == "{fail_on}" ]]; then
  echo "forced failure on $OPSLIB_HOST_ID" >&2
  exit 3
fi
exec "$(dirname "$0")/validate_service.sh"
"""
# ValidateService that hangs on one host (a crash test kills the emulator meanwhile).
HANGING_VALIDATE = """#!/bin/bash
if [[ "$OPSLIB_HOST_ID" == "{fail_on}" ]]; then
  sleep 2718
fi
exec "$(dirname "$0")/validate_service.sh"
"""


def _zip_dir(root: Path, dest: Path) -> bytes:
    entries = [(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]
    write_zip(entries, dest)
    return dest.read_bytes()


def app_bundle(
    tmp: Path, version: str, fail_validate_on: str = "", hang_validate_on: str = ""
) -> bytes:
    """The sample-app bundle as post_build makes it (no npm: the app has no dependencies)."""
    root = tmp / f"bundle-{version}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "app").mkdir(parents=True)
    appspec = (REPO / "appspec.yml").read_text()
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copytree(REPO / "sample-app" / "src", root / "app" / "src")
    shutil.copy2(REPO / "sample-app" / "package.json", root / "app" / "package.json")
    release = {"version": f"1.0.0+{version}", "commit": version, "buildId": "local"}
    (root / "app" / "release.json").write_text(json.dumps(release) + "\n")
    if fail_validate_on or hang_validate_on:
        wrapper = root / "scripts" / "validate_wrapper.sh"
        script = FAILING_VALIDATE if fail_validate_on else HANGING_VALIDATE
        wrapper.write_text(script.replace("{fail_on}", fail_validate_on or hang_validate_on))
        wrapper.chmod(0o755)
        appspec = appspec.replace("scripts/validate_service.sh", "scripts/validate_wrapper.sh")
    (root / "appspec.yml").write_text(appspec)
    return _zip_dir(root, tmp / f"{version}.zip")


def hook_bundle(tmp: Path, name: str, hooks: dict[str, str], timeout: int = 60) -> bytes:
    """A bundle without an app: each hook is a small bash script (body given)."""
    root = tmp / f"bundle-{name}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "scripts").mkdir(parents=True)
    (root / "files").mkdir()
    (root / "files" / "hello.txt").write_text(f"hello from {name}\n")
    lines = ["version: 0.0", "os: linux", "files:", "  - source: files",
             "    destination: /srv/hello", "hooks:"]  # fmt: skip
    for event, body in hooks.items():
        script = root / "scripts" / f"{event}.sh"
        script.write_text(f"#!/bin/bash\nset -e\n{body}\n")
        script.chmod(0o755)
        lines += [f"  {event}:", f"    - location: scripts/{event}.sh", f"      timeout: {timeout}"]
    (root / "appspec.yml").write_text("\n".join(lines) + "\n")
    return _zip_dir(root, tmp / f"{name}.zip")


def stack_names(stack: str = STACK) -> Names:
    return Names(stack, "123456789012", REGION)


def put_agent_config(info: EmulatorInfo, stack: str = STACK) -> Names:
    """The CloudWatch agent config a stack writes to SSM (``AmazonCloudWatch-linux``).

    As on EC2, host log files (the app's log, the deploy agent's deployment log) reach
    CloudWatch only through this config: without it nothing is shipped. Returns the
    stack's names: ``app_log_group`` and ``deploy_log_group`` are where the lines go,
    stream = the instance id.
    """
    names = stack_names(stack)
    client(info, "ssm").put_parameter(
        Name=names.agent_config_parameter,
        Type="String",
        Value=json.dumps(agent_config(names, retention_days=7)),
        Overwrite=True,
    )
    return names


def log_messages(info: EmulatorInfo, group: str, stream: str | None = None) -> list[str]:
    """The messages of a log group (one stream if given); none when it does not exist."""
    logs = client(info, "logs")
    kwargs = {"logStreamNames": [stream]} if stream else {}
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kwargs)
    try:
        return [e["message"] for page in pages for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def host_root(info: EmulatorInfo, instance_id: str) -> Path:
    """The local root directory of an instance's host (its ``opslib:host-root`` tag)."""
    reservations = client(info, "ec2").describe_instances(InstanceIds=[instance_id])
    tags = reservations["Reservations"][0]["Instances"][0]["Tags"]
    return Path({t["Key"]: t["Value"] for t in tags}["opslib:host-root"])


def upload(info: EmulatorInfo, key: str, data: bytes) -> dict[str, Any]:
    s3 = client(info, "s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": BUCKET, "key": key, "bundleType": "zip", "eTag": put["ETag"]},
    }


def launch(info: EmulatorInfo, count: int, group: str = GROUP) -> list[str]:
    """Instance ids in launch order, tagged DeploymentGroup=<group>."""
    tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG_KEY, "Value": group}]}]
    reservation = client(info, "ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=count, MaxCount=count, TagSpecifications=tags
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def create_group(
    info: EmulatorInfo,
    group: str = GROUP,
    config: str = "CodeDeployDefault.OneAtATime",
    **extra: Any,
) -> None:
    """A deployment group selecting instances tagged DeploymentGroup=<group>."""
    codedeploy = client(info, "codedeploy")
    if APP not in codedeploy.list_applications()["applications"]:
        codedeploy.create_application(applicationName=APP, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=APP,
        deploymentGroupName=group,
        deploymentConfigName=config,
        ec2TagFilters=[{"Key": TAG_KEY, "Value": group, "Type": "KEY_AND_VALUE"}],
        serviceRoleArn=ROLE,
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        **extra,
    )


def deploy(info: EmulatorInfo, revision: dict[str, Any], group: str = GROUP, **extra: Any) -> str:
    return str(
        client(info, "codedeploy").create_deployment(
            applicationName=APP, deploymentGroupName=group, revision=revision, **extra
        )["deploymentId"]
    )


def wait_deployment(info: EmulatorInfo, deployment_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll GetDeployment until the deployment ends (as any AWS client must)."""
    codedeploy = client(info, "codedeploy")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if found["status"] in TERMINAL:
            return dict(found)
        time.sleep(0.2)
    raise AssertionError(f"deployment {deployment_id} did not end within {timeout}s")


def wait_until(predicate: Any, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s")


def endpoints(info: EmulatorInfo, ids: list[str]) -> dict[str, str]:
    reservations = client(info, "ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {
        i["InstanceId"]: {t["Key"]: t["Value"] for t in i["Tags"]}["opslib:endpoint"]
        for r in reservations
        for i in r["Instances"]
    }


def health(endpoint: str) -> dict[str, Any] | None:
    """GET /health of a host's app; None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=3) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def events_of(
    info: EmulatorInfo, deployment_id: str, instance_id: str
) -> dict[str, dict[str, Any]]:
    target = client(info, "codedeploy").get_deployment_target(
        deploymentId=deployment_id, targetId=instance_id
    )["deploymentTarget"]["instanceTarget"]
    return {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}


def processes_mentioning(text: str, deployment_id: str | None = None) -> list[int]:
    """Live processes whose command line contains ``text`` (zombies excluded).

    With ``deployment_id``, only that deployment's hook processes (its DEPLOYMENT_ID in their
    environment): under pytest-xdist another test's hook with the same command may be ending.
    """
    own = None if deployment_id is None else set(processes_with_env("DEPLOYMENT_ID", deployment_id))
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            continue
        if text in cmdline and state != "Z" and (own is None or int(entry.name) in own):
            found.append(int(entry.name))
    return found


def terminate(info: EmulatorInfo, ids: list[str]) -> None:
    """End these instances (and with them their apps): no process outlives a test."""
    if ids:
        client(info, "ec2").terminate_instances(InstanceIds=ids)


def terminate_all(info: EmulatorInfo) -> None:
    ec2 = client(info, "ec2")
    ids = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
           if i["State"]["Name"] != "terminated"]  # fmt: skip
    terminate(info, ids)
