"""bad-release: a revision that passes the build but fails in production, caught and undone.

The bad revision is the fleet's current bundle with its server replaced by one that starts,
says it listens, and answers every request — ``/health`` too — with 503: a build's tests
would not see it (the build is the good one's), ValidateService does. It is deployed with
CreateDeployment straight to the stack's deployment group — never by committing to the
user's branch. CodeDeploy fails the deployment on the first host and its automatic
rollback (the group's ``autoRollbackConfiguration``, DEPLOYMENT_FAILURE) redeploys the
last good revision; the drill measures the time from the bad deployment to a fleet steady
on the good commit again.

Rollbacks, which always run: stop the drill's deployment if it still runs, redeploy the
good revision if the fleet does not serve it, delete the bad bundle.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime
from typing import Any

from opslib.drills.common import Configuration, deploy_bundle, fleet_problems, redeploy
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.drills.safety import Target
from opslib.exceptions import DrillRefused, ExecutionError
from opslib.ops import deployments, fleet, rollback
from opslib.target import aws_errors

BAD_SERVER = "app/src/server.js"
BAD_PREFIX = "drills/bad-release"
# Starts, logs the line ApplicationStart waits for, then fails every request: a revision
# that passes its build and fails in production.
BAD_SERVER_JS = """'use strict';
// opslib drill bad-release: this revision starts but answers every request with 503.
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'failing', reason: 'opslib drill bad-release' }));
});
server.listen(Number(process.env.PORT || 3000), process.env.HOST || '0.0.0.0', () => {
  process.stdout.write(JSON.stringify({ msg: 'listening', pid: process.pid }) + '\\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
"""


def broken_bundle(bundle: bytes, label: str) -> bytes:
    """The bundle with the failing server and ``release.json`` saying ``label`` (pure)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as old, zipfile.ZipFile(out, "w") as new:
        names = old.namelist()
        if BAD_SERVER not in names:
            raise ExecutionError(f"the bundle has no {BAD_SERVER}: not a sample-app bundle")
        for item in old.infolist():
            data = old.read(item)
            if item.filename == BAD_SERVER:
                data = BAD_SERVER_JS.encode()
            elif item.filename == rollback.RELEASE_FILE:
                release = json.loads(data)
                data = json.dumps({**release, "version": label}).encode()
            new.writestr(item, data)
    return out.getvalue()


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The good revision (the group's current, successful one) and where the bad one goes."""
    found = rollback.history(run.session, run.config, limit=5)
    current = found.current
    if current is None or current.status != "Succeeded":
        what = current.describe() + f" is {current.status}" if current else "nothing deployed"
        raise DrillRefused(
            f"bad-release needs a good release first ({what}): release the stack, then drill"
        )
    s3 = current.location.get("s3Location") or {}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    application, group = rollback.group_names(run.config)
    ctx = run.context
    return Preparation(
        targets=[
            Target("s3 bucket", str(s3.get("bucket", ""))),
            Target(
                "codedeploy application",
                application,
                ctx.arn("codedeploy", f"application:{application}"),
            ),  # fmt: skip
        ],
        values={
            "good_commit": current.commit,
            "good_version": current.version,
            "good_bucket": str(s3.get("bucket", "")),
            "good_key": str(s3.get("key", "")),
            "bad_key": f"{BAD_PREFIX}/{stamp}.zip",
            "deployment_group": group,
        },
        fault=(
            f"deploy a bad revision of {current.describe()} (its server answers 503) to "
            f"{application}/{group} with CreateDeployment"
        ),
    )


def deploy_bad_revision(
    bucket: str, good_key: str, bad_key: str, configuration: Configuration = None
) -> dict[str, Any]:
    """Upload the bad bundle and CreateDeployment it: the fault."""
    run = step_of(configuration)
    s3 = run.session.client("s3")
    with aws_errors("s3", "GetObject"):
        bundle = s3.get_object(Bucket=bucket, Key=good_key)["Body"].read()
    bad = broken_bundle(bundle, f"drill-bad-release-{bad_key.rsplit('/', 1)[-1][:-4]}")
    with aws_errors("s3", "PutObject"):
        s3.put_object(Bucket=bucket, Key=bad_key, Body=bad)
    deployment_id = deploy_bundle(
        run, bucket, bad_key, "opslib drill bad-release: a revision that fails ValidateService"
    )
    injected = datetime.now(UTC)
    run.state["bad_deployment"] = deployment_id
    run.say(f"injected: deployment {deployment_id} of the bad revision s3://{bucket}/{bad_key}")
    return {"deployment_id": deployment_id, "marks": {"injected": injected.isoformat()}}


def _iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else ""


def failure_time(targets: list[dict[str, Any]]) -> datetime | None:
    """When the first lifecycle event failed on any instance (BatchGetDeploymentTargets'
    ``lifecycleEvents[].endTime``): the moment the hook caught the bad revision (pure)."""
    ends = [
        event["endTime"]
        for target in targets
        for event in (target.get("instanceTarget") or {}).get("lifecycleEvents") or []
        if event.get("status") == "Failed" and isinstance(event.get("endTime"), datetime)
    ]
    return min(ends, default=None)


def _targets(run: DrillRun, deployment_id: str) -> list[dict[str, Any]]:
    client = run.session.client("codedeploy")
    with aws_errors("codedeploy", "ListDeploymentTargets"):
        ids = client.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    if not ids:
        return []
    with aws_errors("codedeploy", "BatchGetDeploymentTargets"):
        found = client.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=ids[: deployments.BATCH_LIMIT]
        )
    return list(found["deploymentTargets"])


def _rollback_id(run: DrillRun, failed: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        info = deployments.get_deployment(run.session, failed)
        found = str((info.get("rollbackInfo") or {}).get("rollbackDeploymentId") or "")
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)  # CodeDeploy creates the rollback right after the failure


def await_automatic_rollback(
    timeout: float = 900.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Wait for CodeDeploy to fail the bad deployment and roll back; report when each was."""
    run = step_of(configuration)
    failed_id = str(run.state.get("bad_deployment", ""))
    if not failed_id:
        raise ExecutionError("no bad deployment to watch: the fault did not run")
    view = deployments.wait_deployment(run.session, failed_id, timeout=timeout, poll=1.0)
    if view.succeeded:
        raise ExecutionError(f"the bad revision {failed_id} was not caught: it succeeded")
    info = deployments.get_deployment(run.session, failed_id)
    run.say(f"detected: {failed_id} {view.status}: {view.error}")
    rollback_id = _rollback_id(run, failed_id, 60.0)
    if not rollback_id:
        raise ExecutionError(f"CodeDeploy started no automatic rollback of {failed_id}")
    run.state["rollback_deployment"] = rollback_id
    restored = deployments.wait_deployment(run.session, rollback_id, timeout=timeout, poll=1.0)
    rolled = deployments.get_deployment(run.session, rollback_id)
    run.say(f"recovery: automatic rollback {rollback_id} {restored.status}")
    if not restored.succeeded:
        raise ExecutionError(
            f"automatic rollback {rollback_id} {restored.status}: {restored.error}"
        )
    return {
        "failed_deployment": failed_id,
        "error": view.error,
        "rollback_deployment": rollback_id,
        "marks": {
            "detected": _iso(failure_time(_targets(run, failed_id)) or info.get("completeTime")),
            "recovery_started": _iso(rolled.get("createTime")),
        },
    }


def stop_drill_deployment(configuration: Configuration = None) -> str:
    """Rollback: stop the bad deployment if it still runs (CodeDeploy then rolls it back)."""
    run = run_of(configuration)
    deployment_id = str(run.state.get("bad_deployment", ""))
    if not deployment_id:
        return "no drill deployment was created"
    view = deployments.describe_deployment(run.session, deployment_id)
    if view.done:
        return f"{deployment_id} already {view.status}"
    with aws_errors("codedeploy", "StopDeployment"):
        run.session.client("codedeploy").stop_deployment(
            deploymentId=deployment_id, autoRollbackEnabled=True
        )
    deployments.wait_deployment(run.session, deployment_id, timeout=300, poll=1.0)
    return f"stopped {deployment_id}"


def _in_progress(run: DrillRun) -> list[str]:
    ids = [run.state.get("bad_deployment"), run.state.get("rollback_deployment")]
    return [str(i) for i in ids if i and not deployments.describe_deployment(run.session, i).done]


def restore_release(
    bucket: str, key: str, commit: str, timeout: float = 900.0, configuration: Configuration = None
) -> str:
    """Rollback: redeploy the good revision unless the fleet already serves it, steady."""
    run = run_of(configuration)
    for deployment_id in _in_progress(run):  # the automatic rollback may still be running
        deployments.wait_deployment(run.session, deployment_id, timeout=timeout, poll=1.0)
    report = fleet.check_fleet(run.session, run.config, minutes=5)
    if not fleet_problems(report, run.config.fleet.size, commit):
        return f"the fleet already serves {commit[:12]}"
    return redeploy(run, bucket, key, commit, timeout)


def delete_bad_bundle(bucket: str, bad_key: str, configuration: Configuration = None) -> str:
    """Rollback: remove every version of the bad bundle from the artifact bucket."""
    run = run_of(configuration)
    s3 = run.session.client("s3")
    with aws_errors("s3", "ListObjectVersions"):
        listed = s3.list_object_versions(Bucket=bucket, Prefix=bad_key)
    versions = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in (listed.get("Versions") or []) + (listed.get("DeleteMarkers") or [])
        if v["Key"] == bad_key
    ]
    if not versions:
        return f"s3://{bucket}/{bad_key} was never written"
    with aws_errors("s3", "DeleteObjects"):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
    return f"deleted {len(versions)} version(s) of s3://{bucket}/{bad_key}"
