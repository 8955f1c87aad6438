"""Both reports over real runs with known outcomes: good, failing build, good, failing
deployment that rolls back — on the suite's released stack, in a window that starts with
them (``since``), so the JSON's counts and rates are exactly what those runs imply.

The expected figures are read here from the services themselves (GetDeployment,
BatchGetBuilds, the git commit), not from the report's own frames.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opslib.ops import pipeline
from opslib.ops.rollback import group_names
from opslib.runbooks import catalog
from opslib.runbooks.runner import RunRecord, run_runbook
from opslib.target import Session
from tests.runbooks.conftest import PIPELINE_TIMEOUT, SuiteStack, git, release_head
from tests.runbooks.suite import REPO
from tests.runbooks.test_runbook_runs import BROKEN_BUILDSPEC

FAIL_VALIDATION = 'echo "ValidateService: failing on purpose" >&2\nexit 1\n'


@dataclass(frozen=True)
class Scenario:
    """The runs and what the services say about them."""

    since: datetime
    commit_time: datetime
    good_deployments: list[dict[str, Any]]
    failed_deployment: dict[str, Any]
    rollback: dict[str, Any]


def _run(session: Session, config: Any) -> pipeline.ExecutionReport:
    name = pipeline.pipeline_name(config.stack)
    execution_id, _ = pipeline.start_or_attach(session, name)
    return pipeline.follow(session, name, execution_id, timeout=PIPELINE_TIMEOUT, poll=0.5)


def _commit(suite: SuiteStack, path: str, text: str, message: str) -> None:
    (suite.source / path).write_text(text)
    git(suite.source, "commit", "--quiet", "-am", message)


def _deployment(session: Session, deployment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = session.client("codedeploy").get_deployment(deploymentId=deployment_id)[
        "deploymentInfo"
    ]
    return info


def _finished_rollback(session: Session, failed_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rollback_id = (
            _deployment(session, failed_id).get("rollbackInfo", {}).get("rollbackDeploymentId")
        )
        if rollback_id:
            rollback = _deployment(session, rollback_id)
            if rollback["status"] in ("Succeeded", "Failed", "Stopped"):
                return rollback
        time.sleep(0.5)
    raise AssertionError(f"no finished rollback of {failed_id}")


@pytest.fixture(scope="module")
def scenario(suite_stack: SuiteStack) -> Iterator[Scenario]:
    session, config = suite_stack.session(), suite_stack.config
    good = git(suite_stack.source, "rev-parse", "HEAD")
    since = datetime.now(UTC)
    try:
        first = release_head(session, config)
        assert first.succeeded, (first.status, first.failed_action)
        _commit(suite_stack, "buildspec.yml", BROKEN_BUILDSPEC, "break the buildspec")
        broken_build = _run(session, config)
        assert broken_build.status == "Failed" and broken_build.failed_action is not None
        assert broken_build.failed_action.stage == "Build"
        git(suite_stack.source, "reset", "--quiet", "--hard", good)
        second = release_head(session, config)
        assert second.succeeded, (second.status, second.failed_action)
        script = (suite_stack.source / "scripts" / "validate_service.sh").read_text()
        header, _, body = script.partition("\n")
        _commit(suite_stack, "scripts/validate_service.sh", f"{header}\n{FAIL_VALIDATION}{body}",
                "break ValidateService")  # fmt: skip
        broken_deploy = _run(session, config)
        assert broken_deploy.status == "Failed" and broken_deploy.failed_action is not None
        assert broken_deploy.failed_action.action == "Deploy"
        failed_id = broken_deploy.failed_action.external_id
        rollback = _finished_rollback(session, failed_id)
        assert rollback["status"] == "Succeeded"
    finally:
        git(suite_stack.source, "reset", "--quiet", "--hard", good)
    application, group = group_names(config)
    listed = session.client("codedeploy").list_deployments(
        applicationName=application, deploymentGroupName=group,
        createTimeRange={"start": since}, includeOnlyStatuses=["Succeeded"],
    )["deployments"]  # fmt: skip
    goods = [d for d in (_deployment(session, i) for i in listed) if d["creator"] == "user"]
    commit_time = datetime.fromisoformat(git(suite_stack.source, "log", "-1", "--format=%aI", good))
    yield Scenario(since, commit_time, goods, _deployment(session, failed_id), rollback)


def _report(suite: SuiteStack, name: str, since: datetime) -> tuple[RunRecord, dict[str, Any]]:
    info = catalog.find_runbook(name, REPO / "runbooks")
    given = {"config": str(suite.config_path), "since": since.isoformat(), "days": 1}
    record = run_runbook(info, given, reports_dir=suite.reports)
    assert record.ok, record.failure()
    return record, json.loads(record.paths.summary.read_text())["data"]


def _readable(html: str, code: str) -> None:
    assert "Traceback" not in html and code not in html  # no code, no traceback
    top = html.index("opslib-card")
    assert top < html.find("<h2"), "the header card comes first"


def test_pipeline_report_counts_the_runs_exactly(
    suite_stack: SuiteStack, scenario: Scenario
) -> None:
    record, data = _report(suite_stack, "pipeline-report", scenario.since)
    counts = {k: data[k] for k in ("executions", "succeeded", "failed", "stopped", "superseded")}
    assert counts == {"executions": 4, "succeeded": 2, "failed": 2, "stopped": 0, "superseded": 0}
    assert data["success_rate"] == 0.5 and data["simulated_fraction"] == 0.0
    dora = data["dora"]
    assert (dora["deployments"], dora["rollbacks"]) == (3, 1)
    assert dora["change_failure_rate"] == pytest.approx(1 / 3)
    window = {k: datetime.fromisoformat(v) for k, v in data["window"].items()}
    assert window["since"] == scenario.since == window["covered_since"]
    days = (window["until"] - window["covered_since"]).total_seconds() / 86400
    assert dora["deployment_frequency"] == pytest.approx(2 / days)
    failed, rollback = scenario.failed_deployment, scenario.rollback
    started = failed.get("startTime") or failed["createTime"]  # CodeDeploy: once it started
    restore = (rollback["completeTime"] - started).total_seconds() / 3600
    assert dora["time_to_restore_hours"] == pytest.approx(restore)
    assert len(scenario.good_deployments) == 2
    leads = sorted((d["completeTime"] - scenario.commit_time).total_seconds() / 3600
                   for d in scenario.good_deployments)  # fmt: skip
    assert dora["lead_time_hours"] == pytest.approx(sum(leads) / 2, abs=1 / 3600)
    assert set(dora["clusters"]) >= {"year", "change_failure_rate", "time_to_restore_hours"}
    html = record.paths.html.read_text()
    _readable(html, "pipelinereport.build(")
    assert "Pipeline report" in html and "✗ success rate 50.0 % of 4 finished" in html


def test_cost_report_bills_the_builds_rounded_up(
    suite_stack: SuiteStack, scenario: Scenario
) -> None:
    record, data = _report(suite_stack, "cost-report", scenario.since)
    codebuild = suite_stack.session().client("codebuild")
    project = f"{suite_stack.config.stack}-build"
    ids = codebuild.list_builds_for_project(projectName=project)["ids"]
    builds = [b for b in codebuild.batch_get_builds(ids=ids)["builds"]
              if b["startTime"] >= scenario.since]  # fmt: skip
    assert len(builds) == 4  # one per run: the broken buildspec fails inside its build
    minutes = sum(math.ceil((b["endTime"] - b["startTime"]).total_seconds() / 60) for b in builds)
    assert data["usage"]["codebuild_build_minutes"] == minutes
    (kind,) = {b["environment"]["computeType"] for b in builds}
    assert data["usage"][f"codebuild_build_minute_{kind}"] == minutes
    assert data["total_usd"] >= 0 and data["prices"]["date"]
    assert data["usage"]["logs_ingest_gb"] is None  # not measured on the emulator: null, not 0
    html = record.paths.html.read_text()
    _readable(html, "costreport.from_sources(")
    assert (
        "Cost report" in html and "not available: the local emulator has no Cost Explorer" in html
    )
    assert Path(record.paths.notebook).exists()
