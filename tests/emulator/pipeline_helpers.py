"""Build a small pipeline on a running emulator: a local git repo, a project, a pipeline."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import ROLE_ARN, client

TERMINAL = {"Succeeded", "Failed", "Stopped", "Superseded"}
QUICK_BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo "building $CODEBUILD_RESOLVED_SOURCE_VERSION"
      - test -f hello.txt
      - mkdir -p out && cp hello.txt out/ && echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" > out/sha.txt
artifacts:
  files: ['**/*']
  base-directory: out
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> str:
    """A git repository with one commit on main holding ``files``; returns the SHA."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "test")
    return commit(path, files, "first commit")


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def create_pipeline(
    info: EmulatorInfo,
    name: str,
    repo: Path,
    *,
    approval: bool = False,
    build_project: str | None = None,
) -> None:
    """Bucket, connection (tagged with the repo), CodeBuild project and a V2 pipeline."""
    s3, codebuild = client(info, "s3"), client(info, "codebuild")
    bucket = f"{name}-artifacts"
    s3.create_bucket(Bucket=bucket)
    connection = client(info, "codestar-connections").create_connection(
        ProviderType="GitHub", ConnectionName=f"{name}-gh",
        Tags=[{"Key": "opslib:local-repository", "Value": str(repo)}],
    )["ConnectionArn"]  # fmt: skip
    project = build_project or f"{name}-build"
    if build_project is None:
        codebuild.create_project(
            name=project, source={"type": "CODEPIPELINE"}, artifacts={"type": "CODEPIPELINE"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole=ROLE_ARN,
        )  # fmt: skip
    role = client(info, "iam").create_role(
        RoleName=f"{name}-pipeline",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"},
             "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    stages = [
        {"name": "Source", "actions": [{
            "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS",
            "provider": "CodeStarSourceConnection", "version": "1"}, "namespace": "SourceVariables",
            "configuration": {"ConnectionArn": connection, "FullRepositoryId": "example/app",
                              "BranchName": "main"},
            "outputArtifacts": [{"name": "SourceArtifact"}]}]},
        {"name": "Build", "actions": [{
            "name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS",
            "provider": "CodeBuild", "version": "1"},
            "configuration": {"ProjectName": project},
            "inputArtifacts": [{"name": "SourceArtifact"}],
            "outputArtifacts": [{"name": "BuildArtifact"}]}]},
    ]  # fmt: skip
    if approval:
        manual = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
        stages.append({"name": "Approve", "actions": [{"name": "Approve", "actionTypeId": manual}]})
    client(info, "codepipeline").create_pipeline(
        pipeline={"name": name, "roleArn": role, "pipelineType": "V2",
                  "artifactStore": {"type": "S3", "location": bucket}, "stages": stages}
    )  # fmt: skip


def executions(info: EmulatorInfo, name: str) -> list[dict[str, Any]]:
    return list(
        client(info, "codepipeline").list_pipeline_executions(pipelineName=name)[
            "pipelineExecutionSummaries"
        ]
    )


def wait_for_execution(
    info: EmulatorInfo, name: str, timeout: float = 120, count: int = 1
) -> dict[str, Any]:
    """The newest execution once ``count`` executions exist and the newest has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = executions(info, name)
        if len(found) >= count and found[0]["status"] in TERMINAL:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(
        f"no finished execution #{count} of {name} within {timeout}s: {executions(info, name)}"
    )


def wait_for_action(
    info: EmulatorInfo, name: str, stage: str, status: str = "InProgress", timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    codepipeline = client(info, "codepipeline")
    while time.monotonic() < deadline:
        states = codepipeline.get_pipeline_state(name=name)["stageStates"]
        state = next(s for s in states if s["stageName"] == stage)
        latest = state["actionStates"][0].get("latestExecution", {})
        if latest.get("status") == status and (
            stage == "Approve" or latest.get("externalExecutionId")
        ):
            return dict(latest)
        time.sleep(0.1)
    raise AssertionError(f"{name}/{stage} never reached {status}")
