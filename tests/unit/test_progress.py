"""The progress display: live with rich on a terminal, plain lines anywhere else."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from rich.console import Console

from opslib.cli.progress import Progress, elapsed
from opslib.ops.pipeline import ActionUpdate, JobProgress
from opslib.stack.engine import StepStatus
from opslib.stack.model import Action, Change

BUILDING = ActionUpdate("Build", "Build", "InProgress", "", "proj:1", "")
BUILT = ActionUpdate("Build", "Build", "Succeeded", "", "proj:1", "")


def _events(progress: Progress) -> None:
    """A build that started two hours ago: INSTALL, then BUILD with a dozen log lines."""
    started = datetime.now(UTC) - timedelta(hours=2)
    progress.action(BUILDING)
    progress.job(JobProgress("Build", "Build", "proj:1", "INSTALL", started, ("npm ci",)))
    lines = tuple(f"PASS test/{n}.test.js" for n in range(12))
    progress.job(JobProgress("Build", "Build", "proj:1", "BUILD", started, lines))


def test_elapsed_reads_as_minutes_and_hours() -> None:
    assert [elapsed(s) for s in (0, 7, 750, 3723, -3)] == ["0:00", "0:07", "12:30", "1:02:03",
                                                           "0:00"]  # fmt: skip


def test_plain_output_has_actions_and_phases_with_elapsed_time() -> None:
    out = io.StringIO()
    progress = Progress(out)
    assert not progress.live
    with progress:
        _events(progress)
        progress.action(BUILT)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  … Build/Build") and "InProgress" in lines[0]
    assert re.fullmatch(r"    Build/Build INSTALL \(2:00:\d\d\)", lines[1])
    assert re.fullmatch(r"    Build/Build BUILD \(2:00:\d\d\)", lines[2])
    assert lines[3].startswith("  ✓ Build/Build") and len(lines) == 4  # no log lines, no ANSI
    assert "\x1b" not in out.getvalue()


def test_live_area_shows_phase_elapsed_and_the_tail_of_the_log() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
    progress = Progress(console=console, tail=5)
    assert progress.live
    _events(progress)
    console.print(progress)  # what the live area draws now
    text = console.export_text()
    assert re.search(r"Build/Build  BUILD  2:00:\d\d", text)
    shown = re.findall(r"│ PASS test/(\d+)\.test\.js", text)
    assert shown == ["7", "8", "9", "10", "11"]  # the newest lines only
    assert "npm ci" not in text  # a new phase keeps the tail going, older lines scroll off


def test_live_area_clears_when_the_action_ends() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
    progress = Progress(console=console)
    _events(progress)
    progress.action(BUILT)
    console.print(progress)
    assert "│" not in console.export_text().split("Succeeded")[-1]


def test_a_live_run_leaves_only_the_finished_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with Progress(console=console) as progress:
        _events(progress)
        progress.action(BUILT)
    assert "✓ Build/Build" in out.getvalue() and "InProgress" in out.getvalue()


def test_stack_steps_show_what_is_being_changed() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
    progress = Progress(console=console)
    bucket = Change("s3 bucket", "b", Action.CREATE)
    role = Change("iam role", "r", Action.CREATE)
    progress.step(bucket, StepStatus.STARTED)
    progress.step(bucket, StepStatus.DONE)
    progress.step(role, StepStatus.STARTED)
    console.print(progress)
    text = console.export_text()
    assert "✓ " in text and role.summary() in text and "(1 done)" in text
