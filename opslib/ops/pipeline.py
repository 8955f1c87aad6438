"""CodePipeline from the user's side: start (or attach to) an execution and follow it.

The same calls on both targets. Progress is reported as a stream of
:class:`ActionUpdate` values (stage, action, status, summary) so the CLI and the
runbooks can show it their own way; a failed execution is explained with the failing
action, its reason and the tail of its log (the build's log, or the deployment's
script output).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opslib.exceptions import ExecutionError
from opslib.ops import builds
from opslib.target import Session, aws_errors

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})


@dataclass(frozen=True)
class ActionUpdate:
    """One action's state as GetPipelineState reports it."""

    stage: str
    action: str
    status: str
    summary: str
    external_id: str
    error: str


@dataclass
class ExecutionReport:
    """How an execution ended and, when it failed, why."""

    pipeline: str
    execution_id: str
    status: str
    revision: str
    failed_action: ActionUpdate | None = None
    log_tail: list[str] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"


def pipeline_name(stack: str) -> str:
    """The stack's pipeline, as provisioning names it."""
    return f"{stack}-pipeline"


def start_or_attach(session: Session, name: str) -> tuple[str, bool]:
    """The execution in progress if there is one (attached: True), else a new one."""
    client = session.client("codepipeline")
    with aws_errors("codepipeline", "ListPipelineExecutions"):
        summaries = client.list_pipeline_executions(pipelineName=name, maxResults=10)
    running = [s for s in summaries["pipelineExecutionSummaries"] if s["status"] == "InProgress"]
    if running:
        return str(running[0]["pipelineExecutionId"]), True
    with aws_errors("codepipeline", "StartPipelineExecution"):
        return str(client.start_pipeline_execution(name=name)["pipelineExecutionId"]), False


def action_updates(session: Session, name: str, execution_id: str) -> list[ActionUpdate]:
    """The state of every action this execution has reached."""
    with aws_errors("codepipeline", "GetPipelineState"):
        stages = session.client("codepipeline").get_pipeline_state(name=name)["stageStates"]
    updates = []
    for stage in stages:
        if stage.get("latestExecution", {}).get("pipelineExecutionId") != execution_id:
            continue
        for action in stage["actionStates"]:
            latest = action.get("latestExecution")
            if latest:
                updates.append(_update(stage["stageName"], action["actionName"], latest))
    return updates


def _update(stage: str, action: str, latest: dict[str, Any]) -> ActionUpdate:
    return ActionUpdate(
        stage=stage,
        action=action,
        status=latest.get("status", ""),
        summary=latest.get("summary", ""),
        external_id=latest.get("externalExecutionId", ""),
        error=latest.get("errorDetails", {}).get("message", ""),
    )


def get_execution(session: Session, name: str, execution_id: str) -> dict[str, Any]:
    with aws_errors("codepipeline", "GetPipelineExecution"):
        response = session.client("codepipeline").get_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution_id
        )
    return dict(response["pipelineExecution"])


def follow(
    session: Session,
    name: str,
    execution_id: str,
    on_update: Callable[[ActionUpdate], None] = lambda _: None,
    timeout: float = 3600.0,
    poll: float = 1.0,
) -> ExecutionReport:
    """Follow an execution to its end, calling ``on_update`` at every action change."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    deadline = time.monotonic() + timeout
    while True:
        for update in action_updates(session, name, execution_id):
            key = (update.stage, update.action)
            if seen.get(key) != (update.status, update.external_id):
                seen[key] = (update.status, update.external_id)
                on_update(update)
        execution = get_execution(session, name, execution_id)
        if execution["status"] in TERMINAL:
            return _report(session, name, execution)
        if time.monotonic() > deadline:
            raise ExecutionError(
                f"{name}: execution {execution_id} still running after {timeout:.0f}s"
            )
        time.sleep(poll)  # AWS offers no push for execution progress


def _report(session: Session, name: str, execution: dict[str, Any]) -> ExecutionReport:
    revisions = execution.get("artifactRevisions") or [{}]
    report = ExecutionReport(
        name,
        execution["pipelineExecutionId"],
        execution["status"],
        revisions[0].get("revisionId", ""),
    )
    if not report.succeeded:
        updates = action_updates(session, name, report.execution_id)
        report.failed_action = next(
            (u for u in updates if u.status in ("Failed", "Abandoned")), None
        )
        if report.failed_action is not None:
            report.log_tail = failure_log_tail(session, report.failed_action)
    return report


def failure_log_tail(session: Session, action: ActionUpdate, lines: int = 25) -> list[str]:
    """The last lines that explain a failed action: build log or deployment script output."""
    if ":" in action.external_id:  # a CodeBuild build id is project:uuid
        view = builds.get_build(session, action.external_id)
        return list(builds.log_events(session, view.log_group, view.log_stream))[-lines:]
    if action.external_id.startswith("d-"):
        return _deployment_tail(session, action.external_id)[-lines:]
    return []


def _deployment_tail(session: Session, deployment_id: str) -> list[str]:
    client = session.client("codedeploy")
    with aws_errors("codedeploy", "ListDeploymentTargets"):
        targets = client.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    for target in targets:
        with aws_errors("codedeploy", "GetDeploymentTarget"):
            detail = client.get_deployment_target(deploymentId=deployment_id, targetId=target)
        for event in (
            detail["deploymentTarget"].get("instanceTarget", {}).get("lifecycleEvents", [])
        ):
            diagnostics = event.get("diagnostics") or {}
            if event.get("status") == "Failed" and diagnostics:
                reason = f"{diagnostics.get('errorCode')} {diagnostics.get('message', '')}"
                head = f"{target} {event['lifecycleEventName']}: {reason}"
                return [head, *str(diagnostics.get("logTail", "")).splitlines()]
    return []
