"""A planned run spelled out in each service's own words: pure.

The documents are the ones the services keep for a real run (the wire shapes their read
APIs answer with, and the private keys their code reads), so ListPipelineExecutions,
ListActionExecutions, BatchGetBuilds, BatchGetDeployments and the rest answer a simulated
run exactly as a real one. Every item carries the mark telemetry counts
(``opslib:simulated``: an execution's trigger detail, a build's initiator, a
deployment's description) and ``_simulated`` for the emulator's own code.
"""

from __future__ import annotations

from typing import Any

from opslib.emulator.history.builds import (
    BUILD_FAILURE,
    build_document,
    build_events,
    build_id,
    build_log,
    build_metrics,
)
from opslib.emulator.history.deployments import (
    HEALTH_MESSAGE,
    deployment_document,
    deployment_events,
)
from opslib.emulator.history.plan import RunPlan, Span
from opslib.emulator.history.wire import MARK, Setting, Written, event, iso

__all__ = ["MARK", "Setting", "Written", "written"]


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
