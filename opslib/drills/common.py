"""What several drills share: the providers' configuration type, the fleet's steady-state
test, an object's presence in S3, and a redeploy of a good bundle."""

from __future__ import annotations

from typing import Any

from opslib.config import StackConfig
from opslib.drills.context import DrillRun
from opslib.exceptions import AwsError, ExecutionError, NotFoundError
from opslib.ops import deployments, fleet, rollback
from opslib.ops.fleet import FleetReport
from opslib.target import Session, aws_errors

Configuration = dict[str, Any] | None  # what chaoslib passes a provider that asks for it


def fleet_problems(report: FleetReport, size: int, commit: str = "") -> list[str]:
    """Why the fleet is not steady: not at ``size``, an instance not healthy on ``commit``."""
    problems = []
    if len(report.instances) != size:
        problems.append(f"{len(report.instances)} instance(s), the config says {size}")
    for instance in fleet.serves(report, commit=commit):
        served = instance.commit[:12] or instance.version or "nothing"
        problems.append(
            f"{instance.name or instance.instance_id}: {instance.state}, {instance.health}, "
            f"serving {served}"
        )
    return problems


MISSING_CODES = ("404", "NoSuchKey", "NotFound")  # HeadObject has no body: its code is "404"


def present(run: DrillRun, bucket: str, key: str) -> bool:
    """Whether the object's current version exists (HeadObject; a delete marker is 404)."""
    try:
        with aws_errors("s3", "HeadObject"):
            run.session.client("s3").head_object(Bucket=bucket, Key=key)
    except AwsError as exc:
        if isinstance(exc, NotFoundError) or exc.code in MISSING_CODES:
            return False
        raise
    return True


def deploy_bundle(run: DrillRun, bucket: str, key: str, description: str) -> str:
    """CreateDeployment of an S3 zip bundle to the stack's deployment group; its id."""
    application, group = rollback.group_names(run.config)
    with aws_errors("codedeploy", "CreateDeployment"):
        deployment_id: str = run.session.client("codedeploy").create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision={"revisionType": "S3",
                      "s3Location": {"bucket": bucket, "key": key, "bundleType": "zip"}},
            description=description,
        )["deploymentId"]  # fmt: skip
    return deployment_id


def redeploy(run: DrillRun, bucket: str, key: str, commit: str, timeout: float) -> str:
    """CreateDeployment of a good bundle to the stack's group, waited for and verified."""
    deployment_id = deploy_bundle(run, bucket, key, f"opslib drill: restore {commit[:12]}")
    view = deployments.wait_deployment(run.session, deployment_id, timeout=timeout, poll=1.0)
    if not view.succeeded:
        raise ExecutionError(f"restore deployment {deployment_id} {view.status}: {view.error}")
    fleet.verify(run.session, run.config, commit=commit, timeout=120)
    run.say(f"restored {commit[:12]} with deployment {deployment_id}")
    return f"redeployed {commit[:12]} ({deployment_id})"


def require_serving(
    session: Session, config: StackConfig, commit: str, timeout: float, where: str
) -> FleetReport:
    """``config``'s fleet at its size, every instance healthy on ``commit``; else the problems."""
    report = fleet.verify(session, config, commit=commit, timeout=timeout)
    problems = fleet_problems(report, config.fleet.size, commit)
    if problems:
        raise ExecutionError(f"{where} not serving: " + "; ".join(problems))
    return report
