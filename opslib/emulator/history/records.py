"""A planned run spelled out in each service's own words: pure.

The documents are the ones the services keep for a real run (the wire shapes their read
APIs answer with, and the private keys their code reads), so ListPipelineExecutions,
ListActionExecutions, BatchGetBuilds, BatchGetDeployments and the rest answer a simulated
run exactly as a real one. Every item carries the mark telemetry counts
(``opslib:simulated``: an execution's trigger detail, a build's initiator, a
deployment's description) and ``_simulated`` for the emulator's own code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opslib.emulator.history.plan import (
    BuildPlan,
    DeploymentPlan,
    InstancePlan,
    RunPlan,
    Span,
)

MARK = "opslib:simulated"  # what telemetry/parse.py's SIMULATED_MARK reads
BUILD_FAILURE = (
    "COMMAND_EXECUTION_ERROR",
    "Error while executing command: npm test. Reason: exit status 1",
)
HEALTH_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment,"
    " too few healthy instances are available for deployment, or some instances in your"
    " deployment group are experiencing problems."
)
HOOK_FAILURE = "Script at specified location: scripts/validate_service.sh failed with exit code 1"
# CodeBuild's metric per phase (AWS/CodeBuild), as codebuild/run.py publishes them.
PHASE_METRICS = {
    "SUBMITTED": "SubmittedDuration",
    "QUEUED": "QueuedDuration",
    "PROVISIONING": "ProvisioningDuration",
    "DOWNLOAD_SOURCE": "DownloadSourceDuration",
    "INSTALL": "InstallDuration",
    "PRE_BUILD": "PreBuildDuration",
    "BUILD": "BuildDuration",
    "POST_BUILD": "PostBuildDuration",
    "UPLOAD_ARTIFACTS": "UploadArtifactsDuration",
    "FINALIZING": "FinalizingDuration",
}


@dataclass(frozen=True)
class Setting:
    """What the stack's resources say about the runs: names, ids, definitions."""

    region: str
    account: str
    pipeline: dict[str, Any]  # the definition, as GetPipeline shows it
    artifact_bucket: str
    project: dict[str, Any]  # the CodeBuild project (moto's project_metadata)
    application: str = ""
    group: str = ""
    group_id: str = ""
    config_name: str = "CodeDeployDefault.OneAtATime"
    group_arns: tuple[str, ...] = ()
    auto_rollback: dict[str, Any] = field(default_factory=dict)
    instance_arns: dict[str, str] = field(default_factory=dict)


@dataclass
class Written:
    """The documents of some runs, by where they go."""

    executions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)  # (ms, message)
    log_lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # stream -> lines
    metrics: list[tuple[str, float, str, dict[str, str], float]] = field(default_factory=list)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(
    setting: Setting,
    source: str,
    kind: str,
    at: float,
    detail: dict[str, Any],
    resources: list[str],
    event_id: str,
) -> tuple[int, str]:
    """One EventBridge event as the rule's log-group target writes it."""
    body = {
        "version": "0",
        "id": event_id,
        "detail-type": kind,
        "source": source,
        "account": setting.account,
        "time": iso(at),
        "region": setting.region,
        "resources": resources,
        "detail": detail,
    }
    return int(at * 1000), json.dumps(body)


