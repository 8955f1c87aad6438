"""instance-loss: AWS FIS terminates one fleet instance; a new one is launched and deployed.

The fault is FIS's own ``aws:ec2:terminate-instances``, from an experiment template the
drill creates: its target is the stack's fleet by tag (``opslib:stack`` and the fleet tag
CodeDeploy deploys to), running instances only, ``COUNT(1)``; its stop conditions are the
stack's alarms that say customers or deployments are hurt (app-errors, deploy-failures),
so FIS stops the experiment if they fire; its role is the stack's FIS role (``opslib up``
creates it, least privilege: terminate only instances tagged with this stack).

Recovery is the seed's "launch a new instance, re-deploy": ``opslib up`` (the stack's
apply) finds the fleet one short and launches the missing instance under its index, then
CodeDeploy deploys the last good revision to the group, so the new instance serves it too.
The steady state: the configured fleet size, every instance healthy on that commit. The
experiment stays listed (completed) afterwards; its template is removed in the rollbacks.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from opslib import stack
from opslib.drills.common import Configuration, fleet_problems, redeploy
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.drills.safety import Target
from opslib.exceptions import AwsError, DrillRefused, ExecutionError, NotFoundError
from opslib.ops import fleet, rollback
from opslib.stack.tags import STACK_TAG
from opslib.target import aws_errors

DRILL_TAG = "opslib:drill"
TARGET = "FleetInstances"
ACTION = "terminate-one-instance"
STOP_ALARMS = ("app-errors", "deploy-failures")  # the stack's alarms FIS stops on
ENDED = ("completed", "stopped", "failed", "cancelled")
ALARM_CLEAR_WAIT = 300.0  # a recent alarm (an earlier drill's) may clear before we start


def template_document(
    stack: str, tag_key: str, tag_value: str, role_arn: str, alarm_arns: list[str]
) -> dict[str, Any]:
    """The experiment template: one running fleet instance of the stack, terminated (pure)."""
    return {
        "description": f"opslib drill instance-loss: terminate one instance of {stack}",
        "targets": {
            TARGET: {
                "resourceType": "aws:ec2:instance",
                "resourceTags": {STACK_TAG: stack, tag_key: tag_value},
                "filters": [{"path": "State.Name", "values": ["running"]}],
                "selectionMode": "COUNT(1)",
            }
        },
        "actions": {
            ACTION: {
                "actionId": "aws:ec2:terminate-instances",
                "description": "terminate one fleet instance",
                "targets": {"Instances": TARGET},
            }
        },
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": a} for a in alarm_arns]
        or [{"source": "none"}],
        "roleArn": role_arn,
        "tags": {STACK_TAG: stack, DRILL_TAG: "instance-loss"},
    }


def _role_arn(run: DrillRun) -> str:
    name = run.context.names.role("fis")
    try:
        with aws_errors("iam", "GetRole"):
            return str(run.session.client("iam").get_role(RoleName=name)["Role"]["Arn"])
    except NotFoundError:
        raise DrillRefused(
            f"iam role {name} does not exist: run 'opslib up' so the stack has its FIS role"
        ) from None


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The good revision, the fleet's instances (each checked for the stack's tag), the role."""
    current = rollback.history(run.session, run.config, limit=5).current
    if current is None or current.status != "Succeeded":
        raise DrillRefused("instance-loss needs a good release first: release, then drill")
    instances = [i for i in fleet.describe_instances(run.session, run.config)
                 if i.state == "running"]  # fmt: skip
    if not instances:
        raise DrillRefused(f"stack {run.config.stack} has no running fleet instance to lose")
    s3 = current.location.get("s3Location") or {}
    ctx = run.context
    alarms = [ctx.arn("cloudwatch", f"alarm:{ctx.names.alarm(a)}") for a in STOP_ALARMS]
    fleet_tag = f"{run.config.fleet.tag_key}={run.config.fleet.tag_value}"
    return Preparation(
        targets=[Target("ec2 instance", i.instance_id) for i in instances],
        values={
            "good_commit": current.commit,
            "good_bucket": str(s3.get("bucket", "")),
            "good_key": str(s3.get("key", "")),
            "role_arn": _role_arn(run),
            "stop_alarms": ",".join(alarms),
        },
        fault=(
            f"AWS FIS aws:ec2:terminate-instances on COUNT(1) of the running instances "
            f"tagged {STACK_TAG}={run.config.stack} and {fleet_tag}"
        ),
        notes=[
            "stop conditions: " + ", ".join(ctx.names.alarm(a) for a in STOP_ALARMS),
            f"recovery: 'opslib up' launches the missing instance, then CodeDeploy deploys "
            f"{current.describe()} to the group",
        ],
    )


