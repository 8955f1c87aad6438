"""What a build starts from and what it leaves: source, buildspec, environment, artifacts.

Mirrors CodeBuild: the source is an S3 zip (a pipeline's input artifact is one too) or
nothing (NO_SOURCE, with an inline buildspec); the buildspec is the project's inline one,
a path inside the source, or ``buildspec.yml``; environment variables come from the
project (PLAINTEXT or PARAMETER_STORE) over the buildspec's; artifacts are zipped to the
S3 location the project (or the StartBuild override) names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opslib.emulator.codebuild.artifacts import collect
from opslib.emulator.core.runtime import INTERNAL_CREDENTIALS, Runtime
from opslib.emulator.core.zips import extract_zip, write_zip
from opslib.exceptions import ExecutionError, SpecError
from opslib.specs import Artifacts, Buildspec, load_buildspec

DEFAULT_BUILDSPEC = "buildspec.yml"


@dataclass
class BuildInputs:
    """Everything DOWNLOAD_SOURCE prepared for the buildspec's phases."""

    source_dir: Path
    buildspec: Buildspec
    env: dict[str, str]
    resolved_version: str


def prepare_inputs(
    runtime: Runtime, region: str, document: dict[str, Any], work: Path
) -> BuildInputs:
    """Fetch and unpack the source, load the buildspec, resolve the environment."""
    source = document["source"]
    source_dir = work / "src"
    source_dir.mkdir(parents=True, exist_ok=True)
    resolved = _fetch_source(
        runtime, region, source, document.get("sourceVersion"), work, source_dir
    )
    buildspec = _load_buildspec(source.get("buildspec"), source_dir)
    env = _parameter_store(runtime, region, buildspec.env.parameter_store)
    env.update(
        _project_variables(runtime, region, document["environment"].get("environmentVariables", []))
    )
    env.update(_codebuild_variables(runtime, region, document))
    return BuildInputs(source_dir, buildspec, env, resolved)


def _fetch_source(
    runtime: Runtime,
    region: str,
    source: dict[str, Any],
    version: str | None,
    work: Path,
    dest: Path,
) -> str:
    kind = source.get("type")
    if kind == "NO_SOURCE":
        return version or ""
    if kind != "S3":
        raise ExecutionError(
            f"source type {kind} is not fetched by the emulator: use an S3 zip "
            "(a pipeline's source artifact is one) or NO_SOURCE with an inline buildspec"
        )
    bucket, _, key = str(source.get("location", "")).partition("/")
    if not bucket or not key:
        raise ExecutionError(f"source location {source.get('location')!r} is not BUCKET/KEY")
    kwargs = {"Bucket": bucket, "Key": key}
    s3 = runtime.client("s3", region)
    try:
        response = s3.get_object(**kwargs)
    except Exception as exc:
        raise ExecutionError(f"cannot download source s3://{bucket}/{key}: {exc}") from exc
    archive = work / "source.zip"
    archive.write_bytes(response["Body"].read())
    extract_zip(archive, dest)
    archive.unlink()
    if version:
        return version
    version_id = response.get("VersionId")
    return str(
        version_id if version_id and version_id != "null" else response.get("ETag", "")
    ).strip('"')


def _load_buildspec(declared: str | None, source_dir: Path) -> Buildspec:
    inline = bool(declared) and (
        "\n" in str(declared) or not str(declared).endswith((".yml", ".yaml"))
    )
    path = source_dir / (DEFAULT_BUILDSPEC if inline or not declared else str(declared))
    if not inline and not path.exists():
        raise ExecutionError(
            f"YAML_FILE_ERROR: buildspec {path.name} not found in the source", "YAML_FILE_ERROR"
        )
    try:
        return load_buildspec(path, text=str(declared) if inline else None, check_paths=False)
    except SpecError as exc:
        raise ExecutionError(str(exc), "YAML_FILE_ERROR") from exc


def _ssm_value(runtime: Runtime, region: str, name: str) -> str:
    try:
        response = runtime.client("ssm", region).get_parameter(Name=name, WithDecryption=True)
    except Exception as exc:
        raise ExecutionError(f"parameter {name} cannot be read: {exc}") from exc
    return str(response["Parameter"]["Value"])


