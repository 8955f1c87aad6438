"""kill -9 at the worst moments of a provisioned, released stack: nothing acknowledged is lost.

One stack, four crashes, in this order: idle, mid-build, mid-deployment, mid-write burst.
After each restart every resource is there (``opslib plan`` is empty), the fleet serves
the last good commit, and nothing is stuck in a non-terminal state: the interrupted build
ended, its pipeline execution failed with the reason, the interrupted deployment failed
and was rolled back, and every write the emulator acknowledged can be read back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from opslib import stack
from opslib.config import StackConfig, parse_config
from opslib.emulator import EmulatorInfo
from opslib.ops import pipeline
from opslib.target import Session, Target, TargetKind
from tests.emulator.conftest import REPO, client
from tests.emulator.deploy_helpers import processes_mentioning, wait_until
from tests.emulator.pipeline_helpers import commit, git

pytestmark = pytest.mark.emulator

STACK = "crash"
HANG_ON_FIRST_HOST = """
# test-only: the first host to validate hangs here (the test kills the emulator meanwhile).
mark="${OPSLIB_HOST_ROOT:?}/../../.validated-once"
if [ ! -e "$mark" ]; then touch "$mark"; sleep 2719; fi
"""
ACTIVE_DEPLOYMENT = ["Created", "Queued", "InProgress", "Baking", "Ready"]


@dataclass
class Stack:
    start: Callable[..., EmulatorInfo]
    info: EmulatorInfo
    repo: Path
    config: StackConfig
    good: str

    @property
    def session(self) -> Session:
        target = Target(TargetKind.LOCAL, "us-east-1", endpoint_url=self.info.endpoint)
        return Session(target)

    def crash(self) -> None:
        os.kill(self.info.pid, signal.SIGKILL)
        self.info = self.start()


@pytest.fixture
def released(start_emulator: Callable[..., EmulatorInfo], tmp_path: Path) -> Iterator[Stack]:
    info = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="3600")  # releases start explicitly
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    git(repo, "checkout", "-q", "-B", "main")  # a clone of a detached checkout has no branch
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "test")
    config = parse_config({"stack": STACK, "source": {"repository": str(repo)},
                           "fleet": {"size": 2}})  # fmt: skip
    crashed = Stack(start_emulator, info, repo, config, git(repo, "rev-parse", "HEAD"))
    stack.apply(crashed.session, config)
    report = _follow(crashed.session)  # the execution CreatePipeline started
    assert report.succeeded, (report.failed_action, report.log_tail)
    yield crashed
    stack.destroy(crashed.session, config)


def _follow(session: Session, execution_id: str | None = None) -> pipeline.ExecutionReport:
    name = pipeline.pipeline_name(STACK)
    if execution_id is None:
        execution_id, _ = pipeline.start_or_attach(session, name)
    return pipeline.follow(session, name, execution_id, timeout=600)


def _start(released: Stack) -> str:
    name = pipeline.pipeline_name(STACK)
    started = client(released.info, "codepipeline").start_pipeline_execution(name=name)
    return str(started["pipelineExecutionId"])


def _served(info: EmulatorInfo) -> set[str]:
    reservations = client(info, "ec2").describe_instances(
        Filters=[{"Name": "tag:opslib:stack", "Values": [STACK]},
                 {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]  # fmt: skip
    commits = set()
    for instance in (i for r in reservations for i in r["Instances"]):
        endpoint = {t["Key"]: t["Value"] for t in instance["Tags"]}["opslib:endpoint"]
        try:
            with urllib.request.urlopen(f"{endpoint}/version", timeout=3) as response:
                commits.add(json.loads(response.read())["commit"])
        except OSError:
            commits.add("(not serving)")
    return commits


def _assert_whole(released: Stack) -> None:
    """The invariants after any crash: resources, fleet, nothing left non-terminal."""
    info = released.info
    assert not stack.plan(released.session, released.config).pending()
    wait_until(lambda: _served(info) == {released.good}, timeout=120, what="the fleet serving")
    codebuild = client(info, "codebuild")
    ids = codebuild.list_builds()["ids"]
    builds = codebuild.batch_get_builds(ids=ids)["builds"] if ids else []
    assert not [b["id"] for b in builds if b["buildStatus"] == "IN_PROGRESS"]

    def deployments_settled() -> bool:
        active = client(info, "codedeploy").list_deployments(includeOnlyStatuses=ACTIVE_DEPLOYMENT)
        return not active["deployments"]

    wait_until(deployments_settled, timeout=120, what="no active deployment")
    summaries = client(info, "codepipeline").list_pipeline_executions(
        pipelineName=pipeline.pipeline_name(STACK)
    )["pipelineExecutionSummaries"]
    assert not [s for s in summaries if s["status"] in ("InProgress", "Stopping")]


def _crash_mid_build(released: Stack) -> None:
    commit(released.repo, {"NOTES.md": "a change that builds\n"}, "mid-build crash")
    execution_id = _start(released)
    codebuild = client(released.info, "codebuild")

    def build_running() -> str | None:
        ids = codebuild.list_builds()["ids"]
        for build in codebuild.batch_get_builds(ids=ids)["builds"] if ids else []:
            phases = {p["phaseType"] for p in build.get("phases", [])}
            if build["buildStatus"] == "IN_PROGRESS" and "BUILD" in phases:
                return str(build["id"])
        return None

    build_id = wait_until(build_running, timeout=300, what="the build's BUILD phase")
    released.crash()
    build = client(released.info, "codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["buildStatus"] in ("FAILED", "FAULT", "STOPPED"), build["buildStatus"]
    execution = client(released.info, "codepipeline").get_pipeline_execution(
        pipelineName=pipeline.pipeline_name(STACK), pipelineExecutionId=execution_id
    )["pipelineExecution"]
    assert execution["status"] == "Failed"
    assert execution.get("statusSummary"), "the reason it failed"
    _assert_whole(released)


def _crash_mid_deployment(released: Stack) -> None:
    script = (released.repo / "scripts" / "validate_service.sh").read_text()
    header, _, body = script.partition("\n")
    commit(released.repo, {"scripts/validate_service.sh": f"{header}\n{HANG_ON_FIRST_HOST}{body}"},
           "mid-deployment crash")  # fmt: skip
    _start(released)
    wait_until(lambda: processes_mentioning("sleep 2719"), timeout=400, what="ValidateService")
    codedeploy = client(released.info, "codedeploy")
    (cut,) = codedeploy.list_deployments(includeOnlyStatuses=["InProgress"])["deployments"]
    released.crash()
    assert not processes_mentioning("sleep 2719", cut)
    failed = client(released.info, "codedeploy").get_deployment(deploymentId=cut)
    assert failed["deploymentInfo"]["errorInformation"]["code"] == "INTERNAL_ERROR"
    _assert_whole(released)  # includes the rollback having served the good commit again
    rolled = client(released.info, "codedeploy").get_deployment(deploymentId=cut)
    rollback_id = rolled["deploymentInfo"]["rollbackInfo"]["rollbackDeploymentId"]
    rollback = client(released.info, "codedeploy").get_deployment(deploymentId=rollback_id)
    assert rollback["deploymentInfo"]["status"] == "Succeeded"


def _crash_mid_writes(released: Stack) -> None:
    """Writers run until the crash; every write answered before it must be there after."""
    acknowledged: list[tuple[str, str]] = []
    stop = threading.Event()
    bucket = f"crash-writes-{time.time_ns()}"
    client(released.info, "s3").create_bucket(Bucket=bucket)
    logs = client(released.info, "logs")
    logs.create_log_group(logGroupName=f"/{bucket}")
    logs.create_log_stream(logGroupName=f"/{bucket}", logStreamName="s")

    def write_objects() -> None:
        s3 = client(released.info, "s3")
        for i in range(10_000):
            if stop.is_set():
                return
            try:
                s3.put_object(Bucket=bucket, Key=f"k{i}", Body=f"body {i}".encode())
            except (BotoCoreError, ClientError):
                return
            acknowledged.append(("s3", f"k{i}"))

    def write_events() -> None:
        writer = client(released.info, "logs")
        for i in range(10_000):
            if stop.is_set():
                return
            try:
                writer.put_log_events(logGroupName=f"/{bucket}", logStreamName="s", logEvents=[
                    {"timestamp": int(time.time() * 1000), "message": f"event {i}"}])  # fmt: skip
            except (BotoCoreError, ClientError):
                return
            acknowledged.append(("logs", f"event {i}"))

    threads = [threading.Thread(target=write_objects), threading.Thread(target=write_events)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 40, what="writes under way")
    os.kill(released.info.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    released.info = released.start()
    s3 = client(released.info, "s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, MaxKeys=1000).get("Contents", [])}
    events = client(released.info, "logs").get_log_events(
        logGroupName=f"/{bucket}", logStreamName="s", startFromHead=True, limit=10_000
    )["events"]
    messages = {e["message"] for e in events}
    lost = [item for kind, item in acknowledged if item not in (keys if kind == "s3" else messages)]
    assert not lost, f"{len(lost)} acknowledged write(s) lost: {lost[:5]}"
    _assert_whole(released)


def test_kill_9_at_the_worst_moments_loses_nothing(released: Stack) -> None:
    released.crash()  # idle
    _assert_whole(released)
    _crash_mid_build(released)
    _crash_mid_deployment(released)
    _crash_mid_writes(released)
    assert not processes_mentioning("sleep 2719")