def _alarms_in_alarm(run: DrillRun, arns: list[str]) -> list[str]:
    names = [arn.rsplit(":", 1)[-1] for arn in arns]
    with aws_errors("cloudwatch", "DescribeAlarms"):
        found = run.session.client("cloudwatch").describe_alarms(AlarmNames=names)
    return [a["AlarmName"] for a in found["MetricAlarms"] if a["StateValue"] == "ALARM"]


def _await_alarms_clear(run: DrillRun, arns: list[str], timeout: float) -> None:
    """FIS does not start an experiment whose stop condition is in ALARM: wait it out."""
    deadline = time.monotonic() + timeout
    while firing := _alarms_in_alarm(run, arns):
        if time.monotonic() >= deadline:
            raise ExecutionError(
                f"stop condition(s) {', '.join(firing)} still in ALARM after {timeout:.0f} s: "
                "the stack is hurting already; drill once they are OK"
            )
        run.say(f"waiting for {', '.join(firing)} to leave ALARM before injecting")
        time.sleep(5.0)  # alarms are evaluated each minute; no push


def _experiment(run: DrillRun, experiment_id: str) -> dict[str, Any]:
    with aws_errors("fis", "GetExperiment"):
        return dict(run.session.client("fis").get_experiment(id=experiment_id)["experiment"])


def await_experiment(run: DrillRun, experiment_id: str, timeout: float) -> dict[str, Any]:
    """Poll GetExperiment until it ends (completed, stopped, failed, cancelled)."""
    deadline = time.monotonic() + timeout
    while True:
        experiment = _experiment(run, experiment_id)
        if experiment["state"]["status"] in ENDED:
            return experiment
        if time.monotonic() >= deadline:
            status = experiment["state"]["status"]
            raise ExecutionError(
                f"FIS experiment {experiment_id} still {status} after {timeout:.0f} s"
            )
        time.sleep(1.0)  # FIS pushes nothing but a best-effort event


def _terminated(run: DrillRun, experiment_id: str) -> list[str]:
    with aws_errors("fis", "ListExperimentResolvedTargets"):
        found = run.session.client("fis").list_experiment_resolved_targets(
            experimentId=experiment_id, targetName=TARGET
        )["resolvedTargets"]
    arns = [str((t.get("targetInformation") or {}).get("arn", "")) for t in found]
    return [arn.rsplit("/", 1)[-1] for arn in arns if arn]


def _iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else ""


def terminate_instance(
    role_arn: str, stop_alarms: str, timeout: float = 600.0, configuration: Configuration = None
) -> dict[str, Any]:
    """The fault: create the FIS template, start the experiment, wait for it to complete."""
    run = step_of(configuration)
    alarms = [a for a in stop_alarms.split(",") if a]
    _await_alarms_clear(run, alarms, ALARM_CLEAR_WAIT)
    fleet_settings = run.config.fleet
    document = template_document(run.config.stack, fleet_settings.tag_key,
                                 fleet_settings.tag_value, role_arn, alarms)  # fmt: skip
    fis = run.session.client("fis")
    with aws_errors("fis", "CreateExperimentTemplate"):
        template = fis.create_experiment_template(clientToken=uuid.uuid4().hex, **document)
    template_id = str(template["experimentTemplate"]["id"])
    run.state["template"] = template_id
    with aws_errors("fis", "StartExperiment"):
        started = fis.start_experiment(
            clientToken=uuid.uuid4().hex, experimentTemplateId=template_id,
            tags={STACK_TAG: run.config.stack, DRILL_TAG: "instance-loss"},
        )["experiment"]  # fmt: skip
    experiment_id = str(started["id"])
    run.state["experiment"] = experiment_id
    run.say(f"FIS experiment {experiment_id} started from template {template_id}")
    experiment = await_experiment(run, experiment_id, timeout)
    state = experiment["state"]
    if state["status"] != "completed":
        raise ExecutionError(f"FIS experiment {experiment_id} {state['status']}: "
                             f"{state.get('reason', '')}")  # fmt: skip
    lost = _terminated(run, experiment_id)
    run.state["lost"] = lost
    action = (experiment.get("actions") or {}).get(ACTION) or {}
    injected = action.get("endTime") or datetime.now(UTC)
    run.say(f"injected: FIS terminated {', '.join(lost)} (experiment {experiment_id} completed)")
    return {"experiment_id": experiment_id, "template_id": template_id, "terminated": lost,
            "marks": {"injected": _iso(injected)}}  # fmt: skip


