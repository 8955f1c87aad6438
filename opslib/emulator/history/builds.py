"""A simulated build as CodeBuild keeps it: the document, its log stream, events, metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opslib.emulator.history.plan import BuildPlan, RunPlan, Span
from opslib.emulator.history.wire import MARK, Setting, event

BUILD_FAILURE = (
    "COMMAND_EXECUTION_ERROR",
    "Error while executing command: npm test. Reason: exit status 1",
)
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
