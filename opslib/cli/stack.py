"""``opslib plan | up | down | status``: the whole stack, thin over :mod:`opslib.stack`."""

from __future__ import annotations

import click

from opslib import stack
from opslib.cli.progress import Progress
from opslib.cli.state import CliState, pass_state
from opslib.config import StackConfig, check_local_source
from opslib.ops import fleet, pipeline
from opslib.runbooks.schedules import check_schedules
from opslib.stack import display
from opslib.stack.source import AVAILABLE, wait_available
from opslib.target import Session, connect


@click.command("plan")
@click.option("--all", "show_all", is_flag=True, help="List unchanged resources too.")
@pass_state
def plan_command(state: CliState, show_all: bool) -> None:
    """Show what 'up' would create, update or leave, with the fields that differ."""
    config = state.config()
    check_local_source(config)
    check_schedules(config)
    result = stack.plan(connect(config), config)
    for line in display.plan_lines(result, show_noop=show_all):
        click.echo(line)


@click.command("up")
@click.option(
    "--wait-connection", is_flag=True, help="Wait until the GitHub connection is authorized."
)
@click.option("--wait-timeout", type=int, default=900, show_default=True, help="Seconds to wait.")
@pass_state
def up_command(state: CliState, wait_connection: bool, wait_timeout: int) -> None:
    """Create or update every resource of the stack (idempotent; resumes after a failure)."""
    config = state.config()
    check_local_source(config)
    check_schedules(config)
    session = connect(config)
    click.echo(f"up: stack {config.stack} on {session.target.describe()}")
    with Progress() as shown:
        result = stack.apply(session, config, shown.step)
    click.echo(display.run_summary(result, "up"))
    connection = result.context.fact("connection_status")
    notice = display.connection_notice(connection, config.region)
    if notice:
        click.echo(notice)
    if notice and wait_connection:
        arn = result.context.fact("connection_arn")
        api = stack.Api(session)
        status = wait_available(api, arn, wait_timeout, on_wait=lambda s: click.echo(f"  … {s}"))
        click.echo(f"connection {status}" if status == AVAILABLE else status)


@click.command("down")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def down_command(state: CliState, yes: bool) -> None:
    """Delete every resource tagged with this stack (emptying the artifact bucket first)."""
    config = state.config()
    session = connect(config)
    if not yes:
        click.confirm(
            f"Delete every resource tagged opslib:stack={config.stack} on "
            f"{session.target.describe()}, including all artifacts?",
            abort=True,
        )
    with Progress() as shown:
        result = stack.destroy(session, config, shown.step)
    click.echo(display.run_summary(result, "down"))
    for arn in result.leftovers:
        click.echo(f"  still tagged with the stack (delete it by hand): {arn}", err=True)


@click.command("status")
@pass_state
def status_command(state: CliState) -> None:
    """What exists, what drifted from the config, and the stack's outputs."""
    config = state.config()
    session = connect(config)
    current = stack.status(session, config)
    for line in display.status_lines(current):
        click.echo(line)
    for line in release_lines(session, config, current.endpoints):
        click.echo(line)
    if not current.complete or current.drifted:
        raise SystemExit(2)


def release_lines(session: Session, config: StackConfig, endpoints: dict[str, str]) -> list[str]:
    """The pipeline's last execution, and what every instance serves (its /health, /version)."""
    latest = pipeline.latest_execution(session, pipeline.pipeline_name(config.stack))
    lines = ["last pipeline execution:"]
    lines.append(f"  {pipeline.describe_execution(latest)}" if latest else "  none yet")
    if endpoints:
        probes = fleet.probe_all(
            fleet.Instance(instance, "", "running", url) for instance, url in endpoints.items()
        )
        lines.append("serving:")
        lines += [f"  {instance}: {served(probe)}" for instance, probe in probes.items()]
    return lines


def served(probe: fleet.Probe) -> str:
    """``1.0.0+abc1234 (commit abc123456789), health ok`` or why it serves nothing."""
    if not probe.version and not probe.commit:
        return f"nothing ({probe.health})"
    commit = f" (commit {probe.commit[:12]})" if probe.commit else ""
    return f"{probe.version or 'unknown version'}{commit}, health {probe.health}"


STACK_COMMANDS = (plan_command, up_command, down_command, status_command)
