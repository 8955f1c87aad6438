"""CodePipeline executions really run: source from a local repo, build, approval, stop."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from opslib import emulator
from opslib.emulator import EmulatorInfo
from opslib.emulator.core.lifecycle import health
from tests.emulator.conftest import aws_cli, client
from tests.emulator.pipeline_helpers import (
    QUICK_BUILDSPEC,
    commit,
    create_pipeline,
    executions,
    make_repo,
    wait_for_action,
    wait_for_execution,
)


@pytest.fixture
def fast_polling(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    return start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="0.5")


def test_create_pipeline_runs_source_and_build(running: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sha = make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(running, "quick", repo)
    execution = wait_for_execution(running, "quick")
    assert execution["status"] == "Succeeded", execution
    assert execution["trigger"]["triggerType"] == "CreatePipeline"
    assert execution["sourceRevisions"][0]["revisionId"] == sha
    codepipeline = client(running, "codepipeline")
    detail = codepipeline.get_pipeline_execution(
        pipelineName="quick", pipelineExecutionId=execution["pipelineExecutionId"]
    )["pipelineExecution"]
    assert detail["artifactRevisions"][0]["revisionSummary"] == "first commit"
    actions = codepipeline.list_action_executions(pipelineName="quick")["actionExecutionDetails"]
    assert {a["actionName"]: a["status"] for a in actions} == {
        "Source": "Succeeded",
        "Build": "Succeeded",
    }
    build_id = next(a for a in actions if a["actionName"] == "Build")["output"]["executionResult"][
        "externalExecutionId"
    ]
    build = client(running, "codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["resolvedSourceVersion"] == sha  # the commit, as CodePipeline passes it
    states = {
        s["stageName"]: s["latestExecution"]["status"]
        for s in codepipeline.get_pipeline_state(name="quick")["stageStates"]
    }
    assert states == {"Source": "Succeeded", "Build": "Succeeded"}
    shown = aws_cli(
        running,
        "codepipeline",
        "get-pipeline-execution",
        "--pipeline-name",
        "quick",
        "--pipeline-execution-id",
        execution["pipelineExecutionId"],
    )
    assert shown["pipelineExecution"]["status"] == "Succeeded"


def test_a_failing_build_fails_the_execution(running: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(
        repo, {"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 7\n"}
    )
    create_pipeline(running, "failing", repo)
    execution = wait_for_execution(running, "failing")
    assert execution["status"] == "Failed"
    assert execution["statusSummary"].startswith("Build/Build: Build terminated with state: FAILED")
    state = client(running, "codepipeline").get_pipeline_state(name="failing")["stageStates"][1]
    assert state["actionStates"][0]["latestExecution"]["errorDetails"]["code"] == "JobFailed"


def test_a_new_commit_starts_an_execution(fast_polling: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(fast_polling, "watched", repo)
    wait_for_execution(fast_polling, "watched")
    second = commit(repo, {"hello.txt": "hello again\n"}, "second commit")
    execution = wait_for_execution(fast_polling, "watched", count=2)
    assert execution["trigger"]["triggerType"] == "PollForSourceChanges"
    assert execution["sourceRevisions"][0]["revisionId"] == second
    assert execution["status"] == "Succeeded"


def test_not_started_on_create_the_poll_waits_for_a_new_commit(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    """OPSLIB_PIPELINE_START_ON_CREATE=0: the head at creation counts as seen, so polls
    start nothing until a commit lands (tests that only check resources burn no build)."""
    info = start_emulator(OPSLIB_PIPELINE_START_ON_CREATE="0", OPSLIB_SOURCE_POLL_INTERVAL="0.3")
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(info, "quiet", repo)
    _wait_for_polls(info, 3)
    assert executions(info, "quiet") == []
    second = commit(repo, {"hello.txt": "hello again\n"}, "second commit")
    execution = wait_for_execution(info, "quiet")
    assert execution["trigger"]["triggerType"] == "PollForSourceChanges"
    assert execution["sourceRevisions"][0]["revisionId"] == second


@pytest.mark.parametrize(
    ("decision", "status"), [("Approved", "Succeeded"), ("Rejected", "Failed")]
)
def test_manual_approval_waits_for_a_person(
    running: EmulatorInfo, tmp_path: Path, decision: str, status: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(running, "gated", repo, approval=True)
    waiting = wait_for_action(running, "gated", "Approve")
    assert executions(running, "gated")[0]["status"] == "InProgress"
    client(running, "codepipeline").put_approval_result(
        pipelineName="gated", stageName="Approve", actionName="Approve",
        result={"summary": "looks good" if decision == "Approved" else "no", "status": decision},
        token=waiting["token"],
    )  # fmt: skip
    assert wait_for_execution(running, "gated")["status"] == status


def test_stop_with_abandon_stops_the_build(running: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(
        repo,
        {"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"},
    )
    create_pipeline(running, "stopped", repo)
    build = wait_for_action(running, "stopped", "Build")
    execution_id = executions(running, "stopped")[0]["pipelineExecutionId"]
    client(running, "codepipeline").stop_pipeline_execution(
        pipelineName="stopped", pipelineExecutionId=execution_id, abandon=True, reason="testing"
    )
    execution = wait_for_execution(running, "stopped")
    assert execution["status"] == "Stopped"
    status = client(running, "codebuild").batch_get_builds(ids=[build["externalExecutionId"]])[
        "builds"
    ][0]["buildStatus"]
    assert status == "STOPPED"


def test_a_newer_execution_supersedes_one_waiting_for_a_stage(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    repo, flag = tmp_path / "repo", tmp_path / "first-may-finish"
    held = WAIT_FOR_FLAG.replace("$RELEASE_FLAG", str(flag))  # Build waits for the flag
    make_repo(repo, {"buildspec.yml": held, "hello.txt": "hi\n"})
    create_pipeline(running, "busy", repo)
    wait_for_action(running, "busy", "Build")
    codepipeline = client(running, "codepipeline")
    second = codepipeline.start_pipeline_execution(name="busy")["pipelineExecutionId"]
    third = codepipeline.start_pipeline_execution(name="busy")["pipelineExecutionId"]
    flag.touch()  # only now may the first leave Build: the second waited behind it
    wait_for_execution(running, "busy", count=3, timeout=120)
    final = {e["pipelineExecutionId"]: e["status"] for e in executions(running, "busy")}
    assert final[second] == "Superseded"
    assert final[third] == "Succeeded"


def test_pipeline_events_reach_the_log_group(running: EmulatorInfo, tmp_path: Path) -> None:
    logs, events = client(running, "logs"), client(running, "events")
    logs.create_log_group(logGroupName="/aws/events/pipe")
    events.put_rule(Name="pipe", EventPattern=json.dumps({"source": ["aws.codepipeline"]}))
    events.put_targets(
        Rule="pipe",
        Targets=[
            {"Id": "l", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/pipe"}
        ],
    )
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(running, "evented", repo)
    wait_for_execution(running, "evented")
    found = [
        json.loads(e["message"])
        for e in logs.filter_log_events(logGroupName="/aws/events/pipe")["events"]
    ]
    seen = {(e["detail-type"], e["detail"].get("stage"), e["detail"]["state"]) for e in found}
    assert ("CodePipeline Pipeline Execution State Change", None, "STARTED") in seen
    assert ("CodePipeline Pipeline Execution State Change", None, "SUCCEEDED") in seen
    assert ("CodePipeline Stage Execution State Change", "Build", "SUCCEEDED") in seen
    assert ("CodePipeline Action Execution State Change", "Source", "SUCCEEDED") in seen


def _opslib(info: EmulatorInfo, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "opslib.yml"
    config.write_text(
        f"stack: quickstack\nemulator:\n  port: 0\n  state_dir: {info.state_dir}\n"
        "source:\n  repository: repo\n"  # the tests' repository, beside the config
    )
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_opslib_run_follows_to_success(running: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sha = make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(running, "quickstack-pipeline", repo)
    result = _opslib(running, tmp_path, "run")
    assert result.returncode == 0, result.stderr
    assert "attached to quickstack-pipeline" in result.stdout  # CreatePipeline started one
    assert "✓ Build/Build" in result.stdout
    assert f"quickstack-pipeline: Succeeded ({sha[:12]})" in result.stdout


def test_opslib_run_explains_a_failure(running: EmulatorInfo, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    failing = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo 3 tests failed\n      - exit 1\n"  # noqa: E501
    make_repo(repo, {"buildspec.yml": failing})
    create_pipeline(running, "quickstack-pipeline", repo)
    wait_for_execution(running, "quickstack-pipeline")
    result = _opslib(running, tmp_path, "run")
    assert result.returncode == 1
    assert "started quickstack-pipeline" in result.stdout
    assert "| 3 tests failed" in result.stderr  # the tail of the build's log
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: quickstack-pipeline execution ")
    assert "Failed at Build/Build: Build terminated with state: FAILED" in last
    assert "Traceback" not in result.stderr


def test_source_revisions_override_releases_an_older_commit(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    first = make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "one\n"})
    commit(repo, {"hello.txt": "two\n"}, "second commit")
    create_pipeline(running, "pinned", repo)
    wait_for_execution(running, "pinned")
    codepipeline = client(running, "codepipeline")
    revision = {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": first[:10]}
    codepipeline.start_pipeline_execution(name="pinned", sourceRevisions=[revision])
    execution = wait_for_execution(running, "pinned", count=2)
    assert execution["status"] == "Succeeded"
    assert execution["sourceRevisions"][0]["revisionId"] == first
    with pytest.raises(codepipeline.exceptions.ValidationException):
        codepipeline.start_pipeline_execution(
            name="pinned", sourceRevisions=[{**revision, "actionName": "Build"}]
        )


def _source_polls(info: EmulatorInfo) -> int:
    doc = health(info.endpoint)
    assert doc is not None
    return int(doc["source_polls"])


def _wait_for_polls(info: EmulatorInfo, count: int, timeout: float = 60) -> None:
    """Until the source poller has run ``count`` more times than now."""
    target = _source_polls(info) + count
    deadline = time.monotonic() + timeout
    while _source_polls(info) < target:
        assert time.monotonic() < deadline, f"the source poller did not run {count} times"
        time.sleep(0.1)


def test_one_push_one_execution(
    start_emulator: Callable[..., EmulatorInfo], state_dir: Path, tmp_path: Path
) -> None:
    """An execution started for the new head took it: the poll does not start another.

    The poller is held off (an hour's interval) while the commit is made and released, then
    the emulator restarts polling fast: the poll must see that commit as taken.
    """
    info = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="3600")
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(info, "once", repo)
    wait_for_execution(info, "once")
    pushed = commit(repo, {"hello.txt": "pushed\n"}, "one push")
    started = client(info, "codepipeline").start_pipeline_execution(name="once")
    execution = wait_for_execution(info, "once", count=2)
    assert execution["pipelineExecutionId"] == started["pipelineExecutionId"]
    assert execution["sourceRevisions"][0]["revisionId"] == pushed
    emulator.stop(state_dir)
    polling = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="0.3")
    _wait_for_polls(polling, 3)  # the poller had its chances to start a second one
    found = executions(polling, "once")
    assert [e["trigger"]["triggerType"] for e in found] == [
        "StartPipelineExecution",
        "CreatePipeline",
    ]


def test_a_pinned_older_commit_leaves_the_new_head_to_the_poll(
    fast_polling: EmulatorInfo, tmp_path: Path
) -> None:
    """Releasing an older commit is not the push of the new head: that still runs."""
    repo = tmp_path / "repo"
    first = make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "one\n"})
    create_pipeline(fast_polling, "pinned-old", repo)
    wait_for_execution(fast_polling, "pinned-old")
    codepipeline = client(fast_polling, "codepipeline")
    codepipeline.start_pipeline_execution(
        name="pinned-old",
        sourceRevisions=[
            {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": first}
        ],
    )
    second = commit(repo, {"hello.txt": "two\n"}, "second commit")
    polled = wait_for_execution(fast_polling, "pinned-old", count=3)
    assert polled["trigger"]["triggerType"] == "PollForSourceChanges"
    assert polled["sourceRevisions"][0]["revisionId"] == second


WAIT_FOR_FLAG = QUICK_BUILDSPEC.replace(
    "    commands:\n", '    commands:\n      - while [ ! -e "$RELEASE_FLAG" ]; do sleep 0.2; done\n'
)


def test_opslib_run_releases_the_head_not_another_running_commit(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    """The issue's sequence: an execution of commit A still runs when B is to be released."""
    info = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="3600")  # this test starts every run
    flag = tmp_path / "let-a-finish"
    repo = tmp_path / "repo"
    make_repo(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "hi\n"})
    create_pipeline(info, "quickstack-pipeline", repo)
    wait_for_execution(info, "quickstack-pipeline")
    buildspec = WAIT_FOR_FLAG.replace("$RELEASE_FLAG", str(flag))
    a = commit(repo, {"buildspec.yml": buildspec}, "commit A: its build waits")
    codepipeline = client(info, "codepipeline")
    running_a = codepipeline.start_pipeline_execution(name="quickstack-pipeline")
    wait_for_action(info, "quickstack-pipeline", "Build")  # A is building
    b = commit(repo, {"buildspec.yml": QUICK_BUILDSPEC, "hello.txt": "B\n"}, "commit B")
    config = tmp_path / "opslib.yml"
    config.write_text(
        f"stack: quickstack\nemulator:\n  port: 0\n  state_dir: {info.state_dir}\n"
        f"source:\n  repository: {repo}\n"
    )
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), "run"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as cli:
        assert cli.stdout is not None
        first_line = cli.stdout.readline()
        flag.touch()  # A may finish now; B must not have been taken for it
        out, err = cli.communicate(timeout=300)
    assert first_line.startswith("started quickstack-pipeline execution "), first_line
    assert first_line.rstrip().endswith(f"for commit {b[:12]}")
    assert running_a["pipelineExecutionId"] not in first_line
    assert cli.returncode == 0, err
    assert f"quickstack-pipeline: Succeeded ({b[:12]})" in out
    found = {e["pipelineExecutionId"]: e for e in executions(info, "quickstack-pipeline")}
    assert found[running_a["pipelineExecutionId"]]["sourceRevisions"][0]["revisionId"] == a


