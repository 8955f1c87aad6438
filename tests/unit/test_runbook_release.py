"""opslib.ops.release: starting for a commit, the steps, the test report, the verdict."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from opslib.config import StackConfig, parse_config
from opslib.exceptions import ConfigError
from opslib.ops import fleet, pipeline, release
from opslib.target import Session
from tests.unit.runbook_fakes import FakeSession

T0 = datetime(2026, 1, 2, tzinfo=UTC)
SHA = "4c330b05ae72ecee5b4c4294d9f855c5f282b08b"


def detail(stage: str, provider: str, external: str, status: str = "Succeeded") -> dict[str, Any]:
    return {
        "stageName": stage,
        "actionName": stage,
        "status": status,
        "startTime": T0,
        "lastUpdateTime": T0 + timedelta(seconds=30),
        "input": {"actionTypeId": {"provider": provider}},
        "output": {"executionResult": {"externalExecutionId": external,
                                       "externalExecutionSummary": f"{stage} ok"}},
    }  # fmt: skip


DETAILS = [
    detail("Source", "CodeStarSourceConnection", SHA),
    detail("Build", "CodeBuild", "demo-build:1234"),
    detail("Deploy", "CodeDeploy", "d-ABCDEFGHI"),
]


def test_steps_find_the_build_and_the_deployment() -> None:
    steps = release.Steps("e-1", DETAILS)
    assert (steps.build_id, steps.deployment_id) == ("demo-build:1234", "d-ABCDEFGHI")
    assert release.Steps("e-1", DETAILS[:2]).deployment_id == ""
    rows = steps.frame().to_dict("records")
    assert rows[1] == {
        "stage": "Build", "action": "Build", "status": "Succeeded", "seconds": 30.0,
        "ran": "demo-build:1234", "message": "Build ok",
    }  # fmt: skip


def case(suite: str, name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"testSuiteName": suite, "name": name, "status": status, **extra}


def test_build_report_reads_reports_and_cases() -> None:
    reports = [
        {"arn": "arn:aws:codebuild:us-east-1:1:report/demo-build-jest:u1", "type": "TEST",
         "status": "FAILED",
         "testSummary": {"total": 3, "statusCounts": {"SUCCEEDED": 2, "FAILED": 1}}},
        {"arn": "arn:aws:codebuild:us-east-1:1:report/demo-build-coverage:u2",
         "type": "CODE_COVERAGE", "status": "SUCCEEDED",
         "codeCoverageSummary": {"lineCoveragePercentage": 94.0}},
    ]  # fmt: skip
    cases = [
        case("app.test.js", "health", "SUCCEEDED", durationInNanoSeconds=2_000_000),
        case("app.test.js", "version", "SUCCEEDED", durationInNanoSeconds=1_000_000),
        case("server.test.js", "port", "FAILED", message="expected 1"),
    ]
    session = FakeSession(
        codebuild={
            "batch_get_builds": {"builds": [{"reportArns": [r["arn"] for r in reports]}]},
            "batch_get_reports": {"reports": reports},
            "describe_test_cases": {"testCases": cases},
        }
    )
    got = release.build_report(cast(Session, session), "demo-build:1234")
    assert [r.name for r in got.reports] == ["demo-build-jest", "demo-build-coverage"]
    assert got.frame().to_dict("records")[0]["failed"] == 1
    assert got.frame().to_dict("records")[1]["line coverage %"] == 94.0
    assert got.suites_frame().to_dict("records") == [
        {"suite": "app.test.js", "tests": 2, "passed": 2, "failed": 0, "ms": 3.0,
         "failing tests": ""},
        {"suite": "server.test.js", "tests": 1, "passed": 0, "failed": 1, "ms": 0.0,
         "failing tests": "port"},
    ]  # fmt: skip
    assert got.summary()["failed"] == ["server.test.js port"]
    assert release.build_report(cast(Session, session), "").cases == []


def report(status: str = "Succeeded", revision: str = SHA) -> pipeline.ExecutionReport:
    failed = None
    if status != "Succeeded":
        failed = pipeline.ActionUpdate(
            "Build", "Build", "Failed", "", "demo-build:1", "tests failed"
        )
    return pipeline.ExecutionReport("demo-pipeline", "e-1", status, revision, failed)


def served(commit: str = SHA, health: str = "ok") -> fleet.FleetReport:
    rows = [
        fleet.InstanceHealth(
            f"i-{n}", f"demo-fleet-{n}", "running", "", health, "1.0.0", commit, None
        )
        for n in (1, 2)
    ]
    return fleet.FleetReport("demo", T0, rows)


@pytest.mark.parametrize(
    ("execution", "fleet_report", "commit", "ok", "text"),
    [
        (report(), served(), "", True, "✓ released 4c330b05ae72: all 2 instance(s) healthy on it"),
        (report("Failed"), served(), "", False,
         "✗ demo-pipeline execution Failed at Build/Build: tests failed"),
        (report(), served("0" * 40), "", False, "not served by: demo-fleet-1 (ok, 0000000)"),
        (report(), served(health="HTTP 500"), "", False, "demo-fleet-2 (HTTP 500, 4c330b0)"),
        (report(), served(), "deadbee", False, "not the requested deadbee (the target ignored"),
        (report(), None, "", False, "the fleet was not verified"),
    ],
)  # fmt: skip
def test_verdict(
    execution: pipeline.ExecutionReport,
    fleet_report: fleet.FleetReport | None,
    commit: str,
    ok: bool,
    text: str,
) -> None:
    verdict = release.verdict(execution, fleet_report, commit)
    assert verdict.ok is ok and text in str(verdict)


def test_start_for_a_commit_passes_a_source_revision_override(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["-c", "user.email=a@b", "-c", "user.name=a",
                 "commit", "-q", "--allow-empty", "-m", "one"]):  # fmt: skip
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    config = parse_config({"stack": "demo", "source": {"repository": str(repo)}})
    pipeline_definition = {"pipeline": {"stages": [
        {"actions": [{"name": "GitHub", "actionTypeId": {"category": "Source"}}]},
        {"actions": [{"name": "Build", "actionTypeId": {"category": "Build"}}]},
    ]}}  # fmt: skip
    session = FakeSession(
        codepipeline={
            "get_pipeline": pipeline_definition,
            "start_pipeline_execution": {"pipelineExecutionId": "e-9"},
            "list_pipeline_executions": {"pipelineExecutionSummaries": []},
        }
    )
    started = release.start_release(cast(Session, session), config, sha[:8])
    assert (started.execution_id, started.commit, started.attached) == ("e-9", sha, False)
    call = session.clients["codepipeline"].calls[-1][1]
    assert call == {
        "name": "demo-pipeline",
        "sourceRevisions": [
            {"actionName": "GitHub", "revisionType": "COMMIT_ID", "revisionValue": sha}
        ],
    }
    with pytest.raises(ConfigError, match="parameter 'commit': 'nope' is not a commit of"):
        release.start_release(cast(Session, session), config, "nope")


def test_describe_update() -> None:
    update = pipeline.ActionUpdate("Build", "Build", "Failed", "", "demo-build:1", "tests failed")
    assert release.describe_update(update) == "✗ Build/Build: Failed tests failed"


def missing_pipeline(**kwargs: Any) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    error = {"Error": {"Code": "PipelineNotFoundException", "Message": "no"}}
    raise ClientError(error, "GetPipeline")


def test_ensure_stack_provisions_a_missing_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    from opslib import stack

    applied: list[str] = []

    class Result:
        seconds, mutating_calls = 1.0, 51

        def counts(self) -> dict[str, int]:
            return {"create": 32, "update": 0, "no-op": 0}

    def apply(session: Any, config: StackConfig, progress: Any) -> Result:
        applied.append(config.stack)
        return Result()

    monkeypatch.setattr(stack, "apply", apply)
    session = FakeSession(codepipeline={"get_pipeline": missing_pipeline})
    said = release.ensure_stack(cast(Session, session), parse_config({"stack": "demo"}))
    assert applied == ["demo"]
    assert said == (
        "stack demo provisioned on the local emulator "
        "(up: 32 created, 0 updated, 0 unchanged in 1.0 s (51 mutating calls))"
    )
    there = FakeSession(codepipeline={"get_pipeline": {"pipeline": {}}})
    assert release.ensure_stack(cast(Session, there), parse_config({})) == (
        "stack opslib-demo: pipeline opslib-demo-pipeline is there"
    )


def test_ensure_stack_never_provisions_on_aws() -> None:
    from opslib.target import Target, TargetKind

    session = FakeSession(codepipeline={"get_pipeline": missing_pipeline})
    session.target = Target(TargetKind.AWS, "us-east-1")
    with pytest.raises(
        ConfigError, match="pipeline demo-pipeline does not exist on aws .* provision"
    ):
        release.ensure_stack(cast(Session, session), parse_config({"stack": "demo"}))
