"""CodePipeline from the user's side: start (or attach to) an execution and follow it.

The same calls on both targets. Progress is reported as a stream of
:class:`ActionUpdate` values (stage, action, status, summary) so the CLI and the
runbooks can show it their own way; a failed execution is explained with the failing
action, its reason and the tail of its log (the build's log, or the deployment's
script output).

A release is of one commit: :func:`start_or_attach` attaches only to an execution in
progress whose source took that commit, and otherwise starts one pinned to it
(``sourceRevisions``, COMMIT_ID), which catches up with older ones as the pipeline's
execution mode says. Another execution in progress is never taken for the release.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opslib.exceptions import AwsError, ConfigError, ExecutionError, NotFoundError
from opslib.ops import builds
from opslib.target import Session, aws_errors

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})
LOCAL_REPOSITORY_TAG = "opslib:local-repository"  # the emulator's stand-in for GitHub
SOURCE_WAIT = 30.0  # how long a running execution may take to say which commit it took


@dataclass(frozen=True)
class ActionUpdate:
    """One action's state as GetPipelineState reports it."""

    stage: str
    action: str
    status: str
    summary: str
    external_id: str
    error: str


@dataclass(frozen=True)
class JobProgress:
    """What the job behind a running action is doing, between two action updates.

    A build: its current phase and the log lines new since the last event. A deployment:
    how many of its instances are where (``2 succeeded, 1 in progress``).
    """

    stage: str
    action: str
    job_id: str
    phase: str
    started: datetime | None = None
    lines: tuple[str, ...] = ()


class JobWatch:
    """Polls the builds and deployments of running actions; yields what changed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cursors: dict[str, builds.LogCursor] = {}
        self._phases: dict[str, str] = {}

    def poll(self, update: ActionUpdate) -> JobProgress | None:
        """The job's progress since the last poll; None when nothing changed."""
        job = update.external_id
        if update.status != "InProgress" or not job:
            return None
        if ":" in job:  # a CodeBuild build id is project:uuid
            phase, started, lines = self._build(job)
        elif job.startswith("d-"):
            phase, started, lines = self._deployment(job)
        else:
            return None
        if phase == self._phases.get(job) and not lines:
            return None
        self._phases[job] = phase
        return JobProgress(update.stage, update.action, job, phase, started, tuple(lines))

    def _build(self, build_id: str) -> tuple[str, datetime | None, list[str]]:
        view = builds.get_build(self.session, build_id)
        lines: list[str] = []
        if view.log_group and view.log_stream:
            cursor = self._cursors.setdefault(
                build_id, builds.LogCursor(view.log_group, view.log_stream)
            )
            lines = [line.rstrip("\n") for line in cursor.read(self.session)]
        return view.current_phase, view.started, lines

    def _deployment(self, deployment_id: str) -> tuple[str, datetime | None, list[str]]:
        with aws_errors("codedeploy", "GetDeployment"):
            info = self.session.client("codedeploy").get_deployment(deploymentId=deployment_id)
        info = info["deploymentInfo"]
        overview = info.get("deploymentOverview") or {}
        counts = [f"{overview[key]} {label}" for key, label in _DEPLOY_STATES if overview.get(key)]
        phase = f"{info.get('status', '')}: {', '.join(counts) or 'no instances yet'}"
        created = info.get("createTime")
        return phase, created if isinstance(created, datetime) else None, []


_DEPLOY_STATES = (
    ("Succeeded", "succeeded"),
    ("InProgress", "in progress"),
    ("Pending", "pending"),
    ("Failed", "failed"),
    ("Skipped", "skipped"),
)


@dataclass
class ExecutionReport:
    """How an execution ended and, when it failed, why."""

    pipeline: str
    execution_id: str
    status: str
    revision: str
    failed_action: ActionUpdate | None = None
    log_tail: list[str] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"


def pipeline_name(stack: str) -> str:
    """The stack's pipeline, as provisioning names it."""
    return f"{stack}-pipeline"


def start_or_attach(
    session: Session, name: str, commit: str = "", *, wait: float = SOURCE_WAIT
) -> tuple[str, bool]:
    """An execution releasing ``commit``: the one in progress (attached: True), else a new one.

    ``commit`` is a full SHA; without one, the head of the pipeline's watched branch where
    it can be read (:func:`source_head`). When neither is known, any execution in progress
    is attached to, as before.
    """
    commit = commit or source_head(session, name)
    if not commit:
        running = [s for s in _summaries(session, name) if s["status"] == "InProgress"]
        if running:
            return str(running[0]["pipelineExecutionId"]), True
        return start_execution(session, name), False
    attached = running_execution_of(session, name, commit, wait=wait)
    if attached:
        return attached, True
    return start_execution(session, name, commit), False


