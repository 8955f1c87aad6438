"""region-failure: the primary region goes dark; the stack is stood up in the DR region.

Locally the emulator's fault switch (:func:`opslib.emulator.inject_fault`, emulator-only,
not an AWS API) makes every request to the primary region answer ServiceUnavailable; the
drill proves it with a call that fails. On AWS nothing is injected — no API can take a
region down — and the drill says so: the outage is declared, not caused, and the rest of
the drill (standing up the DR twin, releasing there) is as real as locally.

Before the outage the last good artifact is read from the primary's artifact bucket (what
S3 cross-region replication would have copied ahead of time); after it, a twin of the stack
(``<stack>-dr``, :mod:`opslib.drills.twins`) is built in ``drills.dr_region``, the artifact
copied into its bucket and released there through CodeDeploy; RTO is the outage's start to
the DR fleet serving the good commit. The method ends by restoring the primary region
(failback), so the steady state after is production's again. Rollbacks, which always run,
clear the drill's fault and remove the DR twin unless ``keep=True``.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from opslib import emulator
from opslib.config import StackConfig
from opslib.drills import twins
from opslib.drills.common import Configuration, require_serving
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.drills.safety import Target
from opslib.exceptions import AwsError, DrillRefused, ExecutionError
from opslib.ops import deployments, rollback
from opslib.stack.context import Names
from opslib.target import Session, aws_errors

DR_KEY_PREFIX = "drills/region-failure"
ON_AWS = (
    "on AWS nothing is injected: no AWS API takes a region down, so the primary region stays "
    "up and the outage is declared, not caused; the DR twin and its release are real"
)


def _twin(run: DrillRun) -> StackConfig:
    return twins.twin_config(run.config, twins.DR_SUFFIX, region=run.config.dr_region())


def _dr_session(run: DrillRun) -> Session:
    return twins.session_in(run.session, run.config.dr_region())


def flag(value: Any) -> bool:
    """A ``keep`` value from a parameter or an experiment argument: bool or its text (pure)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", ""):
        raise DrillRefused(f"keep: expected true or false, got {value!r}")
    return text == "true"


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The good revision's artifact, the DR region and twin; refused if the twin is taken."""
    current = rollback.history(run.session, run.config, limit=5).current
    if current is None or current.status != "Succeeded" or not current.commit:
        raise DrillRefused("region-failure needs a good release first: release, then drill")
    twin = _twin(run)
    twins.require_twin(run.config, twin)
    twins.require_free(_dr_session(run), twin)
    s3 = current.location.get("s3Location") or {}
    local = run.session.target.is_local
    keep = flag(params.get("keep", False))
    how = ("the emulator's fault switch answers ServiceUnavailable to every request to "
           f"{run.config.region}" if local else ON_AWS)  # fmt: skip
    return Preparation(
        targets=[Target("s3 bucket", str(s3.get("bucket", "")))],
        values={
            "good_commit": current.commit,
            "good_bucket": str(s3.get("bucket", "")),
            "good_key": str(s3.get("key", "")),
            "primary_region": run.config.region,
            "dr_region": twin.region,
            "twin": twin.stack,
            "dr_bucket": Names(twin.stack, run.context.account, twin.region).bucket,
            "keep": "true" if keep else "false",
        },
        fault=f"region {run.config.region} unavailable: {how}",
        notes=[
            f"recovery: stack {twin.stack} built in {twin.region} from the same config, "
            f"{current.describe()}'s artifact copied there and deployed",
            "rollbacks: the fault cleared, "
            + (f"{twin.stack} kept (keep=True)" if keep else f"{twin.stack} torn down"),
        ],
    )


def take_artifact(bucket: str, key: str, configuration: Configuration = None) -> dict[str, Any]:
    """Before the outage: the last good artifact, as cross-region replication would hold it."""
    run = step_of(configuration)
    with aws_errors("s3", "GetObject"):
        body = run.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    run.state["artifact"] = body
    digest = hashlib.sha256(body).hexdigest()
    run.say(f"took s3://{bucket}/{key} ({len(body)} bytes) for the DR region")
    return {"bytes": len(body), "sha256": digest}


def fail_region(
    region: str, duration_minutes: int = 120, configuration: Configuration = None
) -> dict[str, Any]:
    """The fault: locally the whole region answers ServiceUnavailable; on AWS, declared."""
    run = step_of(configuration)
    now = datetime.now(UTC)
    if not run.session.target.is_local:
        run.say(f"injected (declared): {ON_AWS}")
        return {"simulated": True, "notice": ON_AWS, "marks": {"injected": now.isoformat()}}
    # A duration bounds it, so even a drill killed before its rollbacks frees the region.
    fault = emulator.inject_fault(
        _endpoint(run), region=region, error="ServiceUnavailable", rate=1.0,
        duration=f"{int(duration_minutes)}m",
    )  # fmt: skip
    run.state["fault"] = fault.id
    run.say(f"injected: every request to {region} answers ServiceUnavailable ({fault.id}; "
            "the emulator's fault switch, not an AWS API)")  # fmt: skip
    return {"simulated": False, "fault_id": fault.id, "marks": {"injected": now.isoformat()}}


def _endpoint(run: DrillRun) -> str:
    endpoint = run.session.target.endpoint_url
    if not endpoint:
        raise ExecutionError("the local target has no emulator endpoint")
    return endpoint


def _primary_answers(run: DrillRun) -> str:
    """'' when the primary region answers EC2, else its error code."""
    try:
        with aws_errors("ec2", "DescribeInstances"):
            run.session.client("ec2").describe_instances(MaxResults=5)
    except AwsError as exc:
        return exc.code or str(exc)
    return ""


