"""``opslib run``: take a commit through the pipeline, live in the terminal."""

from __future__ import annotations

import sys

import click

from opslib.cli.progress import Progress
from opslib.cli.state import CliState, pass_state
from opslib.config import check_local_source
from opslib.ops import pipeline, release
from opslib.target import connect


@click.command("run")
@click.option("--pipeline", "name", help="Pipeline name (default: <stack>-pipeline).")
@click.option(
    "--commit", default="", help="Commit to release: SHA, prefix or tag (default: branch head)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds to wait.",
)
@pass_state
def run(state: CliState, name: str | None, commit: str, timeout: float) -> None:
    """Release a commit (default: the head of the watched branch) and follow it to the end.

    Attaches to an execution in progress only when it releases that commit; otherwise
    starts one for it. Exit 0 when it succeeds with that commit; 1 with the failing action,
    its reason and the tail of its log, or when another commit was released.
    """
    config = state.config()
    check_local_source(config)
    session = connect(config)
    started = release.start_release(session, config, commit, name=name or "", what="--commit")
    how = "attached to" if started.attached else "started"
    what = f"commit {started.commit[:12]}" if started.commit else "the branch head"
    click.echo(f"{how} {started.pipeline} execution {started.execution_id} for {what}")
    with Progress() as shown:
        report = pipeline.follow(
            session, started.pipeline, started.execution_id, shown.action,
            timeout=timeout, on_job=shown.job,
        )  # fmt: skip
    if report.succeeded:
        pipeline.require_commit(report, started.commit)
        click.echo(f"{started.pipeline}: Succeeded ({report.revision[:12]})")
        return
    failed = report.failed_action
    where = (
        f" at {failed.stage}/{failed.action}: {failed.error or failed.summary}" if failed else ""
    )
    for line in report.log_tail or []:
        click.echo(f"    | {line}", err=True)
    click.echo(
        f"Error: {started.pipeline} execution {started.execution_id} {report.status}{where}",
        err=True,
    )
    sys.exit(1)
