"""``opslib runbook run`` end to end on the suite's stack: the record, the exit status, and
the paths the defaults do not take (a real rollback, a bad parameter, a failed build)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opslib.ops import pipeline
from opslib.runbooks import catalog
from opslib.runbooks.runner import RunRecord, run_runbook
from tests.runbooks.conftest import OTHER_RELEASE, PIPELINE_TIMEOUT, SuiteStack, git
from tests.runbooks.suite import REPO

BROKEN_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands: [echo this is: not a list\n"


def opslib_cli(suite: SuiteStack, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "opslib.cli.main", "--config", str(suite.config_path), *args]
    return subprocess.run(
        command,
        cwd=suite.work,
        env={**os.environ, **suite.env(), "OPSLIB_RUNBOOKS_DIR": str(REPO / "runbooks")},
        capture_output=True,
        text=True,
        check=False,
    )


def run(suite: SuiteStack, name: str, **parameters: Any) -> RunRecord:
    info = catalog.find_runbook(name, REPO / "runbooks")
    given = {"config": str(suite.config_path), **parameters}
    return run_runbook(info, given, reports_dir=suite.reports)


def test_cli_rollback_redeploys_the_previous_revision_and_records_it(
    suite_stack: SuiteStack,
) -> None:
    done = opslib_cli(suite_stack, "runbook", "run", "rollback", "-q", "-p", "confirm", "true")
    assert done.returncode == 0, done.stdout + done.stderr
    # the current revision is a re-release of the first commit: the way back is the other one
    assert f"✓ rolled back to {OTHER_RELEASE['version']}" in done.stdout
    summary_line = next(line for line in done.stdout.splitlines() if line.startswith("summary:"))
    summary = json.loads(Path(suite_stack.work, summary_line.split(":", 1)[1].strip()).read_text())
    assert summary["status"] == "succeeded" and summary["ok"] is True
    assert summary["parameters"]["confirm"] is True
    assert summary["data"]["deployment"]["status"] == "Succeeded"
    html = Path(suite_stack.work, summary["html"]).read_text()
    assert "rollback.execute(" not in html  # exported without code cells
    assert "rolled back to" in html


def test_cli_bad_parameter_fails_naming_the_parameter_and_the_cell(
    suite_stack: SuiteStack,
) -> None:
    done = opslib_cli(suite_stack, "runbook", "run", "triage", "-q", "-p", "hours", "0")
    assert done.returncode == 1
    assert "failed at cell" in done.stderr and "'validate'" in done.stderr
    assert "parameter 'hours'" in done.stderr


def _wait_failed_execution(suite: SuiteStack) -> dict[str, Any]:
    session, name = suite.session(), pipeline.pipeline_name(suite.config.stack)
    execution_id, _ = pipeline.start_or_attach(session, name)
    report = pipeline.follow(session, name, execution_id, timeout=PIPELINE_TIMEOUT, poll=0.5)
    assert report.status == "Failed", report
    return {"execution_id": execution_id, "report": report}


@pytest.fixture
def broken_build(suite_stack: SuiteStack) -> Any:
    """A commit whose buildspec CodeBuild rejects, released and failed; then reverted."""
    good = git(suite_stack.source, "rev-parse", "HEAD")
    (suite_stack.source / "buildspec.yml").write_text(BROKEN_BUILDSPEC)
    git(suite_stack.source, "commit", "--quiet", "-am", "break the buildspec")
    try:
        yield _wait_failed_execution(suite_stack)
    finally:
        git(suite_stack.source, "reset", "--quiet", "--hard", good)


def test_triage_finds_the_failed_build_its_log_and_suggests_release(
    suite_stack: SuiteStack, broken_build: dict[str, Any]
) -> None:
    started = time.monotonic()
    record = run(suite_stack, "triage", hours=1)
    assert record.ok, record.failure()  # triage reports problems, it does not fail on them
    assert record.verdict.startswith("✗") and "next: release" in record.verdict
    data = json.loads(record.paths.summary.read_text())["data"]
    failure = next(
        f for f in data["failures"]["failures"] if f["failure_id"] == broken_build["execution_id"]
    )
    assert (failure["stage"], failure["provider"], failure["resolved"]) == (
        "Build",
        "CodeBuild",
        False,
    )
    assert data["suggestion"]["runbook"] == "release"
    html = record.paths.html.read_text()
    assert "build log" in html and broken_build["execution_id"] in html
    assert time.monotonic() - started < 120
