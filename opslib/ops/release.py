"""Release: take a commit through the pipeline and prove the fleet serves it.

The release runbook's steps, each one call: start the pipeline (or attach to the run in
progress) for the branch head or a given commit, follow it stage by stage, show the
build's test report (BatchGetReports / DescribeTestCases) and the deployment per host,
then verify every instance answers with the commit the pipeline built.

A given commit is passed as ``sourceRevisions`` (COMMIT_ID) to StartPipelineExecution, which
CodePipeline V2 honours; the release then checks that the pipeline really built that
commit, so a target that ignores the override is caught instead of believed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib.config import StackConfig
from opslib.exceptions import ConfigError, NotFoundError
from opslib.ops import pipeline
from opslib.ops.fleet import FleetReport, check_fleet, serves, verify
from opslib.render import Headline, Status
from opslib.runbooks.verdict import Verdict
from opslib.target import Session, aws_errors, paginate

if TYPE_CHECKING:
    import pandas

_MARKS = {"InProgress": "…", "Succeeded": "✓", "Failed": "✗", "Abandoned": "✗", "Stopped": "■"}


@dataclass(frozen=True)
class Started:
    """An execution the release follows: new or attached, and the commit it releases."""

    pipeline: str
    execution_id: str
    attached: bool
    commit: str = ""  # the commit asked for ('' when it cannot be known here)

    def describe(self) -> str:
        how = "attached to the running" if self.attached else "started"
        what = f" for commit {self.commit[:12]}" if self.commit else " for the branch head"
        return f"{how} {self.pipeline} execution {self.execution_id}{what}"

    def _repr_markdown_(self) -> str:
        return self.describe()


def _repository(config: StackConfig) -> Path:
    return config.base_dir() / config.source.repository


def resolve_commit(config: StackConfig, commit: str, what: str = "parameter 'commit'") -> str:
    """A commit (SHA, prefix, tag) as the full SHA, from the local repository when it has it."""
    if not commit:
        return ""
    repo = _repository(config)
    sha = pipeline.rev_parse(repo, commit)
    if sha:
        return sha
    if repo.joinpath(".git").exists():
        raise ConfigError(f"{what}: {commit!r} is not a commit of {repo}")
    return commit


def head_commit(session: Session, config: StackConfig, name: str) -> str:
    """The commit a release of the branch head means: the head the pipeline's source reads
    (local target), else the head of ``source.branch`` in the local checkout ('' if none)."""
    found = pipeline.source_head(session, name)
    return found or pipeline.rev_parse(_repository(config), f"refs/heads/{config.source.branch}")


def source_action(session: Session, name: str) -> str:
    """The name of the pipeline's source action (the one a commit override applies to)."""
    return pipeline.source_action(session, name)


def ensure_stack(
    session: Session, config: StackConfig, echo: Callable[[str], None] = lambda _: None
) -> str:
    """Make sure the pipeline exists: on ``local`` a missing stack is provisioned first.

    So a release on a fresh clone goes all the way (``opslib up``, then the pipeline). On
    ``aws`` creating real resources is the provision runbook's decision, not a side effect
    of a release: a missing pipeline is an error saying so.
    """
    name = pipeline.pipeline_name(config.stack)
    try:
        with aws_errors("codepipeline", "GetPipeline"):
            session.client("codepipeline").get_pipeline(name=name)
        return f"stack {config.stack}: pipeline {name} is there"
    except NotFoundError:
        if not session.target.is_local:
            raise ConfigError(
                f"pipeline {name} does not exist on {session.target.describe()}: provision "
                "the stack first ('opslib up' or the provision runbook with dry_run=False)"
            ) from None
    from opslib import stack
    from opslib.stack import display

    def progress(change: Any, status: Any) -> None:
        line = display.progress_line(change, status)
        if line:
            echo(line)

    summary = display.run_summary(stack.apply(session, config, progress), "up")
    return f"stack {config.stack} provisioned on the local emulator ({summary})"


def start_release(
    session: Session, config: StackConfig, commit: str = "", name: str = "", what: str = ""
) -> Started:
    """An execution releasing ``commit`` (default: the branch head): attached, else started.

    Only an execution in progress whose source took that very commit is attached to; any
    other is left to run, and a new execution pinned to the commit is started.
    """
    name = name or pipeline.pipeline_name(config.stack)
    if commit:
        sha = resolve_commit(config, commit, what or "parameter 'commit'")
    else:
        sha = head_commit(session, config, name)
    execution_id, attached = pipeline.start_or_attach(session, name, sha)
    return Started(name, execution_id, attached, sha)


def describe_update(update: pipeline.ActionUpdate) -> str:
    """One progress line: mark, stage/action, status and what it says."""
    mark = _MARKS.get(update.status, "·")
    detail = update.error or update.summary or update.external_id
    return f"{mark} {update.stage}/{update.action}: {update.status} {detail}".rstrip()[:200]