def test_opslib_run_attaches_to_a_running_execution_of_the_commit(
    start_emulator: Callable[..., EmulatorInfo], tmp_path: Path
) -> None:
    running = start_emulator(OPSLIB_SOURCE_POLL_INTERVAL="3600")  # one execution: the first
    repo = tmp_path / "repo"
    flag = tmp_path / "let-it-finish"
    first = make_repo(
        repo, {"buildspec.yml": WAIT_FOR_FLAG.replace("$RELEASE_FLAG", str(flag)), "hello.txt": "1"}
    )
    create_pipeline(running, "quickstack-pipeline", repo)
    wait_for_action(running, "quickstack-pipeline", "Build")  # CreatePipeline's run of first
    commit(repo, {"hello.txt": "2"}, "a newer head")
    config = tmp_path / "opslib.yml"
    config.write_text(
        f"stack: quickstack\nemulator:\n  port: 0\n  state_dir: {running.state_dir}\n"
        f"source:\n  repository: {repo}\n"
    )
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(config), "run"]
    with subprocess.Popen(
        [*command, "--commit", first[:8]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    ) as cli:  # fmt: skip
        assert cli.stdout is not None
        first_line = cli.stdout.readline()
        flag.touch()
        out, err = cli.communicate(timeout=300)
    assert first_line.startswith("attached to quickstack-pipeline execution "), first_line
    assert first_line.rstrip().endswith(f"for commit {first[:12]}")
    assert cli.returncode == 0, err
    assert f"quickstack-pipeline: Succeeded ({first[:12]})" in out
    assert len(executions(running, "quickstack-pipeline")) == 1
    bad = subprocess.run(
        [*command, "--commit", "no-such-commit"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == (f"Error: --commit: 'no-such-commit' is not a commit of {repo}")


def test_retry_stage_execution_reruns_the_failed_stage_and_goes_on(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed"  # the build fails until this file exists (the "fix")
    buildspec = f"version: 0.2\nphases:\n  build:\n    commands:\n      - test -f {fixed}\n"
    make_repo(tmp_path / "repo", {"buildspec.yml": buildspec})
    create_pipeline(running, "retried", tmp_path / "repo", approval=True)
    failed = wait_for_execution(running, "retried")
    assert failed["status"] == "Failed"
    execution_id = failed["pipelineExecutionId"]
    codepipeline = client(running, "codepipeline")
    errors = codepipeline.exceptions

    with pytest.raises(errors.StageNotRetryableException):  # Source succeeded
        codepipeline.retry_stage_execution(pipelineName="retried", stageName="Source",
            pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")  # fmt: skip
    with pytest.raises(errors.StageNotFoundException):
        codepipeline.retry_stage_execution(pipelineName="retried", stageName="Nope",
            pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")  # fmt: skip
    fixed.write_text("")
    retried = codepipeline.retry_stage_execution(pipelineName="retried", stageName="Build",
        pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")  # fmt: skip
    assert retried["pipelineExecutionId"] == execution_id
    with pytest.raises(errors.ConflictException):  # busy: it runs again
        codepipeline.retry_stage_execution(pipelineName="retried", stageName="Build",
            pipelineExecutionId=execution_id, retryMode="ALL_ACTIONS")  # fmt: skip

    approval = wait_for_action(running, "retried", "Approve")  # it went on to the next stage
    codepipeline.put_approval_result(
        pipelineName="retried", stageName="Approve", actionName="Approve",
        result={"summary": "ok", "status": "Approved"}, token=approval["token"],
    )  # fmt: skip
    done = wait_for_execution(running, "retried")
    assert (done["pipelineExecutionId"], done["status"]) == (execution_id, "Succeeded")
    assert "statusSummary" not in done or not done["statusSummary"]
    actions = codepipeline.list_action_executions(
        pipelineName="retried", filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    runs = sorted((a["actionName"], a["status"]) for a in actions)
    # the source ran once; the build twice (failed, then succeeded on the source it had)
    assert runs == [("Approve", "Succeeded"), ("Build", "Failed"), ("Build", "Succeeded"),
                    ("Source", "Succeeded")]  # fmt: skip
    assert len(executions(running, "retried")) == 1


def test_a_retried_build_builds_the_commit_its_source_took(
    running: EmulatorInfo, tmp_path: Path
) -> None:
    """RetryStageExecution reads the source artifact back from the records: the retried
    build still gets the commit as its sourceVersion, as the first attempt did."""
    fixed = tmp_path / "fixed"
    buildspec = f"version: 0.2\nphases:\n  build:\n    commands:\n      - test -f {fixed}\n"
    sha = make_repo(tmp_path / "repo", {"buildspec.yml": buildspec})
    create_pipeline(running, "rebuilt", tmp_path / "repo")
    execution_id = wait_for_execution(running, "rebuilt")["pipelineExecutionId"]
    fixed.write_text("")
    codepipeline = client(running, "codepipeline")
    codepipeline.retry_stage_execution(pipelineName="rebuilt", stageName="Build",
        pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")  # fmt: skip
    assert wait_for_execution(running, "rebuilt")["status"] == "Succeeded"
    actions = codepipeline.list_action_executions(
        pipelineName="rebuilt", filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    ids = [a["output"]["executionResult"]["externalExecutionId"] for a in actions
           if a["actionName"] == "Build"]  # fmt: skip
    builds = client(running, "codebuild").batch_get_builds(ids=ids)["builds"]
    assert [b["resolvedSourceVersion"] for b in builds] == [sha, sha]