# -- CodePipeline ------------------------------------------------------------------------
def execution(setting: Setting, run: RunPlan) -> dict[str, Any]:
    """The execution record (codepipeline/run.py's document)."""
    failed = next((s for _, s, _ in run.actions if s.status == "Failed"), None)
    revision = {
        "revisionId": run.commit,
        "revisionSummary": run.message,
        "created": iso(run.commit_time),
        "revisionUrl": f"https://github.com/{_repository(setting)}/commit/{run.commit}",
    }
    source = next((a for a, _, _ in run.actions if a.category == "Source"), None)
    doc: dict[str, Any] = {
        "pipelineName": setting.pipeline["name"],
        "pipelineVersion": setting.pipeline.get("version", 1),
        "pipelineExecutionId": run.execution_id,
        "status": "Failed" if failed else "Succeeded",
        "artifactRevisions": [{"name": "SourceArtifact", **revision}] if source else [],
        "trigger": {"triggerType": "PollForSourceChanges", "triggerDetail": MARK},
        "executionMode": setting.pipeline.get("executionMode", "SUPERSEDED"),
        "executionType": "STANDARD",
        "variables": [],
        "startTime": run.start,
        "lastUpdateTime": run.end,
        "_stages": _stages(run),
        "_sourceRevisions": [{"actionName": source.name, **revision}] if source else [],
        "_sourceOverrides": {},
        "_region": setting.region,
        "_simulated": True,
    }
    if failed is not None:
        stage, name = next((a.stage, a.name) for a, s, _ in run.actions if s is failed)
        doc["statusSummary"] = f"{stage}/{name}: {action_error(run, failed)}"
    return doc


def _repository(setting: Setting) -> str:
    for stage in setting.pipeline.get("stages", []):
        for action in stage.get("actions", []):
            repo = (action.get("configuration") or {}).get("FullRepositoryId")
            if repo:
                return str(repo)
    return "example/app"


def _stages(run: RunPlan) -> dict[str, Any]:
    stages: dict[str, Any] = {}
    for action, span, action_id in run.actions:
        entry = stages.setdefault(action.stage, {"status": "Succeeded", "actions": {}})
        entry["actions"][action.name] = action_id
        if span.status != "Succeeded":
            entry["status"] = span.status
    return stages


def action_error(run: RunPlan, span: Span) -> str:
    """The error a failed action reports (as codepipeline/actions.py words it)."""
    if run.build is not None and not run.build.succeeded:
        code, message = BUILD_FAILURE
        return (
            f"Build terminated with state: FAILED. Phase: BUILD, Code: {code}, Message: {message}"
        )
    deployment = run.deployment
    assert deployment is not None, f"{span.name} failed with neither a build nor a deployment"
    return f"Deployment {deployment.deployment_id} failed: HEALTH_CONSTRAINTS {HEALTH_MESSAGE}"


def action_records(setting: Setting, run: RunPlan) -> list[dict[str, Any]]:
    """One ListActionExecutions detail per action that ran."""
    definitions = {
        (stage["name"], a["name"]): a
        for stage in setting.pipeline.get("stages", [])
        for a in stage.get("actions", [])
    }
    records = []
    for action, span, action_id in run.actions:
        definition = definitions.get((action.stage, action.name), {})
        records.append(
            {
                "pipelineExecutionId": run.execution_id,
                "actionExecutionId": action_id,
                "pipelineVersion": setting.pipeline.get("version", 1),
                "stageName": action.stage,
                "actionName": action.name,
                "startTime": span.start,
                "lastUpdateTime": span.end,
                "status": span.status,
                "input": {
                    "actionTypeId": definition.get("actionTypeId")
                    or {
                        "category": action.category,
                        "owner": "AWS",
                        "provider": action.provider,
                        "version": "1",
                    },
                    "configuration": definition.get("configuration", {}),
                    "resolvedConfiguration": definition.get("configuration", {}),
                    "roleArn": definition.get("roleArn", setting.pipeline.get("roleArn", "")),
                    "region": setting.region,
                    "inputArtifacts": [],
                    "namespace": definition.get("namespace", ""),
                },
                "output": _action_output(setting, run, action.category, span),
                "_token": action_id,
                "_simulated": True,
            }
        )
    return records


