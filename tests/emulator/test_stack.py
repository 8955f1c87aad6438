"""``opslib up | plan | down | status`` against a real emulator process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from opslib import stack
from opslib.cli.main import cli
from opslib.config import StackConfig, parse_config
from opslib.emulator import EmulatorInfo
from opslib.exceptions import AwsError, ExecutionError
from opslib.stack.codebuild import Project
from opslib.stack.model import Action
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, Target, TargetKind
from tests.emulator.conftest import REPO, client

STACK = "tst"
BUCKET = f"{STACK}-artifacts-123456789012-us-east-1"


def _config(**settings: Any) -> StackConfig:
    base = {"stack": STACK, "source": {"repository": str(REPO)}, "fleet": {"size": 2}}
    return parse_config({**base, **settings})


def _session(info: EmulatorInfo) -> Session:
    return Session(Target(TargetKind.LOCAL, "us-east-1", endpoint_url=info.endpoint))


@pytest.fixture(autouse=True)
def _no_pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check resources; the run CreatePipeline starts would only burn CPU."""
    monkeypatch.setenv("OPSLIB_PIPELINE_START_ON_CREATE", "0")


@pytest.fixture
def session(running: EmulatorInfo) -> Session:
    return _session(running)


@pytest.fixture
def provisioned(session: Session) -> stack.RunResult:
    return stack.apply(session, _config())


def test_up_then_plan_has_no_changes_and_a_second_up_mutates_nothing(
    session: Session, provisioned: stack.RunResult
) -> None:
    assert provisioned.counts()["create"] == len(provisioned.changes)
    assert not stack.plan(session, _config()).has_changes
    again = stack.apply(session, _config())
    assert again.mutating_calls == 0, again.calls.mutating
    assert again.counts()["no-op"] == len(again.changes)


def test_up_creates_the_bucket_as_the_seed_asks(
    running: EmulatorInfo, provisioned: stack.RunResult
) -> None:
    s3 = client(running, "s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")  # the TLS-only policy lets the emulator in


def test_up_wires_pipeline_build_deploy_and_source(
    running: EmulatorInfo, provisioned: stack.RunResult
) -> None:
    pipeline = client(running, "codepipeline").get_pipeline(name=f"{STACK}-pipeline")["pipeline"]
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Build", "Deploy"]
    assert pipeline["artifactStore"] == {"type": "S3", "location": BUCKET}
    source = pipeline["stages"][0]["actions"][0]["configuration"]
    connections = client(running, "codestar-connections")
    tags = connections.list_tags_for_resource(ResourceArn=source["ConnectionArn"])["Tags"]
    assert {"Key": "opslib:local-repository", "Value": str(REPO)} in tags
    group = client(running, "codedeploy").get_deployment_group(
        applicationName=f"{STACK}-app", deploymentGroupName=f"{STACK}-fleet"
    )["deploymentGroupInfo"]
    assert group["ec2TagFilters"][0]["Value"] == "Production-Fleet"
    assert group["autoRollbackConfiguration"]["enabled"] is True
    project = client(running, "codebuild").batch_get_projects(names=[f"{STACK}-build"])
    assert project["projects"][0]["environment"]["image"] == "aws/codebuild/standard:7.0"


def test_up_starts_the_fleet_with_endpoints(
    session: Session, running: EmulatorInfo, provisioned: stack.RunResult
) -> None:
    current = stack.status(session, _config())
    assert current.complete and not current.drifted
    assert len(current.endpoints) == 2
    assert all(url.startswith("http://127.0.0.1:") for url in current.endpoints.values())
    parameter = client(running, "ssm").get_parameter(Name="AmazonCloudWatch-linux")["Parameter"]
    assert f"/{STACK}/app" in parameter["Value"]


def test_up_resumes_after_a_partial_failure(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise AwsError("boom", code="InternalFailure")

    monkeypatch.setattr(Project, "create", broken)
    with pytest.raises(ExecutionError, match="codebuild project .* failed: boom"):
        stack.apply(session, _config())
    monkeypatch.undo()
    resumed = stack.apply(session, _config())
    created = [c.name for c in resumed.changes if c.action is Action.CREATE]
    assert f"{STACK}-build" in created and BUCKET not in created
    assert not stack.plan(session, _config()).has_changes


def test_plan_shows_drift_and_up_repairs_it(
    session: Session, running: EmulatorInfo, provisioned: stack.RunResult
) -> None:
    logs = client(running, "logs")
    logs.put_retention_policy(logGroupName=f"/{STACK}/app", retentionInDays=1)
    (change,) = stack.plan(session, _config()).pending()
    assert change.action is Action.UPDATE and change.paths == ["retention"]
    stack.apply(session, _config())
    assert not stack.plan(session, _config()).has_changes


def test_down_deletes_everything_tagged_and_empties_the_versioned_bucket(
    session: Session, running: EmulatorInfo, provisioned: stack.RunResult
) -> None:
    s3 = client(running, "s3")
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=BUCKET, Key="artifact.zip", Body=body)
    result = stack.destroy(session, _config())
    assert result.counts()["delete"] == len(provisioned.changes)
    assert result.leftovers == []
    assert stack.plan(session, _config()).counts()["create"] == len(provisioned.changes)


def test_another_stacks_resource_is_a_conflict_and_down_leaves_it(
    session: Session, running: EmulatorInfo
) -> None:
    logs = client(running, "logs")
    logs.create_log_group(logGroupName=f"/{STACK}/app", tags={STACK_TAG: "someone-else"})
    plan = stack.plan(session, _config())
    assert [c.name for c in plan.changes if c.action is Action.CONFLICT] == [f"/{STACK}/app"]
    with pytest.raises(ExecutionError, match="belongs to another stack"):
        stack.apply(session, _config())
    stack.destroy(session, _config())
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/{STACK}/app")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"/{STACK}/app"]


def _write_config(path: Path, info: EmulatorInfo) -> Path:
    settings = {
        "stack": STACK,
        "source": {"repository": str(REPO)},
        "fleet": {"size": 1},
        "emulator": {"port": info.port, "state_dir": str(info.state_dir)},
    }
    config = path / "opslib.yml"
    config.write_text(yaml.safe_dump(settings))
    return config


def test_cli_plan_up_status_down(running: EmulatorInfo, tmp_path: Path) -> None:
    config = str(_write_config(tmp_path, running))
    runner = CliRunner()

    def run(*args: str, code: int = 0, **kwargs: Any) -> str:
        result = runner.invoke(cli, ["--config", config, *args], **kwargs)
        assert result.exit_code == code, result.output
        return result.output

    assert "to create" in run("plan")
    up = run("up")
    assert "✓ create s3 bucket" in up and "mutating calls" in up
    assert "No changes" in run("plan")
    assert "instance endpoints" in run("status")
    run("down", input="n\n", code=1)  # not confirmed: nothing deleted
    assert "No changes" in run("plan")
    assert "deleted" in run("down", "--yes")
    run("status", code=2)  # nothing exists
