"""What each kind of pipeline action does, through the same APIs CodePipeline uses.

Source (CodeStarSourceConnection: the connection's local git repository; S3), Build
(CodeBuild StartBuild, followed to its end), Approval (Manual: waits for
PutApprovalResult) and Deploy (CodeDeploy CreateDeployment, followed to its end). Each
returns an :class:`ActionResult`; a failure is a result, not an exception, so the
execution records it like CodePipeline does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opslib.emulator.codepipeline.gitsource import archive, branch_head, commit_of
from opslib.emulator.core.runtime import Runtime
from opslib.exceptions import ExecutionError

POLL_SECONDS = 0.5
BUILD_DONE = {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"}
DEPLOY_DONE = {"Succeeded", "Failed", "Stopped"}


@dataclass
class ActionResult:
    """The outcome of one action execution, in the terms ListActionExecutions uses."""

    status: str  # Succeeded | Failed | Abandoned
    summary: str = ""
    external_id: str = ""
    external_url: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> s3location
    variables: dict[str, str] = field(default_factory=dict)
    revision: dict[str, Any] | None = None
    error: str = ""


class ActionContext(Protocol):
    """What an action needs from the execution running it."""

    runtime: Runtime
    region: str
    pipeline: dict[str, Any]
    execution_id: str

    def artifact_bucket(self) -> str: ...

    def stopping(self) -> bool: ...

    def abandoning(self) -> bool: ...

    def local_repository(self, connection_arn: str) -> str | None: ...

    def wait_for_approval(self, action: dict[str, Any]) -> tuple[str, str]: ...

    def report_external(self, external_id: str, url: str = "") -> None: ...

    def source_override(self, action_name: str) -> str | None: ...


Runner = Callable[[ActionContext, dict[str, Any], dict[str, dict[str, str]]], ActionResult]


def _artifact_key(ctx: ActionContext, artifact: str) -> str:
    # CodePipeline's own layout: <pipeline name[:20]>/<artifact name[:20]>/<random>
    return f"{ctx.pipeline['name'][:20]}/{artifact[:20]}/{secrets.token_hex(4)[:7]}"


def _put_artifact(ctx: ActionContext, name: str, data: bytes) -> dict[str, str]:
    bucket, key = ctx.artifact_bucket(), _artifact_key(ctx, name)
    ctx.runtime.client("s3", ctx.region).put_object(Bucket=bucket, Key=key, Body=data)
    return {"bucket": bucket, "key": key}


def source_connection(ctx: ActionContext, action: dict[str, Any], _: Any) -> ActionResult:
    """Snapshot the branch head of the connection's local repository as the artifact."""
    config = action["configuration"]
    repo = ctx.local_repository(config.get("ConnectionArn", ""))
    if not repo:
        return ActionResult(
            "Failed",
            error=f"connection {config.get('ConnectionArn')} names no local repository "
            "(tag opslib:local-repository)",
        )
    override = ctx.source_override(action["name"])
    branch = config.get("BranchName", "main")
    commit = commit_of(Path(repo), override) if override else branch_head(Path(repo), branch)
    data = archive(Path(repo), commit.sha)
    outputs = {a["name"]: _put_artifact(ctx, a["name"], data) for a in action["outputArtifacts"]}
    for location in outputs.values():
        location["revision"] = commit.sha  # a Build action passes it on as sourceVersion
    full_name = config.get("FullRepositoryId", "")
    revision = {
        "revisionId": commit.sha,
        "revisionSummary": commit.message.splitlines()[0] if commit.message else "",
        "created": commit.commit_date,
        "revisionUrl": f"https://github.com/{full_name}/commit/{commit.sha}",
    }
    variables = {
        "CommitId": commit.sha,
        "CommitMessage": commit.message,
        "AuthorDate": commit.author_date,
        "BranchName": config.get("BranchName", "main"),
        "FullRepositoryName": full_name,
        "ConnectionArn": config.get("ConnectionArn", ""),
    }
    summary = revision["revisionSummary"]
    return ActionResult(
        "Succeeded", summary, commit.sha, outputs=outputs, variables=variables, revision=revision
    )


def source_s3(ctx: ActionContext, action: dict[str, Any], _: Any) -> ActionResult:
    """The object an S3 source action names, copied as the output artifact."""
    config = action["configuration"]
    response = ctx.runtime.client("s3", ctx.region).get_object(
        Bucket=config["S3Bucket"], Key=config["S3ObjectKey"]
    )
    version = response.get("VersionId") or response.get("ETag", "").strip('"')
    data = response["Body"].read()
    outputs = {a["name"]: _put_artifact(ctx, a["name"], data) for a in action["outputArtifacts"]}
    revision = {"revisionId": version, "revisionSummary": config["S3ObjectKey"], "created": ""}
    return ActionResult(
        "Succeeded", config["S3ObjectKey"], version, outputs=outputs, revision=revision
    )