def _parameter_store(runtime: Runtime, region: str, names: dict[str, str]) -> dict[str, str]:
    return {var: _ssm_value(runtime, region, name) for var, name in names.items()}


def _project_variables(
    runtime: Runtime, region: str, variables: list[dict[str, str]]
) -> dict[str, str]:
    env = {}
    for variable in variables:
        kind = variable.get("type", "PLAINTEXT")
        if kind == "PLAINTEXT":
            env[variable["name"]] = variable["value"]
        elif kind == "PARAMETER_STORE":
            env[variable["name"]] = _ssm_value(runtime, region, variable["value"])
        else:
            raise ExecutionError(
                f"environment variable {variable['name']}: type {kind} is not supported "
                "by the emulator (use PLAINTEXT or PARAMETER_STORE)"
            )
    return env


def _codebuild_variables(runtime: Runtime, region: str, document: dict[str, Any]) -> dict[str, str]:
    """The CODEBUILD_* variables, plus credentials that make ``aws`` in a build hit the emulator."""
    return {
        "CODEBUILD_BUILD_ID": document["id"],
        "CODEBUILD_BUILD_ARN": document["arn"],
        "CODEBUILD_BUILD_NUMBER": str(document["buildNumber"]),
        "CODEBUILD_SOURCE_VERSION": document.get("sourceVersion") or "",
        "CODEBUILD_START_TIME": str(int(document["startTime"] * 1000)),
        "CODEBUILD_INITIATOR": document.get("initiator", ""),
        "CODEBUILD_BUILD_IMAGE": document["environment"].get("image", ""),
        "CODEBUILD_LOG_PATH": document["logs"]["streamName"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": runtime.endpoint,
        "AWS_ACCESS_KEY_ID": INTERNAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": INTERNAL_CREDENTIALS["aws_secret_access_key"],
    }


def upload_artifacts(
    runtime: Runtime, region: str, document: dict[str, Any], inputs: BuildInputs
) -> list[tuple[str, str]]:
    """Zip the buildspec's artifacts to the S3 locations the build names; returns ARNs."""
    spec = inputs.buildspec.artifacts
    uploaded = []
    primary = document.get("artifacts") or {}
    if spec is not None and primary.get("type", "NO_ARTIFACTS") != "NO_ARTIFACTS":
        uploaded.append(("primary", _upload_one(runtime, region, document, primary, spec, inputs)))
    for config in document.get("secondaryArtifacts") or []:
        identifier = config.get("artifactIdentifier", "")
        if spec is not None and identifier in spec.secondary:
            secondary = spec.secondary[identifier]
            uploaded.append(
                (identifier, _upload_one(runtime, region, document, config, secondary, inputs))
            )
    return uploaded


def _upload_one(
    runtime: Runtime,
    region: str,
    document: dict[str, Any],
    config: dict[str, Any],
    spec: Artifacts,
    inputs: BuildInputs,
) -> str:
    bucket = config.get("location")
    if not bucket:
        raise ExecutionError("the artifacts have no S3 location (project or artifactsOverride)")
    name = (
        (spec.name if config.get("overrideArtifactName") and spec.name else None)
        or config.get("name")
        or document["projectName"]
    )
    parts = [config.get("path") or ""]
    if config.get("namespaceType") == "BUILD_ID":
        parts.append(document["id"].split(":")[-1])
    key = "/".join(p.strip("/") for p in [*parts, name] if p)
    entries = collect(inputs.source_dir, spec)
    s3 = runtime.client("s3", region)
    if config.get("packaging", "NONE") == "ZIP" or config.get("type") == "CODEPIPELINE":
        archive = inputs.source_dir.parent / f"artifact-{abs(hash(key))}.zip"
        write_zip(entries, archive)
        with open(archive, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        archive.unlink()
    else:
        for path, arcname in entries:
            with open(path, "rb") as body:
                s3.put_object(Bucket=bucket, Key=f"{key}/{arcname}", Body=body)
    return f"arn:aws:s3:::{bucket}/{key}"
