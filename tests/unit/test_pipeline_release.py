"""Which execution a release follows: only one of the commit asked for, else a new one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from opslib.cli.stack import release_lines, served
from opslib.config import parse_config
from opslib.exceptions import ExecutionError
from opslib.ops import pipeline
from opslib.ops.fleet import Probe
from opslib.target import Session
from tests.unit.runbook_fakes import FakeClient, FakeSession

A, B = "a" * 40, "b" * 40
DEFINITION = {"pipeline": {"stages": [
    {"actions": [{"name": "Source", "actionTypeId": {"category": "Source"},
                  "configuration": {"ConnectionArn": "arn:c", "BranchName": "main"}}]},
    {"actions": [{"name": "Build", "actionTypeId": {"category": "Build"}}]},
]}}  # fmt: skip


def _summary(execution_id: str, status: str, revision: str = "") -> dict[str, Any]:
    revisions = [{"actionName": "Source", "revisionId": revision}] if revision else []
    return {"pipelineExecutionId": execution_id, "status": status, "sourceRevisions": revisions}


def _session(*pages: list[dict[str, Any]]) -> FakeSession:
    """Each ListPipelineExecutions answers the next page (the last one stays)."""
    answers = list(pages)

    def listing(**_: Any) -> dict[str, Any]:
        page = answers.pop(0) if len(answers) > 1 else answers[0]
        return {"pipelineExecutionSummaries": page}

    return FakeSession(
        codepipeline={
            "list_pipeline_executions": listing,
            "get_pipeline": DEFINITION,
            "start_pipeline_execution": {"pipelineExecutionId": "new"},
        }
    )


def _started(session: FakeSession) -> list[dict[str, Any]]:
    calls = session.clients["codepipeline"].calls
    return [kwargs for op, kwargs in calls if op == "start_pipeline_execution"]


def test_attaches_only_to_a_running_execution_of_the_commit() -> None:
    session = _session([_summary("of-b", "InProgress", B), _summary("of-a", "InProgress", A)])
    assert pipeline.start_or_attach(cast(Session, session), "p", A) == ("of-a", True)
    assert _started(session) == []


def test_another_commit_running_starts_one_pinned_to_the_commit() -> None:
    session = _session([_summary("of-a", "InProgress", A), _summary("old", "Succeeded", B)])
    assert pipeline.start_or_attach(cast(Session, session), "p", B) == ("new", False)
    assert _started(session) == [
        {
            "name": "p",
            "sourceRevisions": [
                {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": B}
            ],
        }
    ]


def test_an_execution_whose_source_has_not_run_is_waited_for() -> None:
    session = _session([_summary("fresh", "InProgress")], [_summary("fresh", "InProgress", A)])
    found = pipeline.start_or_attach(cast(Session, session), "p", A, wait=30)
    assert found == ("fresh", True)


def test_an_execution_that_never_says_its_commit_is_not_taken() -> None:
    session = _session([_summary("silent", "InProgress")])
    found = pipeline.start_or_attach(cast(Session, session), "p", A, wait=0)
    assert found == ("new", False)


def test_without_a_known_commit_any_running_execution_is_followed() -> None:
    session = _session([_summary("running", "InProgress", A)])
    session.clients["codestar-connections"] = FakeClient({"list_tags_for_resource": {"Tags": []}})
    assert pipeline.start_or_attach(cast(Session, session), "p") == ("running", True)


def _report(status: str, revision: str) -> pipeline.ExecutionReport:
    return pipeline.ExecutionReport("p", "e-1", status, revision)


def test_require_commit_fails_when_another_commit_was_released() -> None:
    pipeline.require_commit(_report("Succeeded", A), A)
    pipeline.require_commit(_report("Succeeded", B), "")  # nothing asked: nothing to check
    with pytest.raises(ExecutionError, match=f"e-1 released {B[:12]}, not {A[:12]} as asked"):
        pipeline.require_commit(_report("Succeeded", B), A)


def test_job_watch_reads_a_build_phase_and_only_new_log_lines() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    build = {"id": "proj:1", "buildStatus": "IN_PROGRESS", "currentPhase": "BUILD",
             "startTime": started, "logs": {"groupName": "g", "streamName": "s"}}  # fmt: skip
    pages = [
        {"events": [{"message": "one\n"}, {"message": "two\n"}], "nextForwardToken": "f/1"},
        {"events": [], "nextForwardToken": "f/1"},
        {"events": [], "nextForwardToken": "f/1"},
        {"events": [{"message": "three\n"}], "nextForwardToken": "f/2"},
        {"events": [], "nextForwardToken": "f/2"},
    ]
    session = FakeSession(
        codebuild={"batch_get_builds": {"builds": [build]}},
        logs={"get_log_events": lambda **_: pages.pop(0)},
    )
    watch = pipeline.JobWatch(cast(Session, session))
    update = pipeline.ActionUpdate("Build", "Build", "InProgress", "", "proj:1", "")
    first = watch.poll(update)
    assert first == pipeline.JobProgress("Build", "Build", "proj:1", "BUILD", started,
                                         ("one", "two"))  # fmt: skip
    assert watch.poll(update) is None  # same phase, no new line
    assert watch.poll(update) == pipeline.JobProgress(
        "Build", "Build", "proj:1", "BUILD", started, ("three",)
    )
    log_calls = [kwargs for _, kwargs in session.clients["logs"].calls]
    assert log_calls[0].get("startFromHead") is True and log_calls[-1]["nextToken"] == "f/2"


def test_job_watch_counts_a_deployment_s_instances() -> None:
    info = {"status": "InProgress", "createTime": datetime(2026, 1, 1, tzinfo=UTC),
            "deploymentOverview": {"Succeeded": 1, "InProgress": 1, "Pending": 1}}  # fmt: skip
    session = FakeSession(codedeploy={"get_deployment": {"deploymentInfo": info}})
    update = pipeline.ActionUpdate("Deploy", "Deploy", "InProgress", "", "d-1", "")
    event = pipeline.JobWatch(cast(Session, session)).poll(update)
    assert event is not None
    assert event.phase == "InProgress: 1 succeeded, 1 in progress, 1 pending"


def test_status_describes_the_last_execution() -> None:
    summary = {
        **_summary("e-7", "Succeeded", A),
        "startTime": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "lastUpdateTime": datetime(2026, 1, 2, 3, 4, 46, tzinfo=UTC),
    }
    summary["sourceRevisions"][0]["revisionSummary"] = "fix the thing\n\nlong body"
    assert pipeline.describe_execution(summary) == (
        f'e-7 Succeeded · commit {A[:12]} "fix the thing" · started 2026-01-02 03:04:05 UTC'
        " · took 41 s"
    )
    running = {**summary, "status": "InProgress", "sourceRevisions": []}
    assert pipeline.describe_execution(running) == (
        "e-7 InProgress · started 2026-01-02 03:04:05 UTC"
    )


def test_status_lines_say_what_each_instance_serves() -> None:
    session = FakeSession(codepipeline={"list_pipeline_executions": {
        "pipelineExecutionSummaries": [_summary("e-7", "Failed", B)]}})  # fmt: skip
    lines = release_lines(cast(Session, session), parse_config({"stack": "demo"}), {})
    assert lines == ["last pipeline execution:", f"  e-7 Failed · commit {B[:12]}"]
    assert served(Probe("ok", "1.0.0+abc1234", A)) == (
        f"1.0.0+abc1234 (commit {A[:12]}), health ok"
    )
    assert served(Probe("unreachable: refused")) == "nothing (unreachable: refused)"


def test_status_says_when_the_pipeline_never_ran() -> None:
    session = FakeSession(
        codepipeline={"list_pipeline_executions": {"pipelineExecutionSummaries": []}}
    )
    lines = release_lines(cast(Session, session), parse_config({"stack": "demo"}), {})
    assert lines == ["last pipeline execution:", "  none yet"]


def _state(status: str) -> dict[str, Any]:
    latest = {"pipelineExecutionId": "e1"}
    action = {
        "actionName": "Build",
        "latestExecution": {"status": status, "externalExecutionId": "b:1"},
    }
    stage = {"stageName": "Build", "latestExecution": latest, "actionStates": [action]}
    return {"stageStates": [stage]}


def test_follow_shows_the_end_of_an_action_that_finished_with_the_execution() -> None:
    """The Build action and the execution end between two reads: the end is still shown."""
    build = {"status": "InProgress"}

    def get_execution(**_: Any) -> dict[str, Any]:
        build["status"] = "Succeeded"  # the action ended with the execution, just now
        return {"pipelineExecution": {"pipelineExecutionId": "e1", "status": "Succeeded",
                                      "artifactRevisions": [{"revisionId": A}]}}  # fmt: skip

    session = FakeSession(
        codepipeline={
            "get_pipeline_state": lambda **_: _state(build["status"]),
            "get_pipeline_execution": get_execution,
        }
    )
    shown: list[str] = []
    report = pipeline.follow(cast(Session, session), "p", "e1", lambda u: shown.append(u.status))
    assert report.succeeded
    assert shown[-1] == "Succeeded"