def _summaries(session: Session, name: str) -> list[dict[str, Any]]:
    with aws_errors("codepipeline", "ListPipelineExecutions"):
        response = session.client("codepipeline").list_pipeline_executions(
            pipelineName=name, maxResults=25
        )
    return list(response["pipelineExecutionSummaries"])


def source_revision(summary: dict[str, Any]) -> str:
    """The commit an execution's source took ('' while its Source has not run yet)."""
    revisions = summary.get("sourceRevisions") or []
    return str(revisions[0].get("revisionId", "")) if revisions else ""


def running_execution_of(
    session: Session, name: str, commit: str, *, wait: float = SOURCE_WAIT, poll: float = 0.5
) -> str | None:
    """The newest execution in progress whose source took ``commit``, if there is one.

    An execution whose Source has not run yet does not say its commit: wait for it (up to
    ``wait`` seconds) rather than take it, or start a second one beside it, blindly.
    """
    deadline = time.monotonic() + wait
    while True:
        running = [s for s in _summaries(session, name) if s["status"] == "InProgress"]
        for summary in running:
            if source_revision(summary) == commit:
                return str(summary["pipelineExecutionId"])
        if all(source_revision(s) for s in running) or time.monotonic() > deadline:
            return None
        time.sleep(poll)  # the Source action takes its commit within seconds; no push


def start_execution(session: Session, name: str, commit: str = "") -> str:
    """StartPipelineExecution, pinned to ``commit`` (sourceRevisions, COMMIT_ID) when given."""
    kwargs: dict[str, Any] = {"name": name}
    if commit:
        kwargs["sourceRevisions"] = [
            {"actionName": source_action(session, name), "revisionType": "COMMIT_ID",
             "revisionValue": commit}
        ]  # fmt: skip
    with aws_errors("codepipeline", "StartPipelineExecution"):
        response = session.client("codepipeline").start_pipeline_execution(**kwargs)
    return str(response["pipelineExecutionId"])


def _source(session: Session, name: str) -> dict[str, Any]:
    with aws_errors("codepipeline", "GetPipeline"):
        definition = session.client("codepipeline").get_pipeline(name=name)["pipeline"]
    for stage in definition["stages"]:
        for action in stage["actions"]:
            if action["actionTypeId"]["category"] == "Source":
                return dict(action)
    raise ConfigError(f"pipeline {name}: has no source action to give a commit to")


def source_action(session: Session, name: str) -> str:
    """The name of the pipeline's source action (the one a commit override applies to)."""
    return str(_source(session, name)["name"])


def source_head(session: Session, name: str) -> str:
    """The head of the branch the pipeline's source watches, where this machine can read it.

    On the local target the connection names the git repository it stands for (its
    ``opslib:local-repository`` tag): exactly what the Source action snapshots. Elsewhere
    (a GitHub connection) '' — the caller knows the local checkout, opslib does not.
    """
    config = _source(session, name).get("configuration") or {}
    arn, branch = config.get("ConnectionArn"), config.get("BranchName")
    if not arn or not branch:
        return ""
    try:
        with aws_errors("codestar-connections", "ListTagsForResource"):
            tags = session.client("codestar-connections").list_tags_for_resource(ResourceArn=arn)
    except AwsError as exc:  # not allowed to read tags, say: the head is not known here
        logger.debug("no local repository for %s: %s", arn, exc)
        return ""
    repository = next(
        (t["Value"] for t in tags.get("Tags", []) if t["Key"] == LOCAL_REPOSITORY_TAG), ""
    )
    return rev_parse(Path(repository), f"refs/heads/{branch}") if repository else ""


def rev_parse(repo: Path, revision: str) -> str:
    """The full SHA of ``revision`` in a local git repository, '' when it has no such commit."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def latest_execution(session: Session, name: str) -> dict[str, Any] | None:
    """The newest execution's summary (ListPipelineExecutions), None when it never ran."""
    try:
        summaries = _summaries(session, name)
    except NotFoundError:
        return None
    return summaries[0] if summaries else None


