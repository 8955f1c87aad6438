"""simulate-history on a real emulator: what the history APIs and telemetry answer after it.

The stack is provisioned from a tiny repository (a buildspec that echoes, an appspec
without hooks) on one instance, so the real run after the backfill takes seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opslib import emulator, stack
from opslib.cli.main import cli
from opslib.config import StackConfig, parse_config
from opslib.emulator import EmulatorInfo, HistorySpec
from opslib.emulator.history.plan import ActionShape, Fleet, RunPlan, plan
from opslib.exceptions import ConfigError
from opslib.ops import pipeline
from opslib.stack.context import Names
from opslib.target import Session, Target, TargetKind
from opslib.telemetry import history
from opslib.telemetry.fetch import Window
from tests.emulator.conftest import REGION, client
from tests.emulator.pipeline_helpers import make_repo

STACK = "sim"
NAMES = Names(STACK, "", REGION)
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo built
artifacts:
  files:
    - '**/*'
"""
APPSPEC = """version: 0.0
os: linux
files:
  - source: /
    destination: /opt/sim
"""


@pytest.fixture
def running(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    """An emulator that starts no run by itself: every execution is one the test made."""
    return start_emulator(OPSLIB_PIPELINE_START_ON_CREATE="0", OPSLIB_SOURCE_POLL_INTERVAL="3600")


@pytest.fixture
def provisioned(running: EmulatorInfo, tmp_path: Path) -> tuple[Session, StackConfig]:
    repo = tmp_path / "app"
    make_repo(repo, {"buildspec.yml": BUILDSPEC, "appspec.yml": APPSPEC, "index.txt": "v1\n"})
    config = parse_config({"stack": STACK, "source": {"repository": str(repo)},
                           "fleet": {"size": 1}})  # fmt: skip
    session = Session(Target(TargetKind.LOCAL, REGION, endpoint_url=running.endpoint))
    stack.apply(session, config)
    return session, config


def _spec(days: int, runs: int, failure_rate: float = 0.5, seed: int = 7) -> HistorySpec:
    return HistorySpec(
        NAMES.pipeline, NAMES.events_log_group, days, runs, time.time(), failure_rate, seed
    )


def _expected(info: EmulatorInfo, spec: HistorySpec) -> list[RunPlan]:
    """The plan the emulator drew, drawn again from the same spec and stack."""
    definition = client(info, "codepipeline").get_pipeline(name=NAMES.pipeline)["pipeline"]
    actions = tuple(
        ActionShape(s["name"], a["name"], a["actionTypeId"]["category"],
                    a["actionTypeId"]["provider"])
        for s in definition["stages"] for a in s["actions"]
    )  # fmt: skip
    reservations = client(info, "ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    instances = tuple(sorted(i["InstanceId"] for r in reservations for i in r["Instances"]))
    return plan(spec, actions, Fleet(instances))


def _all(info: EmulatorInfo, service: str, operation: str, key: str, **params: Any) -> list[Any]:
    paginator = client(info, service).get_paginator(operation)
    return [item for page in paginator.paginate(**params) for item in page[key]]


def test_a_simulated_window_is_what_every_history_api_and_telemetry_return(
    running: EmulatorInfo, provisioned: tuple[Session, StackConfig]
) -> None:
    session, config = provisioned
    spec = _spec(days=3, runs=4)
    written = emulator.simulate_history(running, spec, REGION)
    runs = _expected(running, spec)
    assert [d.executions for d in written] == [4, 4, 4]
    assert {r.outcome for r in runs} >= {"Succeeded"}

    listed = _all(running, "codepipeline", "list_pipeline_executions",
                  "pipelineExecutionSummaries", pipelineName=NAMES.pipeline)  # fmt: skip
    assert [e["pipelineExecutionId"] for e in listed] == [r.execution_id for r in runs][::-1]
    statuses = ["Succeeded" if r.outcome == "Succeeded" else "Failed" for r in runs]
    assert [e["status"] for e in listed] == statuses[::-1]
    assert {e["trigger"]["triggerDetail"] for e in listed} == {"opslib:simulated"}

    actions = _all(running, "codepipeline", "list_action_executions", "actionExecutionDetails",
                   pipelineName=NAMES.pipeline)  # fmt: skip
    assert len(actions) == sum(len(r.actions) for r in runs)
    builds = _all(running, "codebuild", "list_builds_for_project", "ids",
                  projectName=NAMES.project)  # fmt: skip
    planned_builds = [r for r in runs if r.build is not None]
    assert len(builds) == len(planned_builds)
    docs = client(running, "codebuild").batch_get_builds(ids=builds)["builds"]
    failed_builds = {d["resolvedSourceVersion"] for d in docs if d["buildStatus"] == "FAILED"}
    assert failed_builds == {r.commit for r in runs if r.outcome == "BuildFailed"}

    deployments = _all(running, "codedeploy", "list_deployments", "deployments",
                       applicationName=NAMES.application,
                       deploymentGroupName=NAMES.deployment_group)  # fmt: skip
    planned = [d for r in runs for d in (r.deployment, r.rollback) if d is not None]
    assert sorted(deployments) == sorted(d.deployment_id for d in planned)

    events = _all(running, "logs", "filter_log_events", "events",
                  logGroupName=NAMES.events_log_group)  # fmt: skip
    sources = ("aws.codepipeline", "aws.codebuild", "aws.codedeploy")  # not the fleet's EC2 ones
    pipeline_events = [e for e in events if json.loads(e["message"])["source"] in sources]
    assert sum(d.events for d in written) == len(pipeline_events) > len(runs) * 4

    now = datetime.now(UTC)
    metric = {"Namespace": "AWS/CodeBuild", "MetricName": "Builds",
              "Dimensions": [{"Name": "ProjectName", "Value": NAMES.project}]}  # fmt: skip
    data = client(running, "cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "b", "MetricStat": {"Metric": metric, "Period": 86400,
                                                      "Stat": "Sum"}}],
        StartTime=now - timedelta(days=4), EndTime=now,
    )["MetricDataResults"][0]  # fmt: skip
    assert sum(data["Values"]) == len(planned_builds)

    window = Window.last(4, now + timedelta(minutes=1))
    collected = history.collect(session, config, window)
    frames = collected.frames
    assert sorted(frames["executions"]["execution_id"]) == sorted(r.execution_id for r in runs)
    assert len(frames["actions"]) == len(actions)
    assert len(frames["builds"]) == len(planned_builds)
    assert sorted(frames["deployments"]["deployment_id"]) == sorted(deployments)
    assert collected.simulated_fraction() == 1.0

    name = pipeline.pipeline_name(STACK)
    execution_id, _ = pipeline.start_or_attach(session, name)
    report = pipeline.follow(session, name, execution_id, timeout=300)
    assert report.status == "Succeeded", report
    after = history.collect(session, config, Window.last(4, datetime.now(UTC)))
    real = after.frames["executions"]
    assert list(real[~real["simulated"]]["execution_id"]) == [execution_id]
    assert after.simulated_fraction() == pytest.approx(12 / 13)


