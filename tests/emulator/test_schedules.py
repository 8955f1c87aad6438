"""Scheduled reports on the emulator: up creates them, the schedule fires real reports builds
that leave their notebook, HTML and summary in S3, reports list shows them, run-now runs one
at once, down removes all."""

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
from opslib.ops import schedules
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, Target, TargetKind
from tests.emulator.conftest import REPO, client
from tests.emulator.deploy_helpers import wait_until

STACK = "sch"
REPORTS_BUCKET = f"{STACK}-reports-123456789012-us-east-1"
SCHEDULE = {
    "name": "fleet-every-minute",
    "runbook": "fleet-health",
    "expression": "rate(1 minute)",
    "parameters": {"minutes": 5},
}


def _config(**settings: Any) -> StackConfig:
    base = {
        "stack": STACK,
        "source": {"repository": str(REPO)},
        "fleet": {"size": 1},
        "schedules": [SCHEDULE],
    }
    return parse_config({**base, **settings})


@pytest.fixture(autouse=True)
def _no_pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSLIB_PIPELINE_START_ON_CREATE", "0")


@pytest.fixture
def session(running: EmulatorInfo) -> Session:
    return Session(Target(TargetKind.LOCAL, "us-east-1", endpoint_url=running.endpoint))


@pytest.fixture
def provisioned(session: Session) -> stack.RunResult:
    return stack.apply(session, _config())


def _queue_on_topic(info: EmulatorInfo) -> str:
    sqs = client(info, "sqs")
    url = sqs.create_queue(QueueName="reports-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    topic = f"arn:aws:sns:us-east-1:123456789012:{STACK}-notifications"
    client(info, "sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    return str(url)


def test_up_creates_the_schedule_and_its_build_and_plan_is_then_empty(
    running: EmulatorInfo, session: Session, provisioned: stack.RunResult
) -> None:
    scheduler = client(running, "scheduler")
    group = scheduler.get_schedule_group(Name=STACK)
    tags = scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]
    assert {"Key": STACK_TAG, "Value": STACK} in tags
    found = scheduler.get_schedule(GroupName=STACK, Name="fleet-every-minute")
    assert found["ScheduleExpression"] == "rate(1 minute)" and found["State"] == "ENABLED"
    assert found["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"
    assert json.loads(found["Target"]["Input"])["projectName"] == f"{STACK}-reports"
    project = client(running, "codebuild").batch_get_projects(names=[f"{STACK}-reports"])
    (reports_project,) = project["projects"]
    assert reports_project["source"]["location"] == f"{REPORTS_BUCKET}/source/opslib.zip"
    assert {"key": STACK_TAG, "value": STACK} in reports_project["tags"]
    s3 = client(running, "s3")
    assert s3.get_bucket_versioning(Bucket=REPORTS_BUCKET)["Status"] == "Enabled"
    alarm = client(running, "cloudwatch").describe_alarms(AlarmNames=[f"{STACK}-reports-failures"])
    assert alarm["MetricAlarms"][0]["MetricName"] == "FailedBuilds"
    (view,) = schedules.list_schedules(session, _config())
    assert view.state == "ENABLED" and len(view.next_fires) == 3
    steps = {
        (b - a).total_seconds() for a, b in zip(view.next_fires, view.next_fires[1:], strict=False)
    }
    assert steps == {60.0}
    assert not stack.plan(session, _config()).has_changes
    again = stack.apply(session, _config())
    assert again.mutating_calls == 0, again.calls.mutating


def _report_builds(info: EmulatorInfo) -> list[dict[str, Any]]:
    codebuild = client(info, "codebuild")
    ids = codebuild.list_builds_for_project(projectName=f"{STACK}-reports")["ids"]
    return codebuild.batch_get_builds(ids=ids)["builds"] if ids else []


def _messages(info: EmulatorInfo, queue: str) -> list[str]:
    """Every notification the topic delivered to the queue so far."""
    sqs, found = client(info, "sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(m["Body"])["Message"] for m in batch]
    return found


def test_the_schedule_fires_real_report_builds_into_s3_and_down_removes_everything(
    running: EmulatorInfo, session: Session, provisioned: stack.RunResult, tmp_path: Path
) -> None:
    """The issue's "done when": a rate(1 minute) schedule applied with `up` fires real builds
    by itself, each leaves its report in S3 under its own folder, `reports list` shows them;
    run-now starts one at once and follows it."""
    config_file = tmp_path / "opslib.yml"
    emulator = {"port": running.port, "state_dir": str(running.state_dir)}
    config_file.write_text(yaml.safe_dump(_config(emulator=emulator).to_dict()))
    runner = CliRunner()
    args = ["--config", str(config_file)]
    # The fleet has no release: stop its instance so that fleet-health's verdict is red
    # whatever else listens on this machine. A red build fails, and the notebook, the HTML and
    # the failed verdict are in S3 all the same, and the topic hears of it with the link.
    queue = _queue_on_topic(running)
    ec2 = client(running, "ec2")
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:opslib:stack", "Values": [STACK]},
                 {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]  # fmt: skip
    ec2.stop_instances(InstanceIds=[i["InstanceId"] for r in reservations for i in r["Instances"]])

    def two_fired_and_done() -> list[dict[str, Any]] | None:
        done = [b for b in _report_builds(running) if b["buildComplete"]]
        return done if len(done) >= 2 else None

    fired = wait_until(two_fired_and_done, timeout=900, what="two scheduled builds to end")
    listed = runner.invoke(cli, [*args, "reports", "list"])
    assert listed.exit_code == 0, listed.output
    for build in fired:  # one report folder per firing, named by its build
        assert build["id"].split(":", 1)[1] in listed.output, (build["id"], listed.output)
    folders = {line.rsplit("/", 2)[1] for line in listed.output.splitlines()}
    assert len(folders) == len(listed.output.splitlines()) >= 2  # nothing overwritten

    first = schedules.run_now(session, _config(), "fleet-every-minute")
    assert first.build_status == "FAILED" and not first.ok
    assert first.run is not None and first.run.verdict.startswith("✗")
    assert first.run.headline == "0/1 healthy"
    assert [k.rsplit(".", 1)[1] for k in sorted(first.run.files)] == ["html", "ipynb", "json"]
    assert any(first.run.uri in message for message in _messages(running, queue))
    again = runner.invoke(cli, [*args, "schedule", "run-now", "fleet-every-minute"])
    assert again.exit_code == 1 and "✗" in again.output, again.output
    assert runner.invoke(cli, [*args, "schedule", "run-now", "nope"]).exit_code == 1
    down = stack.destroy(session, _config())
    assert down.leftovers == []
    assert (
        client(running, "scheduler").list_schedule_groups()["ScheduleGroups"][0]["Name"]
        == "default"
    )