def _action_output(setting: Setting, run: RunPlan, category: str, span: Span) -> dict[str, Any]:
    result: dict[str, Any] = {
        "externalExecutionId": "",
        "externalExecutionSummary": "",
        "externalExecutionUrl": "",
    }
    variables: dict[str, str] = {}
    if category == "Source":
        result.update(externalExecutionId=run.commit, externalExecutionSummary=run.message)
        variables = {
            "CommitId": run.commit,
            "CommitMessage": run.message,
            "AuthorDate": iso(run.commit_time),
            "BranchName": "main",
            "FullRepositoryName": _repository(setting),
        }
    elif category == "Build" and run.build is not None:
        result["externalExecutionId"] = build_id(setting, run.build)
    elif category == "Deploy" and run.deployment is not None:
        result["externalExecutionId"] = run.deployment.deployment_id
    if span.status == "Failed":
        result["errorDetails"] = {"code": "JobFailed", "message": action_error(run, span)}
    elif category in ("Build", "Deploy"):
        what = "Build" if category == "Build" else "Deployment"
        result["externalExecutionSummary"] = f"{what} {result['externalExecutionId']} succeeded"
    return {"outputArtifacts": [], "executionResult": result, "outputVariables": variables}


def pipeline_events(setting: Setting, run: RunPlan) -> list[tuple[int, str]]:
    """The execution's, stages' and actions' state changes."""
    name = setting.pipeline["name"]
    arn = f"arn:aws:codepipeline:{setting.region}:{setting.account}:{name}"
    base = {
        "pipeline": name,
        "version": setting.pipeline.get("version", 1),
        "execution-id": run.execution_id,
    }
    found = [
        _pipeline_event(
            setting,
            run,
            "Pipeline",
            run.start,
            {
                **base,
                "state": "STARTED",
                "execution-trigger": {
                    "trigger-type": "PollForSourceChanges",
                    "trigger-detail": MARK,
                },
            },
            arn,
            0,
        )
    ]
    stages: dict[str, list[Span]] = {}
    for action, span, _ in run.actions:
        stages.setdefault(action.stage, []).append(span)
        kind = {
            "owner": "AWS",
            "category": action.category,
            "provider": action.provider,
            "version": "1",
        }
        detail = {
            **base,
            "stage": action.stage,
            "action": action.name,
            "region": setting.region,
            "type": kind,
        }
        found.append(
            _pipeline_event(
                setting, run, "Action", span.start, {**detail, "state": "STARTED"}, arn, len(found)
            )
        )
        found.append(
            _pipeline_event(
                setting,
                run,
                "Action",
                span.end,
                {**detail, "state": span.status.upper()},
                arn,
                len(found),
            )
        )
    for stage, spans in stages.items():
        state = "FAILED" if any(s.status == "Failed" for s in spans) else "SUCCEEDED"
        for at, value in ((spans[0].start - 0.1, "STARTED"), (spans[-1].end + 0.1, state)):
            found.append(
                _pipeline_event(
                    setting,
                    run,
                    "Stage",
                    at,
                    {**base, "stage": stage, "state": value},
                    arn,
                    len(found),
                )
            )
    final = "FAILED" if any(s.status == "Failed" for _, s, _ in run.actions) else "SUCCEEDED"
    found.append(
        _pipeline_event(
            setting, run, "Pipeline", run.end + 0.2, {**base, "state": final}, arn, len(found)
        )
    )
    return found


def _pipeline_event(
    setting: Setting, run: RunPlan, level: str, at: float, detail: dict[str, Any], arn: str, n: int
) -> tuple[int, str]:
    kind = f"CodePipeline {level} Execution State Change"
    return event(
        setting, "aws.codepipeline", kind, at, detail, [arn], f"{run.execution_id[:-4]}{n:04x}"
    )


# -- CodeBuild -----------------------------------------------------------------------------
def build_id(setting: Setting, build: BuildPlan) -> str:
    return f"{setting.project['name']}:{build.build_id_suffix}"