def detect_outage(configuration: Configuration = None) -> dict[str, Any]:
    """Detection: a call to the primary region fails (locally); on AWS, declared."""
    run = step_of(configuration)
    if not run.session.target.is_local:
        return {"simulated": True, "marks": {"detected": datetime.now(UTC).isoformat()}}
    error = _primary_answers(run)
    if not error:
        raise ExecutionError(f"{run.config.region} still answers: the outage did not take")
    run.say(f"detected: {run.config.region} answers {error}")
    return {"error": error, "marks": {"detected": datetime.now(UTC).isoformat()}}


def stand_up_dr(configuration: Configuration = None) -> dict[str, Any]:
    """Recovery: ``opslib up`` of the twin in the DR region, from nothing."""
    run = step_of(configuration)
    twin = _twin(run)
    started = datetime.now(UTC)
    run.state["twin_built"] = True
    result = twins.build(_dr_session(run), run.config, twin)
    run.say(f"recovery: built {twin.stack} in {twin.region}: {result.counts()}")
    return {"changes": result.counts(), "seconds": round(result.seconds, 1),
            "marks": {"recovery_started": started.isoformat()}}  # fmt: skip


def release_in_dr(
    bucket: str, key: str, commit: str, timeout: float = 900.0,
    configuration: Configuration = None,
) -> dict[str, Any]:  # fmt: skip
    """The artifact copied into the twin's bucket and deployed to the twin's fleet."""
    run = step_of(configuration)
    body = run.state.get("artifact")
    if not isinstance(body, bytes):
        raise ExecutionError("no artifact was taken before the outage")
    twin, session = _twin(run), _dr_session(run)
    dr_key = f"{DR_KEY_PREFIX}/{key.rsplit('/', 1)[-1]}"
    with aws_errors("s3", "PutObject"):
        session.client("s3").put_object(Bucket=bucket, Key=dr_key, Body=body)
    application, group = rollback.group_names(twin)
    with aws_errors("codedeploy", "CreateDeployment"):
        deployment_id = session.client("codedeploy").create_deployment(
            applicationName=application, deploymentGroupName=group,
            revision={"revisionType": "S3",
                      "s3Location": {"bucket": bucket, "key": dr_key, "bundleType": "zip"}},
            description=f"opslib drill region-failure: {commit[:12]} in {twin.region}",
        )["deploymentId"]  # fmt: skip
    view = deployments.wait_deployment(session, deployment_id, timeout=timeout, poll=1.0)
    if not view.succeeded:
        raise ExecutionError(f"DR deployment {deployment_id} {view.status}: {view.error}")
    run.say(f"released {commit[:12]} in {twin.region} with deployment {deployment_id}")
    return {"bucket": bucket, "key": dr_key, "deployment_id": deployment_id}


def await_dr_serving(
    commit: str, timeout: float = 300.0, configuration: Configuration = None
) -> dict[str, Any]:
    """The DR fleet at its size, every instance healthy on the commit: service restored."""
    run = step_of(configuration)
    twin = _twin(run)
    where = f"{twin.stack} in {twin.region}"
    report = require_serving(_dr_session(run), twin, commit, timeout, where)
    run.say(f"{twin.stack} serves {commit[:12]} in {twin.region}")
    return {"instances": len(report.instances), "region": twin.region}


def _clear(run: DrillRun) -> list[str]:
    fault_id = str(run.state.get("fault", ""))
    if not fault_id or not run.session.target.is_local:
        return []
    cleared = emulator.clear_faults(_endpoint(run), fault_id)
    run.state.pop("fault", None)
    return [f.id for f in cleared]


def restore_region(timeout: float = 60.0, configuration: Configuration = None) -> str:
    """Failback: the drill's fault cleared and the primary region answering again."""
    run = step_of(configuration)
    if not run.session.target.is_local:
        return f"nothing to restore: {ON_AWS}"
    cleared = _clear(run)
    deadline = time.monotonic() + timeout
    while error := _primary_answers(run):
        if time.monotonic() >= deadline:
            raise ExecutionError(f"{run.config.region} still answers {error} after the clear")
        time.sleep(0.5)  # the switch takes effect on the next request; no push
    run.say(f"{run.config.region} answers again")
    return f"cleared {', '.join(cleared) or 'nothing'}; {run.config.region} answers"


def clear_region_fault(configuration: Configuration = None) -> str:
    """Rollback: the drill's fault removed, if it is still there."""
    run = run_of(configuration)
    if not run.session.target.is_local:
        return "nothing was injected on AWS"
    cleared = _clear(run)
    return f"cleared {', '.join(cleared)}" if cleared else "no fault of this drill left"


def remove_dr_twin(keep: str = "false", configuration: Configuration = None) -> str:
    """Rollback: ``opslib down`` of the DR twin, unless ``keep``."""
    run = run_of(configuration)
    twin = _twin(run)
    session = _dr_session(run)
    if flag(keep):
        return f"kept {twin.stack} in {twin.region} (keep=True)"
    if not run.state.get("twin_built") and not twins.existing(session, twin):
        return f"{twin.stack} was never built"
    result = twins.tear_down(session, run.config, twin)
    if result.leftovers:
        raise ExecutionError(f"{twin.stack} torn down, but still tagged: "
                             + ", ".join(result.leftovers[:5]))  # fmt: skip
    return f"tore down {twin.stack} in {twin.region}: {len(result.changes)} resource(s)"