def test_a_second_backfill_over_simulated_history_is_refused(
    running: EmulatorInfo, provisioned: tuple[Session, StackConfig]
) -> None:
    emulator.simulate_history(running, _spec(days=1, runs=2), REGION)
    with pytest.raises(ConfigError, match="already has 2 simulated execution"):
        emulator.simulate_history(running, _spec(days=1, runs=2), REGION)
    executions = client(running, "codepipeline").list_pipeline_executions(
        pipelineName=NAMES.pipeline
    )["pipelineExecutionSummaries"]
    assert len(executions) == 2


def test_the_history_listings_page_as_aws_does(
    running: EmulatorInfo, provisioned: tuple[Session, StackConfig]
) -> None:
    emulator.simulate_history(running, _spec(days=6, runs=20, failure_rate=0.0), REGION)
    codepipeline = client(running, "codepipeline")
    first = codepipeline.list_pipeline_executions(pipelineName=NAMES.pipeline)
    assert len(first["pipelineExecutionSummaries"]) == 100  # maxResults' default
    rest = codepipeline.list_pipeline_executions(
        pipelineName=NAMES.pipeline, nextToken=first["nextToken"]
    )
    assert len(rest["pipelineExecutionSummaries"]) == 20 and "nextToken" not in rest
    starts = [e["startTime"] for e in first["pipelineExecutionSummaries"]]
    assert starts == sorted(starts, reverse=True)  # newest first

    seven = codepipeline.list_action_executions(pipelineName=NAMES.pipeline, maxResults=7)
    assert len(seven["actionExecutionDetails"]) == 7 and seven["nextToken"]
    following = codepipeline.list_action_executions(
        pipelineName=NAMES.pipeline, maxResults=7, nextToken=seven["nextToken"]
    )
    ids = {a["actionExecutionId"] for a in seven["actionExecutionDetails"]}
    assert ids.isdisjoint(a["actionExecutionId"] for a in following["actionExecutionDetails"])
    with pytest.raises(codepipeline.exceptions.InvalidNextTokenException):
        codepipeline.list_action_executions(pipelineName=NAMES.pipeline, nextToken="bogus")

    builds = client(running, "codebuild").list_builds_for_project(projectName=NAMES.project)
    assert len(builds["ids"]) == 100 and builds["nextToken"]
    codedeploy = client(running, "codedeploy")
    listed = codedeploy.list_deployments(
        applicationName=NAMES.application, deploymentGroupName=NAMES.deployment_group
    )
    assert len(listed["deployments"]) == 100 and listed["nextToken"]
    tail = codedeploy.list_deployments(
        applicationName=NAMES.application, deploymentGroupName=NAMES.deployment_group,
        nextToken=listed["nextToken"],
    )  # fmt: skip
    assert len(tail["deployments"]) == 20 and "nextToken" not in tail


def test_simulate_history_refuses_the_aws_target(tmp_path: Path) -> None:
    config = tmp_path / "opslib.yml"
    config.write_text(f"stack: {STACK}\ntarget: aws\n")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "emulator", "simulate-history", "--days", "1"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "target aws has no backfill" in str(result.exception)