def build_document(setting: Setting, run: RunPlan, number: int) -> dict[str, Any]:
    """The BatchGetBuilds document (codebuild/service.py + run.py's)."""
    build = run.build
    assert build is not None
    project = setting.project
    ident = build_id(setting, build)
    group = ((project.get("logsConfig") or {}).get("cloudWatchLogs") or {}).get("groupName") or (
        f"/aws/codebuild/{project['name']}"
    )
    stream = build.build_id_suffix
    phases = [_phase(p) for p in build.phases]
    phases.append({"phaseType": "COMPLETED", "startTime": build.end})
    return {
        "id": ident,
        "arn": f"arn:aws:codebuild:{setting.region}:{setting.account}:build/{ident}",
        "buildNumber": number,
        "startTime": build.start,
        "endTime": build.end,
        "currentPhase": "COMPLETED",
        "buildStatus": "SUCCEEDED" if build.succeeded else "FAILED",
        "sourceVersion": run.commit,
        "resolvedSourceVersion": run.commit,
        "projectName": project["name"],
        "phases": phases,
        "source": {
            "type": "CODEPIPELINE",
            **{k: v for k, v in (project.get("source") or {}).items() if k == "buildspec"},
        },
        "secondarySources": [],
        "artifacts": {"location": ""},
        "secondaryArtifacts": [],
        "environment": dict(project.get("environment") or {}),
        "serviceRole": project.get("serviceRole"),
        "logs": {
            "groupName": group,
            "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={setting.region}"
            f"#logEvent:group={group};stream={stream}",
            "cloudWatchLogsArn": f"arn:aws:logs:{setting.region}:{setting.account}:log-group:"
            f"{group}:log-stream:{stream}",
            "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": stream},
            "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
        },
        "timeoutInMinutes": int(project.get("timeoutInMinutes") or 60),
        "queuedTimeoutInMinutes": int(project.get("queuedTimeoutInMinutes") or 480),
        "buildComplete": True,
        "initiator": MARK,
        "reportArns": [],
        "exportedEnvironmentVariables": [],
        "_simulated": True,
    }


def _phase(span: Span) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "phaseType": span.name,
        "phaseStatus": span.status,
        "startTime": span.start,
        "endTime": span.end,
        "durationInSeconds": int(span.end - span.start),
    }
    if span.status == "FAILED":
        code, message = BUILD_FAILURE
        doc["contexts"] = [{"statusCode": code, "message": message}]
    return doc


def build_log(build: BuildPlan) -> list[tuple[int, str]]:
    """What the build's log stream holds: the agent's phase lines and the commands'."""
    lines: list[tuple[int, str]] = []
    for phase in build.phases[2:]:
        stamp = datetime.fromtimestamp(phase.start, UTC).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        lines.append((int(phase.start * 1000), f"[Container] {stamp} Entering phase {phase.name}"))
        command = _COMMANDS.get(phase.name)
        if command:
            lines.append(
                (int(phase.start * 1000) + 1, f"[Container] {stamp} Running command {command}")
            )
        if phase.status == "FAILED":
            lines.append(
                (
                    int(phase.end * 1000) - 1,
                    f"[Container] {stamp} Command did not exit "
                    f"successfully {command} exit status 1",
                )
            )
        lines.append(
            (
                int(phase.end * 1000),
                f"[Container] {stamp} Phase complete: {phase.name} State: {phase.status}",
            )
        )
    status = "SUCCEEDED" if build.succeeded else "FAILED"
    lines.append((int(build.end * 1000), f"[Container] Phase complete: build status {status}"))
    return lines


_COMMANDS = {"INSTALL": "npm ci", "PRE_BUILD": "npm run lint", "BUILD": "npm test"}


def build_events(setting: Setting, run: RunPlan, document: dict[str, Any]) -> list[tuple[int, str]]:
    """CodeBuild's state changes (IN_PROGRESS, the end) and its phase changes."""
    build = run.build
    assert build is not None
    arn = document["arn"]
    info = {
        "build-complete": False,
        "initiator": MARK,
        "source-version": run.commit,
        "logs": {
            "group-name": document["logs"]["groupName"],
            "stream-name": document["logs"]["streamName"],
        },
    }
    base = {"project-name": document["projectName"], "build-id": arn, "version": "1"}
    found = [
        event(
            setting,
            "aws.codebuild",
            "CodeBuild Build State Change",
            build.start,
            {
                **base,
                "build-status": "IN_PROGRESS",
                "current-phase": "SUBMITTED",
                "additional-information": info,
            },
            [arn],
            _eid(build, 0),
        )
    ]
    for n, phase in enumerate(build.phases, start=1):
        detail = {
            **base,
            "completed-phase": phase.name,
            "completed-phase-status": phase.status,
            "completed-phase-duration-seconds": int(phase.end - phase.start),
            "additional-information": info,
        }
        found.append(
            event(
                setting,
                "aws.codebuild",
                "CodeBuild Build Phase Change",
                phase.end,
                detail,
                [arn],
                _eid(build, n),
            )
        )
    final = {
        **base,
        "build-status": document["buildStatus"],
        "current-phase": "COMPLETED",
        "additional-information": {**info, "build-complete": True},
    }
    found.append(
        event(
            setting,
            "aws.codebuild",
            "CodeBuild Build State Change",
            build.end,
            final,
            [arn],
            _eid(build, 99),
        )
    )
    return found


