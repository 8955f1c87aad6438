"""CodeBuild really runs: phases, semantics, logs, reports, artifacts, telemetry."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opslib.emulator import EmulatorInfo
from opslib.emulator.core.procs import processes_with_env
from opslib.ops.builds import package_source
from tests.emulator.conftest import REPO, aws_cli, client, create_project, make_zip, upload_source
from tests.emulator.deploy_helpers import wait_until

TERMINAL = {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"}


def wait_build(info: EmulatorInfo, build_id: str, timeout: float = 300) -> dict[str, Any]:
    """Poll BatchGetBuilds until the build ends (as any AWS client must)."""
    deadline = time.monotonic() + timeout
    codebuild = client(info, "codebuild")
    while time.monotonic() < deadline:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] in TERMINAL:
            return dict(build)
        time.sleep(0.2)
    raise AssertionError(f"build {build_id} did not end within {timeout}s")


def run_spec(
    info: EmulatorInfo, tmp_path: Path, name: str, buildspec: str, **extra: Any
) -> dict[str, Any]:
    create_project(info, name, **extra)
    upload_source(
        info,
        name,
        make_zip({"buildspec.yml": buildspec, "hello.txt": "hi\n"}, tmp_path / f"{name}.zip"),
    )
    build_id = client(info, "codebuild").start_build(projectName=name)["build"]["id"]
    return wait_build(info, build_id)


def phases(build: dict[str, Any]) -> dict[str, str]:
    return {p["phaseType"]: p.get("phaseStatus", "") for p in build["phases"]}


def log_text(info: EmulatorInfo, build: dict[str, Any]) -> str:
    logs = client(info, "logs")
    group, stream = build["logs"]["groupName"], build["logs"]["streamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return "\n".join(e["message"] for e in events["events"])


SPEC_FAIL_IN_BUILD = """version: 0.2
phases:
  install:
    commands:
      - export GREETING=hello
  build:
    commands:
      - echo "in build $GREETING"
      - "false"
      - echo never-printed
    finally:
      - echo finally-ran
  post_build:
    commands:
      - echo "post_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"""


