"""artifact-loss: the newest build artifact is deleted, then restored from S3 versioning.

The artifact bucket is versioned (the stack makes it so), so a DeleteObject without a
version id does not destroy the bytes: it puts a delete marker on top ("the current
version"), and every GET answers 404. Recovery removes the delete marker — the way S3's
documentation gives to undelete an object — so the previous version, with its very version
id and ETag, is current again. The drill proves it: the restored object's ETag and SHA-256
equal what was there before, its ``appspec.yml`` is there, and CodeDeploy deploys it.

RPO is what could not be restored: nothing when the old version came back byte for byte;
otherwise the artifact is lost, and the work lost is the time between it and the newest
artifact still present.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

from opslib.drills.common import Configuration, present, redeploy
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.drills.safety import Target
from opslib.exceptions import DrillRefused, ExecutionError, SpecError
from opslib.ops import pipeline, rollback
from opslib.specs.loading import load_appspec
from opslib.target import aws_errors

BUILD_ARTIFACT = "BuildArtifact"
APPSPEC = "appspec.yml"


def artifact_prefix(stack: str) -> str:
    """Where CodePipeline keeps the build artifacts: ``<pipeline[:20]>/<artifact[:20]>/``."""
    return f"{pipeline.pipeline_name(stack)[:20]}/{BUILD_ARTIFACT[:20]}/"


def newest(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recently written object of a listing (pure)."""
    return max(objects, key=lambda o: o["LastModified"], default=None)


