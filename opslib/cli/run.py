"""``opslib run``: take the current commit through the pipeline, live in the terminal."""

from __future__ import annotations

import sys

import click

from opslib.cli.state import CliState, pass_state
from opslib.config import check_local_source
from opslib.ops import pipeline
from opslib.target import connect

_MARKS = {"InProgress": "…", "Succeeded": "✓", "Failed": "✗", "Abandoned": "✗", "Stopped": "■"}


def _show(update: pipeline.ActionUpdate) -> None:
    mark = _MARKS.get(update.status, "·")
    detail = update.error or update.summary or update.external_id
    click.echo(f"  {mark} {update.stage}/{update.action:<12} {update.status:<11} {detail}"[:160])


@click.command("run")
@click.option("--pipeline", "name", help="Pipeline name (default: <stack>-pipeline).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds to wait.",
)
@pass_state
def run(state: CliState, name: str | None, timeout: float) -> None:
    """Start the pipeline (or attach to its running execution) and follow it to the end.

    Exit 0 when the execution succeeds; 1 with the failing action, its reason and the
    tail of its log otherwise.
    """
    config = state.config()
    check_local_source(config)
    session = connect(config)
    name = name or pipeline.pipeline_name(config.stack)
    execution_id, attached = pipeline.start_or_attach(session, name)
    click.echo(f"{'attached to' if attached else 'started'} {name} execution {execution_id}")
    report = pipeline.follow(session, name, execution_id, _show, timeout=timeout)
    if report.succeeded:
        click.echo(f"{name}: Succeeded ({report.revision[:12]})")
        return
    failed = report.failed_action
    where = (
        f" at {failed.stage}/{failed.action}: {failed.error or failed.summary}" if failed else ""
    )
    for line in report.log_tail or []:
        click.echo(f"    | {line}", err=True)
    click.echo(f"Error: {name} execution {execution_id} {report.status}{where}", err=True)
    sys.exit(1)