def describe_execution(summary: dict[str, Any]) -> str:
    """``<id> Succeeded · commit abc123456789 "message" · started ... UTC · took 41 s``."""
    parts = [f"{summary.get('pipelineExecutionId', '?')} {summary.get('status', '?')}"]
    revisions = summary.get("sourceRevisions") or [{}]
    if revisions[0].get("revisionId"):
        message = str(revisions[0].get("revisionSummary") or "").splitlines()
        parts.append(
            f"commit {revisions[0]['revisionId'][:12]}" + (f' "{message[0]}"' if message else "")
        )
    started, updated = summary.get("startTime"), summary.get("lastUpdateTime")
    if isinstance(started, datetime):
        parts.append(f"started {started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        if isinstance(updated, datetime) and summary.get("status") != "InProgress":
            parts.append(f"took {(updated - started).total_seconds():.0f} s")
    return " · ".join(parts)


def require_commit(report: ExecutionReport, commit: str) -> None:
    """Fail when a finished execution released another commit than the one asked for."""
    if commit and report.succeeded and report.revision != commit:
        raise ExecutionError(
            f"{report.pipeline} execution {report.execution_id} released "
            f"{report.revision[:12] or 'an unknown revision'}, not {commit[:12]} as asked"
        )


def action_updates(session: Session, name: str, execution_id: str) -> list[ActionUpdate]:
    """The state of every action this execution has reached."""
    with aws_errors("codepipeline", "GetPipelineState"):
        stages = session.client("codepipeline").get_pipeline_state(name=name)["stageStates"]
    updates = []
    for stage in stages:
        if stage.get("latestExecution", {}).get("pipelineExecutionId") != execution_id:
            continue
        for action in stage["actionStates"]:
            latest = action.get("latestExecution")
            if latest:
                updates.append(_update(stage["stageName"], action["actionName"], latest))
    return updates


def _update(stage: str, action: str, latest: dict[str, Any]) -> ActionUpdate:
    return ActionUpdate(
        stage=stage,
        action=action,
        status=latest.get("status", ""),
        summary=latest.get("summary", ""),
        external_id=latest.get("externalExecutionId", ""),
        error=latest.get("errorDetails", {}).get("message", ""),
    )


def get_execution(session: Session, name: str, execution_id: str) -> dict[str, Any]:
    with aws_errors("codepipeline", "GetPipelineExecution"):
        response = session.client("codepipeline").get_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution_id
        )
    return dict(response["pipelineExecution"])


def follow(
    session: Session,
    name: str,
    execution_id: str,
    on_update: Callable[[ActionUpdate], None] = lambda _: None,
    timeout: float = 3600.0,
    poll: float = 1.0,
    on_job: Callable[[JobProgress], None] | None = None,
) -> ExecutionReport:
    """Follow an execution to its end, calling ``on_update`` at every action change.

    With ``on_job``, the builds and deployments of running actions are read too, and every
    change of theirs (a build's phase, new log lines, a deployment's instances) is passed on.
    """
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    jobs = JobWatch(session) if on_job is not None else None
    deadline = time.monotonic() + timeout
    while True:
        # The execution first: once it has ended, the actions read after it are final too,
        # so the last pass shows every action's end (read the other way round, an action
        # finishing between the two reads was never shown).
        execution = get_execution(session, name, execution_id)
        for update in action_updates(session, name, execution_id):
            key = (update.stage, update.action)
            if seen.get(key) != (update.status, update.external_id):
                seen[key] = (update.status, update.external_id)
                on_update(update)
            progress = jobs.poll(update) if jobs is not None else None
            if progress is not None and on_job is not None:
                on_job(progress)
        if execution["status"] in TERMINAL:
            return _report(session, name, execution)
        if time.monotonic() > deadline:
            raise ExecutionError(
                f"{name}: execution {execution_id} still running after {timeout:.0f}s"
            )
        time.sleep(poll)  # AWS offers no push for execution progress


def _report(session: Session, name: str, execution: dict[str, Any]) -> ExecutionReport:
    revisions = execution.get("artifactRevisions") or [{}]
    report = ExecutionReport(
        name,
        execution["pipelineExecutionId"],
        execution["status"],
        revisions[0].get("revisionId", ""),
    )
    if not report.succeeded:
        updates = action_updates(session, name, report.execution_id)
        report.failed_action = next(
            (u for u in updates if u.status in ("Failed", "Abandoned")), None
        )
        if report.failed_action is not None:
            report.log_tail = failure_log_tail(session, report.failed_action)
    return report


def failure_log_tail(session: Session, action: ActionUpdate, lines: int = 25) -> list[str]:
    """The last lines that explain a failed action: build log or deployment script output."""
    if ":" in action.external_id:  # a CodeBuild build id is project:uuid
        view = builds.get_build(session, action.external_id)
        return list(builds.log_events(session, view.log_group, view.log_stream))[-lines:]
    if action.external_id.startswith("d-"):
        return _deployment_tail(session, action.external_id)[-lines:]
    return []


def _deployment_tail(session: Session, deployment_id: str) -> list[str]:
    client = session.client("codedeploy")
    with aws_errors("codedeploy", "ListDeploymentTargets"):
        targets = client.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    for target in targets:
        with aws_errors("codedeploy", "GetDeploymentTarget"):
            detail = client.get_deployment_target(deploymentId=deployment_id, targetId=target)
        for event in (
            detail["deploymentTarget"].get("instanceTarget", {}).get("lifecycleEvents", [])
        ):
            diagnostics = event.get("diagnostics") or {}
            if event.get("status") == "Failed" and diagnostics:
                reason = f"{diagnostics.get('errorCode')} {diagnostics.get('message', '')}"
                head = f"{target} {event['lifecycleEventName']}: {reason}"
                return [head, *str(diagnostics.get("logTail", "")).splitlines()]
    return []
