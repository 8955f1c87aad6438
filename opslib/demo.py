"""``make demo``: the main job on the embedded default target, step by step.

1. lint buildspec.yml and appspec.yml;
2. start the local emulator;
3. upload this repository's working tree and build it with CodeBuild — the real
   buildspec, so npm ci, eslint and jest really run;
4. show the build's phases, test report and coverage from the CodeBuild API;
5. take the deploy bundle the build put in S3, start the app from it and show it
   answering on /health.

Until ``opslib up`` provisions the whole stack, the demo creates the few resources a
build needs (bucket, role, project) itself, idempotently.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from opslib import builds
from opslib.config import StackConfig, load_config
from opslib.exceptions import ExecutionError, OpslibError
from opslib.specs import Severity, lint_path
from opslib.target import Session, aws_errors, connect

REPO = Path(__file__).resolve().parent.parent
CODEBUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def say(text: str) -> None:
    print(text, flush=True)


def step(number: int, text: str) -> None:
    say(f"\n== {number}. {text}")


def lint_specs() -> None:
    findings = lint_path(REPO)
    for finding in findings:
        say(f"   {finding}")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    if errors:
        raise ExecutionError(f"{errors} error(s) in the specs; fix them first")
    say(f"   buildspec.yml and appspec.yml: no errors ({len(findings)} warning(s))")


def ensure_build_project(session: Session, config: StackConfig, bucket: str) -> str:
    """Bucket, CodeBuild role and project for the demo build (created once)."""
    s3, iam, codebuild = (session.client(s) for s in ("s3", "iam", "codebuild"))
    with aws_errors("s3", "CreateBucket"):
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
    role = f"{config.stack}-codebuild"
    with aws_errors("iam", "CreateRole"):
        try:
            arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            arn = iam.create_role(
                RoleName=role, AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST)
            )["Role"]["Arn"]
    project = f"{config.stack}-build"
    with aws_errors("codebuild", "CreateProject"):
        if not codebuild.batch_get_projects(names=[project])["projects"]:
            codebuild.create_project(
                name=project,
                source={"type": "S3", "location": f"{bucket}/source/source.zip"},
                artifacts={
                    "type": "S3",
                    "location": bucket,
                    "path": "builds",
                    "namespaceType": "BUILD_ID",
                    "packaging": "ZIP",
                    "name": "bundle.zip",
                },
                environment={
                    "type": "LINUX_CONTAINER",
                    "image": "aws/codebuild/standard:7.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                serviceRole=arn,
                timeoutInMinutes=30,
            )
    return project


def build(session: Session, config: StackConfig) -> builds.BuildView:
    bucket = f"{config.stack}-artifacts"
    project = ensure_build_project(session, config, bucket)
    source = builds.package_source(REPO)
    with aws_errors("s3", "PutObject"):
        session.client("s3").put_object(Bucket=bucket, Key="source/source.zip", Body=source)
    say(
        f"   uploaded the working tree ({len(source) / 1024:.0f} KiB) to s3://{bucket}/source/source.zip"
    )
    build_id = builds.start_build(session, project)
    say(f"   build {build_id} started; phases as they finish:")
    view = builds.follow_build(session, build_id, on_phase=_print_phase)
    say(f"   build {view.status}; log: {view.log_group} / {view.log_stream}")
    if view.status != "SUCCEEDED":
        tail = list(builds.log_events(session, view.log_group, view.log_stream))[-25:]
        raise ExecutionError("the build failed; last log lines:\n" + "\n".join(tail))
    return view


def _print_phase(phase: dict[str, Any]) -> None:
    duration = (phase["endTime"] - phase["startTime"]).total_seconds()
    status = phase.get("phaseStatus", "")
    say(f"     {phase['phaseType']:<17} {status:<10} {duration:6.1f}s")


def show_reports(session: Session, view: builds.BuildView) -> None:
    for report in builds.test_summaries(session, view.report_arns):
        if "testSummary" in report:
            summary = report["testSummary"]
            counts = ", ".join(
                f"{k.lower()} {v}" for k, v in sorted(summary["statusCounts"].items())
            )
            say(f"   tests ({report['name']}): {summary['total']} total — {counts}")
        if "codeCoverageSummary" in report:
            cov = report["codeCoverageSummary"]
            say(
                f"   coverage ({report['name']}): lines {cov.get('lineCoveragePercentage', 0):.1f}%"
            )


def run_bundle(session: Session, view: builds.BuildView) -> None:
    if not view.artifact:
        raise ExecutionError("the build produced no artifact")
    bucket, key = view.artifact.removeprefix("arn:aws:s3:::").split("/", 1)
    with aws_errors("s3", "GetObject"):
        data = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    say(f"   bundle s3://{bucket}/{key}: {len(data) / 1024:.0f} KiB")
    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(io.BytesIO(data)).extractall(tmp)
        _serve_once(Path(tmp) / "app")


def _serve_once(app: Path) -> None:
    env = {**os.environ, "PORT": "0", "HOST": "127.0.0.1"}
    server = subprocess.Popen(
        ["node", "src/server.js"], cwd=app, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = _listening_port(server.stdout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            body = response.read().decode()
            say(f"   GET http://127.0.0.1:{port}/health -> {response.status} {body}")
    finally:
        server.send_signal(signal.SIGTERM)
        say(f"   app stopped on SIGTERM (exit {server.wait(timeout=15)})")


def _listening_port(stream: Any) -> int:
    deadline = time.monotonic() + 15
    for line in stream:
        entry = json.loads(line) if line.startswith("{") else {}
        if "port" in entry:
            return int(entry["port"])
        if time.monotonic() > deadline:
            break
    raise ExecutionError("the app did not report a listening port")


def main() -> None:
    config = load_config()
    step(1, "Lint the build and deploy specs")
    lint_specs()
    step(2, "Start the local emulator (on demand, as every command on the local target does)")
    session = connect(config)
    endpoint = session.target.endpoint_url
    say(f"   emulator at {endpoint} (state {config.state_dir()})")
    step(3, "Build this repository with CodeBuild (buildspec.yml: npm ci, eslint, jest, bundle)")
    view = build(session, config)
    step(4, "Test report and coverage, from the CodeBuild reports API")
    show_reports(session, view)
    step(5, "Run the built bundle and ask it how it is")
    run_bundle(session, view)
    say(f"\nDone. The emulator keeps running at {endpoint}:")
    say(f"   AWS_ENDPOINT_URL={endpoint} aws codebuild batch-get-builds --ids {view.build_id}")
    say("   opslib emulator status | logs | stop")


if __name__ == "__main__":
    try:
        main()
    except OpslibError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
