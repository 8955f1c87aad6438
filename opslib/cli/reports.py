"""``opslib reports list|fetch|open|upload`` and ``opslib schedule list|run-now``: thin."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from opslib.cli.progress import elapsed
from opslib.cli.state import CliState, pass_state
from opslib.ops import reports, schedules
from opslib.runbooks.reports import reports_root
from opslib.runbooks.schedules import check_schedules
from opslib.stack.policies import REPORTS_PREFIX
from opslib.target import connect


@click.group("reports")
def reports_group() -> None:
    """Scheduled report runs in the stack's reports bucket."""


def _runs(state: CliState, runbook: str, limit: int) -> tuple[list[reports.ReportRun], str]:
    config = state.config()
    session = connect(config)
    bucket = reports.reports_bucket(session, config)
    return reports.list_runs(session, bucket, runbook, limit), config.stack


@reports_group.command("list")
@click.option("--runbook", default="", help="Only this runbook's runs.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many runs, newest first.")
@pass_state
def list_command(state: CliState, runbook: str, limit: int) -> None:
    """Report runs from S3: when, runbook, verdict and the headline figure."""
    runs, _ = _runs(state, runbook, limit)
    if not runs:
        click.echo("no report runs yet")
        return
    for run in runs:
        mark = "✓" if run.ok else "✗"
        headline = run.headline or "—"
        click.echo(f"{run.started:%Y-%m-%d %H:%M:%S} UTC  {run.runbook:<14} {mark}  {headline:<18}"
                   f"  {run.uri}")  # fmt: skip


@reports_group.command("fetch")
@click.option("--runbook", default="", help="Only this runbook's runs.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many runs, newest first.")
@pass_state
def fetch_command(state: CliState, runbook: str, limit: int) -> None:
    """Download report runs into reports/<stack>/scheduled/ (files already here are kept)."""
    runs, stack = _runs(state, runbook, limit)
    root = reports_root(state.config().base_dir())
    paths = reports.fetch_runs(connect(state.config()), runs, root, stack)
    click.echo(
        f"{len(runs)} run(s), {len(paths)} file(s) in {root / stack / reports.SCHEDULED_FOLDER}"
    )


@reports_group.command("open")
@click.option("--runbook", default="", help="Only this runbook's runs.")
@click.option("-n", "--limit", default=50, show_default=True, help="How many runs, newest first.")
@click.option("--print", "print_only", is_flag=True, help="Print the index's path, open nothing.")
@pass_state
def open_command(state: CliState, runbook: str, limit: int, print_only: bool) -> None:
    """Fetch the runs and open an index of each runbook's verdicts and headline figures."""
    runs, stack = _runs(state, runbook, limit)
    root = reports_root(state.config().base_dir())
    reports.fetch_runs(connect(state.config()), runs, root, stack)
    index = reports.write_index(runs, root, stack)
    click.echo(str(index))
    if not print_only:
        click.launch(str(index))


@reports_group.command("upload")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--runbook", required=True, help="The runbook the build ran.")
@click.option("--run-id", required=True, help="This run's unique id (the build's).")
@click.option("--bucket", required=True, help="The reports bucket.")
@click.option("--prefix", default=REPORTS_PREFIX, show_default=True, help="Key prefix.")
@click.option("--topic", default="", help="SNS topic for a red verdict.")
@click.option("--schedule", default="", help="The schedule that fired it.")
@pass_state
def upload_command(
    state: CliState, out: Path, runbook: str, run_id: str, bucket: str, prefix: str,
    topic: str, schedule: str,
) -> None:  # fmt: skip
    """Upload a run from OUT (the reports build's post_build step); notify a red verdict."""
    result = reports.upload_run(
        connect(state.config()), out, runbook=runbook, run_id=run_id, bucket=bucket,
        prefix=prefix, topic=topic, schedule=schedule,
    )  # fmt: skip
    click.echo(f"{result.run.verdict}\nreport: {result.run.uri}")
    if result.notified:
        click.echo(f"notified {topic}")


@click.group("schedule")
def schedule_group() -> None:
    """The stack's report schedules (EventBridge Scheduler)."""


@schedule_group.command("list")
@click.option("-n", "--count", default=3, show_default=True, help="Next fire times to show.")
@pass_state
def schedule_list(state: CliState, count: int) -> None:
    """Every schedule of opslib.yml, its state and its next fire times (UTC)."""
    config = state.config()
    check_schedules(config)
    if not config.schedules:
        click.echo("no schedules in the config (add a schedules: list to opslib.yml)")
        return
    for view in schedules.list_schedules(connect(config), config, count=count):
        fires = ", ".join(f"{f:%Y-%m-%d %H:%M}" for f in view.next_fires) or "none"
        click.echo(f"{view.name}: {view.runbook} {view.expression} ({view.timezone}) {view.state}")
        click.echo(f"  next (UTC): {fires}")


@schedule_group.command("run-now")
@click.argument("name")
@pass_state
def run_now(state: CliState, name: str) -> None:
    """Start schedule NAME's build now and follow it; exit 1 unless its verdict is ✓."""
    config = state.config()

    def shown(phase: str, status: str, seconds: float) -> None:
        click.echo(f"  {elapsed(seconds):>6}  {phase or 'QUEUED':<17} {status}")

    result = schedules.run_now(connect(config), config, name, shown)
    click.echo(f"build {result.build_id}: {result.build_status}")
    if result.run is not None:
        click.echo(f"{result.run.verdict}\nreport: {result.run.uri}")
    if not result.ok:
        click.echo(f"Error: {result.failure()}", err=True)
        sys.exit(1)
