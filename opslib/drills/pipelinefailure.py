"""pipeline-failure: the running build is stopped mid-flight; the failed stage is retried.

A pipeline run of the good commit (the one the fleet serves, so the release changes
nothing it serves) is started, or the one already releasing it is used. While its build
runs — past provisioning, in its install, pre-build, build or post-build phase — the
drill calls StopBuild, as an operator's mistake or a lost build host would end it: the
build ends STOPPED, its action fails and the execution ``Failed``. Recovery is what the
seed says: RetryStageExecution of the failed stage with ``FAILED_ACTIONS`` (the succeeded
Source is kept), the same execution goes on through Deploy and succeeds; the drill
measures the time from the StopBuild to the execution's success with the fleet serving
the commit.

Rollbacks, which always run: let a drill execution still running end; if the newest
execution is not green, release the good commit again so the pipeline's last run is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from opslib.drills.common import Configuration
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.drills.safety import Target
from opslib.exceptions import DrillRefused, ExecutionError
from opslib.ops import builds, fleet, pipeline, rollback
from opslib.target import aws_errors

MID_FLIGHT = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")  # phases a stop cuts short
POLL = 0.2  # seconds: a build's phases last seconds locally


def build_stage(definition: dict[str, Any]) -> tuple[str, str]:
    """(stage, action) of the pipeline's CodeBuild action (pure)."""
    for stage in definition.get("stages") or []:
        for action in stage.get("actions") or []:
            kind = action.get("actionTypeId") or {}
            if kind.get("category") == "Build" and kind.get("provider") == "CodeBuild":
                return str(stage["name"]), str(action["name"])
    raise DrillRefused(f"pipeline {definition.get('name', '?')} has no CodeBuild action to stop")


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The pipeline, its build stage and project, and the commit the fleet serves."""
    name = pipeline.pipeline_name(run.config.stack)
    with aws_errors("codepipeline", "GetPipeline"):
        definition = run.session.client("codepipeline").get_pipeline(name=name)["pipeline"]
    stage, action = build_stage(definition)
    current = rollback.history(run.session, run.config, limit=5).current
    if current is None or current.status != "Succeeded" or not current.commit:
        raise DrillRefused("pipeline-failure needs a good release first: release, then drill")
    ctx = run.context
    project = ctx.names.project
    return Preparation(
        targets=[
            Target("codepipeline pipeline", name, ctx.arn("codepipeline", name)),
            Target("codebuild project", project),
        ],
        values={"pipeline": name, "stage": stage, "good_commit": current.commit},
        fault=(
            f"StopBuild of the running {project} build of a {name} run of "
            f"{current.commit[:12]} (stage {stage}, action {action}), mid-flight"
        ),
        notes=[f"recovery: RetryStageExecution {stage} FAILED_ACTIONS, then the run must succeed"],
    )


def start_run(pipeline_name: str, commit: str, configuration: Configuration = None) -> str:
    """A run releasing the good commit: the one in progress for it, else a new one."""
    run = step_of(configuration)
    execution_id, attached = pipeline.start_or_attach(run.session, pipeline_name, commit)
    run.state["execution"] = execution_id
    run.say(f"{'attached to' if attached else 'started'} {pipeline_name} execution {execution_id}")
    return execution_id


def _running_build(run: DrillRun, name: str, stage: str, execution_id: str) -> str:
    for update in pipeline.action_updates(run.session, name, execution_id):
        if update.stage == stage and update.status == "InProgress" and update.external_id:
            return update.external_id
    return ""


def await_build_in_flight(
    run: DrillRun, name: str, stage: str, execution_id: str, timeout: float
) -> builds.BuildView:
    """The execution's build once it runs one of the MID_FLIGHT phases."""
    deadline = time.monotonic() + timeout
    while True:
        build_id = _running_build(run, name, stage, execution_id)
        view = builds.get_build(run.session, build_id) if build_id else None
        if view is not None and view.status == "IN_PROGRESS" and view.current_phase in MID_FLIGHT:
            return view
        if view is not None and view.status != "IN_PROGRESS":
            raise ExecutionError(f"build {build_id} ended {view.status} before it could be stopped")
        status = pipeline.get_execution(run.session, name, execution_id)["status"]
        if status in pipeline.TERMINAL:
            raise ExecutionError(f"execution {execution_id} ended {status} before its build ran")
        if time.monotonic() >= deadline:
            raise ExecutionError(f"no build of {execution_id} in flight after {timeout:.0f} s")
        time.sleep(POLL)  # no push for a build's phase changes