def test_failing_command_fails_its_phase_and_finally_runs(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    build = run_spec(running, tmp_path, "fail-build", SPEC_FAIL_IN_BUILD)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["INSTALL"] == "SUCCEEDED"
    assert phases(build)["BUILD"] == "FAILED"
    assert phases(build)["POST_BUILD"] == "SUCCEEDED"
    text = log_text(running, build)
    assert "in build hello" in text
    assert "finally-ran" in text
    assert "never-printed" not in text
    assert "post_build succeeding=0" in text


@pytest.mark.parametrize(
    ("on_failure", "post_build_ran"),
    [("ABORT", False), ("CONTINUE", True)],
)
def test_on_failure_abort_and_continue(
    running: EmulatorInfo, tmp_path: Path, on_failure: str, post_build_ran: bool
) -> None:
    spec = f"""version: 0.2
phases:
  pre_build:
    on-failure: {on_failure}
    commands:
      - exit 3
  build:
    commands:
      - echo build-ran
  post_build:
    commands:
      - echo post-build-ran
"""
    build = run_spec(running, tmp_path, f"onfail-{on_failure.lower()}", spec)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["PRE_BUILD"] == "FAILED"
    assert ("post-build-ran" in log_text(running, build)) is post_build_ran


def test_timeout_ends_the_build(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    info = start_emulator(OPSLIB_TIMEOUT_SCALE="0.01")  # 5 minutes -> 3 seconds
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"
    build = run_spec(info, tmp_path, "times-out", spec, timeoutInMinutes=5)
    assert build["buildStatus"] == "TIMED_OUT"
    assert phases(build)["BUILD"] == "TIMED_OUT"
    assert not _processes_running("sleep 600", build["id"])


def test_stop_build_stops_it(running: EmulatorInfo, tmp_path: Path) -> None:
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo started\n      - sleep 600\n"
    )
    create_project(running, "stopped")
    upload_source(running, "stopped", make_zip({"buildspec.yml": spec}, tmp_path / "s.zip"))
    codebuild = client(running, "codebuild")
    build_id = codebuild.start_build(projectName="stopped")["build"]["id"]
    _wait_for_phase(running, build_id, "BUILD")
    codebuild.stop_build(id=build_id)
    build = wait_build(running, build_id, timeout=60)
    assert build["buildStatus"] == "STOPPED"
    assert not _processes_running("sleep 600", build_id)


def test_exported_variables_and_env(running: EmulatorInfo, tmp_path: Path) -> None:
    spec = """version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
  exported-variables:
    - RESULT
phases:
  build:
    commands:
      - export RESULT="$FROM_SPEC-$OVERRIDDEN-$CODEBUILD_BUILD_NUMBER"
      - test -n "$CODEBUILD_BUILD_ID" && test -n "$CODEBUILD_SRC_DIR" && test -f hello.txt
"""
    create_project(running, "exports")
    upload_source(
        running, "exports", make_zip({"buildspec.yml": spec, "hello.txt": "hi"}, tmp_path / "e.zip")
    )
    build_id = client(running, "codebuild").start_build(
        projectName="exports",
        environmentVariablesOverride=[
            {"name": "OVERRIDDEN", "value": "override", "type": "PLAINTEXT"}
        ],
    )["build"]["id"]
    build = wait_build(running, build_id)
    assert build["buildStatus"] == "SUCCEEDED", log_text(running, build)
    assert build["exportedEnvironmentVariables"] == [{"name": "RESULT", "value": "spec-override-1"}]


def test_bad_buildspec_fails_download_source_with_yaml_error(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    build = run_spec(
        running, tmp_path, "bad-spec", "version: 0.2\nphases:\n  biuld:\n    commands: [ls]\n"
    )
    assert build["buildStatus"] == "FAILED"
    source = next(p for p in build["phases"] if p["phaseType"] == "DOWNLOAD_SOURCE")
    assert source["phaseStatus"] == "FAILED"
    assert source["contexts"][0]["statusCode"] == "YAML_FILE_ERROR"
    assert "biuld" in source["contexts"][0]["message"]


def test_unknown_project_is_resource_not_found(running: EmulatorInfo) -> None:
    codebuild = client(running, "codebuild")
    with pytest.raises(codebuild.exceptions.ResourceNotFoundException):
        codebuild.start_build(projectName="no-such-project")


def test_build_events_and_metrics(running: EmulatorInfo, tmp_path: Path) -> None:
    logs, events = client(running, "logs"), client(running, "events")
    logs.create_log_group(logGroupName="/aws/events/test")
    events.put_rule(Name="all-codebuild", EventPattern=json.dumps({"source": ["aws.codebuild"]}))
    events.put_targets(
        Rule="all-codebuild",
        Targets=[
            {"Id": "log", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/test"}
        ],
    )
    build = run_spec(
        running,
        tmp_path,
        "telemetry",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n",
    )
    assert build["buildStatus"] == "SUCCEEDED"

    def final_delivered() -> list[dict[str, Any]] | None:
        found = logs.filter_log_events(logGroupName="/aws/events/test")["events"]
        events = [json.loads(e["message"]) for e in found]
        done = any(e["detail"].get("build-status") == "SUCCEEDED" for e in events)
        return events if done else None

    # As on AWS, the build reads SUCCEEDED before EventBridge has delivered its last event
    # and before CodeBuild's metrics for it are published: wait for them, never sleep.
    delivered = wait_until(final_delivered, timeout=30, what="the SUCCEEDED event in the log group")
    kinds = [
        (e["detail-type"], e["detail"].get("build-status") or e["detail"].get("completed-phase"))
        for e in delivered
    ]
    assert ("CodeBuild Build State Change", "IN_PROGRESS") in kinds
    assert ("CodeBuild Build State Change", "SUCCEEDED") in kinds
    assert ("CodeBuild Build Phase Change", "BUILD") in kinds
    final = next(e for e in delivered if e["detail"].get("build-status") == "SUCCEEDED")
    assert final["source"] == "aws.codebuild" and final["detail"]["project-name"] == "telemetry"
    expected = {"Builds", "SucceededBuilds", "FailedBuilds", "Duration", "BuildDuration"}

    def metric_names() -> set[str] | None:
        metrics = client(running, "cloudwatch").list_metrics(Namespace="AWS/CodeBuild")["Metrics"]
        names = {
            m["MetricName"]
            for m in metrics
            if m["Dimensions"] == [{"Name": "ProjectName", "Value": "telemetry"}]
        }
        return names if expected <= names else None

    names = wait_until(metric_names, timeout=30, what="the build's metrics")
    assert expected <= names
    dims = [{"Name": "ProjectName", "Value": "telemetry"}]
    queries = [
        {"Id": name.lower(), "MetricStat": {"Metric": {"Namespace": "AWS/CodeBuild",
         "MetricName": name, "Dimensions": dims}, "Period": 300, "Stat": "Sum"}}
        for name in ("Builds", "SucceededBuilds", "FailedBuilds")
    ]  # fmt: skip
    data = client(running, "cloudwatch").get_metric_data(
        MetricDataQueries=queries,
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
    )["MetricDataResults"]
    assert {r["Id"]: sum(r["Values"]) for r in data} == {
        "builds": 1.0, "succeededbuilds": 1.0, "failedbuilds": 0.0,
    }  # fmt: skip


def test_a_build_interrupted_by_kill_ends_as_fault(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    info = start_emulator()
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"
    create_project(info, "crashes")
    upload_source(info, "crashes", make_zip({"buildspec.yml": spec}, tmp_path / "c.zip"))
    build_id = client(info, "codebuild").start_build(projectName="crashes")["build"]["id"]
    _wait_for_phase(info, build_id, "BUILD")
    work = info.state_dir / "work" / "builds" / build_id.split(":")[-1]
    assert list(work.glob("opslib-build-*/script.sh")), "the shell's scratch is in the work dir"
    os.kill(info.pid, signal.SIGKILL)
    restarted = start_emulator()
    assert restarted.state_dir == info.state_dir
    assert not _processes_running("sleep 600", build_id), "recovery ends what the build left"
    assert not work.exists(), "recovery removes the interrupted build's files"
    build = client(restarted, "codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["buildStatus"] == "FAULT"
    assert not [key for key in build if key.startswith("_")], "private keys stay private"
    build_phase = next(p for p in build["phases"] if p["phaseType"] == "BUILD")
    assert build_phase["contexts"][0]["statusCode"] == "EMULATOR_RESTARTED"


def test_the_sample_app_really_builds(running: EmulatorInfo, tmp_path: Path) -> None:
    """This repository's buildspec.yml: npm ci, eslint, jest, bundle — via the AWS CLI."""
    (tmp_path / "source.zip").write_bytes(package_source(REPO))
    aws_cli(running, "s3api", "create-bucket", "--bucket", "sample-src")
    aws_cli(running, "s3api", "create-bucket", "--bucket", "sample-out")
    aws_cli(
        running,
        "s3api",
        "put-object",
        "--bucket",
        "sample-src",
        "--key",
        "app.zip",
        "--body",
        str(tmp_path / "source.zip"),
    )
    aws_cli(
        running, "codebuild", "create-project", "--name", "sample-app",
        "--source", "type=S3,location=sample-src/app.zip",
        "--artifacts", "type=S3,location=sample-out,packaging=ZIP,name=bundle.zip",
        "--environment",
        "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
        "--service-role", "arn:aws:iam::123456789012:role/cb",
    )  # fmt: skip
    build_id = aws_cli(running, "codebuild", "start-build", "--project-name", "sample-app")[
        "build"
    ]["id"]
    build = wait_build(running, build_id, timeout=600)
    shown = aws_cli(running, "codebuild", "batch-get-builds", "--ids", build_id)["builds"][0]
    assert shown["buildStatus"] == build["buildStatus"] == "SUCCEEDED", log_text(running, build)
    assert [p["phaseType"] for p in shown["phases"]] == [
        "SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD",
        "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED",
    ]  # fmt: skip
    assert "Tests:" in log_text(running, build)  # jest's own summary line
    bundle = client(running, "s3").get_object(Bucket="sample-out", Key="bundle.zip")["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert {
        "appspec.yml",
        "scripts/start_server.sh",
        "app/src/server.js",
        "app/release.json",
    } <= set(names)
    mode = (
        zipfile.ZipFile(io.BytesIO(bundle)).getinfo("scripts/start_server.sh").external_attr >> 16
    )
    assert mode & 0o111, "hook scripts must stay executable in the bundle"
    reports = client(running, "codebuild").batch_get_reports(reportArns=build["reportArns"])[
        "reports"
    ]
    tests = next(r for r in reports if r["type"] == "TEST")
    assert tests["name"] == "sample-app-jest" and tests["testSummary"]["total"] >= 10
    assert tests["testSummary"]["statusCounts"].get("FAILED", 0) == 0
    cases = client(running, "codebuild").describe_test_cases(reportArn=tests["arn"])["testCases"]
    assert len(cases) == tests["testSummary"]["total"]
    coverage = next(r for r in reports if r["type"] == "CODE_COVERAGE")
    assert coverage["codeCoverageSummary"]["lineCoveragePercentage"] > 50


def _wait_for_phase(info: EmulatorInfo, build_id: str, phase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    codebuild = client(info, "codebuild")
    while time.monotonic() < deadline:
        if codebuild.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] == phase:
            return
        time.sleep(0.1)
    raise AssertionError(f"build {build_id} never reached {phase}")


def _processes_running(pattern: str, build_id: str) -> bool:
    """Whether ``build_id``'s own processes (CODEBUILD_BUILD_ID in their environment) still
    run ``pattern``: under xdist another test's build may run the same command."""
    own = {str(pid) for pid in processes_with_env("CODEBUILD_BUILD_ID", build_id)}
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, check=False, text=True)
    return bool(own & set(found.stdout.split()))


def _broken_commit(repo_zip: bytes) -> bytes:
    """This repository with one jest test that fails, as a broken commit would."""
    source, out = zipfile.ZipFile(io.BytesIO(repo_zip)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for info in source.infolist():
            broken.writestr(info, source.read(info))
        broken.writestr(
            "sample-app/test/broken.test.js",
            "'use strict';\n\ntest('the broken commit', () => {\n  expect(1 + 1).toBe(3);\n});\n",
        )
    return out.getvalue()


def test_a_broken_commit_fails_and_everything_survives_kill_9(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    """The issue's bar: the AWS CLI sees a real failure, and kill -9 loses none of it."""
    info = start_emulator()
    (tmp_path / "broken.zip").write_bytes(_broken_commit(package_source(REPO)))
    aws_cli(info, "s3api", "create-bucket", "--bucket", "broken-src")
    aws_cli(info, "s3api", "put-object", "--bucket", "broken-src", "--key", "app.zip",
            "--body", str(tmp_path / "broken.zip"))  # fmt: skip
    aws_cli(
        info, "codebuild", "create-project", "--name", "broken",
        "--source", "type=S3,location=broken-src/app.zip", "--artifacts", "type=NO_ARTIFACTS",
        "--environment",
        "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL",
        "--service-role", "arn:aws:iam::123456789012:role/cb",
    )  # fmt: skip
    build_id = aws_cli(info, "codebuild", "start-build", "--project-name", "broken")["build"]["id"]
    build = wait_build(info, build_id, timeout=600)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["BUILD"] == "FAILED" and phases(build)["POST_BUILD"] == "SUCCEEDED"
    before = log_text(info, build)
    assert "the broken commit" in before and "no deploy bundle" in before

    os.kill(info.pid, signal.SIGKILL)
    restarted = start_emulator()
    shown = aws_cli(restarted, "codebuild", "batch-get-builds", "--ids", build_id)["builds"][0]
    assert shown["buildStatus"] == "FAILED"
    assert phases(shown) == phases(build)
    assert log_text(restarted, build) == before
    reports = client(restarted, "codebuild").batch_get_reports(reportArns=shown["reportArns"])
    jest = next(r for r in reports["reports"] if r["type"] == "TEST")
    assert jest["status"] == "FAILED" and jest["testSummary"]["statusCounts"]["FAILED"] == 1


def test_a_version_0_1_buildspec_runs_each_command_in_its_own_shell(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    spec = """version: 0.1
environment_variables:
  plaintext:
    GREETING: hello
phases:
  build:
    commands:
      - mkdir -p sub
      - cd sub
      - echo "dir=$(basename "$PWD") greeting=$GREETING"
      - export LATER=set
      - echo "later=${LATER:-unset}"
"""
    build = run_spec(running, tmp_path, "legacy", spec)
    assert build["buildStatus"] == "SUCCEEDED"
    text = log_text(running, build)
    assert "dir=sub" not in text and "greeting=hello" in text
    assert "later=unset" in text


def _renamed_health_route(repo_zip: bytes) -> bytes:
    """This repository as a commit that renamed the app's /health route would leave it."""
    source, out = zipfile.ZipFile(io.BytesIO(repo_zip)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "sample-app/src/app.js":
                assert b"'/health': (req" in data, "the sample app's /health route moved"
                data = data.replace(b"'/health': (req", b"'/healthz': (req")
            broken.writestr(info, data)
    return out.getvalue()


def test_a_commit_breaking_the_app_fails_in_build_instead_of_hanging(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    """Failed tests end the build FAILED in BUILD, not IN_PROGRESS until the timeout.

    The timeout is scaled to 3 minutes: a jest kept alive by a server a failed test left
    open (the issue) ends TIMED_OUT there instead, and this test fails on its status.
    """
    info = start_emulator(OPSLIB_TIMEOUT_SCALE="0.6")  # 5 minutes -> 3 minutes
    create_project(info, "renamed-health")
    upload_source(info, "renamed-health", _renamed_health_route(package_source(REPO)))
    build_id = client(info, "codebuild").start_build(
        projectName="renamed-health", timeoutInMinutesOverride=5
    )["build"]["id"]
    build = wait_build(info, build_id, timeout=600)
    assert build["buildStatus"] == "FAILED", phases(build)
    assert phases(build)["BUILD"] == "FAILED"
    text = log_text(info, build)
    assert "GET /health reports ok" in text and "Tests:" in text  # jest ran and reported
    reports = client(info, "codebuild").batch_get_reports(reportArns=build["reportArns"])
    jest = next(r for r in reports["reports"] if r["type"] == "TEST")
    assert jest["testSummary"]["statusCounts"]["FAILED"] >= 1
