"""opslib.ops.triage: failures from API answers, log line picking, the next-runbook table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from opslib.config import parse_config
from opslib.ops import fleet, triage
from opslib.target import Session
from tests.unit.runbook_fakes import FakeSession

T0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
CONFIG = parse_config({"stack": "demo"})
AGENT_GROUP = "/demo/codedeploy-agent-deployments"  # the stack's agent config ships there


def summary(execution_id: str, status: str, minutes: int, sha: str = "abc") -> dict[str, Any]:
    return {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": T0 + timedelta(minutes=minutes),
        "sourceRevisions": [{"actionName": "Source", "revisionId": sha}],
    }


def action(
    stage: str, status: str, provider: str, external: str = "", error: str = ""
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "externalExecutionId": external,
        "externalExecutionSummary": "summary",
    }
    if error:
        result["errorDetails"] = {"code": "JobFailed", "message": error}
    return {
        "stageName": stage,
        "actionName": stage,
        "status": status,
        "startTime": T0,
        "input": {"actionTypeId": {"category": stage, "provider": provider}},
        "output": {"executionResult": result},
    }


BUILD_FAILED = [
    action("Source", "Succeeded", "CodeStarSourceConnection", "abc"),
    action("Build", "Failed", "CodeBuild", "demo-build:1234", "Build failed: YAML_FILE_ERROR"),
]


def test_pipeline_failure_names_the_failing_stage_action_and_reason() -> None:
    failure = triage.pipeline_failure(summary("e-1", "Failed", 0), BUILD_FAILED, resolved=False)
    assert (failure.stage, failure.action, failure.provider) == ("Build", "Build", "CodeBuild")
    assert failure.external_id == "demo-build:1234"
    assert failure.reason == "Build failed: YAML_FILE_ERROR"
    assert (failure.revision, failure.started, failure.resolved) == ("abc", T0, False)


def test_pipeline_failure_falls_back_to_the_execution_summary() -> None:
    status_only = {**summary("e-1", "Failed", 0), "statusSummary": "emulator restarted"}
    failure = triage.pipeline_failure(status_only, [], resolved=True)
    assert (failure.stage, failure.reason, failure.resolved) == ("", "emulator restarted", True)


def pipeline_session(runs: list[dict[str, Any]], actions: dict[str, list[dict[str, Any]]]) -> Any:
    def list_actions(**kwargs: Any) -> dict[str, Any]:
        return {"actionExecutionDetails": actions.get(kwargs["filter"]["pipelineExecutionId"], [])}

    return FakeSession(
        codepipeline={
            "list_pipeline_executions": {"pipelineExecutionSummaries": runs},
            "list_action_executions": list_actions,
        }
    )


def test_pipeline_failures_in_the_window_and_whether_a_later_run_fixed_them() -> None:
    runs = [  # newest first, as ListPipelineExecutions answers
        summary("e-4", "Succeeded", 40),
        summary("e-3", "Failed", 30),
        summary("e-2", "Failed", 50),  # newer than the success: unresolved
        summary("e-0", "Failed", -600),  # before the window
    ]
    session = pipeline_session(runs, {"e-3": BUILD_FAILED, "e-2": BUILD_FAILED})
    found = triage.pipeline_failures(cast(Session, session), CONFIG, since=T0)
    assert found.executions == 3
    assert {f.failure_id: f.resolved for f in found.items} == {"e-3": True, "e-2": False}
    assert [f.failure_id for f in found.unresolved] == ["e-2"]
    assert list(found.frame().columns) == [
        "started", "source", "id", "status", "stage/action", "reason", "resolved"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["a", "b", "c"], ["b", "c"]),  # nothing matches: the tail
        (["ok", "x", "npm ERR! missing", "y", "z"], ["x", "npm ERR! missing", "y"]),
        (["Tests: 1 failed, 3 passed", "done"], ["Tests: 1 failed, 3 passed", "done"]),
        (["exit status 0", "fine"], ["exit status 0", "fine"][-2:]),
    ],
)
def test_matching_lines_picks_what_explains_a_failure(
    lines: list[str], expected: list[str]
) -> None:
    assert triage.matching_lines(lines, limit=2 if expected == ["b", "c"] else 20) == expected


def test_matching_lines_keeps_the_last_hits_within_the_limit() -> None:
    lines = [f"error {n}" for n in range(30)]
    assert triage.matching_lines(lines, limit=3) == ["error 27", "error 28", "error 29"]


def event(detail_type: str, detail: dict[str, Any]) -> str:
    return json.dumps(
        {"time": "2026-01-02T12:00:00Z", "detail-type": detail_type, "detail": detail}
    )


BUILD_ARN = "arn:aws:codebuild:us-east-1:123456789012:build"


def test_event_lines_keep_the_failure_events_of_the_run() -> None:
    messages = [
        event("CodePipeline Action Execution State Change",
              {"execution-id": "e-1", "stage": "Build", "action": "Build", "state": "FAILED"}),
        event("CodePipeline Action Execution State Change",
              {"execution-id": "e-1", "stage": "Source", "action": "Source", "state": "SUCCEEDED"}),
        event("CodePipeline Pipeline Execution State Change",
              {"execution-id": "e-2", "state": "FAILED"}),
        event("CodeBuild Build State Change",
              {"build-id": f"{BUILD_ARN}/demo-build:1234", "build-status": "FAILED"}),
        "not json",
    ]  # fmt: skip
    assert triage.event_lines(messages, {"e-1", "demo-build:1234"}) == [
        "2026-01-02T12:00:00Z CodePipeline Action Execution State Change Build/Build FAILED",
        "2026-01-02T12:00:00Z CodeBuild Build State Change FAILED",
    ]


def failure(stage: str = "", provider: str = "", resolved: bool = False) -> triage.Failure:
    return triage.Failure("pipeline", "e-1", T0, "Failed", stage, stage, provider, "x", "boom",
                          resolved=resolved)  # fmt: skip


def found(*items: triage.Failure) -> triage.Failures:
    return triage.Failures(T0 - timedelta(hours=24), T0, 5, list(items))


def fleet_report(*states: tuple[str, str]) -> fleet.FleetReport:
    instances = [
        fleet.InstanceHealth(f"i-{n}", f"demo-fleet-{n}", state, "", health, "1.0.0", "", None)
        for n, (state, health) in enumerate(states)
    ]
    return fleet.FleetReport("demo", T0, instances)


HEALTHY = fleet_report(("running", "ok"), ("running", "ok"))
QUIET = triage.Alarms([triage.AlarmState("demo-app-errors", "OK", "", T0)])
FIRING = triage.Alarms([triage.AlarmState("demo-app-errors", "ALARM", "5 errors", T0)])


@pytest.mark.parametrize(
    ("failures", "alarms", "report", "runbook"),
    [
        (found(), QUIET, HEALTHY, ""),
        (found(failure("Build", "CodeBuild")), QUIET, HEALTHY, "release"),
        (found(failure("Deploy", "CodeDeploy")), QUIET, HEALTHY, "rollback"),
        (found(failure("Source", "CodeStarSourceConnection")), QUIET, HEALTHY, "provision"),
        (found(failure("Build", "CodeBuild", resolved=True)), QUIET, HEALTHY, ""),
        (found(), QUIET, fleet_report(("running", "ok"), ("running", "HTTP 500")), "rollback"),
        (found(), QUIET, fleet_report(("stopped", "not probed")), "provision"),
        (found(), QUIET, fleet_report(), "provision"),
        (found(), FIRING, HEALTHY, "fleet-health"),
        # the newest unresolved failure wins over unhealthy instances and alarms
        (found(failure("Deploy", "CodeDeploy"), failure("Build", "CodeBuild")), FIRING,
         fleet_report(("running", "HTTP 500")), "rollback"),
    ],
)  # fmt: skip
def test_suggest(
    failures: triage.Failures, alarms: triage.Alarms, report: fleet.FleetReport, runbook: str
) -> None:
    assert triage.suggest(failures, alarms, report).runbook == runbook


def test_verdict_all_clear_and_with_problems() -> None:
    clear = triage.verdict(found(), QUIET, HEALTHY, triage.suggest(found(), QUIET, HEALTHY))
    assert clear.ok
    assert str(clear) == (
        "✓ all clear: 0 failure(s) in the last 24 h (0 unresolved) of 5 execution(s), "
        "0 alarm(s) firing, 2/2 instance(s) healthy"
    )
    broken = found(failure("Build", "CodeBuild"))
    advice = triage.suggest(broken, FIRING, HEALTHY)
    bad = triage.verdict(broken, FIRING, HEALTHY, advice)
    assert not bad.ok and "1 failure(s)" in bad.sentence and "next: release" in bad.sentence


def test_suggestion_and_excerpts_show_as_markdown() -> None:
    assert (
        triage.Suggestion("rollback", "why")._repr_markdown_() == "**Next:** run `rollback` — why"
    )
    assert "nothing to do" in triage.Suggestion("", "all fine")._repr_markdown_()
    excerpts = triage.Excerpts(
        [triage.LogExcerpt("e-1", "build log", "/aws/codebuild/x/1", ("a", "b"))]
    )
    assert excerpts._repr_markdown_() == "**e-1** — build log `/aws/codebuild/x/1`\n```\na\nb\n```"
    assert triage.Excerpts()._repr_markdown_() == "_no failures, so no log excerpts_"


def test_alarm_states_lists_firing_alarms_first() -> None:
    alarms = [
        {"AlarmName": "demo-build-failures", "StateValue": "OK", "StateReason": ""},
        {"AlarmName": "demo-app-errors", "StateValue": "ALARM", "StateReason": "5 >= 5"},
    ]
    session = FakeSession(cloudwatch={"describe_alarms": {"MetricAlarms": alarms}})
    got = triage.alarm_states(cast(Session, session), CONFIG)
    assert [(a.name, a.state) for a in got.items] == [
        ("demo-app-errors", "ALARM"),
        ("demo-build-failures", "OK"),
    ]
    assert session.clients["cloudwatch"].calls[0][1] == {"AlarmNamePrefix": "demo-"}
    assert [a.name for a in got.firing] == ["demo-app-errors"]


def not_found(**kwargs: Any) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "Op")


def test_a_failed_deployment_outside_the_pipeline_and_its_script_output() -> None:
    deployment = {
        "deploymentId": "d-ROLLBACK1",
        "status": "Failed",
        "creator": "user",
        "createTime": T0,
        "revision": {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}},
        "errorInformation": {"code": "SCRIPT_FAILED", "message": "ValidateService failed"},
    }
    target = {
        "instanceTarget": {
            "targetId": "i-1",
            "status": "Failed",
            "lifecycleEvents": [
                {"lifecycleEventName": "ValidateService", "status": "Failed",
                 "diagnostics": {"errorCode": "ScriptFailed", "message": "exit 1",
                                 "logTail": "app not healthy\nHTTP 500"}},
            ],
        }
    }  # fmt: skip
    failing = "[2026-01-02 12:00:05.123] [d-ROLLBACK1][stderr]Error: app not healthy"
    other = "[2026-01-02 12:00:05.124] [d-OTHER0001]fine"
    agent_log = {"events": [{"message": failing}, {"message": other}]}
    read: list[str] = []

    def logs(group: str) -> dict[str, Any]:
        # the agent's file as the CloudWatch agent ships it: the stack's group only; the
        # events group does not exist in this account
        read.append(group)
        return agent_log if group == AGENT_GROUP else not_found()

    session = FakeSession(
        codedeploy={
            "list_deployments": {"deployments": ["d-ROLLBACK1", "d-PIPELINE1"]},
            "batch_get_deployments": {"deploymentsInfo": [deployment]},
            "get_deployment": {"deploymentInfo": deployment},
            "list_deployment_targets": {"targetIds": ["i-1"]},
            "batch_get_deployment_targets": {"deploymentTargets": [target]},
        },
        logs={"filter_log_events": lambda **kw: logs(kw["logGroupName"])},
    )
    failures = triage.deployment_failures(cast(Session, session), CONFIG, T0, known={"d-PIPELINE1"})
    assert [(f.failure_id, f.provider, f.reason) for f in failures] == [
        ("d-ROLLBACK1", "CodeDeploy", "SCRIPT_FAILED: ValidateService failed")
    ]
    excerpts = triage.log_excerpts(cast(Session, session), CONFIG, found(*failures))
    assert [(e.source, e.location) for e in excerpts.items] == [
        ("deployment script", "GetDeploymentTarget i-1"),
        ("agent log", AGENT_GROUP),
    ]
    assert excerpts.items[0].lines == (
        "ValidateService: ScriptFailed exit 1",
        "app not healthy",
        "HTTP 500",
    )
    assert excerpts.items[1].lines == (failing,)
    assert read == [AGENT_GROUP, "/aws/events/demo"]  # no bare codedeploy-agent-deployments


def test_an_unreadable_log_is_reported_in_the_excerpts_not_fatal() -> None:
    session = FakeSession(codebuild={"batch_get_builds": {"builds": []}})
    excerpts = triage.log_excerpts(
        cast(Session, session), CONFIG, found(failure("Build", "CodeBuild"))
    )
    assert [(e.source, e.lines) for e in excerpts.items] == [("unreadable", ("build x not found",))]