def _states(run: DrillRun, ids: list[str]) -> dict[str, str]:
    with aws_errors("ec2", "DescribeInstances"):
        found = run.session.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def detect_instance_loss(
    timeout: float = 120.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Detection: EC2 reports the instance gone and the fleet is short of its size."""
    run = step_of(configuration)
    lost = list(run.state.get("lost") or [])
    if not lost:
        raise ExecutionError("no instance was terminated: the fault did not take")
    deadline = time.monotonic() + timeout
    while True:
        states = _states(run, lost)
        if all(s in ("shutting-down", "terminated") for s in states.values()):
            break
        if time.monotonic() >= deadline:
            raise ExecutionError(
                f"instance(s) still not terminated after {timeout:.0f} s: {states}"
            )
        time.sleep(1.0)
    live = fleet.describe_instances(run.session, run.config)
    running = [i for i in live if i.state == "running"]
    run.say(f"detected: {', '.join(lost)} {', '.join(states.values())}; "
            f"{len(running)} of {run.config.fleet.size} instance(s) running")  # fmt: skip
    return {"states": states, "running": len(running),
            "marks": {"detected": datetime.now(UTC).isoformat()}}  # fmt: skip


def launch_replacement(configuration: Configuration = None) -> dict[str, Any]:
    """Recovery, part one: ``opslib up`` launches the missing instance under its index."""
    run = step_of(configuration)
    started = datetime.now(UTC)
    before = {i.instance_id for i in fleet.describe_instances(run.session, run.config)}
    result = stack.apply(run.session, run.config)
    after = {i.instance_id for i in fleet.describe_instances(run.session, run.config)}
    launched = sorted(after - before)
    if not launched:
        raise ExecutionError("'opslib up' launched no instance: the fleet was not short")
    run.say(f"recovery: launched {', '.join(launched)} ({result.counts()})")
    return {"launched": launched, "changes": result.counts(),
            "marks": {"recovery_started": started.isoformat()}}  # fmt: skip


def deploy_good_revision(
    bucket: str, key: str, commit: str, timeout: float = 900.0, configuration: Configuration = None
) -> str:
    """Recovery, part two: CodeDeploy deploys the last good revision to the group."""
    run = step_of(configuration)
    return redeploy(run, bucket, key, commit, timeout)


def stop_experiment(configuration: Configuration = None) -> str:
    """Rollback: stop the drill's experiment if it still runs."""
    run = run_of(configuration)
    experiment_id = str(run.state.get("experiment", ""))
    if not experiment_id:
        return "no experiment was started"
    status = _experiment(run, experiment_id)["state"]["status"]
    if status in ENDED:
        return f"experiment {experiment_id} {status}"
    with aws_errors("fis", "StopExperiment"):
        run.session.client("fis").stop_experiment(id=experiment_id)
    ended = await_experiment(run, experiment_id, 300.0)["state"]["status"]
    return f"experiment {experiment_id} stopped ({ended})"


def restore_fleet(
    bucket: str, key: str, commit: str, timeout: float = 900.0, configuration: Configuration = None
) -> str:
    """Rollback: unless the fleet is steady on ``commit``, ``opslib up`` and redeploy."""
    run = run_of(configuration)
    report = fleet.check_fleet(run.session, run.config, minutes=5)
    if not fleet_problems(report, run.config.fleet.size, commit):
        return f"the fleet is at size and serves {commit[:12]}"
    stack.apply(run.session, run.config)
    return redeploy(run, bucket, key, commit, timeout)


def delete_template(configuration: Configuration = None) -> str:
    """Rollback: remove the drill's experiment template (the experiment stays listed)."""
    run = run_of(configuration)
    template_id = str(run.state.get("template", ""))
    if not template_id:
        return "no template was created"
    try:
        with aws_errors("fis", "DeleteExperimentTemplate"):
            run.session.client("fis").delete_experiment_template(id=template_id)
    except AwsError as exc:
        if isinstance(exc, NotFoundError) or exc.code == "ResourceNotFoundException":
            return f"template {template_id} already gone"
        raise
    return f"deleted experiment template {template_id}"
