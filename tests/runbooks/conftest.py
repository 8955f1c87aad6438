"""Runbooks tier: ONE fresh emulator and ONE provisioned stack for the whole session.

The stack is what a user has after ``opslib up`` and a first release, built the same way:

1. a clone of this repository (its committed HEAD) stands in for GitHub, so a test may
   commit to it without touching the working tree;
2. an emulator on an ephemeral port with a temp state dir (pipelines do not start on
   creation and the source is not polled, so every pipeline run is one the tests asked for;
   CPU metrics are sampled every second so fleet-health has a chart);
3. ``opslib up`` (:func:`opslib.stack.apply`) with a fleet of 2, then one pipeline run of the
   clone's head: the real buildspec, jest and CodeDeploy hooks, to a healthy fleet;
4. two more revisions deployed by CodeDeploy, so the rollback runbook has a way back: the
   same app labelled as another release (its ``release.json`` says another version and
   commit, as a build of another commit would), then the first bundle again under a new
   S3 key (a re-release of the same commit, which is no way back). "The previous good
   revision" is the relabelled one.

Notebook kernels get the stack through the environment (``OPSLIB_CONFIG``,
``OPSLIB_REPORTS_DIR``): nbval and papermill start kernels that inherit it.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opslib import emulator, stack
from opslib.config import StackConfig, load_config
from opslib.ops import deployments, pipeline
from opslib.ops.rollback import RELEASE_FILE, group_names
from opslib.target import Session, connect
from tests.runbooks.suite import REPO

STACK = "rb-suite"
PIPELINE_TIMEOUT = 900.0
EMULATOR_ENV = {
    "OPSLIB_PIPELINE_START_ON_CREATE": "0",
    "OPSLIB_SOURCE_POLL_INTERVAL": "3600",
    "OPSLIB_METRICS_INTERVAL": "1",
}


@dataclass(frozen=True)
class SuiteStack:
    """The session's stack: its config file, state, source clone and reports folder."""

    config_path: Path
    state_dir: Path
    source: Path
    reports: Path
    work: Path

    @property
    def config(self) -> StackConfig:
        return load_config(self.config_path)

    def session(self) -> Session:
        return connect(self.config)

    def env(self) -> dict[str, str]:
        """What a kernel needs to find the stack and where to write reports."""
        return {"OPSLIB_CONFIG": str(self.config_path), "OPSLIB_REPORTS_DIR": str(self.reports)}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def clone_source(dest: Path) -> Path:
    """A clone of this repository's HEAD on branch main (the pipeline's branch)."""
    git(REPO, "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest))
    git(dest, "checkout", "--quiet", "-B", "main")
    git(dest, "config", "user.email", "runbooks@example.com")
    git(dest, "config", "user.name", "runbook suite")
    return dest


def write_config(path: Path, state_dir: Path, source: Path) -> Path:
    settings = {
        "stack": STACK,
        "emulator": {"port": 0, "state_dir": str(state_dir)},
        "source": {"repository": str(source), "branch": "main"},
        "fleet": {"size": 2},
    }
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def release_head(session: Session, config: StackConfig) -> pipeline.ExecutionReport:
    """Run the pipeline once for the branch head and wait for its end."""
    name = pipeline.pipeline_name(config.stack)
    execution_id, _ = pipeline.start_or_attach(session, name)
    return pipeline.follow(session, name, execution_id, timeout=PIPELINE_TIMEOUT)


OTHER_RELEASE = {"version": "0.9.0+0ther00", "commit": "0ther00" + "0" * 33}


def relabelled(bundle: bytes, release: dict[str, str]) -> bytes:
    """The bundle with another ``app/release.json``: what the fleet serves says ``release``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == RELEASE_FILE:
                data = json.dumps({**json.loads(data), **release}).encode()
            new.writestr(item, data)
    return out.getvalue()


def redeploy_as_new_revision(
    session: Session, config: StackConfig, deployment_id: str, release: dict[str, str] | None = None
) -> str:
    """Put a deployment's bundle under a new S3 key (relabelled as ``release``, if given)
    and deploy that: another good revision."""
    info = deployments.get_deployment(session, deployment_id)
    location = dict(info["revision"]["s3Location"])
    s3 = session.client("s3")
    key = f"{location['key']}-{'relabelled' if release else 'again'}"
    bundle = s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    if release:
        bundle = relabelled(bundle, release)
    s3.put_object(Bucket=location["bucket"], Key=key, Body=bundle)
    application, group = group_names(config)
    revision = {"revisionType": "S3", "s3Location": {**location, "key": key}}
    revision["s3Location"].pop("eTag", None)
    revision["s3Location"].pop("version", None)
    new_id = session.client("codedeploy").create_deployment(
        applicationName=application, deploymentGroupName=group, revision=revision,
        description="runbook suite: the same bundle as a second revision",
    )["deploymentId"]  # fmt: skip
    view = deployments.wait_deployment(session, new_id, timeout=300, poll=0.5)
    assert view.succeeded, f"second revision {new_id}: {view.status} {view.error}"
    return str(new_id)


def wait_for_cpu_data(session: Session, config: StackConfig, timeout: float = 30.0) -> None:
    """Until CloudWatch has a CPUUtilization datapoint (the sampler runs every second)."""
    from opslib.ops import fleet

    ids = [i.instance_id for i in fleet.describe_instances(session, config)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fleet.cpu_utilization(session, ids, minutes=10):
            return
        time.sleep(0.5)


@pytest.fixture(scope="session")
def suite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteStack]:
    work = tmp_path_factory.mktemp("runbooks")
    state_dir = work / "state"
    source = clone_source(work / "source")
    config_path = write_config(work / "opslib.yml", state_dir, source)
    with pytest.MonkeyPatch.context() as patch:  # only the emulator process inherits these
        for key, value in EMULATOR_ENV.items():
            patch.setenv(key, value)
        emulator.start(state_dir, port=0)
    try:
        suite = SuiteStack(config_path, state_dir, source, work / "reports", work)
        config, session = suite.config, suite.session()
        stack.apply(session, config)
        first = release_head(session, config)
        assert first.succeeded, f"first release: {first.status} {first.failed_action}"
        first = _last_deployment(session, config)
        redeploy_as_new_revision(session, config, first, OTHER_RELEASE)
        redeploy_as_new_revision(session, config, first)  # the same commit released again
        wait_for_cpu_data(session, config)
        yield suite
    finally:
        emulator.stop(state_dir)


def _last_deployment(session: Session, config: StackConfig) -> str:
    application, group = group_names(config)
    listed = session.client("codedeploy").list_deployments(
        applicationName=application, deploymentGroupName=group, includeOnlyStatuses=["Succeeded"]
    )["deployments"]
    assert listed, "the first release deployed nothing"
    return str(listed[0])