def _listed(run: DrillRun, bucket: str, prefix: str) -> list[dict[str, Any]]:
    s3 = run.session.client("s3")
    found: list[dict[str, Any]] = []
    with aws_errors("s3", "ListObjectsV2"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += page.get("Contents") or []
    return found


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The newest build artifact of the stack's pipeline, and the release the fleet runs."""
    bucket = run.context.names.bucket
    prefix = artifact_prefix(run.config.stack)
    latest = newest(_listed(run, bucket, prefix))
    if latest is None:
        raise DrillRefused(f"s3://{bucket}/{prefix} holds no build artifact: release first")
    versioning = run.session.client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    if versioning != "Enabled":
        raise DrillRefused(f"s3 bucket {bucket}: versioning is {versioning or 'off'}; "
                           "run 'opslib up' so the stack versions its artifacts")  # fmt: skip
    current = rollback.history(run.session, run.config, limit=3).current
    return Preparation(
        targets=[Target("s3 bucket", bucket)],
        values={
            "bucket": bucket,
            "key": str(latest["Key"]),
            "good_commit": current.commit if current else "",
        },  # fmt: skip
        fault=f"delete the current version of the newest build artifact s3://{bucket}/"
        f"{latest['Key']} (written {latest['LastModified']:%Y-%m-%d %H:%M:%S} UTC)",
    )


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _get(run: DrillRun, bucket: str, key: str) -> dict[str, Any]:
    with aws_errors("s3", "GetObject"):
        found = run.session.client("s3").get_object(Bucket=bucket, Key=key)
    body = found["Body"].read()
    return {"version_id": found.get("VersionId"), "etag": found.get("ETag", ""),
            "sha256": _fingerprint(body), "bytes": len(body),
            "last_modified": found["LastModified"], "body": body}  # fmt: skip


def delete_artifact(bucket: str, key: str, configuration: Configuration = None) -> dict[str, Any]:
    """The fault: DeleteObject without a version id (a delete marker becomes current)."""
    run = step_of(configuration)
    before = _get(run, bucket, key)
    run.state["before"] = {k: v for k, v in before.items() if k != "body"}
    with aws_errors("s3", "DeleteObject"):
        deleted = run.session.client("s3").delete_object(Bucket=bucket, Key=key)
    injected = datetime.now(UTC)
    run.say(f"injected: deleted s3://{bucket}/{key} (delete marker {deleted.get('VersionId')})")
    return {
        "deleted_version": before["version_id"],
        "etag": before["etag"],
        "sha256": before["sha256"],
        "delete_marker": deleted.get("VersionId"),
        "marks": {"injected": injected.isoformat()},
    }


def detect_missing(bucket: str, key: str, configuration: Configuration = None) -> dict[str, Any]:
    """Detection: a GET of the artifact answers 404 (what a deployment of it would meet)."""
    run = step_of(configuration)
    if not present(run, bucket, key):
        run.say(f"detected: s3://{bucket}/{key} answers 404")
        return {"missing": True, "marks": {"detected": datetime.now(UTC).isoformat()}}
    raise ExecutionError(f"s3://{bucket}/{key} is still there: the deletion did not take")


def _versions(run: DrillRun, bucket: str, key: str) -> tuple[list[dict[str, Any]], ...]:
    with aws_errors("s3", "ListObjectVersions"):
        listed = run.session.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    versions = [v for v in listed.get("Versions") or [] if v["Key"] == key]
    markers = [m for m in listed.get("DeleteMarkers") or [] if m["Key"] == key]
    return versions, markers


def undelete(run: DrillRun, bucket: str, key: str) -> list[str]:
    """Remove the delete markers above the newest version; the marker ids removed."""
    versions, markers = _versions(run, bucket, key)
    latest_version = max((v["LastModified"] for v in versions), default=None)
    removed = []
    for marker in markers:
        if latest_version is None or marker["LastModified"] >= latest_version:
            with aws_errors("s3", "DeleteObject"):
                run.session.client("s3").delete_object(
                    Bucket=bucket, Key=key, VersionId=marker["VersionId"]
                )
            removed.append(str(marker["VersionId"]))
    return removed


def restore_artifact(bucket: str, key: str, configuration: Configuration = None) -> dict[str, Any]:
    """Recovery: remove the delete marker, so the previous version is current again."""
    run = step_of(configuration)
    started = datetime.now(UTC)
    removed = undelete(run, bucket, key)
    run.say(f"recovery: removed delete marker(s) {', '.join(removed) or 'none'}")
    return {"removed_markers": removed, "marks": {"recovery_started": started.isoformat()}}


def _appspec_problem(body: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as bundle:
            text = bundle.read(APPSPEC).decode()
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        return f"not a deployable bundle: {exc}"
    try:
        load_appspec(APPSPEC, text=text, check_paths=False)
    except SpecError as exc:
        return str(exc)
    return ""


def compare(before: dict[str, Any], after: dict[str, Any] | None) -> list[str]:
    """How the restored artifact differs from what was deleted ([] when identical; pure)."""
    if after is None:
        return ["the artifact is still missing"]
    return [
        f"{field}: {before.get(field)} before, {after.get(field)} after"
        for field in ("version_id", "etag", "sha256", "bytes")
        if before.get(field) != after.get(field)
    ]


def recovery_point(
    before: dict[str, Any], differences: list[str], newest_left: datetime | None
) -> dict[str, Any]:
    """RPO: nothing lost when identical; else the artifact, and the work since the newest
    artifact still present (pure)."""
    if not differences:
        return {"rpo_seconds": 0.0, "data_lost": []}
    written = before["last_modified"]
    seconds = (written - newest_left).total_seconds() if newest_left else float("inf")
    return {"rpo_seconds": max(0.0, seconds), "data_lost": [before.get("key", "artifact")]}


def prove_restored(
    bucket: str, key: str, commit: str = "", timeout: float = 900.0,
    configuration: Configuration = None,
) -> dict[str, Any]:  # fmt: skip
    """Byte-identical (version id, ETag, SHA-256) and deployable (CodeDeploy deploys it)."""
    run = step_of(configuration)
    before = dict(run.state.get("before") or {})
    after = _get(run, bucket, key) if present(run, bucket, key) else None
    differences = compare(before, after)
    others = [o for o in _listed(run, bucket, artifact_prefix(run.config.stack)) if o["Key"] != key]
    left = newest(others)
    point = recovery_point(
        {**before, "key": key}, differences, left["LastModified"] if left else None
    )
    if after is None or differences:
        return {"identical": False, "differences": differences, "rpo": point}
    problem = _appspec_problem(after["body"])
    if problem:
        raise ExecutionError(f"restored s3://{bucket}/{key} is not deployable: {problem}")
    deployed = redeploy(run, bucket, key, commit, timeout)
    run.say(f"restored s3://{bucket}/{key} byte-identical; {deployed}")
    return {"identical": True, "etag": after["etag"], "sha256": after["sha256"],
            "deployed": deployed, "rpo": point}  # fmt: skip


def ensure_artifact(bucket: str, key: str, configuration: Configuration = None) -> str:
    """Rollback: if the artifact is still missing, remove its delete markers."""
    run = run_of(configuration)
    if present(run, bucket, key):
        return f"s3://{bucket}/{key} is present"
    removed = undelete(run, bucket, key)
    if not present(run, bucket, key):
        raise ExecutionError(f"s3://{bucket}/{key} is still missing: no version to restore")
    return f"s3://{bucket}/{key}: removed delete marker(s) {', '.join(removed) or 'none'}"