def follow_release(
    session: Session,
    started: Started,
    echo: Callable[[str], None] = lambda _: None,
    timeout: float = 3600.0,
) -> pipeline.ExecutionReport:
    """Follow the execution to its end, one ``echo`` line per action change."""
    return pipeline.follow(
        session,
        started.pipeline,
        started.execution_id,
        lambda update: echo(describe_update(update)),
        timeout=timeout,
    )


def action_executions(session: Session, name: str, execution_id: str) -> list[dict[str, Any]]:
    """Every action of one execution (ListActionExecutions), oldest first."""
    details: list[dict[str, Any]] = []
    for page in paginate(
        session, "codepipeline", "ListActionExecutions",
        pipelineName=name, filter={"pipelineExecutionId": execution_id},
    ):  # fmt: skip
        details += page["actionExecutionDetails"]
    return sorted(details, key=lambda d: d.get("startTime") or 0)


@dataclass
class Steps:
    """The actions one execution ran, with the build and deployment behind them."""

    execution_id: str
    details: list[dict[str, Any]]

    @property
    def build_id(self) -> str:
        return external_id(self.details, "CodeBuild")

    @property
    def deployment_id(self) -> str:
        return external_id(self.details, "CodeDeploy")

    def frame(self) -> pandas.DataFrame:
        """One row per action: stage, action, status, seconds, what it ran, its message."""
        import pandas

        rows = []
        for detail in self.details:
            result = (detail.get("output") or {}).get("executionResult") or {}
            start, end = detail.get("startTime"), detail.get("lastUpdateTime")
            seconds = (end - start).total_seconds() if start and end else None
            rows.append(
                {
                    "stage": detail.get("stageName", ""),
                    "action": detail.get("actionName", ""),
                    "status": detail.get("status", ""),
                    "seconds": round(seconds, 1) if seconds is not None else None,
                    "ran": result.get("externalExecutionId", ""),
                    "message": (result.get("errorDetails") or {}).get("message")
                    or result.get("externalExecutionSummary", ""),
                }
            )
        columns = ["stage", "action", "status", "seconds", "ran", "message"]
        return pandas.DataFrame(rows, columns=columns)

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"stage": d.get("stageName"), "action": d.get("actionName"), "status": d.get("status")}
            for d in self.details
        ]


def steps(session: Session, report: pipeline.ExecutionReport) -> Steps:
    """The actions of a finished execution (ListActionExecutions)."""
    details = action_executions(session, report.pipeline, report.execution_id)
    return Steps(report.execution_id, details)


def verify_fleet(
    session: Session,
    config: StackConfig,
    report: pipeline.ExecutionReport,
    timeout: float = 120.0,
) -> FleetReport:
    """The fleet polled until it serves the released commit (or as it is, after a failure)."""
    if not report.succeeded:
        return check_fleet(session, config)
    return verify(session, config, commit=report.revision, timeout=timeout)


def external_id(details: list[dict[str, Any]], provider: str) -> str:
    """The external id (build id, deployment id) of the last action run by ``provider``."""
    found = ""
    for detail in details:
        if (detail.get("input") or {}).get("actionTypeId", {}).get("provider") == provider:
            result = (detail.get("output") or {}).get("executionResult") or {}
            found = str(result.get("externalExecutionId") or found)
    return found


FAILED_STATUSES = ("FAILED", "ERROR")  # test case statuses that fail a report


def _failed_count(counts: dict[str, int]) -> int:
    return sum(counts.get(status, 0) for status in FAILED_STATUSES)


@dataclass(frozen=True)
class CaseResult:
    """One test case of a report, as DescribeTestCases gives it."""

    suite: str
    name: str
    status: str
    duration_ms: float
    message: str = ""


@dataclass(frozen=True)
class ReportSummary:
    """One report of a build: tests (counts) or coverage (line %)."""

    name: str
    kind: str
    status: str
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    line_coverage: float | None = None


@dataclass
class BuildReport:
    """The build's reports and test cases."""

    build_id: str
    reports: list[ReportSummary]
    cases: list[CaseResult]

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.status in FAILED_STATUSES]

    def frame(self) -> pandas.DataFrame:
        """One row per report: kind, status, tests passed/failed, line coverage."""
        import pandas

        rows = []
        for r in self.reports:
            tests = r.kind == "TEST"
            rows.append(
                {
                    "report": r.name,
                    "kind": r.kind,
                    "status": r.status,
                    "tests": r.total if tests else None,
                    "passed": r.counts.get("SUCCEEDED", 0) if tests else None,
                    "failed": r.counts.get("FAILED", 0) + r.counts.get("ERROR", 0)
                    if tests
                    else None,
                    "line coverage %": None if tests else r.line_coverage,
                }
            )
        columns = ["report", "kind", "status", "tests", "passed", "failed", "line coverage %"]
        frame = pandas.DataFrame(rows, columns=columns)
        return frame.astype({"tests": "Int64", "passed": "Int64", "failed": "Int64"})

    def suites_frame(self) -> pandas.DataFrame:
        """One row per test suite: tests, passed, failed, time, and the failing tests' names."""
        import pandas

        suites: dict[str, list[CaseResult]] = {}
        for case in self.cases:
            suites.setdefault(case.suite, []).append(case)
        rows = [
            {
                "suite": suite,
                "tests": len(cases),
                "passed": sum(c.status == "SUCCEEDED" for c in cases),
                "failed": sum(c.status in FAILED_STATUSES for c in cases),
                "ms": round(sum(c.duration_ms for c in cases), 1),
                "failing tests": "; ".join(
                    c.name for c in cases if c.status in ("FAILED", "ERROR")
                ),
            }
            for suite, cases in sorted(suites.items())
        ]
        columns = ["suite", "tests", "passed", "failed", "ms", "failing tests"]
        return pandas.DataFrame(rows, columns=columns)

    def summary(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "tests": len(self.cases),
            "failed": [f"{c.suite} {c.name}" for c in self.failed],
            "reports": [
                {"name": r.name, "kind": r.kind, "status": r.status, "total": r.total,
                 "line_coverage": r.line_coverage}
                for r in self.reports
            ],
        }  # fmt: skip


