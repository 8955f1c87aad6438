"""The runbook suite: which notebooks it runs, in which order, and how (nbval).

Every notebook under ``runbooks/`` and ``notebooks/`` must be listed in :data:`SUITE`;
``tests/unit/test_runbook_suite.py`` fails when one is not, so a notebook cannot be added
without being tested. The order matters because the notebooks share one stack: read-only
and dry-run notebooks first, the release (a real pipeline run) in the middle, the teardown
(a dry run by default, but destructive if its defaults ever change) last.

All selected notebooks run in ONE ``pytest --nbval-lax`` subprocess (loading nbval and
nbformat costs seconds, once), reporting to a JUnit XML file that is then read back per
notebook, so each notebook is still its own test with its own failure message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIRS = ("runbooks", "notebooks")
SANITIZE = Path(__file__).with_name("sanitize.cfg")
KERNEL = "python3"
CELL_TIMEOUT = 1200  # seconds; the release follows a whole pipeline run in one cell

# Repo-relative paths, in the order they run against the shared stack.
SUITE = (
    "notebooks/setup-walkthrough.ipynb",  # apply=False by default: validates and plans only
    "runbooks/provision.ipynb",  # dry_run=True by default: shows the (empty) plan
    "runbooks/fleet-health.ipynb",
    "runbooks/release.ipynb",  # a real pipeline run of the source clone's head
    "runbooks/rollback.ipynb",  # confirm=False by default: a dry run
    "runbooks/triage.ipynb",
    "runbooks/pipeline-report.ipynb",  # read-only: the history the runs above left
    "runbooks/cost-report.ipynb",  # read-only
    "runbooks/drill-bad-release.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-artifact-loss.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-instance-loss.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-pipeline-failure.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-stack-rebuild.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-region-failure.ipynb",  # confirm=False by default: a dry run
    "runbooks/drill-scorecard.ipynb",  # read-only
    "runbooks/teardown.ipynb",  # confirm=False by default; last in case that ever changes
)


def notebooks_on_disk(repo: Path = REPO) -> list[str]:
    """Every notebook under runbooks/ and notebooks/, repo-relative (checkpoints left out)."""
    found = []
    for folder in NOTEBOOK_DIRS:
        for path in sorted((repo / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                found.append(path.relative_to(repo).as_posix())
    return found


def in_suite_order(notebooks: Iterable[str]) -> list[str]:
    """Notebooks in SUITE order; ones the suite does not list yet go last, by name."""
    chosen = set(notebooks)
    listed = [n for n in SUITE if n in chosen]
    return listed + sorted(chosen - set(SUITE))


@dataclass
class CellResult:
    """One nbval cell test: its name, outcome and message."""

    name: str
    outcome: str  # passed, failed, error, skipped
    message: str = ""


@dataclass
class NotebookResult:
    """Every cell of one notebook as nbval reported it."""

    notebook: str
    cells: list[CellResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.outcome in ("failed", "error")]

    @property
    def ok(self) -> bool:
        return bool(self.cells) and not self.failed


def read_junit(path: Path) -> dict[str, NotebookResult]:
    """Per-notebook results from pytest's JUnit XML (xunit1: each case names its file)."""
    results: dict[str, NotebookResult] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        notebook = case.get("file", "")
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = (found.get("message") or "") + "\n" + (found.text or "")
                break
        result = results.setdefault(notebook, NotebookResult(notebook))
        result.cells.append(CellResult(case.get("name", ""), outcome, message.strip()))
    return results


def nbval_command(notebooks: list[str], junit: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "--nbval-lax",
        "--nbval-sanitize-with", str(SANITIZE),
        "--nbval-kernel-name", KERNEL,
        "--nbval-cell-timeout", str(CELL_TIMEOUT),
        "-p", "no:cacheprovider", "-o", "junit_family=xunit1", f"--junitxml={junit}",
        "-q", *notebooks,
    ]  # fmt: skip


def run_nbval(
    notebooks: list[str], env: Mapping[str, str], work: Path
) -> tuple[dict[str, NotebookResult], str]:
    """Run the notebooks under nbval (cwd: the repo); per-notebook results and the output."""
    junit = work / "nbval-junit.xml"
    completed = subprocess.run(
        nbval_command(notebooks, junit),
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    return (read_junit(junit) if junit.exists() else {}), output