def _eid(build: BuildPlan, n: int) -> str:
    return f"{build.build_id_suffix[:-4]}{n:04x}"


def build_metrics(document: dict[str, Any]) -> list[tuple[str, float, str, dict[str, str], float]]:
    """AWS/CodeBuild datapoints at the build's end, per project and account-wide."""
    at, ok = float(document["endTime"]), document["buildStatus"] == "SUCCEEDED"
    points = []
    for dims in ({"ProjectName": document["projectName"]}, {}):
        points += [
            ("Builds", 1.0, "Count", dims, at),
            ("SucceededBuilds", float(ok), "Count", dims, at),
            ("FailedBuilds", float(not ok), "Count", dims, at),
            ("Duration", at - float(document["startTime"]), "Seconds", dims, at),
        ]
        points += [
            (PHASE_METRICS[p["phaseType"]], p["endTime"] - p["startTime"], "Seconds", dims, at)
            for p in document["phases"]
            if p["phaseType"] in PHASE_METRICS
        ]
    return points


# -- CodeDeploy ----------------------------------------------------------------------------
def deployment_document(
    setting: Setting, run: RunPlan, deployment: DeploymentPlan, revision_key: str
) -> dict[str, Any]:
    """The deployment record (codedeploy/service.py's document, finished)."""
    instances = {
        i.instance_id: _instance_summary(setting, deployment, i) for i in deployment.instances
    }
    counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
    for summary in instances.values():
        counts[summary["status"]] += 1
    description = MARK
    doc: dict[str, Any] = {
        "applicationName": setting.application,
        "deploymentGroupName": setting.group,
        "deploymentConfigName": setting.config_name,
        "deploymentId": deployment.deployment_id,
        "revision": {
            "revisionType": "S3",
            "s3Location": {
                "bucket": setting.artifact_bucket,
                "key": revision_key,
                "bundleType": "zip",
            },
        },
        "status": "Succeeded" if deployment.succeeded else "Failed",
        "createTime": deployment.create,
        "startTime": deployment.create + 0.5,
        "completeTime": deployment.end,
        "description": description,
        "creator": "codeDeployRollback" if deployment.rollback_of else "user",
        "ignoreApplicationStopFailures": False,
        "autoRollbackConfiguration": {
            "enabled": bool(setting.auto_rollback.get("enabled")),
            "events": list(setting.auto_rollback.get("events") or []),
        },
        "fileExistsBehavior": "DISALLOW",
        "updateOutdatedInstancesOnly": False,
        "deploymentStyle": {
            "deploymentType": "IN_PLACE",
            "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
        },
        "instanceTerminationWaitTimeStarted": False,
        "deploymentStatusMessages": [],
        "computePlatform": "Server",
        "deploymentOverview": counts,
        "_instances": instances,
        "_context": {
            "region": setting.region,
            "account": setting.account,
            "groupId": setting.group_id,
            "arns": list(setting.group_arns),
            "alarmConfiguration": {},
        },
        "_simulated": True,
    }
    if not deployment.succeeded:
        doc["errorInformation"] = {"code": "HEALTH_CONSTRAINTS", "message": HEALTH_MESSAGE}
    if deployment.rollback_of:
        doc["rollbackInfo"] = {
            "rollbackTriggeringDeploymentId": deployment.rollback_of,
            "rollbackMessage": f"Automatic rollback of {deployment.rollback_of} (Failed)",
        }
    elif deployment.rolled_back_by:
        doc["rollbackInfo"] = {
            "rollbackDeploymentId": deployment.rolled_back_by,
            "rollbackMessage": f"Automatic rollback started as {deployment.rolled_back_by}",
        }
    return doc