def _report_summary(report: dict[str, Any]) -> ReportSummary:
    name = str(report.get("arn", "")).split("/")[-1].split(":")[0]
    tests = report.get("testSummary") or {}
    coverage = report.get("codeCoverageSummary") or {}
    return ReportSummary(
        name=name,
        kind=str(report.get("type", "")),
        status=str(report.get("status", "")),
        total=int(tests.get("total", 0)),
        counts={k: int(v) for k, v in (tests.get("statusCounts") or {}).items()},
        line_coverage=coverage.get("lineCoveragePercentage"),
    )


def _case_results(session: Session, report_arn: str) -> list[CaseResult]:
    cases = []
    for page in paginate(session, "codebuild", "DescribeTestCases", reportArn=report_arn):
        cases += [
            CaseResult(
                suite=str(c.get("testSuiteName") or c.get("prefix") or ""),
                name=str(c.get("name", "")),
                status=str(c.get("status", "")),
                duration_ms=round(int(c.get("durationInNanoSeconds", 0)) / 1e6, 3),
                message=str(c.get("message") or "")[:300],
            )
            for c in page["testCases"]
        ]
    return cases


def build_report(session: Session, build_id: str) -> BuildReport:
    """The build's test and coverage reports (BatchGetBuilds → BatchGetReports → cases)."""
    if not build_id:
        return BuildReport("", [], [])
    with aws_errors("codebuild", "BatchGetBuilds"):
        found = session.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    arns = list(found[0].get("reportArns") or []) if found else []
    reports: list[dict[str, Any]] = []
    if arns:
        with aws_errors("codebuild", "BatchGetReports"):
            reports = session.client("codebuild").batch_get_reports(reportArns=arns)["reports"]
    cases = [
        c for r in reports if r.get("type") == "TEST" for c in _case_results(session, r["arn"])
    ]
    return BuildReport(build_id, [_report_summary(r) for r in reports], cases)


def verdict(
    report: pipeline.ExecutionReport, fleet_report: FleetReport | None, commit: str = ""
) -> Verdict:
    """✓ when the execution succeeded, built the commit asked for, and the fleet serves it."""
    if not report.succeeded:
        failed = report.failed_action
        where = (
            f" at {failed.stage}/{failed.action}: {failed.error or failed.summary}"
            if failed
            else ""
        )
        return Verdict(False, f"{report.pipeline} execution {report.status}{where}")
    if commit and not report.revision.startswith(commit):
        return Verdict(
            False,
            f"the pipeline built {report.revision[:12] or 'an unknown revision'}, not the "
            f"requested {commit[:12]} (the target ignored the commit override)",
        )
    if fleet_report is None:
        return Verdict(False, "the fleet was not verified")
    wrong = serves(fleet_report, commit=report.revision)
    if wrong:
        names = ", ".join(
            f"{i.name or i.instance_id} ({i.health}, {i.commit[:7] or '-'})" for i in wrong
        )
        return Verdict(False, f"released {report.revision[:12]}, but not served by: {names}")
    count = len(fleet_report.instances)
    return Verdict(True, f"released {report.revision[:12]}: all {count} instance(s) healthy on it")


def headlines(
    report: pipeline.ExecutionReport, tests: BuildReport | None, served: FleetReport | None
) -> tuple[Headline, ...]:
    """The release card: how the pipeline ended, the commit, the tests, the fleet."""
    from opslib.ops.fleet import healthy_headline

    found = [
        Headline("pipeline", report.status, report.execution_id[:12],
                 Status.GOOD if report.succeeded else Status.BAD),
        Headline("commit", report.revision[:12] or "–"),
    ]  # fmt: skip
    if tests is not None and tests.cases:
        failed = len(tests.failed)
        found.append(Headline("tests", f"{len(tests.cases) - failed} of {len(tests.cases)}",
                              "passed", Status.BAD if failed else Status.GOOD))  # fmt: skip
    found.append(healthy_headline(served))
    return tuple(found)