def build(
    ctx: ActionContext, action: dict[str, Any], inputs: dict[str, dict[str, str]]
) -> ActionResult:
    """StartBuild with the input artifact as an S3 source; follow it to its end."""
    config = action["configuration"]
    source = inputs[action["inputArtifacts"][0]["name"]]
    out_name = action["outputArtifacts"][0]["name"] if action["outputArtifacts"] else ""
    out_key = _artifact_key(ctx, out_name or "none")
    overrides: dict[str, Any] = {
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{source['bucket']}/{source['key']}",
        "artifactsOverride": {"type": "NO_ARTIFACTS"},
    }
    if out_name:
        path, name = out_key.rsplit("/", 1)
        overrides["artifactsOverride"] = {
            "type": "S3", "location": ctx.artifact_bucket(), "path": path, "name": name,
            "namespaceType": "NONE", "packaging": "ZIP",
        }  # fmt: skip
    if source.get("revision"):
        overrides["sourceVersion"] = source["revision"]
    codebuild = ctx.runtime.client("codebuild", ctx.region)
    build_id = codebuild.start_build(projectName=config["ProjectName"], **overrides)["build"]["id"]
    ctx.report_external(build_id)
    result = _follow_build(ctx, build_id)
    if result.status == "Succeeded" and out_name:
        result.outputs = {out_name: {"bucket": ctx.artifact_bucket(), "key": out_key}}
    return result


def _follow_build(ctx: ActionContext, build_id: str) -> ActionResult:
    codebuild = ctx.runtime.client("codebuild", ctx.region)
    stop_sent = False
    while True:
        build_doc = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        status = build_doc["buildStatus"]
        if status in BUILD_DONE:
            break
        if ctx.abandoning() and not stop_sent:
            codebuild.stop_build(id=build_id)
            stop_sent = True
        time.sleep(POLL_SECONDS)  # following an AWS job: the API offers no push
    url = build_doc["logs"].get("deepLink", "")
    if status == "SUCCEEDED":
        return ActionResult("Succeeded", f"Build {build_id} succeeded", build_id, url)
    failed: dict[str, Any] = next(
        (p for p in build_doc["phases"] if p.get("phaseStatus") not in (None, "SUCCEEDED")), {}
    )
    context = (failed.get("contexts") or [{}])[0]
    message = (
        f"Build terminated with state: {status}. Phase: {failed.get('phaseType', '?')}, "
        f"Code: {context.get('statusCode', '')}, Message: {context.get('message', '')}"
    )
    return ActionResult(
        "Abandoned" if stop_sent else "Failed", message, build_id, url, error=message
    )


def approval(ctx: ActionContext, action: dict[str, Any], _: Any) -> ActionResult:
    """Wait for PutApprovalResult (or a stop) on this action."""
    status, summary = ctx.wait_for_approval(action)
    if status == "Approved":
        return ActionResult("Succeeded", summary or "Approved")
    if status == "Abandoned":
        return ActionResult("Abandoned", "the execution was stopped")
    return ActionResult("Failed", summary, error=f"Rejected: {summary}")


def deploy(
    ctx: ActionContext, action: dict[str, Any], inputs: dict[str, dict[str, str]]
) -> ActionResult:
    """CreateDeployment of the input artifact; follow the deployment to its end."""
    config = action["configuration"]
    bundle = inputs[action["inputArtifacts"][0]["name"]]
    codedeploy = ctx.runtime.client("codedeploy", ctx.region)
    deployment_id = codedeploy.create_deployment(
        applicationName=config["ApplicationName"],
        deploymentGroupName=config["DeploymentGroupName"],
        revision={
            "revisionType": "S3",
            "s3Location": {"bucket": bundle["bucket"], "key": bundle["key"], "bundleType": "zip"},
        },
        description=f"CodePipeline {ctx.pipeline['name']} execution {ctx.execution_id}",
    )["deploymentId"]
    ctx.report_external(deployment_id)
    stop_sent = False
    while True:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in DEPLOY_DONE:
            break
        if ctx.abandoning() and not stop_sent:
            codedeploy.stop_deployment(deploymentId=deployment_id)
            stop_sent = True
        time.sleep(POLL_SECONDS)
    if info["status"] == "Succeeded":
        return ActionResult("Succeeded", f"Deployment {deployment_id} succeeded", deployment_id)
    error = info.get("errorInformation", {})
    reason = f"{error.get('code', '')} {error.get('message', '')}".strip()
    message = f"Deployment {deployment_id} {info['status'].lower()}: {reason}"
    return ActionResult(
        "Abandoned" if stop_sent else "Failed", message, deployment_id, error=message
    )


RUNNERS: dict[tuple[str, str], Runner] = {
    ("Source", "CodeStarSourceConnection"): source_connection,
    ("Source", "S3"): source_s3,
    ("Build", "CodeBuild"): build,
    ("Approval", "Manual"): approval,
    ("Deploy", "CodeDeploy"): deploy,
}


def runner_for(action: dict[str, Any]) -> Runner:
    """The runner of an action type, or a clear error naming what the emulator supports."""
    kind = action["actionTypeId"]
    runner = RUNNERS.get((kind["category"], kind["provider"]))
    if runner is None:
        supported = ", ".join(f"{c}/{p}" for c, p in RUNNERS)
        raise ExecutionError(
            f"action {action['name']}: {kind['category']}/{kind['provider']} is not run "
            f"by the emulator (supported: {supported})"
        )
    return runner