def _instance_summary(
    setting: Setting, deployment: DeploymentPlan, instance: InstancePlan
) -> dict[str, Any]:
    events = []
    for span in instance.events:
        entry: dict[str, Any] = {"lifecycleEventName": span.name, "status": span.status}
        if span.status != "Skipped":
            entry.update(startTime=span.start, endTime=span.end)
            failed = span.status == "Failed"
            entry["diagnostics"] = {
                "errorCode": "ScriptFailed" if failed else "Success",
                "scriptName": "scripts/validate_service.sh" if failed else "",
                "message": HOOK_FAILURE if failed else "Succeeded",
                "logTail": "",
            }
        events.append(entry)
    ended = [s.end for s in instance.events if s.status != "Skipped"]
    return {
        "deploymentId": deployment.deployment_id,
        "instanceId": setting.instance_arns.get(instance.instance_id, instance.instance_id),
        "_instanceId": instance.instance_id,
        "status": instance.status,
        "lastUpdatedAt": max(ended, default=deployment.end),
        "lifecycleEvents": events,
    }


def deployment_events(setting: Setting, deployment: DeploymentPlan) -> list[tuple[int, str]]:
    """CodeDeploy's deployment and instance state-change notifications."""
    base = {
        "application": setting.application,
        "deploymentGroup": setting.group,
        "deploymentId": deployment.deployment_id,
        "instanceGroupId": setting.group_id,
        "region": setting.region,
    }
    arns, source = list(setting.group_arns), "aws.codedeploy"
    kind, instance_kind = (
        "CodeDeploy Deployment State-change Notification",
        "CodeDeploy Instance State-change Notification",
    )
    eid = deployment.deployment_id
    found = [
        event(
            setting,
            source,
            kind,
            deployment.create + 0.5,
            {**base, "state": "START"},
            arns,
            f"{eid}-0",
        )
    ]
    for n, instance in enumerate(deployment.instances):
        ran = [s for s in instance.events if s.status != "Skipped"]
        if not ran:
            continue
        detail = {**base, "instanceId": instance.instance_id}
        arn = setting.instance_arns.get(instance.instance_id, instance.instance_id)
        end_state = "SUCCESS" if instance.status == "Succeeded" else "FAILURE"
        found.append(
            event(
                setting,
                source,
                instance_kind,
                ran[0].start,
                {**detail, "state": "START"},
                [arn, *arns],
                f"{eid}-{n}s",
            )
        )
        found.append(
            event(
                setting,
                source,
                instance_kind,
                ran[-1].end,
                {**detail, "state": end_state},
                [arn, *arns],
                f"{eid}-{n}e",
            )
        )
    state = "SUCCESS" if deployment.succeeded else "FAILURE"
    found.append(
        event(setting, source, kind, deployment.end, {**base, "state": state}, arns, f"{eid}-9")
    )
    return found


def written(setting: Setting, runs: list[RunPlan], first_number: int) -> Written:
    """Every document of ``runs``; builds numbered from ``first_number`` on."""
    out = Written()
    number = first_number
    for run in runs:
        out.executions.append(execution(setting, run))
        out.actions += action_records(setting, run)
        out.events += pipeline_events(setting, run)
        if run.build is not None:
            document = build_document(setting, run, number)
            number += 1
            out.builds.append(document)
            out.events += build_events(setting, run, document)
            out.log_lines[document["logs"]["streamName"]] = build_log(run.build)
            out.metrics += build_metrics(document)
        for deployment in (run.deployment, run.rollback):
            if deployment is not None:
                out.deployments.append(
                    deployment_document(setting, run, deployment, deployment.revision_key)
                )
                out.events += deployment_events(setting, deployment)
    return out