def stop_build(
    pipeline_name: str, stage: str, timeout: float = 900.0, configuration: Configuration = None
) -> dict[str, Any]:
    """The fault: StopBuild of the run's build while it is in one of its MID_FLIGHT phases."""
    run = step_of(configuration)
    execution_id = str(run.state.get("execution", ""))
    view = await_build_in_flight(run, pipeline_name, stage, execution_id, timeout)
    with aws_errors("codebuild", "StopBuild"):
        stopped = run.session.client("codebuild").stop_build(id=view.build_id)["build"]
    injected = datetime.now(UTC)
    run.state["build"] = view.build_id
    run.say(f"injected: StopBuild {view.build_id} in its {view.current_phase} phase")
    return {"build_id": view.build_id, "phase": view.current_phase,
            "status": stopped.get("buildStatus", ""),
            "marks": {"injected": injected.isoformat()}}  # fmt: skip


def _await_end(run: DrillRun, name: str, execution_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = pipeline.get_execution(run.session, name, execution_id)
        if execution["status"] in pipeline.TERMINAL:
            return execution
        if time.monotonic() >= deadline:
            raise ExecutionError(f"execution {execution_id} still {execution['status']} "
                                 f"after {timeout:.0f} s")  # fmt: skip
        time.sleep(0.5)  # no push for an execution's end


def await_failure(
    pipeline_name: str, stage: str, timeout: float = 300.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Detection: the execution fails at the build stage (its action says why)."""
    run = step_of(configuration)
    execution_id = str(run.state.get("execution", ""))
    execution = _await_end(run, pipeline_name, execution_id, timeout)
    if execution["status"] != "Failed":
        raise ExecutionError(f"execution {execution_id} ended {execution['status']}, not Failed")
    failed = [u for u in pipeline.action_updates(run.session, pipeline_name, execution_id)
              if u.stage == stage and u.status == "Failed"]  # fmt: skip
    if not failed:
        raise ExecutionError(f"execution {execution_id} failed, but not at stage {stage}")
    run.say(f"detected: execution {execution_id} Failed at {stage}: {failed[0].error}")
    return {"execution_id": execution_id, "error": failed[0].error,
            "marks": {"detected": datetime.now(UTC).isoformat()}}  # fmt: skip


def retry_stage(
    pipeline_name: str, stage: str, configuration: Configuration = None
) -> dict[str, Any]:
    """Recovery: RetryStageExecution of the failed stage, FAILED_ACTIONS."""
    run = step_of(configuration)
    execution_id = str(run.state.get("execution", ""))
    started = datetime.now(UTC)
    with aws_errors("codepipeline", "RetryStageExecution"):
        answer = run.session.client("codepipeline").retry_stage_execution(
            pipelineName=pipeline_name, stageName=stage, pipelineExecutionId=execution_id,
            retryMode="FAILED_ACTIONS",
        )  # fmt: skip
    run.say(f"recovery: RetryStageExecution {stage} of {execution_id} (FAILED_ACTIONS)")
    return {"execution_id": answer.get("pipelineExecutionId", execution_id),
            "marks": {"recovery_started": started.isoformat()}}  # fmt: skip


def await_success(
    pipeline_name: str, commit: str, timeout: float = 1800.0, configuration: Configuration = None
) -> dict[str, Any]:
    """The retried execution succeeds and the fleet serves the commit: steady again."""
    run = step_of(configuration)
    execution_id = str(run.state.get("execution", ""))
    report = pipeline.follow(run.session, pipeline_name, execution_id, timeout=timeout)
    if not report.succeeded:
        failed = report.failed_action
        why = f" at {failed.stage}/{failed.action}: {failed.error}" if failed else ""
        raise ExecutionError(f"retried execution {execution_id} {report.status}{why}")
    checked = fleet.verify(run.session, run.config, commit=commit, timeout=120)
    if fleet.serves(checked, commit=commit):
        raise ExecutionError(fleet.verdict(checked, commit=commit).sentence)
    run.say(f"execution {execution_id} succeeded; the fleet serves {commit[:12]}")
    return {"execution_id": execution_id, "status": report.status, "revision": report.revision}


def settle_pipeline(
    pipeline_name: str, commit: str, timeout: float = 1800.0, configuration: Configuration = None
) -> str:
    """Rollback: let the drill's run end; release the commit again unless the last run is green."""
    run = run_of(configuration)
    execution_id = str(run.state.get("execution", ""))
    if execution_id:
        _await_end(run, pipeline_name, execution_id, timeout)
    latest = pipeline.latest_execution(run.session, pipeline_name)
    if latest is not None and latest.get("status") == "Succeeded":
        return f"the last run of {pipeline_name} is green: {pipeline.describe_execution(latest)}"
    new_id = pipeline.start_execution(run.session, pipeline_name, commit)
    report = pipeline.follow(run.session, pipeline_name, new_id, timeout=timeout)
    if not report.succeeded:
        raise ExecutionError(f"re-release {new_id} of {commit[:12]} {report.status}")
    return f"released {commit[:12]} again with execution {new_id}"
